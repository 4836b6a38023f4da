"""The webhooks process's NATS user holds its consumer and no one takes it over; the subscriber reads
the events of every stream and changes nothing."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable

import pytest
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig

from services.webhooks.entrypoints.event_forwarder import EventForwarder
from tests.support.events import stored_messages
from tests.support.nats_permissions import (
    JETSTREAM_LOGGER,
    WITHIN_SECONDS,
    Connector,
    _SetOnRecord,
    component,
    phone_event,
)
from tests.support.nats_users import AuthorizingNats
from tests.support.webhook_receiver import WebhookReceiver, username_is
from xuc import subjects
from xucproto.events.v1.telephony_events_pb2 import PhoneEvent, UndeliveredEvent


async def test_webhooks_posts_phone_events_and_sets_refused_ones_aside(
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
    await forwarding.sample_lag()  # the consumer's state, as the webhooks user reads it


async def test_the_forwarder_ignores_messages_another_consumer_pushes_to_it(
        server: AuthorizingNats, forwarder: tuple[EventForwarder, WebhookReceiver], connect: Connector) -> None:
    """A user allowed to create consumers may make one deliver to the webhook's subject: replayed
    events would be posted again, acked to that consumer. The forwarder takes only its own's."""
    _, receiver = forwarder
    replayed, genuine = f"replayed-{uuid.uuid4().hex[:6]}", f"genuine-{uuid.uuid4().hex[:6]}"
    telephony = await component(server, "telephony")
    subscriber = await connect("subscriber")
    ignored = asyncio.Event()
    handler = _SetOnRecord(ignored, "webhooks: a message from another consumer, ignored")
    logging.getLogger(JETSTREAM_LOGGER).addHandler(handler)
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
        logging.getLogger(JETSTREAM_LOGGER).removeHandler(handler)
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
    webhooks = await component(server, "webhooks")
    try:
        info = await webhooks.jetstream().consumer_info(stream, name)
    finally:
        await webhooks.close()
    assert info.config.deliver_subject == subjects.webhook_deliver_subject()
