"""Presence statuses (services/telephony/domain/presence.py): the defaults, the rules of a status
table (every violation at its path), what choosing a status does, and whose status is what."""

from __future__ import annotations

import pytest

from services.telephony.domain.errors import InvalidUserStatuses, UnknownUserStatus
from services.telephony.domain.presence import (
    DEFAULT_STATUSES,
    KNOWN_ACTIONS,
    Effect,
    StatusAction,
    StatusTable,
    UserStatus,
    check_statuses,
)


def violations(statuses: list[UserStatus]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidUserStatuses) as raised:
        check_statuses(statuses)
    return [(violation.field, violation.message) for violation in raised.value.violations]


def test_the_defaults_are_the_five_of_the_original_and_pass_their_own_rules() -> None:
    check_statuses(list(DEFAULT_STATUSES))
    assert [(status.name, status.long_name, status.color) for status in DEFAULT_STATUSES] == [
        ("available", "Available", "#08FD20"), ("away", "Away", "#FDE50A"), ("outtolunch", "Out to lunch", "#001AFF"),
        ("donotdisturb", "Do not disturb", "#FF032D"), ("berightback", "Be right back", "#FFB545")]
    table = StatusTable()
    assert table.find("donotdisturb").effects() == [Effect.DND_ON]
    assert table.find("available").effects() == [Effect.DND_OFF]
    assert table.find("away").effects() == []


def test_actions_become_effects_in_their_order() -> None:
    status = UserStatus("meeting", "In a meeting", "#123456", (
        StatusAction("queuepause_all", "true"), StatusAction("enablednd"), StatusAction("agentlogoff", "x")))
    assert status.effects() == [Effect.AGENT_PAUSE, Effect.DND_ON, Effect.AGENT_LOGOUT]
    assert UserStatus("back", "Back", "#000000", (StatusAction("queueunpause_all"),
                                                  StatusAction("enablednd", " False "))).effects() == [
        Effect.AGENT_UNPAUSE, Effect.DND_OFF]
    assert set(KNOWN_ACTIONS) == {"enablednd", "agentlogoff", "queuepause_all", "queueunpause_all"}


def test_every_rule_broken_is_reported_at_its_path() -> None:
    statuses = [
        UserStatus("ok", "Fine", "#00ff00"),
        UserStatus("bad name", "", "green", (StatusAction("dance"), StatusAction("enablednd", "maybe"))),
        UserStatus("ok", "Again", "#00FF00", (StatusAction("agentlogoff"), StatusAction("agentlogoff"),
                                              StatusAction("queuepause_all", "p" * 129))),
        UserStatus("", "x" * 129, "#12345"),
    ]

    assert violations(statuses) == [
        ("user_statuses[1].name", "a status name must be 1 to 64 letters, digits, _ or -, got 'bad name'"),
        ("user_statuses[1].long_name", "a long name must be 1 to 128 characters"),
        ("user_statuses[1].color", "a colour must be written #RRGGBB (hexadecimal), got 'green'"),
        ("user_statuses[1].actions[0].name",
         "unknown action 'dance' (known: enablednd, agentlogoff, queuepause_all, queueunpause_all)"),
        ("user_statuses[1].actions[1].parameters", "enablednd takes \"true\" (or nothing) or \"false\", got 'maybe'"),
        ("user_statuses[2].name", "duplicate status 'ok' (also at index 0)"),
        ("user_statuses[2].actions[1].name", "duplicate action 'agentlogoff' (also at index 0)"),
        ("user_statuses[2].actions[2].parameters", "parameters must be at most 128 characters"),
        ("user_statuses[3].name", "a status name must be 1 to 64 letters, digits, _ or -, got ''"),
        ("user_statuses[3].long_name", "a long name must be 1 to 128 characters"),
        ("user_statuses[3].color", "a colour must be written #RRGGBB (hexadecimal), got '#12345'"),
    ]


def test_an_empty_table_is_refused() -> None:
    assert violations([]) == [
        ("user_statuses", "at least one status is needed (a user who never chose has the first)")]


def test_a_long_name_too_long_or_a_name_too_long_is_refused() -> None:
    assert [field for field, _ in violations([UserStatus("n" * 65, "N", "#000000")])] == ["user_statuses[0].name"]
    check_statuses([UserStatus("n" * 64, "N" * 128, "#abcdef")])


def test_the_table_finds_a_status_or_says_which_are_configured() -> None:
    table = StatusTable.of([UserStatus("in", "In", "#000000"), UserStatus("out", "Out", "#FFFFFF")])
    assert table.find("out").long_name == "Out"
    with pytest.raises(UnknownUserStatus, match=r"No user status 'away' \(configured: in, out\)"):
        table.find("away")
    with pytest.raises(UnknownUserStatus, match="No status given"):
        table.find("")


def test_a_user_who_never_chose_or_whose_choice_is_gone_has_the_first_status() -> None:
    table = StatusTable.of([UserStatus("in", "In", "#000000"), UserStatus("out", "Out", "#FFFFFF")])
    assert table.current(None).name == "in"
    assert table.current("out").name == "out"
    assert table.current("away").name == "in"  # configured before, no longer
    assert StatusTable.of([]).current(None).name == "available"  # nothing stored: the defaults
