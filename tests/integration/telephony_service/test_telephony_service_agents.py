"""The telephony service as a real process with the PBX simulator: gRPC on loopback, a real auth
process (users and their lines, tokens), a real nats-server (events), SQLite and PostgreSQL:
agents log in, pause and log out; queues and a user's agents are listed to services and to the user.

Tests share one telephony process per database backend (conftest.py) and stay independent with
users and line numbers of their own.
"""

from __future__ import annotations

import secrets

import grpc
from nats.aio.client import Client as NatsClient

from tests.support.rpc import refusal
from tests.support.telephony_service import Telephony, listen
from xuc import subjects
from xucproto.events.v1 import telephony_events_pb2 as events
from xucproto.telephony.v1 import telephony_pb2 as pb

NOT_FOUND, INVALID = grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT


# --- agents and queues ---------------------------------------------------------------------------
async def test_agents_log_in_pause_and_log_out(telephony: Telephony, nats_client: NatsClient) -> None:
    alice = await telephony.new_user()
    agent, queue_id = f"8{secrets.randbelow(10**6):06d}", secrets.randbelow(10**9) + 1
    await telephony.stub.PutAgentsAndQueues(pb.PutAgentsAndQueuesRequest(
        agents=[pb.AgentSpec(number=agent, username=alice.login)],
        queues=[pb.QueueSpec(id=queue_id, name="support", number="3000", agents=[agent])]),
        metadata=telephony.service)
    states = await listen(nats_client, subjects.AGENT_STATE.for_key(alice.login))

    login = await telephony.stub.AgentLogin(pb.AgentLoginRequest(agent_number=agent, phone_number=alice.line),
                                            metadata=telephony.service)
    assert (login.status, login.phone_number, list(login.queue_ids)) == (pb.READY, alice.line, [queue_id])
    paused = await telephony.stub.TogglePause(pb.TogglePauseRequest(phone_number=alice.line),
                                              metadata=telephony.service)
    ready = await telephony.stub.TogglePause(pb.TogglePauseRequest(phone_number=alice.line),
                                             metadata=telephony.service)
    out = await telephony.stub.AgentLogout(pb.AgentLogoutRequest(phone_number=alice.line),
                                           metadata=telephony.service)
    assert (paused.status, ready.status, out.status) == (pb.PAUSED, pb.READY, pb.LOGGED_OUT)
    published = await states.wait(4, events.AgentStateChanged)
    assert [(e.state, e.agent_number) for e in published] == [
        ("Ready", agent), ("Paused", agent), ("Ready", agent), ("LoggedOut", agent)]

    unknown = pb.AgentLoginRequest(agent_number="no-such-agent", phone_number=alice.line)
    assert await refusal(telephony.stub.AgentLogin(unknown, metadata=telephony.service)) == (
        NOT_FOUND, "AgentNotFound")
    nobody = pb.TogglePauseRequest(phone_number=alice.line)
    assert await refusal(telephony.stub.TogglePause(nobody, metadata=telephony.service)) == (
        NOT_FOUND, "AgentNotFound")
    inconsistent = pb.PutAgentsAndQueuesRequest(queues=[pb.QueueSpec(id=1, name="q", number="3000",
                                                                     agents=["ghost"])])
    assert await refusal(telephony.stub.PutAgentsAndQueues(inconsistent, metadata=telephony.service)) == (
        INVALID, "InvalidQueues")


async def test_queues_and_a_users_agents_are_listed_to_services_and_to_the_user(telephony: Telephony) -> None:
    alice, bob = await telephony.new_user(line=False), await telephony.new_user(line=False)
    first, second, bobs = (f"8{secrets.randbelow(10**6):06d}" for _ in range(3))
    queue_a, queue_b = sorted(secrets.randbelow(10**9) + 1 for _ in range(2))
    await telephony.stub.PutAgentsAndQueues(pb.PutAgentsAndQueuesRequest(
        agents=[pb.AgentSpec(number=first, username=alice.login), pb.AgentSpec(number=second, username=alice.login),
                pb.AgentSpec(number=bobs, username=bob.login)],
        queues=[pb.QueueSpec(id=queue_b, name="sales", number="3001", agents=[second, bobs]),
                pb.QueueSpec(id=queue_a, name="support", number="3000", agents=[first])]),
        metadata=telephony.service)

    for metadata in (telephony.service, alice.metadata):
        queues = await telephony.stub.ListQueues(pb.ListQueuesRequest(), metadata=metadata)
        assert [(queue.id, queue.name, queue.number, list(queue.agents)) for queue in queues.queues] == [
            (queue_a, "support", "3000", [first]), (queue_b, "sales", "3001", [second, bobs])]
    by_service = await telephony.stub.ListUserAgents(pb.ListUserAgentsRequest(username=alice.login),
                                                     metadata=telephony.service)
    by_herself = await telephony.stub.ListUserAgents(pb.ListUserAgentsRequest(), metadata=alice.metadata)
    named = await telephony.stub.ListUserAgents(pb.ListUserAgentsRequest(username=alice.login),
                                                metadata=alice.metadata)
    assert by_service == by_herself == named
    assert sorted((agent.agent_number, agent.username, list(agent.queue_ids)) for agent in by_service.agents) == \
        sorted([(first, alice.login, [queue_a]), (second, alice.login, [queue_b])])
    nobody = await telephony.stub.ListUserAgents(pb.ListUserAgentsRequest(username="no-agent-here"),
                                                 metadata=telephony.service)
    assert list(nobody.agents) == []

    others = pb.ListUserAgentsRequest(username=bob.login)
    assert await refusal(telephony.stub.ListUserAgents(others, metadata=alice.metadata)) == (
        grpc.StatusCode.PERMISSION_DENIED, "Forbidden")
    assert await refusal(telephony.stub.ListUserAgents(pb.ListUserAgentsRequest(), metadata=telephony.service)) == (
        INVALID, "InvalidRequest")
