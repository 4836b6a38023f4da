"""NATS subjects: the key encoding, the Subject templates and the streams that hold them."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from xuc import subjects
from xuc.subjects import ALL_STREAMS, LOGIN_ATTEMPTED, USER_CHANGED, Subject, decode_token, encode_token

TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9_~-]+")
AWKWARD = ["", ".", "..", "*", ">", "a.b", "a*b>c", " ", "a b", "~", "~7E", "~~", "é", "日本語", "🙂", "\t\n", "-_"]


def matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` is exactly one token, a final `>` is one or more tokens."""
    pattern_tokens, subject_tokens = pattern.split("."), subject.split(".")
    for index, token in enumerate(pattern_tokens):
        if token == ">":
            return index == len(pattern_tokens) - 1 and len(subject_tokens) > index
        if index >= len(subject_tokens) or token not in ("*", subject_tokens[index]):
            return False
    return len(subject_tokens) == len(pattern_tokens)


def all_subjects() -> list[Subject]:
    return [value for value in vars(subjects).values() if isinstance(value, Subject)]


# --- the token encoding ------------------------------------------------------------------
@given(st.text())
@example("")
@example(".")
@example("*")
@example(">")
@example("a b.c")
@example("~")
@example("~7E")
@example("ünïcødé")
@example("🙂.>")
def test_a_token_decodes_to_what_was_encoded(value: str) -> None:
    assert decode_token(encode_token(value)) == value


@given(st.text())
@example("")
@example("a.b")
@example("*>~ é")
def test_a_token_is_one_safe_subject_token(value: str) -> None:
    token = encode_token(value)
    assert TOKEN_CHARACTERS.fullmatch(token), token
    assert "." not in token
    assert token not in ("*", ">")


@given(st.text(), st.text())
def test_different_values_make_different_tokens(first: str, second: str) -> None:
    if first != second:
        assert encode_token(first) != encode_token(second)


@pytest.mark.parametrize("value", ["alice", "Bob_01", "a-b", "ABCxyz0123456789"])
def test_safe_characters_are_kept_as_they_are(value: str) -> None:
    assert encode_token(value) == value


@pytest.mark.parametrize(
    ("value", "token"),
    [("", "~"), (".", "~2E"), ("a.b", "a~2Eb"), ("~", "~7E"), (" ", "~20"), ("é", "~C3~A9"), ("*>", "~2A~3E")],
)
def test_unsafe_characters_become_utf8_bytes(value: str, token: str) -> None:
    assert encode_token(value) == token


# --- subject templates ---------------------------------------------------------------------
@given(st.text())
@example("")
@example("john.doe@example.com")
@example("*")
@example(">")
def test_a_key_survives_a_subject(key: str) -> None:
    for subject in all_subjects():
        concrete = subject.for_key(key)
        assert subject.key_of(concrete) == key
        assert concrete.count(".") == subject.prefix.count(".") + 1
        assert matches(subject.all, concrete)


@pytest.mark.parametrize("key", AWKWARD)
def test_a_subject_matches_only_its_own_wildcard(key: str) -> None:
    for subject in all_subjects():
        concrete = subject.for_key(key)
        assert [other for other in all_subjects() if matches(other.all, concrete)] == [subject]


def test_all_is_the_one_token_wildcard_under_the_prefix() -> None:
    assert LOGIN_ATTEMPTED.all == "xuc.auth.login.*"
    assert USER_CHANGED.for_key("alice") == "xuc.auth.user.alice"


@pytest.mark.parametrize(
    "foreign",
    [
        "xuc.auth.user.alice",  # another subject's
        "xuc.auth.login",  # the prefix alone
        "xuc.auth.login.alice.extra",  # one token too many
        "xuc.auth.loginx.alice",
        "other.xuc.auth.login.alice",
        "",
    ],
)
def test_key_of_rejects_a_foreign_subject(foreign: str) -> None:
    with pytest.raises(ValueError, match=r"is not a xuc\.auth\.login subject"):
        LOGIN_ATTEMPTED.key_of(foreign)


# --- the catalogue as a whole ---------------------------------------------------------------
def test_subject_prefixes_are_unique() -> None:
    prefixes = [subject.prefix for subject in all_subjects()]
    assert prefixes
    assert len(prefixes) == len(set(prefixes))
    for prefix in prefixes:
        assert not any(token in ("", "*", ">") for token in prefix.split(".")), prefix


def test_the_auth_stream_holds_every_auth_subject() -> None:
    stream = subjects.auth_stream()
    assert stream.name == subjects.AUTH_STREAM
    assert stream.subjects == ["xuc.auth.>"]


@pytest.mark.parametrize("key", ["alice", "", "a.b"])
def test_every_subject_is_held_by_exactly_one_stream(key: str) -> None:
    streams = [factory() for factory in ALL_STREAMS]
    for subject in all_subjects():
        holders = [
            stream.name
            for stream in streams
            if any(matches(pattern, subject.for_key(key)) for pattern in stream.subjects or ())
        ]
        assert len(holders) == 1, (subject.prefix, holders)


def test_stream_names_are_unique() -> None:
    names = [factory().name for factory in ALL_STREAMS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("xuc.auth.>", "xuc.auth.login.alice", True),
        ("xuc.auth.>", "xuc.auth", False),
        ("xuc.auth.login.*", "xuc.auth.login.alice", True),
        ("xuc.auth.login.*", "xuc.auth.login.alice.b", False),
        ("xuc.auth.login.*", "xuc.auth.login", False),
        ("xuc.contacts.>", "xuc.auth.login.alice", False),
    ],
)
def test_the_subject_matcher_of_these_tests(pattern: str, subject: str, expected: bool) -> None:
    assert matches(pattern, subject) is expected
