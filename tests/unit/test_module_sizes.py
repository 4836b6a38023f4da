"""No hand-written module over 400 lines (issue 12): a module that long holds several jobs, and a
newcomer should find a behaviour by its folder and file name.

Every `.py` file under the hand-written folders counts, tests and benchmarks included. Generated
code is not walked: xucproto/ (tools/gen_protos.py writes it) sits outside these folders. The
Alembic migrations under services/*/adapters/migrations/ are written by hand, so they count too.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HAND_WRITTEN = ("xuc", "services", "gateway", "tests", "benchmarks", "tools")
MAX_LINES = 400


def hand_written_modules() -> dict[str, int]:
    """Path relative to the repository -> number of lines, for every hand-written module."""
    sizes: dict[str, int] = {}
    for folder in HAND_WRITTEN:
        for path in (ROOT / folder).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
                continue  # virtual environments, caches
            sizes[relative.as_posix()] = len(path.read_text(encoding="utf-8").splitlines())
    return sizes


def test_the_walk_finds_the_hand_written_modules() -> None:
    sizes = hand_written_modules()

    assert "tests/unit/test_module_sizes.py" in sizes
    assert "tools/gen_protos.py" in sizes
    assert not any(path.startswith("xucproto/") for path in sizes)


def test_no_hand_written_module_is_over_the_limit() -> None:
    oversize = {path: lines for path, lines in hand_written_modules().items() if lines > MAX_LINES}

    assert not oversize, f"modules over {MAX_LINES} lines (split them by subject): " + ", ".join(
        f"{path} ({lines})" for path, lines in sorted(oversize.items()))
