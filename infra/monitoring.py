"""Monitoring: alarms on the alerts topic, an overview dashboard and one dashboard per model.

Two kinds of alarm, chosen so that one incident pages once:

- What no function can report about itself (a crash, a message in a DLQ, the API answering
  5xx): the alarm is the only page, so it fires on the first occurrence.
- What the domain code already announces on the alerts topic with its reasons and evidence (a
  failed training run, a rollback, a drift state change, each sent once per event or state
  change): an alarm on the same event would page twice. These alarms read the outcome metrics
  the same code writes (mlops.outcome_metrics.OUTCOME_METRICS) and page only for what one message
  cannot say: the same failure repeating within a day, or drift that persists over several
  checks after its first alert. Their actions are ALARM only (the domain code already sends
  "recovered"), and each description names the message that came before it.

Predict errors are alarmed per model, on the function as a whole (all versions and aliases).
Per-model dashboards read the predict EMF line's (model, function_version, service) set with
SEARCH, because function versions are published at run time by the rollout code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.serving import PredictEndpoint, model_id
from infra.training import MAX_RECEIVE_COUNT
from mlops.outcome_metrics import DEFAULT_NAMESPACE
from mlops.spec import ModelSpec

PERIOD = Duration.minutes(5)
DAY = Duration.days(1)
#: The API's share of 5xx answers (API Gateway's 5XXError Average) that pages, when it lasts
#: API_5XX_PERIODS five-minute periods: a burst of a few errors is not a page, a sustained
#: failure (a model that no longer loads, throttled Lambda) is.
API_5XX_RATE = 0.05
API_5XX_PERIODS = 2
#: Failed training runs of one model within a day that page (each one is already an alert).
REPEATED_TRAINING_FAILURES = 2
#: Rollbacks of one model within a day that page (each one is already an alert).
REPEATED_ROLLBACKS = 2
#: Consecutive drift checks still drifted after the first alert before the alarm pages.
DRIFT_PERSISTS_CHECKS = 3
#: CloudWatch evaluates at most one day of periods.
MAX_EVALUATION_SECONDS = 86_400


def outcome_metric(
    name: str,
    model: str,
    service: str,
    statistic: str,
    period: Duration = PERIOD,
    label: str | None = None,
) -> cloudwatch.Metric:
    """One of the outcome metrics the train, drift and rollout code write (dimensions model,
    service; mlops.outcome_metrics.OutcomeMetrics). A label (graphs) makes an alarm use a metric
    query instead of the plain metric: alarms leave it out."""
    return cloudwatch.Metric(
        namespace=DEFAULT_NAMESPACE,
        metric_name=name,
        dimensions_map={"model": model, "service": service},
        statistic=statistic,
        period=period,
        label=label,
    )


def by_function_version(model: str, metric: str, statistic: str, label: str) -> cloudwatch.IMetric:
    """The predict line's `metric` per executing function version (SEARCH: versions are
    published at run time, so the dashboard cannot name them)."""
    return cloudwatch.MathExpression(
        expression=(
            f"SEARCH('{{{DEFAULT_NAMESPACE},function_version,model,service}} "
            f'model="{model}" service="predict" MetricName="{metric}"\', '
            f"'{statistic}', {int(PERIOD.to_seconds())})"
        ),
        using_metrics={},
        label=label,
        period=PERIOD,
    )


def canary_share(model: str) -> cloudwatch.IMetric:
    """Each function version's share of the model's requests, in percent: while a canary
    runs, its line is the canary's measured share and production's the rest."""
    return cloudwatch.MathExpression(
        expression="100 * requests / SUM(requests)",
        using_metrics={"requests": by_function_version(model, "requests", "Sum", "requests")},
        label="% of requests",
        period=PERIOD,
    )


def drift_alarm_window(spec: ModelSpec) -> tuple[Duration, int]:
    """(period, evaluation periods): one period per scheduled check, as many checks as
    DRIFT_PERSISTS_CHECKS within the one day CloudWatch evaluates."""
    seconds = spec.drift.schedule_minutes * 60
    checks = max(1, min(DRIFT_PERSISTS_CHECKS, MAX_EVALUATION_SECONDS // seconds))
    return Duration.seconds(seconds), checks


class Monitoring(Construct):
    """Alarms (DLQs, train errors, API 5xx, and per model predict errors, repeated training
    failures, repeated rollbacks, persisting drift), an overview dashboard and one per model.

    Attributes: `dlq_alarms` (by queue: Training, Rollout, Drift), `train_errors_alarm`,
    `api_errors_alarm`, `predict_errors_alarms`, `training_failures_alarms`,
    `rollback_alarms`, `drift_alarms` (by model), `dashboard`, `model_dashboards` (by model).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        alerts_topic: sns.ITopic,
        dead_letter_queues: Mapping[str, sqs.IQueue],
        train_function: lambda_.IFunction,
        endpoints: Sequence[PredictEndpoint],
        specs: Mapping[str, ModelSpec],
        api_server_errors: cloudwatch.IMetric,
    ) -> None:
        super().__init__(scope, construct_id)
        self._action = actions.SnsAction(alerts_topic)
        self.dlq_alarms: dict[str, cloudwatch.Alarm] = {}
        widgets: list[cloudwatch.IWidget] = []
        for name, queue in dead_letter_queues.items():
            depth = queue.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"
            )
            # "TrainingDlqNotEmpty" was the first: its logical id, and so the alarm, stays put.
            self.dlq_alarms[name] = self._alarm(
                f"{name}DlqNotEmpty",
                f"{prefix}: a {name.lower()} message failed {MAX_RECEIVE_COUNT} times and is "
                "in its dead-letter queue",
                depth,
            )
            widgets.append(cloudwatch.GraphWidget(title=f"{name} DLQ depth", left=[depth]))
        train_errors = train_function.metric_errors(period=PERIOD, statistic="Sum")
        self.train_errors_alarm = self._alarm(
            "TrainErrors", f"{prefix}: the train function failed", train_errors
        )
        self.api_errors_alarm = self._alarm(
            "ApiServerErrors",
            f"{prefix}: more than {API_5XX_RATE:.0%} of API requests answered 5xx for "
            f"{API_5XX_PERIODS} periods of {PERIOD.to_minutes()} minutes",
            api_server_errors,
            threshold=API_5XX_RATE,
            evaluation_periods=API_5XX_PERIODS,
        )
        widgets += [
            cloudwatch.GraphWidget(title="Train errors", left=[train_errors]),
            cloudwatch.GraphWidget(title="API 5xx share", left=[api_server_errors]),
        ]
        self.predict_errors_alarms: dict[str, cloudwatch.Alarm] = {}
        self.training_failures_alarms: dict[str, cloudwatch.Alarm] = {}
        self.rollback_alarms: dict[str, cloudwatch.Alarm] = {}
        self.drift_alarms: dict[str, cloudwatch.Alarm] = {}
        self.model_dashboards: dict[str, cloudwatch.Dashboard] = {}
        for endpoint in endpoints:
            errors = endpoint.function.metric_errors(period=PERIOD, statistic="Sum")
            self.predict_errors_alarms[endpoint.model] = self._alarm(
                f"PredictErrors{model_id(endpoint.model)}",
                f"{prefix}: the {endpoint.model} predict function returned errors",
                errors,
            )
            self._model_alarms(prefix, endpoint.model, specs[endpoint.model])
            widgets.append(
                cloudwatch.GraphWidget(
                    title=f"{endpoint.model}: invocations, errors, p99 duration",
                    left=[endpoint.function.metric_invocations(period=PERIOD), errors],
                    right=[endpoint.function.metric_duration(period=PERIOD, statistic="p99")],
                )
            )
            self.model_dashboards[endpoint.model] = self._model_dashboard(prefix, endpoint)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{prefix}-mlops")
        for start in range(0, len(widgets), 2):
            self.dashboard.add_widgets(*widgets[start : start + 2])

    def _model_alarms(self, prefix: str, model: str, spec: ModelSpec) -> None:
        """The escalations of what the domain code announces itself (module docstring)."""
        ident = model_id(model)
        self.training_failures_alarms[model] = self._alarm(
            f"TrainingFailures{ident}",
            f"{prefix}: {REPEATED_TRAINING_FAILURES} or more training runs of {model} failed "
            "within a day (each failure was sent with its reasons as 'training failed for "
            f"{model}'): the data source keeps producing files that cannot train",
            outcome_metric("training_failed", model, "train", "Sum", DAY),
            threshold=REPEATED_TRAINING_FAILURES,
        )
        self.rollback_alarms[model] = self._alarm(
            f"Rollbacks{ident}",
            f"{prefix}: {REPEATED_ROLLBACKS} or more rollbacks of {model} within a day (each "
            "was sent with its evidence as '... rolled back'): candidates keep failing on live "
            "traffic",
            outcome_metric("rollbacks", model, "rollout", "Sum", DAY),
            threshold=REPEATED_ROLLBACKS,
        )
        period, checks = drift_alarm_window(spec)
        self.drift_alarms[model] = self._alarm(
            f"DriftPersists{ident}",
            f"{prefix}: {model}'s traffic is still drifted after {checks} consecutive checks "
            "(the first drifted check was sent with its report; no alert repeats it)",
            outcome_metric("drift_detected", model, "drift", "Minimum", period),
            threshold=1,
            evaluation_periods=checks,
            # A check with too little data writes no point: it neither raises nor clears.
            missing=cloudwatch.TreatMissingData.IGNORE,
        )

    def _model_dashboard(self, prefix: str, endpoint: PredictEndpoint) -> cloudwatch.Dashboard:
        """Requests, errors, latency by function version, canary share, shadow divergence,
        drift verdicts, training runs, rollout steps and the model's alarms."""
        model = endpoint.model
        dashboard = cloudwatch.Dashboard(
            self, f"Dashboard{model_id(model)}", dashboard_name=f"{prefix}-model-{model}"
        )

        def outcomes(
            names: Sequence[str], service: str, statistic: str
        ) -> list[cloudwatch.IMetric]:
            return [outcome_metric(name, model, service, statistic, label=name) for name in names]

        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Requests by function version",
                left=[by_function_version(model, "requests", "Sum", "requests")],
            ),
            cloudwatch.GraphWidget(
                title="Errors by function version (5xx, 4xx answers) and function errors",
                left=[
                    by_function_version(model, "unavailable_requests", "Sum", "5xx"),
                    by_function_version(model, "invalid_requests", "Sum", "4xx"),
                ],
                right=[endpoint.function.metric_errors(period=PERIOD, statistic="Sum")],
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Model latency p50 / p99 by function version (ms)",
                left=[
                    by_function_version(model, "model_latency", "p50", "p50"),
                    by_function_version(model, "model_latency", "p99", "p99"),
                ],
            ),
            cloudwatch.GraphWidget(
                title="Canary share: % of requests by function version",
                left=[canary_share(model)],
                left_y_axis=cloudwatch.YAxisProps(min=0, max=100),
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Shadow replay: divergence (flip rate / relative error), diverged",
                left=outcomes(["shadow_divergence"], "rollout", "Maximum"),
                right=outcomes(["shadow_diverged", "shadow_replays"], "rollout", "Sum"),
            ),
            cloudwatch.GraphWidget(
                title="Drift verdicts (1 = drift) and quality",
                left=outcomes(["drift_detected", "quality_degraded"], "drift", "Maximum"),
                right=outcomes(["drift_checks"], "drift", "Sum"),
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Training runs",
                left=outcomes(
                    ["training_succeeded", "training_rejected", "training_failed"], "train", "Sum"
                ),
                stacked=True,
            ),
            cloudwatch.GraphWidget(
                title="Rollout: canaries, promotions, rollbacks",
                left=outcomes(["canary_starts", "promotions", "rollbacks"], "rollout", "Sum"),
            ),
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title=f"{model} alarms",
                alarms=[
                    self.predict_errors_alarms[model],
                    self.training_failures_alarms[model],
                    self.rollback_alarms[model],
                    self.drift_alarms[model],
                ],
                width=24,
            )
        )
        return dashboard

    def _alarm(
        self,
        construct_id: str,
        description: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float = 0,
        evaluation_periods: int = 1,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        """An alarm whose ALARM state publishes to the alerts topic (no OK action).

        Threshold 0 (the default) fires on the first occurrence (> 0); any other fires at or
        above it. Missing data is not an alarm unless `missing` says otherwise.
        """
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=(
                cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
                if threshold == 0
                else cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
            ),
            evaluation_periods=evaluation_periods,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(self._action)
        return alarm
