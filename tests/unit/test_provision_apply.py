"""Applying provisioning files (xuc/provisioning/apply.py) against in-process gRPC servers standing in
for auth, contacts and telephony (they record the requests, and answer validate_only with the
violations a test gives them): one round of validation, the answered paths mapped to the file's lines,
then the sections applied."""

from __future__ import annotations

import json
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from xuc.errors import FieldViolation
from xuc.launcher import CliError
from xuc.provisioning import InvalidFile, provision
from xuc.provisioning.apply import file_loc
from xuc.runtime.grpc_errors import status_for
from xuc.runtime.settings import Settings
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from xucproto.telephony.v1 import telephony_pb2, telephony_pb2_grpc


# --- applying, against stand-ins for the services ------------------------------------------------
@dataclass
class Recorded:
    """The requests applied (validate_only ones apart), and violations to answer to validate_only."""

    put_users: list[auth_pb2.PutUsersRequest] = field(default_factory=list)
    put_qualifications: list[contacts_pb2.PutQualificationsRequest] = field(default_factory=list)
    put_agents_and_queues: list[telephony_pb2.PutAgentsAndQueuesRequest] = field(default_factory=list)
    put_user_statuses: list[telephony_pb2.UserStatusesPutRequest] = field(default_factory=list)
    validated: list[str] = field(default_factory=list)  # methods called with validate_only
    service_tokens: set[str] = field(default_factory=set)
    violations: dict[str, list[FieldViolation]] = field(default_factory=dict)  # method -> answered

    async def saw(self, method: str, request: Any, context: grpc.aio.ServicerContext) -> bool:
        """Whether to apply the request (else it was a validate_only one: answered here)."""
        self.service_tokens |= {value for key, value in context.invocation_metadata() or ()
                                if key == "x-xuc-service-token"}
        if not request.validate_only:
            return True
        self.validated.append(method)
        if self.violations.get(method):
            status = status_for(grpc.StatusCode.INVALID_ARGUMENT, "Invalid", "invalid", self.violations[method])
            await context.abort(status.code, status.details, status.trailing_metadata)
        return False


class StandInAuth(auth_pb2_grpc.AuthServicer):
    def __init__(self, recorded: Recorded) -> None:
        self.recorded = recorded

    async def PutUsers(self, request: auth_pb2.PutUsersRequest, context: Any) -> auth_pb2.PutUsersReply:
        if not await self.recorded.saw("PutUsers", request, context):
            return auth_pb2.PutUsersReply()
        self.recorded.put_users.append(request)
        return auth_pb2.PutUsersReply(results=[
            auth_pb2.PutUserResult(user=auth_pb2.User(login=user.login), outcome="created") for user in request.users])


class StandInQualifications(contacts_pb2_grpc.QualificationsServicer):
    """Answers the first listed qualification "created", the others "unchanged", and reports "Old"
    deactivated, so that every kind of line is printed."""

    def __init__(self, recorded: Recorded) -> None:
        self.recorded = recorded

    async def PutQualifications(self, request: contacts_pb2.PutQualificationsRequest,
                                context: Any) -> contacts_pb2.PutQualificationsReply:
        if not await self.recorded.saw("PutQualifications", request, context):
            return contacts_pb2.PutQualificationsReply()
        self.recorded.put_qualifications.append(request)
        listed = [contacts_pb2.Qualification(id=i + 1, name=spec.name) for i, spec in enumerate(request.qualifications)]
        outcomes = ["created", *["unchanged"] * len(listed)][:len(listed)]
        return contacts_pb2.PutQualificationsReply(qualifications=listed, outcomes=outcomes, deactivated=["Old"])


class StandInTelephony(telephony_pb2_grpc.TelephonyServicer):
    """Reports agent "2999" and queue 99 removed, so that every kind of line is printed."""

    def __init__(self, recorded: Recorded) -> None:
        self.recorded = recorded

    async def PutAgentsAndQueues(self, request: telephony_pb2.PutAgentsAndQueuesRequest,
                                 context: Any) -> telephony_pb2.PutAgentsAndQueuesReply:
        if not await self.recorded.saw("PutAgentsAndQueues", request, context):
            return telephony_pb2.PutAgentsAndQueuesReply()
        self.recorded.put_agents_and_queues.append(request)
        return telephony_pb2.PutAgentsAndQueuesReply(agents=len(request.agents), queues=len(request.queues),
                                                     removed_agents=["2999"], removed_queues=[99])

    async def PutUserStatuses(self, request: telephony_pb2.UserStatusesPutRequest,
                              context: Any) -> telephony_pb2.UserStatusesPutReply:
        if not await self.recorded.saw("PutUserStatuses", request, context):
            return telephony_pb2.UserStatusesPutReply()
        self.recorded.put_user_statuses.append(request)
        return telephony_pb2.UserStatusesPutReply(statuses=len(request.user_statuses))


@dataclass
class Services:
    recorded: Recorded
    auth_address: str
    contacts_address: str  # the stand-in telephony service answers there too


@pytest.fixture
async def services() -> AsyncIterator[Services]:
    recorded = Recorded()
    auth_server, contacts_server = grpc.aio.server(), grpc.aio.server()
    auth_pb2_grpc.add_AuthServicer_to_server(StandInAuth(recorded), auth_server)
    contacts_pb2_grpc.add_QualificationsServicer_to_server(StandInQualifications(recorded), contacts_server)
    telephony_pb2_grpc.add_TelephonyServicer_to_server(StandInTelephony(recorded), contacts_server)
    auth_port = auth_server.add_insecure_port("127.0.0.1:0")
    contacts_port = contacts_server.add_insecure_port("127.0.0.1:0")
    await auth_server.start()
    await contacts_server.start()
    try:
        yield Services(recorded, f"127.0.0.1:{auth_port}", f"127.0.0.1:{contacts_port}")
    finally:
        await auth_server.stop(None)
        await contacts_server.stop(None)


SERVICE_TOKEN = "stand-in-service-token"


def settings_for(data_dir: Path, **addresses: str) -> Settings:
    env = {"XUC_DATA_DIR": str(data_dir), **{f"XUC_{name.upper()}_ADDRESS": value for name, value in addresses.items()}}
    return Settings.from_env(env=env)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XUC_SERVICE_TOKEN", SERVICE_TOKEN)
    return tmp_path


def provisioning_file(data_dir: Path, text: str) -> Path:
    path = data_dir / "provision.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def output_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


async def test_qualifications_are_put_in_one_call_after_the_users(
    services: Services, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = provisioning_file(data_dir, """\
        users:
          - {login: alicej, password: pw}
        agents:
          - {number: "2001", user: alicej}
        queues:
          - {id: 5, name: support, number: "3000", agents: ["2001"]}
          - {id: 6, name: sales, number: "3001"}
        qualifications:
          - {name: Support, queues: [5, 6], subQualifications: [{name: Technical}, {name: General}]}
          - {name: Empty}
        """)

    await provision(path, settings_for(data_dir, auth=services.auth_address, contacts=services.contacts_address,
                                       telephony=services.contacts_address))

    assert output_lines(capsys) == [
        "user alicej: created",
        "agents: 1 applied, queues: 2 applied",
        "agent 2999: removed",
        "queue 99: removed",
        "qualification Support: created",
        "qualification Empty: unchanged",
        "qualification Old: deactivated",
    ]
    [request] = services.recorded.put_qualifications
    assert [(spec.name, list(spec.queue_ids), list(spec.sub_qualifications)) for spec in request.qualifications] == [
        ("Support", [5, 6], ["Technical", "General"]), ("Empty", [], [])]
    [put] = services.recorded.put_agents_and_queues
    assert [(agent.number, agent.username) for agent in put.agents] == [("2001", "alicej")]
    assert [(queue.id, queue.name, queue.number, list(queue.agents)) for queue in put.queues] == [
        (5, "support", "3000", ["2001"]), (6, "sales", "3001", [])]
    assert services.recorded.service_tokens == {SERVICE_TOKEN}
    # One round of validation, every section, before anything is applied.
    assert services.recorded.validated == ["PutUsers", "PutAgentsAndQueues", "PutQualifications"]


async def test_an_empty_list_puts_no_qualification_and_an_absent_section_makes_no_call(
    services: Services, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(data_dir, auth=services.auth_address, contacts=services.contacts_address)

    await provision(provisioning_file(data_dir, "users: [{login: bob, password: pw}]\n"), settings)
    assert services.recorded.put_qualifications == []

    await provision(provisioning_file(data_dir, "qualifications: []\n"), settings)
    [request] = services.recorded.put_qualifications
    assert list(request.qualifications) == []
    assert output_lines(capsys) == ["user bob: created", "qualification Old: deactivated"]


async def test_users_need_only_auth(services: Services, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # No contacts address and no run/contacts.json: fine, as long as no section needs contacts.
    await provision(provisioning_file(data_dir, "users: [{login: carol, password: pw}]\n"),
                    settings_for(data_dir, auth=services.auth_address))

    assert output_lines(capsys) == ["user carol: created"]


async def test_without_contacts_nothing_is_applied(services: Services, data_dir: Path) -> None:
    path = provisioning_file(data_dir, """\
        users: [{login: dave, password: pw}]
        qualifications: [{name: Support}]
        """)

    with pytest.raises(CliError, match="no address for contacts: set XUC_CONTACTS_ADDRESS"):
        await provision(path, settings_for(data_dir, auth=services.auth_address))

    assert services.recorded.put_users == []  # checked before the users were applied


async def test_the_contacts_address_is_read_from_the_run_directory(
    services: Services, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (data_dir / "run").mkdir()
    (data_dir / "run" / "contacts.json").write_text(json.dumps({"pid": 1, "grpc": services.contacts_address}))

    await provision(provisioning_file(data_dir, "qualifications: [{name: Support}]\n"),
                    settings_for(data_dir, auth=services.auth_address))

    assert output_lines(capsys) == ["qualification Support: created", "qualification Old: deactivated"]


async def test_user_statuses_are_put_in_one_call_to_telephony_and_only_when_listed(
    services: Services, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(data_dir, auth=services.auth_address, telephony=services.contacts_address)
    path = provisioning_file(data_dir, """\
        users: [{login: erin, password: pw}]
        userStatuses:
          - {name: available, longName: Available, color: "#08FD20", actions: [{name: enablednd, parameters: false}]}
          - name: pause
            longName: On a break
            color: "#FFB545"
            actions: [{name: queuepause_all}, {name: enablednd}]
        """)

    await provision(path, settings)

    assert output_lines(capsys) == ["user erin: created", "user statuses: 2 applied"]
    assert services.recorded.validated == ["PutUsers", "PutUserStatuses"]
    [request] = services.recorded.put_user_statuses
    assert [(status.name, status.long_name, status.color,
             [(action.name, action.parameters) for action in status.actions]) for status in request.user_statuses] == [
        ("available", "Available", "#08FD20", [("enablednd", "false")]),
        ("pause", "On a break", "#FFB545", [("queuepause_all", ""), ("enablednd", "")])]

    await provision(provisioning_file(data_dir, "users: [{login: erin, password: pw}]\nuserStatuses:\n"), settings)
    assert len(services.recorded.put_user_statuses) == 1  # a bare section leaves the statuses alone


# --- the services' answers, mapped to the file's lines -------------------------------------------------
def test_request_paths_map_to_the_keys_of_the_file() -> None:
    assert file_loc("users[3].login") == ("users", 3, "login")
    assert file_loc("agents[0].username") == ("agents", 0, "user")
    assert file_loc("queues[1].agents[2]") == ("queues", 1, "agents", 2)
    assert file_loc("qualifications[0].queue_ids[1]") == ("qualifications", 0, "queues", 1)
    assert file_loc("qualifications[0].sub_qualifications[2]") == ("qualifications", 0, "subQualifications", 2, "name")
    assert file_loc("qualifications[0].name") == ("qualifications", 0, "name")
    assert file_loc("user_statuses[2].name") == ("userStatuses", 2, "name")
    assert file_loc("user_statuses[0].long_name") == ("userStatuses", 0, "longName")
    assert file_loc("user_statuses[1].actions[0].parameters") == ("userStatuses", 1, "actions", 0, "parameters")
    assert file_loc("user_statuses") == ("userStatuses",)
    assert file_loc("") == ()
    assert file_loc("users[x]") == ("users",)  # what cannot be read ends the path


async def test_the_services_violations_are_reported_at_their_lines_and_nothing_is_applied(
    services: Services, data_dir: Path
) -> None:
    services.recorded.violations = {
        "PutUsers": [FieldViolation(("users", 1, "login"), "login must be ..."),
                     FieldViolation(("users", 1, "mobile"), "mobile must be a phone number")],
        "PutAgentsAndQueues": [FieldViolation(("agents", 0, "username"), "an agent needs a user")],
        "PutQualifications": [FieldViolation(("qualifications", 0, "sub_qualifications", 1), "duplicate")],
        "PutUserStatuses": [FieldViolation(("user_statuses", 0, "long_name"), "a long name must be ..."),
                            FieldViolation(("user_statuses", 0, "actions", 0, "name"), "unknown action 'dance'")],
    }
    path = provisioning_file(data_dir, """\
        users:
          - {login: alicej, password: pw}
          - login: "bad login"
            password: pw
            mobile: abc
        agents:
          - {number: "2001", user: alicej}
        qualifications:
          - name: Support
            subQualifications:
              - {name: Technical}
              - {name: Technical}
        colors: [red]
        userStatuses:
          - name: party
            longName: ""
            color: "#FF00FF"
            actions: [{name: dance}]
        """)

    with pytest.raises(InvalidFile) as raised:
        await provision(path, settings_for(data_dir, auth=services.auth_address,
                                           contacts=services.contacts_address, telephony=services.contacts_address))

    assert [problem.render("f.yaml") for problem in raised.value.problems] == [
        "f.yaml:3: users[1].login: login must be ...",
        "f.yaml:5: users[1].mobile: mobile must be a phone number",
        "f.yaml:7: agents[0].user: an agent needs a user",
        "f.yaml:12: qualifications[0].subQualifications[1].name: duplicate",
        "f.yaml:13: colors: unknown section (expected users, agents, queues, qualifications, userStatuses)",
        "f.yaml:16: userStatuses[0].longName: a long name must be ...",
        "f.yaml:18: userStatuses[0].actions[0].name: unknown action 'dance'",
    ]
    assert services.recorded.validated == ["PutUsers", "PutAgentsAndQueues", "PutQualifications", "PutUserStatuses"]
    assert (services.recorded.put_users, services.recorded.put_agents_and_queues,
            services.recorded.put_qualifications, services.recorded.put_user_statuses) == ([], [], [], [])


async def test_the_files_own_problems_are_reported_when_a_service_is_away(data_dir: Path) -> None:
    path = provisioning_file(data_dir, "users: [{login: eve, password: pw}]\ncolors: []\n")

    with pytest.raises(InvalidFile) as raised:  # rather than "not running", which hides them
        await provision(path, settings_for(data_dir, auth="127.0.0.1:1"))

    assert [problem.render("f.yaml") for problem in raised.value.problems] == [
        "f.yaml:2: colors: unknown section (expected users, agents, queues, qualifications, userStatuses)"]
