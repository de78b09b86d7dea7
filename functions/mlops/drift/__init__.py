"""Drift statistics: is a captured window different from the training reference, by a test
with a stated false-alarm rate and an effect size (docs/drift.md)."""

from mlops.drift.columnar import (
    REFERENCE_ROW_CAP,
    CaptureWindow,
    StoredColumns,
    columns_to_parquet,
    compact_capture,
    read_columns,
    sample_rows,
    write_reference,
)
from mlops.drift.columns import Columns
from mlops.drift.decision import category_counts, check_drift
from mlops.drift.exceptions import DriftInputError
from mlops.drift.power import DETECTION_POWER, detectable_js, detectable_shift_sd
from mlops.drift.quality import check_quality
from mlops.drift.reference import reference_from_baseline
from mlops.drift.result import DriftReport, FeatureDrift, QualityCheck

__all__ = [
    "DETECTION_POWER",
    "REFERENCE_ROW_CAP",
    "CaptureWindow",
    "Columns",
    "DriftInputError",
    "DriftReport",
    "FeatureDrift",
    "QualityCheck",
    "StoredColumns",
    "category_counts",
    "check_drift",
    "check_quality",
    "columns_to_parquet",
    "compact_capture",
    "detectable_js",
    "detectable_shift_sd",
    "read_columns",
    "reference_from_baseline",
    "sample_rows",
    "write_reference",
]
