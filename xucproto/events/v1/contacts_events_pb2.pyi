import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ContactChanged(_message.Message):
    __slots__ = ("owner_login", "owner_user_id", "contact_id", "change", "occurred_at")
    OWNER_LOGIN_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    owner_login: str
    owner_user_id: str
    contact_id: str
    change: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, owner_login: _Optional[str] = ..., owner_user_id: _Optional[str] = ..., contact_id: _Optional[str] = ..., change: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ContactsImported(_message.Message):
    __slots__ = ("owner_login", "owner_user_id", "created", "failed", "occurred_at")
    OWNER_LOGIN_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    owner_login: str
    owner_user_id: str
    created: int
    failed: int
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, owner_login: _Optional[str] = ..., owner_user_id: _Optional[str] = ..., created: _Optional[int] = ..., failed: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ContactsCleared(_message.Message):
    __slots__ = ("owner_login", "owner_user_id", "deleted", "occurred_at")
    OWNER_LOGIN_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    owner_login: str
    owner_user_id: str
    deleted: int
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, owner_login: _Optional[str] = ..., owner_user_id: _Optional[str] = ..., deleted: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FavoriteChanged(_message.Message):
    __slots__ = ("owner_login", "owner_user_id", "action", "contact_id", "source", "occurred_at")
    OWNER_LOGIN_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    owner_login: str
    owner_user_id: str
    action: str
    contact_id: str
    source: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, owner_login: _Optional[str] = ..., owner_user_id: _Optional[str] = ..., action: _Optional[str] = ..., contact_id: _Optional[str] = ..., source: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class QualificationAnswered(_message.Message):
    __slots__ = ("answer_id", "sub_qualification_id", "queue", "agent", "callid", "time", "answered_by", "occurred_at")
    ANSWER_ID_FIELD_NUMBER: _ClassVar[int]
    SUB_QUALIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    CALLID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_BY_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    answer_id: int
    sub_qualification_id: int
    queue: int
    agent: int
    callid: str
    time: str
    answered_by: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, answer_id: _Optional[int] = ..., sub_qualification_id: _Optional[int] = ..., queue: _Optional[int] = ..., agent: _Optional[int] = ..., callid: _Optional[str] = ..., time: _Optional[str] = ..., answered_by: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
