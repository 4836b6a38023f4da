"""benchmarks/cti_analysis.py: frames read by the CTI benchmark's clients matched against the calls
the driver made (latencies, lost frames, per-user order)."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.cti_analysis import match, order_kept, percentile

LINES = {"bench001": "1001", "bench002": "1002"}


def call(line: str, unique_id: str, place: float, hangup: float | None = None) -> dict[str, Any]:
    """A call as benchmarks/event_driver.py reports it: each RPC answered 1 ms after it was sent."""
    return {"line": line, "unique_id": unique_id, "place": [place - 0.001, place],
            "hangup": None if hangup is None else [hangup - 0.001, hangup], "error": ""}


def frames_of(unique_id: str, place: float, hangup: float, delay: float = 0.002) -> list[list[Any]]:
    """The four frames a call makes at its user's socket, each `delay` s after its RPC's answer."""
    return [[place + delay, "PhoneEvent", "EventRinging", unique_id, ""],
            [place + delay, "PhoneStatusUpdate", "", "", "RINGING"],
            [hangup + delay, "PhoneEvent", "EventReleased", unique_id, ""],
            [hangup + delay, "PhoneStatusUpdate", "", "", "AVAILABLE"]]


def test_every_frame_matched_with_its_latency() -> None:
    calls = [call("1001", "a1", 10.0, 10.1), call("1002", "b1", 10.05, 10.15), call("1001", "a2", 12.0, 12.1)]
    frames = {"bench001": frames_of("a1", 10.0, 10.1) + frames_of("a2", 12.0, 12.1),
              "bench002": frames_of("b1", 10.05, 10.15)}

    figures = match(calls, frames, LINES)

    assert (figures["expected"], figures["matched"], figures["lost"]) == (12, 12, 0)
    assert figures["users_out_of_order"] == 0
    assert figures["p50_ms"] == pytest.approx(2.0)
    assert figures["from_sent"]["p99_ms"] == pytest.approx(3.0)


def test_missing_frames_are_lost() -> None:
    calls = [call("1001", "a1", 10.0, 10.1), call("1001", "a2", 12.0, 12.1)]
    frames = {"bench001": frames_of("a1", 10.0, 10.1)[:3] + frames_of("a2", 12.0, 12.1)[1:]}

    figures = match(calls, frames, LINES)

    assert (figures["matched"], figures["lost"]) == (6, 2)


def test_a_call_whose_hangup_failed_expects_its_ringing_only() -> None:
    calls = [{**call("1001", "a1", 10.0), "error": "DEADLINE_EXCEEDED: slow"}]

    figures = match(calls, {"bench001": frames_of("a1", 10.0, 10.1)[:2]}, LINES)

    assert (figures["expected"], figures["lost"], figures["failed_calls"]) == (2, 0, 1)


def test_phone_events_out_of_call_order_are_told() -> None:
    first, second = frames_of("a1", 10.0, 10.1), frames_of("a2", 12.0, 12.1)
    expected = [("a1", "EventRinging"), ("a1", "EventReleased"), ("a2", "EventRinging"), ("a2", "EventReleased")]

    assert order_kept(first + second, expected)
    assert not order_kept(second[:1] + first + second[1:], expected)


def test_statuses_must_alternate() -> None:
    read = frames_of("a1", 10.0, 10.1)
    read[1], read[3] = read[3], read[1]  # AVAILABLE before RINGING

    assert not order_kept(read, [("a1", "EventRinging"), ("a1", "EventReleased")])


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(value) for value in range(1, 101)]

    assert (percentile(values, 0.5), percentile(values, 0.99), percentile([], 0.5)) == (50.0, 99.0, 0.0)
