"""The CSV import parser and export writer (services/contacts/domain/csv_format.py), on plain
strings and bytes: documented examples, edge cases, and hypothesis properties (export then import
gives back the contacts; any chunking parses the same; records are cut where the csv module cuts
them; arbitrary input never raises anything but InvalidImport)."""

from __future__ import annotations

import csv
import io
import itertools

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from services.contacts.domain.contacts import ContactFields
from services.contacts.domain.csv_format import (
    EXPORT_COLUMNS,
    MISSING_FIELDS,
    RECORD_TOO_LONG,
    TOO_MANY_FIELDS,
    CsvExport,
    ImportParser,
    ParsedLine,
    RecordSplitter,
    export_csv,
    parse_csv,
    record_cells,
)
from services.contacts.domain.errors import InvalidContact, InvalidImport

HEADER = "company,email,fax,firstname,lastname,mobile,number"
JOHN = ContactFields(firstname="John", lastname="Doe", number="1111", mobile="2222", fax="3333",
                     email="jdoe@company.corp", company="corp")


def valid(line: int, **fields: str) -> ParsedLine:
    return ParsedLine(line, ContactFields(**fields))


def failed(line: int, *errors: str) -> ParsedLine:
    return ParsedLine(line, None, errors)


def refusal(data: bytes, charset: str = "") -> str:
    with pytest.raises(InvalidImport) as refused:
        parse_csv(data, charset)
    assert refused.value.reason == InvalidContact.reason
    return refused.value.message


# --- import: the documented example and the header ------------------------------------------------
def test_the_documented_example() -> None:
    data = f"{HEADER}\ncorp,jdoe@company.corp,3333,John,Doe,2222,1111".encode()
    assert parse_csv(data) == [ParsedLine(2, JOHN)]


def test_columns_are_trimmed_case_insensitive_in_any_order_and_a_subset() -> None:
    data = b" LastName ,Number\t,FIRSTNAME\nDoe,1111,John\n"
    assert parse_csv(data) == [valid(2, firstname="John", lastname="Doe", number="1111")]


@pytest.mark.parametrize(("header", "message"), [
    ("firstname,phone,name", "unknown column(s): phone, name (columns are company, email, fax, firstname, "
                             "lastname, mobile, number)"),
    ("firstname,lastname,FirstName", "duplicate column(s): firstname"),
    ("firstname,,lastname", "the header has an empty column name (column 2)"),
    ("firstname,lastname,", "the header has an empty column name (column 3)"),
    ("favorite,lastname", "unknown column(s): favorite (columns are company, email, fax, firstname, lastname, "
                          "mobile, number)"),
])
def test_a_bad_header_rejects_the_file(header: str, message: str) -> None:
    assert refusal(f"{header}\nJohn,Doe,x\n".encode()) == message


@pytest.mark.parametrize("data", [b"", b"\n\n\r\n", b"\xef\xbb\xbf", b" , ,\n"])
def test_a_file_without_a_header_is_refused(data: bytes) -> None:
    assert refusal(data) == "the file is empty: its first line must name the columns"


def test_a_header_alone_has_no_line() -> None:
    assert parse_csv(f"{HEADER}\r\n".encode()) == []


def test_blank_lines_before_the_header_are_skipped_and_counted() -> None:
    assert parse_csv(b"\n\nlastname\nDoe\n") == [valid(4, lastname="Doe")]


# --- import: records and line numbers -----------------------------------------------------------
def test_field_count_errors() -> None:
    data = b"firstname,lastname\nJohn,Doe,extra\nJohn\nAnn,Lee\n"
    assert parse_csv(data) == [failed(2, TOO_MANY_FIELDS), failed(3, MISSING_FIELDS),
                               valid(4, firstname="Ann", lastname="Lee")]


def test_lines_are_physical_with_multiline_records_and_blank_lines() -> None:
    data = (b'lastname,company\r\n'
            b'Doe,"ACME, Inc."\r\n'            # 2
            b'\r\n'                            # 3: blank, skipped
            b'"Multi\r\nline",x\r\n'           # 4-5: a line break inside quotes (refused: a control character)
            b'Lee,"He said ""hi"""\r\n'        # 6
            b'  \r\n'                          # 7: blank
            b',,\r\n'                          # 8: no cell with content: blank
            b'"Three\n\nlines"\n'              # 9-11
            b'Last,one')                       # 12, no final line break
    assert parse_csv(data) == [
        valid(2, lastname="Doe", company="ACME, Inc."),
        failed(4, "lastname must not contain control characters"),
        valid(6, lastname="Lee", company='He said "hi"'),
        failed(9, MISSING_FIELDS),
        valid(12, lastname="Last", company="one"),
    ]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_line_ending_counts_one_line(newline: str) -> None:
    data = newline.join(["lastname,number", "Doe,1", "", '"Lee",2', "Kim,3", ""]).encode()
    assert [(p.line, p.fields and p.fields.lastname) for p in parse_csv(data)] == [(2, "Doe"), (4, "Lee"),
                                                                                   (5, "Kim")]


def test_contact_rules_apply_to_each_line() -> None:
    data = b"firstname,lastname,email,fax\n ,  ,a@b.c,1\nAnn," + b"x" * 129 + b",,\n"
    assert parse_csv(data) == [failed(2, "a contact needs a name or a phone number"),
                               failed(3, "lastname must be at most 128 characters")]


def test_cells_are_trimmed_and_unneutralized() -> None:
    data = b"firstname,lastname,company,number\n  '=1+1 ,'@home,''-x,'+33 1\n"
    assert parse_csv(data) == [valid(2, firstname="=1+1", lastname="@home", company="'-x", number="+33 1")]


def test_a_never_closed_quote_is_one_record_too_long_not_a_memory_hog() -> None:
    parser = ImportParser(max_record_characters=100)
    head = parser.feed(b'lastname\nDoe\n"never closed\n')
    body = [parser.feed(b"x" * 1000 + b"\n") for _ in range(50)]
    assert head == [valid(2, lastname="Doe")]
    assert body == [[]] * 50
    assert parser.finish() == [failed(3, RECORD_TOO_LONG)]


def test_a_long_record_is_reported_and_parsing_goes_on() -> None:
    parser = ImportParser(max_record_characters=100)
    lines = parser.feed(b'lastname\n"' + b"x" * 500 + b'"\nDoe\n') + parser.finish()
    assert lines == [failed(2, RECORD_TOO_LONG), valid(3, lastname="Doe")]


# --- import: bytes and charsets ---------------------------------------------------------------------
def test_utf8_with_a_byte_order_mark_and_non_ascii() -> None:
    data = "\ufefflastname,company\nMüller,Société Générale\n".encode()
    assert parse_csv(data) == [valid(2, lastname="Müller", company="Société Générale")]
    assert parse_csv(data, "UTF-8") == parse_csv(data, "utf-8-sig") == parse_csv(data, "utf8")


def test_a_byte_order_mark_split_across_chunks() -> None:
    data = "\ufefflastname\nÉva\n".encode()
    assert parse_csv(data, chunk_size=1) == [valid(2, lastname="Éva")]


def test_latin1() -> None:
    data = "lastname,company\nMüller,Société\n".encode("latin-1")
    assert parse_csv(data, "ISO-8859-1") == [valid(2, lastname="Müller", company="Société")]


def test_utf16_with_its_byte_order_mark() -> None:
    data = "lastname\nMüller\n".encode("utf-16")
    assert parse_csv(data, "utf-16") == [valid(2, lastname="Müller")]


@pytest.mark.parametrize("chunk_size", [1, 2, 7, 1000])
def test_invalid_utf8_rejects_the_file_with_its_byte_offset(chunk_size: int) -> None:
    data = "lastname\nMüller\n".encode() + b"B\xe9ranger\n"
    assert data.index(b"\xe9") == 18
    with pytest.raises(InvalidImport) as refused:
        parse_csv(data, chunk_size=chunk_size)
    assert refused.value.message == "the file is not valid utf-8 (byte offset 18)"


def test_a_truncated_utf8_sequence_at_the_end_is_invalid() -> None:
    data = "lastname\nMü".encode()[:-1]
    assert refusal(data) == f"the file is not valid utf-8 (byte offset {len(data) - 1})"


def test_the_offset_counts_the_byte_order_mark() -> None:
    assert refusal(b"\xef\xbb\xbflastname\n\xff") == "the file is not valid utf-8 (byte offset 12)"


@pytest.mark.parametrize("charset", ["klingon", "base64", "rot13", "zlib", "hex"])
def test_an_unknown_charset_is_refused(charset: str) -> None:
    with pytest.raises(InvalidImport) as refused:
        ImportParser(charset)
    assert refused.value.message == f"unknown charset '{charset}'"


# --- import: properties -------------------------------------------------------------------------------
CSV_TEXT = st.text(alphabet=st.sampled_from(['a', 'é', ' ', ',', '"', '\r', '\n', "'", '=', '1']), max_size=200)


@settings(max_examples=300)
@given(CSV_TEXT)
def test_records_are_cut_where_the_csv_module_cuts_them(text: str) -> None:
    expected = list(csv.reader(io.StringIO(text, newline="")))
    splitter = RecordSplitter(10_000)
    records = [*splitter.feed(text), *splitter.finish()]
    assert [record_cells(record) for _, record in records if record is not None] == expected


@settings(max_examples=200)
@given(CSV_TEXT, st.lists(st.integers(min_value=0, max_value=200), max_size=8))
def test_the_chunking_of_the_text_does_not_matter(text: str, cuts: list[int]) -> None:
    def records(pieces: list[str]) -> list[tuple[int, str | None]]:
        splitter = RecordSplitter(10_000)
        return [record for piece in pieces for record in splitter.feed(piece)] + list(splitter.finish())

    bounds = [0, *sorted(min(cut, len(text)) for cut in cuts), len(text)]
    pieces = [text[start:end] for start, end in itertools.pairwise(bounds)]
    assert records(pieces) == records([text])


def _outcome(data: bytes, charset: str, chunk_size: int) -> list[ParsedLine] | str:
    try:
        return parse_csv(data, charset, chunk_size)
    except InvalidImport as error:
        return f"InvalidImport: {error.message}"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.sampled_from(["", "utf-8", "latin-1", "utf-16", "shift_jis", "cp1252", "idna"]),
       st.integers(min_value=1, max_value=50))
def test_arbitrary_bytes_give_lines_or_invalid_import_whatever_the_chunking(
    data: bytes, charset: str, chunk_size: int
) -> None:
    outcome, whole = _outcome(data, charset, chunk_size), _outcome(data, charset, 1 << 20)
    if isinstance(outcome, list) or isinstance(whole, list):
        assert outcome == whole
    else:
        # A file with two faults (say a bad header, then a bad byte) is refused for the one that
        # arrives first; some codecs (utf-16 without a BOM) find another fault when fed byte by byte.
        assert outcome.startswith("InvalidImport")
        assert whole.startswith("InvalidImport")
    if isinstance(outcome, list):
        _check_lines(outcome)


@settings(max_examples=300)
@given(st.sampled_from(["lastname,number", "firstname", "company,email,fax,firstname,lastname,mobile,number"]),
       st.text(max_size=300))
def test_arbitrary_text_under_a_valid_header(header: str, body: str) -> None:
    outcome = _outcome(f"{header}\n{body}".encode("utf-8", "surrogatepass"), "", 16)
    if isinstance(outcome, list):
        _check_lines(outcome)
    else:
        assert outcome.startswith("InvalidImport: the file is not valid utf-8")  # surrogates only


def _check_lines(lines: list[ParsedLine]) -> None:
    numbers = [line.line for line in lines]
    assert numbers == sorted(set(numbers))
    assert all(number >= 2 for number in numbers)
    for line in lines:
        assert (line.fields is None) == bool(line.errors)
        if line.fields is not None:
            assert line.fields.validated() == line.fields


# --- export ----------------------------------------------------------------------------------------
def test_export_header_rows_and_favorite_not_exported() -> None:
    data = b"".join(export_csv([JOHN, ContactFields(lastname="Lee", favorite=True)]))
    assert data == (b"company,email,fax,firstname,lastname,mobile,number\r\n"
                    b"corp,jdoe@company.corp,3333,John,Doe,2222,1111\r\n"
                    b",,,,Lee,,\r\n")


def test_an_empty_export_is_the_header() -> None:
    assert b"".join(export_csv([])) == f"{HEADER}\r\n".encode()
    assert tuple(HEADER.split(",")) == EXPORT_COLUMNS


def test_export_quotes_and_neutralizes_cells() -> None:
    contact = ContactFields(lastname='Doe, "JD"', firstname="=HYPERLINK(x)", company="'+x", number="+33 1",
                            email="@me", mobile="-1", fax="Zoë")
    row = b"".join(export_csv([contact])).decode().split("\r\n")[1]
    assert row == "''+x,'@me,Zoë,'=HYPERLINK(x),\"Doe, \"\"JD\"\"\",'-1,'+33 1"


def test_export_is_chunked() -> None:
    export = CsvExport(chunk_characters=1000)
    chunks = [chunk for _ in range(100) if (chunk := export.add(JOHN))] + [export.finish()]
    assert 4 <= len(chunks) <= 6
    assert all(len(chunk) < 1100 for chunk in chunks)
    assert b"".join(chunks) == b"".join(export_csv([JOHN] * 100))


# --- the round trip --------------------------------------------------------------------------------
# Inside a value: anything but what validation refuses, with CSV and spreadsheet specials frequent.
INNER = st.text(
    alphabet=st.one_of(st.sampled_from([",", '"', "'", "=", "+", "-", "@", " ", "é", "ß", "株"]),
                       st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp"))),
    max_size=20,
)
# Around it: whitespace and line breaks, which validation strips.
PADDING = st.sampled_from(["", " ", "\n", "\r\n", "\t ", "\u3000"])
RAW_VALUE = st.builds(lambda before, value, after: before + value + after, PADDING, INNER, PADDING)


@st.composite
def valid_contacts(draw: st.DrawFn) -> ContactFields:
    texts = {name: draw(RAW_VALUE) for name in ("firstname", "lastname", "number", "mobile", "fax", "email", "company")}
    fields = ContactFields(**texts).stripped()
    assume(not fields.problems())  # only "needs a name or a number" can fail here
    return fields


@settings(max_examples=200, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(st.lists(valid_contacts(), max_size=8), st.integers(min_value=1, max_value=64))
def test_export_then_import_gives_back_the_same_fields(contacts: list[ContactFields], chunk_size: int) -> None:
    data = b"".join(export_csv(contacts, chunk_characters=chunk_size))
    parsed = parse_csv(data, chunk_size=chunk_size)
    assert [line.fields for line in parsed] == contacts
    assert all(not line.errors for line in parsed)


def test_the_round_trip_of_cells_that_look_neutralized_already() -> None:
    contacts = [ContactFields(lastname=value) for value in ("'=x", "''=x", "'x", "=x", "-", "'", "'-")]
    parsed = parse_csv(b"".join(export_csv(contacts)))
    assert [line.fields for line in parsed] == contacts
