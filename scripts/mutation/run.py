"""`make mutate`: mutation testing (mutmut 3) of the functions that carry a guarantee.

Why a staging folder: mutmut names a mutant after its file's path (`functions/mlops/x.py`
would be `functions.mlops.x`) while the tests import `mlops.x`, and it only puts `./`,
`src/` or `source/` of the mutated copy on `sys.path`. So the packages, tests, specs and
events are copied into `.mutmut/` with the packages at its top, and mutmut runs there. The
repository itself is never modified.

Each module is staged and run on its own (`.mutmut/<module>/`), with its own tests. What is
mutated and which tests run: `guarantees.toml`; survivors accepted as equivalent (no
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
from typing import Any

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


def mutmut_settings(module: dict[str, Any]) -> str:
    """The staged pyproject.toml: pytest's settings and `[tool.mutmut]` for one module."""

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
            f"only_mutate = {toml_list([module['path']])}",
            f"also_copy = {toml_list([*PACKAGES[1:], *COPIED])}",
            f"pytest_add_cli_args_test_selection = {toml_list(module['tests'])}",
            # A mutant that loops (e.g. `candidate += 1` -> `-= 1`) is cut off quickly.
            "timeout_multiplier = 5.0",
            "timeout_constant = 10.0",
            "",
        ]
    )


def stage(folder: Path, module: dict[str, Any]) -> None:
    """A fresh staging folder: packages at its top, tests, specs, events, a pyproject."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in PACKAGES:
        shutil.copytree(ROOT / "functions" / package, folder / package, ignore=ignore)
    for name in COPIED:
        shutil.copytree(ROOT / name, folder / name, ignore=ignore)
    (folder / "pyproject.toml").write_text(mutmut_settings(module))


def mutmut(
    folder: Path, *arguments: str, capture: bool = False
) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", HYPOTHESIS_PROFILE="repeatable")
    command = [str(Path(sys.executable).with_name("mutmut")), *arguments]
    return subprocess.run(  # noqa: S603 - our own venv's mutmut, fixed arguments
        command, cwd=folder, env=environment, text=True, capture_output=capture, check=False
    )


def statuses(folder: Path, globs: list[str]) -> dict[str, str]:
    """Every mutant of the listed functions and its status (killed, survived, timeout...).

    `mutmut results` lists every function of a mutated file; keep the listed ones.
    """
    listing = mutmut(folder, "results", "--all", "true", capture=True).stdout
    found: dict[str, str] = {}
    for line in listing.splitlines():
        match = re.match(r"^\s*(\S+__mutmut_\d+): (.+)$", line)
        if match and any(fnmatch.fnmatchcase(match.group(1), glob) for glob in globs):
            found[match.group(1)] = match.group(2).strip()
    return found


def run_module(
    module: dict[str, Any], only: str | None, max_children: int
) -> tuple[dict[str, str], Path] | None:
    """Stage and mutate one module's listed functions; their mutants' statuses."""
    globs = [
        mutant_glob(module["path"], function)
        for function in module["functions"]
        if not only or only in f"{module['path']}:{function}"
    ]
    if not globs:
        return None
    folder = STAGE / module["path"].removesuffix(".py").replace("/", "-")
    stage(folder, module)
    started = time.monotonic()
    print(f"== {module['path']}: {', '.join(module['functions'])}", flush=True)
    run = mutmut(folder, "run", "--max-children", str(max_children), *globs, capture=True)
    if run.returncode != 0:
        print(run.stdout[-3000:], run.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"mutmut run failed for {module['path']} (exit {run.returncode})")
    found = statuses(folder, globs)
    killed = sum(status == "killed" for status in found.values())
    print(
        f"   {killed}/{len(found)} killed in {(time.monotonic() - started) / 60:.1f} min",
        flush=True,
    )
    return found, folder


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--only", help="mutate only functions whose `path:function` contains this text"
    )
    options = parser.parse_args()
    guarantees = tomllib.loads((HERE / "guarantees.toml").read_text())
    equivalent = tomllib.loads((HERE / "equivalent.toml").read_text()).get("mutant", [])
    accepted = {entry["name"]: entry["reason"] for entry in equivalent}
    started = time.monotonic()
    results: dict[str, str] = {}
    left: dict[str, Path] = {}
    for module in guarantees["module"]:
        outcome = run_module(module, options.only, options.max_children)
        if outcome is None:
            continue
        found, folder = outcome
        results.update(found)
        left.update({name: folder for name, status in found.items() if status != "killed"})
    unexplained = [name for name in left if name not in accepted]
    for name, folder in sorted(left.items()):
        reason = accepted.get(name)
        print(f"\n--- {name}: {results[name]}" + (f" (equivalent: {reason})" if reason else ""))
        if reason is None:
            print(mutmut(folder, "show", name, capture=True).stdout.strip())
    total = len(results)
    print(
        f"\nmake mutate: killed {total - len(left)} of {total} mutants of the guarantee "
        f"functions in {(time.monotonic() - started) / 60:.1f} min; {len(left) - len(unexplained)} "
        f"survivors listed as equivalent, {len(unexplained)} unexplained"
    )
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
