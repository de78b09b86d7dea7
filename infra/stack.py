"""The one stack: it wires the constructs together and publishes what the CLI reads (outputs)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.alerts import Alerts
from infra.api import PredictionApi
from infra.bundling import function_code
from infra.capture import CaptureStream
from infra.drift import DriftMonitor
from infra.http_api import HttpPredictionApi
from infra.monitoring import PERIOD, Monitoring
from infra.rollout import Rollout
from infra.serving import PredictEndpoint, ServingSetup, model_id, serving_layers
from infra.settings import StackSettings
from infra.storage import Storage
from infra.training import Training
from mlops.resources import ResourceNames
from mlops.spec import ModelSpec


class ServerlessMlopsStack(Stack):
    """Data + registry, alerts, training, one serving endpoint per model, API, monitoring.

    `specs` are the declared models (one predict function each, DESIGN §7); `inference_layer`
    and `powertools_layer` are the built layer folders' `Code`, `train_code` the train
    image and `rollout_code` / `drift_code` the same image running the rollout and drift
    handlers, all passed in so
    tests can substitute small stand-ins.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        specs: dict[str, ModelSpec],
        inference_layer: lambda_.Code,
        powertools_layer: lambda_.Code,
        train_code: lambda_.DockerImageCode,
        rollout_code: lambda_.DockerImageCode,
        drift_code: lambda_.DockerImageCode,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if not specs:
            raise ValueError("no model specs found: add one TOML file per model to models/")
        # Tokens, not values: synth makes no AWS call, and the local stack derives the same
        # names from its own account and region.
        names = ResourceNames(prefix=settings.prefix, account=Aws.ACCOUNT_ID, region=Aws.REGION)

        storage = Storage(
            self,
            "Storage",
            names=names,
            capture_retention_days=settings.profile.capture_retention_days,
        )
        alerts = Alerts(self, "Alerts", names=names, alert_email=settings.alert_email)
        training = Training(
            self,
            "Training",
            names=names,
            data_bucket=storage.data_bucket,
            model_bucket=storage.model_bucket,
            registry_table=storage.registry_table,
            alerts_topic=alerts.topic,
            alerts_key=alerts.key,
            code=train_code,
            code_version=settings.code_version,
        )
        layers = serving_layers(
            self,
            inference_code=inference_layer,
            powertools_code=powertools_layer,
        )
        capture = CaptureStream(self, "Capture", names=names, capture_bucket=storage.capture_bucket)
        setup = ServingSetup(
            self,
            "ServingSetup",
            names=names,
            code=function_code("serving_setup"),
            layers=layers,
            registry_table=storage.registry_table,
        )
        predict_code = function_code("predict")
        endpoints = [
            PredictEndpoint(
                self,
                f"Serving{model_id(model)}",
                model=model,
                names=names,
                code=predict_code,
                layers=layers,
                model_bucket=storage.model_bucket,
                registry_table=storage.registry_table,
                capture=capture,
                setup=setup,
                code_version=settings.code_version,
                reserved_concurrency=specs[model].serving.reserved_concurrency,
                snap_start=settings.snap_start,
            )
            for model in sorted(specs)
        ]
        rollout = Rollout(
            self,
            "Rollout",
            names=names,
            code=rollout_code,
            predict_functions=[endpoint.function for endpoint in endpoints],
            models=[endpoint.model for endpoint in endpoints],
            model_bucket=storage.model_bucket,
            capture_bucket=storage.capture_bucket,
            registry_table=storage.registry_table,
            alerts_topic=alerts.topic,
            alerts_key=alerts.key,
        )
        # One front (`-c api=rest|http`), the same routes (mlops.serving.route_table) on each
        # model's alias.
        api_outputs: dict[str, str]
        if settings.api_front == "http":
            http_api = HttpPredictionApi(
                self,
                "HttpApi",
                names=names,
                endpoints=endpoints,
                auth=settings.api_auth,
                jwt_issuer=settings.jwt_issuer,
                jwt_audience=settings.jwt_audience,
            )
            api_outputs = {"ApiUrl": http_api.url}
            api_server_errors = http_api.api.metric_server_error(period=PERIOD, statistic="Average")
        else:
            api = PredictionApi(
                self, "Api", names=names, endpoints=endpoints, auth=settings.api_auth
            )
            api_outputs = {"ApiUrl": api.api.url, "ApiKeyId": api.api_key.key_id}
            api_server_errors = api.api.deployment_stage.metric_server_error(
                period=PERIOD, statistic="Average"
            )
        drift = DriftMonitor(
            self,
            "Drift",
            names=names,
            specs=specs,
            data_bucket=storage.data_bucket,
            capture_bucket=storage.capture_bucket,
            model_bucket=storage.model_bucket,
            registry_table=storage.registry_table,
            alerts_topic=alerts.topic,
            alerts_key=alerts.key,
            code=drift_code,
        )
        Monitoring(
            self,
            "Monitoring",
            prefix=settings.prefix,
            alerts_topic=alerts.topic,
            dead_letter_queues={
                "Training": training.dead_letter_queue,
                "Rollout": rollout.dead_letter_queue,
                "Drift": drift.dead_letter_queue,
            },
            train_function=training.function,
            endpoints=endpoints,
            specs=specs,
            api_server_errors=api_server_errors,
        )

        outputs = {
            "DataBucketName": storage.data_bucket.bucket_name,
            "ModelBucketName": storage.model_bucket.bucket_name,
            "CaptureBucketName": storage.capture_bucket.bucket_name,
            "RegistryTableName": storage.registry_table.table_name,
            "TrainingQueueUrl": training.queue.queue_url,
            "AlertsTopicArn": alerts.topic.topic_arn,
            "TrainFunctionName": training.function.function_name,
            "RolloutFunctionName": rollout.function.function_name,
            "DriftFunctionName": drift.function.function_name,
            "DriftScheduleQueueUrl": drift.queue.queue_url,
            **api_outputs,
        }
        for endpoint in endpoints:
            outputs[f"PredictFunction{model_id(endpoint.model)}"] = endpoint.function.function_name
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
