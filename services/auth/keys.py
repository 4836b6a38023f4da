"""The signing keys put together from the settings, for the service and for `xuc keys`.

`xuc keys list` and `xuc keys rotate` work on the auth database directly (XUC_AUTH_DATABASE_URL,
else XUC_DATABASE_URL, else `<data dir>/auth.db`), whether auth runs or not: the replicas pick a
rotation up at their next reload.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from services.auth.adapters.signing import PemKeyMaterial, SigningKeyRing
from services.auth.adapters.signing_key_store import SqlSigningKeyStore
from services.auth.domain.signing_keys import DAY_SECONDS, KeyPeriod, KeySchedule
from services.auth.service_layer.signing_keys import SigningKeyManager, describe
from xuc.runtime import db
from xuc.runtime.settings import Settings
from xuc.security.tokens import CLOCK_SKEW_SECONDS

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"
VERSION_TABLE = "auth_alembic_version"


def key_schedule(settings: Settings) -> KeySchedule:
    return KeySchedule(
        rotation_age=settings.signing_key_rotation_days * DAY_SECONDS,
        prepublication=settings.signing_key_prepublish_seconds,
        token_ttl=settings.token_ttl,
        # A replica that has not reloaded yet may sign with the old key this much longer, and the
        # replicas' clocks may differ by the skew verifiers allow: a retired key stays published
        # that much longer.
        grace=settings.signing_key_reload_seconds + CLOCK_SKEW_SECONDS,
    )


def legacy_key_file(settings: Settings) -> Path:
    """Where versions that kept the key on disk kept it (imported when the key table is empty)."""
    return settings.data_dir / "auth" / "signing-key.pem"


@dataclass
class SigningKeys:
    ring: SigningKeyRing
    manager: SigningKeyManager
    schedule: KeySchedule
    store: SqlSigningKeyStore


def signing_keys(settings: Settings, engine: AsyncEngine) -> SigningKeys:
    material = PemKeyMaterial(settings.signing_key_passphrase)
    schedule = key_schedule(settings)
    ring = SigningKeyRing(material, schedule)
    store = SqlSigningKeyStore(engine)
    return SigningKeys(ring, SigningKeyManager(store, material, ring, schedule), schedule, store)


# --- xuc keys ---------------------------------------------------------------------------------------
class KeyFileInUse(Exception):
    """XUC_SIGNING_KEY_FILE is set: the key file signs, the database keys are not used."""


def _when(epoch: float | None) -> str:
    return "-" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def render(periods: list[KeyPeriod], schedule: KeySchedule, now: float) -> str:
    rows = [("kid", "generation", "state", "created", "signs from", "signs until")]
    rows += [(period.kid, str(period.generation), state, _when(period.created_at), _when(period.active_from),
              _when(period.retired_at)) for period, state in describe(periods, schedule, now)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


async def run_command(action: str, settings: Settings) -> str:
    """`xuc keys list|rotate`: what to print."""
    if settings.signing_key_file is not None:
        raise KeyFileInUse(f"XUC_SIGNING_KEY_FILE is set ({settings.signing_key_file}): that key signs, "
                           "and it does not rotate")
    await db.migrate(settings.database_url, MIGRATIONS, version_table=VERSION_TABLE)
    engine = db.create_engine_for(settings.database_url)
    try:
        keys = signing_keys(settings, engine)
        if action == "list":
            return render([key.period for key in await keys.store.load()], keys.schedule, time.time())
        legacy = legacy_key_file(settings)
        periods = await keys.manager.start(legacy.read_bytes() if legacy.exists() else None)  # as auth would
        under_way = keys.schedule.pending(periods, time.time()) is not None
        new = await keys.manager.rotate()
        periods = [key.period for key in await keys.store.load()]
        return (f"{render(periods, keys.schedule, time.time())}\n"
                f"key {new.kid} signs from {_when(new.active_from)}; "
                f"{'a rotation was already under way' if under_way else 'published now'}")
    finally:
        await engine.dispose()
