"""The call control RPCs of the Telephony gRPC service (GetCurrentCalls, Hangup, Hold, ...), mixed
into TelephonyApi: protobuf in, use case, protobuf out. No rule lives here."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from services.telephony.adapters.telephony_events import phone_event_message
from services.telephony.domain.pbx import CallIds
from services.telephony.service_layer.call_control import Acted, CallControlService
from services.telephony.service_layer.calls import CallService
from xucproto.telephony.v1 import telephony_pb2 as pb

Context: TypeAlias = grpc.aio.ServicerContext
CALL_CONTROL_RPCS = ("GetCurrentCalls", "Answer", "Hold", "Hangup", "SendDtmf", "DirectTransfer", "AttendedTransfer",
                     "CompleteTransfer", "CancelTransfer", "SetCallData", "DialFromMobile")


def _ids(ids: CallIds) -> pb.CallControlReply:
    return pb.CallControlReply(unique_id=ids.unique_id, linked_id=ids.linked_id)


def _reply(acted: Acted) -> pb.CallControlReply:
    return pb.CallControlReply(unique_id=acted.channel.unique_id, linked_id=acted.channel.linked_id,
                               on_hold=acted.on_hold)


class CallControlRpcs:
    _control: CallControlService
    _calls: CallService

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

    async def DirectTransfer(self, request: pb.CallTransferRequest, context: Context) -> pb.CallControlReply:
        return _reply(await self._control.direct_transfer(request.username, request.destination, request.unique_id))

    async def AttendedTransfer(self, request: pb.CallTransferRequest, context: Context) -> pb.CallControlReply:
        return _reply(await self._control.attended_transfer(request.username, request.destination, request.unique_id))

    async def CompleteTransfer(self, request: pb.CallPendingTransferRequest, context: Context) -> pb.CallControlReply:
        return _ids(await self._control.complete_transfer(request.username))

    async def CancelTransfer(self, request: pb.CallPendingTransferRequest, context: Context) -> pb.CallControlReply:
        return _ids(await self._control.cancel_transfer(request.username))

    async def SetCallData(self, request: pb.CallDataRequest, context: Context) -> pb.CallControlReply:
        return _reply(await self._control.set_call_data(request.username, dict(request.variables),
                                                        request.unique_id))

    async def DialFromMobile(self, request: pb.DialFromMobileRequest, context: Context) -> pb.DialReply:
        ids, number = await self._calls.dial_from_mobile(request.username, request.destination,
                                                         dict(request.variables))
        return pb.DialReply(unique_id=ids.unique_id, linked_id=ids.linked_id, number=number)
