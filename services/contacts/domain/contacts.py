"""Personal contacts: the fields, their rules, and the keys derived from them. Pure: no I/O.

Rules:
- Seven text fields (firstname, lastname, number, mobile, fax, email, company; empty allowed) and
  `favorite`. Values are stripped of surrounding whitespace; at most 128 characters for names and
  company, 40 for numbers, 254 for email; control characters (and line/paragraph separators) are
  refused. A contact needs a name (firstname, lastname or company) or a number (number or mobile).
- Each contact belongs to one owner, the user id of the caller; ids are UUID4 strings, and an id
  that is not a UUID cannot name a contact.
- Duplicates: two contacts of one owner are the same when their seven fields are equal once
  normalised (names, company, email: NFKC, casefold, inner whitespace collapsed; numbers: NFKC,
  whitespace and . - / ( ) removed); `favorite` does not count. The `identity` key is the SHA-256
  of that normalised tuple, so storage can refuse a duplicate with a unique index.
- Search is case- and accent-insensitive substring matching on a `search_text` (every field folded,
  numbers also without separators; at most 256 characters); lists are sorted by lastname then
  firstname, folded the same way (`sort_key`), then by id. `limit` is 0 (no limit) to 10,000.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from services.contacts.domain.errors import ContactNotFound, InvalidContact

TEXT_FIELDS = ("firstname", "lastname", "number", "mobile", "fax", "email", "company")
NAME_FIELDS = ("firstname", "lastname", "company")
NUMBER_FIELDS = ("number", "mobile", "fax")
MAX_LENGTH = {
    "firstname": 128, "lastname": 128, "company": 128,
    "number": 40, "mobile": 40, "fax": 40,
    "email": 254,
}
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


@dataclass(frozen=True)
class ContactFields:
    firstname: str = ""
    lastname: str = ""
    number: str = ""
    mobile: str = ""
    fax: str = ""
    email: str = ""
    company: str = ""
    favorite: bool = False

    @classmethod
    def from_texts(cls, texts: Mapping[str, str], favorite: bool = False) -> ContactFields:
        """Fields from a mapping of some of the seven text fields (the others empty)."""
        return cls(**{name: texts[name] for name in TEXT_FIELDS if name in texts}, favorite=favorite)

    def texts(self) -> tuple[str, ...]:
        return tuple(getattr(self, name) for name in TEXT_FIELDS)

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
        problems = [problem for name in TEXT_FIELDS if (problem := _field_problem(name, getattr(self, name)))]
        if not problems and not any(getattr(self, name) for name in (*NAME_FIELDS, "number", "mobile")):
            problems.append(NEEDS_NAME_OR_NUMBER)
        return problems


def _field_problem(name: str, value: str) -> str | None:
    if len(value) > MAX_LENGTH[name]:
        return f"{name} must be at most {MAX_LENGTH[name]} characters"
    if not value.isprintable() and _has_refused_character(value):  # isprintable: the fast, common case
        return f"{name} must not contain control characters"
    return None


def _has_refused_character(value: str) -> bool:
    return any(unicodedata.category(character) in _REFUSED_CATEGORIES for character in value)


@dataclass(frozen=True)
class Owner:
    """The user whose contacts these are: `user_id` owns them, `login` names them in events."""

    user_id: str
    login: str


@dataclass(frozen=True)
class Contact:
    id: str
    owner_id: str
    fields: ContactFields


def new_contact_id() -> str:
    return str(uuid.uuid4())


def canonical_contact_id(contact_id: str) -> str:
    """The stored form of an id given by a client; an id that is not a UUID names no contact."""
    try:
        return str(uuid.UUID(contact_id.strip()))
    except ValueError:
        raise ContactNotFound(f"No contact with id {contact_id[:64]!r}") from None


# --- derived keys ----------------------------------------------------------------------------------
# Each function below has an ASCII shortcut (the usual case: an import computes these keys for
# every line): ASCII is its own NFKC/NFKD form, and its casefold is its lowercase.
def _normalised_text(value: str) -> str:
    folded = value.lower() if value.isascii() else unicodedata.normalize("NFKC", value).casefold()
    return " ".join(folded.split())


def compact_number(value: str) -> str:
    """A phone number without the separators people write in it: "01 23-45.67" -> "01234567"."""
    return _NUMBER_SEPARATORS.sub("", value if value.isascii() else unicodedata.normalize("NFKC", value))


@functools.lru_cache(maxsize=8192)  # an import asks twice per line: when batching, when storing
def identity(contact: ContactFields) -> str:
    """The duplicate key: equal for two contacts that differ only in case, spacing, separators."""
    normalised = [
        compact_number(getattr(contact, name)) if name in NUMBER_FIELDS else _normalised_text(getattr(contact, name))
        for name in TEXT_FIELDS
    ]
    # The unit separator cannot occur in a field (control characters are refused), so joining is exact.
    return hashlib.sha256("\x1f".join(normalised).encode("utf-8")).hexdigest()


def fold(value: str) -> str:
    """Case- and accent-free form for search and sorting: "Élodie  Dupré" -> "elodie dupre"."""
    if value.isascii():
        return " ".join(value.lower().split())
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def search_text(contact: ContactFields) -> str:
    parts = [fold(value) for value in contact.texts()]
    parts += [fold(compact_number(getattr(contact, name))) for name in NUMBER_FIELDS]
    return SEARCH_SEPARATOR.join(parts)


def sort_key(contact: ContactFields) -> str:
    # \x01 sorts before any character a folded name contains: "Dupont" comes before "Dupont-Aignan".
    return f"{fold(contact.lastname)}\x01{fold(contact.firstname)}"[:MAX_SORT_KEY]


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


@dataclass(frozen=True)
class ListedContact:
    contact: Contact
    status: int


@dataclass(frozen=True)
class ContactPage:
    entries: list[ListedContact]
    total: int  # matching contacts before limit and offset


# --- imports -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CreatedContact:
    id: str
    lastname: str


@dataclass(frozen=True, order=True)
class FailedLine:
    line: int
    errors: tuple[str, ...]


@dataclass
class ImportReport:
    created: list[CreatedContact] = field(default_factory=list)
    failed: list[FailedLine] = field(default_factory=list)


# --- domain events: published after the change is committed --------------------------------------
def _event_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class ContactChanged:
    owner: Owner
    contact_id: str
    change: str  # "created", "updated", "deleted"
    occurred_at: datetime
    event_id: str = field(default_factory=_event_id)


@dataclass(frozen=True)
class ContactsImported:
    owner: Owner
    created: int
    failed: int
    occurred_at: datetime
    event_id: str = field(default_factory=_event_id)


@dataclass(frozen=True)
class ContactsCleared:
    owner: Owner
    deleted: int
    occurred_at: datetime
    event_id: str = field(default_factory=_event_id)


Event = ContactChanged | ContactsImported | ContactsCleared
