"""The directory's pure rules (services/contacts/domain/directory.py): search terms, favorites'
names, how users match, order and truncation."""

from __future__ import annotations

import pytest

from services.contacts.domain.contacts import search_terms
from services.contacts.domain.directory import (
    INTERNAL,
    MAX_TERM,
    PERSONAL,
    DirectoryEntry,
    DirectoryUser,
    FavoriteRef,
    checked_favorite,
    checked_term,
    first_entries,
    matching_users,
)
from services.contacts.domain.errors import InvalidDirectorySearch, InvalidFavorite

BOB = DirectoryUser("u-bob", "bobr", "Bob", "Ross", "1001", "06 11 22 33 44")
ELODIE = DirectoryUser("u-elo", "elodie", "Élodie", "Dupré", "1002")
NOBODY = DirectoryUser("u-none", "none")


@pytest.mark.parametrize(("term", "message"), [
    ("", "at least 2 characters, got none"),
    ("   ", "at least 2 characters, got none"),
    (" a ", "at least 2 characters, got 'a'"),
    ("x" * (MAX_TERM + 1), f"at most {MAX_TERM} characters, got {MAX_TERM + 1}"),
    ("bo\x00b", "must not contain control characters"),
    ("bo\nb", "must not contain control characters"),
])
def test_a_term_empty_too_short_too_long_or_with_controls_is_refused(term: str, message: str) -> None:
    with pytest.raises(InvalidDirectorySearch, match=message):
        checked_term(term)


def test_a_term_is_trimmed_and_may_be_as_long_as_a_name() -> None:
    assert checked_term("  bo ") == "bo"
    assert checked_term("x" * MAX_TERM) == "x" * MAX_TERM


@pytest.mark.parametrize("term", ["bob", "ROSS", "bob ro", "ross b", "1001", "10 01", "0611", "06 11 22", "elo",
                                  "DUPRE", "élodie dupré"])
def test_users_match_on_names_full_names_and_numbers_case_and_accent_insensitive(term: str) -> None:
    assert matching_users([BOB, ELODIE, NOBODY], search_terms(checked_term(term))) != []


@pytest.mark.parametrize(("term", "expected"), [("bob", [BOB]), ("100", [BOB, ELODIE]), ("none", []),
                                                ("bob dupre", [])])
def test_only_the_matching_users_are_found(term: str, expected: list[DirectoryUser]) -> None:
    # The login is no name: "none" finds no one.
    assert matching_users([BOB, ELODIE, NOBODY], search_terms(checked_term(term))) == expected


def test_a_favorite_is_named_by_a_known_source_and_an_id() -> None:
    assert checked_favorite(INTERNAL, " u-bob ") == FavoriteRef(INTERNAL, "u-bob")
    assert checked_favorite(PERSONAL, "c1") == FavoriteRef(PERSONAL, "c1")
    with pytest.raises(InvalidFavorite, match="source must be internal or personal, got 'xivo'"):
        checked_favorite("xivo", "c1")
    with pytest.raises(InvalidFavorite, match="needs a contact id"):
        checked_favorite(INTERNAL, " ")


def _entry(lastname: str, firstname: str = "", source: str = PERSONAL, contact_id: str = "c") -> DirectoryEntry:
    return DirectoryEntry(source, contact_id, firstname, lastname, "", "", False, -2)


def test_entries_are_sorted_by_folded_lastname_then_firstname_and_cut() -> None:
    entries = [_entry("zola"), _entry("Émile", "b"), _entry("emile", "a"), _entry("Adam", source=INTERNAL)]
    result = first_entries(entries, matched=4, limit=3)
    assert [(entry.lastname, entry.firstname) for entry in result.entries] == [("Adam", ""), ("emile", "a"),
                                                                                ("Émile", "b")]
    assert result.truncated
    assert not first_entries(entries, matched=4, limit=4).truncated
