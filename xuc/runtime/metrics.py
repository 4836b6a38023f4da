"""Prometheus metrics of every process: each metric defined once, here (the default registry).

The gateway serves them at `GET /metrics` on its HTTP port; each gRPC service on its own HTTP
port (`XUC_METRICS_LISTEN`, the address in its ready file). Recording is on benchmarked paths, so
what records a label set is made once and kept: recording a request then costs a dict lookup, a
bisect and two additions, with no label objects built per request (see RequestMetrics).
Label values are bounded by construction: route templates (never raw paths), RPC method names,
status codes, event type names, a handful of outcomes.
"""

from __future__ import annotations

import asyncio
import logging
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import grpc
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import start_http_server
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST  # of what `render` returns
# No `_created` series beside every counter and histogram: half the scrape, and nothing a rate needs.
disable_created_metrics()  # type: ignore[no-untyped-call]
# From half a millisecond (a cached read) to 10 s (a large import, a stalled webhook receiver).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# --- requests: a counter and a histogram, recorded together ------------------------------------------
Recorder = Callable[[float], None]


class _Series:
    """One label set: observations per bucket (not cumulative; the last is above every bound)."""

    __slots__ = ("counts", "total_seconds")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * (buckets + 1)
        self.total_seconds = 0.0


class RequestMetrics:
    """`<name>_total` (a counter) and `<name>_duration_seconds`-style histogram over the same
    labels, as one collector of the default registry.

    prometheus_client's own Counter + Histogram cost ~3 us a request here (a lock per value, a
    linear scan of the buckets); a recorder is one bisect and two additions (~0.5 us). Recording
    happens on the event loop's thread only; a scrape (another thread) copies the counts under the
    GIL, and derives the counter and the cumulative buckets from that one copy, so they agree."""

    def __init__(self, counter: str, histogram: str, documentation: tuple[str, str], labels: Sequence[str],
                 buckets: Sequence[float] = LATENCY_BUCKETS, register: bool = True) -> None:
        self._names = (counter.removesuffix("_total"), histogram)
        self._documentation = documentation
        self._labels = tuple(labels)
        self._bounds = tuple(buckets)
        self._bucket_labels = [str(floatToGoString(bound)) for bound in self._bounds]  # type: ignore[no-untyped-call]
        self._series: dict[tuple[str, ...], _Series] = {}
        self._recorders: dict[tuple[str, ...], Recorder] = {}
        if register:
            REGISTRY.register(self)

    def recorder(self, *labels: str) -> Recorder:
        """The function recording one request of these labels (made once per label set)."""
        recorder = self._recorders.get(labels)
        if recorder is None:
            if len(labels) != len(self._labels):
                raise ValueError(f"expected labels {self._labels}, got {labels}")
            series = self._series[labels] = _Series(len(self._bounds))
            counts, bounds = series.counts, self._bounds

            def recorder(seconds: float) -> None:
                counts[bisect_left(bounds, seconds)] += 1  # the first bound >= seconds: `le`
                series.total_seconds += seconds

            self._recorders[labels] = recorder
        return recorder

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        counter, histogram = self._families()
        for labels, series in list(self._series.items()):
            counts, total_seconds = list(series.counts), series.total_seconds
            cumulative, buckets = 0, []
            for bound, count in zip(self._bucket_labels, counts, strict=False):
                cumulative += count
                buckets.append((bound, float(cumulative)))
            everything = float(cumulative + counts[-1])
            buckets.append(("+Inf", everything))
            counter.add_metric(labels, everything)
            histogram.add_metric(labels, buckets, total_seconds)
        yield counter
        yield histogram

    def _families(self) -> tuple[CounterMetricFamily, HistogramMetricFamily]:
        return (CounterMetricFamily(self._names[0], self._documentation[0], labels=self._labels),
                HistogramMetricFamily(self._names[1], self._documentation[1], labels=self._labels))


# --- the gateway's HTTP edge ------------------------------------------------------------------------
HTTP = RequestMetrics("xuc_http_requests_total", "xuc_http_request_duration_seconds", (
    "HTTP requests answered by the gateway",
    "Time to answer an HTTP request (until the last byte of the body was handed to the server)",
), ["route", "method", "status"])

# --- the services' gRPC edge ------------------------------------------------------------------------
GRPC = RequestMetrics("xuc_grpc_server_handled_total", "xuc_grpc_server_handling_seconds", (
    "RPCs completed by the server, by status code",
    "Time to handle an RPC (streams: until the last message)",
), ["grpc_service", "grpc_method", "grpc_code"])

# --- NATS -------------------------------------------------------------------------------------------
NATS_PUBLISHED = Counter("xuc_nats_published_total", "Events stored by JetStream (acknowledged)", ["event"])
NATS_PUBLISH_FAILURES = Counter("xuc_nats_publish_failures_total", "Events lost: dropped (the oldest) from a full "
                                "publish buffer during a NATS outage, or still held when the process stopped "
                                "(webhooks: also each failed attempt to store a dead letter, retried)", ["event"])
NATS_PUBLISH_BUFFERED = Gauge("xuc_nats_publish_buffered", "Events held by the process's publishers because "
                              "NATS did not take them (down, no ack): published again, in order, once it does")

# --- the webhook delivery (services/webhooks): every series by consumer ------------------------------
WEBHOOK_DELIVERIES = Counter("xuc_webhook_deliveries_total", "POSTs to the event URL by outcome: delivered "
                             "(2xx), failed (timeout, connection error, 5xx, 408, 429: retried unless it was the "
                             "last attempt), refused (other 3xx/4xx: final)", ["consumer", "outcome"])
WEBHOOK_DELIVERY_DURATION = Histogram("xuc_webhook_delivery_duration_seconds", "Time of one POST to the event URL, "
                                      "by outcome (as xuc_webhook_deliveries_total)", ["consumer", "outcome"],
                                      buckets=LATENCY_BUCKETS)
WEBHOOK_RETRIES = Counter("xuc_webhook_retries_total", "Failed POSTs followed by a back-off and another attempt",
                          ["consumer"])
WEBHOOK_DEAD_LETTERED = Counter("xuc_webhook_dead_lettered_total", "Events set aside in XUC_WEBHOOK_DEAD, by cause: "
                                "attempts (retries exhausted), refused (a final answer), backlog (the user's "
                                "backlog was full), invalid (undecodable), error (unexpected error)",
                                ["consumer", "cause"])
WEBHOOK_RECEIVED = Counter("xuc_webhook_events_received_total", "Messages taken from JetStream by the webhook "
                           "delivery, redeliveries included", ["consumer"])
WEBHOOK_SKIPPED = Counter("xuc_webhook_events_skipped_total", "Messages of a type the event URL does not receive, "
                          "acked without a POST", ["consumer"])
WEBHOOK_REDELIVERED = Counter("xuc_webhook_redeliveries_total", "Redeliveries of an event this process already "
                              "held: answered on the newest delivery, not posted twice", ["consumer"])
WEBHOOK_HELD = Gauge("xuc_webhook_events_held", "Events taken and not acked yet: posting, backing off, or waiting "
                     "behind their user's earlier ones", ["consumer"])
WEBHOOK_LANES = Gauge("xuc_webhook_lanes", "Users with events waiting (one lane each, delivered in order)",
                      ["consumer"])
EVENT_CONSUMER_PENDING = Gauge("xuc_event_consumer_pending", "Messages of the stream the consumer has not "
                               "delivered yet (JetStream num_pending; sampled)", ["consumer"])
EVENT_CONSUMER_ACK_PENDING = Gauge("xuc_event_consumer_ack_pending", "Messages delivered and not acknowledged yet "
                                   "(JetStream num_ack_pending; sampled)", ["consumer"])
# The outcome label of a POST for each outcome of an attempt (services/webhooks/domain/retries.py).
_POST_OUTCOMES = {"delivered": "delivered", "retry": "failed", "final": "refused"}
_DEAD_LETTER_CAUSES = ("attempts", "refused", "backlog", "invalid", "error")


class WebhookMetrics:
    """The webhook delivery's series of one consumer, looked up once: recording is an increment."""

    def __init__(self, consumer: str) -> None:
        self.received = WEBHOOK_RECEIVED.labels(consumer).inc
        self.skipped = WEBHOOK_SKIPPED.labels(consumer).inc
        self.redelivered = WEBHOOK_REDELIVERED.labels(consumer).inc
        self.retried = WEBHOOK_RETRIES.labels(consumer).inc
        self.held = WEBHOOK_HELD.labels(consumer)
        self.lanes = WEBHOOK_LANES.labels(consumer)
        self.pending = EVENT_CONSUMER_PENDING.labels(consumer)
        self.ack_pending = EVENT_CONSUMER_ACK_PENDING.labels(consumer)
        self._posts = {kind: (WEBHOOK_DELIVERIES.labels(consumer, outcome).inc,
                              WEBHOOK_DELIVERY_DURATION.labels(consumer, outcome).observe)
                       for kind, outcome in _POST_OUTCOMES.items()}
        self._dead = {cause: WEBHOOK_DEAD_LETTERED.labels(consumer, cause).inc for cause in _DEAD_LETTER_CAUSES}

    def posted(self, kind: str, seconds: float) -> None:
        """One POST: `kind` is the attempt's outcome (delivered, retry, final)."""
        count, observe = self._posts[kind]
        count()
        observe(seconds)

    def dead_lettered(self, cause: str) -> None:
        self._dead[cause]()


# --- the PBX (telephony) ----------------------------------------------------------------------------
PBX_CONNECTED = Gauge("xuc_pbx_connected", "1 while the connection to the PBX is up, 0 otherwise", ["kind"])


# --- the CTI WebSocket (gateway/cti/) ---------------------------------------------------------------
CTI_SOCKETS = Gauge("xuc_cti_sockets", "CTI WebSockets open on this gateway (logged on)")
CTI_MESSAGES = Counter("xuc_cti_messages_total", "CTI frames by msgType or command, and direction "
                       "(in: from clients, out: to clients)", ["type", "direction"])
CTI_SLOW_CLOSED = Counter("xuc_cti_slow_consumers_closed_total", "CTI sockets closed with 1013 because "
                          "their client did not read: their send queue was full")
CTI_ERRORS = Counter("xuc_cti_errors_total", "Error and LoggedOnError messages sent, by reason", ["reason"])


def render() -> bytes:
    """The metrics of this process in Prometheus' text format."""
    return generate_latest(REGISTRY)


# --- recording with cached children -----------------------------------------------------------------
class GrpcMethodMetrics:
    """The recorders of one RPC method, by status code (at most 17)."""

    def __init__(self, metrics: RequestMetrics, method: str) -> None:
        service, _, name = method.lstrip("/").partition("/")
        self._labels = (service, name)
        self._metrics = metrics
        self._by_code: dict[grpc.StatusCode, Recorder] = {}

    def record(self, code: grpc.StatusCode, seconds: float) -> None:
        recorder = self._by_code.get(code)
        if recorder is None:
            recorder = self._by_code[code] = self._metrics.recorder(*self._labels, code.name)
        recorder(seconds)


class GrpcServerMetrics:
    """`xuc_grpc_server_handled_total` and `xuc_grpc_server_handling_seconds`, per method."""

    def __init__(self) -> None:
        self._metrics = GRPC
        self._methods: dict[str, GrpcMethodMetrics] = {}

    def method(self, method: str) -> GrpcMethodMetrics:
        """Called with the methods a server implements only (unknown ones never reach a handler)."""
        found = self._methods.get(method)
        if found is None:
            found = self._methods[method] = GrpcMethodMetrics(self._metrics, method)
        return found


GRPC_SERVER = GrpcServerMetrics()


class PublishMetrics:
    """Published and failed counters by event type name (message names: a closed catalogue)."""

    def __init__(self) -> None:
        self._children: dict[str, tuple[Callable[..., None], Callable[..., None]]] = {}

    def _pair(self, event: str) -> tuple[Callable[..., None], Callable[..., None]]:
        pair = self._children.get(event)
        if pair is None:
            pair = self._children[event] = (NATS_PUBLISHED.labels(event).inc, NATS_PUBLISH_FAILURES.labels(event).inc)
        return pair

    def published(self, event: str) -> None:
        self._pair(event)[0]()

    def failed(self, event: str, count: int = 1) -> None:
        self._pair(event)[1](count)


NATS_PUBLISHING = PublishMetrics()


# --- a service's own metrics endpoint ---------------------------------------------------------------
def split_listen(listen: str) -> tuple[str, int]:
    """`host:port` (IPv6 in brackets) -> (host, port); ValueError if it is not one."""
    host, separator, port = listen.rpartition(":")
    if not separator or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"not a host:port address: {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def join_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class MetricsServer:
    """prometheus_client's HTTP exposition in a daemon thread: scrapes never wait on the event
    loop, and a busy loop does not make the endpoint look dead. Answers on any path (`/metrics`)."""

    def __init__(self, listen: str) -> None:
        host, port = split_listen(listen)
        self._httpd: Any
        self._httpd, self._thread = start_http_server(port, host)
        self.address = join_address(host, int(self._httpd.server_port))

    async def close(self) -> None:
        await asyncio.to_thread(self._httpd.shutdown)  # returns once the serving loop has stopped
        self._httpd.server_close()

