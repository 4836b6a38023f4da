"""Every test of the personal contacts use cases runs twice: with the read cache and without it."""

from __future__ import annotations

import pytest

from tests.unit.personal_contacts.fakes import System


@pytest.fixture(autouse=True, params=[1000, 0], ids=["cache", "no-cache"])
def _with_and_without_cache(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(System, "default_cache_owners", request.param)
