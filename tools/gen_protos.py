"""Generate the Python code for every contract under protos/ into xucproto/ (committed).

    python tools/gen_protos.py          # regenerate
    python tools/gen_protos.py --check  # exit 1 if the committed code differs (CI runs this)

The generated package is committed so that a plain `pip install` needs no code generation step;
CI regenerates and fails on drift, so protos/ stays the source of truth.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
PACKAGE = "xucproto"


def generate(out_dir: Path) -> None:
    well_known = str(resources.files("grpc_tools") / "_proto")
    sources = sorted(str(p.relative_to(PROTOS)) for p in (PROTOS / PACKAGE).rglob("*.proto"))
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for folder in [out_dir / PACKAGE, *(p for p in (out_dir / PACKAGE).rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()


def differences(left: Path, right: Path) -> list[str]:
    compared = filecmp.dircmp(left, right, ignore=["__pycache__"])
    found = [*compared.left_only, *compared.right_only, *compared.diff_files]
    for name, sub in compared.subdirs.items():
        found += [f"{name}/{item}" for item in differences(Path(sub.left), Path(sub.right))]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if committed code is stale")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh, committed = Path(tmp) / PACKAGE, ROOT / PACKAGE
        if options.check:
            stale = differences(fresh, committed) if committed.exists() else ["(missing)"]
            if stale:
                print("generated code is stale, run tools/gen_protos.py:", *stale, sep="\n  ")
                return 1
            print("generated code is up to date")
            return 0
        shutil.rmtree(committed, ignore_errors=True)
        shutil.copytree(fresh, committed)
    print(f"generated {PACKAGE}/ from {PROTOS.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
