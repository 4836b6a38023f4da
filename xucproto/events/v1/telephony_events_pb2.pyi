import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PhoneEvent(_message.Message):
    __slots__ = ("username", "event_type", "dn", "other_dn", "linked_id", "unique_id", "user_data", "occurred_at", "event_id", "other_name", "queue_name", "call_direction")
    class UserDataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DN_FIELD_NUMBER: _ClassVar[int]
    OTHER_DN_FIELD_NUMBER: _ClassVar[int]
    LINKED_ID_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_ID_FIELD_NUMBER: _ClassVar[int]
    USER_DATA_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OTHER_NAME_FIELD_NUMBER: _ClassVar[int]
    QUEUE_NAME_FIELD_NUMBER: _ClassVar[int]
    CALL_DIRECTION_FIELD_NUMBER: _ClassVar[int]
    username: str
    event_type: str
    dn: str
    other_dn: str
    linked_id: str
    unique_id: str
    user_data: _containers.ScalarMap[str, str]
    occurred_at: _timestamp_pb2.Timestamp
    event_id: str
    other_name: str
    queue_name: str
    call_direction: str
    def __init__(self, username: _Optional[str] = ..., event_type: _Optional[str] = ..., dn: _Optional[str] = ..., other_dn: _Optional[str] = ..., linked_id: _Optional[str] = ..., unique_id: _Optional[str] = ..., user_data: _Optional[_Mapping[str, str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_id: _Optional[str] = ..., other_name: _Optional[str] = ..., queue_name: _Optional[str] = ..., call_direction: _Optional[str] = ...) -> None: ...

class PhoneStatusChanged(_message.Message):
    __slots__ = ("username", "number", "status", "handshake", "occurred_at", "event_id")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HANDSHAKE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    username: str
    number: str
    status: int
    handshake: bool
    occurred_at: _timestamp_pb2.Timestamp
    event_id: str
    def __init__(self, username: _Optional[str] = ..., number: _Optional[str] = ..., status: _Optional[int] = ..., handshake: _Optional[bool] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_id: _Optional[str] = ...) -> None: ...

class AgentStateChanged(_message.Message):
    __slots__ = ("username", "agent_number", "state", "phone_number", "occurred_at", "event_id")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    username: str
    agent_number: str
    state: str
    phone_number: str
    occurred_at: _timestamp_pb2.Timestamp
    event_id: str
    def __init__(self, username: _Optional[str] = ..., agent_number: _Optional[str] = ..., state: _Optional[str] = ..., phone_number: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_id: _Optional[str] = ...) -> None: ...

class UserServicesChanged(_message.Message):
    __slots__ = ("username", "dnd", "unconditional_enabled", "unconditional_destination", "no_answer_enabled", "no_answer_destination", "busy_enabled", "busy_destination", "occurred_at", "event_id")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    DND_FIELD_NUMBER: _ClassVar[int]
    UNCONDITIONAL_ENABLED_FIELD_NUMBER: _ClassVar[int]
    UNCONDITIONAL_DESTINATION_FIELD_NUMBER: _ClassVar[int]
    NO_ANSWER_ENABLED_FIELD_NUMBER: _ClassVar[int]
    NO_ANSWER_DESTINATION_FIELD_NUMBER: _ClassVar[int]
    BUSY_ENABLED_FIELD_NUMBER: _ClassVar[int]
    BUSY_DESTINATION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    username: str
    dnd: bool
    unconditional_enabled: bool
    unconditional_destination: str
    no_answer_enabled: bool
    no_answer_destination: str
    busy_enabled: bool
    busy_destination: str
    occurred_at: _timestamp_pb2.Timestamp
    event_id: str
    def __init__(self, username: _Optional[str] = ..., dnd: _Optional[bool] = ..., unconditional_enabled: _Optional[bool] = ..., unconditional_destination: _Optional[str] = ..., no_answer_enabled: _Optional[bool] = ..., no_answer_destination: _Optional[str] = ..., busy_enabled: _Optional[bool] = ..., busy_destination: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_id: _Optional[str] = ...) -> None: ...

class PushRequested(_message.Message):
    __slots__ = ("username", "platform", "token", "caller_number", "caller_name", "unique_id", "linked_id", "occurred_at", "event_id")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    CALLER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CALLER_NAME_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_ID_FIELD_NUMBER: _ClassVar[int]
    LINKED_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    username: str
    platform: str
    token: str
    caller_number: str
    caller_name: str
    unique_id: str
    linked_id: str
    occurred_at: _timestamp_pb2.Timestamp
    event_id: str
    def __init__(self, username: _Optional[str] = ..., platform: _Optional[str] = ..., token: _Optional[str] = ..., caller_number: _Optional[str] = ..., caller_name: _Optional[str] = ..., unique_id: _Optional[str] = ..., linked_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_id: _Optional[str] = ...) -> None: ...

class UserStatusChanged(_message.Message):
    __slots__ = ("username", "status", "long_name", "color", "occurred_at", "event_id")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LONG_NAME_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    username: str
    status: str
    long_name: str
    color: str
    occurred_at: _timestamp_pb2.Timestamp
    event_id: str
    def __init__(self, username: _Optional[str] = ..., status: _Optional[str] = ..., long_name: _Optional[str] = ..., color: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_id: _Optional[str] = ...) -> None: ...

class UndeliveredEvent(_message.Message):
    __slots__ = ("subject", "payload", "event_type", "body", "attempts", "last_error", "failed_at")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    subject: str
    payload: bytes
    event_type: str
    body: str
    attempts: int
    last_error: str
    failed_at: _timestamp_pb2.Timestamp
    def __init__(self, subject: _Optional[str] = ..., payload: _Optional[bytes] = ..., event_type: _Optional[str] = ..., body: _Optional[str] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., failed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
