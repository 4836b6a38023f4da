"""Settings from the environment (prefix XUC_), read once by each composition root.

Every variable is listed in docs/operations.md ("Configuration"). Nothing here connects or creates anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MIN_HEADER_BYTES = 1024  # below it, a browser's ordinary request with a token would not fit


class SettingsError(ValueError):
    """A variable has a value we cannot use; the message names it."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name} must be at most {maximum}, got {value}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A duration in seconds, above 0 (fractions allowed)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 < value < float("inf"):
        raise SettingsError(f"{name} must be above 0, got {raw!r}")
    return value


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _nats(env: Mapping[str, str]) -> tuple[str, Path | None]:
    """XUC_NATS_URL and XUC_NATS_CREDENTIALS (a file of users and passwords, docs/events.md, "NATS
    users and permissions"): credentials come from one or the other, never both."""
    url = env.get("XUC_NATS_URL", "").strip() or "nats://127.0.0.1:4222"
    credentials = env.get("XUC_NATS_CREDENTIALS", "").strip()
    if credentials and any("@" in server.partition("://")[2] for server in url.split(",")):
        raise SettingsError("XUC_NATS_URL holds credentials and XUC_NATS_CREDENTIALS names a file of them: "
                            "give only one")
    return url, Path(credentials) if credentials else None


def _pbx(env: Mapping[str, str]) -> str:
    """`sim` (the built-in simulator) or `ami://user:secret@host:port`."""
    raw = env.get("XUC_PBX", "").strip() or "sim"
    if raw != "sim" and not raw.startswith("ami://"):
        raise SettingsError(f"XUC_PBX must be 'sim' or 'ami://user:secret@host:5038', got {raw.split('@')[-1]!r}")
    return raw


def _http_url(env: Mapping[str, str], name: str, keep_trailing_slash: bool = False) -> str:
    """An http(s) base URL ("" when unset), without a trailing slash unless it must be kept (an
    OIDC issuer is compared as written with the tokens' `iss`: Auth0's ends with a slash)."""
    raw = env.get(name, "").strip()
    raw = raw if keep_trailing_slash else raw.rstrip("/")
    if raw and not raw.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must be an http:// or https:// URL, got {raw!r}")
    return raw


def _channel_template(env: Mapping[str, str]) -> str:
    """The channel a click-to-call rings first, `{line}` standing for the user's line."""
    template = env.get("XUC_AMI_CHANNEL", "").strip() or "PJSIP/{line}"
    if "{line}" not in template or template.replace("{line}", "").count("{") + template.count("}") > 1:
        raise SettingsError(f"XUC_AMI_CHANNEL must contain {{line}} and no other braces, got {template!r}")
    return template


def _signing_key_schedule(env: Mapping[str, str]) -> tuple[int, int, int]:
    """Rotation of the token signing keys: a key signs for ROTATION_DAYS (0: no automatic
    rotation), published PREPUBLISH_S before; replicas reload the keys every RELOAD_S."""
    days = _int(env, "XUC_SIGNING_KEY_ROTATION_DAYS", 30)
    prepublish = _int(env, "XUC_SIGNING_KEY_PREPUBLISH_S", 3600)
    if days and days * 86_400 <= prepublish:
        raise SettingsError("XUC_SIGNING_KEY_PREPUBLISH_S must be shorter than XUC_SIGNING_KEY_ROTATION_DAYS")
    return days, prepublish, _int(env, "XUC_SIGNING_KEY_RELOAD_S", 30, minimum=1)


def _metrics_listen(env: Mapping[str, str], prefix: str) -> str:
    """Where a service serves its metrics: `XUC_<NAME>_METRICS_LISTEN`, else `XUC_METRICS_LISTEN`,
    else a free loopback port; "" when set empty or to `off` (no metrics endpoint)."""
    for name in (f"{prefix}METRICS_LISTEN", "XUC_METRICS_LISTEN"):
        raw = env.get(name)
        if raw is None:
            continue
        value = raw.strip()
        if value.lower() in ("", "off"):
            return ""
        _, separator, port = value.rpartition(":")
        if not separator or not port.isdigit() or int(port) > 65535:
            raise SettingsError(f"{name} must be host:port (port 0: any free port), empty or 'off', got {value!r}")
        return value
    return "127.0.0.1:0"


REPLICATED_COMPONENTS = ("gateway", "auth", "contacts")  # stateless: `xuc up` may run several of each
MAX_REPLICAS = 16


def _replicas(env: Mapping[str, str]) -> tuple[tuple[str, int], ...]:
    """XUC_REPLICAS: `N` (every replicated component) or `gateway=2,auth=2,contacts=3` (the others 1)."""
    raw = env.get("XUC_REPLICAS", "").strip()
    counts = dict.fromkeys(REPLICATED_COMPONENTS, 1)
    if not raw:
        return tuple(counts.items())
    problem = (f"XUC_REPLICAS must be a count (1 to {MAX_REPLICAS}) or name=count pairs of "
               f"{', '.join(REPLICATED_COMPONENTS)} (e.g. gateway=2,contacts=3), got {raw!r}")
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if len(items) == 1 and "=" not in items[0]:
        items = [f"{name}={items[0]}" for name in REPLICATED_COMPONENTS]
    for item in items:
        name, separator, count = (part.strip() for part in item.partition("="))
        if not separator or name not in counts or not count.isdigit() or not 1 <= int(count) <= MAX_REPLICAS:
            raise SettingsError(problem)
        counts[name] = int(count)
    return tuple(counts.items())


MAX_STREAM_REPLICAS = 5  # JetStream's own limit


def _stream_replicas(env: Mapping[str, str]) -> int:
    """XUC_STREAM_REPLICAS: the replicas of every JetStream stream we create (1; 3 on a 3-node
    cluster). Give every process the same: whichever ensures a stream last sets its count."""
    return _int(env, "XUC_STREAM_REPLICAS", 1, minimum=1, maximum=MAX_STREAM_REPLICAS)


def configured_service_token(env: Mapping[str, str] | None = None) -> str:
    """XUC_SERVICE_TOKEN ("" when unset: `xuc up` then creates one in the data directory)."""
    return (os.environ if env is None else env).get("XUC_SERVICE_TOKEN", "").strip()


def nats_url_given(env: Mapping[str, str] | None = None) -> bool:
    """XUC_NATS_URL names a server (else the default, where `xuc up` would start its own)."""
    return bool((os.environ if env is None else env).get("XUC_NATS_URL", "").strip())


def _publish_buffer_size(env: Mapping[str, str]) -> int:
    """XUC_NATS_PUBLISH_BUFFER: events a publisher holds while NATS does not take them (the oldest
    are dropped beyond it)."""
    return _int(env, "XUC_NATS_PUBLISH_BUFFER", 10_000, minimum=1)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    nats_url: str
    database_url: str
    grpc_listen: str
    auth_address: str
    contacts_address: str
    telephony_address: str
    max_import_bytes: int
    service_token: str
    token_ttl: int
    token_issuer: str
    signing_key_file: Path | None
    http_host: str
    http_port: int
    cors_origins: tuple[str, ...]
    max_body_bytes: int
    log_level: str
    log_format: str
    ready_file: Path | None
    deprecated_api_hosts: tuple[str, ...]
    trusted_proxies: tuple[str, ...]
    pbx: str
    sim_ring_timeout: float
    sim_auto_answer: bool
    ami_context: str
    ami_channel: str
    ami_backoff_max_seconds: float
    cas_server_url: str
    oidc_issuer: str
    oidc_audience: str
    oidc_login_claim: str
    sso_timeout_seconds: float
    login_max_failures: int
    login_max_failures_per_address: int
    login_failure_window_seconds: int
    kerberos_keytab: str
    kerberos_principal: str
    kerberos_realms: tuple[str, ...]
    signing_key_rotation_days: int
    signing_key_prepublish_seconds: int
    signing_key_reload_seconds: int
    signing_key_passphrase: str
    metrics_listen: str = "127.0.0.1:0"  # a gRPC service's metrics endpoint; "" = none
    body_timeout_seconds: float = 30.0  # the gateway: a request body must arrive in time (408)
    # the gateway: a request's line and headers are bounded in size (431) and time (408); an idle
    # connection is closed (gateway/http_protocol.py)
    max_header_bytes: int = 16384
    header_timeout_seconds: float = 10.0
    keep_alive_timeout_seconds: float = 5.0
    # the gateway's CTI WebSocket (docs/cti.md): frames queued for a client that does not read
    # before it is closed (1013), the largest frame a client may send (1009), commands per socket
    cti_send_queue: int = 1000
    cti_max_frame_bytes: int = 64 * 1024
    cti_commands_per_second: float = 20.0
    # telephony: compete for the PBX lease (active, or standby); the lease TTL (docs/telephony.md, failover)
    telephony_failover: bool = False
    telephony_lease_ttl_seconds: float = 10.0
    # `xuc up`: processes per replicated component, ((name, count), ...) in REPLICATED_COMPONENTS order.
    replicas: tuple[tuple[str, int], ...] = tuple((name, 1) for name in REPLICATED_COMPONENTS)
    http_reuse_port: bool = False  # the gateway binds with SO_REUSEPORT: replicas share its port
    stream_replicas: int = 1  # JetStream streams' replicas (XUC_STREAM_REPLICAS)
    publish_buffer: int = 10_000  # events held by a publisher during a NATS outage
    contacts_import_lease_seconds: float = 60.0  # an import of a silent contacts process is discarded after it
    contacts_cache_ttl_seconds: float = 5.0  # contacts' read cache: the staleness bound if an eviction event is lost
    login_cache_seconds: int = 600  # auth: a right password is verified by Argon2 once per period (0: always)
    max_session_seconds: int = 24 * 3600  # no token outlives its login by more (refreshes included)
    nats_credentials: Path | None = None  # XUC_NATS_CREDENTIALS: each component's NATS user and password

    @classmethod
    def from_env(cls, component: str = "", env: Mapping[str, str] | None = None) -> Settings:
        """Settings of one component; `XUC_<COMPONENT>_DATABASE_URL` overrides `XUC_DATABASE_URL`."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("XUC_DATA_DIR", "").strip() or ".xuc")
        prefix = f"XUC_{component.upper()}_" if component else "XUC_"
        default_database = (data_dir / f"{component or 'xuc'}.db").resolve()
        database_url = (
            env.get(f"{prefix}DATABASE_URL", "").strip()
            or env.get("XUC_DATABASE_URL", "").strip()
            or f"sqlite:///{default_database}"
        )
        key_file = env.get("XUC_SIGNING_KEY_FILE", "").strip()
        rotation_days, prepublish_seconds, reload_seconds = _signing_key_schedule(env)
        ready_file = env.get("XUC_READY_FILE", "").strip()
        log_format = env.get("XUC_LOG_FORMAT", "").strip().lower() or "text"
        if log_format not in ("text", "json"):
            raise SettingsError(f"XUC_LOG_FORMAT must be 'text' or 'json', got {log_format!r}")
        log_level = env.get("XUC_LOG_LEVEL", "").strip().upper() or "INFO"
        nats_url, nats_credentials = _nats(env)
        if log_level not in LOG_LEVELS:
            raise SettingsError(f"XUC_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
        return cls(
            data_dir=data_dir,
            nats_url=nats_url,
            nats_credentials=nats_credentials,
            database_url=database_url,
            grpc_listen=env.get(f"{prefix}GRPC_LISTEN", "").strip() or "127.0.0.1:0",
            auth_address=env.get("XUC_AUTH_ADDRESS", "").strip(),
            contacts_address=env.get("XUC_CONTACTS_ADDRESS", "").strip(),
            telephony_address=env.get("XUC_TELEPHONY_ADDRESS", "").strip(),
            max_import_bytes=_int(env, "XUC_MAX_IMPORT_BYTES", 64 * 1024 * 1024, minimum=1),
            service_token=configured_service_token(env),
            token_ttl=_int(env, "XUC_TOKEN_TTL", 3600, minimum=1),
            token_issuer=env.get("XUC_TOKEN_ISSUER", "").strip() or "xuc",
            signing_key_file=Path(key_file) if key_file else None,
            http_host=env.get("XUC_HTTP_HOST", "").strip() or "0.0.0.0",
            http_port=_int(env, "XUC_HTTP_PORT", 8090, maximum=65535),
            cors_origins=_list(env, "XUC_CORS_ORIGINS"),
            max_body_bytes=_int(env, "XUC_MAX_BODY_BYTES", 1024 * 1024, minimum=1),
            log_level=log_level,
            log_format=log_format,
            ready_file=Path(ready_file) if ready_file else None,
            deprecated_api_hosts=_list(env, "DEPRECATED_API_HOST"),
            trusted_proxies=_list(env, "XUC_TRUSTED_PROXIES"),
            pbx=_pbx(env),
            sim_ring_timeout=_int(env, "XUC_SIM_RING_TIMEOUT", 20, minimum=1),
            sim_auto_answer=_bool(env, "XUC_SIM_AUTO_ANSWER", True),
            ami_context=env.get("XUC_AMI_CONTEXT", "").strip() or "default",
            ami_channel=_channel_template(env),
            ami_backoff_max_seconds=_int(env, "XUC_AMI_MAX_BACKOFF_MS", 30000, minimum=1) / 1000,
            cas_server_url=_http_url(env, "XUC_CAS_SERVER_URL"),
            oidc_issuer=_http_url(env, "XUC_OIDC_ISSUER", keep_trailing_slash=True),
            oidc_audience=env.get("XUC_OIDC_AUDIENCE", "").strip(),
            oidc_login_claim=env.get("XUC_OIDC_LOGIN_CLAIM", "").strip() or "preferred_username",
            sso_timeout_seconds=_int(env, "XUC_SSO_TIMEOUT_MS", 5000, minimum=1) / 1000,
            login_max_failures=_int(env, "XUC_LOGIN_MAX_FAILURES", 10, minimum=1),
            login_max_failures_per_address=_int(env, "XUC_LOGIN_MAX_FAILURES_PER_ADDRESS", 50, minimum=1),
            login_failure_window_seconds=_int(env, "XUC_LOGIN_FAILURE_WINDOW_S", 300, minimum=1),
            kerberos_keytab=env.get("XUC_KERBEROS_KEYTAB", "").strip(),
            kerberos_principal=env.get("XUC_KERBEROS_PRINCIPAL", "").strip(),
            kerberos_realms=_list(env, "XUC_KERBEROS_REALMS"),
            metrics_listen=_metrics_listen(env, prefix),
            signing_key_rotation_days=rotation_days,
            signing_key_prepublish_seconds=prepublish_seconds,
            signing_key_reload_seconds=reload_seconds,
            signing_key_passphrase=env.get("XUC_SIGNING_KEY_PASSPHRASE", "").strip(),
            body_timeout_seconds=_seconds(env, "XUC_BODY_TIMEOUT_SECONDS", 30.0),
            max_header_bytes=_int(env, "XUC_MAX_HEADER_BYTES", 16384, minimum=MIN_HEADER_BYTES),
            header_timeout_seconds=_seconds(env, "XUC_HEADER_TIMEOUT_SECONDS", 10.0),
            keep_alive_timeout_seconds=_seconds(env, "XUC_KEEP_ALIVE_TIMEOUT_SECONDS", 5.0),
            cti_send_queue=_int(env, "XUC_CTI_SEND_QUEUE", 1000, minimum=1),
            cti_max_frame_bytes=_int(env, "XUC_CTI_MAX_FRAME_BYTES", 64 * 1024, minimum=1024),
            cti_commands_per_second=_int(env, "XUC_CTI_COMMANDS_PER_SECOND", 20, minimum=1),
            telephony_failover=_bool(env, "XUC_TELEPHONY_FAILOVER", False),
            telephony_lease_ttl_seconds=_int(env, "XUC_TELEPHONY_LEASE_TTL_MS", 10000, minimum=1000) / 1000,
            replicas=_replicas(env),
            http_reuse_port=_bool(env, "XUC_HTTP_REUSE_PORT", False),
            stream_replicas=_stream_replicas(env),
            publish_buffer=_publish_buffer_size(env),
            contacts_import_lease_seconds=_seconds(env, "XUC_CONTACTS_IMPORT_LEASE_S", 60.0),
            contacts_cache_ttl_seconds=_seconds(env, "XUC_CONTACTS_CACHE_TTL_S", 5.0),
            login_cache_seconds=_int(env, "XUC_LOGIN_CACHE_S", 600, maximum=24 * 3600),
            max_session_seconds=_int(env, "XUC_MAX_SESSION_S", 24 * 3600, minimum=1),
        )


@dataclass(frozen=True)
class WebhooksSettings:
    """What the webhooks process (services/webhooks) reads beyond the common Settings: the event
    URL (none: the process idles) and its retry schedule, and where it serves its metrics and health."""

    event_url: str = ""
    max_attempts: int = 10
    timeout_seconds: float = 5.0
    max_backoff_seconds: float = 30.0
    listen: str = "127.0.0.1:0"  # XUC_WEBHOOKS_METRICS_LISTEN: /metrics and /health/*; "" = none

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebhooksSettings:
        env = os.environ if env is None else env
        return cls(
            event_url=_http_url(env, "XUC_EVENT_URL", keep_trailing_slash=True),
            max_attempts=_int(env, "XUC_EVENT_MAX_ATTEMPTS", 10, minimum=1),
            timeout_seconds=_int(env, "XUC_EVENT_TIMEOUT_MS", 5000, minimum=1) / 1000,
            max_backoff_seconds=_int(env, "XUC_EVENT_MAX_BACKOFF_MS", 30000, minimum=1) / 1000,
            listen=_metrics_listen(env, "XUC_WEBHOOKS_"),
        )
