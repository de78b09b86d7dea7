"""Physical names of the stack's resources, in one place.

The CDK stack and the local stack both take their names from here, so `mlops local` creates
exactly what `cdk deploy` does (same names, same wiring) and the CLI can find either. On AWS,
`account` and `region` are CloudFormation tokens; locally they are moto's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

TRAINING_PREFIX = "training/"
EVENT_SOURCE = "serverless-mlops"
LIVE_ALIAS = "live"


@dataclass(frozen=True)
class ResourceNames:
    """Names derived from a prefix (one per environment), the account and the region."""

    prefix: str
    account: str
    region: str

    @property
    def data_bucket(self) -> str:
        return f"{self.prefix}-data-{self.account}-{self.region}"

    @property
    def model_bucket(self) -> str:
        return f"{self.prefix}-models-{self.account}-{self.region}"

    @property
    def capture_bucket(self) -> str:
        return f"{self.prefix}-capture-{self.account}-{self.region}"

    @property
    def registry_table(self) -> str:
        return f"{self.prefix}-registry"

    @property
    def training_queue(self) -> str:
        return f"{self.prefix}-training"

    @property
    def training_dlq(self) -> str:
        return f"{self.prefix}-training-dlq"

    @property
    def alerts_topic(self) -> str:
        return f"{self.prefix}-alerts"

    @property
    def train_function(self) -> str:
        return f"{self.prefix}-train"

    @property
    def rollout_function(self) -> str:
        return f"{self.prefix}-rollout"

    @property
    def rollout_queue(self) -> str:
        return f"{self.prefix}-rollout"

    @property
    def rollout_dlq(self) -> str:
        return f"{self.prefix}-rollout-dlq"

    @property
    def serving_setup_function(self) -> str:
        return f"{self.prefix}-serving-setup"

    def predict_function(self, model: str) -> str:
        return f"{self.prefix}-predict-{model}"

    @property
    def drift_function(self) -> str:
        return f"{self.prefix}-drift"

    @property
    def drift_queue(self) -> str:
        """Each model's drift schedule (EventBridge) lands here; the drift function reads it."""
        return f"{self.prefix}-drift-schedule"

    @property
    def drift_dlq(self) -> str:
        return f"{self.prefix}-drift-schedule-dlq"

    @property
    def capture_stream(self) -> str:
        return f"{self.prefix}-capture"

    @property
    def api_name(self) -> str:
        return f"{self.prefix}-api"
