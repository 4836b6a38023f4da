"""The call control RPCs of the Telephony gRPC service (GetCurrentCalls, Hangup, Hold, ...), mixed
into TelephonyApi: protobuf in, use case, protobuf out. No rule lives here."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from services.telephony.adapters.telephony_events import phone_event_message
from services.telephony.service_layer.call_control import Acted, CallControlService
from xucproto.telephony.v1 import telephony_pb2 as pb

Context: TypeAlias = grpc.aio.ServicerContext
CALL_CONTROL_RPCS = ("GetCurrentCalls", "Answer", "Hold", "Hangup", "SendDtmf")


def _reply(acted: Acted) -> pb.CallControlReply:
    return pb.CallControlReply(unique_id=acted.channel.unique_id, linked_id=acted.channel.linked_id,
                               on_hold=acted.on_hold)


class CallControlRpcs:
    _control: CallControlService

    async def GetCurrentCalls(self, request: pb.CallCurrentCallsRequest, context: Context) -> pb.CallCurrentCalls:
        return pb.CallCurrentCalls(events=[phone_event_message(event)
                                           for event in self._control.current_calls(request.username)])

    async def Answer(self, request: pb.CallControlRequest, context: Context) -> pb.CallControlReply:
        return _reply(await self._control.answer(request.username, request.unique_id))

    async def Hold(self, request: pb.CallControlRequest, context: Context) -> pb.CallControlReply:
        return _reply(await self._control.hold(request.username, request.unique_id))

    async def Hangup(self, request: pb.CallControlRequest, context: Context) -> pb.CallControlReply:
        return _reply(await self._control.hangup(request.username, request.unique_id))

    async def SendDtmf(self, request: pb.CallDtmfRequest, context: Context) -> pb.CallControlReply:
        return _reply(await self._control.send_dtmf(request.username, request.key, request.unique_id))
