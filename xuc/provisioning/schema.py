"""The provisioning file's shape, and the problems of the file itself.

Only what is about the file is checked here: its YAML, keys given twice, the types and shape of
its sections and entries, and its cross references (an agent's user is in the users section, a
queue's agents in the agents section, a qualification's queues in the queues section). The rules
of the values themselves (what a login or a phone number looks like, how long a name may be,
duplicates) belong to the services: `xuc provision` asks them (validate_only) and reports their
answers at the same lines (xuc/provisioning/apply.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, ValidationError, field_validator
from pydantic_core import ErrorDetails

from xuc.provisioning.yaml_lines import InvalidFile, Loc, Problem, compose, duplicate_keys, problem_at


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):  # pydantic would read `true` as 1
        raise ValueError("must be an integer")
    return value


QueueId = Annotated[int, BeforeValidator(_not_bool)]


class _Entry(BaseModel):
    # Numbers become strings where strings are expected: YAML authors write `line: 1001`.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True)


class UserEntry(_Entry):
    login: str
    password: str
    firstname: str = ""
    lastname: str = ""
    line: str = ""
    mobile: str = ""
    # A disabled user cannot log in and the tokens they hold are refused; set back to false to enable.
    disabled: StrictBool = False


class AgentEntry(_Entry):
    number: str
    user: str  # a login of the users section


class QueueEntry(_Entry):
    id: QueueId
    name: str
    number: str
    agents: list[str] = []  # agent numbers of the agents section


class SubQualificationEntry(_Entry):
    name: str


class QualificationEntry(_Entry):
    name: str
    queues: list[QueueId] = []  # queue ids of the queues section
    sub_qualifications: list[SubQualificationEntry] = Field(default=[], alias="subQualifications")


def _parameters(value: Any) -> Any:
    if isinstance(value, bool):  # `parameters: true` as the original writes it: the text of it
        return "true" if value else "false"
    return value


def _color(value: Any) -> Any:
    if value is None:  # `color: #08FD20` unquoted: YAML reads a comment, and no value
        raise ValueError('a colour is required: write it in quotes ("#08FD20"), a bare # starts a YAML comment')
    return value


class StatusActionEntry(_Entry):
    name: str
    parameters: Annotated[str, BeforeValidator(_parameters)] = ""


class UserStatusEntry(_Entry):
    name: str
    long_name: str = Field(alias="longName")
    color: Annotated[str, BeforeValidator(_color)]
    actions: list[StatusActionEntry] = []


class ProvisionFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    users: list[UserEntry] = []
    agents: list[AgentEntry] = []
    queues: list[QueueEntry] = []
    # None: the file does not manage qualifications (see xuc/provisioning/__init__.py).
    qualifications: list[QualificationEntry] | None = None
    # None: the file does not manage the presence statuses (absent or bare `userStatuses:`).
    user_statuses: list[UserStatusEntry] | None = Field(default=None, alias="userStatuses")

    @field_validator("users", "agents", "queues", mode="before")
    @classmethod
    def _empty_section(cls, value: Any) -> Any:
        return [] if value is None else value  # `users:` with nothing under it yet


# The sections as the file names them.
SECTIONS = tuple(info.alias or name for name, info in ProvisionFile.model_fields.items())


@dataclass(frozen=True)
class FileReading:
    """The sections of the file whose shape is right (the others are left out of `spec`), the
    node tree for line numbers, and the problems of the file itself."""

    spec: ProvisionFile
    root: yaml.Node | None
    problems: list[Problem] = field(default_factory=list)


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


def _reference_problems(spec: ProvisionFile, checked: set[Any]) -> list[tuple[Loc, str]]:
    """References to entries the file does not declare (when the section referred to is `checked`)."""
    problems: list[tuple[Loc, str]] = []
    if "users" in checked:
        logins = {user.login for user in spec.users}
        problems += [(("agents", i, "user"), f"unknown user {agent.user!r}: not in the users section")
                     for i, agent in enumerate(spec.agents) if agent.user not in logins]
    if "agents" in checked:
        agents = {agent.number for agent in spec.agents}
        problems += [(("queues", i, "agents", j), f"unknown agent {number!r}: not in the agents section")
                     for i, queue in enumerate(spec.queues) for j, number in enumerate(queue.agents)
                     if number not in agents]
    if "queues" in checked:
        queues = {queue.id for queue in spec.queues}
        problems += [(("qualifications", i, "queues", j), f"unknown queue id {queue_id}: not in the queues section")
                     for i, qualification in enumerate(spec.qualifications or [])
                     for j, queue_id in enumerate(qualification.queues) if queue_id not in queues]
    return problems


def read(text: str) -> FileReading:
    """The file read as far as it can be; InvalidFile only when it cannot be read as YAML."""
    root, data = compose(text)
    problems = duplicate_keys(root)
    data = {} if data is None else data
    broken: set[Any] = set()
    try:
        spec = ProvisionFile.model_validate(data)
    except ValidationError as error:
        details = error.errors(include_url=False)
        problems += [problem_at(root, tuple(detail["loc"]), _message(detail)) for detail in details]
        broken = {detail["loc"][0] if detail["loc"] else "" for detail in details}
        if "" in broken or not isinstance(data, dict):
            return FileReading(ProvisionFile(), root, problems)
        # The sections that are right are still checked by their services: one run reports all.
        spec = ProvisionFile.model_validate({key: value for key, value in data.items()
                                             if key in SECTIONS and key not in broken})
    problems += [problem_at(root, loc, message)
                 for loc, message in _reference_problems(spec, set(SECTIONS) - broken)]
    return FileReading(spec, root, problems)


def parse(text: str) -> ProvisionFile:
    """The file's content, checked whole as a file (not against the services' rules); InvalidFile
    lists every problem found."""
    reading = read(text)
    if reading.problems:
        raise InvalidFile(reading.problems)
    return reading.spec
