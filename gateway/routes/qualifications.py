"""Call qualifications: `/xuc/api/2.0/call_qualification/...` (list per queue, answer, CSV export).

Each route is one call to the contacts service's Qualifications API on behalf of the user whose
token is presented. Queue ids are path integers (`{queueId:int}`): anything else is not a route,
404 NotFound, as for any unknown path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.credentials import authenticate
from gateway.csv_streams import csv_export
from gateway.requests import INT64_MAX, JsonBodyNotFound, JsonErrorDecoding, checked_object, json_object
from xuc.runtime.grpc_client import user_metadata
from xuc.runtime.keys import PublicKeyCache
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc

BASE = "/xuc/api/2.0/call_qualification"
# The documentation writes the export path with a doubled "api"; clients copied from it use that.
TYPO_BASE = "/xuc/api/api/2.0/call_qualification"
EXPORT_SUFFIX = "/csv/{queueId:int}/{from}/{to}"
RPC_TIMEOUT_SECONDS = 10.0
TRANSFER_TIMEOUT_SECONDS = 600.0

ANSWER_TYPES: dict[str, type] = {
    "sub_qualification_id": int, "time": str, "callid": str, "agent": int, "queue": int,
    "first_name": str, "last_name": str, "comment": str, "custom_data": str,
}
# `agent` too: an answer names one of the caller's agents (the service checks which).
ANSWER_REQUIRED = ("sub_qualification_id", "time", "queue", "agent")


def qualification_json(qualification: contacts_pb2.Qualification) -> dict[str, Any]:
    return {
        "id": qualification.id,
        "name": qualification.name,
        "subQualifications": [{"id": sub.id, "name": sub.name} for sub in qualification.sub_qualifications],
    }


async def answer_message(request: Request) -> contacts_pb2.QualificationAnswer:
    body = await json_object(request, invalid=JsonErrorDecoding, empty=JsonBodyNotFound)
    return contacts_pb2.QualificationAnswer(**checked_object(body, ANSWER_TYPES, ANSWER_REQUIRED, JsonErrorDecoding))


def queue_id(request: Request) -> int:
    value: int = request.path_params["queueId"]
    if value > INT64_MAX:  # the path convertor takes any digits; no queue can have such an id
        raise HTTPException(404, "No queue has this id")
    return value


@dataclass(frozen=True)
class QualificationsRoutes:
    stub: contacts_pb2_grpc.QualificationsStub
    keys: PublicKeyCache

    async def list_for_queue(self, request: Request) -> Response:
        caller = await authenticate(request, self.keys)
        reply = await self.stub.ListQueueQualifications(contacts_pb2.QueueRef(queue_id=queue_id(request)),
                                                        metadata=user_metadata(caller.token),
                                                        timeout=RPC_TIMEOUT_SECONDS)
        return JSONResponse([qualification_json(qualification) for qualification in reply.qualifications])

    async def create_answer(self, request: Request) -> Response:
        caller = await authenticate(request, self.keys)
        reply = await self.stub.CreateAnswer(await answer_message(request), metadata=user_metadata(caller.token),
                                             timeout=RPC_TIMEOUT_SECONDS)
        return JSONResponse(reply.id, status_code=201)  # "return id": the bare number

    async def export_answers(self, request: Request) -> Response:
        caller = await authenticate(request, self.keys)
        queue = queue_id(request)
        # `from` is a Python keyword, hence the mapping; the service checks the dates (InvalidDate).
        message = contacts_pb2.ExportAnswersRequest(queue_id=queue, **{"from": request.path_params["from"],
                                                                       "to": request.path_params["to"]})
        call = self.stub.ExportAnswers(message, metadata=user_metadata(caller.token),
                                       timeout=TRANSFER_TIMEOUT_SECONDS)
        return await csv_export(call, f"call_qualifications_{queue}.csv")

    def routes(self) -> list[BaseRoute]:
        return [
            Route(f"{BASE}/queue/{{queueId:int}}", self.list_for_queue, methods=["GET"]),
            Route(BASE, self.create_answer, methods=["POST"]),
            Route(BASE + EXPORT_SUFFIX, self.export_answers, methods=["GET"]),
            Route(TYPO_BASE + EXPORT_SUFFIX, self.export_answers, methods=["GET"]),
        ]
