"""Leakage checks: warnings for features that predict the target perfectly.

A copy or one-to-one recoding of a class-like target, a few-valued feature that maps onto it,
or a perfect linear function of a numeric target; checked on a fixed-seed sample of rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlstudio.engine.data.values import _CLASS_LIKE_MAX
from dlstudio.engine.schema import ColumnInfo, Role

_SAMPLE_ROWS = 200_000      # rows looked at for the leakage check
_LEAK_MIN_ROWS = 20         # fewer paired values than this can match the target by chance


def _leakage_warnings(df: pd.DataFrame, names: list[str], target: str,
                      columns: list[ColumnInfo]) -> list[str]:
    """Warnings for features that predict the target perfectly, on a sample of rows.

    A feature whose values match the target's one-to-one (a copy, or a recoding such as
    'bad'/'good' -> 1/0) is flagged, and so is one with at most 20 values that each go with a
    single target value over 100+ rows. A many-valued column that does so is not: with many
    values that happens by chance. For a numeric target with many values, only a numeric feature
    that is a perfect linear function of it is flagged (e.g. the price in another currency).
    """
    n = len(df)
    rows = np.arange(n)
    if n > _SAMPLE_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(n, _SAMPLE_ROWS, replace=False))
    t = df.iloc[rows, names.index(target)]
    t_info = columns[names.index(target)]
    numeric_target = pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
    class_like = not numeric_target or t_info.distinct <= _CLASS_LIKE_MAX
    try:
        t_codes = pd.factorize(t)[0]    # once for all features; -1 marks a missing target
    except TypeError:                   # unhashable target values: no cheap answer, no warning
        return []
    warnings = []
    for i, info in enumerate(columns):
        if info.role not in (Role.NUMERIC, Role.CATEGORICAL):
            continue
        # A many-valued feature can neither match the classes of a class-like target
        # one-to-one nor be a suspicious many-to-one mapping, so its sampled rows are not even
        # taken (nor factorized: that is the slow part on a big frame).
        if class_like and info.distinct != t_info.distinct and info.distinct > _CLASS_LIKE_MAX:
            continue
        f = df.iloc[rows, i]
        try:
            if class_like:
                message = _class_leak(f, t, t_codes)
            elif pd.api.types.is_numeric_dtype(f) and not pd.api.types.is_bool_dtype(f):
                message = _linear_leak(f, t)
            else:
                message = None
        except TypeError:   # unhashable or incomparable values: no cheap answer, no warning
            message = None
        if message:
            what = message.format(target=f"'{target}'")
            warnings.append(f"Column '{info.name}' {what}. This "
                            f"usually means it was recorded after the outcome was known (target "
                            f"leakage); check it, and set it to ignore if so.")
    return warnings


def _class_leak(f: pd.Series, t: pd.Series, t_codes: np.ndarray) -> str | None:
    f_codes = pd.factorize(f)[0]
    ok = (f_codes >= 0) & (t_codes >= 0)
    fc, tc = f_codes[ok], t_codes[ok]
    if len(fc) < _LEAK_MIN_ROWS:
        return None
    if not ok.all():
        # Codes follow the order of first appearance: renumber them over the rows kept.
        fc, tc = pd.factorize(fc)[0], pd.factorize(tc)[0]
    n_f, n_t = int(fc.max()) + 1, int(tc.max()) + 1
    if n_t < 2:
        return None
    # With codes in order of first appearance, a one-to-one recoding gives equal codes.
    if np.array_equal(fc, tc):
        same = f[ok].astype(str).to_numpy() == t[ok].astype(str).to_numpy()
        return ("is a copy of the target {target}" if bool(np.all(same))
                else "matches the target {target} one-to-one")
    # Each feature value goes with one target value iff there are as many distinct
    # (feature, target) pairs as feature values.
    if (n_f <= _CLASS_LIKE_MAX and len(fc) >= 100
            and len(np.unique(fc.astype(np.int64) * n_t + tc)) == n_f):
        return "predicts the target {target} perfectly"
    return None


def _linear_leak(f: pd.Series, t: pd.Series) -> str | None:
    x = f.to_numpy(dtype="float64", na_value=np.nan)
    y = t.to_numpy(dtype="float64", na_value=np.nan)
    good = np.isfinite(x) & np.isfinite(y)
    x, y = x[good], y[good]
    if len(x) < _LEAK_MIN_ROWS or x.std() == 0 or y.std() == 0:
        return None
    if np.array_equal(x, y):
        return "is a copy of the target {target}"
    if abs(float(np.corrcoef(x, y)[0, 1])) > 0.9999:
        return "is a perfect linear function of the target {target}"
    return None
