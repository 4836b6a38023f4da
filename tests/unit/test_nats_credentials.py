"""Each component's NATS credentials (xuc/runtime/nats_credentials.py) and the server's
authorization made from them (xuc/nats_config.py)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from xuc import nats_config
from xuc.runtime.nats_credentials import NatsLogin, login_for, read_credentials, url_user, without_credentials
from xuc.runtime.settings import Settings, SettingsError


def settings(**env: str) -> Settings:
    return Settings.from_env("contacts", env)


@pytest.fixture
def credentials(tmp_path: Path) -> Path:
    path = tmp_path / nats_config.CREDENTIALS_FILE
    assert nats_config.create_credentials(path)
    return path


# --- the credentials file -------------------------------------------------------------------------
def test_the_credentials_file_is_made_once_for_its_owner_only(credentials: Path) -> None:
    content = credentials.read_text()
    assert not nats_config.create_credentials(credentials)
    assert credentials.read_text() == content
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    logins = read_credentials(credentials)
    assert list(logins) == list(nats_config.USERS)
    assert all(login.user == name and len(login.password) >= 32 for name, login in logins.items())
    assert len({login.password for login in logins.values()}) == len(logins)


def test_a_component_takes_its_own_entry(credentials: Path) -> None:
    login = login_for(settings(XUC_NATS_CREDENTIALS=str(credentials)), "contacts")
    assert login == read_credentials(credentials)["contacts"]
    assert login is not None
    assert login.inbox_prefix == "_INBOX_contacts"
    assert login.password not in repr(login)


@pytest.mark.parametrize(("content", "problem"), [
    (None, "does not exist"),
    ("not json", "is not a JSON credentials file"),
    ("[]", "must hold an object of components"),
    ('{"contacts": {"user": "contacts"}}', "'contacts' must be"),
    ('{"contacts": {"user": "a.b", "password": "x"}}', "'contacts' must be"),
    ('{"auth": {"user": "auth", "password": "x"}}', "has no entry for 'contacts'"),
])
def test_an_unusable_credentials_file_is_named_with_its_problem(tmp_path: Path, content: str | None,
                                                                problem: str) -> None:
    path = tmp_path / "credentials.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SettingsError, match=problem) as raised:
        login_for(settings(XUC_NATS_CREDENTIALS=str(path)), "contacts")
    assert str(path) in str(raised.value)


def test_the_url_may_carry_the_credentials_instead() -> None:
    login = login_for(settings(XUC_NATS_URL="nats://xuc:s3cret@n1:4222,nats://xuc:s3cret@n2:4222"), "contacts")
    assert login == NatsLogin("xuc")  # the password stays in the URL, which nats-py reads
    assert login_for(settings(XUC_NATS_URL="nats://n1:4222"), "contacts") is None
    with pytest.raises(SettingsError, match="letters, digits"):
        login_for(settings(XUC_NATS_URL="nats://a.b:pw@n1:4222"), "contacts")


def test_credentials_come_from_the_url_or_the_file_not_both(credentials: Path) -> None:
    with pytest.raises(SettingsError, match="give only one"):
        settings(XUC_NATS_URL="nats://xuc:pw@n1:4222", XUC_NATS_CREDENTIALS=str(credentials))


@pytest.mark.parametrize(("url", "shown", "user"), [
    ("nats://xuc:s3cret@n1:4222", "nats://n1:4222", "xuc"),
    ("nats://a:b@n1:4222, nats://n2:4222", "nats://n1:4222,nats://n2:4222", "a"),
    ("n1:4222", "n1:4222", ""),
    ("tls://user@n1:4222", "tls://n1:4222", "user"),
])
def test_urls_are_shown_without_credentials(url: str, shown: str, user: str) -> None:
    assert without_credentials(url) == shown
    assert url_user(url) == user


# --- the server's authorization -------------------------------------------------------------------
def publish(component: str, user: str | None = None) -> dict[str, list[str]]:
    rules: dict[str, list[str]] = nats_config.permissions(component, user or component)["publish"]
    return rules


@pytest.mark.parametrize("component", nats_config.COMPONENTS)
def test_a_component_publishes_under_its_own_prefix_only(component: str) -> None:
    own = {"auth": ["xuc.auth.>"], "contacts": ["xuc.contacts.>"], "telephony": ["xuc.telephony.>"],
           "gateway": [], "webhooks": ["xuc.webhook.>"]}[component]
    events = [subject for subject in publish(component)["allow"] if subject.startswith("xuc.")]
    assert events == own
    assert not any(".DELETE." in subject or ".PURGE." in subject for subject in publish(component)["allow"])


@pytest.mark.parametrize("component", nats_config.COMPONENTS)
def test_only_auth_may_create_a_consumer_of_its_stream_with_any_filter(component: str) -> None:
    unfiltered = {"$JS.API.CONSUMER.CREATE.XUC_AUTH", "$JS.API.CONSUMER.CREATE.XUC_AUTH.>"}
    allowed = set(publish(component)["allow"])
    assert "$JS.API.CONSUMER.CREATE.XUC_AUTH.*.xuc.auth.user.*" in allowed
    assert (unfiltered <= allowed) == (component == "auth")


def test_each_user_subscribes_to_its_own_inbox_prefix() -> None:
    inboxes = {name: [subject for subject in nats_config.permissions(name, name)["subscribe"]["allow"]
                      if subject.startswith("_INBOX")] for name in nats_config.USERS}
    assert inboxes == {"auth": ["_INBOX_auth.>"], "contacts": ["_INBOX_contacts.>"],
                       "telephony": ["_INBOX_telephony.>"], "gateway": ["_INBOX_gateway.>"],
                       "webhooks": ["_INBOX_webhooks.>"], "subscriber": ["_INBOX.>"]}


def test_the_subscriber_publishes_no_event_and_keeps_off_the_webhook_consumer() -> None:
    rules = publish("subscriber")
    assert not [subject for subject in rules["allow"] if not subject.startswith("$JS.")]
    assert "$JS.API.CONSUMER.CREATE.XUC_TELEPHONY" in rules["deny"]
    assert "$JS.ACK.XUC_TELEPHONY.xuc-webhook.>" in rules["deny"]


def test_the_authorization_for_the_environment_names_a_variable_per_user() -> None:
    text = nats_config.render({"authorization": nats_config.authorization()})
    for user in nats_config.USERS:
        assert f'"password": $XUC_NATS_{user.upper()}_PASSWORD,' in text
    assert '"$JS.API.STREAM.NAMES"' in text  # other $ strings stay quoted: not variables


def test_the_authorization_for_a_credentials_file_holds_its_users(credentials: Path) -> None:
    users: list[dict[str, Any]] = nats_config.authorization(read_credentials(credentials))["users"]
    entries = json.loads(credentials.read_text())
    assert [(user["user"], user["password"]) for user in users] == \
        [(entries[name]["user"], entries[name]["password"]) for name in nats_config.USERS]


def test_only_webhooks_holds_the_webhook_consumer_and_its_delivery_subject() -> None:
    webhook = "XUC_TELEPHONY.xuc-webhook"
    for component in nats_config.COMPONENTS:
        rules = nats_config.permissions(component, component)
        holds = any(webhook in subject for subject in rules["publish"]["allow"])
        delivered = "_xuc.deliver.xuc-webhook" in rules["subscribe"]["allow"]
        assert (holds, delivered) == ((True, True) if component == "webhooks" else (False, False)), component


def test_a_credentials_file_of_an_older_version_gets_the_new_users_and_keeps_the_others(tmp_path: Path) -> None:
    credentials = tmp_path / nats_config.CREDENTIALS_FILE
    older = {name: {"user": name, "password": f"{name}-kept"} for name in ("auth", "contacts", "telephony",
                                                                          "gateway", "subscriber")}
    credentials.write_text(json.dumps(older))
    credentials.chmod(0o600)

    assert not nats_config.create_credentials(credentials)  # not created: completed

    logins = read_credentials(credentials)
    assert set(logins) == set(nats_config.USERS)
    assert {name: logins[name].password for name in older} == {name: f"{name}-kept" for name in older}
    assert logins["webhooks"].user == "webhooks"
    assert logins["webhooks"].password
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"
