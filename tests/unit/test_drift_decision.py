"""The drift decision's guarantees (mlops/drift/decision.py), one behaviour per test."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from mlops.drift import Columns, DriftReport, check_drift, detectable_shift_sd
from mlops.drift.power import detectable_js
from mlops.drift.result import QualityCheck
from mlops.spec import ModelSpec

NUMERIC = [f"x{i}" for i in range(6)]


def _spec(task: str = "classification", **drift: Any) -> ModelSpec:
    estimator = "logistic_regression" if task == "classification" else "ridge"
    metric = "accuracy" if task == "classification" else "rmse"
    return ModelSpec.model_validate(
        {
            "name": "m",
            "task": task,
            "target": "y",
            "features": [{"name": name, "type": "numeric"} for name in NUMERIC]
            + [{"name": "plan", "type": "categorical", "categories": ["basic", "pro", "team"]}],
            "estimator": {"name": estimator},
            "quality_gate": {"metric": metric, "threshold": 0.5},
            "drift": drift,
        }
    )


def _sample(
    rng: np.random.Generator,
    rows: int,
    shifts: dict[str, float] | None = None,
    plans: tuple[list[str], list[float]] = (["basic", "pro", "team"], [0.5, 0.3, 0.2]),
) -> Columns:
    shifts = shifts or {}
    return Columns(
        numeric={name: rng.normal(size=rows) + shifts.get(name, 0.0) for name in NUMERIC},
        categorical={"plan": rng.choice(plans[0], size=rows, p=plans[1]).astype(object)},
    )


def _check(rows: int, seed: int, **window: Any) -> DriftReport:
    rng = np.random.default_rng(seed)
    return check_drift(_spec(), _sample(rng, rows), _sample(rng, rows, **window))


def test_the_dataset_verdict_names_exactly_the_drifted_features() -> None:
    report = _check(20_000, 1, shifts={"x1": 0.3, "x4": 0.3})
    assert report.verdict == "drift"
    assert report.drifted == ("x1", "x4")
    verdicts = {row.feature: row.verdict for row in report.features}
    assert {name for name, verdict in verdicts.items() if verdict == "drift"} == {"x1", "x4"}


def test_no_shift_is_no_drift_and_states_n_correction_and_detectable_effect() -> None:
    report = _check(20_000, 2)
    assert report.verdict == "no_drift"
    assert report.drifted == ()
    assert report.correction == "holm"
    assert report.tests_in_family == len(NUMERIC) + 1
    assert report.n_window == 20_000
    assert report.detectable_effect_sd is not None
    assert report.detectable_effect_sd < report.min_effect_sd
    assert report.powered_for_min_effect
    row = report.features[0]
    assert row.n_current == 20_000
    assert row.corrected_p_value is not None and row.corrected_p_value >= row.p_value  # type: ignore[operator]
    assert row.detectable_effect is not None and row.detectable_effect > row.negligible_effect


def test_below_min_samples_the_verdict_is_insufficient_data_never_no_drift() -> None:
    report = _check(150, 3, shifts={"x0": 2.0})
    assert report.verdict == "insufficient_data"
    assert report.tests_in_family == 0
    assert all(row.verdict == "insufficient_data" for row in report.features)
    assert report.features[0].p_value is None
    assert report.notes


def test_a_feature_mostly_missing_in_the_window_is_untested_and_said_so() -> None:
    rng = np.random.default_rng(4)
    window = _sample(rng, 5_000)
    sparse = np.full(5_000, np.nan)
    sparse[:50] = 1.0
    window = Columns({**window.numeric, "x2": sparse}, window.categorical)
    report = check_drift(_spec(), _sample(rng, 5_000), window)
    row = next(row for row in report.features if row.feature == "x2")
    assert row.verdict == "insufficient_data"
    assert row.missing_current == 4_950
    assert report.untested == ("x2",)
    assert report.tests_in_family == len(NUMERIC)  # the untested feature is not in the family


def test_a_significant_shift_below_the_negligible_level_does_not_alert() -> None:
    """0.02 sd at 400k rows is highly significant but negligible (default 0.05 sd)."""
    report = _check(400_000, 5, shifts={"x0": 0.02})
    row = report.features[0]
    assert row.corrected_p_value is not None and row.corrected_p_value < 1e-6
    assert row.effect == pytest.approx(0.02, abs=0.005)
    assert row.verdict == "negligible"
    assert report.drifted == ()
    assert report.verdict == "no_drift"


def test_an_underpowered_no_drift_says_what_it_could_not_rule_out() -> None:
    report = _check(600, 6)
    assert report.verdict == "no_drift"
    assert not report.powered_for_min_effect
    assert report.detectable_effect_sd is not None and report.detectable_effect_sd > 0.3
    assert any("does not rule out" in note for note in report.notes)


def test_unseen_categories_are_counted_and_tested() -> None:
    report = _check(
        5_000, 7, plans=(["basic", "pro", "team", "enterprise", "trial"], [0.4, 0.3, 0.1, 0.1, 0.1])
    )
    plan = next(row for row in report.features if row.feature == "plan")
    assert plan.test == "chi2_homogeneity"
    assert set(plan.unseen) == {"enterprise", "trial"}
    assert 900 < sum(plan.unseen.values()) < 1_100
    assert plan.verdict == "drift"
    assert report.drifted == ("plan",)
    assert plan.effect is not None and plan.effect > plan.min_effect
    assert plan.cramers_v is not None and plan.cramers_v > 0


def test_missing_categorical_values_are_counted_not_tested() -> None:
    rng = np.random.default_rng(8)
    window = _sample(rng, 2_000)
    plans = window.categorical["plan"].copy()
    plans[:500] = None
    report = check_drift(_spec(), _sample(rng, 2_000), Columns(window.numeric, {"plan": plans}))
    plan = next(row for row in report.features if row.feature == "plan")
    assert plan.missing_current == 500
    assert plan.n_current == 1_500
    assert plan.unseen == {}


def test_predicted_classes_drift_is_reported_apart_from_the_features() -> None:
    rng = np.random.default_rng(9)
    report = check_drift(
        _spec(),
        _sample(rng, 5_000),
        _sample(rng, 5_000),
        reference_predictions=rng.choice(["no", "yes"], 5_000, p=[0.8, 0.2]),
        window_predictions=rng.choice(["no", "yes"], 5_000, p=[0.5, 0.5]),
    )
    assert report.prediction is not None
    assert report.prediction.feature == "prediction"
    assert report.prediction.verdict == "drift"
    assert report.prediction_drifted
    assert report.drifted == ()
    assert report.verdict == "drift"
    assert report.tests_in_family == len(NUMERIC) + 2


def test_predicted_values_of_a_regression_are_tested_as_numbers() -> None:
    rng = np.random.default_rng(10)
    spec = _spec("regression")
    report = check_drift(
        spec,
        _sample(rng, 5_000),
        _sample(rng, 5_000),
        reference_predictions=rng.normal(10, 2, 5_000),
        window_predictions=rng.normal(10, 2, 5_000),
    )
    assert report.prediction is not None
    assert report.prediction.test == "ks_2samp"
    assert report.prediction.verdict == "no_drift"


def test_a_feature_named_prediction_stays_a_feature() -> None:
    spec = ModelSpec.model_validate(
        {
            "name": "m",
            "task": "regression",
            "target": "y",
            "features": [{"name": "prediction", "type": "numeric"}],
            "estimator": {"name": "ridge"},
            "quality_gate": {"metric": "rmse", "threshold": 1.0},
        }
    )
    rng = np.random.default_rng(11)
    report = check_drift(
        spec,
        Columns({"prediction": rng.normal(size=3_000)}),
        Columns({"prediction": rng.normal(size=3_000) + 1}),
        reference_predictions=rng.normal(size=3_000),
        window_predictions=rng.normal(size=3_000),
    )
    assert report.drifted == ("prediction",)
    assert report.prediction is not None and report.prediction.verdict == "no_drift"


def test_a_constant_training_feature_that_changes_is_not_negligible() -> None:
    spec = _spec()
    rng = np.random.default_rng(12)
    reference = _sample(rng, 2_000)
    window = _sample(rng, 2_000)
    reference = Columns({**reference.numeric, "x0": np.zeros(2_000)}, reference.categorical)
    window = Columns(
        {**window.numeric, "x0": np.r_[np.zeros(1_000), np.ones(1_000)]}, window.categorical
    )
    report = check_drift(spec, reference, window)
    assert report.drifted == ("x0",)


def test_the_report_is_json_ready() -> None:
    document = _check(600, 13).to_dict()
    assert document["verdict"] in {"drift", "no_drift", "insufficient_data"}
    assert isinstance(document["features"], list)
    assert document["features"][0]["feature"] == "x0"


def test_bounded_calibration_false_alarms_and_power() -> None:
    """A small seeded calibration with margins wide enough that it cannot flake: 40 null checks
    at 5k rows alert at most 6 times (expected ~2 at alpha 0.05; P(>6) < 0.5%), and a 0.1 sd
    shift on 2 of 6 features at 20k rows is named exactly in at least 36 of 40 (expected ~39).
    The full calibration, with intervals, is `make bench` (README)."""
    rng = np.random.default_rng(14)
    spec = _spec()
    false_alarms = exact = 0
    for _ in range(40):
        false_alarms += bool(check_drift(spec, _sample(rng, 5_000), _sample(rng, 5_000)).drifted)
    for _ in range(40):
        window = _sample(rng, 20_000, shifts={"x0": 0.1, "x3": 0.1})
        exact += check_drift(spec, _sample(rng, 20_000), window).drifted == ("x0", "x3")
    assert false_alarms <= 6
    assert exact >= 36


def test_detectable_shift_shrinks_with_n_and_meets_the_minimum_effect_by_10k() -> None:
    sizes = [500, 2_000, 10_000, 100_000]
    shifts = [detectable_shift_sd(0.05 / 20, n, n, 0.05) for n in sizes]
    assert shifts == sorted(shifts, reverse=True)
    assert shifts[2] <= 0.1 < shifts[1]


def test_the_spec_refuses_retired_thresholds_with_a_reason() -> None:
    with pytest.raises(ValidationError, match="psi_threshold no longer exist"):
        _spec(psi_threshold=0.2)


def test_the_spec_refuses_a_negligible_effect_at_or_above_the_minimum() -> None:
    with pytest.raises(ValidationError, match="must be below"):
        _spec(min_effect_sd=0.1, negligible_effect_sd=0.1)


def test_each_row_states_the_effect_it_could_catch_at_holms_strictest_level() -> None:
    """detectable_effect: numeric rows by the KS test, categorical rows by the chi-square test
    of their degrees of freedom, both at alpha / k (k = every test in the family)."""
    report = _check(5_000, 15)
    strictest = 0.05 / report.tests_in_family
    for row in report.features:
        if row.kind == "numeric":
            expected = detectable_shift_sd(strictest, row.n_reference, row.n_current, 0.05)
        else:  # basic / pro / team, no unseen value: a 2 x 3 table, 2 degrees of freedom
            expected = detectable_js(strictest, 2, row.n_reference, row.n_current, 0.05)
        assert row.detectable_effect == pytest.approx(expected, rel=1e-12), row.feature


def test_a_family_of_one_test_is_judged_at_alpha_itself() -> None:
    spec = ModelSpec.model_validate(
        {
            "name": "m",
            "task": "regression",
            "target": "y",
            "features": [{"name": "x", "type": "numeric"}],
            "estimator": {"name": "ridge"},
            "quality_gate": {"metric": "rmse", "threshold": 1.0},
        }
    )
    rng = np.random.default_rng(16)
    report = check_drift(
        spec, Columns({"x": rng.normal(size=3_000)}), Columns({"x": rng.normal(size=2_000)})
    )
    (row,) = report.features
    assert report.tests_in_family == 1
    assert row.corrected_p_value == row.p_value
    assert row.detectable_effect == pytest.approx(
        detectable_shift_sd(0.05, 3_000, 2_000, 0.05), rel=1e-12
    )


def _shifted_x0(seed: int, rows: int, shift: float, **drift: Any) -> DriftReport:
    rng = np.random.default_rng(seed)
    return check_drift(_spec(**drift), _sample(rng, rows), _sample(rng, rows, shifts={"x0": shift}))


def test_a_corrected_p_value_exactly_at_alpha_is_significant() -> None:
    """Holm rejects where adjusted <= alpha: an alpha equal to x0's corrected p-value flags it,
    the next float below does not."""
    first = _shifted_x0(17, 2_000, 0.1).features[0]
    p = first.corrected_p_value
    assert p is not None and 0.001 < p < 0.2
    assert first.effect is not None and first.effect > 0.05
    at = _shifted_x0(17, 2_000, 0.1, alpha=p).features[0]
    assert (at.corrected_p_value, at.verdict) == (p, "drift")
    below = _shifted_x0(17, 2_000, 0.1, alpha=math.nextafter(p, 0)).features[0]
    assert below.verdict == "no_drift"


def test_an_effect_exactly_at_the_negligible_level_does_not_alert() -> None:
    """'A Wasserstein-1 distance at or below negligible_effect_sd never alerts.'"""
    first = _shifted_x0(18, 20_000, 0.07).features[0]
    effect = first.effect
    assert effect is not None and 0.05 < effect < 0.1
    assert first.verdict == "drift"
    at = _shifted_x0(18, 20_000, 0.07, negligible_effect_sd=effect).features[0]
    assert (at.effect, at.verdict) == (effect, "negligible")
    below = _shifted_x0(18, 20_000, 0.07, negligible_effect_sd=math.nextafter(effect, 0))
    assert below.features[0].verdict == "drift"


def test_columns_missing_from_the_window_count_as_all_missing() -> None:
    rng = np.random.default_rng(19)
    window = _sample(rng, 1_000)
    numeric = {name: column for name, column in window.numeric.items() if name != "x2"}
    report = check_drift(_spec(), _sample(rng, 1_000), Columns(numeric, {}))
    rows = {row.feature: row for row in report.features}
    for name in ("x2", "plan"):
        assert (rows[name].verdict, rows[name].n_current) == ("insufficient_data", 0), name
        assert rows[name].missing_current == 1_000, name
    assert report.untested == ("x2", "plan")


def test_predictions_are_tested_only_when_both_sides_are_given() -> None:
    rng = np.random.default_rng(20)
    labels = rng.choice(["no", "yes"], 1_000)
    reference, window = _sample(rng, 1_000), _sample(rng, 1_000)
    for report in (
        check_drift(_spec(), reference, window, reference_predictions=labels),
        check_drift(_spec(), reference, window, window_predictions=labels),
    ):
        assert report.prediction is None
        assert report.tests_in_family == len(NUMERIC) + 1


def test_the_report_carries_the_quality_check_and_the_reference_kind() -> None:
    rng = np.random.default_rng(21)
    reference, window = _sample(rng, 1_000), _sample(rng, 1_000)
    default = check_drift(_spec(), reference, window)
    assert (default.reference_kind, default.quality) == ("training_columns", None)
    assert not any("baseline.json" in note for note in default.notes)
    quality = QualityCheck(
        metric="accuracy",
        n=300,
        value=0.9,
        interval=(0.86, 0.93),
        confidence=0.95,
        method="wilson",
        held_out=0.92,
        higher_is_better=True,
        verdict="ok",
    )
    sampled = check_drift(
        _spec(), reference, window, reference_kind="baseline_sample", quality=quality
    )
    assert sampled.reference_kind == "baseline_sample"
    assert sampled.quality is quality
    assert any("baseline.json" in note for note in sampled.notes)
