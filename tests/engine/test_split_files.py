"""The project's saved split: Parquet files typed by the schema, handed to the run as written,
and the CSV split of a project made by the previous release still read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlstudio.engine.config import RunConfig
from dlstudio.engine.errors import ConfigError
from dlstudio.engine.prepare import PreparedRun, prepare
from dlstudio.engine.project import SPLITS, Project
from dlstudio.engine.reporter import ListReporter

# A project folder written by DL Studio 0.1.0 before the split moved to Parquet (made with that
# release's `prepare` from table.csv: data/train.csv, validation.csv, test.csv).
PREVIOUS = Path(__file__).parent / "data" / "previous-release"


def _edge_table(n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    df = pd.DataFrame({
        "row_id": np.arange(n),                                       # ignored: an identifier
        "Income": rng.normal(100, 30, n).round(3),
        "Age": rng.integers(18, 70, n),                               # integers -> float64
        "Home": rng.choice(["rent", "owner", "parents"], n),
        "Insured": rng.random(n) < 0.5,                               # yes/no -> "True"/"False"
        "Code": rng.choice([1.0, 2.0, 3.0], n),                       # numbers made categories
        "Score": [f"{v:.1f}" for v in rng.normal(600, 50, n)],        # numbers stored as text
        "Notes": [" ".join(rng.choice(["late", "paid", "é€", "twice", "on time"], 6))
                  for _ in range(n)],
    })
    df.loc[[3, 17], "Income"] = np.nan
    df.loc[[5, 40], "Home"] = None
    df.loc[[8], "Code"] = np.nan
    df.loc[[9], "Score"] = "unknown"                                  # becomes missing
    df["Status"] = np.where(df["Income"].fillna(100) > 100, "bad", "good")
    return df


def _prepared(tmp_path: Path, frame: pd.DataFrame, **config) -> PreparedRun:
    path = tmp_path / "table.parquet"          # keeps the types (a CSV would make Score numbers)
    frame.to_parquet(path)
    project = Project.create(tmp_path / "p", RunConfig(
        project=str(tmp_path / "p"), data=str(path), max_trials=1, max_epochs=1, **config))
    return prepare(project, ListReporter())


def _assert_parts_equal(got: dict[str, pd.DataFrame], want: dict[str, pd.DataFrame]) -> None:
    assert list(got) == list(want) == list(SPLITS)
    for name in SPLITS:
        pd.testing.assert_frame_equal(got[name], want[name], check_exact=True)


@pytest.mark.parametrize("template, target", [("credit-scoring", "Status"),
                                              ("tabular-regression", "Income")])
def test_prepare_hands_the_run_the_parts_exactly_as_a_later_run_reads_them(
        tmp_path, template, target):
    run = _prepared(tmp_path, _edge_table(), template=template, target=target,
                    text_column="Notes", roles={"Code": "categorical"})
    project = Project.open(tmp_path / "p")
    meta = json.loads(project.project_json.read_text())
    assert meta["split"]["files"] == {n: f"data/{n}.parquet" for n in SPLITS}
    assert sorted(p.name for p in project.data_dir.iterdir()) == [
        "test.parquet", "train.parquet", "validation.parquet"]
    assert project.has_split()
    _assert_parts_equal(run.parts, project.load_split())
    _assert_parts_equal(run.parts, PreparedRun.load(project).parts)

    train = run.parts["train"]
    text = pd.Series([], dtype=str).dtype
    want = {"row_id": text, "Income": np.float64, "Age": np.float64, "Home": text,
            "Insured": text, "Code": text, "Score": np.float64, "Notes": text,
            "Status": text}
    assert train.dtypes.to_dict() == want
    everything = pd.concat(run.parts.values())
    assert set(everything["Insured"]) == {"True", "False"}
    assert set(everything["Code"].dropna()) == {"1", "2", "3"}     # as a user types them
    assert everything["Home"].isna().sum() == 2 and everything["Code"].isna().sum() == 1
    assert everything["Score"].isna().sum() == 1                   # "unknown" is missing
    assert everything["Age"].notna().all()
    assert sum(len(p) for p in run.parts.values()) == len(everything) == (
        78 if target == "Income" else 80)      # rows without a number to predict are left out

    # Only some columns, read from the files alone (the report's class-balance chart).
    only = project.read_split_columns([target])
    _assert_parts_equal(only, {n: run.parts[n][[target]] for n in SPLITS})


def test_a_project_of_the_previous_release_with_a_csv_split_still_loads(tmp_path):
    shutil.copytree(PREVIOUS, tmp_path / "old")
    project = Project.open(tmp_path / "old" / "project")
    assert project.split_sizes == {"train": 38, "validation": 10, "test": 12, "seed": 7}
    assert project.has_split()
    old = PreparedRun.load(project).parts
    assert [len(old[n]) for n in SPLITS] == [38, 10, 12]
    assert old["train"]["Insured"].iloc[0] == "False" and old["train"]["row_id"].iloc[0] == "29"

    # The same table and settings prepared now give the very same parts, types included.
    config = project.config
    new = Project.create(tmp_path / "new", RunConfig(**{
        **config.to_dict(), "project": str(tmp_path / "new"),
        "data": str(tmp_path / "old" / "table.csv")}))
    _assert_parts_equal(prepare(new, ListReporter()).parts, old)
    only = project.read_split_columns(["Status"])
    _assert_parts_equal(only, {n: old[n][["Status"]] for n in SPLITS})

    # A part missing: no split (the run prepares the data again), and load says so in words.
    (project.data_dir / "test.csv").unlink()
    assert not project.has_split()
    with pytest.raises(ConfigError, match="no saved split"):
        project.load_split()


@pytest.mark.parametrize("labels", [
    None,                                                     # regression: shuffled rows
    [0] * 900 + [1] * 100,                                    # two classes, one rare
    [0] * 7 + [1] * 50 + [2] * 5 + [3] * 13 + [4] * 5,        # several, with ties to break
    [1] * 30 + [3] * 30,                                      # codes with a gap
])
def test_the_split_takes_the_very_rows_scikit_learn_takes(labels):
    from sklearn.model_selection import train_test_split

    from dlstudio.engine.prepare import TEST_FRACTION, VALIDATION_FRACTION, split_positions

    n = 1000 if labels is None else len(labels)
    codes = None if labels is None else np.random.default_rng(2).permutation(labels)
    rows = np.arange(n)
    for seed in (0, 7):
        rest, test = split_positions(rows, TEST_FRACTION, seed, codes)
        want_rest, want_test = train_test_split(rows, test_size=TEST_FRACTION,
                                                random_state=seed, stratify=codes)
        np.testing.assert_array_equal(rest, want_rest)
        np.testing.assert_array_equal(test, want_test)
        sub = None if codes is None else codes[rest]
        train, val = split_positions(rest, VALIDATION_FRACTION, seed, sub)
        want = train_test_split(rest, test_size=VALIDATION_FRACTION, random_state=seed,
                                stratify=sub)
        np.testing.assert_array_equal(train, want[0])
        np.testing.assert_array_equal(val, want[1])
