"""`make load`: a bounded load test of the local API with a canary in flight.

`mlops local` runs as a child process (tests.integration.local_process: reached only over HTTP
and the CLI); iris v1 is trained and reaches production, v2 is trained and becomes a canary at
the spec's share (10%). Spec minutes are real minutes here, so the canary neither bakes out
nor gets promoted during the run. Then `--clients` threads, each with one keep-alive
connection, send `--requests` one-row predictions between them as fast as answers come back.

Measured: every answer's status (an error is anything but 200, or a failed connection),
which model version answered (the response's `model_version`, so the canary's share is what
clients really got), and each request's latency at the client (send to last byte read), from
which p50/p90/p99/max. Written to benchmarks/results/load.json with the machine, and printed.

The canary share is a binomial count: with the alias sending each request to the canary with
probability p, the measured share over n requests has standard deviation sqrt(p(1-p)/n). At
p = 0.10, n = 20,000 that is 0.21 points, so the 2-point tolerance is 9.4 sd; at the suite's
n = 5,000 it is 0.42 points and 4.7 sd (a correct router fails it about 3 times in a million).
A router 3 points off (13%) slips through with probability 1e-5 at 20,000 requests.

Usage: python -m benchmarks.load [--requests 20000] [--clients 32] [--output PATH]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import math
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.integration.local_process import API_KEY, LocalProcess, local_process

RESULTS = Path(__file__).resolve().parent / "results" / "load.json"
CANARY_SHARE = 0.10  # models/iris.toml: canary.traffic_percent
SHARE_TOLERANCE = 0.02
IRIS_ROW = {
    "sepal length (cm)": 6.7,
    "sepal width (cm)": 3.0,
    "petal length (cm)": 5.2,
    "petal width (cm)": 2.3,
}
# Real minutes: the 30-minute bake outlasts any run, so the canary stays at its share.
LOAD_ENV = {"MLOPS_ROLLOUT_MINUTE_SECONDS": "60", "MLOPS_LOCAL_ROLLOUT_SECONDS": "1"}


@dataclass
class LoadResult:
    requests: int
    clients: int
    seconds: float
    errors: int
    statuses: dict[str, int]
    versions: dict[str, int]
    latency_ms: dict[str, float]
    error_samples: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def share(self, version: int) -> float:
        return self.versions.get(str(version), 0) / max(1, sum(self.versions.values()))


def share_sd(p: float, n: int) -> float:
    """Standard deviation of a binomial share: sqrt(p (1 - p) / n)."""
    return math.sqrt(p * (1 - p) / n)


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank method on sorted values."""
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def drive(api_url: str, path: str, body: dict[str, Any], requests: int, clients: int) -> LoadResult:
    """`requests` POSTs of `body` to `path`, `clients` threads with one keep-alive connection
    each; every answer counted (status, model version), every latency kept."""
    split = urlsplit(api_url)
    host = split.hostname or "127.0.0.1"
    payload = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "x-api-key": API_KEY}
    remaining = iter(range(requests))
    take = threading.Lock()
    latencies: list[float] = []
    statuses: collections.Counter[str] = collections.Counter()
    versions: collections.Counter[str] = collections.Counter()
    samples: list[str] = []
    merge = threading.Lock()

    def client() -> None:
        mine: list[float] = []
        got: collections.Counter[str] = collections.Counter()
        served: collections.Counter[str] = collections.Counter()
        errors: list[str] = []
        connection = http.client.HTTPConnection(host, split.port, timeout=60)
        while True:
            with take:
                if next(remaining, None) is None:
                    break
            started = time.perf_counter()
            try:
                connection.request("POST", path, payload, headers)
                response = connection.getresponse()
                data = response.read()
                mine.append(time.perf_counter() - started)
                got[str(response.status)] += 1
                if response.status == 200:
                    served[str(json.loads(data)["model_version"])] += 1
                elif len(errors) < 5:
                    errors.append(f"{response.status} {data[:200]!r}")
            except (OSError, http.client.HTTPException) as error:
                got["connection_error"] += 1
                if len(errors) < 5:
                    errors.append(repr(error))
                connection.close()
                connection = http.client.HTTPConnection(host, split.port, timeout=60)
        connection.close()
        with merge:
            latencies.extend(mine)
            statuses.update(got)
            versions.update(served)
            samples.extend(errors)

    threads = [threading.Thread(target=client, name=f"load-{i}") for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    ordered = sorted(latencies)
    return LoadResult(
        requests=requests,
        clients=clients,
        seconds=seconds,
        errors=sum(n for status, n in statuses.items() if status != "200"),
        statuses=dict(statuses),
        versions=dict(versions),
        latency_ms={
            name: round(percentile(ordered, q) * 1000, 2)
            for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
        },
        error_samples=samples[:5],
    )


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def iris_with_a_canary(tmp: Path) -> Iterator[LocalProcess]:
    """A child `mlops local` with iris v1 in production and v2 a canary at its share, the
    API already routing to both."""
    with local_process(tmp, LOAD_ENV) as stack:
        data = tmp / "data"
        assert stack.cli("examples", str(data)).returncode == 0
        for version in (1, 2):
            trained = stack.cli("train", "iris", str(data / "iris.csv"))
            assert f"registered as v{version}" in trained.stdout, trained.stdout + trained.stderr
            if version == 1:
                stack.wait_for(
                    "iris v1 in production",
                    lambda: stack.http("GET", "/models/iris").status == 200,
                )

        def canary_answers() -> bool:
            sample = drive(stack.api_url, "/models/iris/predict", {"instances": [IRIS_ROW]}, 60, 2)
            return sample.versions.get("2", 0) > 0

        # The reconciler starts the canary on the ModelRegistered event; the API sees the
        # alias move within a second.
        stack.wait_for("v2 answering as a canary", canary_answers, timeout=30, every=0.2)
        yield stack


def summary(result: LoadResult) -> dict[str, Any]:
    sd = share_sd(CANARY_SHARE, sum(result.versions.values()) or 1)
    return {
        "requests": result.requests,
        "clients": result.clients,
        "seconds": round(result.seconds, 2),
        "throughput_rps": round(result.throughput, 1),
        "errors": result.errors,
        "statuses": result.statuses,
        "versions": result.versions,
        "canary_share": round(result.share(2), 4),
        "canary_share_spec": CANARY_SHARE,
        "canary_share_sd": round(sd, 5),
        "tolerance_in_sd": round(SHARE_TOLERANCE / sd, 1),
        "latency_ms": result.latency_ms,
        "error_samples": result.error_samples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Bounded load test of the local API")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from benchmarks.report import machine_info

    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="mlops-load-") as folder:
        _say("starting mlops local; training iris v1 (production) and v2 (canary at 10%)...")
        with iris_with_a_canary(Path(folder)) as stack:
            _say(f"{args.requests:,} requests from {args.clients} clients...")
            result = drive(
                stack.api_url,
                "/models/iris/predict",
                {"instances": [IRIS_ROW]},
                args.requests,
                args.clients,
            )
    report = {"machine": machine, **summary(result)}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    share = result.share(2)
    ok = result.errors == 0 and abs(share - CANARY_SHARE) <= SHARE_TOLERANCE
    _say(
        f"{result.requests:,} requests, {result.clients} clients, {result.seconds:.1f} s "
        f"({result.throughput:,.0f}/s): errors {result.errors}, p50 "
        f"{result.latency_ms['p50']} ms, p99 {result.latency_ms['p99']} ms, canary share "
        f"{share:.2%} (spec {CANARY_SHARE:.0%} +- {SHARE_TOLERANCE:.0%}) -> "
        f"{'PASS' if ok else 'FAIL'}; written to {args.output}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
