from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ContactFields(_message.Message):
    __slots__ = ("firstname", "lastname", "number", "mobile", "fax", "email", "company", "favorite")
    FIRSTNAME_FIELD_NUMBER: _ClassVar[int]
    LASTNAME_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    MOBILE_FIELD_NUMBER: _ClassVar[int]
    FAX_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    FAVORITE_FIELD_NUMBER: _ClassVar[int]
    firstname: str
    lastname: str
    number: str
    mobile: str
    fax: str
    email: str
    company: str
    favorite: bool
    def __init__(self, firstname: _Optional[str] = ..., lastname: _Optional[str] = ..., number: _Optional[str] = ..., mobile: _Optional[str] = ..., fax: _Optional[str] = ..., email: _Optional[str] = ..., company: _Optional[str] = ..., favorite: _Optional[bool] = ...) -> None: ...

class CreateContactRequest(_message.Message):
    __slots__ = ("firstname", "lastname", "number", "mobile", "fax", "email", "company", "favorite", "idempotency_key")
    FIRSTNAME_FIELD_NUMBER: _ClassVar[int]
    LASTNAME_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    MOBILE_FIELD_NUMBER: _ClassVar[int]
    FAX_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    COMPANY_FIELD_NUMBER: _ClassVar[int]
    FAVORITE_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    firstname: str
    lastname: str
    number: str
    mobile: str
    fax: str
    email: str
    company: str
    favorite: bool
    idempotency_key: str
    def __init__(self, firstname: _Optional[str] = ..., lastname: _Optional[str] = ..., number: _Optional[str] = ..., mobile: _Optional[str] = ..., fax: _Optional[str] = ..., email: _Optional[str] = ..., company: _Optional[str] = ..., favorite: _Optional[bool] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class Contact(_message.Message):
    __slots__ = ("id", "fields")
    ID_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    fields: ContactFields
    def __init__(self, id: _Optional[str] = ..., fields: _Optional[_Union[ContactFields, _Mapping]] = ...) -> None: ...

class ContactRef(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UpdateContactRequest(_message.Message):
    __slots__ = ("id", "fields")
    ID_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    fields: ContactFields
    def __init__(self, id: _Optional[str] = ..., fields: _Optional[_Union[ContactFields, _Mapping]] = ...) -> None: ...

class ListContactsRequest(_message.Message):
    __slots__ = ("search", "limit", "offset")
    SEARCH_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    search: str
    limit: int
    offset: int
    def __init__(self, search: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class ContactWithStatus(_message.Message):
    __slots__ = ("contact", "status")
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    contact: Contact
    status: int
    def __init__(self, contact: _Optional[_Union[Contact, _Mapping]] = ..., status: _Optional[int] = ...) -> None: ...

class ContactList(_message.Message):
    __slots__ = ("entries", "total")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[ContactWithStatus]
    total: int
    def __init__(self, entries: _Optional[_Iterable[_Union[ContactWithStatus, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class DeleteAllContactsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteContactsReply(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    def __init__(self, deleted: _Optional[int] = ...) -> None: ...

class ExportContactsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CsvChunk(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class ImportChunk(_message.Message):
    __slots__ = ("charset", "data", "last")
    CHARSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    charset: str
    data: bytes
    last: bool
    def __init__(self, charset: _Optional[str] = ..., data: _Optional[bytes] = ..., last: _Optional[bool] = ...) -> None: ...

class CreatedContact(_message.Message):
    __slots__ = ("id", "lastname")
    ID_FIELD_NUMBER: _ClassVar[int]
    LASTNAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    lastname: str
    def __init__(self, id: _Optional[str] = ..., lastname: _Optional[str] = ...) -> None: ...

class FailedLine(_message.Message):
    __slots__ = ("line", "errors")
    LINE_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    line: int
    errors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, line: _Optional[int] = ..., errors: _Optional[_Iterable[str]] = ...) -> None: ...

class ImportReport(_message.Message):
    __slots__ = ("created", "failed", "failed_count")
    CREATED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    FAILED_COUNT_FIELD_NUMBER: _ClassVar[int]
    created: _containers.RepeatedCompositeFieldContainer[CreatedContact]
    failed: _containers.RepeatedCompositeFieldContainer[FailedLine]
    failed_count: int
    def __init__(self, created: _Optional[_Iterable[_Union[CreatedContact, _Mapping]]] = ..., failed: _Optional[_Iterable[_Union[FailedLine, _Mapping]]] = ..., failed_count: _Optional[int] = ...) -> None: ...

class SearchDirectoryRequest(_message.Message):
    __slots__ = ("owner_login", "term")
    OWNER_LOGIN_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    owner_login: str
    term: str
    def __init__(self, owner_login: _Optional[str] = ..., term: _Optional[str] = ...) -> None: ...

class ListFavoritesRequest(_message.Message):
    __slots__ = ("owner_login",)
    OWNER_LOGIN_FIELD_NUMBER: _ClassVar[int]
    owner_login: str
    def __init__(self, owner_login: _Optional[str] = ...) -> None: ...

class DirectoryEntry(_message.Message):
    __slots__ = ("source", "contact_id", "firstname", "lastname", "number", "mobile", "favorite", "status", "username")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    FIRSTNAME_FIELD_NUMBER: _ClassVar[int]
    LASTNAME_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    MOBILE_FIELD_NUMBER: _ClassVar[int]
    FAVORITE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    source: str
    contact_id: str
    firstname: str
    lastname: str
    number: str
    mobile: str
    favorite: bool
    status: int
    username: str
    def __init__(self, source: _Optional[str] = ..., contact_id: _Optional[str] = ..., firstname: _Optional[str] = ..., lastname: _Optional[str] = ..., number: _Optional[str] = ..., mobile: _Optional[str] = ..., favorite: _Optional[bool] = ..., status: _Optional[int] = ..., username: _Optional[str] = ...) -> None: ...

class DirectoryEntries(_message.Message):
    __slots__ = ("entries", "truncated")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[DirectoryEntry]
    truncated: bool
    def __init__(self, entries: _Optional[_Iterable[_Union[DirectoryEntry, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class FavoriteRequest(_message.Message):
    __slots__ = ("owner_login", "contact_id", "source")
    OWNER_LOGIN_FIELD_NUMBER: _ClassVar[int]
    CONTACT_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    owner_login: str
    contact_id: str
    source: str
    def __init__(self, owner_login: _Optional[str] = ..., contact_id: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class FavoriteReply(_message.Message):
    __slots__ = ("changed",)
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    changed: bool
    def __init__(self, changed: _Optional[bool] = ...) -> None: ...

class QueueRef(_message.Message):
    __slots__ = ("queue_id",)
    QUEUE_ID_FIELD_NUMBER: _ClassVar[int]
    queue_id: int
    def __init__(self, queue_id: _Optional[int] = ...) -> None: ...

class SubQualification(_message.Message):
    __slots__ = ("id", "name", "active")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    active: bool
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., active: _Optional[bool] = ...) -> None: ...

class Qualification(_message.Message):
    __slots__ = ("id", "name", "sub_qualifications", "queue_ids", "active")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUB_QUALIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_IDS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    sub_qualifications: _containers.RepeatedCompositeFieldContainer[SubQualification]
    queue_ids: _containers.RepeatedScalarFieldContainer[int]
    active: bool
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., sub_qualifications: _Optional[_Iterable[_Union[SubQualification, _Mapping]]] = ..., queue_ids: _Optional[_Iterable[int]] = ..., active: _Optional[bool] = ...) -> None: ...

class QualificationList(_message.Message):
    __slots__ = ("qualifications",)
    QUALIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    qualifications: _containers.RepeatedCompositeFieldContainer[Qualification]
    def __init__(self, qualifications: _Optional[_Iterable[_Union[Qualification, _Mapping]]] = ...) -> None: ...

class QualificationAnswer(_message.Message):
    __slots__ = ("sub_qualification_id", "time", "callid", "agent", "queue", "first_name", "last_name", "comment", "custom_data")
    SUB_QUALIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    CALLID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_DATA_FIELD_NUMBER: _ClassVar[int]
    sub_qualification_id: int
    time: str
    callid: str
    agent: int
    queue: int
    first_name: str
    last_name: str
    comment: str
    custom_data: str
    def __init__(self, sub_qualification_id: _Optional[int] = ..., time: _Optional[str] = ..., callid: _Optional[str] = ..., agent: _Optional[int] = ..., queue: _Optional[int] = ..., first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., comment: _Optional[str] = ..., custom_data: _Optional[str] = ...) -> None: ...

class AnswerRef(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class ExportAnswersRequest(_message.Message):
    __slots__ = ("queue_id", "to")
    QUEUE_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    queue_id: int
    to: str
    def __init__(self, queue_id: _Optional[int] = ..., to: _Optional[str] = ..., **kwargs) -> None: ...

class QualificationSpec(_message.Message):
    __slots__ = ("name", "queue_ids", "sub_qualifications")
    NAME_FIELD_NUMBER: _ClassVar[int]
    QUEUE_IDS_FIELD_NUMBER: _ClassVar[int]
    SUB_QUALIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    queue_ids: _containers.RepeatedScalarFieldContainer[int]
    sub_qualifications: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., queue_ids: _Optional[_Iterable[int]] = ..., sub_qualifications: _Optional[_Iterable[str]] = ...) -> None: ...

class PutQualificationsRequest(_message.Message):
    __slots__ = ("qualifications", "validate_only")
    QUALIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    qualifications: _containers.RepeatedCompositeFieldContainer[QualificationSpec]
    validate_only: bool
    def __init__(self, qualifications: _Optional[_Iterable[_Union[QualificationSpec, _Mapping]]] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class PutQualificationsReply(_message.Message):
    __slots__ = ("qualifications", "outcomes", "deactivated")
    QUALIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    DEACTIVATED_FIELD_NUMBER: _ClassVar[int]
    qualifications: _containers.RepeatedCompositeFieldContainer[Qualification]
    outcomes: _containers.RepeatedScalarFieldContainer[str]
    deactivated: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, qualifications: _Optional[_Iterable[_Union[Qualification, _Mapping]]] = ..., outcomes: _Optional[_Iterable[str]] = ..., deactivated: _Optional[_Iterable[str]] = ...) -> None: ...

class ListQualificationsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
