"""`xuc pbx ...`: drive the built-in PBX simulator of the running system (demos, tests, trying the
event URL): place a call, answer, hold, resume, hang up, list calls; and show the PBX state."""

from __future__ import annotations

import argparse
from typing import Any

from xuc import provisioning
from xuc.runtime.settings import Settings
from xucproto.telephony.v1 import telephony_pb2, telephony_pb2_grpc

ACTIONS = ("answer", "hold", "resume", "hangup")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    pbx = commands.add_parser("pbx", help="drive the PBX simulator, show the PBX state",
                              description="Drive the built-in PBX simulator (XUC_PBX=sim) of the running system.")
    actions = pbx.add_subparsers(dest="action", required=True, metavar="ACTION")
    call = actions.add_parser("call", parents=[common], help="place a call from CALLER to CALLEE",
                              description="Place a call: CALLER is a line or an external number, CALLEE rings.")
    call.add_argument("caller")
    call.add_argument("callee")
    for action in ACTIONS:
        sub = actions.add_parser(action, parents=[common], help=f"{action} the call of a line",
                                 description=f"{action.capitalize()} at NUMBER (a line, or the external number "
                                             "of a call out) the call it has.")
        sub.add_argument("number")
        sub.add_argument("--call", default="", metavar="UNIQUE_ID", help="which call, when the line has several")
    actions.add_parser("calls", parents=[common], help="list the calls in progress")
    actions.add_parser("state", parents=[common], help="show the PBX connection")


def _render(call: Any) -> str:
    dtmf = f"  dtmf {call.dtmf}" if call.dtmf else ""  # the keys the call's lines sent (Telephony.SendDtmf)
    return f"{call.linked_id}  {call.caller} -> {call.callee}  {call.state}  ({', '.join(call.unique_ids)}){dtmf}"


async def run(args: argparse.Namespace) -> None:
    async with provisioning.connect(Settings.from_env()) as system:
        channel = await system.channel("telephony")
        metadata, timeout = system.metadata, provisioning.CALL_SECONDS
        if args.action == "state":
            state = await telephony_pb2_grpc.TelephonyStub(channel).GetPbxState(
                telephony_pb2.GetPbxStateRequest(), metadata=metadata, timeout=timeout)
            print(f"{state.kind}: {'connected' if state.connected else 'NOT connected'} ({state.detail})")
            return
        simulator = telephony_pb2_grpc.SimulatorStub(channel)
        if args.action == "calls":
            reply = await simulator.ListCalls(telephony_pb2.ListCallsRequest(), metadata=metadata, timeout=timeout)
            print("\n".join(_render(call) for call in reply.calls) or "no call in progress")
            return
        if args.action == "call":
            request: Any = telephony_pb2.PlaceCallRequest(caller=args.caller, callee=args.callee)
            print(_render(await simulator.PlaceCall(request, metadata=metadata, timeout=timeout)))
            return
        method = {"answer": simulator.Answer, "hold": simulator.Hold, "resume": simulator.Resume,
                  "hangup": simulator.Hangup}[args.action]
        request = telephony_pb2.CallAction(number=args.number, unique_id=args.call)
        print(_render(await method(request, metadata=metadata, timeout=timeout)))
