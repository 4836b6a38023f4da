"""Phone statuses from the telephony service: one GetPhoneStatuses call per contacts list.

Statuses decorate a list; they never fail it. Without telephony (no address configured, not
running, not implementing the call yet, slow, broken) every number is NOT_A_LINE (-2), and the
reason is logged once per kind of failure rather than on every list.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import grpc

from xuc.runtime.grpc_client import service_metadata
from xuc.runtime.request_ids import with_request_id
from xucproto.telephony.v1 import telephony_pb2, telephony_pb2_grpc

log = logging.getLogger(__name__)

NOT_A_LINE = telephony_pb2.NOT_A_LINE
TIMEOUT_SECONDS = 1.0


class TelephonyPhoneStatuses:
    def __init__(self, channel: grpc.aio.Channel | None, service_token: str) -> None:
        self._stub = telephony_pb2_grpc.TelephonyStub(channel) if channel is not None else None
        self._metadata = service_metadata(service_token)
        self._failures_logged: set[str] = set()

    async def statuses(self, numbers: Sequence[str]) -> Mapping[str, int]:
        if self._stub is None:
            self._warn_once("no telephony", "phone statuses unknown: no telephony address (XUC_TELEPHONY_ADDRESS)")
            return dict.fromkeys(numbers, NOT_A_LINE)
        request = telephony_pb2.GetPhoneStatusesRequest(numbers=numbers)
        try:
            # The list's request id goes on to telephony: its logs of this call carry it too.
            reply = await self._stub.GetPhoneStatuses(request, metadata=with_request_id(self._metadata),
                                                      timeout=TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as error:
            self._warn_once(error.code().name, f"phone statuses unknown: telephony answered {error.code().name}"
                                               f" ({error.details()})")
            return dict.fromkeys(numbers, NOT_A_LINE)
        except Exception as error:  # statuses must never fail a list
            self._warn_once(type(error).__name__, f"phone statuses unknown: {error!r}")
            return dict.fromkeys(numbers, NOT_A_LINE)
        known: Mapping[str, int] = reply.statuses
        return {number: int(known.get(number, NOT_A_LINE)) for number in numbers}

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._failures_logged:
            self._failures_logged.add(kind)
            log.warning("%s (logged once)", message)
