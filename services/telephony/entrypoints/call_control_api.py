"""The call control RPCs of the Telephony gRPC service (GetCurrentCalls, Hangup, Hold, ...), mixed
into TelephonyApi: protobuf in, use case, protobuf out. No rule lives here."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from services.telephony.adapters.telephony_events import phone_event_message
from services.telephony.service_layer.call_control import CallControlService
from xucproto.telephony.v1 import telephony_pb2 as pb

Context: TypeAlias = grpc.aio.ServicerContext
CALL_CONTROL_RPCS = ("GetCurrentCalls",)


class CallControlRpcs:
    _control: CallControlService

    async def GetCurrentCalls(self, request: pb.CallCurrentCallsRequest, context: Context) -> pb.CallCurrentCalls:
        return pb.CallCurrentCalls(events=[phone_event_message(event)
                                           for event in self._control.current_calls(request.username)])
