"""The rollout reconciler: one owner for which function version serves, promoted on evidence.

Desired state lives in the registry (pointers: production, canary, the function versions that
serve them, when the canary started, its last look; versions' statuses); observed state is the
predict function's published versions and alias `live`. Each step reads both, takes the one
next action, and returns; `reconcile` repeats until nothing is left to do. The states:

    registered --(first model)--> production
    registered --(shadow replay diverged / failed to load)--> rejected
    registered --(shadow within limits or too few inputs)--> canary
    registered --(a newer one registered before it left)--> superseded
    canary --(decide_canary: policy holds after the bake / manual promote)--> production
    canary --(policy broken, failed load, extension limit / manual rollback)--> rolled_back
    production --(a newer version promoted)--> archived
    production --(manual rollback to the previous one)--> rolled_back

plus a code canary: when `$LATEST` runs code or configuration no served version runs
(`code_fingerprint`, which leaves out the model pin that publishing writes into `$LATEST`),
the production model is published on it and released as its own canary, judged by the same
rule on its own function version's traffic (not its model version's, which production shares);
a rolled-back code fingerprint is never retried.

Guarantees (each has a test in tests/integration/test_rollout.py):
- every registry write is one conditional transaction on the pointers' revision: two writers
  (the schedule and a manual promote, two events back to back) never both win, so there are
  never two canaries and no update is lost; the loser re-reads and converges;
- every AWS call is a read, or a write that the next run recognises as done (a published
  version with the same fingerprint and pin is reused; the alias is written only when it
  differs from the registry's wish), so a crash after any single call converges on the next
  run; alerts are recorded with their transition and published until marked announced (at
  least once);
- a candidate never takes traffic when its shadow replay diverges beyond the spec's limits or
  its artifact cannot be loaded; a canary is judged by `decide_canary` at most once per
  evaluation period (load failures at once), with bake times in spec minutes of
  `minute_seconds` seconds (RolloutSettings; 60 on AWS, scaled down on the local stack);
- manual promote and rollback are transitions of this module, followed by the same
  convergence.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from mlops.notifications import Alerts
from mlops.outcome_metrics import OutcomeMetrics
from mlops.registry import (
    ArtifactStore,
    ModelPointers,
    ModelVersion,
    RegistryError,
    RegistryStore,
    ServedVersionReader,
    StatusChange,
    Transition,
    now_iso,
)
from mlops.rollout.decision import CanaryDecision, decide_canary
from mlops.rollout.ensure import code_fingerprint, publish_pinned_version, route_alias
from mlops.rollout.evidence import CanaryCounter, CaptureReader, output_validator
from mlops.rollout.outcomes import transition_metrics
from mlops.rollout.shadow import ShadowResult, compare_shadow
from mlops.serving.runtime import load_runtime
from mlops.settings import PredictSettings
from mlops.spec import ModelSpec, load_spec

logger = logging.getLogger(__name__)
#: A run never loops forever: a full release is about ten steps.
MAX_STEPS = 30
CANARY_FIELDS = (
    "canary",
    "canary_function_version",
    "canary_kind",
    "canary_started_at",
    "canary_code",
)


class RolloutError(RegistryError):
    """A manual action cannot be taken as asked (the message says why and what to do)."""


class RolloutConflictError(RolloutError):
    """Someone else changed the rollout state meanwhile; re-read and retry."""


@dataclass(frozen=True)
class RolloutDependencies:
    """The adapters the reconciler talks to; built once per environment and passed in."""

    lambda_client: Any
    registry: RegistryStore
    versions: ServedVersionReader
    artifacts: ArtifactStore
    capture: CaptureReader
    counter: CanaryCounter
    alerts: Alerts
    function_name: Callable[[str], str]
    model_bucket: str
    registry_table: str
    #: Seconds per spec minute: 60 on AWS; the local stack scales bake times down with it.
    minute_seconds: float = 60.0
    clock: Callable[[], float] = time.time
    spec: Callable[[str], ModelSpec] = load_spec
    #: Models with a deployed predict function (None: every declared spec).
    models: tuple[str, ...] | None = None
    #: Each announced transition's counts (rollbacks, promotions, shadow divergence).
    metrics: OutcomeMetrics = field(default_factory=lambda: OutcomeMetrics("rollout"))


@dataclass
class ReconcileReport:
    """What one run did (steps in order) and the state it left."""

    model: str
    steps: list[str] = field(default_factory=list)
    pointers: ModelPointers | None = None


def reconcile(model: str, deps: RolloutDependencies) -> ReconcileReport:
    """Take steps until the observed state matches the registry and nothing is due."""
    report = ReconcileReport(model)
    for _ in range(MAX_STEPS):
        step = _next_step(model, deps)
        if step is None:
            break
        logger.info("rollout %s: %s", model, step)
        report.steps.append(step)
    report.pointers = deps.registry.get_pointers(model)
    return report


# -- one step ------------------------------------------------------------------------------
def _next_step(model: str, deps: RolloutDependencies) -> str | None:
    registry = deps.registry
    unannounced = [t for t in registry.list_transitions(model) if t.announce and not t.announced]
    if unannounced:
        return _announce(unannounced[0], deps)
    state = registry.get_pointers(model)
    function_name = deps.function_name(model)
    versions = {v.version: v for v in registry.list_versions(model)}
    if state.production is None:
        return _first_production(model, state, versions, deps)
    if state.production_function_version is None:
        published = publish_pinned_version(deps.lambda_client, function_name, state.production)
        _write(deps, model, state, {"production_function_version": published})
        return f"production v{state.production} runs as function version {published}"
    if state.canary is not None and state.canary_function_version is None:
        return _publish_canary(model, state, deps, function_name)
    weights = {}
    if state.canary_function_version is not None:
        weights = {state.canary_function_version: _share(deps.spec(model))}
    if route_alias(deps.lambda_client, function_name, state.production_function_version, weights):
        return f"alias live -> {state.production_function_version} + {weights or 'no canary'}"
    if state.canary is not None and state.canary_started_at is None:
        share = f"{_share(deps.spec(model)):.0%}"
        _write(
            deps,
            model,
            state,
            {"canary_started_at": deps.clock(), "canary_last_look": 0},
            transition=_transition(
                "canary_started",
                state.canary,
                f"{share} of traffic to function version {state.canary_function_version} "
                f"({state.canary_kind} canary)",
            ),
        )
        return f"canary v{state.canary} takes {share} of traffic"
    if state.canary is not None:
        return _judge_canary(model, state, versions, deps)
    candidate_step = _next_candidate(model, state, versions, deps)
    if candidate_step is not None:
        return candidate_step
    return _code_drift(model, state, deps, function_name)


def _share(spec: ModelSpec) -> float:
    return spec.canary.traffic_percent / 100


def _transition(
    what: str,
    version: int | None,
    reason: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    evidence: dict[str, Any] | None = None,
    announce: bool = True,
) -> Transition:
    return Transition(
        model="",
        revision=0,
        what=what,
        version=version,
        from_status=from_status,
        to_status=to_status,
        at=now_iso(),
        reason=reason,
        evidence=json.loads(json.dumps(evidence or {}, default=str)),
        announce=announce,
    )


def _write(
    deps: RolloutDependencies,
    model: str,
    state: ModelPointers,
    set_fields: dict[str, Any] | None = None,
    *,
    remove: tuple[str, ...] = (),
    statuses: tuple[StatusChange, ...] = (),
    transition: Transition | None = None,
) -> None:
    written = deps.registry.write_rollout(
        model,
        state.revision,
        set_fields=set_fields,
        remove_fields=remove,
        statuses=statuses,
        transition=transition,
    )
    if not written:
        raise RolloutConflictError(
            f"{model}'s rollout state moved past revision {state.revision} meanwhile; re-run"
        )


def _announce(transition: Transition, deps: RolloutDependencies) -> str:
    version = f" v{transition.version}" if transition.version is not None else ""
    subject = f"[mlops] {transition.model}{version}: {transition.what.replace('_', ' ')}"
    body = "\n".join(
        [
            f"{transition.model}{version}: {transition.what}",
            f"when: {transition.at}",
            f"why: {transition.reason}",
            "evidence:",
            json.dumps(transition.evidence, indent=2, sort_keys=True, default=str),
        ]
    )
    deps.alerts.publish(
        subject,
        body,
        {"model": transition.model, "kind": f"rollout_{transition.what}"},
    )
    # Counted with its announcement: once per transition (at least once, as the alert).
    deps.metrics.record(transition.model, transition_metrics(transition))
    deps.registry.mark_announced(transition.model, transition.revision)
    return f"announced {transition.what}{version}"


def _registered(versions: dict[int, ModelVersion]) -> list[int]:
    return sorted(number for number, v in versions.items() if v.status == "registered")


def _superseded(older: list[int]) -> tuple[StatusChange, ...]:
    return tuple(StatusChange(version=v, allowed=("registered",), to="superseded") for v in older)


def _first_production(
    model: str, state: ModelPointers, versions: dict[int, ModelVersion], deps: RolloutDependencies
) -> str | None:
    registered = _registered(versions)
    if not registered:
        return None
    newest, older = registered[-1], registered[:-1]
    problem = unservable(versions[newest], deps)
    if problem is not None:
        return _reject(model, state, deps, newest, older, problem)
    _write(
        deps,
        model,
        state,
        {"production": newest},
        statuses=(
            StatusChange(version=newest, allowed=("registered",), to="production"),
            *_superseded(older),
        ),
        transition=_transition(
            "promoted",
            newest,
            "the first model to pass the gate goes straight to production"
            + (f"; superseded v{', v'.join(map(str, older))}" if older else ""),
            from_status="registered",
            to_status="production",
        ),
    )
    return f"v{newest} -> production (first model)"


def _publish_canary(
    model: str, state: ModelPointers, deps: RolloutDependencies, function_name: str
) -> str:
    assert state.canary is not None
    updates: dict[str, Any] = {}
    if state.canary_kind == "code":
        latest = deps.lambda_client.get_function_configuration(FunctionName=function_name)
        updates["canary_code"] = code_fingerprint(latest)
    published = publish_pinned_version(deps.lambda_client, function_name, state.canary)
    if published == state.production_function_version:
        # A code canary whose change was reverted before it was published: nothing to release.
        _write(deps, model, state, {"canary_last_look": 0}, remove=CANARY_FIELDS)
        return "code canary dropped: $LATEST runs production's code again"
    updates["canary_function_version"] = published
    _write(deps, model, state, updates)
    return f"canary v{state.canary} runs as function version {published}"


# -- candidates and shadow replay ----------------------------------------------------------
def unservable(record: ModelVersion, deps: RolloutDependencies) -> str | None:
    """Why `record` cannot serve (its artifact fails the sha256 check or does not load), or
    None. Checked before any traffic moves to a version without a shadow replay (the first
    model, a manual promote or rollback): a damaged artifact once turned all traffic into 503."""
    from mlops.rollout.promotion import PromotionError, verify_servable

    try:
        verify_servable(record, deps.artifacts)
    except PromotionError as error:
        return str(error)
    return None


def _reject(
    model: str,
    state: ModelPointers,
    deps: RolloutDependencies,
    newest: int,
    older: list[int],
    reason: str,
    evidence: dict[str, Any] | None = None,
) -> str:
    """`newest` never takes traffic: rejected with its reason; older pending ones superseded."""
    note = f"; superseded v{', v'.join(map(str, older))}" if older else ""
    _write(
        deps,
        model,
        state,
        statuses=(
            StatusChange(version=newest, allowed=("registered",), to="rejected"),
            *_superseded(older),
        ),
        transition=_transition(
            "rejected",
            newest,
            f"{reason}; the candidate takes no traffic{note}",
            from_status="registered",
            to_status="rejected",
            evidence=evidence or {"problem": reason},
        ),
    )
    return f"v{newest} rejected before any traffic: {reason}"


def _next_candidate(
    model: str, state: ModelPointers, versions: dict[int, ModelVersion], deps: RolloutDependencies
) -> str | None:
    registered = _registered(versions)
    if not registered:
        return None
    newest, older = registered[-1], registered[:-1]
    spec = deps.spec(model)
    shadow, problem = shadow_replay(model, newest, state.production or 0, spec, deps)
    supersede = _superseded(older)
    note = f"; superseded v{', v'.join(map(str, older))}" if older else ""
    if problem is not None or (shadow is not None and shadow.verdict == "diverged"):
        reason = problem or (shadow.reason if shadow else "")
        evidence = {"shadow": asdict(shadow) if shadow else None, "problem": problem}
        return _reject(model, state, deps, newest, older, f"shadow replay: {reason}", evidence)
    assert shadow is not None
    _write(
        deps,
        model,
        state,
        {"canary": newest, "canary_kind": "model", "canary_last_look": 0},
        remove=("canary_function_version", "canary_started_at", "canary_code"),
        statuses=(StatusChange(version=newest, allowed=("registered",), to="canary"), *supersede),
        transition=_transition(
            "canary",
            newest,
            f"shadow replay: {shadow.reason}{note}",
            from_status="registered",
            to_status="canary",
            evidence={"shadow": asdict(shadow)},
        ),
    )
    return f"v{newest} -> canary ({shadow.verdict})"


def shadow_replay(
    model: str, candidate: int, production: int, spec: ModelSpec, deps: RolloutDependencies
) -> tuple[ShadowResult | None, str | None]:
    """The candidate scores the production version's newest captured inputs in-process (no live
    cost) and is compared with production's recorded outputs. (result, None), or (None, why)
    when the candidate's artifact cannot be loaded (it never takes traffic then)."""
    runtime = load_runtime(
        PredictSettings(
            model_name=model,
            model_bucket=deps.model_bucket,
            registry_table=deps.registry_table,
            model_version=candidate,
        ),
        deps.versions,
        deps.artifacts,
    )
    if runtime.unavailable is not None:
        return None, f"the candidate failed to load ({runtime.load_problem}: {runtime.unavailable})"
    onnx, _, schema = runtime.require_model()
    limit = spec.canary.shadow.requests
    now = datetime.fromtimestamp(deps.clock(), UTC)
    captured = deps.capture.newest(model, production, limit, now) if production else []
    ours: list[Any] = []
    theirs: list[Any] = []
    for request in captured:
        if not request.inputs or len(request.inputs) != len(request.outputs):
            continue
        try:
            numeric, categorical = schema.to_tensors(request.inputs)
        except Exception as error:  # inputs the candidate's schema refuses are not compared
            logger.info("shadow replay skips a captured request: %s", error)
            continue
        ours.extend(onnx.predict(numeric, categorical).outputs.tolist())
        theirs.extend(request.outputs)
    ours, theirs = ours[:limit], theirs[:limit]
    if spec.task == "classification":
        candidate_outputs = np.asarray([str(v) for v in ours], dtype=object)
        production_outputs = np.asarray([str(v) for v in theirs], dtype=object)
    else:
        candidate_outputs = np.asarray(ours, dtype=np.float64)
        production_outputs = np.asarray(theirs, dtype=np.float64)
    return compare_shadow(spec.task, candidate_outputs, production_outputs, spec.canary), None


# -- judging a canary ----------------------------------------------------------------------
def _judge_canary(
    model: str, state: ModelPointers, versions: dict[int, ModelVersion], deps: RolloutDependencies
) -> str | None:
    assert state.canary is not None and state.canary_started_at is not None
    spec = deps.spec(model)
    policy = spec.canary
    now = deps.clock()
    elapsed = max(0.0, (now - state.canary_started_at) / deps.minute_seconds)
    look = int(elapsed // policy.evaluation_minutes)
    record = versions.get(state.canary)
    validator = output_validator(spec.task, list(record.classes) if record else [])
    # A code canary pins production's model version: only its own function version's traffic
    # is its evidence (counts by model version would dilute it with production's).
    counts = deps.counter.counts(
        model,
        state.canary,
        state.canary_started_at,
        now,
        elapsed,
        validator,
        function_version=state.canary_function_version if state.canary_kind == "code" else None,
    )
    if look <= state.canary_last_look and not counts.load_failures:
        return None  # at most one look per evaluation period (decision.py's contract)
    decision = decide_canary(counts, policy)
    if decision.action == "rollback":
        return roll_back_canary(model, state, deps, decision.reason, decision)
    if decision.action == "promote":
        return promote_canary(model, state, deps, decision.reason, decision)
    _write(
        deps,
        model,
        state,
        {"canary_last_look": look},
        transition=_transition(
            decision.action,
            state.canary,
            decision.reason,
            evidence={"decision": decision.as_record()},
            # Announced once, at the first look after the bake; later ones are recorded only.
            announce=decision.action == "insufficient_traffic"
            and state.canary_last_look < decision.first_promotion_look,
        ),
    )
    return f"canary v{state.canary} look {look}: {decision.action} ({decision.reason})"


def promote_canary(
    model: str,
    state: ModelPointers,
    deps: RolloutDependencies,
    reason: str,
    decision: CanaryDecision | None = None,
) -> str:
    """The canary becomes production (its function version too); the old one is archived."""
    assert state.canary is not None
    evidence = {"decision": decision.as_record()} if decision else {}
    if state.canary_kind == "code":
        _write(
            deps,
            model,
            state,
            {"production_function_version": state.canary_function_version, "canary_last_look": 0},
            remove=CANARY_FIELDS,
            transition=_transition(
                "code_promoted",
                state.canary,
                f"function version {state.canary_function_version} serves production: {reason}",
                evidence=evidence,
            ),
        )
        return f"code canary -> production ({reason})"
    statuses = [StatusChange(version=state.canary, allowed=("canary",), to="production")]
    if state.production is not None and state.production != state.canary:
        statuses.append(
            StatusChange(version=state.production, allowed=("production",), to="archived")
        )
    _write(
        deps,
        model,
        state,
        {
            "production": state.canary,
            "production_function_version": state.canary_function_version,
            "canary_last_look": 0,
        },
        remove=CANARY_FIELDS,
        statuses=tuple(statuses),
        transition=_transition(
            "promoted",
            state.canary,
            reason,
            from_status="canary",
            to_status="production",
            evidence=evidence,
        ),
    )
    return f"v{state.canary} -> production ({reason})"


def roll_back_canary(
    model: str,
    state: ModelPointers,
    deps: RolloutDependencies,
    reason: str,
    decision: CanaryDecision | None = None,
) -> str:
    """The canary leaves the alias; production is untouched. A rolled-back code fingerprint is
    remembered so the same change is not released again."""
    assert state.canary is not None
    evidence = {"decision": decision.as_record()} if decision else {}
    if state.canary_kind == "code":
        rejected = [*state.rejected_code, state.canary_code or ""]
        _write(
            deps,
            model,
            state,
            {"rejected_code": rejected, "canary_last_look": 0},
            remove=CANARY_FIELDS,
            transition=_transition(
                "code_rolled_back",
                state.canary,
                f"function version {state.canary_function_version} rolled back: {reason}",
                evidence=evidence,
            ),
        )
        return f"code canary rolled back ({reason})"
    _write(
        deps,
        model,
        state,
        {"canary_last_look": 0},
        remove=CANARY_FIELDS,
        statuses=(StatusChange(version=state.canary, allowed=("canary",), to="rolled_back"),),
        transition=_transition(
            "rolled_back",
            state.canary,
            reason,
            from_status="canary",
            to_status="rolled_back",
            evidence=evidence,
        ),
    )
    return f"v{state.canary} rolled back ({reason})"


def _code_drift(
    model: str, state: ModelPointers, deps: RolloutDependencies, function_name: str
) -> str | None:
    """Start a code canary when `$LATEST` runs code or configuration production does not."""
    assert state.production is not None
    latest = code_fingerprint(
        deps.lambda_client.get_function_configuration(FunctionName=function_name)
    )
    serving = code_fingerprint(
        deps.lambda_client.get_function_configuration(
            FunctionName=function_name, Qualifier=state.production_function_version
        )
    )
    if latest == serving or latest in state.rejected_code:
        return None
    _write(
        deps,
        model,
        state,
        {
            "canary": state.production,
            "canary_kind": "code",
            "canary_code": latest,
            "canary_last_look": 0,
        },
        remove=("canary_function_version", "canary_started_at"),
        transition=_transition(
            "code_canary",
            state.production,
            f"$LATEST runs code or configuration {latest} that production ({serving}) does not; "
            "released as a canary with the production model pinned",
        ),
    )
    return f"code canary {latest} with production v{state.production}"


# -- manual actions: transitions of this module, then the same convergence -----------------
def manual_promote(
    model: str, deps: RolloutDependencies, version: int | None = None
) -> ReconcileReport:
    """Promote the canary in flight (no version, or its number), or make `version` production
    directly when no canary is in flight; then converge as the reconciler does."""
    state = deps.registry.get_pointers(model)
    if version is None or version == state.canary:
        if state.canary is None:
            raise RolloutError(f"{model} has no canary in flight; name the version to promote")
        if state.canary_function_version is None:
            reconcile(model, deps)  # publish it first, as the schedule would
            state = deps.registry.get_pointers(model)
            if state.canary is None:
                raise RolloutError(f"{model}'s canary was decided meanwhile; see `mlops status`")
        promote_canary(model, state, deps, "manual promote")
        return reconcile(model, deps)
    if state.canary is not None:
        raise RolloutError(
            f"{model} v{state.canary} is in canary; promote or roll it back before promoting "
            f"v{version}"
        )
    if version == state.production:
        return reconcile(model, deps)
    record = deps.registry.get_version(model, version)
    if record.status == "production" and deps.registry.get_pointers(model).production == version:
        # The reconciler promoted it between our two reads (a first model goes straight to
        # production): the user's wish holds, so promoting it is done, not an error.
        return reconcile(model, deps)
    if record.status not in ("registered", "archived", "superseded"):
        raise RolloutError(
            f"{model} v{version} is {record.status}; only registered, superseded or archived "
            "versions can be promoted"
        )
    problem = unservable(record, deps)
    if problem is not None:
        raise RolloutError(problem)
    _set_production(model, state, deps, version, record.status, "manual promote")
    return reconcile(model, deps)


def manual_rollback(model: str, deps: RolloutDependencies) -> ReconcileReport:
    """Roll the canary in flight back; with none, put the previous production version back."""
    state = deps.registry.get_pointers(model)
    if state.canary is not None:
        roll_back_canary(model, state, deps, "manual rollback")
        return reconcile(model, deps)
    if state.production is None:
        raise RolloutError(f"{model} has no production version to roll back")
    archived = [
        v.version
        for v in deps.registry.list_versions(model)
        if v.status == "archived" and v.version < state.production
    ]
    if not archived:
        raise RolloutError(f"{model} v{state.production} has no earlier version to go back to")
    problem = unservable(deps.registry.get_version(model, max(archived)), deps)
    if problem is not None:
        raise RolloutError(problem)
    _set_production(
        model,
        state,
        deps,
        max(archived),
        "archived",
        "manual rollback",
        previous_to="rolled_back",
    )
    return reconcile(model, deps)


def _set_production(
    model: str,
    state: ModelPointers,
    deps: RolloutDependencies,
    version: int,
    status: str,
    reason: str,
    previous_to: str = "archived",
) -> None:
    statuses = [StatusChange(version=version, allowed=(status,), to="production")]
    if state.production is not None:
        statuses.append(
            StatusChange(version=state.production, allowed=("production",), to=previous_to)
        )
    _write(
        deps,
        model,
        state,
        {"production": version},
        remove=("production_function_version",),
        statuses=tuple(statuses),
        transition=_transition(
            "promoted" if previous_to == "archived" else "rolled_back",
            version,
            f"{reason}: v{version} serves production"
            + (f", v{state.production} -> {previous_to}" if state.production else ""),
            from_status=status,
            to_status="production",
        ),
    )


def reconcile_models(
    models: list[str] | None, deps: RolloutDependencies, attempts: int = 3
) -> list[ReconcileReport]:
    """Reconcile the named models (None: every declared model). A run that loses a conditional
    write to a concurrent writer re-reads and goes again, up to `attempts` times."""
    from mlops.spec import load_all_specs

    deployed = deps.models if deps.models is not None else tuple(sorted(load_all_specs()))
    names = [model for model in (models if models is not None else deployed) if model in deployed]
    for model in set(models or ()) - set(deployed):
        logger.warning("%s has no deployed predict function; add its spec and deploy", model)
    reports = []
    for model in names:
        for attempt in range(attempts):
            try:
                reports.append(reconcile(model, deps))
                break
            except RolloutConflictError:
                if attempt == attempts - 1:
                    raise
    return reports
