"""CSV import parser and export writer of personal contacts. Pure: bytes in, records out.

Import (`ImportParser`): bytes are fed as they arrive and decoded incrementally in the file's
charset (empty: UTF-8; a leading byte order mark is dropped); a byte that is not valid in it
rejects the whole file (`InvalidImport`, with its byte offset). Records are cut where the csv
module would end them (quoted fields may hold commas and line breaks; CRLF, LF and CR all end a
line) and each complete record is parsed by the csv module, so memory holds one record at a time,
never the file. Blank records (no cell with anything but spaces) are skipped.

The header is the first non-blank record: column names are trimmed and case-insensitive, any
subset of the seven fields in any order. An unknown, empty or repeated column rejects the file.
Each later record gives a `ParsedLine` whose `line` is the physical line it starts on (the header
is line 1 when the file starts with it), with either contact fields or its errors: "too many
fields", "missing fields", "record too long", or the contact's own problems. Cells are trimmed,
then `spreadsheet.unneutralize` removes the apostrophe export added before a formula-like cell.

Export (`CsvExport`): header company,email,fax,firstname,lastname,mobile,number, one row per
contact (`favorite` is not exported), the csv module's default dialect (minimal quoting, CRLF),
UTF-8, every cell through `spreadsheet.neutralize`; handed out in chunks of about 64 KiB.
Export then import gives back exactly the exported fields.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Generator, Iterable, Iterator
from enum import Enum
from typing import NamedTuple

from services.contacts.domain.contacts import TEXT_FIELDS, ContactFields
from services.contacts.domain.errors import InvalidImport
from services.contacts.domain.spreadsheet import neutralize, unneutralize

EXPORT_COLUMNS = ("company", "email", "fax", "firstname", "lastname", "mobile", "number")
EXPORT_CHUNK_CHARACTERS = 64 * 1024
# A valid record is under 2,000 characters even fully quoted; a longer one is reported, not kept,
# so that a stray quote opening a field up to the end of the file cannot fill the memory.
MAX_RECORD_CHARACTERS = 64 * 1024
DEFAULT_CHARSET = "utf-8"
BYTE_ORDER_MARK = "\ufeff"
TOO_MANY_FIELDS = "too many fields"
MISSING_FIELDS = "missing fields"
RECORD_TOO_LONG = "record too long"


class ParsedLine(NamedTuple):  # a tuple: made once per line of a large file, it must be cheap
    """One record of the file: `fields` (stripped, valid) when `errors` is empty."""

    line: int
    fields: ContactFields | None
    errors: tuple[str, ...] = ()


# --- decoding --------------------------------------------------------------------------------------
class _Decoder:
    """Incremental decoding that knows the file offset of a bad byte, whatever the chunking."""

    def __init__(self, charset: str) -> None:
        requested = charset.strip() or DEFAULT_CHARSET
        try:
            info = codecs.lookup(requested)
        except LookupError:
            raise InvalidImport(f"unknown charset {requested[:40]!r}") from None
        # base64, rot13, zlib... are codecs too, but do not turn bytes into text.
        if not getattr(info, "_is_text_encoding", True):
            raise InvalidImport(f"unknown charset {requested[:40]!r}")
        # utf-8-sig semantics with the plain decoder: its error offsets are exact (the -sig decoder
        # reports them relative to the data after the BOM); the BOM is dropped from the text instead.
        self.name = DEFAULT_CHARSET if info.name in ("utf-8", "utf-8-sig") else info.name
        self._decoder = codecs.getincrementaldecoder(self.name)(errors="strict")
        self._fed = 0
        self._started = False

    def decode(self, data: bytes, final: bool = False) -> str:
        buffered = len(self._decoder.getstate()[0])
        try:
            text: str = self._decoder.decode(data, final)
        except ValueError as error:  # UnicodeDecodeError, or UnicodeError from codecs like idna
            offset = max(0, self._fed - buffered + int(getattr(error, "start", 0)))
            raise InvalidImport(f"the file is not valid {self.name} (byte offset {offset})") from None
        self._fed += len(data)
        if not self._started and text:
            self._started = True
            text = text.removeprefix(BYTE_ORDER_MARK)
        return text


# --- cutting text into records ---------------------------------------------------------------------
class _State(Enum):
    """The csv module's reader states that decide where a record ends (default dialect)."""

    START_FIELD = "start_field"
    IN_FIELD = "in_field"
    IN_QUOTED_FIELD = "in_quoted_field"
    QUOTE_IN_QUOTED_FIELD = "quote_in_quoted_field"


_OTHER, _QUOTE, _COMMA = "other", '"', ","
_NEXT_STATE = {
    (_State.START_FIELD, _OTHER): _State.IN_FIELD,
    (_State.START_FIELD, _QUOTE): _State.IN_QUOTED_FIELD,
    (_State.START_FIELD, _COMMA): _State.START_FIELD,
    (_State.IN_FIELD, _OTHER): _State.IN_FIELD,
    (_State.IN_FIELD, _QUOTE): _State.IN_FIELD,  # a quote inside an unquoted field is a character
    (_State.IN_FIELD, _COMMA): _State.START_FIELD,
    (_State.IN_QUOTED_FIELD, _OTHER): _State.IN_QUOTED_FIELD,
    (_State.IN_QUOTED_FIELD, _QUOTE): _State.QUOTE_IN_QUOTED_FIELD,
    (_State.IN_QUOTED_FIELD, _COMMA): _State.IN_QUOTED_FIELD,
    (_State.QUOTE_IN_QUOTED_FIELD, _OTHER): _State.IN_FIELD,  # "ab"c reads as abc (not strict)
    (_State.QUOTE_IN_QUOTED_FIELD, _QUOTE): _State.IN_QUOTED_FIELD,  # "" is one quote
    (_State.QUOTE_IN_QUOTED_FIELD, _COMMA): _State.START_FIELD,
}
_LINE_BREAK = re.compile(r"[\r\n]")
_LINE_END = re.compile(r"\r\n|\r|\n")
_QUOTE_OR_COMMA = re.compile(r'[",]')


class RecordSplitter:
    """Cuts decoded text into records where the csv module would, counting physical lines.

    The csv module reads a file opened with newline="" line by line and ends a record at the end
    of a line unless a quoted field is open; it cannot be paused in the middle of a record, so we
    track its state ourselves (only quotes and commas change it) and hand it whole records.
    """

    def __init__(self, max_characters: int) -> None:
        self._max = max_characters
        self._parts: list[str] = []
        self._size = 0
        self._too_long = False
        self._state = _State.START_FIELD
        self._line = 1  # the physical line the next character is on
        self._start_line = 1
        self._cr_ended_chunk = False  # a "\n" starting the next chunk completes that "\r\n"

    def feed(self, text: str) -> Iterator[tuple[int, str | None]]:
        """(start line, record text or None if too long) for each record `text` completes."""
        position = 0
        if self._cr_ended_chunk and text:
            self._cr_ended_chunk = False
            if text[0] == "\n":
                position = 1
                if self._state is _State.IN_QUOTED_FIELD:
                    self._append("\n")
        while position < len(text):
            if not self._parts and not self._too_long and self._state is _State.START_FIELD:
                position = yield from self._lines_before_a_quote(text, position)
                if position >= len(text):
                    return
            found = _LINE_BREAK.search(text, position)
            if found is None:
                self._take(text[position:])
                return
            self._take(text[position:found.start()])
            end = found.end()
            if found.group() == "\r":
                if end < len(text):
                    end += text[end] == "\n"
                else:
                    self._cr_ended_chunk = True
            self._line += 1
            if self._state is _State.IN_QUOTED_FIELD:
                self._append(text[found.start():end])  # a line break inside a quoted field
            else:
                yield self._end_record()
            position = end

    def _lines_before_a_quote(self, text: str, position: int) -> Generator[tuple[int, str | None], None, int]:
        """At a record boundary, every whole line before the next quote is a record of its own:
        cut them all with one split (the common case, ~10 x faster than line by line). Returns
        where the slow path goes on: the line holding that quote, or the unfinished last line."""
        quote = text.find('"', position)
        limit = len(text) if quote < 0 else quote
        cut = max(text.rfind("\n", position, limit), text.rfind("\r", position, limit))
        if cut < 0:
            return position
        if cut + 1 == len(text) and text[cut] == "\r":
            self._cr_ended_chunk = True  # a "\n" starting the next chunk completes this "\r\n"
        line, longest = self._line, self._max
        for piece in _LINE_END.split(text[position:cut + 1])[:-1]:
            yield line, piece if len(piece) <= longest else None
            line += 1
        self._line = self._start_line = line
        return cut + 1

    def finish(self) -> Iterator[tuple[int, str | None]]:
        if self._parts or self._too_long or self._state is not _State.START_FIELD:
            yield self._end_record()

    def _take(self, piece: str) -> None:
        if not piece:
            return
        state = self._state
        if '"' not in piece and state in (_State.START_FIELD, _State.IN_FIELD):
            state = _State.START_FIELD if piece[-1] == "," else _State.IN_FIELD  # the common case
        else:
            position = 0
            for found in _QUOTE_OR_COMMA.finditer(piece):
                if found.start() > position:
                    state = _NEXT_STATE[state, _OTHER]
                state = _NEXT_STATE[state, found.group()]
                position = found.end()
            if position < len(piece):
                state = _NEXT_STATE[state, _OTHER]
        self._state = state
        self._append(piece)

    def _append(self, piece: str) -> None:
        if self._too_long:
            return
        self._size += len(piece)
        if self._size > self._max:
            self._too_long = True
            self._parts.clear()
        else:
            self._parts.append(piece)

    def _end_record(self) -> tuple[int, str | None]:
        record = (self._start_line, None if self._too_long else "".join(self._parts))
        self._parts.clear()
        self._size = 0
        self._too_long = False
        self._state = _State.START_FIELD
        self._start_line = self._line
        return record


# --- the import parser -----------------------------------------------------------------------------
def record_cells(record: str) -> list[str] | str:
    """The record's cells as the csv module reads them, or the error it gives."""
    if '"' not in record:  # without quotes the csv module only splits at commas
        return record.split(",") if record else []
    try:
        return next(csv.reader([record]), [])
    except csv.Error as error:
        return str(error)


def _header(cells: list[str]) -> tuple[str, ...]:
    names = [cell.strip().casefold() for cell in cells]
    empty = [str(index) for index, name in enumerate(names, start=1) if not name]
    if empty:
        raise InvalidImport(f"the header has an empty column name (column {', '.join(empty)})")
    unknown = [name for name in names if name not in TEXT_FIELDS]
    if unknown:
        raise InvalidImport(f"unknown column(s): {', '.join(unknown)} (columns are {', '.join(EXPORT_COLUMNS)})")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidImport(f"duplicate column(s): {', '.join(repeated)}")
    return tuple(names)


def _cell_value(cell: str) -> str:
    """Trimmed, without the apostrophe export put before a formula-like value."""
    value = cell.strip()
    return unneutralize(value).strip() if value[:1] == "'" else value


def _is_blank(cells: list[str]) -> bool:
    return not "".join(cells).strip()


class ImportParser:
    """Feed the file's bytes in any chunking; get each complete record as a `ParsedLine`.

    Raises InvalidImport for what makes the whole file unusable: charset, bytes, header.
    """

    def __init__(self, charset: str = "", max_record_characters: int = MAX_RECORD_CHARACTERS) -> None:
        self._decoder = _Decoder(charset)
        self._splitter = RecordSplitter(max_record_characters)
        self.columns: tuple[str, ...] | None = None
        self._positions: tuple[int, ...] = ()  # of each of TEXT_FIELDS in a record, -1 if absent

    @property
    def charset(self) -> str:
        return self._decoder.name

    def feed(self, data: bytes) -> list[ParsedLine]:
        return self._parsed(self._splitter.feed(self._decoder.decode(data)))

    def finish(self) -> list[ParsedLine]:
        """The last record; InvalidImport if the file had no header at all."""
        tail = self._decoder.decode(b"", final=True)
        parsed = self._parsed(self._splitter.feed(tail)) + self._parsed(self._splitter.finish())
        if self.columns is None:
            raise InvalidImport("the file is empty: its first line must name the columns")
        return parsed

    def _parsed(self, records: Iterable[tuple[int, str | None]]) -> list[ParsedLine]:
        parsed: list[ParsedLine] = []
        for line, record in records:
            result = self._record(line, record)
            if result is not None:
                parsed.append(result)
        return parsed

    def _record(self, line: int, record: str | None) -> ParsedLine | None:
        cells = RECORD_TOO_LONG if record is None else record_cells(record)
        if self.columns is None:
            if isinstance(cells, str):
                raise InvalidImport(f"the header (line {line}) cannot be read: {cells}")
            if not _is_blank(cells):
                self.columns = _header(cells)
                self._positions = tuple(self.columns.index(name) if name in self.columns else -1
                                        for name in TEXT_FIELDS)
            return None
        if isinstance(cells, str):
            return ParsedLine(line, None, (cells,))
        if _is_blank(cells):
            return None
        if len(cells) != len(self.columns):
            return ParsedLine(line, None, (TOO_MANY_FIELDS if len(cells) > len(self.columns) else MISSING_FIELDS,))
        firstname, lastname, number, mobile, fax, email, company = (
            _cell_value(cells[index]) if index >= 0 else "" for index in self._positions)
        fields = ContactFields(firstname, lastname, number, mobile, fax, email, company)
        problems = fields.problems()
        return ParsedLine(line, None, tuple(problems)) if problems else ParsedLine(line, fields)


def parse_csv(data: bytes, charset: str = "", chunk_size: int = 64 * 1024) -> list[ParsedLine]:
    """A whole file at once (tests, small files): the same parser, fed in chunks."""
    parser = ImportParser(charset)
    parsed: list[ParsedLine] = []
    for start in range(0, len(data), chunk_size):
        parsed += parser.feed(data[start:start + chunk_size])
    return parsed + parser.finish()


# --- export ----------------------------------------------------------------------------------------
class CsvExport:
    """CSV text of contacts, handed out as UTF-8 chunks of about `chunk_characters`."""

    def __init__(self, chunk_characters: int = EXPORT_CHUNK_CHARACTERS) -> None:
        self._chunk = chunk_characters
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer)
        self._writer.writerow(EXPORT_COLUMNS)

    def add(self, contact: ContactFields) -> bytes | None:
        """Write one row; a chunk when enough is buffered, else None."""
        self._writer.writerow([neutralize(getattr(contact, column)) for column in EXPORT_COLUMNS])
        return self._take() if self._buffer.tell() >= self._chunk else None

    def finish(self) -> bytes:
        return self._take()

    def _take(self) -> bytes:
        data = self._buffer.getvalue().encode("utf-8")
        self._buffer.seek(0)
        self._buffer.truncate()
        return data


def export_csv(contacts: Iterable[ContactFields], chunk_characters: int = EXPORT_CHUNK_CHARACTERS) -> Iterator[bytes]:
    export = CsvExport(chunk_characters)
    for contact in contacts:
        chunk = export.add(contact)
        if chunk:
            yield chunk
    yield export.finish()
