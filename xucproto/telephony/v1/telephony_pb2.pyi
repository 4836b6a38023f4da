from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional

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
