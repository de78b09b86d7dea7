"""`make demo`'s drift chapter: traffic over HTTP to the local API, checks through the CLI.

Phases: traffic like training -> no drift, no alert; `bmi` and `s5` shifted by 0.8 training
standard deviations -> drift naming those two, one alert; back to normal -> one "recovered"
alert; feedback with wrong labels -> a quality alert. Every answer's HTTP status is shown
(counted per phase for the bulk traffic, one by one otherwise).

Usage: python scripts/drift_demo.py PHASE   (PHASE: normal | shifted | feedback | bad-feedback)
"""

from __future__ import annotations

import collections
import csv
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

NUMERIC = ["age", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
REQUESTS, BATCH = 600, 25  # 15,000 rows: at the spec's 10% input sampling ~1,500 captured
STATE = json.loads((Path(os.environ.get("MLOPS_HOME", ".mlops")) / "local.json").read_text())


def call(path: str, body: Any) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 - the local stack's own API URL
        STATE["api_url"] + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json", "x-api-key": STATE["api_key"]},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), json.loads(error.read())


def rows() -> list[dict[str, Any]]:
    with open("data/diabetes.csv", newline="") as handle:
        return [
            {**{name: float(row[name]) for name in NUMERIC}, "sex": row["sex"]}
            for row in csv.DictReader(handle)
        ]


def traffic(seed: int, shift: dict[str, float], requests: int = REQUESTS) -> list[Any]:
    data = rows()
    sds = {name: float(np.std([r[name] for r in data], ddof=1)) for name in NUMERIC}
    rng = np.random.default_rng(seed)
    statuses: collections.Counter[int] = collections.Counter()
    answered = []
    for _ in range(requests):
        batch = []
        for index in rng.integers(0, len(data), BATCH):
            row = dict(data[index])
            for name, units in shift.items():
                row[name] = round(row[name] + units * sds[name], 4)
            batch.append(row)
        status, body = call("/models/diabetes/predict", {"instances": batch})
        statuses[status] += 1
        if status == 200:
            answered.append((body["request_id"], body["predictions"]))
    shown = ", ".join(f"HTTP {status} x{count}" for status, count in sorted(statuses.items()))
    print(f"   {requests} predict requests of {BATCH} rows: {shown}")
    return answered


def main(phase: str) -> None:
    if phase == "normal":
        traffic(seed=int.from_bytes(os.urandom(2)), shift={})
    elif phase == "shifted":
        traffic(seed=2, shift={"bmi": 0.8, "s5": -0.8})
    elif phase == "feedback":
        answered = traffic(seed=4, shift={}, requests=12)
        feedback = [
            {"request_id": request_id, "row": row, "actual": round(prediction + 300.0, 1)}
            for request_id, predictions in answered
            for row, prediction in enumerate(predictions)
        ]
        status, body = call("/models/diabetes/feedback", {"feedback": feedback})
        print(
            f"   feedback for {len(feedback)} rows (every label 300 too high): HTTP {status} {body}"
        )
    elif phase == "bad-feedback":
        for model, item in (
            ("iris", {"request_id": "r1", "row": 0, "actual": "banana"}),
            ("diabetes", {"request_id": "r1", "row": 0, "actual": "abc"}),
            ("iris", {"request_id": "r1", "row": 5000, "actual": "setosa"}),
        ):
            status, body = call(f"/models/{model}/feedback", {"feedback": [item]})
            print(f"   {model} {json.dumps(item)} -> HTTP {status} {body['error']['message']}")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
