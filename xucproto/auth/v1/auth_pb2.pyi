import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LoginRequest(_message.Message):
    __slots__ = ("login", "password", "client_address", "software_type", "application_type")
    LOGIN_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SOFTWARE_TYPE_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    login: str
    password: str
    client_address: str
    software_type: str
    application_type: str
    def __init__(self, login: _Optional[str] = ..., password: _Optional[str] = ..., client_address: _Optional[str] = ..., software_type: _Optional[str] = ..., application_type: _Optional[str] = ...) -> None: ...

class CheckRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SsoLoginRequest(_message.Message):
    __slots__ = ("cas", "oidc", "kerberos", "client_address")
    CAS_FIELD_NUMBER: _ClassVar[int]
    OIDC_FIELD_NUMBER: _ClassVar[int]
    KERBEROS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    cas: CasTicket
    oidc: OidcAccessToken
    kerberos: KerberosToken
    client_address: str
    def __init__(self, cas: _Optional[_Union[CasTicket, _Mapping]] = ..., oidc: _Optional[_Union[OidcAccessToken, _Mapping]] = ..., kerberos: _Optional[_Union[KerberosToken, _Mapping]] = ..., client_address: _Optional[str] = ...) -> None: ...

class CasTicket(_message.Message):
    __slots__ = ("service", "ticket")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    TICKET_FIELD_NUMBER: _ClassVar[int]
    service: str
    ticket: str
    def __init__(self, service: _Optional[str] = ..., ticket: _Optional[str] = ...) -> None: ...

class OidcAccessToken(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class KerberosToken(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: bytes
    def __init__(self, token: _Optional[bytes] = ...) -> None: ...

class SsoLoginReply(_message.Message):
    __slots__ = ("token", "mutual_token")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    MUTUAL_TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: TokenReply
    mutual_token: bytes
    def __init__(self, token: _Optional[_Union[TokenReply, _Mapping]] = ..., mutual_token: _Optional[bytes] = ...) -> None: ...

class TokenReply(_message.Message):
    __slots__ = ("login", "token", "ttl", "expires")
    LOGIN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    login: str
    token: str
    ttl: int
    expires: int
    def __init__(self, login: _Optional[str] = ..., token: _Optional[str] = ..., ttl: _Optional[int] = ..., expires: _Optional[int] = ...) -> None: ...

class GetPublicKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PublicKey(_message.Message):
    __slots__ = ("kid", "algorithm", "pem")
    KID_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    PEM_FIELD_NUMBER: _ClassVar[int]
    kid: str
    algorithm: str
    pem: str
    def __init__(self, kid: _Optional[str] = ..., algorithm: _Optional[str] = ..., pem: _Optional[str] = ...) -> None: ...

class PublicKeySet(_message.Message):
    __slots__ = ("keys", "issuer")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[PublicKey]
    issuer: str
    def __init__(self, keys: _Optional[_Iterable[_Union[PublicKey, _Mapping]]] = ..., issuer: _Optional[str] = ...) -> None: ...

class User(_message.Message):
    __slots__ = ("id", "login", "firstname", "lastname", "line", "mobile", "disabled")
    ID_FIELD_NUMBER: _ClassVar[int]
    LOGIN_FIELD_NUMBER: _ClassVar[int]
    FIRSTNAME_FIELD_NUMBER: _ClassVar[int]
    LASTNAME_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    MOBILE_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    id: str
    login: str
    firstname: str
    lastname: str
    line: str
    mobile: str
    disabled: bool
    def __init__(self, id: _Optional[str] = ..., login: _Optional[str] = ..., firstname: _Optional[str] = ..., lastname: _Optional[str] = ..., line: _Optional[str] = ..., mobile: _Optional[str] = ..., disabled: _Optional[bool] = ...) -> None: ...

class CreateUserRequest(_message.Message):
    __slots__ = ("login", "password", "firstname", "lastname", "line", "mobile", "disabled")
    LOGIN_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    FIRSTNAME_FIELD_NUMBER: _ClassVar[int]
    LASTNAME_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    MOBILE_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    login: str
    password: str
    firstname: str
    lastname: str
    line: str
    mobile: str
    disabled: bool
    def __init__(self, login: _Optional[str] = ..., password: _Optional[str] = ..., firstname: _Optional[str] = ..., lastname: _Optional[str] = ..., line: _Optional[str] = ..., mobile: _Optional[str] = ..., disabled: _Optional[bool] = ...) -> None: ...

class UpdateUserRequest(_message.Message):
    __slots__ = ("login", "password", "firstname", "lastname", "line", "mobile", "disabled")
    LOGIN_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    FIRSTNAME_FIELD_NUMBER: _ClassVar[int]
    LASTNAME_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    MOBILE_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    login: str
    password: str
    firstname: str
    lastname: str
    line: str
    mobile: str
    disabled: bool
    def __init__(self, login: _Optional[str] = ..., password: _Optional[str] = ..., firstname: _Optional[str] = ..., lastname: _Optional[str] = ..., line: _Optional[str] = ..., mobile: _Optional[str] = ..., disabled: _Optional[bool] = ...) -> None: ...

class PutUsersRequest(_message.Message):
    __slots__ = ("users", "validate_only")
    USERS_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[CreateUserRequest]
    validate_only: bool
    def __init__(self, users: _Optional[_Iterable[_Union[CreateUserRequest, _Mapping]]] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class PutUserResult(_message.Message):
    __slots__ = ("user", "outcome")
    USER_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    user: User
    outcome: str
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ..., outcome: _Optional[str] = ...) -> None: ...

class PutUsersReply(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[PutUserResult]
    def __init__(self, results: _Optional[_Iterable[_Union[PutUserResult, _Mapping]]] = ...) -> None: ...

class DeleteUserRequest(_message.Message):
    __slots__ = ("login",)
    LOGIN_FIELD_NUMBER: _ClassVar[int]
    login: str
    def __init__(self, login: _Optional[str] = ...) -> None: ...

class DeleteUserReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetUserRequest(_message.Message):
    __slots__ = ("login",)
    LOGIN_FIELD_NUMBER: _ClassVar[int]
    login: str
    def __init__(self, login: _Optional[str] = ...) -> None: ...

class ListUsersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListRevocationsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Revocation(_message.Message):
    __slots__ = ("user_id", "credentials_changed_at")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    credentials_changed_at: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., credentials_changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Revocations(_message.Message):
    __slots__ = ("revocations",)
    REVOCATIONS_FIELD_NUMBER: _ClassVar[int]
    revocations: _containers.RepeatedCompositeFieldContainer[Revocation]
    def __init__(self, revocations: _Optional[_Iterable[_Union[Revocation, _Mapping]]] = ...) -> None: ...

class ListUsersReply(_message.Message):
    __slots__ = ("users",)
    USERS_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[User]
    def __init__(self, users: _Optional[_Iterable[_Union[User, _Mapping]]] = ...) -> None: ...

class ListSigningKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SigningKey(_message.Message):
    __slots__ = ("kid", "generation", "state", "created_at", "active_from", "retired_at")
    KID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    RETIRED_AT_FIELD_NUMBER: _ClassVar[int]
    kid: str
    generation: int
    state: str
    created_at: _timestamp_pb2.Timestamp
    active_from: _timestamp_pb2.Timestamp
    retired_at: _timestamp_pb2.Timestamp
    def __init__(self, kid: _Optional[str] = ..., generation: _Optional[int] = ..., state: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., active_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retired_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SigningKeyList(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[SigningKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[SigningKey, _Mapping]]] = ...) -> None: ...

class RotateSigningKeyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RotateSigningKeyReply(_message.Message):
    __slots__ = ("key", "already_under_way", "keys")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ALREADY_UNDER_WAY_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    key: SigningKey
    already_under_way: bool
    keys: _containers.RepeatedCompositeFieldContainer[SigningKey]
    def __init__(self, key: _Optional[_Union[SigningKey, _Mapping]] = ..., already_under_way: _Optional[bool] = ..., keys: _Optional[_Iterable[_Union[SigningKey, _Mapping]]] = ...) -> None: ...
