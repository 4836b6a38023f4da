"""The pure rules of the webhook delivery: what an answer means, the back-off schedule, the
per-user lanes, the URL as logged."""

from __future__ import annotations

import pytest

from services.webhooks.domain.bodies import loggable_url
from services.webhooks.domain.lanes import UserLanes
from services.webhooks.domain.retries import Outcome, RetryPolicy, backoff_delay, outcome_of_status


@pytest.mark.parametrize(("status", "kind"), [
    (200, "delivered"), (204, "delivered"), (500, "retry"), (503, "retry"), (408, "retry"), (429, "retry"),
    (301, "final"), (400, "final"), (404, "final"),
])
def test_an_answer_delivers_is_retried_or_is_final(status: int, kind: str) -> None:
    outcome = outcome_of_status(status)

    assert outcome.kind == kind
    assert outcome.error == ("" if kind == "delivered" else f"HTTP {status}")


def test_backoff_doubles_up_to_the_maximum() -> None:
    delays = [backoff_delay(attempt, 0.5, 30.0, jitter=0.0) for attempt in range(1, 10)]

    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff_delay(10_000, 0.5, 30.0, jitter=0.0) == 30.0


def test_backoff_jitter_shortens_by_at_most_a_quarter() -> None:
    assert backoff_delay(3, 0.5, 30.0, jitter=0.999) == pytest.approx(2.0 * 0.75, rel=1e-3)


def test_the_policy_gives_up_on_a_final_answer_at_once_and_on_failures_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, initial_backoff_seconds=0.5, max_backoff_seconds=30.0)
    failed = Outcome("retry", "HTTP 503")

    assert policy.gives_up(Outcome("final", "HTTP 400"), 1) == "refused"
    assert [policy.gives_up(failed, attempt) for attempt in (1, 2, 3)] == [None, None, "attempts"]
    assert policy.delay(2, jitter=0.0) == 1.0


@pytest.mark.parametrize("options", [{"max_attempts": 0}, {"initial_backoff_seconds": 0.0},
                                     {"max_backoff_seconds": -1.0}])
def test_the_policy_refuses_values_it_cannot_use(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RetryPolicy(**options)  # type: ignore[arg-type]


def test_lanes_keep_each_users_order_and_open_once_per_user() -> None:
    lanes: UserLanes[int] = UserLanes(max_backlog=10)

    opened = [lanes.push(user, number) for number, user in enumerate(["ann", "ben", "ann", "ann", "ben"])]

    assert opened == [True, True, False, False, False]  # one runner per user
    assert len(lanes) == 2
    taken = []
    while (head := lanes.head("ann")) is not None:
        taken.append(head)
        lanes.pop("ann")
    assert taken == [0, 2, 3]
    assert len(lanes) == 1  # ann's lane closed once empty
    assert lanes.push("ann", 9) is True


def test_a_lane_is_full_at_its_backlog_bound_for_that_user_only() -> None:
    lanes: UserLanes[int] = UserLanes(max_backlog=2)
    lanes.push("slow", 1)
    assert not lanes.is_full("slow")
    lanes.push("slow", 2)

    assert lanes.is_full("slow")
    assert not lanes.is_full("fast")
    with pytest.raises(ValueError, match="at least 1"):
        UserLanes(max_backlog=0)


@pytest.mark.parametrize(("url", "logged"), [
    ("http://receiver.example/events", "http://receiver.example/events"),
    ("https://user:secret@receiver.example:8443/hook?token=abc#x", "https://receiver.example:8443/hook"),
    ("http://[::1]:9000/e?k=v", "http://[::1]:9000/e"),
])
def test_the_event_url_is_logged_without_its_secrets(url: str, logged: str) -> None:
    assert loggable_url(url) == logged
