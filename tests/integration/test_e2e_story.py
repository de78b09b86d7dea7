"""The demo's story, end to end, driven only as a user drives it (issue #15, "Proof").

`mlops local` runs as a child process on free ports with its own state folder; this test
reaches it through HTTP (urllib), boto3 with the child's moto endpoint, and the `mlops` CLI
as subprocesses. Nothing of ours is imported and nothing runs in this process but clients.

The story, in the order `make demo` tells it: no model -> 503; train iris v1 -> production
without a human; a bad CSV refused with its three reasons, an alert, no version; predictions
and clear 4xx over HTTP; capture in S3; v2 as a canary at its share, promoted on evidence;
a faulty v3 (test-only fault) rolled back while production keeps answering; diabetes traffic
like training -> no drift, shifted -> drift naming exactly bmi and s5, normal again ->
"recovered"; wrong labels as feedback -> a quality alert; the report and the .eml alerts on
disk; `mlops history` shows the lineage and the transitions.

Time is bounded the way the demo bounds it: spec minutes are half a second, the rollout
loop runs every second (a 30-minute bake is 15 s), drift checks run on demand.
"""

from __future__ import annotations

import collections
import csv
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.integration.local_process import LocalProcess, local_process

pytestmark = pytest.mark.slow

STORY_ENV = {
    "MLOPS_ROLLOUT_MINUTE_SECONDS": "0.5",
    "MLOPS_LOCAL_ROLLOUT_SECONDS": "1",
    "MLOPS_LOCAL_FAULTS": "iris:3=error",
    "MLOPS_DRIFT_INTERVAL_SECONDS": "3600",
}
IRIS_ROW = {
    "sepal length (cm)": 6.7,
    "sepal width (cm)": 3.0,
    "petal length (cm)": 5.2,
    "petal width (cm)": 2.3,
}
DIABETES_NUMERIC = ["age", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


# Every diabetes request's inputs are captured, and the "normal" traffic is the training file's
# rows, each once: the window then equals the drift reference exactly (KS statistic 0), so "no
# drift" and "exactly bmi and s5" are certain, not 95%-likely outcomes of a test with a 5%
# false-alarm rate (three checks would make the test flaky about one run in ten).
DIABETES_CAPTURE_ALL = "[drift]\ncapture_sample_rate = 1.0\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProcess]:
    with local_process(
        tmp_path_factory.mktemp("e2e"), STORY_ENV, {"diabetes": DIABETES_CAPTURE_ALL}
    ) as running:
        yield running


def _ok(result: Any) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return str(result.stdout)


def _iris_traffic(stack: LocalProcess, requests: int) -> collections.Counter[tuple[int, Any]]:
    """`requests` one-row iris predictions from 4 clients; (status, model_version) counts."""

    def one(_: int) -> tuple[int, Any]:
        answer = stack.http("POST", "/models/iris/predict", {"instances": [IRIS_ROW]})
        version = answer.body.get("model_version") if answer.status == 200 else None
        return answer.status, version

    with ThreadPoolExecutor(4) as pool:
        return collections.Counter(pool.map(one, range(requests)))


def _diabetes_rows(data: Path) -> list[dict[str, Any]]:
    with (data / "diabetes.csv").open(newline="") as handle:
        return [
            {**{name: float(row[name]) for name in DIABETES_NUMERIC}, "sex": row["sex"]}
            for row in csv.DictReader(handle)
        ]


def _diabetes_traffic(
    stack: LocalProcess, rows: list[dict[str, Any]], shift: dict[str, float]
) -> list[tuple[str, list[float]]]:
    """Every training row once, in requests of 25, `shift` (in training standard deviations)
    added to its features; (request id, predictions) of each answer."""
    sds = {name: float(np.std([r[name] for r in rows], ddof=1)) for name in DIABETES_NUMERIC}
    shifted = [
        {**row, **{name: row[name] + units * sds[name] for name, units in shift.items()}}
        for row in rows
    ]
    answered = []
    for start in range(0, len(shifted), 25):
        batch = shifted[start : start + 25]
        answer = stack.http("POST", "/models/diabetes/predict", {"instances": batch})
        assert answer.status == 200, answer.body
        answered.append((answer.body["request_id"], answer.body["predictions"]))
    return answered


def _subjects(stack: LocalProcess) -> list[str]:
    return [str(alert["subject"]) for alert in stack.outbox()]


def _registry_versions(stack: LocalProcess, model: str) -> list[dict[str, Any]]:
    """The registry's version items, read with boto3 from the child's moto."""
    dynamodb = stack.boto3_client("dynamodb")
    table = next(name for name in dynamodb.list_tables()["TableNames"] if "registry" in name)
    items = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
        ExpressionAttributeValues={":pk": {"S": f"MODEL#{model}"}, ":sk": {"S": "VERSION#"}},
    )["Items"]
    return list(items)


def test_the_demo_story_end_to_end(stack: LocalProcess, tmp_path: Path) -> None:
    data = tmp_path / "data"

    # -- no model yet -----------------------------------------------------------------------
    answer = stack.http("GET", "/models/iris")
    assert (answer.status, answer.body["error"]["code"]) == (503, "no_production_model")
    _ok(stack.cli("examples", str(data)))

    # -- train v1; it reaches production with no human step ----------------------------------
    assert "iris: registered as v1" in _ok(stack.cli("train", "iris", str(data / "iris.csv")))
    refused = stack.cli("train", "iris", str(data / "iris-broken.csv"))
    assert refused.returncode == 1, refused.stdout
    for code in ("non_numeric_value", "out_of_bounds", "missing_target"):
        assert code in refused.stdout
    assert len(_registry_versions(stack, "iris")) == 1  # the bad file created no version
    stack.wait_for(
        "the training-failure alert", lambda: "training failed for iris" in str(_subjects(stack))
    )
    assert "registered as v1" in _ok(stack.cli("train", "diabetes", str(data / "diabetes.csv")))
    for model in ("iris", "diabetes"):
        stack.wait_for(
            f"{model} v1 in production",
            lambda m=model: stack.http("GET", f"/models/{m}").status == 200,
        )
    described = stack.http("GET", "/models/iris").body
    assert (described["version"], described["status"]) == (1, "production")
    assert described["lineage"]["data_key"].endswith("iris.csv")

    # -- predictions, and bad requests answered 4xx -------------------------------------------
    answer = stack.http("POST", "/models/iris/predict", {"instances": [IRIS_ROW, IRIS_ROW]})
    assert answer.status == 200
    assert answer.body["model_version"] == 1
    assert answer.body["predictions"] == ["virginica", "virginica"]
    bad_value = {"instances": [{**IRIS_ROW, "sepal length (cm)": "big"}]}
    answer = stack.http("POST", "/models/iris/predict", bad_value)
    assert (answer.status, answer.body["error"]["code"]) == (422, "schema_violation")
    assert answer.body["error"]["details"]["violations"][0]["field"] == "sepal length (cm)"
    assert stack.http("POST", "/models/iris/predict", raw=b'{"instances": [ oops').status == 400
    assert stack.http("POST", "/models/iris/predict", {"instances": []}, key=None).status == 403
    assert stack.http("GET", "/models/nosuch").status == 404
    capture = stack.boto3_client("s3")
    bucket = next(b["Name"] for b in capture.list_buckets()["Buckets"] if "capture" in b["Name"])
    stack.wait_for(
        "capture records in S3",
        lambda: capture.list_objects_v2(Bucket=bucket, Prefix="capture/model=iris/").get(
            "KeyCount"
        ),
        timeout=30,
    )

    # -- v2: canary at the spec's 10%, measured, then promoted on evidence ------------------
    assert "registered as v2" in _ok(stack.cli("train", "iris", str(data / "iris.csv")))
    stack.wait_for(
        "v2's canary", lambda: "canary v2 (model" in stack.cli("status", "iris").stdout, 30
    )
    stack.wait_for(
        "the API to route to the canary",
        lambda: _iris_traffic(stack, 100)[(200, 2)] > 0,
        timeout=10,
        every=0.1,
    )
    measured = _iris_traffic(stack, 1500)  # before the 15 s bake can end
    assert set(measured) == {(200, 1), (200, 2)}, measured
    # 10% of 1,500: sd 0.77 points; [6%, 14%] is over 5 sd either side.
    assert 0.06 <= measured[(200, 2)] / 1500 <= 0.14, measured

    def promoted() -> bool:
        # The decision is read from the registry's record (its alert), not from GET
        # /models/iris: that request is routed through alias live like a prediction, so while
        # the canary bakes it is answered by v2 at the canary's share (seen: the test stopped
        # its traffic, the bake starved, v2 was rolled back at the extension limit).
        _iris_traffic(stack, 300)  # the canary's evidence keeps coming while it bakes
        subjects = _subjects(stack)
        assert "[mlops] iris v2: rolled back" not in subjects, stack.log()
        return "[mlops] iris v2: promoted" in subjects

    stack.wait_for("v2's promotion", promoted, timeout=90, every=0)
    stack.wait_for(
        "alias live on v2 alone",
        lambda: _iris_traffic(stack, 100) == collections.Counter({(200, 2): 100}),
        timeout=10,
        every=0.2,
    )
    # (Its `status` still says "canary": the environment read v2's registry item when it
    # loaded, as a canary, and keeps it. Reported on issue #15; not asserted here.)
    assert stack.http("GET", "/models/iris").body["version"] == 2

    # -- v3 is faulty (every answer of its version is a 500): rolled back, production unhurt --
    assert "registered as v3" in _ok(stack.cli("train", "iris", str(data / "iris.csv")))
    stack.wait_for(
        "v3's canary", lambda: "canary v3 (model" in stack.cli("status", "iris").stdout, 30
    )
    faulty: collections.Counter[tuple[int, Any]] = collections.Counter()

    def rolled_back() -> bool:
        faulty.update(_iris_traffic(stack, 200))
        return "[mlops] iris v3: rolled back" in _subjects(stack)

    stack.wait_for("v3's rollback", rolled_back, timeout=60, every=0)
    assert faulty[(500, None)] > 0, faulty  # the fault did reach clients while v3 was canary
    assert set(faulty) <= {(200, 2), (500, None)}, faulty  # and only through v3's share
    stack.wait_for(
        "the alias back on v2 alone",
        lambda: _iris_traffic(stack, 100) == collections.Counter({(200, 2): 100}),
        timeout=10,
        every=0.2,
    )
    assert _iris_traffic(stack, 400) == collections.Counter({(200, 2): 400})

    # -- drift: like training -> none; shifted -> exactly bmi and s5; back -> recovered -------
    rows = _diabetes_rows(data)
    _diabetes_traffic(stack, rows, shift={})
    assert "no_drift" in _ok(stack.cli("drift", "diabetes", "--now", "--timeout", "60"))
    _diabetes_traffic(stack, rows, shift={"bmi": 0.8, "s5": -0.8})
    verdict = _ok(stack.cli("drift", "diabetes", "--now", "--timeout", "60"))
    assert re.search(r"diabetes v1\s+drift: bmi, s5\s", verdict), verdict
    _diabetes_traffic(stack, rows, shift={})
    assert "no_drift" in _ok(stack.cli("drift", "diabetes", "--now", "--timeout", "60"))
    stack.wait_for("the recovered alert", lambda: "drift recovered" in str(_subjects(stack)), 15)
    drift_alerts = [s for s in _subjects(stack) if "diabetes v1: drift in" in s]
    assert drift_alerts == ["[mlops] diabetes v1: drift in bmi, s5"]  # one alert, not one a check

    # -- ground truth that disagrees: a quality alert ----------------------------------------
    answered = _diabetes_traffic(stack, rows, shift={})[:12]
    feedback = [
        {"request_id": request_id, "row": row, "actual": round(prediction + 300.0, 1)}
        for request_id, predictions in answered
        for row, prediction in enumerate(predictions)
    ]
    answer = stack.http("POST", "/models/diabetes/feedback", {"feedback": feedback})
    assert answer.status == 202, answer.body
    _ok(stack.cli("drift", "diabetes", "--now", "--timeout", "60"))
    stack.wait_for(
        "the quality alert", lambda: "diabetes v1: quality dropped" in str(_subjects(stack)), 15
    )

    # -- the report and the alerts as e-mails, on disk --------------------------------------
    saved = _ok(stack.cli("report", "diabetes"))
    report = Path(re.search(r"saved (\S+\.html)", saved.replace("\n", "")).group(1))  # type: ignore[union-attr]
    assert report.exists() and b"<html" in report.read_bytes()[:2000].lower()
    emails = sorted((stack.home / "outbox").glob("*.eml"))
    assert any("drift-in-bmi-s5" in path.name for path in emails), emails
    assert any("quality-dropped" in path.name for path in emails), emails

    # -- the registry's lineage and transitions ------------------------------------------------
    history = _ok(stack.cli("history", "iris"))
    for version, status in (("v1", "archived"), ("v2", "production"), ("v3", "rolled_back")):
        assert re.search(rf"{version}\s+\S?\s*{status}", history), history
    assert history.count("training/iris/") >= 3  # each version names its training file
    for what in ("promoted", "canary_started", "rolled_back", "look(s) while baking"):
        assert what in history, history
