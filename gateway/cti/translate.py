"""What the services' messages become on the channel: the ctiMessage of each msgType, with the
field names of the original (../shared/spec/xuc-cti-websocket.md, "Messages the server sends").

Pure: protobuf messages in, JSON-ready values out. Where the original carries something we do not
have, the value is documented in docs/cti.md ("Fields we fill differently").
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from xucproto.auth.v1 import auth_pb2
from xucproto.contacts.v1 import contacts_pb2
from xucproto.events.v1 import telephony_events_pb2 as events
from xucproto.telephony.v1 import telephony_pb2

# cti.js's Cti.PhoneStatus table: the code of a status -> the name PhoneStatusUpdate carries.
PHONE_STATUS_NAMES: Mapping[int, str] = {
    16: "ONHOLD", 8: "RINGING", 4: "INDISPONIBLE", 9: "BUSY_AND_RINGING", 0: "AVAILABLE", 1: "CALLING",
    2: "BUSY", -1: "DEACTIVATED", -2: "UNEXISTING", -99: "ERROR",
}
AGENT_STATE_NAMES: Mapping[str, str] = {"LoggedOut": "AgentLoggedOut", "Ready": "AgentReady",
                                        "Paused": "AgentOnPause"}
AGENT_STATUS_STATES: Mapping[int, str] = {telephony_pb2.LOGGED_OUT: "LoggedOut", telephony_pb2.READY: "Ready",
                                          telephony_pb2.PAUSED: "Paused"}


def phone_status_name(code: int) -> str:
    return PHONE_STATUS_NAMES.get(code, "ERROR")


def call_direction(event: events.PhoneEvent) -> str:
    return event.call_direction or ("Outgoing" if event.event_type == "EventDialing" else "Incoming")


def phone_event(event: events.PhoneEvent) -> dict[str, Any]:
    return {
        "eventType": event.event_type, "DN": event.dn, "otherDN": event.other_dn, "otherDName": event.other_name,
        "linkedId": event.linked_id, "uniqueId": event.unique_id, "queueName": event.queue_name,
        "callDirection": call_direction(event), "userData": dict(sorted(event.user_data.items())),
    }


def agent_id(agent_number: str) -> int:
    """The original's agentId is a database id; ours is the agent's number, a whole number too
    (0: no agent, as the original says)."""
    return int(agent_number) if agent_number.isdigit() else 0


def user_config(user: auth_pb2.User, services: telephony_pb2.UserServices, agent_number: str) -> dict[str, Any]:
    """The full UserConfigUpdate (we always send every field)."""
    return {
        "userId": user.id, "fullName": f"{user.firstname} {user.lastname}".strip(), "mobileNumber": user.mobile,
        "agentId": agent_id(agent_number), "dndEnabled": services.dnd,
        "naFwdEnabled": services.no_answer.enabled, "naFwdDestination": services.no_answer.destination,
        "uncFwdEnabled": services.unconditional.enabled, "uncFwdDestination": services.unconditional.destination,
        "busyFwdEnabled": services.busy.enabled, "busyFwdDestination": services.busy.destination,
        "voiceMailId": 0, "voiceMailEnabled": False,
    }


def user_services_of(event: events.UserServicesChanged) -> telephony_pb2.UserServices:
    return telephony_pb2.UserServices(
        username=event.username, dnd=event.dnd,
        unconditional=telephony_pb2.Forward(enabled=event.unconditional_enabled,
                                            destination=event.unconditional_destination),
        no_answer=telephony_pb2.Forward(enabled=event.no_answer_enabled, destination=event.no_answer_destination),
        busy=telephony_pb2.Forward(enabled=event.busy_enabled, destination=event.busy_destination))


def agent_state_event(agent_number: str, state: str, phone_number: str, since: float,
                      queue_ids: Iterable[int] = ()) -> dict[str, Any]:
    """`since`: when the agent entered the state (epoch seconds); the message carries how long ago."""
    return {
        "name": AGENT_STATE_NAMES.get(state, "AgentLoggedOut"), "agentId": agent_id(agent_number),
        "phoneNb": phone_number, "since": max(0, int(time.time() - since)) if since else 0,
        "queues": sorted(queue_ids), "cause": "", "acd": False, "direction": "", "monitorState": "DISABLED",
    }


def agent_state_from_event(event: events.AgentStateChanged) -> dict[str, Any]:
    since = event.occurred_at.seconds + event.occurred_at.nanos / 1e9
    return agent_state_event(event.agent_number, event.state, event.phone_number, since)


def agent_state_from_rpc(state: telephony_pb2.AgentState) -> dict[str, Any]:
    return agent_state_event(state.agent_number, AGENT_STATUS_STATES.get(state.status, "LoggedOut"),
                             state.phone_number, 0, state.queue_ids)


def line_config(user: auth_pb2.User) -> dict[str, Any]:
    if not user.line:
        return {"id": "-", "number": "", "name": "", "hasDevice": False, "webRtc": False, "vendor": "", "xivoIp": ""}
    return {"id": user.line, "number": user.line, "name": user.line, "hasDevice": True, "webRtc": False,
            "vendor": "", "xivoIp": ""}


def queue_list(queues: telephony_pb2.QueueList) -> list[dict[str, Any]]:
    return [{"id": queue.id, "name": queue.name, "displayName": queue.name, "number": queue.number}
            for queue in queues.queues]


def queue_member_list(queues: telephony_pb2.QueueList) -> list[dict[str, Any]]:
    return [{"agentId": agent_id(agent), "queueId": queue.id, "penalty": 0}
            for queue in queues.queues for agent in queue.agents]


def agent_list(agents: telephony_pb2.AgentStates, users: Mapping[str, auth_pb2.User]) -> list[dict[str, Any]]:
    listed = []
    for agent in agents.agents:
        user = users.get(agent.username)
        listed.append({"id": agent_id(agent.agent_number), "userId": user.id if user else "",
                       "firstName": user.firstname if user else "", "lastName": user.lastname if user else "",
                       "number": agent.agent_number, "groupId": 0})
    return listed


def call_history(history: telephony_pb2.CallHistory, users: Mapping[str, auth_pb2.User],
                 statuses: Mapping[str, int]) -> list[dict[str, Any]]:
    def party(username: str, prefix: str) -> dict[str, Any]:
        user = users.get(username)
        number = user.line if user else username
        return {f"{prefix}Num": number, f"{prefix}Username": username if user else "",
                f"{prefix}FirstName": user.firstname if user else "",
                f"{prefix}LastName": user.lastname if user else "",
                f"{prefix}PhoneStatus": statuses.get(number, -2) if user else -2}

    return [{"start": call.start, "duration": call.duration, "status": call.status,
             **party(call.src_username, "src"), **party(call.dst_username, "dst")} for call in history.calls]


def users_statuses(statuses: telephony_pb2.UserStatuses) -> list[dict[str, Any]]:
    """The presence statuses a user may choose (UsersStatuses)."""
    return [{"name": status.name, "color": status.color, "longName": status.long_name,
             "actions": [{"name": action.name, "parameters": action.parameters} for action in status.actions]}
            for status in statuses.statuses]


DIRECTORY_HEADERS = ["Firstname", "Lastname", "Number", "Mobile", "Favorite"]


def directory_result(entries: contacts_pb2.DirectoryEntries) -> dict[str, Any]:
    """DirectoryResult (and Favorites): the original's header row and one row per entry, each with
    its live phone status."""
    return {"headers": DIRECTORY_HEADERS, "entries": [
        {"status": entry.status, "contact_id": entry.contact_id, "source": entry.source, "favorite": entry.favorite,
         "entry": [entry.firstname, entry.lastname, entry.number, entry.mobile, str(entry.favorite).lower()]}
        for entry in entries.entries]}
