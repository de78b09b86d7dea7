"""`mlops local` as a user runs it: a child process, reached only over HTTP, boto3 and the CLI.

The end-to-end story, the API fuzz and the load test drive the stack through this and nothing
else: no import of our modules, no in-process handler, no shared moto backend. The stack runs
with its own state folder, specs folder, runtime folder and API key, and binds port 0 for moto
and the API (it writes the ports it got to local.json), so parallel test workers and a
`mlops local` someone keeps running never collide.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODELS = Path(__file__).resolve().parents[2] / "models"
# The CLI entry point installed beside the interpreter running the tests (the venv's `mlops`).
MLOPS = str(Path(sys.executable).with_name("mlops"))
API_KEY = "e2e-test-key"


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, parsed JSON body (None when it is not JSON), headers."""

    status: int
    body: Any
    headers: Mapping[str, str]


@dataclass
class LocalProcess:
    """A running `mlops local` child and the ways a user reaches it."""

    home: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    state: dict[str, Any]

    @property
    def api_url(self) -> str:
        return str(self.state["api_url"])

    @property
    def endpoint_url(self) -> str:
        return str(self.state["endpoint_url"])

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """`mlops ARGS` in a fresh process, as typed in a shell next to the running stack."""
        return subprocess.run(
            [MLOPS, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def http(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        key: str | None = API_KEY,
        raw: bytes | None = None,
    ) -> Answer:
        """One request to the local API; 4xx and 5xx are answers too, never exceptions."""
        sent = {"Content-Type": "application/json", **(headers or {})}
        if key is not None:
            sent["x-api-key"] = key
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(
            self.api_url + path, data=data, method=method, headers=sent
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text, got = int(response.status), response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, text, got = int(error.code), error.read(), error.headers
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        return Answer(status, parsed, dict(got.items()))

    def boto3_client(self, service: str) -> Any:
        """A boto3 client aimed at the child's moto, as `export AWS_ENDPOINT_URL=...` does."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=str(self.state["region"]),
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def outbox(self) -> list[dict[str, Any]]:
        """The alerts the local outbox holds (SNS e-mail on AWS), oldest first."""
        path = self.home / "outbox.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def wait_for(self, what: str, check: Any, timeout: float = 60, every: float = 0.5) -> Any:
        """Poll `check()` until it returns something truthy; fail naming `what` otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if self.process.poll() is not None:
                raise AssertionError(f"mlops local exited while waiting for {what}: {self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(every)

    def log(self, lines: int = 40) -> str:
        path = self.home / "local.log"
        return "\n".join(path.read_text().splitlines()[-lines:]) if path.exists() else ""


def _base_env(home: Path, specs: Path, extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "MLOPS_", "PYTEST_", "COV_"))
    }
    env.update(
        {
            "MLOPS_HOME": str(home),
            "MLOPS_SPECS_DIR": str(specs),
            "MLOPS_RUNTIME_DIR": str(home / "running"),
            "MLOPS_LOCAL_API_KEY": API_KEY,
            "COLUMNS": "200",  # rich wraps at the terminal's width; a pipe has none
            "NO_COLOR": "1",
        }
    )
    env.update(extra)
    return env


@contextmanager
def local_process(
    tmp: Path,
    env: Mapping[str, str] | None = None,
    spec_additions: Mapping[str, str] | None = None,
    startup_timeout: float = 90,
) -> Iterator[LocalProcess]:
    """Start `mlops local --reset` on port 0 under `tmp` with copies of models/*.toml (plus
    `spec_additions[name]` appended to that spec), yield it once it is up, stop it with SIGTERM
    (as a service manager would) and wait for it to exit."""
    home, specs = tmp / ".mlops", tmp / "models"
    specs.mkdir(parents=True, exist_ok=True)
    for spec in MODELS.glob("*.toml"):
        shutil.copy(spec, specs / spec.name)
    for name, addition in (spec_additions or {}).items():
        with (specs / f"{name}.toml").open("a") as handle:
            handle.write("\n" + addition)
    home.mkdir(parents=True, exist_ok=True)
    full_env = _base_env(home, specs, env or {})
    log = (home / "local.log").open("wb")
    process = subprocess.Popen(
        [MLOPS, "local", "--reset", "--port", "0", "--moto-port", "0"],
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp,
    )
    stack = LocalProcess(home, process, full_env, {})
    try:
        state_file = home / "local.json"

        def up() -> dict[str, Any] | None:
            try:
                state = json.loads(state_file.read_text())
            except (OSError, ValueError):
                return None
            return state if state.get("pid") == process.pid else None

        stack.state = stack.wait_for("mlops local to start", up, startup_timeout, every=0.2)
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
