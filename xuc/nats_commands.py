"""`xuc nats-config` and `xuc nats-url`: the NATS users, for a server the operator runs and for
the operator's event subscribers.

    xuc nats-config            the `authorization` block for the credentials file (created if
                               missing): paste or `include` it in your nats-server configuration
    xuc nats-config --env      the same, each password read from XUC_NATS_<USER>_PASSWORD by the
                               server (what deploy/nats.conf holds, for compose.yaml)
    xuc nats-url [USER]        the URL of the NATS `xuc up` runs (or XUC_NATS_URL's), with the
                               credentials of USER (default: subscriber, the read-only user)

The credentials file is XUC_NATS_CREDENTIALS, else `<data dir>/nats-credentials.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from urllib.parse import quote

from xuc import nats_config
from xuc.launcher import CliError
from xuc.runtime.nats_credentials import read_credentials
from xuc.runtime.settings import Settings, nats_url_given


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                common: argparse.ArgumentParser) -> None:
    config = commands.add_parser(
        "nats-config", parents=[common], help="print the NATS authorization for a server you run",
        description="Print the `authorization` block giving each component its NATS user and permissions, "
                    "for the credentials file (XUC_NATS_CREDENTIALS, else <data dir>/nats-credentials.json, "
                    "created with random passwords if missing). Give that file to the components "
                    "(XUC_NATS_CREDENTIALS) and the block to your nats-server.")
    config.add_argument("--env", action="store_true",
                        help="leave the passwords to the server's environment: XUC_NATS_<USER>_PASSWORD")
    url = commands.add_parser(
        "nats-url", parents=[common], help="print the NATS URL with a user's credentials",
        description="Print the URL of the NATS server `xuc up` runs (or XUC_NATS_URL's) with the credentials "
                    "of USER from the credentials file: for the nats CLI or an event subscriber.")
    url.add_argument("user", nargs="?", default=nats_config.SUBSCRIBER, choices=nats_config.USERS, metavar="USER",
                     help=f"one of {', '.join(nats_config.USERS)} (default: {nats_config.SUBSCRIBER}, read-only)")


def credentials_file(settings: Settings) -> Path:
    return settings.nats_credentials or settings.data_dir / nats_config.CREDENTIALS_FILE


def print_config(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.env:
        block = nats_config.authorization()
    else:
        path = credentials_file(settings)
        if settings.nats_credentials is None:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if settings.nats_credentials is None and nats_config.create_credentials(path):
            print(f"xuc: NATS users created: their passwords are in {path}", file=sys.stderr)
        block = nats_config.authorization(read_credentials(path))
    print(nats_config.render({"authorization": block}))
    return 0


def running_nats_url(settings: Settings) -> str:
    """The nats-server `xuc up` runs on this data directory, else the first server of XUC_NATS_URL."""
    for ports in sorted((settings.data_dir / "run").glob("*.ports")):
        try:
            return str(json.loads(ports.read_text())["nats"][0])
        except (OSError, ValueError, KeyError, IndexError):
            continue
    if not nats_url_given():
        raise CliError(f"no NATS server runs on {settings.data_dir}: start `xuc up`, or set XUC_NATS_URL")
    return settings.nats_url.split(",")[0].strip()


def print_url(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    logins = read_credentials(credentials_file(settings))
    if args.user not in logins:
        raise CliError(f"{credentials_file(settings)} has no {args.user!r} entry")
    login = logins[args.user]
    scheme, _, address = running_nats_url(settings).rpartition("://")
    print(f"{scheme or 'nats'}://{quote(login.user, safe='')}:{quote(login.password, safe='')}@"
          f"{address.rpartition('@')[2]}")
    return 0
