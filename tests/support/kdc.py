"""A throw-away MIT Kerberos realm for tests: its own KDC on a free loopback port, principals,
a service keytab and a user's ticket cache, all in a temporary directory.

Needs the Debian packages krb5-kdc, krb5-admin-server and krb5-user (`MISSING_TOOLS` says which
are absent, for a skip with a stated reason).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support.ports import free_port

REALM = "XUC.TEST"
TOOLS = ("krb5kdc", "kdb5_util", "kadmin.local", "kinit")
SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def _which(tool: str) -> str | None:
    return shutil.which(tool) or shutil.which(tool, path=os.pathsep.join(SBIN))


MISSING_TOOLS = [tool for tool in TOOLS if _which(tool) is None]




class Realm:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.krb5_conf = directory / "krb5.conf"
        self.kdc_conf = directory / "kdc.conf"
        self._kdc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to use this realm (the service, kinit, a GSSAPI client)."""
        return {"KRB5_CONFIG": str(self.krb5_conf), "KRB5_KDC_PROFILE": str(self.kdc_conf),
                "KRB5RCACHEDIR": str(self.directory)}

    def start(self) -> Realm:
        d = self.directory
        self.krb5_conf.write_text(
            f"[libdefaults]\n  default_realm = {REALM}\n  dns_lookup_kdc = false\n  dns_lookup_realm = false\n"
            f"  rdns = false\n[realms]\n  {REALM} = {{\n    kdc = 127.0.0.1:{self.port}\n  }}\n"
            f"[domain_realm]\n  localhost = {REALM}\n")
        self.kdc_conf.write_text(
            f"[kdcdefaults]\n  kdc_ports = {self.port}\n  kdc_tcp_ports = {self.port}\n[realms]\n  {REALM} = {{\n"
            f"    database_name = {d}/principal\n    key_stash_file = {d}/stash\n    acl_file = {d}/kadm5.acl\n"
            f"    kdc_ports = {self.port}\n    kdc_tcp_ports = {self.port}\n  }}\n")
        self._run("kdb5_util", "-r", REALM, "-P", "master-password", "create", "-s")
        with (d / "kdc.log").open("wb") as log:  # the child keeps its own descriptor
            self._kdc = subprocess.Popen([str(_which("krb5kdc")), "-n", "-r", REALM], env=self._env(),
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"the KDC did not listen on {self.port}")

    def stop(self) -> None:
        if self._kdc is not None:
            self._kdc.terminate()
            self._kdc.wait(10)
            self._kdc = None

    def add_user(self, name: str, password: str) -> None:
        self._admin(f"addprinc -pw {password} {name}")

    def add_service(self, principal: str, keytab: Path | None = None) -> None:
        """A service principal (random key), exported to `keytab` if given."""
        self._admin(f"addprinc -randkey {principal}")
        if keytab is not None:
            self._admin(f"ktadd -k {keytab} {principal}")

    def kinit(self, name: str, password: str) -> Path:
        """A ticket cache for the user; its path (for KRB5CCNAME=FILE:...)."""
        cache = self.directory / f"cc-{name}"
        subprocess.run([str(_which("kinit")), name], input=f"{password}\n".encode(), check=True,
                       capture_output=True, env={**self._env(), "KRB5CCNAME": f"FILE:{cache}"}, timeout=30)
        return cache

    def _admin(self, query: str) -> None:
        self._run("kadmin.local", "-r", REALM, "-q", query)

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([str(_which(tool)), *args], check=True, capture_output=True, env=self._env(), timeout=60)

    def _env(self) -> dict[str, str]:
        return {**os.environ, **self.env}
