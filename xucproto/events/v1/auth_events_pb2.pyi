import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LoginAttempted(_message.Message):
    __slots__ = ("login", "success", "reason", "method", "client_address", "software_type", "application_type", "user_id", "occurred_at")
    LOGIN_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SOFTWARE_TYPE_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    login: str
    success: bool
    reason: str
    method: str
    client_address: str
    software_type: str
    application_type: str
    user_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, login: _Optional[str] = ..., success: _Optional[bool] = ..., reason: _Optional[str] = ..., method: _Optional[str] = ..., client_address: _Optional[str] = ..., software_type: _Optional[str] = ..., application_type: _Optional[str] = ..., user_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UserChanged(_message.Message):
    __slots__ = ("login", "user_id", "change", "occurred_at", "credentials_changed_at", "disabled")
    LOGIN_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    login: str
    user_id: str
    change: str
    occurred_at: _timestamp_pb2.Timestamp
    credentials_changed_at: _timestamp_pb2.Timestamp
    disabled: bool
    def __init__(self, login: _Optional[str] = ..., user_id: _Optional[str] = ..., change: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., credentials_changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., disabled: _Optional[bool] = ...) -> None: ...
