"""Fast tests of engine pieces that need no training: features, events, threshold, project."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dlstudio.engine import events
from dlstudio.engine.config import RunConfig
from dlstudio.engine.errors import ConfigError, DataError
from dlstudio.engine.evaluate import choose_threshold
from dlstudio.engine.features import category_strings, feature_specs, to_arrays
from dlstudio.engine.project import FORMAT_VERSION, Project
from dlstudio.engine.schema import ColumnInfo, Role, Schema


def _schema(*cols: tuple[str, Role]) -> Schema:
    return Schema(rows=3, columns=[ColumnInfo(n, r, "object", 0, 3, "") for n, r in cols])


def test_signature_keys_are_safe_unique_identifiers():
    specs = feature_specs(_schema(("âge", Role.NUMERIC), ("Montant (€)", Role.NUMERIC),
                                  ("montant €", Role.CATEGORICAL), ("1st", Role.TEXT),
                                  ("Age", Role.NUMERIC), ("y", Role.TARGET)))
    assert [s.key for s in specs] == ["age", "Montant", "montant_2", "c_1st", "Age_2"]
    assert [s.dtype for s in specs] == ["float32", "float32", "string", "string", "float32"]


def test_raw_columns_become_n_by_1_arrays_with_missing_values_kept():
    df = pd.DataFrame({"n": ["1.5", None, "x"], "c": [3.0, np.nan, 4.0], "t": ["a b", None, ""]})
    specs = feature_specs(_schema(("n", Role.NUMERIC), ("c", Role.CATEGORICAL), ("t", Role.TEXT)))
    arrays = to_arrays(df, specs)
    assert arrays["n"].shape == (3, 1) and arrays["n"].dtype == np.float32
    assert arrays["n"][0, 0] == 1.5 and np.isnan(arrays["n"][1, 0]) and np.isnan(arrays["n"][2, 0])
    assert arrays["c"][:, 0].tolist() == ["3", "", "4"]       # as a user would type them
    assert arrays["t"][:, 0].tolist() == ["a b", "", ""]
    with pytest.raises(DataError, match="'t'"):
        to_arrays(df.drop(columns=["t"]), specs)


def test_category_strings_of_whole_floats_have_no_decimal_point():
    assert category_strings(pd.Series([1.0, 2.0, None])).tolist() == ["1", "2", ""]
    assert category_strings(pd.Series([1.5, 2.0])).tolist() == ["1.5", "2.0"]


def test_events_round_trip_through_json():
    e = events.EpochEnded(trial_id="3", epoch=2, max_epochs=9,
                          logs={"loss": 0.5, "val_auc": float("nan")})
    d = json.loads(e.to_json())
    assert d["type"] == "epoch_ended" and d["logs"]["val_auc"] is None
    back = events.from_dict(d)
    assert isinstance(back, events.EpochEnded) and back.epoch == 2
    assert events.is_final(events.from_dict(events.SearchFailed(message="x").to_dict()))


def test_threshold_minimises_the_cost_of_errors():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9])
    # A wrong approval (a missed 1) costs 10x a wrong rejection: flag more rows as positive.
    cautious = choose_threshold(y, p, "cost", cost_false_approval=10, cost_false_rejection=1)
    lenient = choose_threshold(y, p, "cost", cost_false_approval=1, cost_false_rejection=10)
    assert cautious <= 0.4 < 0.7 <= lenient
    assert 0.0 <= choose_threshold(y, p, "ks") <= 1.0


def test_project_folder_refuses_newer_formats_and_foreign_folders(tmp_path):
    config = RunConfig(data="d.csv", template="sentiment", project=str(tmp_path / "p"))
    project = Project.create(tmp_path / "p", config)
    assert Project.open(tmp_path / "p").config == config
    meta = json.loads(project.project_json.read_text())
    meta["format_version"] = FORMAT_VERSION + 1
    project.project_json.write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="newer DL Studio"):
        Project.open(tmp_path / "p")
    with pytest.raises(ConfigError, match="not a DL Studio project"):
        Project.open(tmp_path)
    with pytest.raises(ConfigError, match="already holds"):
        Project.create(tmp_path / "p", config)
    assert not list((tmp_path / "p").glob(".*.tmp"))      # atomic writes leave no debris


def test_run_config_rejects_impossible_budgets():
    with pytest.raises(ConfigError, match="trials"):
        RunConfig(data="d", template="sentiment", project="p", max_trials=0)
    with pytest.raises(ConfigError, match="tuner"):
        RunConfig(data="d", template="sentiment", project="p", tuner="grid")


def _edge_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "f": [1.5, np.nan, 1e-05, -0.0, 1e16, 123456789.123456789, np.inf, -np.inf],
        "i": [1, 2, 3, -4, 0, 10**12, 7, 8],
        "s": ["a", None, "b,c", 'say "hi"', "line\nbreak", "", "é€", " x "],
        "n": pd.array([1, None, 3, 4, 5, 6, 7, 8], dtype="Int64"),
    })


@pytest.mark.parametrize("extra", [None, "bool", "mixed"])
def test_a_split_reads_back_the_same_whichever_csv_writer_wrote_it(tmp_path, extra):
    from dlstudio.engine.project import table_csv_bytes

    frame = _edge_frame()
    if extra == "bool":
        frame["b"] = [True, False] * 4           # pandas writes True, pyarrow true
    elif extra == "mixed":
        frame["m"] = [1, "a", 2.5, None, "b", 3, "c", "d"]
    ours, theirs = tmp_path / "ours.csv", tmp_path / "pandas.csv"
    ours.write_bytes(table_csv_bytes(frame))
    frame.to_csv(theirs, index=False)
    # pyarrow quotes the header's names, pandas does not: which writer ran.
    assert ours.read_bytes().startswith(b'"f"') == (extra is None)
    pd.testing.assert_frame_equal(pd.read_csv(ours), pd.read_csv(theirs))
    text = [c for c in frame.columns if c not in ("f", "i", "n")]
    pd.testing.assert_frame_equal(pd.read_csv(ours, dtype=str)[text],
                                  pd.read_csv(theirs, dtype=str)[text])
