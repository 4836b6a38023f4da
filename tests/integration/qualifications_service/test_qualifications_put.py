"""Call qualifications through the contacts service as a real process: gRPC on loopback, a real auth
service for user tokens, a real nats-server, SQLite and PostgreSQL: the process and its tables,
PutQualifications (creating, updating, deactivating, reactivating), what a queue offers, and
`xuc provision` against the real services.

Each test puts the qualifications, queues and agents it needs, under names and queue ids of its
own, and asserts only about those (conftest.py says why).
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.databases import DatabaseFactory, TestDatabase
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.qualifications_client import (
    INVALID_ARGUMENT,
    QUALIFICATIONS_SERVICE,
    Client,
    names,
    queue_id,
    spec,
    subs_of,
)
from tests.support.rpc import refusal
from xuc.provision import provision
from xuc.runtime.settings import Settings
from xucproto.contacts.v1 import contacts_pb2


# --- the process --------------------------------------------------------------------------------------
async def test_the_service_is_served_and_its_tables_exist(
    channel: grpc.aio.Channel, contacts_database: TestDatabase
) -> None:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(
        service=QUALIFICATIONS_SERVICE))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert {"contacts_qualifications", "contacts_sub_qualifications", "contacts_qualification_queues",
            "contacts_qualification_answers", "contacts_alembic_version"} <= contacts_database.table_names()


# --- provisioning ------------------------------------------------------------------------------------
async def test_put_creates_then_is_idempotent(client: Client) -> None:
    support, sales = names("support"), names("sales")
    queue_a, queue_b = queue_id(), queue_id()
    request = (spec(support, [queue_b, queue_a], ["Technical", "General"]), spec(sales, [queue_a]))

    created = await client.put(*request)
    again = await client.put(*request)

    assert list(created.outcomes) == ["created", "created"]
    assert [q.name for q in created.qualifications] == [support, sales]
    assert subs_of(created.qualifications[0]) == [("Technical", True), ("General", True)]
    assert list(created.qualifications[0].queue_ids) == sorted([queue_a, queue_b])
    assert (list(again.outcomes), list(again.deactivated)) == (["unchanged", "unchanged"], [])
    assert list(again.qualifications) == list(created.qualifications)
    stored = await client.all()
    assert stored[support] == created.qualifications[0]
    assert stored[sales].active


async def test_put_updates_deactivates_and_reactivates_without_deleting(client: Client) -> None:
    support, sales = names("support"), names("sales")
    queue_a, queue_b = queue_id(), queue_id()
    first = await client.put(spec(support, [queue_a], ["Technical", "General"]), spec(sales, [queue_a]))
    technical_id = first.qualifications[0].sub_qualifications[0].id

    changed = await client.put(spec(support, [queue_b], ["General", "Billing"]))

    assert list(changed.outcomes) == ["updated"]
    assert sales in changed.deactivated
    [updated] = changed.qualifications
    assert subs_of(updated) == [("Technical", False), ("General", True), ("Billing", True)]
    assert list(updated.queue_ids) == [queue_b]
    stored = await client.all()
    assert not stored[sales].active  # kept, inactive

    back = await client.put(spec(support, [queue_b], ["Technical", "General", "Billing"]), spec(sales, [queue_a]))

    assert list(back.outcomes) == ["updated", "updated"]
    assert subs_of(back.qualifications[0]) == [("Technical", True), ("General", True), ("Billing", True)]
    assert back.qualifications[0].sub_qualifications[0].id == technical_id  # the same one, reactivated
    assert back.qualifications[1].active
    assert back.qualifications[1].id == first.qualifications[1].id


async def test_put_with_nothing_listed_deactivates_everything(client: Client) -> None:
    name = names()
    await client.put(spec(name))

    reply = await client.put()

    assert name in reply.deactivated
    assert not any(qualification.active for qualification in (await client.all()).values())
    assert list((await client.put()).deactivated) == []


@pytest.mark.parametrize(
    "bad",
    [spec(""), spec("x" * 129), spec("dup", subs=["a", "a"]), spec("neg", [-1]), spec("zero", [0])],
    ids=["empty-name", "long-name", "duplicate-sub", "negative-queue", "zero-queue"],
)
async def test_an_invalid_put_changes_nothing(client: Client, bad: contacts_pb2.QualificationSpec) -> None:
    kept = names("kept")
    await client.put(spec(kept))
    before = await client.all()

    assert await refusal(client.stub.PutQualifications(
        contacts_pb2.PutQualificationsRequest(qualifications=[spec(names("new")), bad]), metadata=client.service)) \
        == (INVALID_ARGUMENT, "InvalidQualification")
    duplicate_names = contacts_pb2.PutQualificationsRequest(qualifications=[spec(kept), spec(kept)])
    assert await refusal(client.stub.PutQualifications(duplicate_names, metadata=client.service)) \
        == (INVALID_ARGUMENT, "InvalidQualification")

    assert await client.all() == before


# --- what a queue offers -----------------------------------------------------------------------------
async def test_a_queue_offers_its_active_qualifications_with_their_active_subs(client: Client) -> None:
    first, second, elsewhere = names("first"), names("second"), names("elsewhere")
    queue, other_queue = queue_id(), queue_id()
    await client.put(spec(first, [queue], ["A", "B"]), spec(second, [queue, other_queue], ["C"]),
                     spec(elsewhere, [other_queue], ["D"]))
    await client.put(spec(first, [queue], ["B", "E"]), spec(second, [queue, other_queue], ["C"]))

    offered = await client.for_queue(queue)

    assert [(q.name, subs_of(q)) for q in offered] == [(first, [("B", True), ("E", True)]),
                                                       (second, [("C", True)])]
    assert [q.id for q in offered] == sorted(q.id for q in offered)
    assert [q.name for q in await client.for_queue(other_queue)] == [second]  # `elsewhere` is inactive
    assert await client.for_queue(queue_id()) == []  # an unknown queue: nothing, not an error
    assert await client.for_queue(2**62) == []  # however large its id


# --- `xuc provision` against the real services ------------------------------------------------------
async def test_provisioning_applies_the_qualifications_section(
    client: Client, auth_service: ServiceProcess, contacts_service: ServiceProcess, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], service_launcher: ServiceLauncher,
    database_factory: DatabaseFactory,
) -> None:
    telephony = service_launcher.start("services.telephony", "telephony", database_url=database_factory.create().url,
                                       service_token=auth_service.service_token,
                                       extra_env={"XUC_AUTH_ADDRESS": auth_service.grpc_address})
    support, queue = names("support"), queue_id()
    path = tmp_path / "provision.yaml"
    path.write_text(f"queues:\n  - {{id: {queue}, name: q, number: '3000'}}\n"
                    f"qualifications:\n  - {{name: {support}, queues: [{queue}], subQualifications: [{{name: T}}]}}\n")
    monkeypatch.setenv("XUC_SERVICE_TOKEN", contacts_service.service_token)
    settings = Settings.from_env(env={"XUC_DATA_DIR": str(tmp_path), "XUC_AUTH_ADDRESS": auth_service.grpc_address,
                                      "XUC_CONTACTS_ADDRESS": contacts_service.grpc_address,
                                      "XUC_TELEPHONY_ADDRESS": telephony.grpc_address})
    await client.put(spec(names("previous")))

    await provision(path, settings)
    first = capsys.readouterr().out.splitlines()
    await provision(path, settings)
    second = capsys.readouterr().out.splitlines()

    assert first[:2] == ["agents: 0 applied, queues: 1 applied", f"qualification {support}: created"]
    assert all(line.endswith(": deactivated") for line in first[2:])
    assert any(line.startswith("qualification previous-") for line in first[2:])
    assert second[1:] == [f"qualification {support}: unchanged"]
    assert [(q.name, subs_of(q)) for q in await client.for_queue(queue)] == [(support, [("T", True)])]
