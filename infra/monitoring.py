"""Monitoring: alarms that page (through the alerts topic) and one dashboard.

A message in the DLQ is a training file that failed three times: someone has to look at it.
Predict errors are alarmed per model, on the function as a whole (all versions and aliases).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.serving import PredictEndpoint, model_id
from infra.training import MAX_RECEIVE_COUNT

PERIOD = Duration.minutes(5)


class Monitoring(Construct):
    """Alarms on DLQ depth, train errors and each model's predict errors, and a dashboard.

    Attributes: `dlq_alarm`, `train_errors_alarm`, `predict_errors_alarms` (by model),
    `dashboard`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        alerts_topic: sns.ITopic,
        dead_letter_queue: sqs.IQueue,
        train_function: lambda_.IFunction,
        endpoints: Sequence[PredictEndpoint],
    ) -> None:
        super().__init__(scope, construct_id)
        action = actions.SnsAction(alerts_topic)
        dlq_depth = dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=PERIOD, statistic="Maximum"
        )
        self.dlq_alarm = self._alarm(
            "TrainingDlqNotEmpty",
            f"{prefix}: a training file failed {MAX_RECEIVE_COUNT} times and is in the DLQ",
            dlq_depth,
            action,
        )
        train_errors = train_function.metric_errors(period=PERIOD, statistic="Sum")
        self.train_errors_alarm = self._alarm(
            "TrainErrors", f"{prefix}: the train function failed", train_errors, action
        )
        self.predict_errors_alarms: dict[str, cloudwatch.Alarm] = {}
        widgets: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(title="Training DLQ depth", left=[dlq_depth]),
            cloudwatch.GraphWidget(title="Train errors", left=[train_errors]),
        ]
        for endpoint in endpoints:
            errors = endpoint.function.metric_errors(period=PERIOD, statistic="Sum")
            self.predict_errors_alarms[endpoint.model] = self._alarm(
                f"PredictErrors{model_id(endpoint.model)}",
                f"{prefix}: the {endpoint.model} predict function returned errors",
                errors,
                action,
            )
            widgets.append(
                cloudwatch.GraphWidget(
                    title=f"{endpoint.model}: invocations, errors, p99 duration",
                    left=[endpoint.function.metric_invocations(period=PERIOD), errors],
                    right=[endpoint.function.metric_duration(period=PERIOD, statistic="p99")],
                )
            )
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{prefix}-mlops")
        for start in range(0, len(widgets), 2):
            self.dashboard.add_widgets(*widgets[start : start + 2])

    def _alarm(
        self,
        construct_id: str,
        description: str,
        metric: cloudwatch.IMetric,
        action: cloudwatch.IAlarmAction,
    ) -> cloudwatch.Alarm:
        """Fires on the first occurrence (> 0 in one period); missing data is not an alarm."""
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(action)
        return alarm
