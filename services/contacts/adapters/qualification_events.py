"""How qualification events become protobuf messages and subjects (xuc.runtime.events publishes them).

QualificationAnswered goes to `xuc.contacts.qualification.<queue id>`, so a subscriber can follow
one queue's answers.
"""

from __future__ import annotations

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from services.contacts.domain.qualifications import QualificationAnswered
from xuc import event_catalogue
from xucproto.events.v1 import contacts_events_pb2


def qualification_event_message(event: QualificationAnswered) -> tuple[str, Message]:
    occurred_at = Timestamp()
    occurred_at.FromDatetime(event.occurred_at)
    return event_catalogue.QUALIFICATION_ANSWERED.outgoing(str(event.queue), contacts_events_pb2.QualificationAnswered(
        answer_id=event.answer_id,
        sub_qualification_id=event.sub_qualification_id,
        queue=event.queue,
        agent=event.agent,
        callid=event.callid,
        time=event.time,
        answered_by=event.answered_by,
        occurred_at=occurred_at,
    ))
