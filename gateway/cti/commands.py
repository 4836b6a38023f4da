"""The commands a client sends (`{"claz":"web","command":NAME,...}`), each a few service calls.

Every rule (who may dial what, number sanitising, agents and queues) is the services'; here the
arguments are read (gateway/cti/envelope.py) and the answers shaped (gateway/cti/translate.py).
Without `agentid`, agent commands act on the user's own agent. Changes (DND, forwards, agent
states) are not answered directly: their events come back to every socket of the user, this one
included, so that all of them show the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from gateway.cti import translate
from gateway.cti.envelope import Command, Refused
from gateway.cti.session import CommandEntry, Handler, Session
from xucproto.auth.v1 import auth_pb2
from xucproto.contacts.v1 import contacts_pb2
from xucproto.telephony.v1 import telephony_pb2 as pb

MAX_HINTS = 500  # numbers one socket may watch
MAX_HISTORY_SIZE = 1000
MAX_HISTORY_DAYS = 3660

COMMANDS: dict[str, CommandEntry] = {}


def command(*names: str, error_type: str = "Error") -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for name in names:
            COMMANDS[name] = CommandEntry(handler, error_type)
        return handler
    return register


def agent_command(*names: str) -> Callable[[Handler], Handler]:
    """An agent command: its refusals are `AgentError` messages, as the original's."""
    return command(*names, error_type="AgentError")


# --- calls ---------------------------------------------------------------------------------------
@command("dial", "originate")
async def dial(session: Session, request: Command) -> None:
    await session.call(session.telephony.Dial, pb.DialRequest(
        username=session.login, number=request.text("destination"), variables=request.call_variables()))


@command("dialByUsername")
async def dial_by_username(session: Session, request: Command) -> None:
    await session.call(session.telephony.DialByUsername, pb.DialByUsernameRequest(
        username=session.login, target_username=request.text("username")))


@command("dialFromQueue")
async def dial_from_queue(session: Session, request: Command) -> None:
    await session.call(session.telephony.DialFromQueue, pb.DialFromQueueRequest(
        destination=request.text("destination"), queue_id=request.integer("queueId", maximum=2**63 - 1),
        caller_id_name=request.text("callerIdName", required=False),
        caller_id_number=request.text("callerIdNumber", required=False), variables=request.call_variables()))


@command("dialFromMobile")
async def dial_from_mobile(session: Session, request: Command) -> None:
    """The user's mobile rings first, then the destination (docs/telephony.md)."""
    await session.call(session.telephony.DialFromMobile, pb.DialFromMobileRequest(
        username=session.login, destination=request.text("destination"), variables=request.call_variables()))


# --- the calls in progress ------------------------------------------------------------------------
@command("getCurrentCallsPhoneEvents")
async def current_calls(session: Session, request: Command) -> None:
    """The latest phone event of each call in progress: a client that reconnects rebuilds its screen."""
    calls = await session.call(session.telephony.GetCurrentCalls, pb.CallCurrentCallsRequest(username=session.login))
    session.send("CurrentCallsPhoneEvents", {"events": [translate.phone_event(event) for event in calls.events]})


_CALL_ACTIONS = {"answer": "Answer", "hold": "Hold", "hangup": "Hangup"}


@command(*_CALL_ACTIONS)
async def call_action(session: Session, request: Command) -> None:
    """On the call `uniqueId` names, else the user's current call (docs/telephony.md); `hold`
    toggles. Answered by the phone events."""
    method = getattr(session.telephony, _CALL_ACTIONS[request.name])
    await session.call(method, pb.CallControlRequest(username=session.login,
                                                     unique_id=request.text("uniqueId", required=False)))


@command("sendDtmf")
async def send_dtmf(session: Session, request: Command) -> None:
    await session.call(session.telephony.SendDtmf, pb.CallDtmfRequest(
        username=session.login, key=request.text("key"), unique_id=request.text("uniqueId", required=False)))


@command("directTransfer", "attendedTransfer")
async def transfer(session: Session, request: Command) -> None:
    method = session.telephony.DirectTransfer if request.name == "directTransfer" \
        else session.telephony.AttendedTransfer
    await session.call(method, pb.CallTransferRequest(
        username=session.login, destination=request.text("destination"),
        unique_id=request.text("uniqueId", required=False)))


@command("completeTransfer", "cancelTransfer")
async def end_transfer(session: Session, request: Command) -> None:
    method = session.telephony.CompleteTransfer if request.name == "completeTransfer" \
        else session.telephony.CancelTransfer
    await session.call(method, pb.CallPendingTransferRequest(username=session.login))


@command("setData")
async def set_data(session: Session, request: Command) -> None:
    """Variables (as `USR_<name>`) attached to the current call: its later phone events carry them."""
    await session.call(session.telephony.SetCallData, pb.CallDataRequest(
        username=session.login, variables=request.call_variables(),
        unique_id=request.text("uniqueId", required=False)))


# --- user services -------------------------------------------------------------------------------
@command("dnd")
async def dnd(session: Session, request: Command) -> None:
    await session.call(session.telephony.SetDnd, pb.SetDndRequest(username=session.login,
                                                                   state=request.flag("state")))


_FORWARDS = {"naFwd": pb.FORWARD_NO_ANSWER, "uncFwd": pb.FORWARD_UNCONDITIONAL, "busyFwd": pb.FORWARD_BUSY}


@command(*_FORWARDS)
async def forward(session: Session, request: Command) -> None:
    state = request.flag("state")
    await session.call(session.telephony.SetForward, pb.SetForwardRequest(
        username=session.login, kind=_FORWARDS[request.name], state=state,
        destination=request.text("destination", required=state)))


# --- presence ------------------------------------------------------------------------------------
@command("userStatusUpdate")
async def user_status_update(session: Session, request: Command) -> None:
    """Answered by the UserStatusUpdate event, to every socket of the user (an unknown status is
    the service's UnknownUserStatus)."""
    await session.call(session.telephony.SetUserStatus, pb.UserStatusSetRequest(
        username=session.login, status=request.text("status")))


# --- agents --------------------------------------------------------------------------------------
async def _agent(session: Session, request: Command) -> pb.AgentState:
    """The agent a command names (`agentid`), else the user's own; AgentError when there is none."""
    wanted = str(request.integer("agentid")) if request.arguments.get("agentid") is not None else ""
    if not wanted:
        agents = await session.call(session.telephony.ListUserAgents,
                                    pb.ListUserAgentsRequest(username=session.login))
    else:
        agents = await session.call(session.telephony.ListAgents, pb.ListAgentsRequest())
    for agent in agents.agents:
        if not wanted or agent.agent_number == wanted:
            found: pb.AgentState = agent
            return found
    raise Refused("AgentNotFound", f"No agent {wanted}" if wanted else "The user has no agent")


@agent_command("agentLogin")
async def agent_login(session: Session, request: Command) -> None:
    agent = await _agent(session, request)
    await session.call(session.telephony.AgentLogin, pb.AgentLoginRequest(
        agent_number=agent.agent_number, phone_number=request.text("agentphonenumber")))


@agent_command("agentLogout")
async def agent_logout(session: Session, request: Command) -> None:
    agent = await _agent(session, request)
    if agent.status != pb.LOGGED_OUT:
        await session.call(session.telephony.AgentLogout, pb.AgentLogoutRequest(phone_number=agent.phone_number))


@agent_command("pauseAgent", "unpauseAgent")
async def pause_agent(session: Session, request: Command) -> None:
    agent = await _agent(session, request)
    if agent.status == pb.LOGGED_OUT:
        raise Refused("AgentNotLoggedIn", f"Agent {agent.agent_number} is not logged in")
    wanted = pb.PAUSED if request.name == "pauseAgent" else pb.READY
    if agent.status != wanted:  # the service toggles: only when the state is not the one asked for
        await session.call(session.telephony.TogglePause, pb.TogglePauseRequest(phone_number=agent.phone_number))


@command("getAgentStates")
async def agent_states(session: Session, request: Command) -> None:
    agents = await session.call(session.telephony.ListAgents, pb.ListAgentsRequest())
    for agent in agents.agents:
        session.send("AgentStateEvent", translate.agent_state_from_rpc(agent))


@command("subscribeToAgentEvents")
async def subscribe_to_agent_events(session: Session, request: Command) -> None:
    session.hub.watch_agents(session)


# --- lists and configuration ---------------------------------------------------------------------
async def _users(session: Session) -> dict[str, auth_pb2.User]:
    reply = await session.call(session.backends.auth.ListUsers, auth_pb2.ListUsersRequest())
    return {user.login: user for user in reply.users}


@command("getList")
async def get_list(session: Session, request: Command) -> None:
    kind = request.text("objectType")
    if kind == "queue":
        session.send("QueueList", translate.queue_list(
            await session.call(session.telephony.ListQueues, pb.ListQueuesRequest())))
    elif kind == "queuemember":
        session.send("QueueMemberList", translate.queue_member_list(
            await session.call(session.telephony.ListQueues, pb.ListQueuesRequest())))
    elif kind == "agent":
        agents = await session.call(session.telephony.ListAgents, pb.ListAgentsRequest())
        session.send("AgentList", translate.agent_list(agents, await _users(session)))
    else:
        raise request.invalid(f"Unknown objectType {kind!r}: queue, agent or queuemember")


@command("getConfig")
async def get_config(session: Session, request: Command) -> None:
    kind = request.text("objectType")
    if kind != "line":
        raise request.invalid(f"Unknown objectType {kind!r}: line")
    session.send("LineConfig", translate.line_config(session.user))


@command("getUserCallHistory", "getUserCallHistoryByDays")
async def call_history(session: Session, request: Command) -> None:
    if request.name == "getUserCallHistory":
        query = pb.GetHistoryRequest(username=session.login,
                                     size=request.integer("size", minimum=1, maximum=MAX_HISTORY_SIZE))
    else:
        query = pb.GetHistoryRequest(username=session.login,
                                     days=request.integer("days", minimum=1, maximum=MAX_HISTORY_DAYS))
    history = await session.call(session.telephony.GetHistory, query)
    users = await _users(session)
    numbers = _lines_of(users, (name for call in history.calls for name in (call.src_username, call.dst_username)))
    statuses = await _statuses(session, numbers)
    session.send("CallHistory", translate.call_history(history, users, statuses))


def _lines_of(users: dict[str, auth_pb2.User], logins: Iterable[str]) -> list[str]:
    return sorted({users[login].line for login in logins if login in users and users[login].line})


async def _statuses(session: Session, numbers: list[str]) -> dict[str, int]:
    if not numbers:
        return {}
    reply = await session.call(session.telephony.GetPhoneStatuses, pb.GetPhoneStatusesRequest(numbers=numbers))
    return dict(reply.statuses)


# --- directory and favorites ----------------------------------------------------------------------
@command("directoryLookUp", "searchContacts")
async def directory_lookup(session: Session, request: Command) -> None:
    entries = await session.call(session.backends.directory.SearchDirectory, contacts_pb2.SearchDirectoryRequest(
        owner_login=session.login, term=request.text("term")))
    session.send("DirectoryResult", translate.directory_result(entries))


@command("getFavorites")
async def get_favorites(session: Session, request: Command) -> None:
    entries = await session.call(session.backends.directory.ListFavorites, contacts_pb2.ListFavoritesRequest(
        owner_login=session.login))
    session.send("Favorites", translate.directory_result(entries))


@command("addFavorite", "removeFavorite")
async def change_favorite(session: Session, request: Command) -> None:
    """Answered by FavoriteUpdated, to every socket of the user (nothing when nothing changed)."""
    method = session.backends.directory.AddFavorite if request.name == "addFavorite" \
        else session.backends.directory.RemoveFavorite
    await session.call(method, contacts_pb2.FavoriteRequest(
        owner_login=session.login, contact_id=request.text("contactId"), source=request.text("source")))


# --- phone hints ---------------------------------------------------------------------------------
@command("subscribeToPhoneHints")
async def subscribe_to_phone_hints(session: Session, request: Command) -> None:
    numbers = sorted({number for number in request.strings("phoneNumbers") if number})
    if len(numbers) > MAX_HINTS:
        raise request.invalid(f"At most {MAX_HINTS} numbers may be watched")
    session.hub.watch_numbers(session, numbers)  # before reading: no change is missed in between
    for number, status in sorted((await _statuses(session, numbers)).items()):
        session.send("PhoneHintStatusEvent", {"number": number, "status": status})


@command("unsubscribeFromAllPhoneHints")
async def unsubscribe_from_phone_hints(session: Session, request: Command) -> None:
    session.hub.unwatch_numbers(session)
