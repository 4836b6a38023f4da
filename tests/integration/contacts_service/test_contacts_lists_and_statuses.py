"""Lists (search, limit, offset, order) and the phone status of each entry, with telephony absent,
answering UNIMPLEMENTED, or a fake telephony counting its calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from services.contacts.adapters.phone_statuses import TelephonyPhoneStatuses
from tests.integration.conftest import start_contacts
from tests.support.contacts_client import INVALID, NOT_A_LINE, Contacts, new_users
from tests.support.databases import DatabaseFactory
from tests.support.ports import free_port
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.rpc import refusal
from xuc.runtime import request_ids
from xucproto.auth.v1 import auth_pb2_grpc
from xucproto.contacts.v1 import contacts_pb2_grpc
from xucproto.telephony.v1 import telephony_pb2, telephony_pb2_grpc


# --- lists ---------------------------------------------------------------------------------------------
async def test_search_limit_offset_and_order(alice: Contacts) -> None:
    for firstname, lastname, number, company in [
        ("Élodie", "Dupré", "01 23 45 67", "ACME"), ("Zoé", "dupont", "", "Société 50% off"),
        ("anne", "Dupont", "0611", ""), ("Bob", "Martin", "", "under_score"), ("", "", "3000", "Helpdesk"),
    ]:
        await alice.create(firstname=firstname, lastname=lastname, number=number, company=company)

    everyone = await alice.list_contacts()
    assert [(e.contact.fields.firstname, e.contact.fields.lastname) for e in everyone.entries] == [
        ("", ""), ("anne", "Dupont"), ("Zoé", "dupont"), ("Élodie", "Dupré"), ("Bob", "Martin")]
    assert everyone.total == 5
    assert await alice.lastnames("DUPRE") == ["Dupré"]
    assert await alice.lastnames("elo") == ["Dupré"]
    assert await alice.lastnames("societe") == ["dupont"]
    assert await alice.lastnames("0123") == ["Dupré"]
    assert await alice.lastnames("23 45") == ["Dupré"]
    assert await alice.lastnames("23.45") == ["Dupré"]
    assert await alice.lastnames("helpdesk") == [""]
    assert await alice.lastnames("50%") == ["dupont"]  # % and _ are characters, not wildcards
    assert await alice.lastnames("%") == ["dupont"]
    assert await alice.lastnames("d_p") == []
    assert await alice.lastnames("_") == ["Martin"]

    page = await alice.list_contacts("dup", limit=2, offset=1)
    assert ([e.contact.fields.firstname for e in page.entries], page.total) == (["Zoé", "Élodie"], 3)
    assert (await alice.list_contacts(limit=0, offset=4)).entries[0].contact.fields.lastname == "Martin"
    assert (await alice.list_contacts(offset=10)).entries == []
    for limit, offset in ((10_001, 0), (-1, 0), (0, -1)):
        assert await refusal(alice.list_contacts(limit=limit, offset=offset)) == (INVALID, "InvalidContact")
    assert len((await alice.list_contacts(limit=10_000)).entries) == 5


async def test_statuses_without_telephony_are_not_a_line(alice: Contacts) -> None:
    await alice.create(lastname="With", number="1001")
    await alice.create(lastname="Without", mobile="0611")
    assert [entry.status for entry in (await alice.list_contacts()).entries] == [NOT_A_LINE, NOT_A_LINE]


async def test_statuses_when_telephony_does_not_implement_them(
    service_launcher: ServiceLauncher, auth_service: ServiceProcess, database_factory: DatabaseFactory,
    auth_stub: auth_pb2_grpc.AuthStub,
) -> None:
    # A gRPC server without the Telephony service (an older or foreign one): every call UNIMPLEMENTED.
    telephony = grpc.aio.server()
    port = telephony.add_insecure_port("127.0.0.1:0")
    await telephony.start()
    try:
        service = await asyncio.to_thread(start_contacts, service_launcher, auth_service, database_factory.create(),
                                          XUC_TELEPHONY_ADDRESS=f"127.0.0.1:{port}")
        [user] = await new_users(auth_stub, auth_service, 1)
        async with grpc.aio.insecure_channel(service.grpc_address) as channel:
            contacts = Contacts(contacts_pb2_grpc.PersonalContactsStub(channel), user)
            await contacts.create(lastname="Doe", number="1001")
            await contacts.create(lastname="Lee")
            for _ in range(3):
                assert [entry.status for entry in (await contacts.list_contacts()).entries] == [
                    NOT_A_LINE, NOT_A_LINE]
    finally:
        await telephony.stop(None)
    assert service.log().count("telephony answered UNIMPLEMENTED") == 1  # logged once, not per list


class FakeTelephony(telephony_pb2_grpc.TelephonyServicer):
    """A telephony that knows two lines, and can be made slow."""

    def __init__(self) -> None:
        self.requests: list[tuple[list[str], dict[str, str]]] = []
        self.delay = 0.0

    async def GetPhoneStatuses(
        self, request: telephony_pb2.GetPhoneStatusesRequest, context: grpc.aio.ServicerContext
    ) -> telephony_pb2.PhoneStatuses:
        self.requests.append((list(request.numbers), dict(context.invocation_metadata() or ())))
        await asyncio.sleep(self.delay)
        return telephony_pb2.PhoneStatuses(statuses={"1001": telephony_pb2.AVAILABLE, "1002": telephony_pb2.RINGING})


@pytest.fixture
async def fake_telephony() -> AsyncIterator[tuple[FakeTelephony, str]]:
    server = grpc.aio.server()
    telephony = FakeTelephony()
    telephony_pb2_grpc.add_TelephonyServicer_to_server(telephony, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield telephony, f"127.0.0.1:{port}"
    finally:
        await server.stop(None)


async def test_the_telephony_adapter_asks_once_and_never_fails_a_list(
    fake_telephony: tuple[FakeTelephony, str], caplog: pytest.LogCaptureFixture
) -> None:
    telephony, address = fake_telephony
    async with grpc.aio.insecure_channel(address) as channel:
        statuses = TelephonyPhoneStatuses(channel, "the-service-token")
        assert await statuses.statuses(["1001", "1002", "9999"]) == {"1001": 0, "1002": 8, "9999": NOT_A_LINE}
        [(numbers, metadata)] = telephony.requests
        assert numbers == ["1001", "1002", "9999"]
        assert metadata["x-xuc-service-token"] == "the-service-token"
        assert "x-request-id" not in metadata  # outside a request

        token = request_ids.bind("list-request-7")  # as the edge does for a ListContacts call
        try:
            await statuses.statuses(["1001"])
        finally:
            request_ids.reset(token)
        assert telephony.requests[-1][1]["x-request-id"] == "list-request-7"

        telephony.delay = 3600.0  # never answers within the test: only the adapter's own 1 s timeout ends a call
        for _ in range(2):
            assert await asyncio.wait_for(statuses.statuses(["1001"]), 30.0) == {"1001": NOT_A_LINE}
    assert [record.getMessage() for record in caplog.records if record.levelname == "WARNING"] == [
        "phone statuses unknown: telephony answered DEADLINE_EXCEEDED (Deadline Exceeded) (logged once)"]


async def test_the_telephony_adapter_without_telephony(caplog: pytest.LogCaptureFixture) -> None:
    assert await TelephonyPhoneStatuses(None, "token").statuses(["1001"]) == {"1001": NOT_A_LINE}
    async with grpc.aio.insecure_channel(f"127.0.0.1:{free_port()}") as channel:  # nobody listens
        statuses = TelephonyPhoneStatuses(channel, "token")
        for _ in range(2):
            assert await statuses.statuses(["1001", "1002"]) == {"1001": NOT_A_LINE, "1002": NOT_A_LINE}
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 2
    assert "no telephony address" in warnings[0]
    assert "UNAVAILABLE" in warnings[1]


