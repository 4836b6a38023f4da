"""The auth gRPC API: protobuf in, use case, protobuf out. No rule lives here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.auth.adapters.signing import JwtIssuer
from services.auth.domain.model import ClientInfo, IssuedToken, Profile, User, UserSpec
from services.auth.domain.signing_keys import KeyPeriod
from services.auth.domain.sso import CasCredentials, KerberosCredentials, OidcCredentials, SsoCredentials
from services.auth.service_layer.auth_service import AuthService
from services.auth.service_layer.signing_keys import SigningKeyAdministration
from xuc.errors import DomainError, ErrorKind
from xuc.runtime.grpc_edge import Access, current_caller
from xuc.security.tokens import ALGORITHM
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc

SERVICE_NAME = auth_pb2.DESCRIPTOR.services_by_name["Auth"].full_name

# Who may call what (deny by default: a method missing here is refused).
POLICY: dict[str, Access] = {
    f"/{SERVICE_NAME}/Login": Access.SERVICE,
    f"/{SERVICE_NAME}/Check": Access.USER,
    f"/{SERVICE_NAME}/SsoLogin": Access.SERVICE,
    f"/{SERVICE_NAME}/GetPublicKeys": Access.SERVICE,
    f"/{SERVICE_NAME}/ListRevocations": Access.SERVICE,
    f"/{SERVICE_NAME}/CreateUser": Access.SERVICE,
    f"/{SERVICE_NAME}/UpdateUser": Access.SERVICE,
    f"/{SERVICE_NAME}/PutUsers": Access.SERVICE,
    f"/{SERVICE_NAME}/DeleteUser": Access.SERVICE,
    f"/{SERVICE_NAME}/GetUser": Access.SERVICE,
    f"/{SERVICE_NAME}/ListUsers": Access.SERVICE,
    f"/{SERVICE_NAME}/ListSigningKeys": Access.SERVICE,
    f"/{SERVICE_NAME}/RotateSigningKey": Access.SERVICE,
}

Context: TypeAlias = grpc.aio.ServicerContext
REVOCATIONS_PER_PART = 10_000  # ~0.5 MB a message, far below gRPC's 4 MiB


def _token_reply(issued: IssuedToken) -> auth_pb2.TokenReply:
    return auth_pb2.TokenReply(login=issued.login, token=issued.token, ttl=issued.ttl, expires=issued.expires)


def _user_message(user: User) -> auth_pb2.User:
    return auth_pb2.User(id=user.id, login=user.login, disabled=user.disabled, **vars(user.profile))


def _spec(message: auth_pb2.CreateUserRequest) -> UserSpec:
    return UserSpec(
        login=message.login,
        password=message.password,
        profile=Profile(message.firstname, message.lastname, message.line, message.mobile),
        disabled=message.disabled,
    )


def _revocation(user_id: str, changed_at_ms: int) -> auth_pb2.Revocation:
    message = auth_pb2.Revocation(user_id=user_id)
    message.credentials_changed_at.FromMilliseconds(changed_at_ms)
    return message


def _sso_credentials(request: auth_pb2.SsoLoginRequest) -> SsoCredentials:
    kind = request.WhichOneof("credentials")
    if kind == "cas":
        return CasCredentials(request.cas.service, request.cas.ticket)
    if kind == "oidc":
        return OidcCredentials(request.oidc.token)
    if kind == "kerberos":
        return KerberosCredentials(request.kerberos.token)
    raise InvalidSsoRequest("credentials are required: cas, oidc or kerberos")


class InvalidSsoRequest(DomainError):
    reason = "InvalidRequest"
    kind = ErrorKind.INVALID
    default_message = "The request is not valid"


def _timestamp(epoch: float | None) -> Timestamp | None:
    if epoch is None:
        return None
    stamp = Timestamp()
    stamp.FromMilliseconds(round(epoch * 1000))
    return stamp


def _signing_key(period: KeyPeriod, state: str) -> auth_pb2.SigningKey:
    return auth_pb2.SigningKey(kid=period.kid, generation=period.generation, state=state,
                               created_at=_timestamp(period.created_at), active_from=_timestamp(period.active_from),
                               retired_at=_timestamp(period.retired_at))


class AuthApi(auth_pb2_grpc.AuthServicer):
    def __init__(self, service: AuthService, issuer: JwtIssuer, token_issuer_name: str,
                 signing_keys: SigningKeyAdministration) -> None:
        self._service = service
        self._issuer = issuer
        self._issuer_name = token_issuer_name
        self._signing_keys = signing_keys

    async def Login(self, request: auth_pb2.LoginRequest, context: Context) -> auth_pb2.TokenReply:
        client = ClientInfo(request.client_address, request.software_type, request.application_type)
        return _token_reply(await self._service.login(request.login, request.password, client))

    async def SsoLogin(self, request: auth_pb2.SsoLoginRequest, context: Context) -> auth_pb2.SsoLoginReply:
        issued, mutual_token = await self._service.sso_login(_sso_credentials(request),
                                                             ClientInfo(request.client_address))
        return auth_pb2.SsoLoginReply(token=_token_reply(issued), mutual_token=mutual_token)

    async def Check(self, request: auth_pb2.CheckRequest, context: Context) -> auth_pb2.TokenReply:
        claims = current_caller().claims
        assert claims is not None  # the policy admits users only
        return _token_reply(await self._service.refresh(claims))

    async def GetPublicKeys(self, request: Any, context: Context) -> auth_pb2.PublicKeySet:
        keys = [auth_pb2.PublicKey(kid=kid, algorithm=ALGORITHM, pem=pem) for kid, pem in self._issuer.published()]
        return auth_pb2.PublicKeySet(keys=keys, issuer=self._issuer_name)

    async def ListRevocations(self, request: Any, context: Context) -> AsyncIterator[auth_pb2.Revocations]:
        revoked = await self._service.list_revocations()
        for start in range(0, len(revoked), REVOCATIONS_PER_PART):
            yield auth_pb2.Revocations(revocations=[_revocation(user_id, at) for user_id, at
                                                    in revoked[start:start + REVOCATIONS_PER_PART]])

    async def CreateUser(self, request: auth_pb2.CreateUserRequest, context: Context) -> auth_pb2.User:
        return _user_message(await self._service.create_user(_spec(request)))

    async def UpdateUser(self, request: auth_pb2.UpdateUserRequest, context: Context) -> auth_pb2.User:
        changes = {name: getattr(request, name) for name in ("firstname", "lastname", "line", "mobile")
                   if request.HasField(name)}
        password = request.password if request.HasField("password") else None
        disabled = request.disabled if request.HasField("disabled") else None
        return _user_message(await self._service.update_user(request.login, password, changes, disabled))

    async def PutUsers(self, request: auth_pb2.PutUsersRequest, context: Context) -> auth_pb2.PutUsersReply:
        results = await self._service.put_users([_spec(user) for user in request.users], request.validate_only)
        return auth_pb2.PutUsersReply(
            results=[auth_pb2.PutUserResult(user=_user_message(user), outcome=outcome) for user, outcome in results]
        )

    async def DeleteUser(self, request: auth_pb2.DeleteUserRequest, context: Context) -> auth_pb2.DeleteUserReply:
        await self._service.delete_user(request.login)
        return auth_pb2.DeleteUserReply()

    async def GetUser(self, request: auth_pb2.GetUserRequest, context: Context) -> auth_pb2.User:
        return _user_message(await self._service.get_user(request.login))

    async def ListUsers(self, request: Any, context: Context) -> auth_pb2.ListUsersReply:
        return auth_pb2.ListUsersReply(users=[_user_message(user) for user in await self._service.list_users()])

    async def ListSigningKeys(self, request: Any, context: Context) -> auth_pb2.SigningKeyList:
        return auth_pb2.SigningKeyList(keys=[_signing_key(*key) for key in await self._signing_keys.keys()])

    async def RotateSigningKey(self, request: Any, context: Context) -> auth_pb2.RotateSigningKeyReply:
        new, under_way, keys = await self._signing_keys.rotate()
        state = next((state for period, state in keys if period.kid == new.kid), "pending")
        return auth_pb2.RotateSigningKeyReply(key=_signing_key(new, state), already_under_way=under_way,
                                              keys=[_signing_key(*key) for key in keys])
