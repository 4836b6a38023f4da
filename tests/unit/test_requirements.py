"""A test that cannot run for lack of a tool skips on a laptop, saying what to install, and fails on CI."""

from __future__ import annotations

import pytest

from tests.support.requirements import missing_tool


def test_a_missing_tool_skips_with_what_to_install_off_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        missing_tool("Kerberos tools absent (krb5kdc)", "apt-get install krb5-kdc")
    assert str(skipped.value) == "Kerberos tools absent (krb5kdc): apt-get install krb5-kdc"


def test_a_missing_tool_fails_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as failed:
        missing_tool("Kerberos tools absent (krb5kdc)", "apt-get install krb5-kdc")
    assert "Kerberos tools absent (krb5kdc): apt-get install krb5-kdc" in str(failed.value)
