"""The signing keys put together from the settings (`xuc keys` reaches them through auth's
ListSigningKeys and RotateSigningKey RPCs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from services.auth.adapters.signing import PemKeyMaterial, SigningKeyRing
from services.auth.adapters.signing_key_store import SqlSigningKeyStore
from services.auth.domain.signing_keys import DAY_SECONDS, KeySchedule
from services.auth.service_layer.signing_keys import SigningKeyManager
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
