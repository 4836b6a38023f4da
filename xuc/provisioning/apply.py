"""Applying a provisioning file: one round of validation by the services, then each section.

Every section the file asks for is first sent to its service with `validate_only`: the service
checks it against its own rules and answers every violation with its path in the request
(`users[3].login`, a google.rpc.BadRequest), which is reported at the line of that value in the
file. Only when neither the file nor any service found a problem is anything applied, section by
section, idempotently, by the service that owns it (users: auth; agents and queues, presence
statuses: telephony; qualifications: contacts).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import grpc

from xuc.launcher import CliError
from xuc.provisioning.schema import ProvisionFile, read
from xuc.provisioning.system import CALL_SECONDS, System, connect
from xuc.provisioning.yaml_lines import InvalidFile, Loc, Problem, path_loc, problem_at
from xuc.runtime.grpc_errors import field_violations_of
from xuc.runtime.settings import Settings
from xucproto.auth.v1 import auth_pb2
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from xucproto.telephony.v1 import telephony_pb2, telephony_pb2_grpc

PUT_USERS_SECONDS = 300.0  # password hashing is deliberately slow: a large file takes a while

# A request's field -> the file's section, where they differ.
_FILE_SECTIONS: dict[str | int, str] = {"user_statuses": "userStatuses"}
# (section, field of an entry in the request) -> the file's key for it, where they differ.
_FILE_KEYS: dict[tuple[str | int, str | int], str] = {
    ("agents", "username"): "user",
    ("qualifications", "queue_ids"): "queues",
    ("qualifications", "sub_qualifications"): "subQualifications",
    ("userStatuses", "long_name"): "longName",
}


def file_loc(request_path: str) -> Loc:
    """Where a value of a Put* request is written in the file: "agents[0].username" ->
    ("agents", 0, "user"); "qualifications[1].sub_qualifications[2]" -> (..., "subQualifications", 2, "name");
    "user_statuses[0].long_name" -> ("userStatuses", 0, "longName")."""
    loc = path_loc(request_path)
    if loc and loc[0] in _FILE_SECTIONS:
        loc = (_FILE_SECTIONS[loc[0]], *loc[1:])
    if len(loc) >= 3 and (loc[0], loc[2]) in _FILE_KEYS:
        key = _FILE_KEYS[(loc[0], loc[2])]
        loc = (*loc[:2], key, *loc[3:])
        if key == "subQualifications" and len(loc) == 4:  # a sub-qualification is a name in the request
            loc = (*loc, "name")
    return loc


# --- the sections: their Put* call and what it printed ----------------------------------------------
async def put_users(system: System, spec: ProvisionFile, validate_only: bool) -> None:
    """All users in one call: the auth service applies them all or none."""
    request = auth_pb2.PutUsersRequest(users=[auth_pb2.CreateUserRequest(**user.model_dump()) for user in spec.users],
                                       validate_only=validate_only)
    reply = await system.auth.PutUsers(request, metadata=system.metadata, timeout=PUT_USERS_SECONDS)
    for result in reply.results:
        print(f"user {result.user.login}: {result.outcome}", flush=True)


async def put_agents_and_queues(system: System, spec: ProvisionFile, validate_only: bool) -> None:
    """Agents and queues in one call (they refer to each other): the telephony service applies
    them all or none, and removes those the file no longer lists."""
    request = telephony_pb2.PutAgentsAndQueuesRequest(
        agents=[telephony_pb2.AgentSpec(number=agent.number, username=agent.user) for agent in spec.agents],
        queues=[telephony_pb2.QueueSpec(id=queue.id, name=queue.name, number=queue.number, agents=queue.agents)
                for queue in spec.queues],
        validate_only=validate_only,
    )
    stub = telephony_pb2_grpc.TelephonyStub(await system.channel("telephony"))
    reply = await stub.PutAgentsAndQueues(request, metadata=system.metadata, timeout=CALL_SECONDS)
    if validate_only:
        return
    print(f"agents: {reply.agents} applied, queues: {reply.queues} applied", flush=True)
    for number in reply.removed_agents:
        print(f"agent {number}: removed", flush=True)
    for queue_id in reply.removed_queues:
        print(f"queue {queue_id}: removed", flush=True)


async def put_qualifications(system: System, spec: ProvisionFile, validate_only: bool) -> None:
    """All qualifications in one call: the contacts service applies them all or none, and
    deactivates those the file no longer lists."""
    request = contacts_pb2.PutQualificationsRequest(qualifications=[
        contacts_pb2.QualificationSpec(name=entry.name, queue_ids=entry.queues,
                                       sub_qualifications=[sub.name for sub in entry.sub_qualifications])
        for entry in spec.qualifications or []], validate_only=validate_only)
    stub = contacts_pb2_grpc.QualificationsStub(await system.channel("contacts"))
    reply = await stub.PutQualifications(request, metadata=system.metadata, timeout=CALL_SECONDS)
    for qualification, outcome in zip(reply.qualifications, reply.outcomes, strict=True):
        print(f"qualification {qualification.name}: {outcome}", flush=True)
    for name in reply.deactivated:
        print(f"qualification {name}: deactivated", flush=True)


async def put_user_statuses(system: System, spec: ProvisionFile, validate_only: bool) -> None:
    """The presence statuses in one call: the telephony service replaces them all or none."""
    request = telephony_pb2.UserStatusesPutRequest(user_statuses=[
        telephony_pb2.UserStatusDefinition(
            name=status.name, long_name=status.long_name, color=status.color,
            actions=[telephony_pb2.UserStatusAction(name=action.name, parameters=action.parameters)
                     for action in status.actions])
        for status in spec.user_statuses or []], validate_only=validate_only)
    stub = telephony_pb2_grpc.TelephonyStub(await system.channel("telephony"))
    reply = await stub.PutUserStatuses(request, metadata=system.metadata, timeout=CALL_SECONDS)
    if not validate_only:
        print(f"user statuses: {reply.statuses} applied", flush=True)


@dataclass(frozen=True)
class Section:
    name: str
    put: Callable[[System, ProvisionFile, bool], Awaitable[None]]
    # Whether the file asks anything of it. Qualifications: the list itself, even empty (the file
    # then describes all of them: `[]` deactivates every one); an absent or bare section: nothing.
    wanted: Callable[[ProvisionFile], bool]


# Applied in this order. Agents and queues go together: one call.
SECTIONS = (
    Section("users", put_users, lambda spec: bool(spec.users)),
    Section("agents+queues", put_agents_and_queues, lambda spec: bool(spec.agents or spec.queues)),
    Section("qualifications", put_qualifications, lambda spec: spec.qualifications is not None),
    # The file describes every status when it lists them; an absent or bare section: nothing.
    Section("userStatuses", put_user_statuses, lambda spec: spec.user_statuses is not None),
)


async def _violations(system: System, spec: ProvisionFile, sections: list[Section]) -> list[tuple[str, str]]:
    """(request path, message) of every rule the services say the sections break: one call each."""
    found: list[tuple[str, str]] = []
    for section in sections:  # a service that is down fails the run before anything changes
        try:
            await section.put(system, spec, True)
        except grpc.aio.AioRpcError as error:
            violations = field_violations_of(error)
            if not violations:
                raise
            found += violations
    return found


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"cannot read {path}: {error}") from None


async def provision(path: Path, settings: Settings) -> None:
    """Check the whole file, with the services, then apply the sections it gives (InvalidFile:
    every problem found, nothing applied)."""
    reading = read(_read_text(path))
    sections = [section for section in SECTIONS if section.wanted(reading.spec)]
    if not sections:
        if reading.problems:
            raise InvalidFile(reading.problems)
        print("nothing to provision: the file has no entries", flush=True)
        return
    async with AsyncExitStack() as stack:
        try:
            system = await stack.enter_async_context(connect(settings))
            violations = await _violations(system, reading.spec, sections)
        except CliError:
            if reading.problems:  # the file's own problems are worth reporting without the services
                raise InvalidFile(reading.problems) from None
            raise
        reported = {problem.path for problem in reading.problems}
        problems: list[Problem] = [*reading.problems]
        for request_path, message in violations:
            problem = problem_at(reading.root, file_loc(request_path), message)
            if problem.path not in reported:  # e.g. a queue's unknown agent, found by both
                problems.append(problem)
        if problems:
            raise InvalidFile(problems)
        for section in sections:
            await section.put(system, reading.spec, False)
