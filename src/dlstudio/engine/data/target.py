"""The target column: guessing it, guessing the positive class, and refusing a bad one.

`guess_target` finds a column named like a template's hint, `guess_positive_class` the class
named like one, and `check_target` raises a DataError, in plain words, for a target that a model
cannot learn from for the task.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from dlstudio.engine.data.values import _CLASS_LIKE_MAX, _infinite_mask
from dlstudio.engine.data.wording import _no_such_column, _pct, _short
from dlstudio.engine.errors import DataError
from dlstudio.engine.templates import TaskType

GENERIC_TARGET_HINTS = ("target", "label", "class", "y", "outcome", "status", "sentiment")


def _normalise_name(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", str(name).strip().lower())


def guess_target(df: pd.DataFrame, hints: Sequence[str]) -> str | None:
    """The first column whose name equals a hint, trying hints in order; None if none does.

    Names and hints are compared case-insensitively, stripped, and with spaces, underscores and
    hyphens removed, so the hint 'loan_status' finds a column 'Loan Status' or 'loan-status'.
    """
    columns = [(str(c), _normalise_name(c)) for c in df.columns]
    for hint in hints:
        wanted = _normalise_name(hint)
        for name, normalised in columns:
            if normalised == wanted:
                return name
    return None


def guess_positive_class(values: Sequence[str], hints: Sequence[str]) -> str | None:
    """The first of `values` equal to a hint (case-insensitive, stripped), trying hints in order.

    Numbers compare by value too, so the hint '1' finds the class '1.0'. Returns the value as
    given, or None when no hint matches.
    """
    for hint in hints:
        h = str(hint).strip().lower()
        h_num = _as_float(h)
        for v in values:
            text = str(v).strip().lower()
            if text == h or (h_num is not None and _as_float(text) == h_num):
                return v
    return None


def check_target(df: pd.DataFrame, target: str, task: TaskType, *,
                 min_per_class: int = 5) -> None:
    """Raise DataError, in plain words, if `target` cannot be learned for `task`; else None.

    Refused: a column that is not there; more than half of the rows missing a target (rows
    missing it are allowed below that and are dropped later); a single value; for BINARY, more
    than two values; for classification, a class with fewer than `min_per_class` rows; for
    REGRESSION, values that are not numbers.
    """
    names = [str(c) for c in df.columns]
    if target not in names:
        raise DataError(_no_such_column(target, names, "target"))
    s = df.iloc[:, names.index(target)]
    n = len(s)
    if n == 0:
        raise DataError(f"The table has no rows, so the target column '{target}' has nothing to "
                        f"learn from.")
    # A number to predict that is infinite is as good as missing: the row is left out.
    infinite = _infinite_mask(s) if task is TaskType.REGRESSION else np.zeros(n, dtype=bool)
    missing = int(s.isna().sum()) + int(infinite.sum())
    if missing / n > 0.5:
        empty = "empty or infinite" if infinite.any() else "empty"
        raise DataError(f"The target column '{target}' is {empty} in {_pct(missing, n)} of the "
                        f"rows ({missing:,} of {n:,}); at most half may be missing. Fill it in, "
                        f"or choose another column as the target.")
    present = s[~infinite].dropna()
    counts = present.value_counts()
    if len(counts) <= 1:
        value = f" ({_short(counts.index[0])!r})" if len(counts) else ""
        needs = ("a classifier needs at least two" if task is not TaskType.REGRESSION
                 else "there is nothing to predict")
        raise DataError(f"The target column '{target}' has only one value{value}; {needs}.")
    if task is TaskType.REGRESSION:
        _check_regression_target(target, present)
        return
    if task is TaskType.BINARY and len(counts) > 2:
        examples = ", ".join(repr(_short(v)) for v in counts.index[:4])
        more = ", ..." if len(counts) > 4 else ""
        raise DataError(f"The target column '{target}' has {len(counts)} different values "
                        f"({examples}{more}), but this template predicts one of two classes. "
                        f"Choose the 'Table: predict a category' template "
                        f"(tabular-classification) instead, or another target column.")
    small = counts[counts < min_per_class]
    if len(small):
        listed = ", ".join(f"'{_short(v)}' has {c} row{'s' if c != 1 else ''}"
                           for v, c in small.iloc[:3].items())
        more = f" (and {len(small) - 3} more classes)" if len(small) > 3 else ""
        advice = "Add examples of these classes, or merge or remove them."
        if (pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present)
                and len(counts) > _CLASS_LIKE_MAX):
            advice = ("The target looks like a number to predict rather than a category: "
                      "choose the 'Table: predict a category' template only for categories, "
                      "and 'Table: predict a number' (tabular-regression) for numbers.")
        raise DataError(f"In the target column '{target}', {listed}{more}: too few rows to "
                        f"split into training, validation and test (at least {min_per_class} "
                        f"per class are needed). {advice}")


def _check_regression_target(target: str, present: pd.Series) -> None:
    if pd.api.types.is_bool_dtype(present):
        raise DataError(f"The target column '{target}' holds yes/no values, but this template "
                        f"predicts a number. Choose a classification template instead.")
    if pd.api.types.is_numeric_dtype(present):
        return
    numbers = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
    bad = present[numbers.isna().to_numpy()]
    if len(bad):
        raise DataError(f"The target column '{target}' must hold numbers to predict, but "
                        f"{len(bad):,} of its values are not numbers (for example "
                        f"{_short(bad.iloc[0])!r}). Fix those values, or choose the 'Table: "
                        f"predict a category' template (tabular-classification) instead.")


def _as_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
