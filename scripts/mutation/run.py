"""`make mutate`: mutation testing (mutmut 3) of the functions that carry a guarantee.

Why a staging folder: mutmut names a mutant after its file's path (`functions/mlops/x.py`
would be `functions.mlops.x`) while the tests import `mlops.x`, and it only puts `./`,
`src/` or `source/` of the mutated copy on `sys.path`. So the packages, tests, specs and
events are copied into `.mutmut/` with the packages at its top, and mutmut runs there. The
repository itself is never modified.

What is mutated and which tests run: `guarantees.toml`; survivors accepted as equivalent (no
test could tell them apart): `equivalent.toml`, each with its reason. Prints every surviving
mutant with its diff and the score, and exits 1 if any survivor is not listed as equivalent.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
STAGE = ROOT / ".mutmut"
PACKAGES = ("mlops", "train", "predict", "serving_setup")
COPIED = ("tests", "models", "events")
SEPARATOR = "ǁ"  # mutmut's separator between class and method in a mutant's name


def mutant_glob(module_path: str, function: str) -> str:
    """mutmut's name pattern for every mutant of one function (`Class.method` or `function`)."""
    module = module_path.removesuffix(".py").replace("/", ".")
    if "." in function:
        class_name, method = function.split(".", 1)
        mangled = f"x{SEPARATOR}{class_name}{SEPARATOR}{method}"
    else:
        mangled = f"x_{function}"
    return f"{module}.{mangled}__mutmut_*"


def mutmut_settings(guarantees: dict[str, object]) -> str:
    """The `[tool.mutmut]` and pytest settings of the staged pyproject.toml."""
    modules = guarantees["module"]
    assert isinstance(modules, list)
    tests = guarantees["tests"]
    assert isinstance(tests, list)

    def toml_list(items: list[str]) -> str:
        return "[" + ", ".join(f'"{item}"' for item in items) + "]"

    return "\n".join(
        [
            "[tool.pytest.ini_options]",
            'pythonpath = ["."]',
            'addopts = "-q -p no:cacheprovider"',
            "",
            "[tool.mutmut]",
            'source_paths = ["mlops"]',
            f"only_mutate = {toml_list([m['path'] for m in modules])}",
            f"also_copy = {toml_list([*PACKAGES[1:], *COPIED])}",
            f"pytest_add_cli_args_test_selection = {toml_list(tests)}",
            # A mutant that loops (e.g. `candidate += 1` -> `-= 1`) is cut off quickly.
            "timeout_multiplier = 5.0",
            "timeout_constant = 10.0",
            "",
        ]
    )


def stage(guarantees: dict[str, object]) -> None:
    """A fresh `.mutmut/`: packages at its top, tests, specs, events, a pyproject."""
    shutil.rmtree(STAGE, ignore_errors=True)
    STAGE.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in PACKAGES:
        shutil.copytree(ROOT / "functions" / package, STAGE / package, ignore=ignore)
    for folder in COPIED:
        shutil.copytree(ROOT / folder, STAGE / folder, ignore=ignore)
    (STAGE / "pyproject.toml").write_text(mutmut_settings(guarantees))


def mutmut(*arguments: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", HYPOTHESIS_PROFILE="repeatable")
    command = [str(Path(sys.executable).with_name("mutmut")), *arguments]
    return subprocess.run(  # noqa: S603 - our own venv's mutmut, fixed arguments
        command, cwd=STAGE, env=environment, text=True, capture_output=capture, check=False
    )


def statuses(globs: list[str]) -> dict[str, str]:
    """Every mutant of the listed functions and its status (killed, survived, timeout...).

    `mutmut results` lists every function of a mutated file; keep the listed ones.
    """
    listing = mutmut("results", "--all", "true", capture=True).stdout
    found: dict[str, str] = {}
    for line in listing.splitlines():
        match = re.match(r"^\s*(\S+__mutmut_\d+): (.+)$", line)
        if match and any(fnmatch.fnmatchcase(match.group(1), glob) for glob in globs):
            found[match.group(1)] = match.group(2).strip()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--only", help="mutate only functions whose `path:function` contains this text"
    )
    options = parser.parse_args()
    guarantees = tomllib.loads((HERE / "guarantees.toml").read_text())
    equivalent = tomllib.loads((HERE / "equivalent.toml").read_text()).get("mutant", [])
    accepted = {entry["name"]: entry["reason"] for entry in equivalent}
    globs = [
        mutant_glob(module["path"], function)
        for module in guarantees["module"]
        for function in module["functions"]
        if not options.only or options.only in f"{module['path']}:{function}"
    ]
    stage(guarantees)
    started = time.monotonic()
    run = mutmut("run", "--max-children", str(options.max_children), *globs)
    elapsed = time.monotonic() - started
    if run.returncode != 0:
        print(f"mutmut run failed (exit {run.returncode})", file=sys.stderr)
        return run.returncode

    results = statuses(globs)
    total = len(results)
    left = {name: status for name, status in results.items() if status != "killed"}
    unexplained = {name: status for name, status in left.items() if name not in accepted}
    print(f"\nmutants of the guarantee functions: {total}, in {elapsed / 60:.1f} min")
    for name, status in sorted(left.items()):
        reason = accepted.get(name)
        print(f"\n--- {name}: {status}" + (f" (equivalent: {reason})" if reason else ""))
        if reason is None:
            print(mutmut("show", name, capture=True).stdout)
    killed = total - len(left)
    print(
        f"\nkilled {killed} of {total}; {len(left) - len(unexplained)} survivors listed as "
        f"equivalent, {len(unexplained)} unexplained"
    )
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
