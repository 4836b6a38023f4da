"""DND, forwards, agents, lists and configuration over the CTI channel, against `xuc up`; changes
made elsewhere (the 1.0 REST API, another socket) reach every socket of the user; a user deleted
or disabled has their sockets closed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.e2e.conftest import Stack
from tests.e2e.cti.conftest import AGENT, AGENT_USER, PASSWORD, PHONE_USERS, QUEUE_ID
from tests.support.cti_client import CtiClient


def config_where(**fields: Any) -> Callable[[Any], bool]:
    return lambda config: all(config[name] == value for name, value in fields.items())


def test_dnd_and_forwards_set_on_one_socket_reach_every_socket_of_the_user(
        open_cti: Callable[[str], CtiClient], http: httpx.Client) -> None:
    desk, phone = open_cti("cti.grace"), open_cti("cti.grace")
    desk.send("dnd", state=True)
    for socket in (desk, phone):
        socket.expect("UserConfigUpdate", config_where(dndEnabled=True))
    desk.send("uncFwd", destination="0612345678", state=True)
    for socket in (desk, phone):
        socket.expect("UserConfigUpdate", config_where(uncFwdEnabled=True, uncFwdDestination="0612345678"))
    phone.send("naFwd", destination="1101", state=True)
    desk.expect("UserConfigUpdate", config_where(naFwdEnabled=True, naFwdDestination="1101", dndEnabled=True))
    phone.send("busyFwd", state=False)
    desk.expect("UserConfigUpdate", config_where(busyFwdEnabled=False))
    desk.send("uncFwd", state=True)  # enabling a forward needs its destination
    assert desk.expect("Error")["Error"] == "InvalidArgument"
    # The 1.0 REST API's DND reaches the sockets too.
    response = http.post("/xuc/api/1.0/dnd/avencall.com/cti.grace/", json={"state": False})
    assert response.status_code == 200, response.text
    for socket in (desk, phone):
        socket.expect("UserConfigUpdate", config_where(dndEnabled=False))


def test_the_agent_of_the_user_logs_in_pauses_and_logs_out_from_the_socket(
        open_cti: Callable[[str], CtiClient]) -> None:
    carol = open_cti(AGENT_USER)
    config = carol.expect("UserConfigUpdate")
    assert config["agentId"] == int(AGENT)
    carol.send("agentLogin", agentphonenumber=PHONE_USERS[AGENT_USER])
    ready = carol.expect("AgentStateEvent", lambda state: state["name"] == "AgentReady")
    assert (ready["agentId"], ready["phoneNb"]) == (int(AGENT), PHONE_USERS[AGENT_USER])
    assert set(ready) == {"name", "agentId", "phoneNb", "since", "queues", "cause", "acd", "direction",
                          "monitorState"}
    carol.send("pauseAgent", reason="lunch")
    carol.expect("AgentStateEvent", lambda state: state["name"] == "AgentOnPause")
    carol.send("getAgentStates")
    listed = carol.expect("AgentStateEvent", lambda state: state["agentId"] == int(AGENT))
    assert (listed["name"], listed["queues"]) == ("AgentOnPause", [QUEUE_ID])
    carol.send("unpauseAgent")
    carol.expect("AgentStateEvent", lambda state: state["name"] == "AgentReady")
    carol.send("agentLogout")
    carol.expect("AgentStateEvent", lambda state: state["name"] == "AgentLoggedOut")
    carol.send("pauseAgent")
    assert carol.expect("AgentError")["Error"] == "AgentNotLoggedIn"


def test_agent_commands_of_a_user_without_agent_are_agent_errors_and_agent_events_need_a_subscription(
        open_cti: Callable[[str], CtiClient]) -> None:
    heidi, supervisor = open_cti("cti.heidi"), open_cti("cti.ivan")
    heidi.send("agentLogin", agentphonenumber="1108")
    assert heidi.expect("AgentError") == {"Error": "AgentNotFound", "message": "The user has no agent",
                                          "command": "agentLogin"}
    supervisor.send("subscribeToAgentEvents")
    supervisor.send_raw('{"claz":"ping"}')
    supervisor.expect("Pong")
    carol = open_cti(AGENT_USER)
    carol.send("agentLogin", agentphonenumber=PHONE_USERS[AGENT_USER])
    assert supervisor.expect("AgentStateEvent", lambda state: state["name"] == "AgentReady")["agentId"] == int(AGENT)
    supervisor.send("agentLogout", agentid=int(AGENT))  # another agent, by id
    supervisor.expect("AgentStateEvent", lambda state: state["name"] == "AgentLoggedOut")
    carol.expect("AgentStateEvent", lambda state: state["name"] == "AgentLoggedOut")


def test_lists_and_line_configuration(open_cti: Callable[[str], CtiClient]) -> None:
    judy = open_cti("cti.judy")
    judy.send("getList", objectType="queue")
    assert judy.expect("QueueList") == [{"id": QUEUE_ID, "name": "sales", "displayName": "sales", "number": "3100"}]
    judy.send("getList", objectType="queuemember")
    assert judy.expect("QueueMemberList") == [{"agentId": int(AGENT), "queueId": QUEUE_ID, "penalty": 0}]
    judy.send("getList", objectType="agent")
    [agent] = judy.expect("AgentList")
    assert (agent["id"], agent["number"], agent["firstName"], agent["lastName"]) == (int(AGENT), AGENT, "Carol", "Cti")
    judy.send("getList", objectType="trunk")
    assert judy.expect("Error")["Error"] == "InvalidArgument"
    judy.send("getConfig", objectType="line")
    assert judy.expect("LineConfig") == {"id": "1110", "number": "1110", "name": "1110", "hasDevice": True,
                                         "webRtc": False, "vendor": "", "xivoIp": ""}


def test_a_user_disabled_or_deleted_has_their_sockets_closed(
        cti_stack: Stack, open_cti: Callable[[str], CtiClient]) -> None:
    cti_stack.xuc("user", "add", "cti.leaving", "--password", "leaving-secret")
    revoked = _token(cti_stack, "cti.leaving", "leaving-secret")
    with CtiClient.open(cti_stack.url, revoked) as first:
        first.expect("LoggedOn")
        cti_stack.xuc("user", "disable", "cti.leaving")
        assert first.closed_with() == 1008
    cti_stack.xuc("user", "enable", "cti.leaving")
    with CtiClient.open(cti_stack.url, revoked) as refused:  # a token of before the disable stays refused
        assert refused.read() == {"msgType": "LoggedOnError", "ctiMessage": {"Error": "loggedOnFailed"}}
        assert refused.closed_with() == 1008
    with CtiClient.open(cti_stack.url, _token(cti_stack, "cti.leaving", "leaving-secret")) as second:
        second.expect("LoggedOn")
        cti_stack.xuc("user", "delete", "cti.leaving")
        assert second.closed_with() == 1008


def _token(stack: Stack, login: str, password: str) -> str:
    response = httpx.post(f"{stack.url}/xuc/api/2.0/auth/login", json={"login": login, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def test_presence_chosen_on_one_socket_reaches_every_socket_and_applies_its_actions(
        open_cti: Callable[[str], CtiClient]) -> None:
    desk, phone = open_cti("cti.leo"), open_cti("cti.leo")
    desk.send("userStatusUpdate", status="away")
    for socket in (desk, phone):
        assert socket.expect("UserStatusUpdate", lambda status: status["status"] == "away") == {"status": "away"}
    phone.send("userStatusUpdate", status="donotdisturb")  # its action: DND on
    for socket in (desk, phone):
        socket.expect("UserStatusUpdate", lambda status: status["status"] == "donotdisturb")
        socket.expect("UserConfigUpdate", config_where(dndEnabled=True))
    desk.send("userStatusUpdate", status="available")  # and back off
    phone.expect("UserConfigUpdate", config_where(dndEnabled=False))
    desk.send("userStatusUpdate", status="on-the-moon")
    refused = desk.expect("Error")
    assert (refused["Error"], refused["command"]) == ("UnknownUserStatus", "userStatusUpdate")
    with_state = open_cti("cti.leo")  # a new socket starts from the chosen status
    with_state.expect("UsersStatuses")
    assert with_state.expect("UserStatusUpdate") == {"status": "available"}


def test_a_user_renamed_elsewhere_sees_the_new_name_at_once(
        cti_stack: Stack, open_cti: Callable[[str], CtiClient]) -> None:
    rosa = open_cti("cti.rosa")
    assert rosa.expect("UserConfigUpdate")["fullName"] == "Rosa Cti"
    path = cti_stack.write_file("rosa.yaml", {"users": [
        {"login": "cti.rosa", "password": PASSWORD, "firstname": "Rosalind", "lastname": "Cti", "line": "1120",
         "mobile": "0677889900"}]})
    assert cti_stack.xuc("provision", str(path)).stdout.splitlines()[0] == "user cti.rosa: updated"
    renamed = rosa.expect("UserConfigUpdate", config_where(fullName="Rosalind Cti"))
    assert renamed["mobileNumber"] == "0677889900"
