"""What a stage changes on a composed stack, besides its names (which come from the prefix).

Applied once by infra/app.py after composition, so no construct needs to know the stage: every
log group gets the stage's retention (an aspect reaches the ones aws-cdk-lib creates too), and
every resource a `stage` tag for cost allocation.
"""

from __future__ import annotations

import jsii
from aws_cdk import Aspects, IAspect, Stack, Tags
from aws_cdk import aws_logs as logs
from constructs import IConstruct

from infra.settings import StackSettings

STAGE_TAG = "mlops:stage"


@jsii.implements(IAspect)
class StageLogRetention:
    """Sets `RetentionInDays` on every `AWS::Logs::LogGroup` it visits."""

    def __init__(self, retention_days: int) -> None:
        self.retention_days = retention_days

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, logs.CfnLogGroup):
            node.retention_in_days = self.retention_days


def apply_stage(stack: Stack, settings: StackSettings) -> None:
    """Tag the stack's resources with the stage and give its log groups the stage's retention."""
    Tags.of(stack).add(STAGE_TAG, settings.stage)
    Aspects.of(stack).add(StageLogRetention(settings.profile.log_retention_days))
