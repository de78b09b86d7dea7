"""`make demo`'s rollout traffic: one-row iris predictions over HTTP, every answer shown.

Eight clients with keep-alive connections send COUNT requests; each answer is one mark, in the
order they were sent, 100 to a line: `.` = 200 from the production version, `+` = 200 from
the canary, `5` = a 5xx, `4` = a 4xx. Then the canary's measured share of those COUNT.

With --until-decided the traffic goes on, a line at a time, until alias `live` routes to one
version again (the canary was promoted or rolled back), as production traffic would: a bake
with no traffic cannot decide, and on a busy machine a fixed number of requests could end
before the bake does. The alias is read from the local stack's moto with boto3.

Usage: python scripts/demo_traffic.py COUNT [--until-decided]   (MLOPS_HOME names the stack)
"""

from __future__ import annotations

import collections
import http.client
import json
import math
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

STATE = json.loads((Path(os.environ.get("MLOPS_HOME", ".mlops")) / "local.json").read_text())
ROW = {
    "sepal length (cm)": 6.7,
    "sepal width (cm)": 3.0,
    "petal length (cm)": 5.2,
    "petal width (cm)": 2.3,
}
BODY = json.dumps({"instances": [ROW]}).encode()
HEADERS = {"Content-Type": "application/json", "x-api-key": STATE["api_key"]}
API = urlsplit(STATE["api_url"])
CLIENTS, LINE, DECISION_TIMEOUT = 8, 100, 180
PACE_SECONDS = 0.4  # after COUNT: about 250 requests a second until the decision
_local = threading.local()


def predict(_: int) -> tuple[int, int | None]:
    """One request on this thread's keep-alive connection: (status, model version)."""
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = http.client.HTTPConnection(API.hostname, API.port)
    connection.request("POST", "/models/iris/predict", BODY, HEADERS)
    answer = connection.getresponse()
    data = answer.read()
    return answer.status, json.loads(data)["model_version"] if answer.status == 200 else None


def canary_in_flight() -> bool:
    import boto3

    lambda_client = boto3.client(
        "lambda",
        endpoint_url=STATE["endpoint_url"],
        region_name=STATE["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto takes any credentials
    )
    alias = lambda_client.get_alias(FunctionName=f"{STATE['prefix']}-predict-iris", Name="live")
    return bool(alias.get("RoutingConfig", {}).get("AdditionalVersionWeights"))


def main(count: int, until_decided: bool) -> None:
    # Production is the version most of the first answers came from. (Not GET /models/iris:
    # that request is routed through alias live like any other, so during a canary it is
    # answered by the canary's version at the canary's share.)
    production: int | None = None
    print("   every answer, in order: . = 200 from production, + = 200 from the canary, 5 = a 5xx")
    first: collections.Counter[tuple[int, Any]] = collections.Counter()
    later: collections.Counter[tuple[int, Any]] = collections.Counter()
    sent, deadline = 0, time.monotonic() + DECISION_TIMEOUT
    with ThreadPoolExecutor(CLIENTS) as pool:
        while sent < count or (until_decided and canary_in_flight()):
            if sent >= count and time.monotonic() > deadline:
                print(f"   (no decision after {DECISION_TIMEOUT} s of traffic; stopping)")
                break
            answers = list(
                pool.map(predict, range(min(LINE, count - sent) if sent < count else LINE))
            )
            if production is None:
                served = collections.Counter(v for s, v in answers if s == 200)
                production = served.most_common(1)[0][0] if served else None
            (first if sent < count else later).update(answers)
            sent += len(answers)
            marks = [
                "5" if s >= 500 else "4" if s >= 400 else "." if v == production else "+"
                for s, v in answers
            ]
            print("   " + "".join(marks), flush=True)
            if sent > count:
                time.sleep(PACE_SECONDS)  # steady traffic while waiting, not a flood of lines
    for (status, version), n in sorted(first.items(), key=str):
        who = f"v{version}" if version else "the failing version"
        print(f"   first {count:,}: HTTP {status} from {who}: {n} ({n / count:.1%})")
    print(f"   production was v{production}")
    canary = sum(n for (status, version), n in first.items() if version != production)
    sd = math.sqrt(0.1 * 0.9 / count)
    if until_decided:
        print(
            f"   the canary's measured share: {canary / count:.1%} (spec 10%; one sd at this n "
            f"is {sd:.1%})"
        )
    if later:
        shown = ", ".join(
            f"HTTP {s} from {'v' + str(v) if v else 'the failing version'} x{n}"
            for (s, v), n in sorted(later.items(), key=str)
        )
        print(f"   traffic while the canary baked, until alias live moved: {shown}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(int(sys.argv[1]), "--until-decided" in sys.argv[2:])
