"""The NATS users of the system against a real nats-server configured as `xuc up` configures it.

Each component's user can do its process's job on NATS (its stream, its subjects, following the
user changes, telephony's lease bucket, the gateway's webhook consumer) and nothing of another's;
the subscriber reads everything and changes nothing; without credentials nothing is possible.
A refusal is the server's permissions error on the connection, awaited as such.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig

from gateway.event_forwarder import EventForwarder
from services.telephony.adapters.nats_lease import NatsPbxLease, open_bucket
from tests.support.events import stored_messages
from tests.support.nats_users import AuthorizingNats, WatchedConnection, refused_connection
from tests.support.webhook_receiver import WebhookReceiver, username_is
from xuc import nats_config, subjects
from xuc.runtime import nats
from xuc.runtime.nats_credentials import NatsLogin, read_credentials
from xuc.runtime.revocations import RevocationFollower
from xuc.security.revocations import Revocations
from xucproto.events.v1 import auth_events_pb2
from xucproto.events.v1.telephony_events_pb2 import PhoneEvent, UndeliveredEvent

WITHIN_SECONDS = 15.0
# Another component's subjects, by component: what each must not publish to.
OWN_SUBJECTS = {"auth": "xuc.auth.user.someone", "contacts": "xuc.contacts.contact.someone",
                "telephony": "xuc.telephony.phone.someone", "gateway": "xuc.webhook.dead.someone"}
OWN_STREAMS = {"auth": subjects.auth_stream, "contacts": subjects.contacts_stream,
               "telephony": subjects.telephony_stream, "gateway": subjects.webhook_dead_stream}
NOT_AUTH = ("contacts", "telephony", "gateway")
Connector = Callable[[str | None], Awaitable[WatchedConnection]]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthorizingNats]:
    running = AuthorizingNats.start(tmp_path_factory.mktemp("nats-users"))
    try:
        yield running
    finally:
        running.stop()


async def component(server: AuthorizingNats, name: str) -> Client:
    """Connected as the component's process connects (xuc/runtime/nats.py)."""
    return await nats.connect(server.url, f"xuc-{name}", server.login(name))


@pytest.fixture
async def streams(server: AuthorizingNats) -> None:
    """Every stream, each created (or confirmed) by the component that publishes to it."""
    for name, stream in OWN_STREAMS.items():
        connection = await component(server, name)
        try:
            await nats.ensure_stream(connection.jetstream(), stream())
        finally:
            await connection.close()


@pytest.fixture
async def connect(server: AuthorizingNats) -> AsyncIterator[Connector]:
    opened: list[WatchedConnection] = []

    async def open_as(user: str | None) -> WatchedConnection:
        watched = await server.connect(user)
        opened.append(watched)
        return watched

    yield open_as
    for watched in opened:
        await watched.close()


def user_changed(login: str, change: str = "updated") -> tuple[str, bytes]:
    return (subjects.USER_CHANGED.for_key(login),
            auth_events_pb2.UserChanged(login=login, change=change).SerializeToString())


# --- without credentials --------------------------------------------------------------------------
async def test_a_connection_without_credentials_is_refused(server: AuthorizingNats) -> None:
    assert "authorization" in await refused_connection(server.url)


async def test_a_wrong_password_is_refused(server: AuthorizingNats) -> None:
    assert "authorization" in await refused_connection(server.url, user="subscriber", password="guessed")


async def test_a_component_with_refused_credentials_stops_trying_and_says_why(server: AuthorizingNats) -> None:
    with pytest.raises(nats.CredentialsRefused, match="NATS refused user 'auth'"):
        await nats.connect(server.url, "xuc-auth", NatsLogin("auth", "not-its-password"))
    with pytest.raises(nats.CredentialsRefused, match="without credentials"):
        await nats.connect(server.url, "xuc-auth")


# --- the components -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", nats_config.COMPONENTS)
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
                                               for other in nats_config.COMPONENTS if other != name])
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


# --- the gateway's webhook forwarder ----------------------------------------------------------------
def phone_event(username: str) -> tuple[str, bytes, dict[str, str]]:
    event = PhoneEvent(username=username, event_type="EventRinging", dn="1000", event_id=uuid.uuid4().hex)
    return (subjects.PHONE_EVENT.for_key(username), event.SerializeToString(),
            {subjects.EVENT_TYPE_HEADER: PhoneEvent.DESCRIPTOR.full_name, "Nats-Msg-Id": event.event_id})


@pytest.fixture
async def forwarder(server: AuthorizingNats, streams: None) -> AsyncIterator[tuple[EventForwarder, WebhookReceiver]]:
    """The gateway's forwarder, as the gateway user, on the real webhook consumer."""
    connection = await component(server, "gateway")
    async with WebhookReceiver() as receiver:
        forwarding = EventForwarder(connection, receiver.url, timeout_seconds=1.0, initial_backoff_seconds=0.05,
                                    max_backoff_seconds=0.1, max_attempts=2)
        await forwarding.start()
        try:
            yield forwarding, receiver
        finally:
            await forwarding.stop()
            await connection.close()


async def test_the_gateway_posts_phone_events_and_sets_refused_ones_aside(
        server: AuthorizingNats, forwarder: tuple[EventForwarder, WebhookReceiver], connect: Connector) -> None:
    forwarding, receiver = forwarder
    telephony = await component(server, "telephony")
    delivered, refused = f"posted-{uuid.uuid4().hex[:6]}", f"refused-{uuid.uuid4().hex[:6]}"
    receiver.respond(400, when=username_is(refused))
    try:
        for username in (delivered, refused):
            subject, payload, headers = phone_event(username)
            await telephony.jetstream().publish(subject, payload, headers=headers)
    finally:
        await telephony.close()
    assert [body["username"] for body in await receiver.wait_for_deliveries(1, WITHIN_SECONDS, delivered)] == \
        [delivered]
    subscriber = await connect("subscriber")
    (dead,) = await stored_messages(subscriber.connection.jetstream(), subjects.WEBHOOK_DEAD.for_key(refused), 1,
                                    within=WITHIN_SECONDS)
    assert UndeliveredEvent.FromString(dead.data).subject == subjects.PHONE_EVENT.for_key(refused)
    await forwarding.sample_lag()  # the consumer's state, as the gateway reads it


class _SetOnRecord(logging.Handler):
    """Sets an event when a record with this message is logged (the forwarder runs in this loop)."""

    def __init__(self, event: asyncio.Event, message: str) -> None:
        super().__init__(logging.WARNING)
        self._event, self._message = event, message

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(self._message):
            self._event.set()


async def test_the_forwarder_ignores_messages_another_consumer_pushes_to_it(
        server: AuthorizingNats, forwarder: tuple[EventForwarder, WebhookReceiver], connect: Connector) -> None:
    """A user allowed to create consumers may make one deliver to the webhook's subject: replayed
    events would be posted again, acked to that consumer. The forwarder takes only its own's."""
    _, receiver = forwarder
    replayed, genuine = f"replayed-{uuid.uuid4().hex[:6]}", f"genuine-{uuid.uuid4().hex[:6]}"
    telephony = await component(server, "telephony")
    subscriber = await connect("subscriber")
    ignored = asyncio.Event()
    handler = _SetOnRecord(ignored, "event forwarder: a message from another consumer, ignored")
    logging.getLogger("gateway.event_forwarder").addHandler(handler)
    try:
        subject, payload, headers = phone_event(replayed)
        await telephony.jetstream().publish(subject, payload, headers=headers)
        await receiver.wait_for_deliveries(1, WITHIN_SECONDS, replayed)  # posted once, acked
        await subscriber.connection.jetstream().add_consumer(subjects.TELEPHONY_STREAM, ConsumerConfig(
            name=f"replay-{uuid.uuid4().hex[:6]}", filter_subject=subject, deliver_policy=DeliverPolicy.ALL,
            deliver_subject=subjects.webhook_deliver_subject(), deliver_group=subjects.WEBHOOK_DELIVER_GROUP,
            ack_policy=AckPolicy.NONE))
        await asyncio.wait_for(ignored.wait(), WITHIN_SECONDS)
        subject, payload, headers = phone_event(genuine)
        await telephony.jetstream().publish(subject, payload, headers=headers)
    finally:
        logging.getLogger("gateway.event_forwarder").removeHandler(handler)
        await telephony.close()
    await receiver.wait_for_deliveries(1, WITHIN_SECONDS, genuine)
    assert len(receiver.bodies(replayed)) == 1  # not posted again


# --- the subscriber ------------------------------------------------------------------------------
async def test_the_subscriber_reads_the_events_of_every_stream(server: AuthorizingNats, streams: None,
                                                              connect: Connector) -> None:
    auth, telephony = await component(server, "auth"), await component(server, "telephony")
    subscriber = await connect("subscriber")
    js = subscriber.connection.jetstream()
    username = f"read-{uuid.uuid4().hex[:6]}"
    live = await subscriber.connection.subscribe("xuc.>")
    try:
        phone = await js.pull_subscribe(subjects.PHONE_EVENT.all, durable=f"crm-{username}",
                                        stream=subjects.TELEPHONY_STREAM,
                                        config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW))
        subject, payload, headers = phone_event(username)
        await telephony.jetstream().publish(subject, payload, headers=headers)
        (message,) = await phone.fetch(1, timeout=WITHIN_SECONDS)
        assert PhoneEvent.FromString(message.data).username == username
        await message.ack()
        while (await live.next_msg(timeout=WITHIN_SECONDS)).subject != subject:
            pass  # another test's event
        # The login attempts too: the subscriber is the operator's integration (docs/events.md).
        login_subject = subjects.LOGIN_ATTEMPTED.for_key(username)
        await auth.jetstream().publish(login_subject, b"attempt")
        (attempt,) = await stored_messages(js, login_subject, 1, within=WITHIN_SECONDS)
        assert attempt.data == b"attempt"
        stored = await js.get_msg(subjects.TELEPHONY_STREAM, message.metadata.sequence.stream)
        assert stored.subject == subject
    finally:
        await auth.close()
        await telephony.close()


@pytest.mark.parametrize("subject", ["xuc.auth.user.alicej", "xuc.telephony.phone.alicej", "xuc.other"])
async def test_the_subscriber_publishes_no_event(connect: Connector, subject: str) -> None:
    subscriber = await connect("subscriber")
    await subscriber.connection.publish(subject, b"forged")
    await subscriber.refused(f'publish to "{subject}"')


async def test_the_subscriber_changes_no_stream(streams: None, connect: Connector) -> None:
    subscriber = await connect("subscriber")
    js = subscriber.connection.jetstream()
    stream = subjects.AUTH_STREAM
    await subscriber.refused_while(js.delete_stream(stream), f"$js.api.stream.delete.{stream}")
    await subscriber.refused_while(js.purge_stream(stream), f"$js.api.stream.purge.{stream}")
    await subscriber.refused_while(js.update_stream(subjects.auth_stream()), f"$js.api.stream.update.{stream}")
    await subscriber.refused_while(js.delete_msg(stream, 1), f"$js.api.stream.msg.delete.{stream}")
    await subscriber.refused_while(js.add_stream(StreamConfig(name="STOLEN", subjects=["xuc.>"])),
                                   "$js.api.stream.create.stolen")


async def test_the_subscriber_cannot_take_the_webhook_consumer_over(
        server: AuthorizingNats, forwarder: tuple[EventForwarder, WebhookReceiver], connect: Connector) -> None:
    subscriber = await connect("subscriber")
    js, stream, name = subscriber.connection.jetstream(), subjects.TELEPHONY_STREAM, subjects.WEBHOOK_CONSUMER
    steal = {"name": name, "deliver_subject": "_INBOX.stolen", "deliver_group": subjects.WEBHOOK_DELIVER_GROUP,
             "ack_policy": "explicit", "deliver_policy": "new", "filter_subjects": sorted(subjects.WEBHOOK_SUBJECTS)}

    def request(subject: str, config: dict[str, object]) -> Awaitable[Msg]:
        return subscriber.connection.request(subject, json.dumps({"stream_name": stream, "config": config}).encode(),
                                             timeout=WITHIN_SECONDS)

    # Without a name in the subject, the server would update the consumer the body names.
    await subscriber.refused_while(request(f"$JS.API.CONSUMER.CREATE.{stream}", steal),
                                   f'publish to "$js.api.consumer.create.{stream}"')
    await subscriber.refused_while(request(f"$JS.API.CONSUMER.CREATE.{stream}.{name}", steal),
                                   f"$js.api.consumer.create.{stream}.{name}")
    await subscriber.refused_while(request(f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{name}",
                                           {**steal, "durable_name": name}),
                                   f"$js.api.consumer.durable.create.{stream}.{name}")
    await subscriber.refused_while(js.delete_consumer(stream, name), f"$js.api.consumer.delete.{stream}.{name}")
    # Another name in the subject: a consumer of its own, whatever the body says.
    other = await request(f"$JS.API.CONSUMER.CREATE.{stream}.other-{uuid.uuid4().hex[:6]}", steal)
    answer = json.loads(other.data)
    assert answer.get("error") or answer["name"] != name
    gateway = await component(server, "gateway")
    try:
        info = await gateway.jetstream().consumer_info(stream, name)
    finally:
        await gateway.close()
    assert info.config.deliver_subject == subjects.webhook_deliver_subject()


def test_every_user_has_a_permission_block(tmp_path: Path) -> None:
    credentials = tmp_path / nats_config.CREDENTIALS_FILE
    assert nats_config.create_credentials(credentials)
    assert not nats_config.create_credentials(credentials)  # never overwritten
    users = nats_config.authorization(read_credentials(credentials))["users"]
    assert [user["user"] for user in users] == list(nats_config.USERS)
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"
