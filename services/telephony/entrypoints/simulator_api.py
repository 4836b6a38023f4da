"""The Simulator gRPC API: drives the built-in PBX simulator (served only when XUC_PBX=sim).
Services only (`xuc pbx ...`, tests, demos)."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from services.telephony.adapters.simulator import SimulatedCallView, SimulatedPbx
from xuc.runtime.grpc_edge import Access
from xucproto.telephony.v1 import telephony_pb2 as pb
from xucproto.telephony.v1 import telephony_pb2_grpc

SIMULATOR_SERVICE = pb.DESCRIPTOR.services_by_name["Simulator"].full_name
SIMULATOR_POLICY: dict[str, Access] = {
    f"/{SIMULATOR_SERVICE}/{name}": Access.SERVICE
    for name in ("PlaceCall", "Answer", "Hold", "Resume", "Hangup", "ListCalls")
}

Context: TypeAlias = grpc.aio.ServicerContext


def _call(view: SimulatedCallView) -> pb.SimulatedCall:
    return pb.SimulatedCall(linked_id=view.linked_id, caller=view.caller, callee=view.callee, state=view.state,
                            unique_ids=list(view.unique_ids), dtmf=view.dtmf)


class SimulatorApi(telephony_pb2_grpc.SimulatorServicer):
    def __init__(self, pbx: SimulatedPbx) -> None:
        self._pbx = pbx

    async def PlaceCall(self, request: pb.PlaceCallRequest, context: Context) -> pb.SimulatedCall:
        return _call(await self._pbx.place_call(request.caller, request.callee))

    async def Answer(self, request: pb.CallAction, context: Context) -> pb.SimulatedCall:
        return _call(await self._pbx.answer(request.number, request.unique_id or None))

    async def Hold(self, request: pb.CallAction, context: Context) -> pb.SimulatedCall:
        return _call(await self._pbx.hold(request.number, request.unique_id or None))

    async def Resume(self, request: pb.CallAction, context: Context) -> pb.SimulatedCall:
        return _call(await self._pbx.resume(request.number, request.unique_id or None))

    async def Hangup(self, request: pb.CallAction, context: Context) -> pb.SimulatedCall:
        return _call(await self._pbx.hangup(request.number, request.unique_id or None))

    async def ListCalls(self, request: pb.ListCallsRequest, context: Context) -> pb.SimulatedCalls:
        return pb.SimulatedCalls(calls=[_call(view) for view in await self._pbx.list_calls()])
