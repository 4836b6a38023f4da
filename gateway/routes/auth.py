"""`POST /xuc/api/2.0/auth/login`, `GET /xuc/api/2.0/auth/check` and single sign-on:
`GET /xuc/api/2.0/auth/sso` (Kerberos), `/auth/cas` and `/auth/oidc`.

SSO routes pass the request's credentials through to the auth service, whose providers check
them; the one thing done here is HTTP's part of SPNEGO: without `Authorization: Negotiate ...`
the answer is the 401 challenge that makes browsers and `curl --negotiate` send one."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.credentials import authenticate
from gateway.errors import response_for_domain_error
from gateway.requests import client_address, json_object, optional_string, required_string
from xuc.errors import SsoAuthenticationFailed
from xuc.runtime.grpc_client import Metadata, user_metadata, with_request_id
from xuc.runtime.keys import PublicKeyCache
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc

RPC_TIMEOUT_SECONDS = 10.0
SSO_TIMEOUT_SECONDS = 20.0  # the provider may itself wait on a CAS server or an OIDC issuer


NEGOTIATE = "Negotiate"


def _token_answer(reply: auth_pb2.TokenReply) -> JSONResponse:
    return JSONResponse({"login": reply.login, "token": reply.token, "TTL": reply.ttl})


def negotiate_token(request: Request) -> bytes | None:
    """The SPNEGO token of `Authorization: Negotiate <base64>`; None when there is none."""
    scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != NEGOTIATE.lower():
        return None
    try:
        token = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SsoAuthenticationFailed("The Negotiate token is not base64") from None
    if not token:
        raise SsoAuthenticationFailed("The Negotiate token is empty")
    return token


def oidc_token(request: Request) -> str:
    """The access token of `?token=`, else of `Authorization: Bearer`; "" when neither is given."""
    token = request.query_params.get("token", "").strip()
    if token:
        return token
    scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


@dataclass(frozen=True)
class AuthRoutes:
    stub: auth_pb2_grpc.AuthStub
    service_metadata: Metadata
    keys: PublicKeyCache

    async def login(self, request: Request) -> JSONResponse:
        body = await json_object(request)
        reply = await self.stub.Login(
            auth_pb2.LoginRequest(
                login=required_string(body, "login"),
                password=required_string(body, "password"),
                client_address=client_address(request),
                software_type=optional_string(body, "softwareType"),
                application_type=optional_string(body, "applicationType"),
            ),
            metadata=with_request_id(self.service_metadata),
            timeout=RPC_TIMEOUT_SECONDS,
        )
        return _token_answer(reply)

    async def check(self, request: Request) -> JSONResponse:
        caller = await authenticate(request, self.keys)
        reply = await self.stub.Check(auth_pb2.CheckRequest(), metadata=user_metadata(caller.token),
                                      timeout=RPC_TIMEOUT_SECONDS)
        return _token_answer(reply)

    async def _sso(self, request: Request, sso: auth_pb2.SsoLoginRequest) -> JSONResponse:
        sso.client_address = client_address(request)
        reply = await self.stub.SsoLogin(sso, metadata=with_request_id(self.service_metadata),
                                         timeout=SSO_TIMEOUT_SECONDS)
        answer = _token_answer(reply.token)
        if reply.mutual_token:  # Kerberos mutual authentication
            answer.headers["WWW-Authenticate"] = f"{NEGOTIATE} {base64.b64encode(reply.mutual_token).decode()}"
        return answer

    async def kerberos(self, request: Request) -> Response:
        token = negotiate_token(request)
        if token is None:
            needed = SsoAuthenticationFailed("Kerberos authentication needed (Negotiate)")
            challenge = response_for_domain_error(needed, request.url.path)
            challenge.headers["WWW-Authenticate"] = NEGOTIATE
            return challenge
        return await self._sso(request, auth_pb2.SsoLoginRequest(kerberos=auth_pb2.KerberosToken(token=token)))

    async def cas(self, request: Request) -> JSONResponse:
        ticket = auth_pb2.CasTicket(service=request.query_params.get("service", ""),
                                    ticket=request.query_params.get("ticket", ""))
        return await self._sso(request, auth_pb2.SsoLoginRequest(cas=ticket))

    async def oidc(self, request: Request) -> JSONResponse:
        token = auth_pb2.OidcAccessToken(token=oidc_token(request))
        return await self._sso(request, auth_pb2.SsoLoginRequest(oidc=token))

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/xuc/api/2.0/auth/login", self.login, methods=["POST"]),
            Route("/xuc/api/2.0/auth/check", self.check, methods=["GET"]),
            Route("/xuc/api/2.0/auth/sso", self.kerberos, methods=["GET"]),
            Route("/xuc/api/2.0/auth/cas", self.cas, methods=["GET"]),
            Route("/xuc/api/2.0/auth/oidc", self.oidc, methods=["GET"]),
        ]
