"""Settings read from the environment (xuc/runtime/settings.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xuc.runtime.settings import Settings, SettingsError, WebhooksSettings


def test_defaults() -> None:
    settings = Settings.from_env("", env={})
    assert settings.data_dir == Path(".xuc")
    assert settings.nats_url == "nats://127.0.0.1:4222"
    assert settings.database_url == f"sqlite:///{(Path('.xuc') / 'xuc.db').resolve()}"
    assert settings.grpc_listen == "127.0.0.1:0"
    assert settings.auth_address == ""
    assert settings.service_token == ""
    assert settings.token_ttl == 3600
    assert settings.token_issuer == "xuc"
    assert settings.signing_key_file is None
    assert settings.http_host == "0.0.0.0"
    assert settings.http_port == 8090
    assert settings.cors_origins == ()
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.log_level == "INFO"
    assert settings.log_format == "text"
    assert settings.ready_file is None
    assert settings.deprecated_api_hosts == ()
    assert settings.login_cache_seconds == 600
    assert (settings.max_header_bytes, settings.header_timeout_seconds, settings.keep_alive_timeout_seconds) == (
        16384, 10.0, 5.0)
    assert Settings.from_env("auth", env={"XUC_LOGIN_CACHE_S": "0"}).login_cache_seconds == 0  # off


def test_the_default_database_is_one_sqlite_file_per_component_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env("auth", env={"XUC_DATA_DIR": str(tmp_path)})
    assert settings.data_dir == tmp_path
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'auth.db'}"


def test_values_are_read_from_xuc_variables() -> None:
    env = {
        "XUC_DATA_DIR": "/var/lib/xuc",
        "XUC_NATS_URL": "nats://nats:4222",
        "XUC_DATABASE_URL": "postgresql://xuc:pw@db:5432/xuc",
        "XUC_AUTH_GRPC_LISTEN": "0.0.0.0:50051",
        "XUC_AUTH_ADDRESS": "auth:50051",
        "XUC_SERVICE_TOKEN": "  s3cret  ",
        "XUC_TOKEN_TTL": "120",
        "XUC_TOKEN_ISSUER": "my-xuc",
        "XUC_SIGNING_KEY_FILE": "/run/secrets/key.pem",
        "XUC_HTTP_HOST": "127.0.0.1",
        "XUC_HTTP_PORT": " 9000 ",
        "XUC_MAX_BODY_BYTES": "2048",
        "XUC_LOG_LEVEL": "debug",
        "XUC_LOG_FORMAT": "JSON",
        "XUC_READY_FILE": "/tmp/ready.json",
        "XUC_EVENT_URL": "http://hooks.example/events",
    }
    settings = Settings.from_env("auth", env=env)
    assert settings.data_dir == Path("/var/lib/xuc")
    assert settings.nats_url == "nats://nats:4222"
    assert settings.database_url == "postgresql://xuc:pw@db:5432/xuc"
    assert settings.grpc_listen == "0.0.0.0:50051"
    assert settings.auth_address == "auth:50051"
    assert settings.service_token == "s3cret"
    assert settings.token_ttl == 120
    assert settings.token_issuer == "my-xuc"
    assert settings.signing_key_file == Path("/run/secrets/key.pem")
    assert settings.http_host == "127.0.0.1"
    assert settings.http_port == 9000
    assert settings.max_body_bytes == 2048
    assert settings.log_level == "DEBUG"
    assert settings.log_format == "json"
    assert settings.ready_file == Path("/tmp/ready.json")
    assert WebhooksSettings.from_env(env).event_url == "http://hooks.example/events"


def test_the_process_environment_is_the_default_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XUC_NATS_URL", "nats://elsewhere:4222")
    assert Settings.from_env("auth").nats_url == "nats://elsewhere:4222"


def test_a_component_database_url_overrides_the_shared_one() -> None:
    env = {"XUC_DATABASE_URL": "postgresql://shared/xuc", "XUC_AUTH_DATABASE_URL": "sqlite:///auth-only.db"}
    assert Settings.from_env("auth", env=env).database_url == "sqlite:///auth-only.db"
    assert Settings.from_env("contacts", env=env).database_url == "postgresql://shared/xuc"


def test_a_blank_component_database_url_falls_back_to_the_shared_one() -> None:
    env = {"XUC_DATABASE_URL": "postgresql://shared/xuc", "XUC_AUTH_DATABASE_URL": "   "}
    assert Settings.from_env("auth", env=env).database_url == "postgresql://shared/xuc"


def test_the_grpc_listen_address_is_per_component() -> None:
    env = {"XUC_AUTH_GRPC_LISTEN": "0.0.0.0:50051", "XUC_CONTACTS_GRPC_LISTEN": "0.0.0.0:50052"}
    assert Settings.from_env("auth", env=env).grpc_listen == "0.0.0.0:50051"
    assert Settings.from_env("contacts", env=env).grpc_listen == "0.0.0.0:50052"
    assert Settings.from_env("telephony", env=env).grpc_listen == "127.0.0.1:0"
    assert Settings.from_env("", env={"XUC_GRPC_LISTEN": "[::]:1"}).grpc_listen == "[::]:1"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("XUC_TOKEN_TTL", "an hour"),
        ("XUC_TOKEN_TTL", "1.5"),
        ("XUC_TOKEN_TTL", "0"),  # below the minimum
        ("XUC_TOKEN_TTL", "-60"),
        ("XUC_HTTP_PORT", "80a"),
        ("XUC_HTTP_PORT", "-1"),
        ("XUC_MAX_BODY_BYTES", "1MB"),
        ("XUC_MAX_BODY_BYTES", "0"),
        ("XUC_LOGIN_CACHE_S", "-1"),
        ("XUC_LOGIN_CACHE_S", "86401"),  # above a day
        ("XUC_LOGIN_CACHE_S", "10m"),
        ("XUC_MAX_HEADER_BYTES", "1023"),  # below what an ordinary request needs
        ("XUC_MAX_HEADER_BYTES", "16k"),
    ],
)
def test_a_bad_integer_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env("auth", env={name: value})


@pytest.mark.parametrize("value", ["yaml", "logfmt", "jsonl"])
def test_a_bad_log_format_names_its_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="XUC_LOG_FORMAT"):
        Settings.from_env("auth", env={"XUC_LOG_FORMAT": value})


@pytest.mark.parametrize(("value", "expected"), [("text", "text"), ("json", "json"), (" Json ", "json")])
def test_the_log_format_is_case_insensitive(value: str, expected: str) -> None:
    assert Settings.from_env("", env={"XUC_LOG_FORMAT": value}).log_format == expected


def test_settings_error_is_a_value_error() -> None:
    assert issubclass(SettingsError, ValueError)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ()),
        ("xuc.example.com", ("xuc.example.com",)),
        ("a.example, b.example:8090 ,, ", ("a.example", "b.example:8090")),
        (" , ", ()),
    ],
)
def test_deprecated_api_host_is_a_comma_list(raw: str, expected: tuple[str, ...]) -> None:
    assert Settings.from_env("gateway", env={"DEPRECATED_API_HOST": raw}).deprecated_api_hosts == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ()),
        ("https://app.example", ("https://app.example",)),
        ("https://a.example,http://b.example:3000", ("https://a.example", "http://b.example:3000")),
        (" https://a.example , ", ("https://a.example",)),
    ],
)
def test_cors_origins_is_a_comma_list(raw: str, expected: tuple[str, ...]) -> None:
    assert Settings.from_env("gateway", env={"XUC_CORS_ORIGINS": raw}).cors_origins == expected


def test_telephony_defaults() -> None:
    settings = Settings.from_env(env={})
    assert (settings.pbx, settings.sim_ring_timeout, settings.sim_auto_answer) == ("sim", 20, True)
    assert (settings.ami_channel, settings.ami_context, settings.ami_backoff_max_seconds) == (
        "PJSIP/{line}", "default", 30.0)
    webhooks = WebhooksSettings.from_env({})
    assert (webhooks.max_attempts, webhooks.timeout_seconds, webhooks.max_backoff_seconds) == (10, 5.0, 30.0)
    assert settings.trusted_proxies == ()


def test_telephony_values() -> None:
    settings = Settings.from_env(env={
        "XUC_PBX": "ami://xuc:secret@10.0.0.1:5038", "XUC_SIM_RING_TIMEOUT": "3", "XUC_SIM_AUTO_ANSWER": "no",
        "XUC_AMI_CHANNEL": "SIP/{line}", "XUC_AMI_CONTEXT": "xivo-callme", "XUC_AMI_MAX_BACKOFF_MS": "2000",
        "XUC_TRUSTED_PROXIES": "10.0.0.5, 192.0.2.0/24",
    })
    assert (settings.pbx, settings.sim_ring_timeout, settings.sim_auto_answer) == (
        "ami://xuc:secret@10.0.0.1:5038", 3, False)
    assert (settings.ami_channel, settings.ami_context, settings.ami_backoff_max_seconds) == (
        "SIP/{line}", "xivo-callme", 2.0)
    webhooks = WebhooksSettings.from_env({"XUC_EVENT_MAX_ATTEMPTS": "3", "XUC_EVENT_TIMEOUT_MS": "250",
                                          "XUC_EVENT_MAX_BACKOFF_MS": "1500"})
    assert (webhooks.max_attempts, webhooks.timeout_seconds, webhooks.max_backoff_seconds) == (3, 0.25, 1.5)
    assert settings.trusted_proxies == ("10.0.0.5", "192.0.2.0/24")


@pytest.mark.parametrize(("name", "value"), [
    ("XUC_PBX", "asterisk"),
    ("XUC_PBX", "http://host:5038"),
    ("XUC_SIM_AUTO_ANSWER", "maybe"),
    ("XUC_SIM_RING_TIMEOUT", "0"),
    ("XUC_AMI_CHANNEL", "PJSIP/1001"),
    ("XUC_AMI_CHANNEL", "PJSIP/{line}-{x}"),
])
def test_bad_telephony_values_name_their_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(env={name: value})


@pytest.mark.parametrize(("name", "value"), [
    ("XUC_EVENT_MAX_ATTEMPTS", "0"), ("XUC_EVENT_TIMEOUT_MS", "0"), ("XUC_EVENT_MAX_BACKOFF_MS", "x"),
    ("XUC_EVENT_URL", "ftp://hooks.example"), ("XUC_WEBHOOKS_METRICS_LISTEN", "9090"),
])
def test_bad_webhooks_values_name_their_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        WebhooksSettings.from_env({name: value})


def test_a_bad_pbx_url_does_not_echo_its_secret() -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env(env={"XUC_PBX": "amqp://xuc:topsecret@host"})
    assert "topsecret" not in str(error.value)


def test_sso_settings() -> None:
    assert (Settings.from_env(env={}).cas_server_url, Settings.from_env(env={}).oidc_issuer) == ("", "")
    settings = Settings.from_env(env={"XUC_CAS_SERVER_URL": "https://sso.example.org/cas/",
                                      "XUC_OIDC_ISSUER": "http://127.0.0.1:8080/realms/xuc",
                                      "XUC_OIDC_AUDIENCE": "xuc", "XUC_SSO_TIMEOUT_MS": "1500"})
    assert settings.cas_server_url == "https://sso.example.org/cas"
    assert (settings.oidc_issuer, settings.oidc_audience, settings.oidc_login_claim) == (
        "http://127.0.0.1:8080/realms/xuc", "xuc", "preferred_username")
    assert settings.sso_timeout_seconds == 1.5
    for name in ("XUC_CAS_SERVER_URL", "XUC_OIDC_ISSUER"):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env(env={name: "sso.example.org"})


def test_the_http_edge_limits_are_read() -> None:
    settings = Settings.from_env("", env={"XUC_MAX_HEADER_BYTES": "32768", "XUC_HEADER_TIMEOUT_SECONDS": "2.5",
                                          "XUC_KEEP_ALIVE_TIMEOUT_SECONDS": "0.5"})
    assert (settings.max_header_bytes, settings.header_timeout_seconds, settings.keep_alive_timeout_seconds) == (
        32768, 2.5, 0.5)


def test_the_contacts_cache_age_is_five_seconds_unless_set() -> None:
    assert Settings.from_env("contacts", env={}).contacts_cache_ttl_seconds == 5.0
    settings = Settings.from_env("contacts", env={"XUC_CONTACTS_CACHE_TTL_S": "3600"})
    assert settings.contacts_cache_ttl_seconds == 3600.0
    with pytest.raises(SettingsError, match="XUC_CONTACTS_CACHE_TTL_S"):
        Settings.from_env("contacts", env={"XUC_CONTACTS_CACHE_TTL_S": "0"})


@pytest.mark.parametrize("name", ["XUC_HEADER_TIMEOUT_SECONDS", "XUC_KEEP_ALIVE_TIMEOUT_SECONDS"])
@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf"])
def test_a_bad_http_edge_timeout_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env("", env={name: value})
