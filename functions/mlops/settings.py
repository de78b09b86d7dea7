"""Configuration that reaches a function through its environment, read in one place.

CDK (or the local stack) sets these variables; code never hard-codes a resource name.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TrainSettings(BaseSettings):
    """What the train function needs."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    model_bucket: str = Field(alias="MODEL_BUCKET")
    registry_table: str = Field(alias="REGISTRY_TABLE")
    alerts_topic_arn: str = Field(alias="ALERTS_TOPIC_ARN")
    event_bus_name: str = Field(default="default", alias="EVENT_BUS_NAME")
    # A file larger than this cannot be parsed within the function's memory (the CSV is read
    # into Python objects, ~13x its size measured); refuse it before downloading it. CDK sets
    # memory / 20.
    max_training_file_mb: float = Field(default=150.0, gt=0, alias="MAX_TRAINING_FILE_MB")
    code_version: str = Field(default="dev", alias="CODE_VERSION")
    # A run left 'running' longer than this (a crashed invocation) may be taken over.
    run_lease_seconds: int = Field(default=1000, gt=0, alias="RUN_LEASE_SECONDS")


class PredictSettings(BaseSettings):
    """What the predict function needs; MODEL_VERSION is pinned per published version."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    model_name: str = Field(alias="MODEL_NAME")
    model_version: int = Field(default=0, ge=0, alias="MODEL_VERSION")
    model_bucket: str = Field(alias="MODEL_BUCKET")
    registry_table: str = Field(alias="REGISTRY_TABLE")
    capture_stream: str = Field(default="", alias="CAPTURE_STREAM")
    max_batch_rows: int = Field(default=1000, gt=0, alias="MAX_BATCH_ROWS")
    max_body_bytes: int = Field(default=1_000_000, gt=0, alias="MAX_BODY_BYTES")
    code_version: str = Field(default="dev", alias="CODE_VERSION")
