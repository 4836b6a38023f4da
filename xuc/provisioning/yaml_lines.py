"""Reading a provisioning file as YAML, keeping where each value is written.

A problem found in the file, or answered by a service for a value of it, is reported as
`FILE:LINE: path: message`: the path (`users[3].login`) is looked up in the YAML node tree for the
line of the value, or of its nearest ancestor present in the file (a missing field: its entry).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

Loc = tuple[str | int, ...]
_PATH_STEP = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]")


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


def compose(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the data it constructs; InvalidFile on a syntax error."""
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


def line_of(root: yaml.Node | None, loc: Loc) -> int:
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


def path_text(loc: Loc) -> str:
    """("users", 3, "login") -> "users[3].login"."""
    return "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in loc).lstrip(".")


def path_loc(text: str) -> Loc:
    """"users[3].login" -> ("users", 3, "login"); what cannot be read ends the path there."""
    loc: list[str | int] = []
    position = 0
    while position < len(text):
        step = _PATH_STEP.match(text, position)
        if step is None:
            break
        loc.append(step[1] if step[1] is not None else int(step[2]))
        position = step.end()
    return tuple(loc)


def problem_at(root: yaml.Node | None, loc: Loc, message: str) -> Problem:
    return Problem(line_of(root, loc), path_text(loc), message)


def duplicate_keys(node: yaml.Node | None, loc: Loc = ()) -> list[Problem]:
    """YAML lets a later key silently replace an earlier one; in a provisioning file that is a typo."""
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else ""
            if key and key in seen:
                problems.append(Problem(key_node.start_mark.line + 1, path_text((*loc, key)), "duplicate key"))
            seen.add(key)
            problems += duplicate_keys(value_node, (*loc, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += duplicate_keys(item, (*loc, index))
    return problems
