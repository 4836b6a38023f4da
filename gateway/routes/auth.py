"""`POST /xuc/api/2.0/auth/login` and `GET /xuc/api/2.0/auth/check`."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from gateway.credentials import authenticate
from gateway.requests import client_address, json_object, optional_string, required_string
from xuc.runtime.grpc_client import Metadata, user_metadata
from xuc.runtime.keys import PublicKeyCache
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc

RPC_TIMEOUT_SECONDS = 10.0


def _token_answer(reply: auth_pb2.TokenReply) -> JSONResponse:
    return JSONResponse({"login": reply.login, "token": reply.token, "TTL": reply.ttl})


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
            metadata=self.service_metadata,
            timeout=RPC_TIMEOUT_SECONDS,
        )
        return _token_answer(reply)

    async def check(self, request: Request) -> JSONResponse:
        caller = await authenticate(request, self.keys)
        reply = await self.stub.Check(auth_pb2.CheckRequest(), metadata=user_metadata(caller.token),
                                      timeout=RPC_TIMEOUT_SECONDS)
        return _token_answer(reply)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/xuc/api/2.0/auth/login", self.login, methods=["POST"]),
            Route("/xuc/api/2.0/auth/check", self.check, methods=["GET"]),
        ]
