"""Build our Lambda layers without Docker: ``inference`` (onnxruntime + numpy + orjson) and
``powertools`` (Powertools for AWS Lambda + pydantic, at the versions the code is tested with).

Why this exists (DESIGN §4, §6, §7):

* Lambda layers must hold binaries for the *Lambda* platform (python3.12, arm64), not for the
  machine that builds them, and there is no Docker engine here or in CI. pip can cross-install
  wheels with ``--platform/--implementation/--python-version --only-binary=:all:``; onnxruntime's
  aarch64 wheels are tagged manylinux_2_27/2_28, hence both platform tags.
* Tests must prove the runtime that is deployed, so the layer installs from the repository's
  ``constraints.txt`` (the same pins as the dev venv) and the build refuses any requirement that
  is not pinned there, and any installed version that differs from its pin.
* Everything is installed with ``--no-deps``: onnxruntime's declared dependencies (sympy,
  protobuf, flatbuffers, coloredlogs, packaging) are used only by its offline tooling, never by
  ``import onnxruntime`` + ``InferenceSession.run``; pydantic (the registry records) comes
  from our ``powertools`` layer and must not be duplicated. That layer exists because AWS's
  public Powertools layers hold whatever Powertools their version number was published with
  (version 27 of the arm64 one: ~3.23, not our pinned 3.37) and live in an account that differs
  outside the standard partition: one set of pinned versions (DESIGN §7) means building it.
* Lambda caps a function plus its layers at 250 MB unzipped, and cold starts grow with size, so
  the build trims what is never imported at run time and FAILS above a size budget.

The build is cached: a stamp file records a hash of every input (requirements, constraints,
architecture, target interpreter, this file's trim rules); an unchanged build is a no-op.

Usage::

    python layers/build_layer.py --arch arm64            # every layer -> layers/build/<layer>-arm64
    python layers/build_layer.py --arch arm64 --layer powertools
    python layers/build_layer.py --arch native --layer inference --out /tmp/layer
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAYERS_DIR = REPO_ROOT / "layers"
REQUIREMENTS = LAYERS_DIR / "inference" / "requirements.txt"
CONSTRAINTS = REPO_ROOT / "constraints.txt"
BUILD_ROOT = REPO_ROOT / "layers" / "build"

#: The Lambda runtime the layer is built for (arm64 and x86_64 targets).
LAMBDA_PYTHON_VERSION = "3.12"
#: pip platform tags per Lambda architecture (Amazon Linux 2023 has glibc 2.34).
PLATFORM_TAGS: dict[str, tuple[str, ...]] = {
    "arm64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64"),
    "x86_64": ("manylinux2014_x86_64", "manylinux_2_28_x86_64"),
}
#: ``native`` installs for this interpreter and machine: the only layer tests can execute.
ARCHES = ("arm64", "x86_64", "native")

MIB = 1 << 20
#: The target is < 90 MiB unzipped for layer + function code; the function code is ~1 MiB, so the
#: layer gets 88 MiB. Lambda's hard limit (250 MiB) also covers the Powertools layer.
DEFAULT_BUDGET_BYTES = 88 * MIB

STAMP_NAME = ".build-stamp"
REPORT_NAME = "layer-report.json"


@dataclasses.dataclass(frozen=True)
class TrimRule:
    """Paths (globs relative to ``python/``) removed from the layer, and why that is safe."""

    name: str
    patterns: tuple[str, ...]
    why: str


TRIM_RULES: tuple[TrimRule, ...] = (
    TrimRule(
        "tests",
        ("**/tests", "numpy/conftest.py", "numpy/_core/_*_tests.*", "numpy/_core/_simd.*"),
        "test suites, their data and numpy's test-only extension modules (_multiarray_tests, "
        "_umath_tests, _simd, ...): imported only by numpy's own test suite",
    ),
    TrimRule(
        "build-time files",
        (
            "numpy/_core/include",
            "numpy/_core/lib",
            "numpy/random/lib",
            "numpy/random/_examples",
            "numpy/f2py",
            "numpy/_pyinstaller",
            "**/*.pxd",
            "**/*.h",
            "bin",
        ),
        "C headers, static libraries, Cython declarations, f2py and console scripts: used to "
        "build or freeze extensions, never imported by a running handler",
    ),
    TrimRule("type stubs", ("**/*.pyi",), "type stubs: read by type checkers, never by Python"),
    TrimRule(
        "onnxruntime tooling",
        (
            "onnxruntime/tools",
            "onnxruntime/transformers",
            "onnxruntime/quantization",
            "onnxruntime/training",
            "onnxruntime/backend",
            "onnxruntime/datasets",
        ),
        "offline model tooling (conversion, quantization, transformer optimisation, the ONNX "
        "backend-test adapter, sample models): needs onnx/sympy/protobuf, which the layer omits, "
        "and is not imported by `import onnxruntime`",
    ),
    TrimRule(
        "onnxruntime C API library",
        ("onnxruntime/capi/libonnxruntime.so*",),
        "libonnxruntime.so is the C/C++ API for native programs (~25 MB); the Python extension "
        "onnxruntime_pybind11_state links the runtime statically and does not NEED or dlopen it",
    ),
    TrimRule("bytecode", ("**/__pycache__",), "bytecode compiled for the build interpreter"),
)

#: Must still exist after trimming: a trim rule that ate one of these is a bug.
REQUIRED_AFTER_TRIM: tuple[str, ...] = (
    "onnxruntime/__init__.py",
    "onnxruntime/capi/onnxruntime_pybind11_state*",
    "onnxruntime/capi/onnxruntime_inference_collection.py",
    "numpy/__init__.py",
    "numpy/_core/_multiarray_umath*",
    "orjson/__init__.py",
    "orjson/orjson*",
)


@dataclasses.dataclass(frozen=True)
class LayerDefinition:
    """One layer: its requirements file (names only), what must survive trimming, its budget."""

    name: str
    requirements: Path
    required_after_trim: tuple[str, ...]
    budget_bytes: int


LAYERS: dict[str, LayerDefinition] = {
    "inference": LayerDefinition(
        "inference", REQUIREMENTS, REQUIRED_AFTER_TRIM, DEFAULT_BUDGET_BYTES
    ),
    # 10.2 MiB measured (arm64); the budget leaves room for releases, not for a new framework.
    "powertools": LayerDefinition(
        "powertools",
        LAYERS_DIR / "powertools" / "requirements.txt",
        (
            "aws_lambda_powertools/__init__.py",
            "aws_lambda_powertools/logging/logger.py",
            "pydantic/__init__.py",
            "pydantic_core/_pydantic_core*",
            "jmespath/__init__.py",
        ),
        16 * MIB,
    ),
}


class LayerBuildError(RuntimeError):
    """The layer could not be built as specified (pins, pip, or a trim rule went wrong)."""


class LayerBudgetExceededError(LayerBuildError):
    """The trimmed layer is larger than its unzipped-size budget."""

    def __init__(self, report: LayerReport) -> None:
        self.report = report
        super().__init__(
            f"inference layer is {mib(report.size_after_trim)} unzipped after trimming, over its "
            f"budget of {mib(report.budget)} ({report.python_dir})"
        )


@dataclasses.dataclass
class LayerReport:
    """What a build produced; written as ``layer-report.json`` next to ``python/``."""

    arch: str
    python_version: str
    platforms: list[str]
    python_dir: str
    inputs_hash: str
    size_before_trim: int
    size_after_trim: int
    budget: int
    within_budget: bool
    versions: dict[str, str]
    trimmed: dict[str, int]
    top_level_sizes: dict[str, int]
    build_seconds: float
    cached: bool = False

    def to_json(self) -> str:
        """Serialise for ``layer-report.json`` (``cached`` describes a call, so it is left out)."""
        data = dataclasses.asdict(self)
        data.pop("cached")
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LayerReport:
        """Read a report written by :meth:`to_json`."""
        data = json.loads(text)
        return cls(**data)


def mib(size: int) -> str:
    """Human-readable size in MiB (Lambda's "MB" quotas are MiB)."""
    return f"{size / MIB:.1f} MiB"


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name, so ``python_dotenv`` matches ``python-dotenv``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_requirements(path: Path = REQUIREMENTS) -> list[str]:
    """Project names in ``requirements.txt`` (names only: versions come from constraints)."""
    names: list[str] = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", line):
            raise LayerBuildError(
                f"{path}: {line!r} must be a bare project name; pin versions in constraints.txt"
            )
        names.append(canonical_name(line))
    return names


def read_pins(path: Path = CONSTRAINTS) -> dict[str, str]:
    """``name==version`` pins of a pip-freeze style constraints file."""
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)", raw)
        if match:
            pins[canonical_name(match.group(1))] = match.group(2)
    return pins


def target_python_version(arch: str) -> str:
    """The interpreter version the layer is built for."""
    if arch == "native":
        return f"{sys.version_info.major}.{sys.version_info.minor}"
    return LAMBDA_PYTHON_VERSION


def inputs_hash(
    arch: str, requirements: Path = REQUIREMENTS, constraints: Path = CONSTRAINTS
) -> str:
    """Hash of everything that determines the layer's content (the cache key)."""
    digest = hashlib.sha256()
    parts: list[bytes] = [
        arch.encode(),
        target_python_version(arch).encode(),
        " ".join(PLATFORM_TAGS.get(arch, (sysconfig.get_platform(),))).encode(),
        sys.implementation.cache_tag.encode() if arch == "native" else b"",
        requirements.read_bytes(),
        constraints.read_bytes(),
        Path(__file__).read_bytes(),  # the trim rules and budget logic
    ]
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def tree_size(path: Path) -> int:
    """Apparent (unzipped) size in bytes, which is what Lambda's size quota counts."""
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_symlink() or p.is_file())


def pip_command(arch: str, target: Path, requirements: Path, constraints: Path) -> list[str]:
    """The pip invocation: platform-targeted, binary-only, no deps, pinned by constraints."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--target",
        str(target),
        "--no-deps",
        "--only-binary=:all:",
        "--no-compile",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "--progress-bar",
        "off",
        "-r",
        str(requirements),
        "-c",
        str(constraints),
    ]
    if arch != "native":
        cmd += ["--implementation", "cp", "--python-version", LAMBDA_PYTHON_VERSION]
        for tag in PLATFORM_TAGS[arch]:
            cmd += ["--platform", tag]
    return cmd


def _matches(root: Path, pattern: str) -> Iterator[Path]:
    # Sorted, and outermost first, so a directory is removed before anything beneath it.
    yield from sorted(root.glob(pattern), key=lambda p: (len(p.parts), str(p)))


def trim(root: Path, required: tuple[str, ...] = REQUIRED_AFTER_TRIM) -> dict[str, int]:
    """Apply :data:`TRIM_RULES` under ``root``; returns bytes removed per rule."""
    removed: dict[str, int] = {}
    for rule in TRIM_RULES:
        total = 0
        for pattern in rule.patterns:
            for path in _matches(root, pattern):
                if not (path.exists() or path.is_symlink()):
                    continue  # already removed with a parent directory
                total += tree_size(path)
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        removed[rule.name] = total
    missing = [p for p in required if not any(root.glob(p))]
    if missing:
        raise LayerBuildError(f"trimming removed required files: {missing}")
    return removed


def installed_versions(root: Path) -> dict[str, str]:
    """Versions of the distributions installed under ``root`` (from their dist-info)."""
    return {
        canonical_name(dist.metadata["Name"]): dist.version
        for dist in metadata.distributions(path=[str(root)])
    }


def _check_versions(versions: dict[str, str], names: list[str], pins: dict[str, str]) -> None:
    if sorted(versions) != sorted(names):
        raise LayerBuildError(f"layer holds {sorted(versions)}, expected exactly {sorted(names)}")
    wrong = {n: (v, pins[n]) for n, v in versions.items() if v != pins[n]}
    if wrong:
        raise LayerBuildError(f"installed versions differ from constraints.txt: {wrong}")


def _load_cached(out_dir: Path, digest: str) -> LayerReport | None:
    stamp, report_file = out_dir / STAMP_NAME, out_dir / REPORT_NAME
    if not (stamp.is_file() and report_file.is_file() and (out_dir / "python").is_dir()):
        return None
    if stamp.read_text().strip() != digest:
        return None
    report = LayerReport.from_json(report_file.read_text())
    report.cached = True
    return report


def build_layer(
    arch: str,
    out_dir: Path,
    *,
    budget_bytes: int | None = None,
    force: bool = False,
    layer: str = "inference",
    constraints: Path = CONSTRAINTS,
    log: Callable[[str], None] | None = None,
) -> LayerReport:
    """Build (or reuse) the layer named ``layer`` in ``out_dir/python`` and return its report.

    ``budget_bytes`` defaults to the layer's own budget (:data:`LAYERS`).

    Raises :class:`LayerBudgetExceededError` when the trimmed layer is over ``budget_bytes``
    (the layer and its report are kept for inspection, the stamp is not written), and
    :class:`LayerBuildError` when pins, pip or trimming fail.
    """
    if arch not in ARCHES:
        raise LayerBuildError(f"unknown arch {arch!r}; expected one of {ARCHES}")
    if layer not in LAYERS:
        raise LayerBuildError(f"unknown layer {layer!r}; expected one of {sorted(LAYERS)}")
    definition = LAYERS[layer]
    requirements = definition.requirements
    if budget_bytes is None:
        budget_bytes = definition.budget_bytes
    say = log or (lambda _msg: None)
    out_dir = out_dir.resolve()
    digest = inputs_hash(arch, requirements, constraints)

    cached = None if force else _load_cached(out_dir, digest)
    if cached is not None:
        say(f"up to date: {out_dir} (inputs {digest[:12]})")
        cached.budget = budget_bytes
        cached.within_budget = cached.size_after_trim <= budget_bytes
        if not cached.within_budget:
            raise LayerBudgetExceededError(cached)
        return cached

    names = read_requirements(requirements)
    pins = read_pins(constraints)
    unpinned = [n for n in names if n not in pins]
    if unpinned:
        raise LayerBuildError(f"{unpinned} not pinned in {constraints}; run `make constraints`")

    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / STAMP_NAME).unlink(missing_ok=True)
    staging = out_dir / "python.partial"
    shutil.rmtree(staging, ignore_errors=True)

    cmd = pip_command(arch, staging, requirements, constraints)
    say("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if proc.returncode != 0:
        raise LayerBuildError(f"pip failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")

    versions = installed_versions(staging)
    _check_versions(versions, names, pins)
    size_before = tree_size(staging)
    trimmed = trim(staging, definition.required_after_trim)
    size_after = tree_size(staging)

    python_dir = out_dir / "python"
    shutil.rmtree(python_dir, ignore_errors=True)
    staging.rename(python_dir)

    report = LayerReport(
        arch=arch if arch != "native" else f"native-{platform.machine()}",
        python_version=target_python_version(arch),
        platforms=list(PLATFORM_TAGS.get(arch, (sysconfig.get_platform(),))),
        python_dir=str(python_dir),
        inputs_hash=digest,
        size_before_trim=size_before,
        size_after_trim=size_after,
        budget=budget_bytes,
        within_budget=size_after <= budget_bytes,
        versions=dict(sorted(versions.items())),
        trimmed=trimmed,
        top_level_sizes={
            p.name: tree_size(p) for p in sorted(python_dir.iterdir(), key=lambda p: p.name)
        },
        build_seconds=round(time.perf_counter() - started, 2),
    )
    (out_dir / REPORT_NAME).write_text(report.to_json())
    if not report.within_budget:
        raise LayerBudgetExceededError(report)
    (out_dir / STAMP_NAME).write_text(digest + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    """CLI: build the layer, print the measured sizes; exit 1 on failure or over budget."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--arch", choices=ARCHES, default="arm64")
    parser.add_argument(
        "--layer", choices=[*LAYERS, "all"], default="all", help="default: every layer"
    )
    parser.add_argument("--out", type=Path, help="default: layers/build/<layer>-<arch>")
    parser.add_argument(
        "--budget-mb",
        type=float,
        help="fail above this unzipped size in MiB (default: the layer's own budget)",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)
    names = list(LAYERS) if args.layer == "all" else [args.layer]
    if args.out and len(names) > 1:
        parser.error("--out needs a single --layer")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    for name in names:
        out_dir: Path = args.out or BUILD_ROOT / f"{name}-{args.arch}"
        budget = int(args.budget_mb * MIB) if args.budget_mb else None
        try:
            report = build_layer(
                args.arch, out_dir, budget_bytes=budget, force=args.force, layer=name, log=log
            )
        except LayerBuildError as exc:  # LayerBudgetExceededError included
            log(f"FAILED ({name}): {exc}")
            return 1
        print_report(name, report)
    return 0


def print_report(name: str, report: LayerReport) -> None:
    """The measured sizes and versions of one built layer."""
    print(f"== {name} layer")

    print(f"layer:   {report.python_dir} ({report.arch}, python {report.python_version})")
    print(f"before:  {mib(report.size_before_trim)} unzipped ({report.size_before_trim} bytes)")
    print(f"after:   {mib(report.size_after_trim)} unzipped ({report.size_after_trim} bytes)")
    print(f"budget:  {mib(report.budget)} -> within budget: {report.within_budget}")
    for name, size in report.trimmed.items():
        print(f"trimmed: {name:<26} {mib(size)}")
    print("versions: " + ", ".join(f"{n}=={v}" for n, v in report.versions.items()))
    print("cached" if report.cached else f"built in {report.build_seconds} s")


if __name__ == "__main__":
    sys.exit(main())
