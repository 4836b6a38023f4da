"""Provisioning files (xuc/provisioning/schema.py, yaml_lines.py): the file's shape, and its own
problems reported by line and path (the values' rules are the services': test_provision_apply.py)."""

from __future__ import annotations

import textwrap

import pytest

from xuc.provisioning import InvalidFile, ProvisionFile, parse

EXAMPLE = """\
users:
  - {login: alicej, password: alice-secret, firstname: Alice, lastname: Jones, line: "1001", mobile: "0611223344"}
agents:
  - {number: "2001", user: alicej}
queues:
  - {id: 5, name: support, number: "3000", agents: ["2001"]}
qualifications:
  - {name: Support, queues: [5], subQualifications: [{name: Technical}, {name: General}]}
userStatuses:
  - {name: available, longName: Available, color: "#08FD20", actions: [{name: enablednd, parameters: false}]}
  - {name: away, longName: Away, color: "#FDE50A"}
  - {name: pause, longName: On a break, color: "#FFB545", actions: [{name: queuepause_all}]}
"""


def problems_of(text: str) -> list[tuple[int, str, str]]:
    """(line, path, message) of every problem `parse` reports."""
    with pytest.raises(InvalidFile) as raised:
        parse(textwrap.dedent(text))
    return [(problem.line, problem.path, problem.message) for problem in raised.value.problems]


# --- valid files ------------------------------------------------------------------------------------
def test_the_documented_example_is_read_whole() -> None:
    spec = parse(EXAMPLE)

    [alice] = spec.users
    assert (alice.login, alice.password, alice.firstname, alice.lastname, alice.line, alice.mobile) == (
        "alicej", "alice-secret", "Alice", "Jones", "1001", "0611223344")
    assert [(agent.number, agent.user) for agent in spec.agents] == [("2001", "alicej")]
    [queue] = spec.queues
    assert (queue.id, queue.name, queue.number, queue.agents) == (5, "support", "3000", ["2001"])
    assert spec.qualifications is not None
    [qualification] = spec.qualifications
    assert qualification.queues == [5]
    assert [sub.name for sub in qualification.sub_qualifications] == ["Technical", "General"]
    assert spec.user_statuses is not None
    assert [(status.name, status.long_name, status.color,
             [(action.name, action.parameters) for action in status.actions]) for status in spec.user_statuses] == [
        ("available", "Available", "#08FD20", [("enablednd", "false")]), ("away", "Away", "#FDE50A", []),
        ("pause", "On a break", "#FFB545", [("queuepause_all", "")])]


def test_numbers_written_unquoted_become_the_strings_as_written() -> None:
    spec = parse(textwrap.dedent("""\
        users:
          - {login: bob, password: 1234, line: 1001, mobile: 0611223344}
          - {login: carol, password: x, mobile: +33611223344}
        agents:
          - {number: 2001, user: bob}
        queues:
          - {id: 5, name: q, number: 3000, agents: [2001]}
        """))

    bob, carol = spec.users
    assert (bob.password, bob.line) == ("1234", "1001")
    # YAML 1.1 would read these as the octal 0611223344 and the int 33611223344.
    assert bob.mobile == "0611223344"
    assert carol.mobile == "+33611223344"
    assert spec.agents[0].number == "2001"
    assert spec.queues[0].agents == ["2001"]


def test_json_is_yaml() -> None:
    spec = parse('{"users": [{"login": "alicej", "password": "pw", "line": 1001}]}')

    assert spec.users[0].line == "1001"


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "users:\nagents: []\n", "qualifications:\n"])
def test_an_empty_file_or_section_is_nothing_to_do(text: str) -> None:
    assert parse(text) == ProvisionFile()


def test_an_empty_qualifications_list_is_kept_apart_from_an_absent_section() -> None:
    # `[]` deactivates every qualification; an absent or bare section leaves them alone.
    assert parse("qualifications: []\n").qualifications == []
    assert parse("users: []\n").qualifications is None
    assert parse("qualifications:\n").qualifications is None


def test_user_statuses_are_managed_only_when_the_file_lists_them() -> None:
    assert parse("userStatuses: []\n").user_statuses == []  # refused by the service: at least one
    assert parse("users: []\n").user_statuses is None
    assert parse("userStatuses:\n").user_statuses is None
    # `parameters: true` as the original writes it is the text "true".
    spec = parse('userStatuses: [{name: dnd, longName: DND, color: "#FF032D", '
                 'actions: [{name: enablednd, parameters: true}]}]\n')
    assert spec.user_statuses is not None
    assert spec.user_statuses[0].actions[0].parameters == "true"


def test_a_status_colour_left_unquoted_is_explained_at_its_line() -> None:
    assert problems_of("""\
        userStatuses:
          - name: away
            longName: Away
            color: #FDE50A
          - {name: back, color: "#FFB545", shade: dark}
        """) == [
        (4, "userStatuses[0].color",
         'a colour is required: write it in quotes ("#08FD20"), a bare # starts a YAML comment'),
        (5, "userStatuses[1].longName", "field required"),
        (5, "userStatuses[1].shade", "unknown field"),
    ]


def test_a_name_is_not_taken_for_a_boolean() -> None:
    spec = parse("users:\n  - {login: nora, password: pw, lastname: No}\n")

    assert spec.users[0].lastname == "No"


# --- problems with types, by line and path -----------------------------------------------------------
def test_a_missing_field_is_reported_at_its_entry() -> None:
    assert problems_of("""\
        users:
          - login: alicej
            firstname: Alice
        """) == [(2, "users[0].password", "field required")]


def test_a_list_where_a_string_is_expected_is_reported_at_its_field() -> None:
    assert problems_of("""\
        users:
          - login: alicej
            password: pw
            line: [1001, 1002]
        """) == [(4, "users[0].line", "input should be a valid string")]


def test_unknown_fields_and_sections_are_refused() -> None:
    assert problems_of("""\
        users:
          - {login: alicej, password: pw, email: a@example.com}
        phones: []
        """) == [
        (2, "users[0].email", "unknown field"),
        (3, "phones", "unknown section (expected users, agents, queues, qualifications, userStatuses)"),
    ]


def test_every_problem_of_the_file_is_reported_in_line_order() -> None:
    problems = problems_of("""\
        qualifications:
          - name: Support
            subQualifications:
              - {name: Technical}
              - {nom: General}
        users:
          - {login: "bad login", password: pw, mobile: abc}
        queues:
          - {id: true, name: q, number: "3000"}
        """)

    # The login and the mobile are the auth service's to judge (test_the_services_violations_...).
    assert problems == [
        (5, "qualifications[0].subQualifications[1].name", "field required"),
        (5, "qualifications[0].subQualifications[1].nom", "unknown field"),
        (9, "queues[0].id", "must be an integer"),
    ]


def test_a_file_that_is_not_a_mapping_is_refused() -> None:
    assert problems_of("- users\n") == [
        (1, "", "the file must be a mapping of sections (users, agents, queues, qualifications, userStatuses)")]


def test_a_section_that_is_not_a_list_is_reported_at_its_key() -> None:
    assert problems_of("""\
        agents:
          number: "2001"
        """) == [(1, "agents", "input should be a valid list")]


# --- duplicates and references -----------------------------------------------------------------------
def test_the_values_and_duplicates_are_left_to_the_services() -> None:
    # Logins, numbers and names follow rules of the services, which answer validate_only for them.
    spec = parse("""\
        users:
          - {login: alicej, password: a, mobile: not-a-phone}
          - {login: alicej, password: b}
        qualifications:
          - {name: "Sup\\tport", subQualifications: [{name: Technical}, {name: Technical}]}
          - {name: Support}
        """)

    assert [user.login for user in spec.users] == ["alicej", "alicej"]


def test_references_to_undeclared_entries_are_refused() -> None:
    assert problems_of("""\
        users:
          - {login: alicej, password: a}
        agents:
          - {number: "2001", user: nobody}
        queues:
          - name: support
            id: 5
            number: "3000"
            agents:
              - "2001"
              - "2002"
        qualifications:
          - {name: Support, queues: [5, 7]}
        """) == [
        (4, "agents[0].user", "unknown user 'nobody': not in the users section"),
        (11, "queues[0].agents[1]", "unknown agent '2002': not in the agents section"),
        (13, "qualifications[0].queues[1]", "unknown queue id 7: not in the queues section"),
    ]


def test_a_key_given_twice_in_an_entry_is_refused() -> None:
    assert problems_of("""\
        users:
          - login: alicej
            password: a
            login: bob
        """) == [(4, "users[0].login", "duplicate key")]


# --- YAML syntax -------------------------------------------------------------------------------------
def test_a_syntax_error_is_reported_with_its_line() -> None:
    [(line, path, message)] = problems_of("""\
        users:
          - {login: alicej, password: a}
          - login: bob
           password: b
        """)

    assert (line, path) == (4, "")
    assert message.startswith("YAML syntax error: ")


def test_an_unclosed_flow_mapping_names_where_it_began() -> None:
    [(_, _, message)] = problems_of("""\
        users:
          - {login: alicej, password: a
        agents: []
        """)

    assert message.endswith("(while parsing a flow mapping at line 2)")


def test_a_second_document_is_refused() -> None:
    assert problems_of("users: []\n---\nagents: []\n") == [
        (2, "", "YAML syntax error: expected a single document in the stream, but found another document")]


def test_problems_render_as_file_line_path_message() -> None:
    with pytest.raises(InvalidFile) as raised:
        parse("users:\n  - login: alicej\n")

    assert [problem.render("provision.yaml") for problem in raised.value.problems] == [
        "provision.yaml:2: users[0].password: field required"]
