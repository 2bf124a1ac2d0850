"""From table columns to model inputs: one [N, 1] array per raw column.

This mapping is shared by training, evaluation, export and `predict`, so the SavedModel's serving
signature and the training data always agree. Pandas and NumPy only: no TensorFlow here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dlstudio.engine.errors import DataError
from dlstudio.engine.schema import Role, Schema


@dataclass(frozen=True)
class FeatureSpec:
    column: str      # the column's name in the user's data
    key: str         # the model input / serving signature key (a safe identifier)
    role: Role       # numeric, categorical or text
    dtype: str       # "float32" or "string"


def _safe_key(name: str, taken: set[str]) -> str:
    # Signature keys must be identifiers TF Serving accepts: ASCII letters, digits and '_'.
    # Accents are dropped, not the letters they sit on ("âge" -> "age").
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    key = re.sub(r"[^0-9A-Za-z_]+", "_", ascii_name.strip()).strip("_") or "column"
    if not key[0].isalpha():
        key = f"c_{key}"
    base, n = key, 2
    while key.lower() in taken:
        key, n = f"{base}_{n}", n + 1
    taken.add(key.lower())
    return key


def feature_specs(schema: Schema) -> list[FeatureSpec]:
    """The model's inputs, in schema order, for every numeric, categorical and text column."""
    taken: set[str] = set()
    specs = []
    for c in schema.features:
        dtype = "float32" if c.role is Role.NUMERIC else "string"
        specs.append(FeatureSpec(c.name, _safe_key(c.name, taken), c.role, dtype))
    return specs


def category_strings(series: pd.Series) -> np.ndarray:
    """Categorical values as the strings a user would type: 3.0 -> "3", missing -> ""."""
    if pd.api.types.is_float_dtype(series):
        whole = series.dropna()
        if len(whole) and (whole == whole.round()).all():
            series = series.astype("Int64")
    text = pd.api.types.is_string_dtype(series.dtype) and series.dtype != object
    if text or pd.api.types.is_integer_dtype(series.dtype):
        # Text (pandas' str dtype) or integers: one Python string per distinct value, shared by
        # its rows (a million rows of a 12-valued column hold 12 strings, not a million; the
        # same strings as below).
        codes, uniques = pd.factorize(series)
        strings = np.array([*(str(v) for v in uniques), ""], dtype=object)
        return strings[codes]      # code -1 (missing) is the last: ""
    out = series.astype(object).where(series.notna(), "")
    return np.asarray([str(v) for v in out], dtype=object)


def column_array(series: pd.Series, spec: FeatureSpec) -> np.ndarray:
    """One column as an [N, 1] array: float32 with NaN for missing, or strings ("" for missing).

    A number that is not finite (inf, -inf, or too large for float32) counts as missing.
    """
    if spec.dtype == "float32":
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(over="ignore"):
            values = values.astype(np.float32)
        values[~np.isfinite(values)] = np.nan
        return values.reshape(-1, 1)
    return category_strings(series).reshape(-1, 1)


def to_arrays(df: pd.DataFrame, specs: list[FeatureSpec]) -> dict[str, np.ndarray]:
    """The model inputs for the rows of `df`; a DataError names any column the data lacks."""
    missing = [s.column for s in specs if s.column not in df.columns]
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        raise DataError(
            f"The data has no column {names}, which the model needs as input. "
            f"Columns found: {', '.join(map(str, df.columns))}."
        )
    return {s.key: column_array(df[s.column], s) for s in specs}
