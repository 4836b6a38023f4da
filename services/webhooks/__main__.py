"""Composition root of the webhooks process: `python -m services.webhooks`.

Posts the phone events and phone status changes of telephony's stream to XUC_EVENT_URL
(docs/events.md, "Webhooks: the event URL"). Without an event URL it idles (ready, serving its
metrics): a deployment may declare the process always and set the URL later. It waits for
telephony's stream in the background, so that it starts (and is ready) before telephony has
created it.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

from services.webhooks.domain.bodies import loggable_url
from services.webhooks.entrypoints.event_forwarder import EventForwarder
from services.webhooks.entrypoints.http_status import StatusServer
from xuc import subjects
from xuc.runtime import bootstrap
from xuc.runtime.process import freeze_startup_objects, remove_ready_file, run, stop_signal, write_ready_file
from xuc.runtime.settings import Settings, WebhooksSettings
from xuc.tasks import cancel_all

log = logging.getLogger("webhooks")


async def main(settings: Settings) -> None:
    own = WebhooksSettings.from_env()
    stopping = stop_signal()
    failures: list[BaseException] = []
    forwarding = False
    async with AsyncExitStack() as stack:
        status = StatusServer(own.listen or "127.0.0.1:0", lambda: forwarding or not own.event_url)
        await status.start()
        stack.push_async_callback(status.close)
        if own.event_url:
            # The NATS connection closes last: the forwarder drains before it (the stack unwinds LIFO).
            # Its dead-letter stream with XUC_STREAM_REPLICAS copies (the forwarder's own check keeps them).
            events = await bootstrap.connect_events(stack, settings, "webhooks",
                                                    own_streams=[subjects.webhook_dead_stream()])
            forwarder = EventForwarder.from_settings(events.connection, own)

            async def start() -> None:
                nonlocal forwarding
                await forwarder.start()  # waits for telephony's stream if it is not there yet
                forwarding = True

            starting = asyncio.create_task(start())
            starting.add_done_callback(lambda task: _stop_on_failure(task, failures, stopping))

            async def stop() -> None:
                await cancel_all([starting])
                await forwarder.stop()

            stack.push_async_callback(stop)
        else:
            log.warning("XUC_EVENT_URL is not set: no event is posted (the process idles)")
        log.info("webhooks serving metrics", extra={"address": status.address,
                                                    "event_url": loggable_url(own.event_url) or "none"})
        write_ready_file(settings.ready_file, http=status.address, metrics=status.address)
        freeze_startup_objects()
        await stopping.wait()
        remove_ready_file(settings.ready_file)
    if failures:
        raise failures[0]  # the delivery could not start: the process stops (and says why)


def _stop_on_failure(task: asyncio.Task[None], failures: list[BaseException], stopping: asyncio.Event) -> None:
    if not task.cancelled() and task.exception() is not None:
        error = task.exception()
        assert error is not None
        log.error("the webhook delivery could not start: %s", error)
        failures.append(error)
        stopping.set()


if __name__ == "__main__":
    run("webhooks", main)
