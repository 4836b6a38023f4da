"""Presence in the telephony service as a real process with the PBX simulator (a real auth process,
a real nats-server, SQLite and PostgreSQL): the configured statuses, a user's chosen status, its
event, its actions (DND through the user services, agents logged out, paused, made ready), the
refusals, and what survives a restart.

The statuses are configuration shared by the module's process: each test that depends on them
puts the table it needs first (tests run one after another on a worker). Users are each test's own.
"""

from __future__ import annotations

import asyncio
import secrets

import grpc
from nats.aio.client import Client as NatsClient

from tests.support.databases import DatabaseFactory
from tests.support.processes import ServiceLauncher, ServiceProcess
from tests.support.rpc import refusal, rpc_error
from tests.support.telephony_service import Telephony, listen, telephony_client
from xuc import subjects
from xuc.runtime.grpc_errors import field_violations_of, reason_of
from xucproto.events.v1 import telephony_events_pb2 as events
from xucproto.telephony.v1 import telephony_pb2 as pb

INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND


def status(name: str, long_name: str, color: str, *actions: tuple[str, str]) -> pb.UserStatusDefinition:
    return pb.UserStatusDefinition(name=name, long_name=long_name, color=color,
                                   actions=[pb.UserStatusAction(name=n, parameters=p) for n, p in actions])


TABLE = [
    status("available", "Available", "#08FD20", ("enablednd", "false")),
    status("away", "Away", "#FDE50A"),
    status("donotdisturb", "Do not disturb", "#FF032D", ("enablednd", "true")),
    status("pause", "On a break", "#FFB545", ("queuepause_all", "true")),
    status("back", "Back at work", "#00AA00", ("queueunpause_all", "")),
    status("gone", "Gone home", "#777777", ("agentlogoff", "")),
]


async def put_table(telephony: Telephony, table: list[pb.UserStatusDefinition]) -> None:
    reply = await telephony.stub.PutUserStatuses(pb.UserStatusesPutRequest(user_statuses=table),
                                                 metadata=telephony.service)
    assert reply.statuses == len(table)


async def choose(telephony: Telephony, login: str, name: str) -> pb.UserStatusReply:
    reply: pb.UserStatusReply = await telephony.stub.SetUserStatus(
        pb.UserStatusSetRequest(username=login, status=name), metadata=telephony.service)
    return reply


async def current(telephony: Telephony, login: str) -> str:
    reply = await telephony.stub.GetUserStatus(pb.UserStatusGetRequest(username=login), metadata=telephony.service)
    return str(reply.status)


async def test_a_chosen_status_is_stored_answered_and_published(telephony: Telephony, nats_client: NatsClient) -> None:
    await put_table(telephony, TABLE)
    alice = await telephony.new_user()
    published = await listen(nats_client, subjects.USER_STATUS.for_key(alice.login))

    assert await current(telephony, alice.login) == "available"  # never chose: the first status
    reply = await choose(telephony, alice.login, "away")
    assert (reply.username, reply.status, reply.definition) == (alice.login, "away", TABLE[1])
    assert await current(telephony, alice.login) == "away"
    await choose(telephony, alice.login, "away")  # a repeat is announced too

    changes = await published.wait(2, events.UserStatusChanged)
    assert [(c.username, c.status, c.long_name, c.color) for c in changes] == [
        (alice.login, "away", "Away", "#FDE50A")] * 2
    assert changes[0].event_id != changes[1].event_id
    listed = await telephony.stub.ListUserStatuses(pb.UserStatusesListRequest(), metadata=telephony.service)
    assert list(listed.statuses) == TABLE


async def test_do_not_disturb_turns_dnd_on_through_the_user_services(
    telephony: Telephony, nats_client: NatsClient
) -> None:
    await put_table(telephony, TABLE)
    alice, lineless = await telephony.new_user(), await telephony.new_user(line=False)
    services = await listen(nats_client, subjects.USER_SERVICES.for_key(alice.login))

    await choose(telephony, alice.login, "donotdisturb")
    dnd = await telephony.stub.GetUserServices(pb.GetUserServicesRequest(username=alice.login),
                                               metadata=telephony.service)
    assert dnd.dnd is True
    await choose(telephony, alice.login, "available")  # its action turns DND off again
    [on, off] = await services.wait(2, events.UserServicesChanged)
    assert (on.username, on.dnd, off.dnd) == (alice.login, True, False)

    # A user without a line has no DND: the action does not apply, the status is chosen all the same.
    assert (await choose(telephony, lineless.login, "donotdisturb")).status == "donotdisturb"
    assert await current(telephony, lineless.login) == "donotdisturb"


async def test_agent_actions_log_out_pause_and_unpause_the_users_agent(telephony: Telephony) -> None:
    await put_table(telephony, TABLE)
    alice, bob = await telephony.new_user(), await telephony.new_user()
    agent = f"8{secrets.randbelow(10**6):06d}"
    await telephony.stub.PutAgentsAndQueues(pb.PutAgentsAndQueuesRequest(
        agents=[pb.AgentSpec(number=agent, username=alice.login)],
        queues=[pb.QueueSpec(id=secrets.randbelow(10**9) + 1, name="support", number="3000", agents=[agent])]),
        metadata=telephony.service)
    await telephony.stub.AgentLogin(pb.AgentLoginRequest(agent_number=agent, phone_number=alice.line),
                                    metadata=telephony.service)

    async def agent_status() -> int:
        reply = await telephony.stub.ListUserAgents(pb.ListUserAgentsRequest(username=alice.login),
                                                    metadata=telephony.service)
        [state] = reply.agents
        return int(state.status)

    await choose(telephony, alice.login, "pause")
    assert await agent_status() == pb.PAUSED
    await choose(telephony, alice.login, "pause")  # already paused: left so, not toggled
    assert await agent_status() == pb.PAUSED
    await choose(telephony, alice.login, "back")
    assert await agent_status() == pb.READY
    await choose(telephony, alice.login, "gone")
    assert await agent_status() == pb.LOGGED_OUT
    # Actions that do not apply are skipped: an agent logged out, a user with no agent.
    for name in ("gone", "pause", "back"):
        assert (await choose(telephony, alice.login, name)).status == name
        assert (await choose(telephony, bob.login, name)).status == name
    assert await agent_status() == pb.LOGGED_OUT


async def test_unknown_statuses_users_and_callers_are_refused(telephony: Telephony) -> None:
    await put_table(telephony, TABLE)
    alice = await telephony.new_user()
    await choose(telephony, alice.login, "away")

    error = await rpc_error(telephony.stub.SetUserStatus(pb.UserStatusSetRequest(username=alice.login,
                                                                                 status="lunch"),
                                                         metadata=telephony.service))
    assert (error.code(), reason_of(error)) == (INVALID, "UnknownUserStatus")
    assert "No user status 'lunch' (configured: available, away, donotdisturb, pause, back, gone)" in str(
        error.details())
    assert await current(telephony, alice.login) == "away"  # nothing chosen

    nobody = pb.UserStatusSetRequest(username="no-such-user", status="away")
    assert await refusal(telephony.stub.SetUserStatus(nobody, metadata=telephony.service)) == (
        NOT_FOUND, "UserNotFound")
    assert await refusal(telephony.stub.GetUserStatus(pb.UserStatusGetRequest(username="no-such-user"),
                                                      metadata=telephony.service)) == (NOT_FOUND, "UserNotFound")
    own = pb.UserStatusSetRequest(username=alice.login, status="available")
    assert await refusal(telephony.stub.SetUserStatus(own, metadata=alice.metadata)) == (
        grpc.StatusCode.PERMISSION_DENIED, "Forbidden")


async def test_put_user_statuses_checks_every_rule_and_replaces_the_table(telephony: Telephony) -> None:
    await put_table(telephony, TABLE)
    alice = await telephony.new_user()
    await choose(telephony, alice.login, "gone")
    bad = [status("ok", "Fine", "#00FF00"), status("ok", "", "green", ("dance", "")),
           status("dnd", "DND", "#FF0000", ("enablednd", "maybe"))]

    for validate_only in (True, False):
        error = await rpc_error(telephony.stub.PutUserStatuses(
            pb.UserStatusesPutRequest(user_statuses=bad, validate_only=validate_only), metadata=telephony.service))
        assert (error.code(), reason_of(error)) == (INVALID, "InvalidUserStatuses")
        assert [path for path, _ in field_violations_of(error)] == [
            "user_statuses[1].name", "user_statuses[1].long_name", "user_statuses[1].color",
            "user_statuses[1].actions[0].name", "user_statuses[2].actions[0].parameters"]
    empty = pb.UserStatusesPutRequest(user_statuses=[])
    assert field_violations_of(await rpc_error(telephony.stub.PutUserStatuses(empty, metadata=telephony.service))) == [
        ("user_statuses", "at least one status is needed (a user who never chose has the first)")]
    checked = await telephony.stub.PutUserStatuses(
        pb.UserStatusesPutRequest(user_statuses=TABLE[:2], validate_only=True), metadata=telephony.service)
    assert checked.statuses == 0  # checked, nothing stored
    listed = await telephony.stub.ListUserStatuses(pb.UserStatusesListRequest(), metadata=telephony.service)
    assert list(listed.statuses) == TABLE

    await put_table(telephony, [TABLE[1], TABLE[0]])
    assert await current(telephony, alice.login) == "away"  # "gone" is no longer configured: the first


async def test_statuses_and_choices_survive_a_restart_and_the_defaults_come_first(
    nats_server: str, auth_service: ServiceProcess, database_factory: DatabaseFactory,
    service_launcher: ServiceLauncher,
) -> None:
    database = database_factory.create()

    def start() -> ServiceProcess:
        return service_launcher.start("services.telephony", "telephony", database_url=database.url,
                                      service_token=auth_service.service_token,
                                      extra_env={"XUC_AUTH_ADDRESS": auth_service.grpc_address})

    first = await asyncio.to_thread(start)
    async with telephony_client(first, auth_service) as telephony:
        defaults = await telephony.stub.ListUserStatuses(pb.UserStatusesListRequest(), metadata=telephony.service)
        assert [(s.name, s.long_name, s.color, [(a.name, a.parameters) for a in s.actions])
                for s in defaults.statuses] == [
            ("available", "Available", "#08FD20", [("enablednd", "false")]), ("away", "Away", "#FDE50A", []),
            ("outtolunch", "Out to lunch", "#001AFF", []),
            ("donotdisturb", "Do not disturb", "#FF032D", [("enablednd", "true")]),
            ("berightback", "Be right back", "#FFB545", [])]
        alice, bob = await telephony.new_user(), await telephony.new_user()
        assert await current(telephony, alice.login) == "available"
        await choose(telephony, alice.login, "outtolunch")
        await put_table(telephony, TABLE)
        await choose(telephony, bob.login, "pause")
    await asyncio.to_thread(first.stop)

    second = await asyncio.to_thread(start)
    async with telephony_client(second, auth_service) as telephony:
        listed = await telephony.stub.ListUserStatuses(pb.UserStatusesListRequest(), metadata=telephony.service)
        assert list(listed.statuses) == TABLE
        assert await current(telephony, bob.login) == "pause"
        assert await current(telephony, alice.login) == "available"  # outtolunch is no longer configured
