"""What the event URL receives for each telephony message: the original's JSON, exactly (the
message read through the event catalogue, services/webhooks/adapters/decoding.py)."""

from __future__ import annotations

import json

import pytest
from nats.aio.client import Client

from services.webhooks.adapters.decoding import decode
from services.webhooks.adapters.decoding import event_body_of as event_body
from services.webhooks.domain.bodies import EventBody
from services.webhooks.entrypoints.event_forwarder import EventForwarder
from xuc import event_catalogue, subjects
from xuc.runtime.settings import SettingsError, WebhooksSettings
from xucproto.events.v1.telephony_events_pb2 import AgentStateChanged, PhoneEvent, PhoneStatusChanged

PHONE_EVENT_TYPE = event_catalogue.PHONE_EVENT.type_name
PHONE_STATUS_TYPE = event_catalogue.PHONE_STATUS.type_name


def dialing(username: str = "alicej") -> PhoneEvent:
    return PhoneEvent(username=username, event_type="EventDialing", dn="1058", other_dn="3000",
                      linked_id="1447670380.34", unique_id="1447670380.34", user_data={"XIVO_USERID": "9"},
                      event_id="e-1")


def test_phone_event_is_the_originals_phone_event_notification() -> None:
    mapped = event_body(subjects.PHONE_EVENT.for_key("alicej"), dialing().SerializeToString(), PHONE_EVENT_TYPE)

    assert mapped is not None
    assert mapped.username == "alicej"
    assert json.loads(mapped.body) == {
        "username": "alicej",
        "message": {
            "msgType": "PhoneEvent",
            "ctiMessage": {
                "eventType": "EventDialing",
                "DN": "1058",
                "otherDN": "3000",
                "linkedId": "1447670380.34",
                "uniqueId": "1447670380.34",
                "userData": {"XIVO_USERID": "9"},
            },
        },
    }


def test_phone_event_user_data_is_a_json_object_of_every_variable_in_a_stable_order() -> None:
    event = dialing()
    event.user_data.update({"ZZ": "last", "XIVO_SRCNUM": "1058", "é": "ü"})

    first = event_body(subjects.PHONE_EVENT.for_key("alicej"), event.SerializeToString(), PHONE_EVENT_TYPE)
    again = event_body(subjects.PHONE_EVENT.for_key("alicej"), event.SerializeToString(), PHONE_EVENT_TYPE)

    assert first is not None
    assert first == again
    assert json.loads(first.body)["message"]["ctiMessage"]["userData"] == {
        "XIVO_USERID": "9", "XIVO_SRCNUM": "1058", "ZZ": "last", "é": "ü"}


def test_phone_event_without_user_data_has_an_empty_object_and_empty_strings() -> None:
    event = PhoneEvent(username="bobm", event_type="EventReleased", dn="1059")

    mapped = event_body(subjects.PHONE_EVENT.for_key("bobm"), event.SerializeToString(), PHONE_EVENT_TYPE)

    assert mapped is not None
    assert json.loads(mapped.body)["message"]["ctiMessage"] == {
        "eventType": "EventReleased", "DN": "1059", "otherDN": "", "linkedId": "", "uniqueId": "", "userData": {}}


@pytest.mark.parametrize("status", [0, 1, 2, 4, 8, 9, 16, -2])
def test_phone_status_is_username_and_an_integer_status(status: int) -> None:
    changed = PhoneStatusChanged(username="alicej", number="1058", status=status, event_id="s-1")

    mapped = event_body(subjects.PHONE_STATUS.for_key("alicej"), changed.SerializeToString(), PHONE_STATUS_TYPE)

    assert mapped == EventBody("alicej", json.dumps({"username": "alicej", "status": status}, separators=(",", ":")))
    document = json.loads(mapped.body)
    assert document == {"username": "alicej", "status": status}
    assert type(document["status"]) is int


def test_the_body_is_compact_utf8_json() -> None:
    changed = PhoneStatusChanged(username="zoé", status=2)

    mapped = event_body(subjects.PHONE_STATUS.for_key("zoé"), changed.SerializeToString(), PHONE_STATUS_TYPE)

    assert mapped is not None
    assert mapped.body == '{"username":"zoé","status":2}'


def test_without_the_type_header_the_subject_tells_the_type() -> None:
    phone = event_body(subjects.PHONE_EVENT.for_key("alicej"), dialing().SerializeToString(), None)
    status = event_body(subjects.PHONE_STATUS.for_key("alicej"),
                        PhoneStatusChanged(username="alicej", status=8).SerializeToString(), "")

    assert phone is not None
    assert json.loads(phone.body)["message"]["msgType"] == "PhoneEvent"
    assert status == EventBody("alicej", '{"username":"alicej","status":8}')


def test_a_message_without_username_is_for_the_user_its_subject_names() -> None:
    login = "jean.dupont@example"  # encoded in the subject token

    mapped = event_body(subjects.PHONE_STATUS.for_key(login), PhoneStatusChanged(status=1).SerializeToString(),
                        PHONE_STATUS_TYPE)

    assert mapped == EventBody(login, json.dumps({"username": login, "status": 1}, separators=(",", ":")))


@pytest.mark.parametrize(("subject", "event_type"), [
    (subjects.AGENT_STATE.for_key("alicej"), AgentStateChanged.DESCRIPTOR.full_name),
    (subjects.PHONE_EVENT.for_key("alicej"), "xuc.events.v1.SomethingNew"),
    (subjects.AGENT_STATE.for_key("alicej"), None),
])
def test_other_event_types_are_not_posted(subject: str, event_type: str | None) -> None:
    payload = AgentStateChanged(username="alicej", state="Ready").SerializeToString()

    assert event_body(subject, payload, event_type) is None


def test_an_undecodable_payload_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"undecodable xuc\.events\.v1\.PhoneEvent"):
        event_body(subjects.PHONE_EVENT.for_key("alicej"), b"\xff\xff\xff", PHONE_EVENT_TYPE)


def test_an_undecodable_payload_is_decoded_as_an_error_for_its_user_and_type() -> None:
    decoded = decode(subjects.PHONE_EVENT.for_key("alicej"), b"\xff\xff\xff", None)

    assert decoded.event == EventBody("alicej", "")
    assert decoded.event_type == PHONE_EVENT_TYPE  # from the catalogue entry of the subject
    assert decoded.error.startswith("undecodable xuc.events.v1.PhoneEvent")


def test_the_forwarder_takes_its_settings_without_connecting() -> None:
    settings = WebhooksSettings.from_env({"XUC_EVENT_URL": "http://hooks.example/events",
                                          "XUC_EVENT_MAX_ATTEMPTS": "3", "XUC_EVENT_TIMEOUT_MS": "1500",
                                          "XUC_EVENT_MAX_BACKOFF_MS": "2000"})

    forwarder = EventForwarder.from_settings(Client(), settings)  # a client never connected

    assert forwarder.poster.url == "http://hooks.example/events"
    assert (forwarder.policy.max_attempts, forwarder.policy.max_backoff_seconds) == (3, 2.0)
    assert forwarder.held == 0


def test_the_webhooks_settings_default_to_idle_and_refuse_a_url_that_is_not_http() -> None:
    assert WebhooksSettings.from_env({}) == WebhooksSettings()
    assert WebhooksSettings.from_env({}).event_url == ""
    with pytest.raises(SettingsError, match="XUC_EVENT_URL must be an http:// or https:// URL"):
        WebhooksSettings.from_env({"XUC_EVENT_URL": "hooks.example/events"})
