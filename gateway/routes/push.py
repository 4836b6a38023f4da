"""Mobile push registration: the token that wakes the XiVO mobile application up for a call.

`POST /xuc/api/2.0/config/mobile/push/register/android` and `.../ios` (`?apiVersion=2.0`, as
documented, is accepted and not needed), and the deprecated `POST /xuc/api/2.0/mobile/push/register`,
whose platform is the body's `"platform"` ("android" or "ios", any case), Android when absent.
Each is one RegisterPush call on behalf of the user whose token is presented; 201 with `{}`.

The body is `{"token": "..."}`, also in the documented form with a trailing comma
(`{"token": "1234-5678",}`); other keys are ignored. No body or no `token` key: 400
`JsonBodyNotFound`; not JSON, or a `token` that is not a string: 400 `JsonErrorDecoding`. Whether a
token is acceptable (an empty one is not) is the telephony service's to say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.credentials import authenticate
from gateway.requests import JsonBodyNotFound, JsonErrorDecoding, is_text, json_object
from gateway.routes.telephony import connected
from xuc.runtime.grpc_client import user_metadata
from xuc.runtime.keys import PublicKeyCache
from xucproto.telephony.v1 import telephony_pb2, telephony_pb2_grpc

REGISTER_PATH = "/xuc/api/2.0/config/mobile/push/register"
DEPRECATED_PATH = "/xuc/api/2.0/mobile/push/register"
RPC_TIMEOUT_SECONDS = 10.0
PLATFORMS = {"android": telephony_pb2.ANDROID, "ios": telephony_pb2.IOS}


class PushTokenNotFound(JsonBodyNotFound):
    default_message = "No push token was sent"


def push_token(body: dict[str, Any]) -> str:
    token = body.get("token")
    if token is None:
        raise PushTokenNotFound()
    if not is_text(token):
        raise JsonErrorDecoding("'token' must be a string")
    return token


def platform_named(body: dict[str, Any]) -> telephony_pb2.PushPlatform:
    """The deprecated route's platform: the body's `platform`, Android when it names none."""
    name = body.get("platform")
    if name is None:
        return telephony_pb2.ANDROID
    if not isinstance(name, str) or name.strip().lower() not in PLATFORMS:
        raise JsonErrorDecoding("'platform' must be \"android\" or \"ios\"")
    return PLATFORMS[name.strip().lower()]


@dataclass(frozen=True)
class PushRoutes:
    stub: telephony_pb2_grpc.TelephonyStub | None
    keys: PublicKeyCache

    async def _register(self, request: Request, platform: telephony_pb2.PushPlatform | None) -> Response:
        caller = await authenticate(request, self.keys)  # first: no token, no other answer
        body = await json_object(request, invalid=JsonErrorDecoding, empty=PushTokenNotFound, trailing_commas=True)
        message = telephony_pb2.RegisterPushRequest(platform=platform_named(body) if platform is None else platform,
                                                    token=push_token(body))
        await connected(self.stub).RegisterPush(message, metadata=user_metadata(caller.token),
                                                timeout=RPC_TIMEOUT_SECONDS)
        return JSONResponse({}, status_code=201)

    async def register_android(self, request: Request) -> Response:
        return await self._register(request, telephony_pb2.ANDROID)

    async def register_ios(self, request: Request) -> Response:
        return await self._register(request, telephony_pb2.IOS)

    async def register_deprecated(self, request: Request) -> Response:
        return await self._register(request, None)

    def routes(self) -> list[BaseRoute]:
        return [
            Route(f"{REGISTER_PATH}/android", self.register_android, methods=["POST"]),
            Route(f"{REGISTER_PATH}/ios", self.register_ios, methods=["POST"]),
            Route(DEPRECATED_PATH, self.register_deprecated, methods=["POST"]),
        ]
