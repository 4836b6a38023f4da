"""Personal contacts domain rules (services/contacts/domain/contacts.py): validation, identity,
search and sort keys, list queries, ids. Pure functions on plain values."""

from __future__ import annotations

import itertools
import uuid

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.contacts.domain.contacts import (
    IDENTITY_HEX_DIGITS,
    MAX_LENGTH,
    MAX_SORT_KEY,
    NEEDS_NAME_OR_NUMBER,
    TEXT_FIELDS,
    ContactFields,
    _general_forms,
    _plain_ascii_forms,
    _TimeOrderedIds,
    canonical_contact_id,
    compact_number,
    contact_keys,
    contact_query,
    fold,
    search_terms,
    search_text,
)
from services.contacts.domain.errors import ContactNotFound, InvalidContact
from services.contacts.domain.import_report import FailedLine, FailedLines

JOHN = ContactFields(firstname="John", lastname="Doe", number="1111", mobile="2222", fax="3333",
                     email="j.doe@my.corp", company="corp")


def identity(fields: ContactFields) -> str:
    return contact_keys(fields).identity


def sort_key(fields: ContactFields) -> str:
    return contact_keys(fields).sort_key


# --- validation ------------------------------------------------------------------------------------
def test_a_full_contact_is_valid_and_unchanged() -> None:
    assert JOHN.validated() == JOHN


@pytest.mark.parametrize("fields", [
    ContactFields(firstname="Ann"), ContactFields(lastname="Lee"), ContactFields(company="ACME"),
    ContactFields(number="1001"), ContactFields(mobile="0611223344"),
])
def test_a_name_or_a_number_is_enough(fields: ContactFields) -> None:
    assert fields.validated() == fields


@pytest.mark.parametrize("fields", [
    ContactFields(), ContactFields(fax="3333"), ContactFields(email="a@b.c"), ContactFields(fax="1", email="a@b.c"),
    ContactFields(firstname="   ", number="\t "),
])
def test_a_contact_without_name_or_number_is_refused(fields: ContactFields) -> None:
    with pytest.raises(InvalidContact) as refused:
        fields.validated()
    assert refused.value.message == NEEDS_NAME_OR_NUMBER


def test_values_are_stripped() -> None:
    spaced = ContactFields(firstname="  John ", lastname="\tDoe\n", number=" 1111 ", email=" a@b.c  ")
    assert spaced.validated() == ContactFields(firstname="John", lastname="Doe", number="1111", email="a@b.c")


@pytest.mark.parametrize("name", TEXT_FIELDS)
def test_each_field_has_a_maximum_length(name: str) -> None:
    longest = ContactFields(**{"lastname": "Doe", name: "x" * MAX_LENGTH[name]})
    assert longest.validated() == longest
    with pytest.raises(InvalidContact) as refused:
        ContactFields(**{"lastname": "Doe", name: "x" * (MAX_LENGTH[name] + 1)}).validated()
    assert refused.value.message == f"{name} must be at most {MAX_LENGTH[name]} characters"


def test_the_lengths_are_those_decided() -> None:
    assert MAX_LENGTH == {"firstname": 128, "lastname": 128, "company": 128, "number": 40, "mobile": 40,
                          "fax": 40, "email": 254}


@pytest.mark.parametrize("value", ["a\nb", "a\tb", "a\x00b", "a\x1bb", "a\x7fb", "a\x85b", "a\u2028b", "a\u2029b",
                                   "a\ud800b"])
def test_control_characters_are_refused(value: str) -> None:
    with pytest.raises(InvalidContact) as refused:
        ContactFields(lastname=value).validated()
    assert refused.value.message == "lastname must not contain control characters"


def test_every_problem_is_named() -> None:
    with pytest.raises(InvalidContact) as refused:
        ContactFields(firstname="x" * 129, email="a\nb").validated()
    assert refused.value.message == ("firstname must be at most 128 characters; "
                                     "email must not contain control characters")


def test_non_ascii_and_spreadsheet_characters_are_fine() -> None:
    fields = ContactFields(firstname="Zoë", lastname="=SUM(A1)", company="株式会社", email="+@-", number="+33 (0)1")
    assert fields.validated() == fields


# --- identity: the duplicate key ------------------------------------------------------------------
@pytest.mark.parametrize("variant", [
    ContactFields(firstname="JOHN", lastname="doe", number="1111", mobile="2222", fax="3333",
                  email="J.Doe@My.Corp", company="CORP"),
    ContactFields(firstname="John", lastname="Doe", number="11 11", mobile="2-2.2/2", fax="(33)33",
                  email="j.doe@my.corp", company="corp"),
    ContactFields(firstname="John", lastname="Doe", number="\uff11" * 4, mobile="2222", fax="3333",  # full-width 1s
                  email="j.doe@my.corp", company="corp", favorite=True),
])
def test_identity_ignores_case_spacing_separators_and_favorite(variant: ContactFields) -> None:
    assert identity(variant) == identity(JOHN)


def test_identity_collapses_inner_whitespace_in_names() -> None:
    assert identity(ContactFields(firstname="Jean  Pierre")) == identity(ContactFields(firstname="jean pierre"))


@pytest.mark.parametrize("variant", [
    ContactFields(firstname="Jöhn", lastname="Doe", number="1111", mobile="2222", fax="3333",
                  email="j.doe@my.corp", company="corp"),
    ContactFields(firstname="John", lastname="Doe", number="1112", mobile="2222", fax="3333",
                  email="j.doe@my.corp", company="corp"),
    ContactFields(firstname="John", lastname="Doe", number="1111", mobile="2222", fax="3333",
                  email="j.doe@my.corp", company=""),
    # The same values in other fields are another contact.
    ContactFields(firstname="Doe", lastname="John", number="1111", mobile="2222", fax="3333",
                  email="j.doe@my.corp", company="corp"),
    ContactFields(firstname="John", lastname="Doe", number="2222", mobile="1111", fax="3333",
                  email="j.doe@my.corp", company="corp"),
])
def test_identity_tells_different_contacts_apart(variant: ContactFields) -> None:
    assert identity(variant) != identity(JOHN)


def test_identity_is_128_bits_of_sha256_in_hex() -> None:
    key = identity(JOHN)
    assert len(key) == 32
    assert int(key, 16) >= 0


def test_field_boundaries_are_part_of_the_identity() -> None:
    assert identity(ContactFields(firstname="a b", lastname="c")) != identity(ContactFields(firstname="a",
                                                                                            lastname="b c"))


@given(st.text(alphabet="0123456789 .-/()", max_size=30))
def test_compact_numbers_keep_only_the_digits(number: str) -> None:
    assert compact_number(number) == "".join(c for c in number if c.isdigit())


# The ASCII shortcut of the keys must agree with the general rules: the identity is enforced by a
# unique index, so a contact keyed one way by an import and another way by a creation would slip by.
# Printable ASCII, weighted towards what the shortcut treats specially: case, spaces, number separators.
_ASCII_VALUE = st.text(alphabet=st.one_of(st.sampled_from("aZ09 .-/()+@"),
                                          st.characters(min_codepoint=0x20, max_codepoint=0x7E)), max_size=12)


@given(st.tuples(*[_ASCII_VALUE] * len(TEXT_FIELDS)))
def test_the_plain_ascii_shortcut_agrees_with_the_general_rules(texts: tuple[str, ...]) -> None:
    shortcut = _plain_ascii_forms(texts)
    assume(shortcut is not None)  # values with a space to fold away take the general path
    assert shortcut == _general_forms(texts)
    fields = ContactFields(*texts)
    assert contact_keys(fields) == contact_keys(ContactFields(*texts, favorite=True))
    assert search_text(fields) == contact_keys(fields).search_text


@pytest.mark.parametrize("texts", [
    ("John", "Doe", "01 23", "", "", "j@d.c", "Corp"),  # the usual case: the shortcut
    ("Jean  Pierre", " Doe", "", "", "", "", ""),  # spaces to fold away: the general path
    ("Élodie", "Dupré", "\uff11\uff12", "06.11", "", "É@x.fr", "Ça"),  # non-ASCII: the general path
])
def test_search_text_alone_is_the_search_text_of_the_keys(texts: tuple[str, ...]) -> None:
    fields = ContactFields(*texts)
    assert (_plain_ascii_forms(texts) is not None) == (texts[0] == "John")
    assert search_text(fields) == contact_keys(fields).search_text
    assert len(contact_keys(fields).identity) == IDENTITY_HEX_DIGITS


# --- search and sort --------------------------------------------------------------------------------
def test_fold_removes_case_and_accents() -> None:
    assert fold("Élodie  DUPRÉ") == "elodie dupre"
    assert fold("Straße") == "strasse"
    assert fold("İstanbul") == "istanbul"
    assert fold("ﬁne") == "fine"


def test_search_text_holds_every_field_and_compact_numbers() -> None:
    fields = ContactFields(firstname="Hélène", lastname="Côté", number="01 23 45", mobile="06.11", fax="(1) 2",
                           email="H@x.FR", company="Ça")
    text = search_text(fields)
    for expected in ("helene", "cote", "01 23 45", "012345", "06.11", "0611", "(1) 2", "12", "h@x.fr", "ca"):
        assert expected in text
    assert "\n" not in "".join(fields.texts())  # the separator cannot come from a value


def test_search_terms_are_folded_and_numbers_also_compact() -> None:
    assert search_terms("  ÉLO ") == ("elo",)
    assert search_terms("01.23") == ("01.23", "0123")
    assert search_terms("0123") == ("0123",)
    assert search_terms("+33 (0)1") == ("+33 (0)1", "+3301")
    assert search_terms("a-b") == ("a-b",)  # not a number: no compact form
    assert search_terms("") == ()
    assert search_terms("   ") == ()


def test_sort_key_orders_by_lastname_then_firstname_without_case_or_accents() -> None:
    people = [("zoe", "Durand"), ("Émile", "dupont"), ("anne", "Dupont"), ("Bob", "Dupont-Aignan"), ("x", "")]
    ordered = sorted(people, key=lambda p: sort_key(ContactFields(firstname=p[0], lastname=p[1])))
    assert ordered == [("x", ""), ("anne", "Dupont"), ("Émile", "dupont"), ("Bob", "Dupont-Aignan"),
                       ("zoe", "Durand")]


def test_sort_key_is_bounded() -> None:
    # U+FDFA folds to 18 characters: 128 of them would make a 2,304-character key.
    assert len(sort_key(ContactFields(lastname="\ufdfa" * 128, firstname="\ufdfa" * 128))) == MAX_SORT_KEY


# --- list queries -----------------------------------------------------------------------------------
def test_list_query_bounds() -> None:
    assert contact_query("", 0, 0).limit == 0
    assert contact_query("Doe", 10_000, 5).terms == ("doe",)
    for limit, offset in ((-1, 0), (10_001, 0), (0, -1)):
        with pytest.raises(InvalidContact):
            contact_query("", limit, offset)
    with pytest.raises(InvalidContact):
        contact_query("a\nb", 0, 0)
    assert contact_query("x" * 256, 0, 0).terms == ("x" * 256,)
    with pytest.raises(InvalidContact):
        contact_query("x" * 257, 0, 0)


# --- ids --------------------------------------------------------------------------------------------
def test_contact_ids_are_canonical_uuids() -> None:
    value = uuid.uuid4()
    assert canonical_contact_id(str(value)) == str(value)
    assert canonical_contact_id(str(value).upper()) == str(value)
    assert canonical_contact_id(value.hex) == str(value)


@pytest.mark.parametrize("not_an_id", ["", "42", "not-a-uuid", "' OR 1=1 --", "x" * 1000])
def test_an_id_that_is_not_a_uuid_names_no_contact(not_an_id: str) -> None:
    with pytest.raises(ContactNotFound):
        canonical_contact_id(not_an_id)


class _Clock:
    """A clock the test sets, in nanoseconds since the epoch."""

    def __init__(self, milliseconds: int) -> None:
        self.milliseconds = milliseconds

    def __call__(self) -> int:
        return self.milliseconds * 1_000_000 + 123_456  # within the millisecond: truncated


def _assert_valid_and_increasing(ids: list[str]) -> list[uuid.UUID]:
    values = [uuid.UUID(value) for value in ids]
    for value, text in zip(values, ids, strict=True):
        assert value.version == 7
        assert value.variant == uuid.RFC_4122
        assert str(value) == text  # canonical: lowercase, hyphenated
    assert all(earlier.int < later.int for earlier, later in itertools.pairwise(values))
    assert ids == sorted(ids)  # the text sorts as the number does
    return values


def _milliseconds(value: uuid.UUID) -> int:
    return value.int >> 80


def test_ids_of_one_millisecond_increase_and_carry_its_time() -> None:
    clock = _Clock(1_700_000_000_000)
    ids = _TimeOrderedIds(clock)
    values = _assert_valid_and_increasing([ids.next() for _ in range(1_000)])
    assert {_milliseconds(value) for value in values} == {1_700_000_000_000}
    assert [(value.int >> 64) & 0xFFF for value in values] == list(range(1_000))  # the counter
    clock.milliseconds += 1
    later = _assert_valid_and_increasing([str(values[-1]), ids.next()])
    assert _milliseconds(later[-1]) == 1_700_000_000_001
    assert (later[-1].int >> 64) & 0xFFF == 0  # a new millisecond starts a new count


def test_ids_increase_beyond_4096_in_one_millisecond() -> None:
    clock = _Clock(1_700_000_000_000)
    ids = _TimeOrderedIds(clock)
    values = _assert_valid_and_increasing([ids.next() for _ in range(3 * 4096 + 10)])
    # The counter is 12 bits: past it, the ids borrow the next milliseconds rather than wrap.
    assert _milliseconds(values[4095]) == 1_700_000_000_000
    assert _milliseconds(values[4096]) == 1_700_000_000_001
    assert _milliseconds(values[-1]) == 1_700_000_000_003
    # When the clock reaches a borrowed millisecond, ids go on after the borrowed ones.
    clock.milliseconds += 2
    _assert_valid_and_increasing([str(values[-1]), *(ids.next() for _ in range(10))])


def test_ids_increase_when_the_clock_goes_back() -> None:
    clock = _Clock(1_700_000_000_000)
    ids = _TimeOrderedIds(clock)
    generated = [ids.next() for _ in range(5)]
    clock.milliseconds -= 60_000  # a minute back (an NTP step)
    generated += [ids.next() for _ in range(5_000)]
    clock.milliseconds += 60_000 + 10  # past the borrowed milliseconds again
    generated += [ids.next() for _ in range(5)]
    values = _assert_valid_and_increasing(generated)
    assert _milliseconds(values[-1]) == 1_700_000_000_010


# --- import reports ------------------------------------------------------------------------------
@given(st.lists(st.integers(min_value=2, max_value=10_000), unique=True, max_size=60), st.integers(0, 20))
def test_failed_lines_keep_the_first_ones_by_line_and_count_them_all(lines: list[int], limit: int) -> None:
    failed = FailedLines(limit)
    for line in lines:  # in any order: duplicates found by storage come after later lines
        failed.add(line, (f"error of {line}",))

    assert failed.count == len(lines)
    assert failed.first() == [FailedLine(line, (f"error of {line}",)) for line in sorted(lines)[:limit]]
