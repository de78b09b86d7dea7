"""`Columns`: the feature values of one sample, the unit every drift statistic reads.

The training reference and a captured window take the same form, so the same code compares
them: numeric features as float64 arrays (NaN for a missing value), categorical features as
arrays of strings (None for a missing value), keyed by the spec's feature names. Columns, not
rows: every test reads one feature at a time, and the stored form (Parquet, `columnar.py`) is
columnar for the same reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Columns:
    numeric: Mapping[str, np.ndarray] = field(default_factory=dict)
    categorical: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """The longest column's length (columns of one sample have equal lengths)."""
        sizes = [len(v) for v in (*self.numeric.values(), *self.categorical.values())]
        return max(sizes, default=0)
