"""`xuc provision FILE` (and `xuc keys list`) against the running stack, checked through the CLI and the REST API."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import BASE, Stack, assert_error, assert_token_answer

LOGIN = f"{BASE}/auth/login"


def test_provisioning_is_idempotent(stack: Stack, api: httpx.Client) -> None:
    users = {"prov.idem1": "first-secret", "prov.idem2": "second-secret"}

    assert stack.provision(users) == ["user prov.idem1: created", "user prov.idem2: created"]
    assert stack.provision(users) == ["user prov.idem1: unchanged", "user prov.idem2: unchanged"]

    for login, password in users.items():
        assert_token_answer(api.post(LOGIN, json={"login": login, "password": password}), login)
    assert {"prov.idem1", "prov.idem2"} <= set(stack.user_logins())


def test_a_changed_entry_is_updated(stack: Stack, api: httpx.Client) -> None:
    assert stack.provision({"prov.change": "old-secret"}) == ["user prov.change: created"]

    assert stack.provision({"prov.change": "new-secret"}) == ["user prov.change: updated"]

    assert_error(api.post(LOGIN, json={"login": "prov.change", "password": "old-secret"}), 401,
                 "InvalidCredentials")
    assert_token_answer(api.post(LOGIN, json={"login": "prov.change", "password": "new-secret"}), "prov.change")


def test_profile_fields_are_listed(stack: Stack) -> None:
    path = stack.write_file("profile.yaml", (
        "users:\n"
        "  - login: prov.profile\n"
        "    password: profile-secret\n"
        "    firstname: Pat\n"
        "    lastname: Rofile\n"
        "    line: 1001\n"
        "    mobile: 0611223344\n"
    ))

    assert stack.xuc("provision", str(path)).stdout.splitlines() == ["user prov.profile: created"]

    (row,) = [line.split() for line in stack.xuc("user", "list").stdout.splitlines()
              if line.startswith("prov.profile ")]
    assert row == ["prov.profile", "Pat", "Rofile", "1001", "0611223344"]  # YAML's octal-looking number kept


def test_a_malformed_file_is_reported_with_its_line_and_applies_nothing(stack: Stack, api: httpx.Client) -> None:
    before = stack.user_logins()
    path = stack.write_file("malformed.yaml", (
        "users:\n"
        "  - {login: prov.valid, password: valid-secret}\n"
        "  - {login: prov.nopass, firstname: Nopass}\n"
    ))

    result = stack.xuc("provision", str(path), check=False)

    assert result.returncode == 2, (result.stdout, result.stderr)
    assert f"{path}:3: users[1].password: field required" in result.stderr.splitlines()
    assert "nothing applied" in result.stderr
    assert "created" not in result.stdout
    assert stack.user_logins() == before
    for login in ("prov.valid", "prov.nopass"):
        assert_error(api.post(LOGIN, json={"login": login, "password": "valid-secret"}), 401, "InvalidCredentials")


def test_a_file_with_several_problems_reports_them_all(stack: Stack) -> None:
    path = stack.write_file("problems.yaml", (
        "users:\n"
        "  - {login: prov.dup, password: dup-secret}\n"
        "  - {login: prov.dup, password: dup-secret}\n"
        "  - {login: '-bad login', password: x, mobile: not-a-phone}\n"
        "colors: [red]\n"
    ))

    result = stack.xuc("provision", str(path), check=False)

    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert any(line.startswith(f"{path}:4: users[2].login: ") for line in lines), lines
    assert any(line.startswith(f"{path}:4: users[2].mobile: ") for line in lines), lines
    assert any(line.startswith(f"{path}:5: colors: unknown section") for line in lines), lines
    assert "prov.dup" not in stack.user_logins()


def test_the_signing_keys_are_listed_through_the_running_auth(stack: Stack) -> None:
    # `xuc keys` asks auth (ListSigningKeys): the command line opens no service's database.
    header, *keys = stack.xuc("keys", "list").stdout.splitlines()

    assert header.split() == ["kid", "generation", "state", "created", "signs", "from", "signs", "until"]
    assert "signing" in [row.split()[2] for row in keys]


def test_user_statuses_are_applied_and_their_problems_reported_by_telephony(stack: Stack) -> None:
    # The defaults, written out: applying them changes nothing other tests of the stack see.
    defaults = stack.write_file("statuses.yaml", (
        "userStatuses:\n"
        "  - {name: available, longName: Available, color: '#08FD20',\n"
        "     actions: [{name: enablednd, parameters: false}]}\n"
        "  - {name: away, longName: Away, color: '#FDE50A'}\n"
        "  - {name: outtolunch, longName: Out to lunch, color: '#001AFF'}\n"
        "  - {name: donotdisturb, longName: Do not disturb, color: '#FF032D',\n"
        "     actions: [{name: enablednd, parameters: true}]}\n"
        "  - {name: berightback, longName: Be right back, color: '#FFB545'}\n"
    ))
    assert stack.xuc("provision", str(defaults)).stdout.splitlines() == ["user statuses: 5 applied"]

    bad = stack.write_file("bad-statuses.yaml", (
        "userStatuses:\n"
        "  - {name: available, longName: Available, color: '#08FD20'}\n"
        "  - name: available\n"
        "    longName: Again\n"
        "    color: green\n"
        "    actions: [{name: dance}]\n"
    ))
    result = stack.xuc("provision", str(bad), check=False)

    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert any(line.startswith(f"{bad}:3: userStatuses[1].name: duplicate status 'available'") for line in lines), lines
    assert any(line.startswith(f"{bad}:5: userStatuses[1].color: a colour must be written #RRGGBB") for line in lines)
    assert any(line.startswith(f"{bad}:6: userStatuses[1].actions[0].name: unknown action 'dance'") for line in lines)
    assert "applied" not in result.stdout
