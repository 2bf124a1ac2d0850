"""Large tables are read, counted and split without per-value Python work (issue 9), and give
exactly what the simpler code gave: the same distinct counts as pandas, the same split rows as
stratifying on the class strings. No TensorFlow here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from dlstudio.engine.data import load_data, reading
from dlstudio.engine.data.values import _infinite_mask, _nunique
from dlstudio.engine.features import category_strings
from dlstudio.engine.prepare import TEST_FRACTION, VALIDATION_FRACTION, split_rows
from dlstudio.engine.templates import TaskType


@pytest.mark.parametrize("values", [
    [0.0, -0.0, np.nan, np.inf, -np.inf, 1.5, 1.5, np.nan],      # -0.0 is 0.0; NaN not counted
    np.arange(5000) % 977,                                         # integers
    np.arange(300, dtype=np.uint32),
    [np.nan, np.nan],
    [],
    [True, False, True],
    pd.array([1, None, 2, 2], dtype="Int64"),
    ["b", "a", None, "b"],
    [[1], [1], [2]],                                               # unhashable: counted as text
])
def test_distinct_counts_agree_with_pandas(values):
    s = pd.Series(values, dtype="float64" if len(values) == 0 else None)
    expected = (s.nunique() if not len(s) or not isinstance(s.iloc[0], list)
                else s.astype(str).nunique())
    assert _nunique(s) == expected


def _split_on_strings(df: pd.DataFrame, target: str, task: TaskType, seed: int
                      ) -> dict[str, pd.DataFrame]:
    """The split as DL Studio made it before issue 9: frames stratified on the class strings."""
    keep = df[target].notna()
    if task is TaskType.REGRESSION:
        keep &= np.isfinite(pd.to_numeric(df[target], errors="coerce"))
    df = df[keep].reset_index(drop=True)
    if task is not TaskType.REGRESSION:
        df[target] = category_strings(df[target])
    strat = df[target] if task is not TaskType.REGRESSION else None
    rest, test = train_test_split(df, test_size=TEST_FRACTION, random_state=seed, stratify=strat)
    strat = rest[target] if task is not TaskType.REGRESSION else None
    train, val = train_test_split(rest, test_size=VALIDATION_FRACTION, random_state=seed,
                                  stratify=strat)
    return {"train": train.reset_index(drop=True), "validation": val.reset_index(drop=True),
            "test": test.reset_index(drop=True)}


@pytest.mark.parametrize(("task", "labels"), [
    (TaskType.MULTICLASS, ["b", "B", "a", "é", "Z", "10", "9"]),   # code-point order matters
    (TaskType.BINARY, [1.0, 0.0]),                                  # numbers as classes
    (TaskType.REGRESSION, None),
])
def test_the_split_is_the_one_stratifying_on_the_strings_gave(task, labels):
    rng = np.random.default_rng(3)
    n = 3000
    target = (rng.normal(size=n) if labels is None
              else np.array(labels, dtype=object)[rng.integers(0, len(labels), n)])
    target[rng.random(n) < 0.05] = np.nan if labels is None else None
    if labels is None:
        target[:3] = np.inf
    df = pd.DataFrame({"x": rng.normal(size=n), "city": rng.choice(["p", "q", None], n),
                       "y": target})
    ours, theirs = (split_rows(df, "y", task, seed=5), _split_on_strings(df, "y", task, seed=5))
    for name in ("train", "validation", "test"):
        pd.testing.assert_frame_equal(ours[name], theirs[name])
    assert sum(len(p) for p in ours.values()) == int(df["y"].notna().sum()) - (
        3 if labels is None else 0)


def test_a_csv_read_in_parts_is_the_table_one_read_gives(tmp_path, monkeypatch):
    monkeypatch.setattr(reading, "_PARTS_FROM_BYTES", 0)     # parts of a small file, too
    n = 3_000
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "x": rng.normal(size=n).round(6),
        "count": rng.integers(0, 9, n).astype(float),      # whole numbers, missing at the end
        "city": rng.choice(["paris", "lyon", "nice é"], n),
        "code": np.arange(n).astype(str),                  # numbers, then text at the end
        "note": ["a note, with a comma"] * n,
    })
    df.loc[n - 10:, "count"] = np.nan
    df.loc[n - 5:, "code"] = "unknown"
    path = tmp_path / "big.csv"
    df.to_csv(path, index=False)
    whole = load_data(path)
    for rows in (800, n):
        parts = load_data(path, chunk_rows=rows)
        pd.testing.assert_frame_equal(parts, whole)
    assert str(whole["count"].dtype) == "float64" and whole["code"].iloc[0] == "0"


def test_infinite_values_in_text_are_still_found_without_parsing_every_value():
    assert _infinite_mask(pd.Series(["1", "-Infinity", "inf", None, "x"], dtype="str")).tolist() \
        == [False, True, True, False, False]
    assert not _infinite_mask(pd.Series(["yes", "no", None] * 100, dtype="str")).any()


def _strings_one_per_row(series: pd.Series) -> list[str]:
    """category_strings as it was: str() of every value, "" for missing, whole floats as ints."""
    if pd.api.types.is_float_dtype(series):
        whole = series.dropna()
        if len(whole) and (whole == whole.round()).all():
            series = series.astype("Int64")
    return [str(v) for v in series.astype(object).where(series.notna(), "")]


@pytest.mark.parametrize("series", [
    pd.Series(["b", "a", None, "b", "é"], dtype="str"),
    pd.Series(["b", "a", None], dtype=object),
    pd.Series([1.0, 2.0, np.nan, 3.0]),
    pd.Series([1, 2, 3, 2**40, -3]),
    pd.Series([1.5, -0.0, 0.0, np.nan]),
    pd.Series([1, "a", 1.0, True], dtype=object),
    pd.Series([None, None], dtype="str"),
    pd.Series([1, None], dtype="Int64"),
    pd.Series(["x", "y", None], dtype="category"),
])
def test_category_strings_are_the_strings_of_each_value(series):
    out = category_strings(series)
    assert out.dtype == object and out.tolist() == _strings_one_per_row(series)


def test_rows_of_a_category_share_one_string_per_value():
    out = category_strings(pd.Series(["north", "south", None] * 1000, dtype="str"))
    assert len({id(v) for v in out}) == 3
