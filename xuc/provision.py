"""`xuc provision FILE`: make the running system match a declarative YAML (or JSON) file.

The whole file is checked before anything is applied, and every problem is reported with the line
it comes from, so that a bad file changes nothing. Types are checked first; duplicates and cross
references (an agent's user, a queue's agents, ...) once the types are right. Each section is
then applied by its "applier", idempotently, by the service that owns it (users: auth; agents and
queues: telephony; qualifications: contacts).

Absent and empty sections: users are only ever created or updated, so an absent, empty (`[]`) or
bare (`users:` with nothing under it) users section is simply nothing to do. Qualifications are
different: the file describes *all* of them, and the contacts service deactivates those it does not
list. So the qualifications section is applied only when the file gives it as a list: `[]`
deactivates every qualification, while an absent or bare `qualifications:` leaves them alone
(a bare key is a placeholder, not a request to deactivate everything). Agents and queues refer to
each other and are applied together: a file that has entries in either section describes all of
them (agents or queues it does not list are removed); a file with neither leaves them alone.

The services are reached through XUC_<NAME>_ADDRESS, else the `run/<name>.json` file of the
running `xuc up`; the contacts and telephony services are connected to only when a section needs
them, so users can be provisioned while auth alone answers.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails

from services.auth.domain.model import LOGIN, PHONE_NUMBER
from services.contacts.domain.qualifications import CONTROL_CHARACTERS
from services.contacts.domain.qualifications import MAX_NAME as MAX_QUALIFICATION_NAME
from xuc.launcher import CliError, load_service_token
from xuc.runtime import grpc_client
from xuc.runtime.settings import Settings
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from xucproto.telephony.v1 import telephony_pb2, telephony_pb2_grpc

NOT_RUNNING = "the system is not running: start it with `xuc up`"
CONNECT_SECONDS = 5.0
CALL_SECONDS = 30.0
PUT_USERS_SECONDS = 300.0  # password hashing is deliberately slow: a large file takes a while

Loc = tuple[str | int, ...]


# --- the file's model -----------------------------------------------------------------------------
# The login, phone and qualification name rules are the services' own (their pure domains), checked
# here so that a bad value is reported with its line rather than by the server without one.
_LOGIN = LOGIN
_PHONE = PHONE_NUMBER


def _login(value: str) -> str:
    if not _LOGIN.fullmatch(value):
        raise ValueError("must be 1 to 64 letters, digits or . _ @ + -, starting with a letter or digit")
    return value


def _phone(value: str) -> str:
    if value and not _PHONE.fullmatch(value):
        raise ValueError("must be a phone number: digits, * or #, with an optional leading +")
    return value


def _printable(value: str) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters")
    return value


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):  # pydantic would read `true` as 1
        raise ValueError("must be an integer")
    return value


Login = Annotated[str, AfterValidator(_login)]
Phone = Annotated[str, AfterValidator(_phone)]
RequiredPhone = Annotated[str, Field(min_length=1), AfterValidator(_phone)]
Name = Annotated[str, Field(min_length=1)]
QueueId = Annotated[int, BeforeValidator(_not_bool), Field(ge=1)]
QualificationName = Annotated[str, Field(min_length=1, max_length=MAX_QUALIFICATION_NAME), AfterValidator(_printable)]


class _Entry(BaseModel):
    # Numbers become strings where strings are expected: YAML authors write `line: 1001`.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True)


class UserEntry(_Entry):
    login: Login
    password: Name
    firstname: str = ""
    lastname: str = ""
    line: Phone = ""
    mobile: Phone = ""
    # A disabled user cannot log in and the tokens they hold are refused; set back to false to enable.
    disabled: StrictBool = False


class AgentEntry(_Entry):
    number: RequiredPhone
    user: str  # a login of the users section


class QueueEntry(_Entry):
    id: QueueId
    name: Name
    number: RequiredPhone
    agents: list[str] = []  # agent numbers of the agents section


class SubQualificationEntry(_Entry):
    name: QualificationName


class QualificationEntry(_Entry):
    name: QualificationName
    queues: list[QueueId] = []  # queue ids of the queues section
    sub_qualifications: list[SubQualificationEntry] = Field(default=[], alias="subQualifications")


class ProvisionFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    users: list[UserEntry] = []
    agents: list[AgentEntry] = []
    queues: list[QueueEntry] = []
    # None: the file does not manage qualifications (see the module's docstring).
    qualifications: list[QualificationEntry] | None = None

    @field_validator("users", "agents", "queues", mode="before")
    @classmethod
    def _empty_section(cls, value: Any) -> Any:
        return [] if value is None else value  # `users:` with nothing under it yet


SECTIONS = tuple(ProvisionFile.model_fields)


# --- reading the file, with line numbers ----------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    line: int
    path: str  # e.g. "users[0].password"; "" for the file as a whole
    message: str

    def render(self, filename: str) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{filename}:{self.line}: {where}{self.message}"


class InvalidFile(Exception):
    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems, key=lambda problem: problem.line)
        super().__init__(f"{len(self.problems)} problem(s)")


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads `0611223344` as an octal number and `+3361...` as an int without its plus.

    Such scalars (and yes/no/on/off) are kept as written: as strings they reach string fields
    intact, and pydantic still turns them into ints or booleans where a number is expected.
    """

    def construct_yaml_int(self, node: yaml.ScalarNode) -> Any:
        value = super().construct_yaml_int(node)
        return value if str(value) == node.value else node.value

    def construct_yaml_bool(self, node: yaml.ScalarNode) -> Any:
        return super().construct_yaml_bool(node) if node.value.lower() in ("true", "false") else node.value


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:bool", _Loader.construct_yaml_bool)


def _syntax_problem(error: yaml.MarkedYAMLError) -> Problem:
    mark = error.problem_mark or error.context_mark
    message = f"YAML syntax error: {error.problem or error.context}"
    if error.context and (error.problem or "").startswith("but "):  # "expected X", "but found Y"
        message = f"YAML syntax error: {error.context}, {error.problem}"
    elif error.problem and error.context and error.context_mark is not None:
        # The problem is often found at the end of the file; say where the broken construct began.
        message += f" ({error.context} at line {error.context_mark.line + 1})"
    return Problem(mark.line + 1 if mark is not None else 1, "", message)


def _compose(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the data it constructs."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        return root, (loader.construct_document(root) if root is not None else None)
    except yaml.MarkedYAMLError as error:
        raise InvalidFile([_syntax_problem(error)]) from None
    finally:
        loader.dispose()


def _entry(node: yaml.Node, key: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    """(node whose line to report, node to descend into) for one step of a path."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(key):
                return key_node, value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key], node.value[key]
    return None


def _line_of(root: yaml.Node | None, loc: Loc) -> int:
    """The line of the node at `loc`, or of its nearest ancestor present in the file (e.g. missing field)."""
    if root is None:
        return 1
    line, node = root.start_mark.line + 1, root
    for key in loc:
        step = _entry(node, key)
        if step is None:
            break
        line, node = step[0].start_mark.line + 1, step[1]
    return line


def _path(loc: Loc) -> str:
    return "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in loc).lstrip(".")


def _duplicate_keys(node: yaml.Node | None, loc: Loc = ()) -> list[Problem]:
    """YAML lets a later key silently replace an earlier one; in a provisioning file that is a typo."""
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else ""
            if key and key in seen:
                problems.append(Problem(key_node.start_mark.line + 1, _path((*loc, key)), "duplicate key"))
            seen.add(key)
            problems += _duplicate_keys(value_node, (*loc, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += _duplicate_keys(item, (*loc, index))
    return problems


def _message(error: ErrorDetails) -> str:
    kind, loc = error["type"], error["loc"]
    if kind == "missing":
        return "field required"
    if kind == "extra_forbidden":
        return f"unknown section (expected {', '.join(SECTIONS)})" if len(loc) == 1 else "unknown field"
    if kind == "model_type" and not loc:
        return f"the file must be a mapping of sections ({', '.join(SECTIONS)})"
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    message = error["msg"]
    return message[:1].lower() + message[1:]


def _type_problems(error: ValidationError, root: yaml.Node | None) -> list[Problem]:
    return [Problem(_line_of(root, tuple(e["loc"])), _path(tuple(e["loc"])), _message(e))
            for e in error.errors(include_url=False)]


def _unique(values: Sequence[tuple[Loc, Any]], what: str) -> list[tuple[Loc, str]]:
    first: dict[Any, Loc] = {}
    found: list[tuple[Loc, str]] = []
    for loc, value in values:
        if value in first:
            found.append((loc, f"duplicate {what} {value!r} (also at {_path(first[value])})"))
        first.setdefault(value, loc)
    return found


def _reference_problems(spec: ProvisionFile) -> list[tuple[Loc, str]]:
    """Duplicates and references to entries the file does not declare."""
    logins = {user.login for user in spec.users}
    agents = {agent.number for agent in spec.agents}
    queues = {queue.id for queue in spec.queues}
    qualifications = spec.qualifications or []
    problems = [
        *_unique([(("users", i, "login"), user.login) for i, user in enumerate(spec.users)], "login"),
        *_unique([(("agents", i, "number"), agent.number) for i, agent in enumerate(spec.agents)], "agent number"),
        *_unique([(("queues", i, "id"), queue.id) for i, queue in enumerate(spec.queues)], "queue id"),
        *_unique([(("qualifications", i, "name"), qualification.name)
                  for i, qualification in enumerate(qualifications)], "qualification name"),
    ]
    for i, qualification in enumerate(qualifications):
        problems += _unique([(("qualifications", i, "subQualifications", j, "name"), sub.name)
                             for j, sub in enumerate(qualification.sub_qualifications)], "sub-qualification name")
    problems += [(("agents", i, "user"), f"unknown user {agent.user!r}: not in the users section")
                 for i, agent in enumerate(spec.agents) if agent.user not in logins]
    problems += [(("queues", i, "agents", j), f"unknown agent {number!r}: not in the agents section")
                 for i, queue in enumerate(spec.queues) for j, number in enumerate(queue.agents)
                 if number not in agents]
    problems += [(("qualifications", i, "queues", j), f"unknown queue id {queue_id}: not in the queues section")
                 for i, qualification in enumerate(qualifications)
                 for j, queue_id in enumerate(qualification.queues) if queue_id not in queues]
    return problems


def parse(text: str) -> ProvisionFile:
    """The file's content, checked whole; InvalidFile lists every problem found."""
    root, data = _compose(text)
    problems = _duplicate_keys(root)
    try:
        spec = ProvisionFile.model_validate({} if data is None else data)
    except ValidationError as error:
        raise InvalidFile(problems + _type_problems(error, root)) from None
    problems += [Problem(_line_of(root, loc), _path(loc), message) for loc, message in _reference_problems(spec)]
    if problems:
        raise InvalidFile(problems)
    return spec


def load(path: Path) -> ProvisionFile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"cannot read {path}: {error}") from None
    return parse(text)


# --- the running system ---------------------------------------------------------------------------
class System:
    """The running services a command talks to, and the metadata that authenticates it.

    Auth is connected to at once (every command needs it); the other services on first use, so a
    command that does not need them works while they are down or absent. Channels opened here are
    closed when the `connect()` block ends.
    """

    def __init__(self, auth: Any, metadata: grpc_client.Metadata,
                 open_service: Callable[[str], Awaitable[Any]] | None = None) -> None:
        self.auth = auth  # auth_pb2_grpc.AuthStub (the generated stubs are untyped)
        self.metadata = metadata
        self._open_service = open_service
        self._channels: dict[str, Any] = {}

    async def channel(self, name: str) -> Any:
        """The channel to a service ("contacts", "telephony"), connected on the first call;
        CliError if it is not running."""
        if name not in self._channels:
            if self._open_service is None:
                raise CliError(f"this command cannot reach the {name} service")
            self._channels[name] = await self._open_service(name)
        return self._channels[name]


def _service_address(configured: str, settings: Settings, name: str) -> str:
    """XUC_<NAME>_ADDRESS, else the address the running `xuc up` published in its run directory."""
    if configured:
        return configured
    try:
        address = json.loads((settings.data_dir / "run" / f"{name}.json").read_text())["grpc"]
    except (OSError, ValueError, KeyError, TypeError):
        raise CliError(f"{NOT_RUNNING} (no address for {name}: set XUC_{name.upper()}_ADDRESS)") from None
    if not isinstance(address, str):
        raise CliError(NOT_RUNNING)
    return address


async def _open_channel(stack: AsyncExitStack, address: str, name: str) -> Any:
    channel = await stack.enter_async_context(grpc_client.channel(address))
    if not await grpc_client.reachable(channel, CONNECT_SECONDS):
        raise CliError(f"{NOT_RUNNING} ({name} does not answer at {address})")
    return channel


@asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[System]:
    address = _service_address(settings.auth_address, settings, "auth")
    token = load_service_token(settings.data_dir)
    configured = {"contacts": settings.contacts_address, "telephony": settings.telephony_address}
    async with AsyncExitStack() as stack:
        auth_channel = await _open_channel(stack, address, "auth")

        async def open_service(name: str) -> Any:
            return await _open_channel(stack, _service_address(configured.get(name, ""), settings, name), name)

        yield System(auth_pb2_grpc.AuthStub(auth_channel), grpc_client.service_metadata(token), open_service)


# --- appliers: one per section, applied in this order ---------------------------------------------
Applier = Callable[[System, ProvisionFile], Awaitable[None]]


async def apply_users(system: System, spec: ProvisionFile) -> None:
    """All users in one call: the auth service applies them all or none."""
    request = auth_pb2.PutUsersRequest(users=[auth_pb2.CreateUserRequest(**user.model_dump())
                                              for user in spec.users])
    reply = await system.auth.PutUsers(request, metadata=system.metadata, timeout=PUT_USERS_SECONDS)
    for result in reply.results:
        print(f"user {result.user.login}: {result.outcome}", flush=True)


async def apply_qualifications(system: System, spec: ProvisionFile) -> None:
    """All qualifications in one call: the contacts service applies them all or none, and
    deactivates those the file no longer lists."""
    request = contacts_pb2.PutQualificationsRequest(qualifications=[
        contacts_pb2.QualificationSpec(name=entry.name, queue_ids=entry.queues,
                                       sub_qualifications=[sub.name for sub in entry.sub_qualifications])
        for entry in spec.qualifications or []])
    stub = contacts_pb2_grpc.QualificationsStub(await system.channel("contacts"))
    reply = await stub.PutQualifications(request, metadata=system.metadata, timeout=CALL_SECONDS)
    for qualification, outcome in zip(reply.qualifications, reply.outcomes, strict=True):
        print(f"qualification {qualification.name}: {outcome}", flush=True)
    for name in reply.deactivated:
        print(f"qualification {name}: deactivated", flush=True)


async def apply_agents_and_queues(system: System, spec: ProvisionFile) -> None:
    """Agents and queues in one call (they refer to each other): the telephony service applies
    them all or none, and removes those the file no longer lists."""
    request = telephony_pb2.PutAgentsAndQueuesRequest(
        agents=[telephony_pb2.AgentSpec(number=agent.number, username=agent.user) for agent in spec.agents],
        queues=[telephony_pb2.QueueSpec(id=queue.id, name=queue.name, number=queue.number, agents=queue.agents)
                for queue in spec.queues],
    )
    stub = telephony_pb2_grpc.TelephonyStub(await system.channel("telephony"))
    reply = await stub.PutAgentsAndQueues(request, metadata=system.metadata, timeout=CALL_SECONDS)
    print(f"agents: {reply.agents} applied, queues: {reply.queues} applied", flush=True)
    for number in reply.removed_agents:
        print(f"agent {number}: removed", flush=True)
    for queue_id in reply.removed_queues:
        print(f"queue {queue_id}: removed", flush=True)


# Section(s) -> applier, applied in this order. Agents and queues go together: one applier.
APPLIERS: dict[str, Applier] = {
    "users": apply_users,
    "agents+queues": apply_agents_and_queues,
    "qualifications": apply_qualifications,
}
SERVICE_OF = {"agents+queues": "telephony", "qualifications": "contacts"}


def _to_apply(spec: ProvisionFile, section: str) -> bool:
    """Whether the file asks anything of this section: entries, or (qualifications) the list itself."""
    if section == "agents+queues":
        return bool(spec.agents or spec.queues)
    entries = getattr(spec, section)
    return entries is not None if section == "qualifications" else bool(entries)


async def provision(path: Path, settings: Settings) -> None:
    """Validate the whole file, then apply the sections it gives (InvalidFile: nothing applied)."""
    spec = load(path)
    sections = [section for section in APPLIERS if _to_apply(spec, section)]
    if not sections:
        print("nothing to provision: the file has no entries", flush=True)
        return
    async with connect(settings) as system:
        for section in sections:  # a service that is down fails the run before anything changes
            if section in SERVICE_OF:
                await system.channel(SERVICE_OF[section])
        for section in sections:
            await APPLIERS[section](system, spec)
