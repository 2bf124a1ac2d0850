"""Schema inference: a role and a plain reason for every column, with the warnings to show.

`infer_schema` applies the role rules (mostly empty, constant, yes/no, dates, identifiers,
numbers stored as text, free text, categories), counts infinite values in numeric columns and
the target, and adds the leakage warnings of `leakage`.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from dlstudio.engine.data.leakage import _leakage_warnings
from dlstudio.engine.data.values import _infinite_mask, _nunique
from dlstudio.engine.data.wording import _list_names, _no_such_column, _pct, _pct_f, _short
from dlstudio.engine.errors import DataError
from dlstudio.engine.schema import ColumnInfo, Role, Schema

# Thresholds of the schema rules, named so the rules below read as sentences.
_MOSTLY_EMPTY = 0.95        # fraction missing from which a column is ignored
_NUMERIC_AS_TEXT = 0.95     # fraction of text values that must parse as numbers
_DATE_LIKE = 0.95           # fraction of text values that must look like dates
_TEXT_AVG_CHARS = 30        # average length above which distinct strings are free text
_TEXT_AVG_SPACES = 3        # ... or this many spaces on average (several words)
_SAMPLE_VALUES = 10_000     # values looked at for the string checks (length, parsing, dates)


def infer_schema(df: pd.DataFrame, *, target: str | None = None,
                 text_column: str | None = None) -> Schema:
    """Give every column of `df` a role and a plain-language reason, with warnings to show.

    Promises one ColumnInfo per column, in column order. `target` becomes Role.TARGET and
    `text_column` Role.TEXT (DataError if either is not a column, or both are the same). Other
    columns: mostly empty (>= 95% missing) or constant -> IGNORE; booleans -> CATEGORICAL;
    dates -> IGNORE; numbers -> NUMERIC unless they look like a row identifier; text that is
    >= 95% numbers -> NUMERIC (the values are left as text: convert with pd.to_numeric(...,
    errors="coerce")); long or many-word distinct strings -> TEXT; short strings that are all
    different -> IGNORE (identifier); other strings -> CATEGORICAL. Every ignored column gets a
    warning; so does a feature that predicts the target perfectly (suspected leakage).
    Expensive checks use a fixed-seed sample: a million rows of 20 columns take ~1.5 s.
    """
    names = [str(c) for c in df.columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"Column names must be unique, but {_list_names(dupes)} appear more than "
                        f"once. Rename them and import the data again.")
    for given, what in ((target, "target"), (text_column, "text")):
        if given is not None and given not in names:
            raise DataError(_no_such_column(given, names, what))
    if target is not None and target == text_column:
        raise DataError(f"The column '{target}' cannot be both the target and the text column.")

    columns: list[ColumnInfo] = []
    warnings: list[str] = []
    for i, name in enumerate(names):
        s = df.iloc[:, i]
        missing = int(s.isna().sum())
        distinct = _nunique(s)
        if name == target:
            role, reason, warning = Role.TARGET, "chosen as the target", None
        elif name == text_column:
            role, reason, warning = Role.TEXT, "chosen as the text column", None
        else:
            role, reason, warning = _infer_role(name, s, missing, distinct)
        columns.append(ColumnInfo(name=name, role=role, dtype=str(s.dtype), missing=missing,
                                  distinct=distinct, reason=reason))
        if warning:
            warnings.append(warning)
        if role in (Role.NUMERIC, Role.TARGET):
            warnings.extend(_infinite_warnings(name, s, role))
    if target is not None:
        warnings.extend(_leakage_warnings(df, names, target, columns))
    return Schema(rows=len(df), columns=columns, warnings=warnings)


def _infer_role(name: str, s: pd.Series, missing: int,
                distinct: int) -> tuple[Role, str, str | None]:
    """(role, reason, warning or None) for a column the user did not assign."""
    n = len(s)
    present = n - missing
    if n and missing / n >= _MOSTLY_EMPTY:
        pct = _pct(missing, n)
        return (Role.IGNORE, f"mostly empty ({pct} missing)",
                f"Column '{name}' is mostly empty ({pct} missing), so it will be ignored.")
    if distinct <= 1:
        only = f" ({_short(s.dropna().iloc[0])!r})" if distinct == 1 else ""
        return (Role.IGNORE, "constant: only one value",
                f"Column '{name}' has only one value{only}, so it will be ignored.")
    if pd.api.types.is_bool_dtype(s):
        return Role.CATEGORICAL, "yes/no values", None
    if pd.api.types.is_datetime64_any_dtype(s):
        return Role.IGNORE, "date", _date_warning(name)
    if isinstance(s.dtype, pd.CategoricalDtype):
        return Role.CATEGORICAL, f"{distinct} distinct values", None
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_complex_dtype(s):
        if distinct == present and _looks_like_numeric_id(name, s):
            return Role.IGNORE, "identifier: every value is different", _id_warning(name)
        return Role.NUMERIC, "numbers", None
    if pd.api.types.is_string_dtype(s) or s.dtype == object:
        return _infer_text_role(name, s, present, distinct)
    return (Role.IGNORE, f"unsupported type ({s.dtype})",
            f"Column '{name}' holds values of type {s.dtype}, which cannot be used as an input, "
            f"so it will be ignored.")


_ID_NAME = re.compile(r"(?:^|[\s_\-.#])(?:id|uuid|guid|key|no|nr)$|^(?:index|idx|row|rowid|"
                      r"row_?num(?:ber)?|unnamed: ?\d+)$", re.IGNORECASE)
_CAMEL_ID = re.compile(r"[a-z0-9]I[Dd]$")


def _looks_like_id_name(name: str) -> bool:
    n = name.strip()
    return bool(_ID_NAME.search(n) or _CAMEL_ID.search(n))


def _looks_like_numeric_id(name: str, s: pd.Series) -> bool:
    # Called only when every present value is different; a real measurement (a price, a
    # timestamp in seconds) can be too, so also require whole numbers and an id-like name or
    # consecutive values (a row counter, in any order).
    v = s.dropna().to_numpy()
    if not pd.api.types.is_integer_dtype(s):
        v = v.astype("float64")
        if not np.all(np.isfinite(v)) or not np.all(np.mod(v, 1) == 0):
            return False
    if _looks_like_id_name(name):
        return True
    return len(v) > 1 and float(v.max()) - float(v.min()) + 1 == len(v)


_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
                   r"(?:Z|[+-]\d{2}:?\d{2})?|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}"
                   r"(?: \d{1,2}:\d{2}(?::\d{2})?)?|\d{4}/\d{1,2}/\d{1,2}")


def _infer_text_role(name: str, s: pd.Series, present: int,
                     distinct: int) -> tuple[Role, str, str | None]:
    sample = _sample_values(s)
    stripped = sample.str.strip()
    numbers = pd.to_numeric(stripped, errors="coerce")
    parsed = float(numbers.notna().mean())
    if parsed >= _NUMERIC_AS_TEXT:
        warning = None
        if parsed < 1:
            warning = (f"Column '{name}' holds numbers stored as text; about {_pct_f(1 - parsed)}"
                       f" of its values are not numbers and will be treated as missing.")
        return Role.NUMERIC, "numbers (stored as text)", warning
    if float(stripped.str.fullmatch(_DATE).mean()) >= _DATE_LIKE:
        return Role.IGNORE, "date", _date_warning(name)
    avg_chars = float(sample.str.len().mean())
    avg_spaces = float(sample.str.count(" ").mean())
    many_distinct = distinct >= 0.5 * present or distinct > 1000
    if many_distinct and (avg_chars > _TEXT_AVG_CHARS or avg_spaces >= _TEXT_AVG_SPACES):
        return Role.TEXT, f"long free text (avg {avg_chars:.0f} characters)", None
    if distinct == present:
        return Role.IGNORE, "identifier: every value is different", _id_warning(name)
    return Role.CATEGORICAL, f"{distinct} distinct values", None


def _infinite_warnings(name: str, s: pd.Series, role: Role) -> list[str]:
    count = int(_infinite_mask(s).sum())
    if not count:
        return []
    values = f"{count:,} infinite value{'s' if count != 1 else ''} (inf or -inf)"
    if role is Role.TARGET:
        return [f"The target column '{name}' has {values}; when predicting a number, DL Studio "
                f"leaves those rows out, like rows without a target."]
    return [f"Column '{name}' has {values}; DL Studio treats them as missing."]


def _id_warning(name: str) -> str:
    return (f"Column '{name}' looks like an identifier (every value is different), so it will be "
            f"ignored.")


def _date_warning(name: str) -> str:
    return (f"Column '{name}' holds dates, so it will be ignored (dates are not used as inputs; "
            f"add columns such as the month or the age in days if they matter).")


def _sample_values(s: pd.Series) -> pd.Series:
    """Up to _SAMPLE_VALUES non-missing values as str, picked with a fixed seed."""
    positions = np.flatnonzero(s.notna().to_numpy())
    if len(positions) > _SAMPLE_VALUES:
        # NumPy's Generator picks k of n in O(k); pandas' sample shuffles all n positions
        # first, holding Python's lock for ~100 ms on a million rows (the GUI infers on a
        # pool thread, and its window would stall). The picked rows are taken from the column
        # itself: the same values as from s.dropna(), without copying every present value.
        rows = np.random.default_rng(0).choice(len(positions), _SAMPLE_VALUES, replace=False)
        positions = positions[np.sort(rows)]
    elif len(positions) == len(s):
        return s.astype(str)
    return s.iloc[positions].astype(str)
