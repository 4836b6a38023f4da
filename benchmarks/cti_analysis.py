"""The pure part of benchmarks/cti.py: frames read by the clients matched against the calls the
driver made (benchmarks/event_driver.py), with their latencies, the lost ones and the order each
user saw them in.

Each call of a line is four frames at its user's socket: EventRinging and PhoneStatusUpdate RINGING
when PlaceCall was answered, EventReleased and PhoneStatusUpdate AVAILABLE when Hangup was. Phone
events are matched by (uniqueId, eventType); statuses by order (the n-th RINGING of a user is its
line's n-th call). A user's order is kept when its phone events came in the order of its calls
(Ringing then Released of each call, call after call) and its statuses alternate RINGING,
AVAILABLE; frames of one kind are compared with each other only (phone events and statuses are
published on two subjects, whose relative order NATS does not promise).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

# (RPC of the call, phone event, status name) of the frames each call makes at its user's socket
STEPS = (("place", "EventRinging", "RINGING"), ("hangup", "EventReleased", "AVAILABLE"))


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of values sorted ascending (0.0 for none)."""
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, max(0, int(len(sorted_values) * fraction + 0.5) - 1))]


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50_ms": round(percentile(ordered, 0.50), 2), "p99_ms": round(percentile(ordered, 0.99), 2),
            "max_ms": round(ordered[-1], 2) if ordered else 0.0,
            "mean_ms": round(statistics.fmean(ordered), 2) if ordered else 0.0}


def match(calls: list[dict[str, Any]], frames: dict[str, list[list[Any]]], line_of: dict[str, str]) -> dict[str, Any]:
    """`calls`: the driver's, in the order it made them ({line, unique_id, place: [sent, answered],
    hangup: [...], error}); `frames`: per login, what its socket read in arrival order ([arrival,
    msgType, eventType, uniqueId, status]); `line_of`: login -> line. Latencies are from the
    RPC's answer (and from its sending) to the frame's arrival, in ms."""
    login_of = {line: login for login, line in line_of.items()}
    phone: dict[str, dict[tuple[str, str], float]] = {}
    statuses: dict[str, dict[str, list[float]]] = {}
    other = 0
    for login, read in frames.items():
        phone[login], statuses[login] = {}, defaultdict(list)
        for arrived, msg_type, event_type, unique_id, status in read:
            if msg_type == "PhoneEvent":
                phone[login].setdefault((unique_id, event_type), arrived)
            elif msg_type == "PhoneStatusUpdate":
                statuses[login][status].append(arrived)
            else:
                other += 1
    from_answer: list[float] = []
    from_sent: list[float] = []
    expected = failed = 0
    nth: dict[tuple[str, str], int] = defaultdict(int)
    expected_order: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for call in calls:
        login = login_of[call["line"]]
        failed += bool(call["error"])
        for step, event_type, status in STEPS:
            rpc = call[step]
            if rpc is None:
                continue
            expected += 2
            expected_order[login].append((call["unique_id"], event_type))
            index = nth[(login, status)]
            nth[(login, status)] += 1
            arrivals = statuses.get(login, {}).get(status, [])
            for arrived in (phone.get(login, {}).get((call["unique_id"], event_type)),
                            arrivals[index] if index < len(arrivals) else None):
                if arrived is not None:
                    from_answer.append((arrived - rpc[1]) * 1000)
                    from_sent.append((arrived - rpc[0]) * 1000)
    disordered = sorted(login for login in frames if not order_kept(frames[login], expected_order.get(login, [])))
    return {"calls": len(calls), "failed_calls": failed, "expected": expected, "matched": len(from_answer),
            "lost": expected - len(from_answer), "other_frames": other,
            "users_out_of_order": len(disordered), "out_of_order_examples": disordered[:5],
            **summary(from_answer), "from_sent": summary(from_sent)}


def order_kept(read: list[list[Any]], expected: list[tuple[str, str]]) -> bool:
    """True when the phone events of `expected` came in its order and the statuses alternate
    RINGING, AVAILABLE (frames missing altogether are counted as lost, not here)."""
    wanted = set(expected)
    got = [(unique_id, event_type) for _, msg_type, event_type, unique_id, _ in read
           if msg_type == "PhoneEvent" and (unique_id, event_type) in wanted]
    present = set(got)
    if got != [key for key in expected if key in present]:
        return False
    names = [status for _, msg_type, _, _, status in read
             if msg_type == "PhoneStatusUpdate" and status in ("RINGING", "AVAILABLE")]
    return all(name == ("RINGING", "AVAILABLE")[index % 2] for index, name in enumerate(names))
