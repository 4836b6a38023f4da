from xucproto.events.v1 import telephony_events_pb2 as _telephony_events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PhoneStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AVAILABLE: _ClassVar[PhoneStatus]
    CALLING: _ClassVar[PhoneStatus]
    BUSY: _ClassVar[PhoneStatus]
    UNAVAILABLE: _ClassVar[PhoneStatus]
    RINGING: _ClassVar[PhoneStatus]
    BUSY_AND_RINGING: _ClassVar[PhoneStatus]
    ON_HOLD: _ClassVar[PhoneStatus]
    DEACTIVATED: _ClassVar[PhoneStatus]
    NOT_A_LINE: _ClassVar[PhoneStatus]
    ERROR: _ClassVar[PhoneStatus]

class ForwardKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FORWARD_KIND_UNSPECIFIED: _ClassVar[ForwardKind]
    FORWARD_UNCONDITIONAL: _ClassVar[ForwardKind]
    FORWARD_NO_ANSWER: _ClassVar[ForwardKind]
    FORWARD_BUSY: _ClassVar[ForwardKind]

class AgentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGENT_STATUS_UNSPECIFIED: _ClassVar[AgentStatus]
    LOGGED_OUT: _ClassVar[AgentStatus]
    READY: _ClassVar[AgentStatus]
    PAUSED: _ClassVar[AgentStatus]

class PushPlatform(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PUSH_PLATFORM_UNSPECIFIED: _ClassVar[PushPlatform]
    ANDROID: _ClassVar[PushPlatform]
    IOS: _ClassVar[PushPlatform]
AVAILABLE: PhoneStatus
CALLING: PhoneStatus
BUSY: PhoneStatus
UNAVAILABLE: PhoneStatus
RINGING: PhoneStatus
BUSY_AND_RINGING: PhoneStatus
ON_HOLD: PhoneStatus
DEACTIVATED: PhoneStatus
NOT_A_LINE: PhoneStatus
ERROR: PhoneStatus
FORWARD_KIND_UNSPECIFIED: ForwardKind
FORWARD_UNCONDITIONAL: ForwardKind
FORWARD_NO_ANSWER: ForwardKind
FORWARD_BUSY: ForwardKind
AGENT_STATUS_UNSPECIFIED: AgentStatus
LOGGED_OUT: AgentStatus
READY: AgentStatus
PAUSED: AgentStatus
PUSH_PLATFORM_UNSPECIFIED: PushPlatform
ANDROID: PushPlatform
IOS: PushPlatform

class GetPhoneStatusesRequest(_message.Message):
    __slots__ = ("numbers",)
    NUMBERS_FIELD_NUMBER: _ClassVar[int]
    numbers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, numbers: _Optional[_Iterable[str]] = ...) -> None: ...

class PhoneStatuses(_message.Message):
    __slots__ = ("statuses",)
    class StatusesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.ScalarMap[str, int]
    def __init__(self, statuses: _Optional[_Mapping[str, int]] = ...) -> None: ...

class DialRequest(_message.Message):
    __slots__ = ("username", "number", "variables")
    class VariablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    username: str
    number: str
    variables: _containers.ScalarMap[str, str]
    def __init__(self, username: _Optional[str] = ..., number: _Optional[str] = ..., variables: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DialByUsernameRequest(_message.Message):
    __slots__ = ("username", "target_username")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    TARGET_USERNAME_FIELD_NUMBER: _ClassVar[int]
    username: str
    target_username: str
    def __init__(self, username: _Optional[str] = ..., target_username: _Optional[str] = ...) -> None: ...

class DialFromQueueRequest(_message.Message):
    __slots__ = ("destination", "queue_id", "caller_id_name", "caller_id_number", "variables")
    class VariablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    QUEUE_ID_FIELD_NUMBER: _ClassVar[int]
    CALLER_ID_NAME_FIELD_NUMBER: _ClassVar[int]
    CALLER_ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    destination: str
    queue_id: int
    caller_id_name: str
    caller_id_number: str
    variables: _containers.ScalarMap[str, str]
    def __init__(self, destination: _Optional[str] = ..., queue_id: _Optional[int] = ..., caller_id_name: _Optional[str] = ..., caller_id_number: _Optional[str] = ..., variables: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DialReply(_message.Message):
    __slots__ = ("unique_id", "linked_id", "number")
    UNIQUE_ID_FIELD_NUMBER: _ClassVar[int]
    LINKED_ID_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    unique_id: str
    linked_id: str
    number: str
    def __init__(self, unique_id: _Optional[str] = ..., linked_id: _Optional[str] = ..., number: _Optional[str] = ...) -> None: ...

class SetDndRequest(_message.Message):
    __slots__ = ("username", "state")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    username: str
    state: bool
    def __init__(self, username: _Optional[str] = ..., state: _Optional[bool] = ...) -> None: ...

class SetForwardRequest(_message.Message):
    __slots__ = ("username", "kind", "state", "destination")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    username: str
    kind: ForwardKind
    state: bool
    destination: str
    def __init__(self, username: _Optional[str] = ..., kind: _Optional[_Union[ForwardKind, str]] = ..., state: _Optional[bool] = ..., destination: _Optional[str] = ...) -> None: ...

class GetUserServicesRequest(_message.Message):
    __slots__ = ("username",)
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    username: str
    def __init__(self, username: _Optional[str] = ...) -> None: ...

class Forward(_message.Message):
    __slots__ = ("enabled", "destination")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    destination: str
    def __init__(self, enabled: _Optional[bool] = ..., destination: _Optional[str] = ...) -> None: ...

class UserServices(_message.Message):
    __slots__ = ("username", "dnd", "unconditional", "no_answer", "busy")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    DND_FIELD_NUMBER: _ClassVar[int]
    UNCONDITIONAL_FIELD_NUMBER: _ClassVar[int]
    NO_ANSWER_FIELD_NUMBER: _ClassVar[int]
    BUSY_FIELD_NUMBER: _ClassVar[int]
    username: str
    dnd: bool
    unconditional: Forward
    no_answer: Forward
    busy: Forward
    def __init__(self, username: _Optional[str] = ..., dnd: _Optional[bool] = ..., unconditional: _Optional[_Union[Forward, _Mapping]] = ..., no_answer: _Optional[_Union[Forward, _Mapping]] = ..., busy: _Optional[_Union[Forward, _Mapping]] = ...) -> None: ...

class HandshakeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HandshakeReply(_message.Message):
    __slots__ = ("published",)
    PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    published: int
    def __init__(self, published: _Optional[int] = ...) -> None: ...

class AgentLoginRequest(_message.Message):
    __slots__ = ("agent_number", "phone_number")
    AGENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    agent_number: str
    phone_number: str
    def __init__(self, agent_number: _Optional[str] = ..., phone_number: _Optional[str] = ...) -> None: ...

class AgentLogoutRequest(_message.Message):
    __slots__ = ("phone_number",)
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    phone_number: str
    def __init__(self, phone_number: _Optional[str] = ...) -> None: ...

class TogglePauseRequest(_message.Message):
    __slots__ = ("phone_number",)
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    phone_number: str
    def __init__(self, phone_number: _Optional[str] = ...) -> None: ...

class AgentState(_message.Message):
    __slots__ = ("agent_number", "username", "status", "phone_number", "queue_ids")
    AGENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    QUEUE_IDS_FIELD_NUMBER: _ClassVar[int]
    agent_number: str
    username: str
    status: AgentStatus
    phone_number: str
    queue_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, agent_number: _Optional[str] = ..., username: _Optional[str] = ..., status: _Optional[_Union[AgentStatus, str]] = ..., phone_number: _Optional[str] = ..., queue_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AgentStates(_message.Message):
    __slots__ = ("agents",)
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[AgentState]
    def __init__(self, agents: _Optional[_Iterable[_Union[AgentState, _Mapping]]] = ...) -> None: ...

class ListUserAgentsRequest(_message.Message):
    __slots__ = ("username",)
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    username: str
    def __init__(self, username: _Optional[str] = ...) -> None: ...

class ListQueuesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class QueueList(_message.Message):
    __slots__ = ("queues",)
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    queues: _containers.RepeatedCompositeFieldContainer[QueueSpec]
    def __init__(self, queues: _Optional[_Iterable[_Union[QueueSpec, _Mapping]]] = ...) -> None: ...

class GetHistoryRequest(_message.Message):
    __slots__ = ("username", "size", "days")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    username: str
    size: int
    days: int
    def __init__(self, username: _Optional[str] = ..., size: _Optional[int] = ..., days: _Optional[int] = ...) -> None: ...

class CallRecord(_message.Message):
    __slots__ = ("start", "duration", "src_username", "dst_username", "status")
    START_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    SRC_USERNAME_FIELD_NUMBER: _ClassVar[int]
    DST_USERNAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    start: str
    duration: str
    src_username: str
    dst_username: str
    status: str
    def __init__(self, start: _Optional[str] = ..., duration: _Optional[str] = ..., src_username: _Optional[str] = ..., dst_username: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class CallHistory(_message.Message):
    __slots__ = ("calls",)
    CALLS_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[CallRecord]
    def __init__(self, calls: _Optional[_Iterable[_Union[CallRecord, _Mapping]]] = ...) -> None: ...

class RegisterPushRequest(_message.Message):
    __slots__ = ("platform", "token")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    platform: PushPlatform
    token: str
    def __init__(self, platform: _Optional[_Union[PushPlatform, str]] = ..., token: _Optional[str] = ...) -> None: ...

class RegisterPushReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AgentSpec(_message.Message):
    __slots__ = ("number", "username")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    number: str
    username: str
    def __init__(self, number: _Optional[str] = ..., username: _Optional[str] = ...) -> None: ...

class QueueSpec(_message.Message):
    __slots__ = ("id", "name", "number", "agents")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    number: str
    agents: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., number: _Optional[str] = ..., agents: _Optional[_Iterable[str]] = ...) -> None: ...

class PutAgentsAndQueuesRequest(_message.Message):
    __slots__ = ("agents", "queues", "validate_only")
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[AgentSpec]
    queues: _containers.RepeatedCompositeFieldContainer[QueueSpec]
    validate_only: bool
    def __init__(self, agents: _Optional[_Iterable[_Union[AgentSpec, _Mapping]]] = ..., queues: _Optional[_Iterable[_Union[QueueSpec, _Mapping]]] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class PutAgentsAndQueuesReply(_message.Message):
    __slots__ = ("agents", "queues", "removed_agents", "removed_queues")
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    REMOVED_AGENTS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_QUEUES_FIELD_NUMBER: _ClassVar[int]
    agents: int
    queues: int
    removed_agents: _containers.RepeatedScalarFieldContainer[str]
    removed_queues: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, agents: _Optional[int] = ..., queues: _Optional[int] = ..., removed_agents: _Optional[_Iterable[str]] = ..., removed_queues: _Optional[_Iterable[int]] = ...) -> None: ...

class GetPbxStateRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PbxState(_message.Message):
    __slots__ = ("kind", "connected", "detail")
    KIND_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    kind: str
    connected: bool
    detail: str
    def __init__(self, kind: _Optional[str] = ..., connected: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class PlaceCallRequest(_message.Message):
    __slots__ = ("caller", "callee")
    CALLER_FIELD_NUMBER: _ClassVar[int]
    CALLEE_FIELD_NUMBER: _ClassVar[int]
    caller: str
    callee: str
    def __init__(self, caller: _Optional[str] = ..., callee: _Optional[str] = ...) -> None: ...

class CallAction(_message.Message):
    __slots__ = ("number", "unique_id")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_ID_FIELD_NUMBER: _ClassVar[int]
    number: str
    unique_id: str
    def __init__(self, number: _Optional[str] = ..., unique_id: _Optional[str] = ...) -> None: ...

class ListCallsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SimulatedCall(_message.Message):
    __slots__ = ("linked_id", "caller", "callee", "state", "unique_ids", "dtmf")
    LINKED_ID_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    CALLEE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_IDS_FIELD_NUMBER: _ClassVar[int]
    DTMF_FIELD_NUMBER: _ClassVar[int]
    linked_id: str
    caller: str
    callee: str
    state: str
    unique_ids: _containers.RepeatedScalarFieldContainer[str]
    dtmf: str
    def __init__(self, linked_id: _Optional[str] = ..., caller: _Optional[str] = ..., callee: _Optional[str] = ..., state: _Optional[str] = ..., unique_ids: _Optional[_Iterable[str]] = ..., dtmf: _Optional[str] = ...) -> None: ...

class SimulatedCalls(_message.Message):
    __slots__ = ("calls",)
    CALLS_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[SimulatedCall]
    def __init__(self, calls: _Optional[_Iterable[_Union[SimulatedCall, _Mapping]]] = ...) -> None: ...

class UserStatusAction(_message.Message):
    __slots__ = ("name", "parameters")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    parameters: str
    def __init__(self, name: _Optional[str] = ..., parameters: _Optional[str] = ...) -> None: ...

class UserStatusDefinition(_message.Message):
    __slots__ = ("name", "long_name", "color", "actions")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LONG_NAME_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    long_name: str
    color: str
    actions: _containers.RepeatedCompositeFieldContainer[UserStatusAction]
    def __init__(self, name: _Optional[str] = ..., long_name: _Optional[str] = ..., color: _Optional[str] = ..., actions: _Optional[_Iterable[_Union[UserStatusAction, _Mapping]]] = ...) -> None: ...

class UserStatusesListRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UserStatuses(_message.Message):
    __slots__ = ("statuses",)
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedCompositeFieldContainer[UserStatusDefinition]
    def __init__(self, statuses: _Optional[_Iterable[_Union[UserStatusDefinition, _Mapping]]] = ...) -> None: ...

class UserStatusGetRequest(_message.Message):
    __slots__ = ("username",)
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    username: str
    def __init__(self, username: _Optional[str] = ...) -> None: ...

class UserStatusSetRequest(_message.Message):
    __slots__ = ("username", "status")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    username: str
    status: str
    def __init__(self, username: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class UserStatusReply(_message.Message):
    __slots__ = ("username", "status", "definition")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    username: str
    status: str
    definition: UserStatusDefinition
    def __init__(self, username: _Optional[str] = ..., status: _Optional[str] = ..., definition: _Optional[_Union[UserStatusDefinition, _Mapping]] = ...) -> None: ...

class UserStatusesPutRequest(_message.Message):
    __slots__ = ("user_statuses", "validate_only")
    USER_STATUSES_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    user_statuses: _containers.RepeatedCompositeFieldContainer[UserStatusDefinition]
    validate_only: bool
    def __init__(self, user_statuses: _Optional[_Iterable[_Union[UserStatusDefinition, _Mapping]]] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class UserStatusesPutReply(_message.Message):
    __slots__ = ("statuses",)
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    statuses: int
    def __init__(self, statuses: _Optional[int] = ...) -> None: ...

class CallCurrentCallsRequest(_message.Message):
    __slots__ = ("username",)
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    username: str
    def __init__(self, username: _Optional[str] = ...) -> None: ...

class CallCurrentCalls(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_telephony_events_pb2.PhoneEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[_telephony_events_pb2.PhoneEvent, _Mapping]]] = ...) -> None: ...

class CallControlRequest(_message.Message):
    __slots__ = ("username", "unique_id")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_ID_FIELD_NUMBER: _ClassVar[int]
    username: str
    unique_id: str
    def __init__(self, username: _Optional[str] = ..., unique_id: _Optional[str] = ...) -> None: ...

class CallDtmfRequest(_message.Message):
    __slots__ = ("username", "key", "unique_id")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_ID_FIELD_NUMBER: _ClassVar[int]
    username: str
    key: str
    unique_id: str
    def __init__(self, username: _Optional[str] = ..., key: _Optional[str] = ..., unique_id: _Optional[str] = ...) -> None: ...

class CallTransferRequest(_message.Message):
    __slots__ = ("username", "destination", "unique_id")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_ID_FIELD_NUMBER: _ClassVar[int]
    username: str
    destination: str
    unique_id: str
    def __init__(self, username: _Optional[str] = ..., destination: _Optional[str] = ..., unique_id: _Optional[str] = ...) -> None: ...

class CallPendingTransferRequest(_message.Message):
    __slots__ = ("username",)
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    username: str
    def __init__(self, username: _Optional[str] = ...) -> None: ...

class CallControlReply(_message.Message):
    __slots__ = ("unique_id", "linked_id", "on_hold")
    UNIQUE_ID_FIELD_NUMBER: _ClassVar[int]
    LINKED_ID_FIELD_NUMBER: _ClassVar[int]
    ON_HOLD_FIELD_NUMBER: _ClassVar[int]
    unique_id: str
    linked_id: str
    on_hold: bool
    def __init__(self, unique_id: _Optional[str] = ..., linked_id: _Optional[str] = ..., on_hold: _Optional[bool] = ...) -> None: ...

class CallDataRequest(_message.Message):
    __slots__ = ("username", "variables", "unique_id")
    class VariablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_ID_FIELD_NUMBER: _ClassVar[int]
    username: str
    variables: _containers.ScalarMap[str, str]
    unique_id: str
    def __init__(self, username: _Optional[str] = ..., variables: _Optional[_Mapping[str, str]] = ..., unique_id: _Optional[str] = ...) -> None: ...

class DialFromMobileRequest(_message.Message):
    __slots__ = ("username", "destination", "variables")
    class VariablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    username: str
    destination: str
    variables: _containers.ScalarMap[str, str]
    def __init__(self, username: _Optional[str] = ..., destination: _Optional[str] = ..., variables: _Optional[_Mapping[str, str]] = ...) -> None: ...
