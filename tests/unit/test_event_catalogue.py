"""The event catalogue (xuc/event_catalogue.py): every event a publisher of ours sends resolves to
exactly one entry, whose message class is the one sent and parses it back; entries do not
overlap; their streams hold their subjects; and consumers resolve a message by its type header,
else by its subject."""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message

from services.auth.adapters.notifier import to_message as auth_message
from services.auth.domain import model as auth
from services.contacts.adapters.contact_events import contact_event_message
from services.contacts.adapters.qualification_events import qualification_event_message
from services.contacts.domain.contacts import Owner
from services.contacts.domain.events import ContactChanged, ContactsCleared, ContactsImported, FavoriteChanged
from services.contacts.domain.qualifications import QualificationAnswered
from services.telephony.adapters.telephony_events import telephony_event_message
from services.telephony.domain import model as telephony
from services.telephony.domain.pbx import ChannelEvent, ChannelState
from services.telephony.domain.presence import DEFAULT_STATUSES
from xuc import event_catalogue, subjects
from xuc.event_catalogue import CATALOGUE, by_subject, by_type, resolve

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LOGIN = "jean.dupont@example"  # a login that needs its subject token encoded

# Every event of every publisher, as the publisher turns it into a subject and a message.
PUBLISHED: list[tuple[Callable[[Any], tuple[str, Message]], Any]] = [
    (auth_message, auth.LoginAttempted(LOGIN, True, "", "password", auth.ClientInfo("127.0.0.1"), "u1", NOW)),
    (auth_message, auth.UserChanged(LOGIN, "u1", "updated", NOW, credentials_changed_at=1_700_000_000_000)),
    (contact_event_message, ContactChanged(Owner("u1", LOGIN), "c1", "created", NOW)),
    (contact_event_message, ContactsImported(Owner("u1", LOGIN), 3, 1, NOW)),
    (contact_event_message, ContactsCleared(Owner("u1", LOGIN), 4, NOW)),
    (contact_event_message, FavoriteChanged(Owner("u1", LOGIN), "Added", "c1", "personal", NOW)),
    (qualification_event_message, QualificationAnswered(1, 2, 3000, 4, "call-1", "2026-01-02 03:04:05", LOGIN, NOW)),
    (telephony_event_message, telephony.PhoneEventOccurred(LOGIN, ChannelEvent(
        "1000", "2000", next(iter(ChannelState)), "1.1", "1.1", {"XIVO_USERID": "9"}), NOW)),
    (telephony_event_message, telephony.PhoneStatusChanged(LOGIN, "1000", 1, NOW)),
    (telephony_event_message, telephony.AgentStateChanged(telephony.AgentState(telephony.Agent("2000", LOGIN)), NOW)),
    (telephony_event_message, telephony.UserServicesChanged(telephony.UserServices(LOGIN, dnd=True), NOW)),
    (telephony_event_message, telephony.PushRequested(LOGIN, telephony.PushPlatform.ANDROID, "token", "2000", "Bob",
                                                      "1.1", "1.1", NOW)),
    (telephony_event_message, telephony.UserStatusChanged(LOGIN, DEFAULT_STATUSES[3], NOW)),
]


@pytest.mark.parametrize(("publish", "event"), PUBLISHED, ids=lambda item: type(item).__name__)
def test_what_a_publisher_sends_resolves_to_one_entry_that_parses_it(
        publish: Callable[[Any], tuple[str, Message]], event: Any) -> None:
    subject, message = publish(event)

    matching = [kind for kind in CATALOGUE if kind.subject.prefix == subject.rpartition(".")[0]]
    assert len(matching) == 1, subject
    (kind,) = matching
    assert by_subject(subject) is kind
    assert by_type(message.DESCRIPTOR.full_name) is kind
    assert type(message) is kind.message
    assert kind.parse(message.SerializeToString()) == message
    assert kind.subject.key_of(subject) in (LOGIN, str(getattr(event, "queue", "")))


def test_every_entry_is_published_by_someone_or_is_the_dead_letters() -> None:
    published = {type(publish(event)[1]) for publish, event in PUBLISHED}
    assert {kind.message for kind in CATALOGUE} - published == {event_catalogue.WEBHOOK_DEAD.message}


def test_entries_do_not_overlap_and_their_stream_holds_their_subject() -> None:
    assert len({kind.subject.prefix for kind in CATALOGUE}) == len(CATALOGUE)
    assert len({kind.type_name for kind in CATALOGUE}) == len(CATALOGUE)
    streams = {config().name: config() for config in subjects.ALL_STREAMS}
    for kind in CATALOGUE:
        held_by = [pattern.removesuffix(">") for pattern in streams[kind.stream].subjects or []]
        assert any(f"{kind.subject.prefix}.".startswith(prefix) for prefix in held_by), kind


def test_a_message_is_resolved_by_its_type_header_else_by_its_subject() -> None:
    phone = event_catalogue.PHONE_EVENT
    assert resolve(phone.subject.for_key("a"), phone.type_name) is phone
    assert resolve(phone.subject.for_key("a"), None) is phone
    assert resolve(phone.subject.for_key("a"), "") is phone
    assert resolve(phone.subject.for_key("a"), "xuc.events.v1.SomethingNew") is None  # a type we do not know
    assert resolve("xuc.telephony.phone", None) is None  # no key token
    assert resolve("xuc.telephony.unknown.a", None) is None


def test_an_entry_refuses_another_message_and_an_undecodable_payload() -> None:
    status = event_catalogue.PHONE_STATUS.message(username="a", status=1)
    with pytest.raises(TypeError, match=r"carries xuc\.events\.v1\.PhoneEvent"):
        event_catalogue.PHONE_EVENT.outgoing("a", status)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"undecodable xuc\.events\.v1\.PhoneEvent"):
        event_catalogue.PHONE_EVENT.parse(b"\xff\xff\xff")


def test_no_publisher_or_consumer_spells_an_event_subject_outside_the_catalogue() -> None:
    """`subjects.PHONE_EVENT.for_key(...)` (a subject built or read for a message) belongs in
    xuc/event_catalogue.py: elsewhere a subject would be paired with a message by hand. (Patterns,
    `.all`, may name a subject elsewhere: the NATS permissions do.)"""
    entries = {name for name in dir(subjects) if isinstance(getattr(subjects, name), subjects.Subject)}
    found = []
    for folder in ("services", "gateway", "xuc"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "event_catalogue.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Attribute) and node.attr in ("for_key", "key_of")
                        and isinstance(node.value, ast.Attribute) and isinstance(node.value.value, ast.Name)
                        and node.value.value.id == "subjects" and node.value.attr in entries):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} subjects.{node.value.attr}.{node.attr}")
    assert not found, found
