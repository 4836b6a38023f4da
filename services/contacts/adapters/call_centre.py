"""Queues and agents from the telephony service (`ListQueues`, `ListUserAgents`), asked with the
service token when a qualification answer is checked.

Unlike phone statuses, which only decorate a list, these decide whether an answer is recorded: a
telephony service that cannot be asked (down, slow, too old to know the RPC) is Unreachable
(503), and the answer is not stored.
"""

from __future__ import annotations

import grpc

from xuc.errors import Unreachable
from xuc.runtime.grpc_client import service_metadata
from xuc.runtime.request_ids import with_request_id
from xucproto.telephony.v1 import telephony_pb2, telephony_pb2_grpc

TIMEOUT_SECONDS = 2.0


class TelephonyCallCentre:
    def __init__(self, channel: grpc.aio.Channel, service_token: str) -> None:
        self._stub = telephony_pb2_grpc.TelephonyStub(channel)
        self._metadata = service_metadata(service_token)

    async def queue_exists(self, queue_id: int) -> bool:
        try:
            reply = await self._stub.ListQueues(telephony_pb2.ListQueuesRequest(),
                                                metadata=with_request_id(self._metadata), timeout=TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as error:
            raise _unreachable(error) from None
        return any(queue.id == queue_id for queue in reply.queues)

    async def agent_numbers(self, login: str) -> list[str]:
        try:
            reply = await self._stub.ListUserAgents(telephony_pb2.ListUserAgentsRequest(username=login),
                                                    metadata=with_request_id(self._metadata), timeout=TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as error:
            raise _unreachable(error) from None
        return [agent.agent_number for agent in reply.agents]


def _unreachable(error: grpc.aio.AioRpcError) -> Unreachable:
    return Unreachable(f"The telephony service could not check the answer ({error.code().name}); nothing was "
                       "recorded, try again later")
