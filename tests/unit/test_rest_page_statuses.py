"""The documented statuses win: every (code, HTTP status) of the REST page's error tables is what
`gateway/openapi.yaml` documents and what the gateway's error table answers, but for the deviations
README lists under "Where we answer differently from the REST page" (read here, so that the README
and this test cannot disagree).

The page is read from its copy in the repository (docs/spec/xuc-rest-api.rst), so that the test
runs wherever the repository does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from gateway.app import load_openapi
from gateway.errors import TABLE, unhandled_code

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "spec" / "xuc-rest-api.rst"
README = ROOT / "README.md"
DEVIATIONS_HEADING = "## Where we answer differently from the REST page"

# The page's sections that hold an error table, and the routes (path prefixes) each one covers.
SECTION_PATHS: dict[str, tuple[str, ...]] = {
    "Personal Contacts": ("/xuc/api/2.0/contact/",),
    "Qualifications": ("/xuc/api/2.0/call_qualification", "/xuc/api/api/2.0/call_qualification"),
    "Mobile": ("/xuc/api/2.0/config/mobile/", "/xuc/api/2.0/mobile/"),
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
CODE_IN_DESCRIPTION = re.compile(r"`([A-Z][A-Za-z]+)`")
TABLE_ROW = re.compile(r"^\|\s*([A-Za-z]+)\s*\|\s*(\d{3})\s*\|")

Deviation = tuple[str, int, int]  # code, documented status, our status


def page_error_tables(text: str) -> dict[str, list[tuple[str, int]]]:
    """Section title -> the (code, status) rows of its error table. A section is a title line
    underlined with `=`; a row is `| Code | 500 | cause |` of a grid table."""
    lines = text.splitlines()
    tables: dict[str, list[tuple[str, int]]] = {}
    section = ""
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r"=+", following) and len(following) >= len(line.strip()):
            section = line.strip()
        elif match := TABLE_ROW.match(line):
            tables.setdefault(section, []).append((match[1], int(match[2])))
    return tables


def readme_deviations(text: str) -> set[Deviation]:
    """The rows of README's deviation table whose documented status is a number:
    | `Code` | 500 | 400 | reason |. The other rows are codes the page gives no status (`—`)."""
    _, found, rest = text.partition(DEVIATIONS_HEADING + "\n")
    assert found, f"README has no {DEVIATIONS_HEADING!r}"
    section = rest.split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert rows[:2] == ["| code | documented status | our status | reason |", "|---|---|---|---|"], rows[:2]
    deviations: set[Deviation] = set()
    for row in rows[2:]:
        code, documented, ours, reason = (cell.strip() for cell in row.strip("|").split(" | "))
        assert code.startswith("`"), f"a row without its code: {row}"
        assert ours, f"a row without our status: {row}"
        assert reason, f"a row without its reason: {row}"
        if documented[:1].isdigit():
            deviations.add((code.split("`")[1], int(documented), int(ours)))
        else:
            assert documented.startswith("—"), f"a documented status is a number, or — when the page gives none: {row}"
    return deviations


def _resolved(document: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in response:
        found: dict[str, Any] = document["components"]["responses"][response["$ref"].rpartition("/")[2]]
        return found
    return response


def openapi_statuses(document: dict[str, Any], prefixes: tuple[str, ...], code: str) -> set[int]:
    """The error statuses under which the description names `code`, over the routes of `prefixes`."""
    return {int(status) for path, item in document["paths"].items() if path.startswith(prefixes)
            for method, operation in item.items() if method in HTTP_METHODS
            for status, response in operation["responses"].items() if int(status) >= 400
            if code in CODE_IN_DESCRIPTION.findall(_resolved(document, response).get("description", ""))}


def gateway_status(prefixes: tuple[str, ...], code: str) -> int:
    """What the gateway answers `code` with on these routes: its table's row, or the 500 of the
    section's unhandled code."""
    if code in TABLE:
        status, answered = TABLE[code]
        assert answered == code, f"{code} is answered as {answered}"
        return status
    assert {unhandled_code(prefix) for prefix in prefixes} == {code}, f"{code}: no row in gateway/errors.py"
    return 500


PAGE_TABLES = page_error_tables(PAGE.read_text(encoding="utf-8"))
DEVIATIONS = readme_deviations(README.read_text(encoding="utf-8"))
ROWS = [(section, code, status) for section, rows in PAGE_TABLES.items() for code, status in rows]


def test_the_page_is_read() -> None:
    # Three sections with an error table; a new one needs its routes in SECTION_PATHS.
    assert set(PAGE_TABLES) == set(SECTION_PATHS)
    assert ("Personal Contacts", "JsonParsingError", 500) in ROWS
    assert len(ROWS) >= 10


@pytest.mark.parametrize(("section", "code", "documented"), ROWS, ids=[f"{s}-{c}" for s, c, _ in ROWS])
def test_each_documented_code_is_answered_with_its_documented_status_or_a_listed_deviation(
        section: str, code: str, documented: int) -> None:
    prefixes = SECTION_PATHS[section]
    ours = gateway_status(prefixes, code)

    assert openapi_statuses(load_openapi(), prefixes, code) == {ours}, (
        f"{section} {code}: gateway/openapi.yaml and gateway/errors.py disagree")
    if ours != documented:
        assert (code, documented, ours) in DEVIATIONS, (
            f"{section} {code}: documented {documented}, answered {ours}; list it in README {DEVIATIONS_HEADING!r}")


def test_every_listed_deviation_is_one() -> None:
    found = {(code, documented, gateway_status(SECTION_PATHS[section], code))
             for section, code, documented in ROWS}
    stale = {deviation for deviation in DEVIATIONS if deviation not in found or deviation[1] == deviation[2]}
    assert stale == set(), "README lists deviations that are no longer (or never were) ours"


def test_the_readme_table_is_parsed() -> None:
    header = "| code | documented status | our status | reason |\n|---|---|---|---|\n"
    text = README.read_text(encoding="utf-8").replace(
        header, header + "| `JsonParsingError` | 500 | 400 | the client's doing |\n", 1)
    assert readme_deviations(text) == DEVIATIONS | {("JsonParsingError", 500, 400)}
