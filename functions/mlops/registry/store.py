"""The registry table (DynamoDB): runs, versions and pointers, with conditional writes.

Layout: one partition per model (`pk = MODEL#<name>`), sorted as
`RUN#<run id>` (one per uploaded object), `VERSION#<00000001>` (one per version) and
`POINTERS` (production/canary). Every write is conditional, because S3 -> SQS delivers at
least once and uploads can race:

- a run is claimed with `attribute_not_exists` (or a lease that has expired): the same object
  delivered twice runs once;
- a version number is allocated by writing `VERSION#n` with `attribute_not_exists` in the same
  transaction that records it on the run: two concurrent runs never share a number, and a run
  never allocates two;
- every later write on a run is conditioned on the claim token, so an invocation whose lease
  was taken over cannot overwrite its successor's work.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from mlops.registry.attributes import from_attribute, to_attribute
from mlops.registry.exceptions import RunInProgressError, RunLostError
from mlops.registry.keys import model_pk, version_sk
from mlops.registry.records import (
    ModelPointers,
    ModelVersion,
    Problem,
    SourceObject,
    StatusChange,
    TrainingRun,
    Transition,
)
from mlops.registry.served import read_version_document

MAX_ALLOCATION_ATTEMPTS = 50


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def run_id_for(source: SourceObject) -> str:
    """A run's id is its object's identity: redelivery of the same object maps to the same run.

    The object version when it is known (the train run resolves it with HEAD before claiming,
    so a notification without `versionId` and a replay with it name one run); the ETag only
    in an unversioned bucket, where it is all there is."""
    if source.version_id and source.version_id != "null":
        identity = f"{source.bucket}/{source.key}#{source.version_id}"
    else:
        identity = f"{source.bucket}/{source.key}##{source.etag.strip(chr(34))}"
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


_model_pk = model_pk
_version_sk = version_sk


def json_safe(value: Any) -> Any:
    """NaN/inf become None: neither JSON nor DynamoDB can hold them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def _to_item(data: dict[str, Any]) -> dict[str, Any]:
    plain = json.loads(json.dumps(json_safe(data), default=str))
    return {key: to_attribute(value) for key, value in plain.items() if value is not None}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: from_attribute(value) for key, value in item.items()}


def _is_conditional_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class RegistryStore:
    """Reads and writes the registry table through a botocore DynamoDB client."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    # -- runs ---------------------------------------------------------------------------------
    def claim_run(self, model: str, source: SourceObject, lease_seconds: int) -> TrainingRun | None:
        """Start (or take over a stale) run for this object.

        Returns the claimed run, or None if the object was already processed (a duplicate
        delivery). Raises RunInProgressError if another invocation holds a live lease.
        """
        run_id = run_id_for(source)
        now = int(time.time())
        run = TrainingRun(
            model=model,
            run_id=run_id,
            status="running",
            source=source,
            started_at=now_iso(),
            claim_token=uuid.uuid4().hex,
            lease_until=now + lease_seconds,
        )
        existing = self.get_run(model, run_id)
        if existing is not None:
            run.attempts = existing.attempts + 1  # earlier attempts ended without a result
            run.last_error = existing.last_error
            if existing.version is not None:
                run.version = existing.version  # a crashed run's allocated version is reused
        item = {
            "pk": _model_pk(model),
            "sk": f"RUN#{run_id}",
            "kind": "run",
            **run.model_dump(mode="json"),
        }
        try:
            self._db.put_item(
                TableName=self._table,
                Item=_to_item(item),
                ConditionExpression="attribute_not_exists(pk) OR "
                "(#status = :running AND lease_until < :now)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":running": {"S": "running"}, ":now": {"N": str(now)}},
            )
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise
            current = self.get_run(model, run_id)
            if current is not None and current.status != "running":
                return None
            raise RunInProgressError(
                f"run {run_id} for s3://{source.bucket}/{source.key} is "
                "being processed by another invocation"
            ) from error
        return run

    def get_run(self, model: str, run_id: str) -> TrainingRun | None:
        response = self._db.get_item(
            TableName=self._table,
            ConsistentRead=True,
            Key={"pk": {"S": _model_pk(model)}, "sk": {"S": f"RUN#{run_id}"}},
        )
        item = response.get("Item")
        return TrainingRun.model_validate(_from_item(item)) if item else None

    def list_runs(self, model: str) -> list[TrainingRun]:
        items = self._query(model, "RUN#")
        runs = [TrainingRun.model_validate(item) for item in items]
        return sorted(runs, key=lambda run: run.started_at, reverse=True)

    def fail_run(self, run: TrainingRun, problems: list[Problem]) -> TrainingRun:
        """Record a failed run with its reasons (conditional on still owning the claim)."""
        return self._finish_run(run, "failed", problems)

    def mark_notified(self, run: TrainingRun) -> None:
        """Record that the run's outcome was announced (idempotent)."""
        self._db.update_item(
            TableName=self._table,
            Key=self._run_key(run),
            UpdateExpression="SET notified = :true",
            ExpressionAttributeValues={":true": {"BOOL": True}},
        )

    def release_run(self, run: TrainingRun, error: str) -> None:
        """Give up the lease after an unexpected error so a redelivery can retry at once."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=self._run_key(run),
                UpdateExpression="SET lease_until = :zero, last_error = :error",
                ConditionExpression="claim_token = :token",
                ExpressionAttributeValues={
                    ":zero": {"N": "0"},
                    ":error": {"S": error[:1000]},
                    ":token": {"S": run.claim_token},
                },
            )
        except ClientError as client_error:
            if not _is_conditional_failure(client_error):
                raise

    def _finish_run(self, run: TrainingRun, status: str, problems: list[Problem]) -> TrainingRun:
        finished = now_iso()
        try:
            self._db.update_item(
                TableName=self._table,
                Key=self._run_key(run),
                UpdateExpression="SET #status = :status, finished_at = :finished, "
                "problems = :problems",
                ConditionExpression="claim_token = :token",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":status": {"S": status},
                    ":finished": {"S": finished},
                    ":problems": to_attribute([p.model_dump() for p in problems]),
                    ":token": {"S": run.claim_token},
                },
            )
        except ClientError as error:
            if _is_conditional_failure(error):
                raise RunLostError(f"run {run.run_id} was taken over") from error
            raise
        return run.model_copy(
            update={"status": status, "finished_at": finished, "problems": problems}
        )

    def _run_key(self, run: TrainingRun) -> dict[str, Any]:
        return {"pk": {"S": _model_pk(run.model)}, "sk": {"S": f"RUN#{run.run_id}"}}

    # -- versions -----------------------------------------------------------------------------
    def allocate_version(self, run: TrainingRun, pending: dict[str, Any]) -> int:
        """Reserve the next version number for this run (or return the one it already has).

        Writes `VERSION#n` (status pending) and records n on the run in one transaction, so a
        number is never shared and a run never allocates two.
        """
        if run.version is not None:
            return run.version
        candidate = self.latest_version_number(run.model) + 1
        for _ in range(MAX_ALLOCATION_ATTEMPTS):
            created = now_iso()
            item = {
                "pk": _model_pk(run.model),
                "sk": _version_sk(candidate),
                "kind": "version",
                "model": run.model,
                "version": candidate,
                "status": "pending",
                "run_id": run.run_id,
                "created_at": created,
                "updated_at": created,
                **pending,
            }
            try:
                self._db.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": _to_item(item),
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        {
                            "Update": {
                                "TableName": self._table,
                                "Key": self._run_key(run),
                                "UpdateExpression": "SET version = :version",
                                "ConditionExpression": "claim_token = :token AND "
                                "attribute_not_exists(version)",
                                "ExpressionAttributeValues": {
                                    ":version": {"N": str(candidate)},
                                    ":token": {"S": run.claim_token},
                                },
                            }
                        },
                    ]
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = error.response.get("CancellationReasons") or []
                codes = [reason.get("Code") for reason in reasons]
                if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                    raise RunLostError(f"run {run.run_id} was taken over") from error
                candidate += 1
                continue
            run.version = candidate
            return candidate
        raise RuntimeError(
            f"could not allocate a version for {run.model} after {MAX_ALLOCATION_ATTEMPTS} attempts"
        )

    def complete_version(self, run: TrainingRun, version: ModelVersion) -> None:
        """Write the final version record and close the run, in one transaction."""
        item = {
            "pk": _model_pk(run.model),
            "sk": _version_sk(version.version),
            "kind": "version",
            **version.model_dump(mode="json"),
        }
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _to_item(item),
                            "ConditionExpression": "#status = :pending AND run_id = :run",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {
                                ":pending": {"S": "pending"},
                                ":run": {"S": run.run_id},
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": self._run_key(run),
                            "UpdateExpression": "SET #status = :status, finished_at = :now",
                            "ConditionExpression": "claim_token = :token",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {
                                ":status": {"S": version.status},
                                ":now": {"S": now_iso()},
                                ":token": {"S": run.claim_token},
                            },
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise RunLostError(
                    f"run {run.run_id} lost its claim on v{version.version}"
                ) from error
            raise

    def latest_version_number(self, model: str) -> int:
        response = self._db.query(
            TableName=self._table,
            ConsistentRead=True,
            ScanIndexForward=False,
            Limit=1,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": _model_pk(model)},
                ":prefix": {"S": "VERSION#"},
            },
        )
        items = response.get("Items", [])
        return int(_from_item(items[0])["version"]) if items else 0

    def get_version(self, model: str, version: int) -> ModelVersion:
        return ModelVersion.model_validate(
            read_version_document(self._db, self._table, model, version)
        )

    def list_versions(self, model: str) -> list[ModelVersion]:
        return [ModelVersion.model_validate(item) for item in self._query(model, "VERSION#")]

    def list_models(self) -> list[str]:
        """Every model with anything recorded (a scan: fine for a registry of tens of models)."""
        names: set[str] = set()
        paginator = self._db.get_paginator("scan")
        for page in paginator.paginate(TableName=self._table, ProjectionExpression="pk"):
            names.update(item["pk"]["S"].removeprefix("MODEL#") for item in page["Items"])
        return sorted(names)

    # -- pointers -----------------------------------------------------------------------------
    def get_pointers(self, model: str) -> ModelPointers:
        response = self._db.get_item(
            TableName=self._table,
            ConsistentRead=True,
            Key={"pk": {"S": _model_pk(model)}, "sk": {"S": "POINTERS"}},
        )
        item = response.get("Item")
        if not item:
            return ModelPointers(model=model)
        data = _from_item(item)
        fields = {key: value for key, value in data.items() if key in ModelPointers.model_fields}
        return ModelPointers.model_validate({**fields, "model": model})

    def set_production(self, model: str, version: int, expected: int | None) -> bool:
        """Point production at `version` if it still points at `expected` (optimistic lock).

        Returns False if someone else moved the pointer first. The version's status follows.
        """
        condition = (
            "attribute_not_exists(production)" if expected is None else "production = :expected"
        )
        values: dict[str, Any] = {":version": {"N": str(version)}, ":now": {"S": now_iso()}}
        if expected is not None:
            values[":expected"] = {"N": str(expected)}
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"pk": {"S": _model_pk(model)}, "sk": {"S": "POINTERS"}},
                    # The published function version is re-resolved by the rollout reconciler;
                    # every pointer write bumps the revision its conditional writes check.
                    "UpdateExpression": "SET production = :version, updated_at = :now "
                    "REMOVE production_function_version ADD revision :one",
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": {**values, ":one": {"N": "1"}},
                }
            },
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"pk": {"S": _model_pk(model)}, "sk": {"S": _version_sk(version)}},
                    "UpdateExpression": "SET #status = :production, updated_at = :now",
                    "ConditionExpression": "#status IN (:registered, :canary, :production, "
                    ":archived)",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":production": {"S": "production"},
                        ":registered": {"S": "registered"},
                        ":canary": {"S": "canary"},
                        ":archived": {"S": "archived"},
                        ":now": {"S": now_iso()},
                    },
                }
            },
        ]
        if expected is not None and expected != version:
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"pk": {"S": _model_pk(model)}, "sk": {"S": _version_sk(expected)}},
                        "UpdateExpression": "SET #status = :archived, updated_at = :now",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {
                            ":archived": {"S": "archived"},
                            ":now": {"S": now_iso()},
                        },
                    }
                }
            )
        try:
            self._db.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False
            raise
        return True

    # -- rollout ------------------------------------------------------------------------------
    def write_rollout(
        self,
        model: str,
        expected_revision: int,
        *,
        set_fields: dict[str, Any] | None = None,
        remove_fields: tuple[str, ...] = (),
        statuses: tuple[StatusChange, ...] = (),
        transition: Transition | None = None,
    ) -> bool:
        """One rollout step, all or nothing: pointer fields, version statuses and the record.

        Conditional on the pointers' `revision` still being `expected_revision` (bumped by one
        here) and on each version's status being one the change allows, so two writers (the
        reconciler and a manual promote, or two reconciler runs) never both win: the loser
        gets False and re-reads. The transition, if any, is stored as `TRANSITION#<revision>`
        (the new revision), so a step is recorded exactly once.
        """
        now = now_iso()
        revision = expected_revision + 1
        names: dict[str, str] = {}
        values: dict[str, Any] = {
            ":expected": {"N": str(expected_revision)},
            ":revision": {"N": str(revision)},
            ":now": {"S": now},
        }
        assignments = ["revision = :revision", "updated_at = :now"]
        for index, (field, value) in enumerate(sorted((set_fields or {}).items())):
            names[f"#f{index}"] = field
            values[f":f{index}"] = to_attribute(json.loads(json.dumps(json_safe(value))))
            assignments.append(f"#f{index} = :f{index}")
        removals = []
        for index, field in enumerate(remove_fields):
            names[f"#r{index}"] = field
            removals.append(f"#r{index}")
        expression = "SET " + ", ".join(assignments)
        if removals:
            expression += " REMOVE " + ", ".join(removals)
        condition = (
            "attribute_not_exists(revision) OR revision = :expected"
            if expected_revision == 0
            else "revision = :expected"
        )
        pointer_update: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": _model_pk(model)}, "sk": {"S": "POINTERS"}},
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if names:
            pointer_update["ExpressionAttributeNames"] = names
        items: list[dict[str, Any]] = [{"Update": pointer_update}]
        for change in statuses:
            allowed = {f":a{i}": {"S": status} for i, status in enumerate(change.allowed)}
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {
                            "pk": {"S": _model_pk(model)},
                            "sk": {"S": _version_sk(change.version)},
                        },
                        "UpdateExpression": "SET #status = :to, updated_at = :now",
                        "ConditionExpression": f"#status IN ({', '.join(allowed)})",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {
                            **allowed,
                            ":to": {"S": change.to},
                            ":now": {"S": now},
                        },
                    }
                }
            )
        if transition is not None:
            record = transition.model_copy(update={"revision": revision, "model": model})
            item = {
                "pk": _model_pk(model),
                "sk": f"TRANSITION#{revision:08d}",
                "kind": "transition",
                **record.model_dump(mode="json"),
            }
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _to_item(item),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        try:
            self._db.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False
            raise
        return True

    def list_transitions(self, model: str) -> list[Transition]:
        """Every recorded rollout step of `model`, oldest first."""
        return [Transition.model_validate(item) for item in self._query(model, "TRANSITION#")]

    def mark_announced(self, model: str, revision: int) -> None:
        """Record that a transition's alert went out (idempotent)."""
        self._db.update_item(
            TableName=self._table,
            Key={"pk": {"S": _model_pk(model)}, "sk": {"S": f"TRANSITION#{revision:08d}"}},
            UpdateExpression="SET announced = :true",
            ExpressionAttributeValues={":true": {"BOOL": True}},
        )

    def _query(self, model: str, prefix: str) -> list[dict[str, Any]]:
        paginator = self._db.get_paginator("query")
        items: list[dict[str, Any]] = []
        for page in paginator.paginate(
            TableName=self._table,
            ConsistentRead=True,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": _model_pk(model)}, ":prefix": {"S": prefix}},
        ):
            items.extend(_from_item(item) for item in page["Items"])
        return items
