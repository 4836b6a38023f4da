"""The Telephony gRPC API: protobuf in, use case, protobuf out. No rule lives here.

The gateway calls on behalf of the 1.0 API's clients (service token: those routes carry no user
token); push registration is made with the user's own token.
"""

from __future__ import annotations

from typing import TypeAlias

import grpc

from services.telephony.domain.errors import InvalidQueues, InvalidRequest
from services.telephony.domain.history import format_duration, format_start
from services.telephony.domain.model import Agent, AgentState, PushPlatform, Queue, UserServices
from services.telephony.domain.pbx import AgentStatus, CallIds, ForwardKind, Pbx
from services.telephony.domain.presence import StatusAction, UserStatus
from services.telephony.entrypoints.call_control_api import CALL_CONTROL_RPCS, CallControlRpcs
from services.telephony.service_layer.agents import AgentService
from services.telephony.service_layer.call_control import CallControlService
from services.telephony.service_layer.calls import CallService
from services.telephony.service_layer.presence import PresenceService
from services.telephony.service_layer.user_services import UserServicesService
from xuc.errors import FieldViolation, Forbidden
from xuc.runtime.grpc_edge import Access, current_caller
from xucproto.telephony.v1 import telephony_pb2 as pb
from xucproto.telephony.v1 import telephony_pb2_grpc

TELEPHONY_SERVICE = pb.DESCRIPTOR.services_by_name["Telephony"].full_name
_SERVICE_ONLY = ("Dial", "DialByUsername", "DialFromQueue", "SetDnd", "SetForward", "GetUserServices", "Handshake",
                 "AgentLogin", "AgentLogout", "TogglePause", "ListAgents", "GetHistory", "PutAgentsAndQueues",
                 "GetPbxState", "ListUserStatuses", "GetUserStatus", "SetUserStatus", "PutUserStatuses",
                 *CALL_CONTROL_RPCS)
TELEPHONY_POLICY: dict[str, Access] = {
    **{f"/{TELEPHONY_SERVICE}/{name}": Access.SERVICE for name in _SERVICE_ONLY},
    f"/{TELEPHONY_SERVICE}/GetPhoneStatuses": Access.USER_OR_SERVICE,
    f"/{TELEPHONY_SERVICE}/ListQueues": Access.USER_OR_SERVICE,
    f"/{TELEPHONY_SERVICE}/ListUserAgents": Access.USER_OR_SERVICE,  # a user: their own agents only
    f"/{TELEPHONY_SERVICE}/RegisterPush": Access.USER,
}

Context: TypeAlias = grpc.aio.ServicerContext

FORWARD_KINDS = {
    pb.FORWARD_UNCONDITIONAL: ForwardKind.UNCONDITIONAL,
    pb.FORWARD_NO_ANSWER: ForwardKind.NO_ANSWER,
    pb.FORWARD_BUSY: ForwardKind.BUSY,
}
PLATFORMS = {pb.ANDROID: PushPlatform.ANDROID, pb.IOS: PushPlatform.IOS}
AGENT_STATUSES = {AgentStatus.LOGGED_OUT: pb.LOGGED_OUT, AgentStatus.READY: pb.READY, AgentStatus.PAUSED: pb.PAUSED}


def _request_violation(violation: FieldViolation) -> FieldViolation:
    if violation.path[:1] == ("agents",) and violation.path[2:] == ("login",):
        return FieldViolation((*violation.path[:2], "username"), violation.message)
    return violation


def _dial_reply(ids: CallIds, number: str) -> pb.DialReply:
    return pb.DialReply(unique_id=ids.unique_id, linked_id=ids.linked_id, number=number)


def _services(services: UserServices) -> pb.UserServices:
    return pb.UserServices(
        username=services.login, dnd=services.dnd,
        unconditional=pb.Forward(enabled=services.unconditional.enabled,
                                 destination=services.unconditional.destination),
        no_answer=pb.Forward(enabled=services.no_answer.enabled, destination=services.no_answer.destination),
        busy=pb.Forward(enabled=services.busy.enabled, destination=services.busy.destination),
    )


def _agent(state: AgentState) -> pb.AgentState:
    return pb.AgentState(agent_number=state.agent.number, username=state.agent.login,
                         status=AGENT_STATUSES[state.status], phone_number=state.phone_number,
                         queue_ids=state.queue_ids)


def _status(status: UserStatus) -> pb.UserStatusDefinition:
    return pb.UserStatusDefinition(name=status.name, long_name=status.long_name, color=status.color, actions=[
        pb.UserStatusAction(name=action.name, parameters=action.parameters) for action in status.actions])


def _status_reply(login: str, status: UserStatus) -> pb.UserStatusReply:
    return pb.UserStatusReply(username=login, status=status.name, definition=_status(status))


def _whose(username: str) -> str:
    """The user a request names: a user calling may name only themselves (or nobody: themselves),
    a service must name one."""
    claims = current_caller().claims
    if claims is None:
        if not username:
            raise InvalidRequest("username is required")
        return username
    if username and username != claims.login:
        raise Forbidden("A user may only ask for their own agents")
    return claims.login


class TelephonyApi(CallControlRpcs, telephony_pb2_grpc.TelephonyServicer):
    def __init__(self, calls: CallService, user_services: UserServicesService, agents: AgentService,
                 pbx: Pbx, presence: PresenceService, control: CallControlService) -> None:
        self._calls = calls
        self._control = control
        self._user_services = user_services
        self._agents = agents
        self._pbx = pbx
        self._presence = presence

    async def GetPhoneStatuses(self, request: pb.GetPhoneStatusesRequest, context: Context) -> pb.PhoneStatuses:
        return pb.PhoneStatuses(statuses=self._calls.phone_statuses(list(request.numbers)))

    async def Dial(self, request: pb.DialRequest, context: Context) -> pb.DialReply:
        return _dial_reply(*await self._calls.dial(request.username, request.number, dict(request.variables)))

    async def DialByUsername(self, request: pb.DialByUsernameRequest, context: Context) -> pb.DialReply:
        return _dial_reply(*await self._calls.dial_by_username(request.username, request.target_username))

    async def DialFromQueue(self, request: pb.DialFromQueueRequest, context: Context) -> pb.DialReply:
        queue = self._agents.queue(request.queue_id)
        return _dial_reply(*await self._calls.dial_from_queue(
            queue, request.destination, request.caller_id_name, request.caller_id_number, dict(request.variables)))

    async def SetDnd(self, request: pb.SetDndRequest, context: Context) -> pb.UserServices:
        return _services(await self._user_services.set_dnd(request.username, request.state))

    async def SetForward(self, request: pb.SetForwardRequest, context: Context) -> pb.UserServices:
        kind = FORWARD_KINDS.get(request.kind)
        if kind is None:
            raise InvalidRequest("kind must be FORWARD_UNCONDITIONAL, FORWARD_NO_ANSWER or FORWARD_BUSY")
        return _services(await self._user_services.set_forward(request.username, kind, request.state,
                                                               request.destination))

    async def GetUserServices(self, request: pb.GetUserServicesRequest, context: Context) -> pb.UserServices:
        return _services(await self._user_services.get(request.username))

    async def Handshake(self, request: pb.HandshakeRequest, context: Context) -> pb.HandshakeReply:
        return pb.HandshakeReply(published=await self._calls.handshake())

    async def AgentLogin(self, request: pb.AgentLoginRequest, context: Context) -> pb.AgentState:
        return _agent(await self._agents.login(request.agent_number, request.phone_number))

    async def AgentLogout(self, request: pb.AgentLogoutRequest, context: Context) -> pb.AgentState:
        return _agent(await self._agents.logout(request.phone_number))

    async def TogglePause(self, request: pb.TogglePauseRequest, context: Context) -> pb.AgentState:
        return _agent(await self._agents.toggle_pause(request.phone_number))

    async def ListAgents(self, request: pb.ListAgentsRequest, context: Context) -> pb.AgentStates:
        return pb.AgentStates(agents=[_agent(state) for state in self._agents.agents()])

    async def ListUserAgents(self, request: pb.ListUserAgentsRequest, context: Context) -> pb.AgentStates:
        return pb.AgentStates(agents=[_agent(state) for state in self._agents.agents_of(_whose(request.username))])

    async def ListQueues(self, request: pb.ListQueuesRequest, context: Context) -> pb.QueueList:
        return pb.QueueList(queues=[pb.QueueSpec(id=queue.id, name=queue.name, number=queue.number,
                                                 agents=queue.agents) for queue in self._agents.queues()])

    async def GetHistory(self, request: pb.GetHistoryRequest, context: Context) -> pb.CallHistory:
        entries = await self._calls.history(request.username, request.size, request.days)
        return pb.CallHistory(calls=[
            pb.CallRecord(start=format_start(entry.start), duration=format_duration(entry.duration),
                          src_username=entry.src, dst_username=entry.dst, status=entry.status)
            for entry in entries])

    async def RegisterPush(self, request: pb.RegisterPushRequest, context: Context) -> pb.RegisterPushReply:
        platform = PLATFORMS.get(request.platform)
        if platform is None:
            raise InvalidRequest("platform must be ANDROID or IOS")
        claims = current_caller().claims
        assert claims is not None  # the policy admits users only
        await self._calls.register_push(claims.login, platform, request.token)
        return pb.RegisterPushReply()

    async def PutAgentsAndQueues(self, request: pb.PutAgentsAndQueuesRequest,
                                 context: Context) -> pb.PutAgentsAndQueuesReply:
        agents = [Agent(agent.number, agent.username) for agent in request.agents]
        queues = [Queue(queue.id, queue.name, queue.number, tuple(queue.agents)) for queue in request.queues]
        try:
            removed_agents, removed_queues = await self._agents.put(agents, queues, request.validate_only)
        except InvalidQueues as error:  # the agent's user is `username` in the request
            raise InvalidQueues(error.message, [_request_violation(violation) for violation in error.violations]) \
                from None
        if request.validate_only:
            return pb.PutAgentsAndQueuesReply()  # checked, nothing applied
        return pb.PutAgentsAndQueuesReply(agents=len(agents), queues=len(queues), removed_agents=removed_agents,
                                          removed_queues=removed_queues)

    async def GetPbxState(self, request: pb.GetPbxStateRequest, context: Context) -> pb.PbxState:
        state = self._pbx.connection()
        return pb.PbxState(kind=state.kind, connected=state.connected, detail=state.detail)

    # --- presence ----------------------------------------------------------------------------------
    async def ListUserStatuses(self, request: pb.UserStatusesListRequest, context: Context) -> pb.UserStatuses:
        return pb.UserStatuses(statuses=[_status(status) for status in self._presence.statuses()])

    async def GetUserStatus(self, request: pb.UserStatusGetRequest, context: Context) -> pb.UserStatusReply:
        return _status_reply(request.username, await self._presence.get(request.username))

    async def SetUserStatus(self, request: pb.UserStatusSetRequest, context: Context) -> pb.UserStatusReply:
        return _status_reply(request.username, await self._presence.choose(request.username, request.status))

    async def PutUserStatuses(self, request: pb.UserStatusesPutRequest, context: Context) -> pb.UserStatusesPutReply:
        statuses = [UserStatus(status.name, status.long_name, status.color,
                               tuple(StatusAction(action.name, action.parameters) for action in status.actions))
                    for status in request.user_statuses]
        return pb.UserStatusesPutReply(statuses=await self._presence.put(statuses, request.validate_only))
