"""The Dockerfile and .dockerignore: the image runs the gateway unprivileged from python:3.11-slim,
and every copied path exists and reaches the build."""

from __future__ import annotations

import fnmatch
import importlib.util
import json

from tests.support.compose_file import DOCKERFILE, DOCKERIGNORE, ROOT


# --- Dockerfile and .dockerignore ---------------------------------------------------------------------
def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    result = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        result.append((keyword.upper(), arguments.strip()))
    return result


def instruction(keyword: str) -> list[str]:
    return [arguments for name, arguments in instructions() if name == keyword]


def ignored(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path.split("/")[0], pattern) for pattern in patterns)


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def test_the_image_runs_python_m_with_the_gateway_by_default() -> None:
    assert [json.loads(arguments) for arguments in instruction("ENTRYPOINT")] == [["python", "-m"]]
    assert [json.loads(arguments) for arguments in instruction("CMD")] == [["gateway"]]
    assert importlib.util.find_spec("gateway.__main__") is not None


def test_the_image_is_python_311_slim() -> None:
    assert instruction("FROM") == ["python:3.11-slim"]


def test_the_image_installs_the_package_without_a_cache() -> None:
    assert any("pip install --no-cache-dir ." in arguments for arguments in instruction("RUN"))


def test_the_image_runs_unprivileged() -> None:
    users = instruction("USER")
    assert users, "no USER: the processes would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_the_build_context_leaves_out_local_state() -> None:
    patterns = dockerignore_patterns()
    for path in (".git", ".venv", ".xuc", "xuc.egg-info", "build", "xuc/__pycache__/x.pyc"):
        assert ignored(path, patterns) or ignored(path.split("/")[-1], patterns), path


def test_every_copied_path_exists_and_reaches_the_build() -> None:
    patterns = dockerignore_patterns()
    copied = [arguments.split()[:-1] for arguments in instruction("COPY")]
    sources = [source for sources in copied for source in sources]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        assert not ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"


def test_every_package_of_the_distribution_is_copied() -> None:
    sources = {source.rstrip("/") for arguments in instruction("COPY") for source in arguments.split()[:-1]}
    assert {"pyproject.toml", "README.md"} <= sources
    for package in ("xuc", "xucproto", "services", "gateway"):
        assert package in sources, f"the image would lack the {package} package"
