"""Alarms on the alerts topic and one dashboard per model, as synthesized.

Each alarm is asserted on what makes it page: metric, namespace, dimensions, statistic,
period, threshold and comparison, and its action (the alerts topic, on ALARM only). Each
model's dashboard is read back from its body: the widgets the issue lists, the predict line's
function-version SEARCH, the canary-share expression, and every outcome metric it graphs is one
the train / drift / rollout code declares (mlops.outcome_metrics.OUTCOME_METRICS).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.bundling import MODELS_DIR
from infra.monitoring import (
    API_5XX_PERIODS,
    API_5XX_RATE,
    DRIFT_PERSISTS_CHECKS,
    REPEATED_ROLLBACKS,
    REPEATED_TRAINING_FAILURES,
)
from infra.serving import model_id
from mlops.outcome_metrics import DEFAULT_NAMESPACE, OUTCOME_METRICS
from mlops.spec import load_all_specs
from tests.infra.conftest import Synthesized

SPECS = load_all_specs(MODELS_DIR)


def topic_ref(synthesized: Synthesized) -> dict[str, str]:
    (topic_id,) = synthesized.resources("AWS::SNS::Topic")
    return {"Ref": topic_id}


def alarms(synthesized: Synthesized) -> list[dict[str, Any]]:
    return [a["Properties"] for a in synthesized.resources("AWS::CloudWatch::Alarm").values()]


def alarm_on(synthesized: Synthesized, metric: str, **dimensions: Any) -> dict[str, Any]:
    """The one alarm on `metric` with exactly these dimensions."""
    found = [
        alarm
        for alarm in alarms(synthesized)
        if alarm.get("MetricName") == metric
        and {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])} == dimensions
    ]
    assert len(found) == 1, f"{len(found)} alarms on {metric} {dimensions}"
    return found[0]


def test_every_alarm_pages_the_alerts_topic_on_alarm_only(synthesized: Synthesized) -> None:
    every = alarms(synthesized)
    # 3 DLQs, train errors, API 5xx, and per model: predict errors, training failures,
    # rollbacks, persisting drift.
    assert len(every) == 5 + 4 * len(SPECS)
    for alarm in every:
        assert alarm["AlarmActions"] == [topic_ref(synthesized)], alarm["AlarmDescription"]
        assert "OKActions" not in alarm and "InsufficientDataActions" not in alarm


@pytest.mark.parametrize("queue", ["Training", "Rollout", "Drift"])
def test_each_dead_letter_queue_alarms_on_its_first_message(
    synthesized: Synthesized, queue: str
) -> None:
    construct = synthesized.stack.node.find_child(queue)
    name = synthesized.resolve(construct.dead_letter_queue.queue_name)  # type: ignore[attr-defined]
    alarm = alarm_on(synthesized, "ApproximateNumberOfMessagesVisible", QueueName=name)
    assert alarm["Namespace"] == "AWS/SQS" and alarm["Statistic"] == "Maximum"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_a_train_function_error_alarms_at_once(synthesized: Synthesized) -> None:
    training = synthesized.stack.node.find_child("Training")
    function = {"Ref": synthesized.logical_id(training.function)}  # type: ignore[attr-defined]
    alarm = alarm_on(synthesized, "Errors", FunctionName=function)
    assert alarm["Namespace"] == "AWS/Lambda" and alarm["Statistic"] == "Sum"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_api_5xx_share_alarms_when_it_lasts(synthesized: Synthesized) -> None:
    api = synthesized.stack.node.find_child("Api")
    alarm = alarm_on(
        synthesized,
        "5XXError",
        ApiName=synthesized.resolve(api.api.rest_api_name),  # type: ignore[attr-defined]
        Stage=synthesized.resolve(api.api.deployment_stage.stage_name),  # type: ignore[attr-defined]
    )
    assert alarm["Namespace"] == "AWS/ApiGateway" and alarm["Statistic"] == "Average"
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert (alarm["Threshold"], alarm["EvaluationPeriods"]) == (API_5XX_RATE, API_5XX_PERIODS)


@pytest.mark.parametrize("model", sorted(SPECS))
def test_repeated_training_failures_of_a_model_alarm(synthesized: Synthesized, model: str) -> None:
    alarm = alarm_on(synthesized, "training_failed", model=model, service="train")
    assert alarm["Namespace"] == DEFAULT_NAMESPACE and alarm["Statistic"] == "Sum"
    assert alarm["Period"] == 86_400 and alarm["EvaluationPeriods"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["Threshold"] == REPEATED_TRAINING_FAILURES >= 2  # one failure: its own alert
    assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("model", sorted(SPECS))
def test_repeated_rollbacks_of_a_model_alarm(synthesized: Synthesized, model: str) -> None:
    alarm = alarm_on(synthesized, "rollbacks", model=model, service="rollout")
    assert alarm["Namespace"] == DEFAULT_NAMESPACE and alarm["Statistic"] == "Sum"
    assert alarm["Period"] == 86_400
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["Threshold"] == REPEATED_ROLLBACKS >= 2


@pytest.mark.parametrize("model", sorted(SPECS))
def test_drift_that_persists_over_checks_alarms(synthesized: Synthesized, model: str) -> None:
    alarm = alarm_on(synthesized, "drift_detected", model=model, service="drift")
    schedule = SPECS[model].drift.schedule_minutes * 60
    assert alarm["Namespace"] == DEFAULT_NAMESPACE
    # Every check in every period said drift (1), for DRIFT_PERSISTS_CHECKS checks in a row.
    assert alarm["Statistic"] == "Minimum" and alarm["Period"] == schedule
    assert alarm["EvaluationPeriods"] == min(DRIFT_PERSISTS_CHECKS, 86_400 // schedule)
    assert alarm["Period"] * alarm["EvaluationPeriods"] <= 86_400
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "GreaterThanOrEqualToThreshold",
        1,
    )
    # A check with too little data writes no point: it must not clear (or raise) the alarm.
    assert alarm["TreatMissingData"] == "ignore"


# -- dashboards ---------------------------------------------------------------------------
def dashboard_body(synthesized: Synthesized, logical_id: str) -> dict[str, Any]:
    """The dashboard's JSON with each CloudFormation token replaced by a placeholder."""
    body = synthesized.json["Resources"][logical_id]["Properties"]["DashboardBody"]
    if isinstance(body, dict):
        parts = body["Fn::Join"][1]
        text = "".join(p if isinstance(p, str) else "TOKEN" for p in parts)
    else:
        text = body
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def model_dashboard(synthesized: Synthesized, model: str) -> dict[str, Any]:
    dashboards = synthesized.resources("AWS::CloudWatch::Dashboard")
    found = [
        logical_id
        for logical_id, resource in dashboards.items()
        if logical_id.startswith(f"MonitoringDashboard{model_id(model)}")
    ]
    assert len(found) == 1
    name = dashboards[found[0]]["Properties"]["DashboardName"]
    # "-model-": a model named "mlops" must not collide with the overview dashboard.
    assert name == f"mlops-dev-model-{model}"
    return dashboard_body(synthesized, found[0])


def graphs(body: dict[str, Any]) -> dict[str, list[Any]]:
    """Graph title -> its metric rows."""
    return {
        w["properties"]["title"]: w["properties"].get("metrics", [])
        for w in body["widgets"]
        if w["type"] == "metric"
    }


def expressions(rows: list[Any]) -> list[str]:
    return [row[0]["expression"] for row in rows if isinstance(row[0], dict)]


def search(model: str, metric: str, statistic: str) -> str:
    return (
        f'SEARCH(\'{{{DEFAULT_NAMESPACE},function_version,model,service}} model="{model}" '
        f'service="predict" MetricName="{metric}"\', \'{statistic}\', 300)'
    )


@pytest.mark.parametrize("model", sorted(SPECS))
def test_each_model_has_its_dashboard_with_the_issue_s_widgets(
    synthesized: Synthesized, model: str
) -> None:
    body = model_dashboard(synthesized, model)
    titles = " | ".join(graphs(body)).lower()
    for needed in (
        "requests",
        "errors",
        "p50 / p99",
        "canary share",
        "shadow",
        "drift verdicts",
        "training runs",
        "rollbacks",
    ):
        assert needed in titles, needed
    alarm_widgets = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert len(alarm_widgets) == 1 and len(alarm_widgets[0]["properties"]["alarms"]) == 4


@pytest.mark.parametrize("model", sorted(SPECS))
def test_requests_errors_latency_are_read_by_function_version(
    synthesized: Synthesized, model: str
) -> None:
    found = [
        e
        for rows in graphs(model_dashboard(synthesized, model)).values()
        for e in expressions(rows)
    ]
    for metric, statistic in (
        ("requests", "Sum"),
        ("unavailable_requests", "Sum"),
        ("invalid_requests", "Sum"),
        ("model_latency", "p50"),
        ("model_latency", "p99"),
    ):
        assert search(model, metric, statistic) in found, (metric, statistic)


@pytest.mark.parametrize("model", sorted(SPECS))
def test_canary_share_is_each_version_s_requests_over_all(
    synthesized: Synthesized, model: str
) -> None:
    (rows,) = [r for t, r in graphs(model_dashboard(synthesized, model)).items() if "Canary" in t]
    queries = [row[0] for row in rows if isinstance(row[0], dict)]
    by_id = {query["id"]: query for query in queries if "id" in query}
    share = [query for query in queries if "SUM(" in query["expression"]]
    assert len(share) == 1 and share[0].get("visible", True)
    match = re.fullmatch(r"100 \* (\w+) / SUM\((\w+)\)", share[0]["expression"])
    assert match and match.group(1) == match.group(2)
    assert by_id[match.group(1)]["expression"] == search(model, "requests", "Sum")


@pytest.mark.parametrize("model", sorted(SPECS))
def test_dashboard_outcome_metrics_are_the_ones_the_code_writes(
    synthesized: Synthesized, model: str
) -> None:
    graphed: dict[str, set[str]] = {}
    for rows in graphs(model_dashboard(synthesized, model)).values():
        for row in rows:
            if row[0] != DEFAULT_NAMESPACE:
                continue
            dimensions = dict(zip(row[2::2], row[3::2], strict=False))
            assert dimensions.get("model") == model
            graphed.setdefault(str(dimensions["service"]), set()).add(row[1])
    assert set(graphed) == {"train", "drift", "rollout"}
    for service, names in graphed.items():
        assert names <= set(OUTCOME_METRICS[service]), (service, names)
    assert {"shadow_divergence", "rollbacks"} <= graphed["rollout"]
    assert {"drift_detected"} <= graphed["drift"]
    assert {"training_succeeded", "training_rejected", "training_failed"} <= graphed["train"]
