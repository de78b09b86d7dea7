"""`make bench`: set up, measure warm latency, cold start and sizes, write the results.

Writes benchmarks/results/latest.json (every number plus the machine it came from),
benchmarks/results/latest.md (the tables, also printed; the drift calibration last) and
benchmarks/results/profile.txt (cProfile of the warm single-row RandomForest handler: where
its microseconds go). The canary decision rule's simulation (benchmarks/canary_simulation.py,
seconds, no stack) runs first and is added to both; it also writes its own
canary_simulation.{json,md}.
Progress goes to stderr so stdout carries only the markdown report.

Usage: python -m benchmarks.run [--quick]   (--quick: fewer iterations, for trying changes)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="serverless-mlops benchmarks")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="about a tenth of the iterations (results are not written)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()

    from benchmarks import (
        canary_simulation,
        cold,
        cost,
        drift_calibration,
        report,
        sizes,
        stack,
        warm,
    )
    from infra.serving import PREDICT_MEMORY_MB

    if args.quick:
        warm.SECONDS_PER_VARIANT, warm.MIN_CALLS, warm.ROUNDS = 0.25, 24, 6
        cold.RUNS, cold.IMPORT_RUNS = 3, 1  # three rounds: enough to print a spread
    results: dict[str, Any] = {
        "machine": report.machine_info(),
        "capture_sample_rate": stack.CAPTURE_SAMPLE_RATE,
    }
    say("canary decision rule by simulation")
    canary = canary_simulation.run_simulation()
    results["canary_simulation"] = canary
    say("setting up: moto server, provisioning, training through the train handler")
    bench = stack.start_stack(say)
    try:
        results["training_seconds"] = bench.train_seconds
        say("warm latency (interleaved)")
        results["warm"] = warm.run_warm(bench, say)
        say("where the handler's time goes (stages, interleaved)")
        results["breakdown"] = warm.run_breakdown(bench, say)
        say("cost per million predictions (the handler's stdout bytes, priced)")
        results["cost"] = cost.run_cost(bench, results["warm"], PREDICT_MEMORY_MB, say)
        say("cold start (fresh processes)")
        results["cold"] = cold.run_cold(bench, say)
        say("sizes")
        results["sizes"] = sizes.run_sizes(bench, say)
        say("profiling the warm handler")
        profile = warm.profile_handler(bench)
    finally:
        bench.stop()
        shutil.rmtree(bench.workdir, ignore_errors=True)
    # Pure statistics, no stack: after it stops, so the two do not share the cores.
    results["drift"] = drift_calibration.run(args.quick, say)
    results["run_seconds"] = round(time.perf_counter() - started, 1)
    results["targets"] = report.evaluate_targets(results)
    results["targets"] += canary_simulation.evaluate_targets(canary)
    markdown = (
        report.render_markdown(results)
        + cost.render_markdown(results["cost"], stack.LABELS)
        + canary_simulation.render_markdown(canary)
        + drift_calibration.render_markdown(results["drift"])
    )
    if not args.quick:
        RESULTS_DIR.mkdir(exist_ok=True)
        (RESULTS_DIR / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
        (RESULTS_DIR / "latest.md").write_text(markdown)
        (RESULTS_DIR / "profile.txt").write_text(profile)
        canary_simulation.write_results(canary, RESULTS_DIR)
        say(f"wrote {RESULTS_DIR}/latest.json, latest.md, profile.txt")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
