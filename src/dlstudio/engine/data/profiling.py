"""Column profiles for the GUI's Data page: counts and a small histogram of one column."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dlstudio.engine.data.values import _nunique
from dlstudio.engine.data.wording import _fmt_number, _short
from dlstudio.engine.schema import Role


@dataclass
class ColumnProfile:
    """What the GUI shows about one column."""

    name: str
    dtype: str
    missing: int
    missing_pct: float                  # percent of rows, 0-100
    distinct: int                       # distinct non-missing values
    histogram: list[tuple[str, int]]    # (label, count), see profile_column


def profile_column(series: pd.Series, role: Role | None = None) -> ColumnProfile:
    """Counts and a small histogram of one column, for the GUI's profile panel.

    For a column used as free text (`role` TEXT) the histogram counts words per text, in 10
    bins, since its most frequent values say nothing. Otherwise it is, for numbers, 10
    equal-width bins labelled "lo–hi" over the finite values (or one bar per value, in value
    order, when there are at most 10 distinct values); for anything else, the 10 most frequent
    values with their counts (labels cut to 60 characters). It is empty when the column has no
    values.
    """
    n = len(series)
    missing = int(series.isna().sum())
    distinct = _nunique(series)
    present = series.dropna()
    histogram: list[tuple[str, int]] = []
    numeric = (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
               and not pd.api.types.is_complex_dtype(series))
    if len(present) and numeric:
        if distinct <= 10:
            counts = present.value_counts().sort_index()
            histogram = [(_fmt_number(v), int(c)) for v, c in counts.items()]
        else:
            v = present.to_numpy(dtype="float64")
            v = v[np.isfinite(v)]
            if len(v):
                counts, edges = np.histogram(v, bins=10)
                histogram = [(f"{_fmt_number(lo)}–{_fmt_number(hi)}", int(c))
                             for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)]
    elif len(present) and role is Role.TEXT:
        words = present.astype(str).str.split().str.len().to_numpy(dtype="float64")
        # 9 bins up to the 95th percentile and one for the long tail, so outliers don't
        # squash every text into the first bar.
        top = float(np.ceil(np.percentile(words, 95)))
        edges = np.unique(np.round(np.linspace(words.min(), max(top, words.min() + 1), 10)))
        counts, _ = np.histogram(np.minimum(words, edges[-1]), bins=edges)
        histogram = [(f"{lo:.0f}–{hi:.0f}", int(c))
                     for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)]
        tail = int((words > edges[-1]).sum())
        if tail:
            last_lo, last_hi, last_c = edges[-2], edges[-1], histogram[-1][1]
            histogram[-1] = (f"{last_lo:.0f}–{last_hi:.0f}", last_c - tail)
            histogram.append((f"{last_hi:.0f}+ words", tail))
        else:
            histogram[-1] = (f"{histogram[-1][0]} words", histogram[-1][1])
    elif len(present):
        try:
            counts = present.value_counts().head(10)
        except TypeError:   # unhashable values (lists, dicts): count their text instead
            counts = present.astype(str).value_counts().head(10)
        histogram = [(_short(v, 60), int(c)) for v, c in counts.items()]
    return ColumnProfile(name="" if series.name is None else str(series.name),
                         dtype=str(series.dtype), missing=missing,
                         missing_pct=100.0 * missing / n if n else 0.0, distinct=distinct,
                         histogram=histogram)
