"""Each component's NATS user can do its process's job (its stream, its subjects, following the user
changes and token revocations, telephony's lease bucket, contacts' cache) and nothing of another's."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from nats import errors as nats_errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.telephony.adapters.nats_lease import NatsPbxLease, open_bucket
from tests.support.nats_permissions import (
    NOT_AUTH,
    OWN_STREAMS,
    OWN_SUBJECTS,
    WITHIN_SECONDS,
    Connector,
    component,
    user_changed,
)
from tests.support.nats_users import AuthorizingNats
from xuc import nats_config, subjects
from xuc.runtime import nats
from xuc.runtime.revocations import RevocationFollower
from xuc.security.revocations import Revocations
from xucproto.events.v1 import auth_events_pb2


# --- the components -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", OWN_STREAMS)
async def test_each_component_creates_its_stream_and_publishes_its_events(server: AuthorizingNats,
                                                                        name: str) -> None:
    connection = await component(server, name)
    try:
        js = connection.jetstream()
        await nats.ensure_stream(js, OWN_STREAMS[name]())
        ack = await js.publish(OWN_SUBJECTS[name], b"{}", headers={"Nats-Msg-Id": uuid.uuid4().hex})
        assert ack.stream == OWN_STREAMS[name]().name
    finally:
        await connection.close()


@pytest.mark.parametrize("name", nats_config.COMPONENTS)
async def test_each_component_follows_the_user_changes(server: AuthorizingNats, streams: None, name: str) -> None:
    follower, auth = await component(server, name), await component(server, "auth")
    received: asyncio.Queue[Msg] = asyncio.Queue()
    try:
        await nats.follow(follower, subjects.AUTH_STREAM, subjects.USER_CHANGED.all, received.put)
        subject, payload = user_changed(f"followed-by-{name}")
        await auth.jetstream().publish(subject, payload)
        message = await asyncio.wait_for(received.get(), WITHIN_SECONDS)
        assert (message.subject, message.data) == (subject, payload)
    finally:
        await follower.close()
        await auth.close()


@pytest.mark.parametrize("name", nats_config.COMPONENTS)
async def test_each_component_follows_the_token_revocations(server: AuthorizingNats, streams: None,
                                                            name: str) -> None:
    """xuc/runtime/revocations.py's follower, as each component's user: the revocation arrives."""
    follower_connection, auth = await component(server, name), await component(server, "auth")
    revocations = Revocations(3600)
    changed_at = int(time.time() * 1000)

    async def nothing_listed() -> list[tuple[str, int]]:
        return []

    follower = RevocationFollower(follower_connection, revocations, nothing_listed)
    try:
        await follower.start(within=WITHIN_SECONDS)
        event = auth_events_pb2.UserChanged(login=f"revoked-by-{name}", user_id=f"id-{name}", change="updated")
        event.credentials_changed_at.FromMilliseconds(changed_at)
        await auth.jetstream().publish(subjects.USER_CHANGED.for_key(event.login), event.SerializeToString())
        async with asyncio.timeout(WITHIN_SECONDS):
            while not revocations.refuses(f"id-{name}", changed_at - 1):  # noqa: ASYNC110 (a plain set)
                await asyncio.sleep(0.01)
    finally:
        await follower.close()
        await follower_connection.close()
        await auth.close()


async def test_a_follower_resumes_after_losing_its_consumer(server: AuthorizingNats, streams: None,
                                                           connect: Connector) -> None:
    """nats-py creates the ordered consumer again (after missed heartbeats), through the subject that
    carries its filter, the only one the component may use (under a new name: the old consumer may
    still exist when the reset follows a gap)."""
    follower, auth = await component(server, "telephony"), await component(server, "auth")
    subscriber = await connect("subscriber")
    received: asyncio.Queue[Msg] = asyncio.Queue()
    try:
        subscription = await nats.follow(follower, subjects.AUTH_STREAM, subjects.USER_CHANGED.all, received.put)
        first = subscription._consumer  # its name (the component may not ask the server for its consumers)
        await subscriber.connection.jetstream().delete_consumer(subjects.AUTH_STREAM, first)
        subject, payload = user_changed("after-the-loss")
        await auth.jetstream().publish(subject, payload)
        async with asyncio.timeout(60.0):  # two heartbeats (10 s) missed, then a reset
            # (It resumes after the last message it received: with none yet, from the stream's start.)
            while (await received.get()).data != payload:
                pass
    finally:
        await follower.close()
        await auth.close()


async def test_a_follower_resumes_after_a_gap_while_its_consumer_still_exists(server: AuthorizingNats,
                                                                            streams: None,
                                                                            connect: Connector) -> None:
    """A message out of sequence on the follower's delivery subject (here pushed there by another
    consumer, the subscriber's) makes nats-py create the ordered consumer again while the first one
    still exists: under the same name the server would refuse it, and the follower would hear nothing more."""
    follower, auth = await component(server, "telephony"), await component(server, "auth")
    subscriber = await connect("subscriber")
    received: asyncio.Queue[Msg] = asyncio.Queue()

    async def next_with(payload: bytes) -> None:
        async with asyncio.timeout(WITHIN_SECONDS):
            while (await received.get()).data != payload:
                pass

    try:
        subscription = await nats.follow(follower, subjects.AUTH_STREAM, subjects.USER_CHANGED.all, received.put)
        first, second = user_changed("before-the-gap"), user_changed("after-the-gap")
        await auth.jetstream().publish(*first)
        await next_with(first[1])
        await subscriber.connection.jetstream().add_consumer(subjects.AUTH_STREAM, ConsumerConfig(
            deliver_subject=subscription._sub.subject, filter_subject=first[0], deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE))  # its first message: consumer sequence 1 where 2 is expected
        await auth.jetstream().publish(*second)
        await next_with(second[1])
    finally:
        await follower.close()
        await auth.close()


@pytest.mark.parametrize("name", NOT_AUTH)
async def test_no_other_component_reads_the_login_attempts(server: AuthorizingNats, streams: None,
                                                           connect: Connector, name: str) -> None:
    watched = await connect(name)
    connection, js = watched.connection, watched.connection.jetstream()

    async def ignore(message: Msg) -> None:
        pass

    await watched.refused_while(nats.follow(connection, subjects.AUTH_STREAM, subjects.LOGIN_ATTEMPTED.all, ignore),
                                f'.{subjects.LOGIN_ATTEMPTED.all}"')
    # nats-py's own ordered consumer names no filter in its subject: it could pick any.
    await watched.refused_while(js.subscribe(subjects.LOGIN_ATTEMPTED.all, stream=subjects.AUTH_STREAM,
                                             ordered_consumer=True),
                                f'publish to "$js.api.consumer.create.{subjects.AUTH_STREAM}"')
    await connection.subscribe(subjects.LOGIN_ATTEMPTED.all)
    await watched.refused(f'subscription to "{subjects.LOGIN_ATTEMPTED.all}"')


@pytest.mark.parametrize(("name", "foreign"), [(name, OWN_SUBJECTS[other]) for name in nats_config.COMPONENTS
                                               for other in OWN_SUBJECTS if other != name])
async def test_a_component_publishes_only_its_own_subjects(connect: Connector, name: str, foreign: str) -> None:
    watched = await connect(name)
    await watched.connection.publish(foreign, b"forged")
    await watched.refused(f'publish to "{foreign}"')


async def test_telephony_holds_the_pbx_lease_in_its_bucket(server: AuthorizingNats) -> None:
    connection = await component(server, "telephony")
    try:
        lease = NatsPbxLease(await open_bucket(connection.jetstream(), 10.0, replicas=1), "pbx-test", "holder-1")
        revision = await lease.acquire()
        assert revision is not None
        renewed = await lease.renew(revision)
        assert renewed is not None
        assert await lease.holder() == "holder-1"
        await lease.release(renewed)
        assert await lease.holder() == ""
    finally:
        await connection.close()


async def test_contacts_hears_the_contacts_events_for_its_cache(server: AuthorizingNats, streams: None) -> None:
    connection = await component(server, "contacts")
    try:
        subscription = await connection.subscribe("xuc.contacts.contact.*")
        await connection.jetstream().publish("xuc.contacts.contact.owner", b"{}")
        assert (await subscription.next_msg(timeout=WITHIN_SECONDS)).subject == "xuc.contacts.contact.owner"
    finally:
        await connection.close()


@pytest.mark.parametrize("subject", [subjects.PHONE_EVENT.all, subjects.PHONE_STATUS.all, subjects.AGENT_STATE.all,
                                     subjects.USER_SERVICES.all, subjects.USER_STATUS.all, subjects.USER_CHANGED.all,
                                     subjects.FAVORITE_CHANGED.all])
async def test_the_gateway_hears_what_its_cti_sockets_show(server: AuthorizingNats, streams: None,
                                                           subject: str) -> None:
    connection = await component(server, "gateway")
    publisher = await component(server, subject.split(".")[1])  # the service that publishes it
    try:
        subscription = await connection.subscribe(subject)
        await connection.flush()
        sent = subject.replace("*", "someone")
        # What this checks is the permission: the subscription is allowed and its messages come.
        # Published again until one does (seen in CI under load and once here: one message of this
        # harness's never came, though the gateway's own deliveries lose none: tests/e2e/cti and
        # benchmarks/cti.py count them).
        deadline = asyncio.get_running_loop().time() + WITHIN_SECONDS
        while True:
            await publisher.publish(sent, b"{}")
            await publisher.flush()
            try:
                received = await subscription.next_msg(timeout=1.0)
                break
            except nats_errors.TimeoutError:
                assert asyncio.get_running_loop().time() < deadline, f"nothing on {sent}"
        assert received.subject == sent
    finally:
        await publisher.close()
        await connection.close()


@pytest.mark.parametrize("subject", [subjects.PUSH_REQUESTED.all, subjects.LOGIN_ATTEMPTED.all, "xuc.contacts.>",
                                     subjects.CONTACT_CHANGED.all])
async def test_the_gateway_hears_nothing_else(connect: Connector, subject: str) -> None:
    watched = await connect("gateway")
    await watched.connection.subscribe(subject)
    await watched.refused(f'subscription to "{subject}"')
