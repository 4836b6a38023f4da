"""The Qualifications gRPC API: protobuf in, use case, protobuf out. No rule lives here.

Agents' applications call the queue list, answer and export RPCs with the user's token (the answer
records who gave it); provisioning and the full list are for services (`xuc provision`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, TypeAlias

import grpc

from services.contacts.domain.qualifications import AnswerFields, Qualification, QualificationSpec
from services.contacts.service_layer.qualifications import QualificationsService
from xuc.runtime.grpc_edge import Access, current_caller
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc

QUALIFICATIONS_SERVICE = contacts_pb2.DESCRIPTOR.services_by_name["Qualifications"].full_name

# Who may call what (deny by default: a method missing here is refused).
QUALIFICATIONS_POLICY: dict[str, Access] = {
    f"/{QUALIFICATIONS_SERVICE}/ListQueueQualifications": Access.USER,
    f"/{QUALIFICATIONS_SERVICE}/CreateAnswer": Access.USER,
    f"/{QUALIFICATIONS_SERVICE}/ExportAnswers": Access.USER,
    f"/{QUALIFICATIONS_SERVICE}/PutQualifications": Access.SERVICE,
    f"/{QUALIFICATIONS_SERVICE}/ListQualifications": Access.SERVICE,
}

Context: TypeAlias = grpc.aio.ServicerContext


def _qualification_message(qualification: Qualification) -> contacts_pb2.Qualification:
    return contacts_pb2.Qualification(
        id=qualification.id,
        name=qualification.name,
        active=qualification.active,
        queue_ids=qualification.queue_ids,
        sub_qualifications=[contacts_pb2.SubQualification(id=sub.id, name=sub.name, active=sub.active)
                            for sub in qualification.sub_qualifications],
    )


def _qualification_list(qualifications: Sequence[Qualification]) -> contacts_pb2.QualificationList:
    return contacts_pb2.QualificationList(qualifications=[_qualification_message(q) for q in qualifications])


def _spec(message: contacts_pb2.QualificationSpec) -> QualificationSpec:
    return QualificationSpec(message.name, tuple(message.queue_ids), tuple(message.sub_qualifications))


def _answer_fields(message: contacts_pb2.QualificationAnswer) -> AnswerFields:
    return AnswerFields(
        sub_qualification_id=message.sub_qualification_id,
        time=message.time,
        callid=message.callid,
        agent=message.agent,
        queue=message.queue,
        first_name=message.first_name,
        last_name=message.last_name,
        comment=message.comment,
        custom_data=message.custom_data,
    )


class QualificationsApi(contacts_pb2_grpc.QualificationsServicer):
    def __init__(self, service: QualificationsService) -> None:
        self._service = service

    async def ListQueueQualifications(self, request: contacts_pb2.QueueRef,
                                      context: Context) -> contacts_pb2.QualificationList:
        return _qualification_list(await self._service.queue_qualifications(request.queue_id))

    async def CreateAnswer(self, request: contacts_pb2.QualificationAnswer, context: Context) -> contacts_pb2.AnswerRef:
        claims = current_caller().claims
        assert claims is not None  # the policy admits users only
        return contacts_pb2.AnswerRef(id=await self._service.create_answer(_answer_fields(request), claims.login))

    async def ExportAnswers(self, request: contacts_pb2.ExportAnswersRequest,
                            context: Context) -> AsyncIterator[contacts_pb2.CsvChunk]:
        chunks = await self._service.export_answers(request.queue_id, getattr(request, "from"), request.to)
        async for data in chunks:
            yield contacts_pb2.CsvChunk(data=data)

    async def PutQualifications(self, request: contacts_pb2.PutQualificationsRequest,
                                context: Context) -> contacts_pb2.PutQualificationsReply:
        result = await self._service.put_qualifications([_spec(spec) for spec in request.qualifications],
                                                      request.validate_only)
        return contacts_pb2.PutQualificationsReply(
            qualifications=[_qualification_message(q) for q in result.qualifications],
            outcomes=result.outcomes,
            deactivated=result.deactivated,
        )

    async def ListQualifications(self, request: Any, context: Context) -> contacts_pb2.QualificationList:
        return _qualification_list(await self._service.list_qualifications())
