"""What the services' messages become on the CTI channel: the spec's field names and values."""

from __future__ import annotations

from gateway.cti import translate
from xucproto.auth.v1 import auth_pb2
from xucproto.events.v1 import telephony_events_pb2 as events
from xucproto.telephony.v1 import telephony_pb2 as pb


def test_a_phone_event_has_every_field_of_the_spec_as_strings() -> None:
    event = events.PhoneEvent(username="alice", event_type="EventRinging", dn="1001", other_dn="1002",
                              other_name="Bob", linked_id="l.1", unique_id="u.2", user_data={"b": "2", "a": "1"},
                              call_direction="Incoming")
    assert translate.phone_event(event) == {
        "eventType": "EventRinging", "DN": "1001", "otherDN": "1002", "otherDName": "Bob", "linkedId": "l.1",
        "uniqueId": "u.2", "queueName": "", "callDirection": "Incoming", "userData": {"a": "1", "b": "2"}}
    # events of an older telephony carry no direction: a dial is outgoing, anything else incoming
    assert translate.phone_event(events.PhoneEvent(event_type="EventDialing"))["callDirection"] == "Outgoing"
    assert translate.phone_event(events.PhoneEvent(event_type="EventRinging"))["callDirection"] == "Incoming"


def test_phone_statuses_are_named_as_cti_js_names_them() -> None:
    names = {code: translate.phone_status_name(code) for code in (0, 1, 2, 4, 8, 9, 16, -1, -2, -99, 77)}
    assert names == {0: "AVAILABLE", 1: "CALLING", 2: "BUSY", 4: "INDISPONIBLE", 8: "RINGING", 9: "BUSY_AND_RINGING",
                     16: "ONHOLD", -1: "DEACTIVATED", -2: "UNEXISTING", -99: "ERROR", 77: "ERROR"}


def test_the_user_configuration_is_always_complete() -> None:
    user = auth_pb2.User(id="7", login="alice", firstname="Alice", lastname="Liddell", line="1001", mobile="0611")
    services = pb.UserServices(dnd=True, unconditional=pb.Forward(enabled=True, destination="1002"))
    assert translate.user_config(user, services, "2001") == {
        "userId": "7", "fullName": "Alice Liddell", "mobileNumber": "0611", "agentId": 2001, "dndEnabled": True,
        "naFwdEnabled": False, "naFwdDestination": "", "uncFwdEnabled": True, "uncFwdDestination": "1002",
        "busyFwdEnabled": False, "busyFwdDestination": "", "voiceMailId": 0, "voiceMailEnabled": False}
    assert translate.user_config(user, services, "")["agentId"] == 0


def test_agent_states_and_a_line_less_user() -> None:
    state = translate.agent_state_from_rpc(pb.AgentState(agent_number="2001", status=pb.PAUSED, phone_number="1001",
                                                         queue_ids=[9, 3]))
    assert (state["name"], state["agentId"], state["phoneNb"], state["queues"]) == ("AgentOnPause", 2001, "1001",
                                                                                    [3, 9])
    assert translate.line_config(auth_pb2.User(login="x"))["id"] == "-"


def test_call_history_names_the_users_and_keeps_external_numbers() -> None:
    history = pb.CallHistory(calls=[pb.CallRecord(start="2026-12-08 10:00:00", duration="00:00:25",
                                                  src_username="0611223344", dst_username="alice", status="answered")])
    users = {"alice": auth_pb2.User(login="alice", firstname="Alice", lastname="L", line="1001")}
    [call] = translate.call_history(history, users, {"1001": 0})
    assert call == {"start": "2026-12-08 10:00:00", "duration": "00:00:25", "status": "answered",
                    "srcNum": "0611223344", "srcUsername": "", "srcFirstName": "", "srcLastName": "",
                    "srcPhoneStatus": -2, "dstNum": "1001", "dstUsername": "alice", "dstFirstName": "Alice",
                    "dstLastName": "L", "dstPhoneStatus": 0}
