"""One user's directory: the users of the system and the user's personal contacts, and favorites.
Pure: no I/O.

Rules (docs/contacts.md, "The directory and favorites"):
- Two sources: `internal`, the users of the system as auth knows them (an entry's contact id is the
  user's id, its number the user's line), and `personal`, the owner's own personal contacts (the
  contact's id and number). Nobody else's personal contacts ever appear.
- A search term is trimmed, then 2 to 128 characters (128: the longest name), without control
  characters; otherwise InvalidDirectorySearch. One character would match most of the directory.
- A user matches when the folded term (case- and accent-insensitive) is a substring of their
  firstname, lastname, "firstname lastname", "lastname firstname", or of their line or mobile,
  numbers also compared without separators ("10 01" finds 1001). Personal contacts match as the
  contacts list's `search` does (names, company, email, numbers).
- Results are sorted by lastname, then firstname (folded), then source and id, and cut at
  MAX_RESULTS entries; `truncated` says more matched.
- A favorite is named by (source, contact id); a source other than the two is InvalidFavorite.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from services.contacts.domain.contacts import SEARCH_SEPARATOR, compact_number, fold, has_refused_character
from services.contacts.domain.errors import InvalidDirectorySearch, InvalidFavorite

INTERNAL = "internal"
PERSONAL = "personal"
SOURCES = (INTERNAL, PERSONAL)
MIN_TERM = 2
MAX_TERM = 128
MAX_RESULTS = 100
ADDED = "Added"
REMOVED = "Removed"


@dataclass(frozen=True)
class DirectoryUser:
    """A user of the system, as the directory shows them."""

    user_id: str
    login: str
    firstname: str = ""
    lastname: str = ""
    line: str = ""
    mobile: str = ""

    @cached_property  # users are kept and searched again and again: folded once
    def search_text(self) -> str:
        names = (f"{self.firstname} {self.lastname}", f"{self.lastname} {self.firstname}")
        numbers = [value for number in (self.line, self.mobile) if number
                   for value in (fold(number), fold(compact_number(number)))]
        return SEARCH_SEPARATOR.join([*(fold(name) for name in names), *numbers])


@dataclass(frozen=True)
class DirectoryEntry:
    source: str
    contact_id: str
    firstname: str
    lastname: str
    number: str
    mobile: str
    favorite: bool
    status: int
    username: str = ""  # the login, for internal entries

    def order(self) -> tuple[str, str, str, str]:
        return fold(self.lastname), fold(self.firstname), self.source, self.contact_id


@dataclass(frozen=True)
class DirectoryResult:
    entries: list[DirectoryEntry]
    truncated: bool


@dataclass(frozen=True)
class FavoriteRef:
    source: str
    contact_id: str


def checked_term(term: str) -> str:
    """The term to search for, trimmed; InvalidDirectorySearch when it cannot be one."""
    trimmed = term.strip()
    if len(trimmed) < MIN_TERM:
        raise InvalidDirectorySearch(f"a directory search term needs at least {MIN_TERM} characters"
                                     + (f", got {trimmed!r}" if trimmed else ", got none"))
    if len(trimmed) > MAX_TERM:
        raise InvalidDirectorySearch(f"a directory search term is at most {MAX_TERM} characters, got {len(trimmed)}")
    if has_refused_character(trimmed):
        raise InvalidDirectorySearch("a directory search term must not contain control characters")
    return trimmed


def checked_favorite(source: str, contact_id: str) -> FavoriteRef:
    if source not in SOURCES:
        raise InvalidFavorite(f"source must be {' or '.join(SOURCES)}, got {source[:32]!r}")
    if not contact_id.strip():
        raise InvalidFavorite("a favorite needs a contact id")
    return FavoriteRef(source, contact_id.strip())


def matching_users(users: Iterable[DirectoryUser], terms: tuple[str, ...]) -> list[DirectoryUser]:
    """The users whose search text holds one of the (folded) terms."""
    return [user for user in users if any(term in user.search_text for term in terms)]


def first_entries(entries: Iterable[DirectoryEntry], matched: int, limit: int = MAX_RESULTS) -> DirectoryResult:
    """The first `limit` entries in directory order; `matched` counts every entry that matched
    (more than given when a source was read only up to the limit)."""
    ordered = sorted(entries, key=DirectoryEntry.order)
    return DirectoryResult(ordered[:limit], matched > limit)
