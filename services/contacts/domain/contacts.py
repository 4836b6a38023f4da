"""Personal contacts: the fields, their rules, and the keys derived from them. Pure: no I/O.

Rules:
- Seven text fields (firstname, lastname, number, mobile, fax, email, company; empty allowed) and
  `favorite`. Values are stripped of surrounding whitespace; at most 128 characters for names and
  company, 40 for numbers, 254 for email; control characters (and line/paragraph separators) are
  refused. A contact needs a name (firstname, lastname or company) or a number (number or mobile).
- Each contact belongs to one owner, the user id of the caller; ids are time-ordered UUIDs
  (version 7), and an id that is not a UUID cannot name a contact.
- Duplicates: two contacts of one owner are the same when their seven fields are equal once
  normalised (names, company, email: NFKC, casefold, inner whitespace collapsed; numbers: NFKC,
  whitespace and . - / ( ) removed); `favorite` does not count. The `identity` key is the first
  128 bits of the SHA-256 of that normalised tuple, so storage can refuse a duplicate with a
  unique index.
- Search is case- and accent-insensitive substring matching on a `search_text` (every field folded,
  numbers also without separators; at most 256 characters); lists are sorted by lastname then
  firstname, folded the same way (`sort_key`), then by id. `limit` is 0 (no limit) to 10,000.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import NamedTuple

from services.contacts.domain.errors import ContactNotFound, InvalidContact

TEXT_FIELDS = ("firstname", "lastname", "number", "mobile", "fax", "email", "company")
MAX_LENGTH = {
    "firstname": 128, "lastname": 128, "company": 128,
    "number": 40, "mobile": 40, "fax": 40,
    "email": 254,
}
_MAX_LENGTHS = tuple(MAX_LENGTH[name] for name in TEXT_FIELDS)
_SHORTEST_LIMIT = min(_MAX_LENGTHS)
NEEDS_NAME_OR_NUMBER = "a contact needs a name or a phone number"
MAX_LIST_LIMIT = 10_000
MAX_SEARCH = 256  # longer than any field (254): a longer term can hardly match anything
# The sort key is indexed: bounded so that a name made of characters that expand when folded (one
# ligature can become 18 characters) stays well under PostgreSQL's B-tree entry limit.
MAX_SORT_KEY = 200
SEARCH_SEPARATOR = "\n"  # between fields in search_text; a search term cannot contain it

# Categories refused inside a value: controls (tab, newline, NUL...), line and paragraph separators
# (they break lines in CSV readers and terminals), and surrogates (not encodable as UTF-8).
_REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})
_NUMBER_SEPARATORS = re.compile(r"[\s.\-/()]+")


@dataclass(frozen=True, slots=True)
class ContactFields:  # slots: an import holds tens of thousands of these at once
    firstname: str = ""
    lastname: str = ""
    number: str = ""
    mobile: str = ""
    fax: str = ""
    email: str = ""
    company: str = ""
    favorite: bool = False

    def texts(self) -> tuple[str, ...]:
        """The seven text fields, in TEXT_FIELDS order."""
        return self.firstname, self.lastname, self.number, self.mobile, self.fax, self.email, self.company

    def validated(self) -> ContactFields:
        """These fields stripped, or InvalidContact naming every problem."""
        stripped = self.stripped()
        problems = stripped.problems()
        if problems:
            raise InvalidContact("; ".join(problems))
        return stripped

    def stripped(self) -> ContactFields:
        return replace(self, **{name: getattr(self, name).strip() for name in TEXT_FIELDS})

    def problems(self) -> list[str]:
        """What is wrong with these (already stripped) fields, one readable message each."""
        texts = self.texts()
        # The usual case first, in bulk: every value short enough and printable.
        if (max(map(len, texts)) > _SHORTEST_LIMIT and not all(map(_fits, texts, _MAX_LENGTHS))) \
                or not "".join(texts).isprintable():
            problems = [problem for name, value in zip(TEXT_FIELDS, texts, strict=True)
                        if (problem := _field_problem(name, value))]
            if problems:
                return problems
        if not (self.firstname or self.lastname or self.company or self.number or self.mobile):
            return [NEEDS_NAME_OR_NUMBER]
        return []


def _fits(value: str, longest: int) -> bool:
    return len(value) <= longest


def _field_problem(name: str, value: str) -> str | None:
    if len(value) > MAX_LENGTH[name]:
        return f"{name} must be at most {MAX_LENGTH[name]} characters"
    if not value.isprintable() and _has_refused_character(value):  # isprintable: the fast, common case
        return f"{name} must not contain control characters"
    return None


def _has_refused_character(value: str) -> bool:
    return any(unicodedata.category(character) in _REFUSED_CATEGORIES for character in value)


has_refused_character = _has_refused_character  # for the other rules of the contacts domain


@dataclass(frozen=True)
class Owner:
    """The user whose contacts these are: `user_id` owns them, `login` names them in events."""

    user_id: str
    login: str


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    owner_id: str
    fields: ContactFields


class _TimeOrderedIds:
    """UUID version 7 (RFC 9562): a 48-bit millisecond time, a 12-bit counter (ids of one
    millisecond stay in order), 62 random bits. Time-ordered ids append to the end of an index
    instead of landing anywhere in it: storing a large import costs less."""

    def __init__(self, clock: Callable[[], int] = time.time_ns) -> None:
        self._clock = clock  # nanoseconds since the epoch
        self._millisecond = 0
        self._counter = 0
        self._random: Iterator[int] = iter(())  # random 62-bit values, drawn 1,024 at a time (one system call)

    def next(self) -> str:
        millisecond = self._clock() // 1_000_000
        if millisecond > self._millisecond:
            self._millisecond, self._counter = millisecond, 0
        else:  # the same millisecond (or the clock went back): keep counting from the last one
            self._counter += 1
            if self._counter > 0xFFF:
                self._millisecond, self._counter = self._millisecond + 1, 0
        random_bits = next(self._random, None)
        if random_bits is None:
            self._random = iter(memoryview(os.urandom(8 * 1024)).cast("Q"))
            random_bits = next(self._random)
        value = ((self._millisecond << 80) | (0x7000 | self._counter) << 64
                 | 0x8000_0000_0000_0000 | random_bits >> 2)
        digits = f"{value:032x}"
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


new_contact_id = _TimeOrderedIds().next


def canonical_contact_id(contact_id: str) -> str:
    """The stored form of an id given by a client; an id that is not a UUID names no contact."""
    try:
        return str(uuid.UUID(contact_id.strip()))
    except ValueError:
        raise ContactNotFound(f"No contact with id {contact_id[:64]!r}") from None


# --- derived keys ----------------------------------------------------------------------------------
class ContactKeys(NamedTuple):
    """What storage indexes besides the fields: computed once per contact (an import does it for
    every line, so the usual ASCII case takes shortcuts: ASCII is its own NFKC and NFKD form, and
    its casefold is its lowercase)."""

    identity: str  # the duplicate key
    search_text: str
    sort_key: str


IDENTITY_HEX_DIGITS = 32  # 128 bits of SHA-256: collisions are out of reach, the index key stays short


class _FoldedForms(NamedTuple):
    """The normalised and folded forms the keys are made of (everything but the hashing)."""

    normalised: str  # the seven fields normalised for the identity, joined by \x1f
    search_text: str
    lastname: str  # folded, for the sort key
    firstname: str


def contact_keys(contact: ContactFields) -> ContactKeys:
    forms = _folded_forms(contact.texts())
    return ContactKeys(
        hashlib.sha256(forms.normalised.encode("utf-8")).hexdigest()[:IDENTITY_HEX_DIGITS],
        forms.search_text,
        # \x01 sorts before any character a folded name contains: "Dupont" before "Dupont-Aignan".
        f"{forms.lastname}\x01{forms.firstname}"[:MAX_SORT_KEY],
    )


def search_text(contact: ContactFields) -> str:
    """`contact_keys(contact).search_text`, without computing the other keys."""
    return _folded_forms(contact.texts()).search_text


def _folded_forms(texts: tuple[str, ...]) -> _FoldedForms:
    forms = _plain_ascii_forms(texts)
    return forms if forms is not None else _general_forms(texts)


def _plain_ascii_forms(texts: tuple[str, ...]) -> _FoldedForms | None:
    """The forms of a contact whose values are printable ASCII without a space to fold away (the
    usual case): each value is its own normalised and folded form once lowercased. Numbers lose
    their separators, and keep their case in the identity. None for any other contact."""
    joined = "\x1f".join(texts)
    if not (joined.isascii() and "".join(texts).isprintable() and "  " not in joined and " \x1f" not in joined
            and "\x1f " not in joined and joined[:1] != " " and joined[-1:] != " "):
        return None
    firstname, lastname, _, _, _, email, company = parts = joined.lower().split("\x1f")
    number, mobile, fax = numbers = texts[2:5]
    if not "".join(numbers).isdigit():  # digits only (or no number at all): nothing to take out
        number, mobile, fax = (_NUMBER_SEPARATORS.sub("", value) for value in numbers)
    return _FoldedForms(
        "\x1f".join((firstname, lastname, number, mobile, fax, email, company)),
        SEARCH_SEPARATOR.join((*parts, number.lower(), mobile.lower(), fax.lower())),
        lastname,
        firstname,
    )


def _general_forms(texts: tuple[str, ...]) -> _FoldedForms:
    """The forms of any contact (ASCII shortcuts only per value: ASCII is its own NFKC and NFKD
    form, and its casefold is its lowercase)."""
    firstname, lastname, number, mobile, fax, email, company = (_text_forms(value) for value in texts)
    numbers = [_number_forms(value) for value in texts[2:5]]
    # The unit separator cannot occur in a field (control characters are refused), so joining is exact.
    return _FoldedForms(
        "\x1f".join((firstname[0], lastname[0], *(compact for compact, _ in numbers), email[0], company[0])),
        SEARCH_SEPARATOR.join((firstname[1], lastname[1], number[1], mobile[1], fax[1], email[1], company[1],
                               *(folded for _, folded in numbers))),
        lastname[1],
        firstname[1],
    )


def _text_forms(value: str) -> tuple[str, str]:
    """(normalised for the identity, folded for search and order)."""
    if not value:
        return "", ""
    if value.isascii():
        folded = " ".join(value.lower().split())
        return folded, folded
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split()), fold(value)


def _number_forms(value: str) -> tuple[str, str]:
    """(compacted for the identity, compacted and folded for search)."""
    if not value:
        return "", ""
    compact = compact_number(value)
    return compact, compact.lower() if compact.isascii() else fold(compact)


def compact_number(value: str) -> str:
    """A phone number without the separators people write in it: "01 23-45.67" -> "01234567"."""
    return _NUMBER_SEPARATORS.sub("", value if value.isascii() else unicodedata.normalize("NFKC", value))


def fold(value: str) -> str:
    """Case- and accent-free form for search and sorting: "Élodie  Dupré" -> "elodie dupre"."""
    if value.isascii():
        return " ".join(value.lower().split())
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


# --- listing -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContactQuery:
    """Which of an owner's contacts to list. `terms`: any of them as a substring of search_text."""

    terms: tuple[str, ...] = ()
    limit: int = 0  # 0: no limit
    offset: int = 0


def contact_query(search: str, limit: int, offset: int) -> ContactQuery:
    if limit < 0 or limit > MAX_LIST_LIMIT:
        raise InvalidContact(f"limit must be between 0 (no limit) and {MAX_LIST_LIMIT}, got {limit}")
    if offset < 0:
        raise InvalidContact(f"offset must not be negative, got {offset}")
    if len(search) > MAX_SEARCH:
        raise InvalidContact(f"search must be at most {MAX_SEARCH} characters")
    if _has_refused_character(search):
        raise InvalidContact("search must not contain control characters")
    return ContactQuery(search_terms(search), limit, offset)


def search_terms(search: str) -> tuple[str, ...]:
    """The folded forms to look for; a number also without separators, so "01.23" finds "01 23 45"."""
    folded = fold(search)
    if not folded:
        return ()
    compact = fold(compact_number(search))
    if compact and compact != folded and re.fullmatch(r"\+?[0-9*#]+", compact):
        return folded, compact
    return (folded,)


class KeyedContact(NamedTuple):
    """A contact on its way to storage, with the keys computed once."""

    contact: Contact
    keys: ContactKeys


@dataclass(frozen=True)
class ListedContact:
    contact: Contact
    status: int


@dataclass(frozen=True)
class ContactPage:
    entries: list[ListedContact]
    total: int  # matching contacts before limit and offset
