"""The telephony service as a real process with the PBX simulator: gRPC on loopback, a real auth
process (users and their lines, tokens), a real nats-server (events), SQLite and PostgreSQL:
the handshake, who may call what, the PBX state and health, what survives a restart, a forged
user event.

Tests share one telephony process per database backend (conftest.py) and stay independent with
users and line numbers of their own.
"""

from __future__ import annotations

import asyncio
import secrets

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.aio.client import Client as NatsClient

from tests.support.databases import DatabaseFactory
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.rpc import refusal
from tests.support.telephony_service import Telephony, listen, telephony_client
from xuc import subjects
from xucproto.auth.v1 import auth_pb2
from xucproto.events.v1 import auth_events_pb2
from xucproto.events.v1 import telephony_events_pb2 as events
from xucproto.telephony.v1 import telephony_pb2 as pb


# --- handshake --------------------------------------------------------------------------------
async def test_handshake_republishes_every_status(telephony: Telephony, nats_client: NatsClient) -> None:
    alice = await telephony.new_user()
    statuses = await listen(nats_client, subjects.PHONE_STATUS.for_key(alice.login))
    reply = await telephony.stub.Handshake(pb.HandshakeRequest(), metadata=telephony.service)
    assert reply.published >= 1
    [status] = await statuses.wait(1, events.PhoneStatusChanged)
    assert (status.username, status.number, status.status, status.handshake) == (alice.login, alice.line, 0, True)


# --- the edge ------------------------------------------------------------------------------------
async def test_callers_need_credentials_of_the_right_kind(telephony: Telephony) -> None:
    alice = await telephony.new_user()
    assert await refusal(telephony.stub.Handshake(pb.HandshakeRequest())) == (
        grpc.StatusCode.UNAUTHENTICATED, "AuthorizationHeaderNotFound")
    assert await refusal(telephony.stub.Handshake(pb.HandshakeRequest(), metadata=alice.metadata)) == (
        grpc.StatusCode.PERMISSION_DENIED, "Forbidden")
    reply = await telephony.stub.GetPhoneStatuses(pb.GetPhoneStatusesRequest(numbers=[alice.line]),
                                                  metadata=alice.metadata)
    assert dict(reply.statuses) == {alice.line: 0}


async def test_pbx_state_and_health(telephony: Telephony) -> None:
    state = await telephony.stub.GetPbxState(pb.GetPbxStateRequest(), metadata=telephony.service)
    assert (state.kind, state.connected) == ("sim", True)
    health = health_pb2_grpc.HealthStub(telephony.channel)
    for service in ("xuc.telephony.v1.Telephony", "xuc.telephony.v1.Simulator", "xuc.telephony.v1.Pbx"):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, service


# --- a restart ------------------------------------------------------------------------------------
async def test_services_push_registrations_and_history_survive_a_restart(
    nats_server: str, auth_service: ServiceProcess, database_factory: DatabaseFactory,
    service_launcher: ServiceLauncher, nats_client: NatsClient,
) -> None:
    database = database_factory.create()

    def start() -> ServiceProcess:
        return service_launcher.start("services.telephony", "telephony", database_url=database.url,
                                      service_token=auth_service.service_token,
                                      extra_env={"XUC_AUTH_ADDRESS": auth_service.grpc_address})

    first = await asyncio.to_thread(start)
    async with telephony_client(first, auth_service) as telephony:
        alice, bob = await telephony.new_user(), await telephony.new_user()
        await telephony.stub.SetForward(pb.SetForwardRequest(username=bob.login, kind=pb.FORWARD_BUSY, state=True,
                                                             destination="1002"), metadata=telephony.service)
        await telephony.stub.RegisterPush(pb.RegisterPushRequest(platform=pb.IOS, token="ios-token"),
                                          metadata=bob.metadata)
        await telephony.dial(alice, "0611223344")
        await telephony.act("Hangup", alice.line)
        assert await telephony.history(alice, size=5, count=1) == [(alice.login, "0611223344", "emitted")]
    await asyncio.to_thread(first.stop)

    second = await asyncio.to_thread(start)
    async with telephony_client(second, auth_service) as telephony:
        services = await telephony.stub.GetUserServices(pb.GetUserServicesRequest(username=bob.login),
                                                        metadata=telephony.service)
        assert (services.busy.enabled, services.busy.destination) == (True, "1002")
        assert await telephony.history(alice, size=5) == [(alice.login, "0611223344", "emitted")]
        pushes = await listen(nats_client, subjects.PUSH_REQUESTED.for_key(bob.login))
        await telephony.dial(alice, bob.line)
        [push] = await pushes.wait(1, events.PushRequested)
        assert (push.platform, push.token) == ("ios", "ios-token")


async def test_a_forged_user_deleted_event_removes_nobody(telephony: Telephony, nats_client: NatsClient) -> None:
    """The review's attack: whoever could publish `UserChanged deleted` made telephony answer
    UserNotFound for a live user. The event now only says whom to read again from auth."""
    victim, witness = await telephony.new_user(), await telephony.new_user()
    forged = auth_events_pb2.UserChanged(login=victim.login, user_id=victim.user_id, change="deleted")
    await nats_client.jetstream().publish(subjects.USER_CHANGED.for_key(victim.login), forged.SerializeToString())
    # A real change published after the forgery: once telephony shows it, it has handled both, in order.
    moved = f"8{secrets.randbelow(10**7):07d}"
    await telephony.auth.UpdateUser(auth_pb2.UpdateUserRequest(login=witness.login, line=moved),
                                    metadata=telephony.service)
    for _ in range(200):
        if (await telephony.statuses(moved))[moved] != -2:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("telephony never learnt the witness's new line")
    assert (await telephony.statuses(victim.line))[victim.line] != -2
    assert (await telephony.dial(victim, "0123456789")).number == "0123456789"
