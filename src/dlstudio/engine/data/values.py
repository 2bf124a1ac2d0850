"""Facts about a column's values that several of the data checks share.

The distinct count (that copes with unhashable values), which values are infinite, and the
number of values up to which a numeric target is treated as classes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_CLASS_LIKE_MAX = 20        # a numeric target with at most this many values is treated as classes


def _nunique(s: pd.Series) -> int:
    try:
        return int(s.nunique(dropna=True))
    except TypeError:   # unhashable values in an object column
        return int(s.dropna().astype(str).nunique())


def _infinite_mask(s: pd.Series) -> np.ndarray:
    """Which values are inf or -inf, as numbers or as text that pandas reads as a number
    ("inf", "-Infinity"); parsed the way the model's inputs are (features.column_array)."""
    none = np.zeros(len(s), dtype=bool)
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_complex_dtype(s):
        return none
    try:
        if not pd.api.types.is_numeric_dtype(s):
            s = pd.to_numeric(s, errors="coerce")
        return np.isinf(s.to_numpy(dtype="float64", na_value=np.nan))
    except (TypeError, ValueError):     # values that are not numbers at all (lists, dates)
        return none
