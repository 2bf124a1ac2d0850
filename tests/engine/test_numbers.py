"""Numbers at the edges: outputs in the millions, and infinite values (inf, -inf) in the data.

The fast tests check the pieces (the export's output comparison, how an infinite number becomes
a model input, the warnings, which rows are learned from); one real regression run on house
prices, with infinite cells in a feature and in the target, is shared by the end-to-end tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlstudio.engine.data import check_target, infer_schema
from dlstudio.engine.errors import DataError
from dlstudio.engine.features import FeatureSpec, column_array
from dlstudio.engine.prepare import split_rows
from dlstudio.engine.schema import Role
from dlstudio.engine.templates import TaskType
from studio_data import run_cli

TINY = ("--max-trials", "1", "--max-epochs", "2", "--seed", "1")
NUMBER = FeatureSpec("x", "x", Role.NUMERIC, "float32")


def house_prices(n: int = 300, seed: int = 7) -> pd.DataFrame:
    """Prices from 100,000 to several million that follow from the area, the place and the age."""
    rng = np.random.default_rng(seed)
    area = np.clip(rng.lognormal(np.log(120), 0.7, n), 40, 700).round(1)
    city = rng.choice(["village", "town", "capital"], n)
    per_m2 = pd.Series(city).map({"village": 2500, "town": 6000, "capital": 20000}).to_numpy()
    age = rng.integers(0, 100, n)
    price = area * per_m2 * (1 - 0.003 * age) * rng.lognormal(0, 0.1, n)
    return pd.DataFrame({"area": area, "city": city, "age": age,
                         "garden": rng.uniform(0, 500, n).round(0),
                         "price": np.clip(price, 1e5, 1e7).round(-2)})


# -- the export check: relative to the outputs' size, absolute near zero --------------------------

def _compare(got, want, key: str = "prediction") -> dict[str, float]:
    from dlstudio.engine.export import compare_outputs
    return compare_outputs({key: np.asarray(got).tolist()}, {key: np.asarray(want)})


def test_outputs_in_the_hundreds_of_thousands_match_within_a_float32_step():
    want = np.array([[412_345.5], [398_000.25], [1.5e7]], dtype=np.float32)
    got = np.nextafter(want, np.float32(np.inf))          # one float32 step up: 0.03 at 4e5
    diff = _compare(got, want)
    assert diff["max_abs_difference"] == pytest.approx(1.0)     # the step at 1.5e7
    assert diff["max_relative_difference"] < 1e-7


def test_outputs_that_differ_by_one_percent_fail_in_plain_words():
    want = np.array([[412_345.5], [398_000.25]], dtype=np.float32)
    got = want * np.array([[1.0], [1.01]], dtype=np.float32)
    with pytest.raises(RuntimeError, match=r"differ .* by up to 1% of their size \(at most "
                                           r"0\.001% is allowed\)"):
        _compare(got, want)


def test_outputs_near_zero_are_compared_with_an_absolute_tolerance():
    want = np.array([[0.0, 1.0], [1e-7, 1.0 - 1e-7]], dtype=np.float32)
    _compare(want + 5e-6, want, key="probabilities")          # 50x want near zero: still fine
    with pytest.raises(RuntimeError, match="differ"):
        _compare(want + np.array([[1e-3, 0], [0, 0]]), want, key="probabilities")


def test_non_numbers_and_other_labels_fail_the_export_check():
    with pytest.raises(RuntimeError, match="not numbers"):
        _compare([[np.nan]], np.array([[np.nan]]))
    from dlstudio.engine.export import compare_outputs
    with pytest.raises(RuntimeError, match="different labels"):
        compare_outputs({"label": ["good", "bad"]}, {"label": np.array(["good", "good"])})


# -- infinite values: missing inputs, warnings, rows left out -----------------------------------

def test_infinite_numbers_become_missing_model_inputs():
    numbers = column_array(pd.Series([1.5, np.inf, -np.inf, np.nan, 1e39]), NUMBER)
    assert numbers.dtype == np.float32 and numbers.shape == (5, 1)
    assert numbers[0, 0] == 1.5
    assert np.isnan(numbers[1:, 0]).all()                     # 1e39 is inf as a float32
    text = column_array(pd.Series(["inf", "-Infinity", "2", "#NUM!"], dtype=object), NUMBER)
    assert text[2, 0] == 2 and np.isnan(text[[0, 1, 3], 0]).all()


def test_infinite_values_are_counted_in_plain_words_and_the_column_stays_numeric(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("income,rate,y\n" + "".join(
        f"{v},{r},{i}\n" for i, (v, r) in enumerate(
            [("inf", "1.5"), ("-inf", "Infinity"), ("Infinity", "2"), ("12.5", "3")] * 10)))
    df = pd.read_csv(path)                 # the strings a spreadsheet or pandas writes
    schema = infer_schema(df, target="y")
    assert schema.column("income").role is Role.NUMERIC
    assert schema.column("rate").role is Role.NUMERIC
    assert ("Column 'income' has 30 infinite values (inf or -inf); DL Studio treats them as "
            "missing.") in schema.warnings
    assert ("Column 'rate' has 10 infinite values (inf or -inf); DL Studio treats them as "
            "missing.") in schema.warnings
    df["y"] = df["y"].astype(float)
    df.loc[0, "y"] = -np.inf
    assert ("The target column 'y' has 1 infinite value (inf or -inf); when predicting a "
            "number, DL Studio leaves those rows out, like rows without a target."
            ) in infer_schema(df, target="y").warnings


def test_the_numeric_layer_flags_infinite_values_as_missing_with_its_saved_config():
    from dlstudio.engine.hypermodel import NumericEncoder
    # The config a best.keras saved before infinite values were handled holds: it still loads.
    layer = NumericEncoder.from_config({"name": "numeric", "trainable": True, "fill": [3.0, 1.0],
                                        "mean": [1.0, 0.0], "std": [2.0, 1.0]})
    x = np.array([[np.inf, 5.0], [-np.inf, np.nan], [5.0, 2.0]], dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(layer(x)), [[1.0, 5.0, 1.0, 0.0],
                                                         [1.0, 1.0, 1.0, 1.0],
                                                         [2.0, 2.0, 0.0, 0.0]])


def test_rows_with_an_infinite_number_to_predict_are_left_out():
    df = house_prices(50)
    df.loc[[3, 7], "price"] = [np.inf, -np.inf]
    check_target(df, "price", TaskType.REGRESSION)
    parts = split_rows(df, "price", TaskType.REGRESSION, seed=0)
    kept = pd.concat(parts.values())
    assert len(kept) == 48 and np.isfinite(kept["price"]).all()
    df.loc[:30, "price"] = np.inf
    with pytest.raises(DataError, match="'price' is empty or infinite in 62% of the rows"):
        check_target(df, "price", TaskType.REGRESSION)


# -- one real run: prices in the millions, infinite cells in training and prediction rows --------

@pytest.fixture(scope="module")
def prices(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """A tabular-regression run with --export on prices; 15% of the gardens are infinite, and
    so is one price."""
    root = tmp_path_factory.mktemp("prices")
    df = house_prices()
    rng = np.random.default_rng(0)
    infinite = rng.random(len(df)) < 0.15
    df.loc[infinite, "garden"] = rng.choice([np.inf, -np.inf], infinite.sum())
    df.loc[5, "price"] = np.inf
    df.to_csv(root / "prices.csv", index=False)
    r = run_cli("run", "prices.csv", "--template", "tabular-regression", "--target", "price",
                *TINY, "--project", "p", "--export", "out", cwd=root)
    assert r.code == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert "Column 'garden' has" in r.stdout and "target column 'price' has 1 infinite" in r.stdout
    return root, df


def _new_houses() -> pd.DataFrame:
    df = house_prices(20, seed=11).drop(columns="price")
    df["age"] = df["age"].astype(float)
    return df


INFINITE_CELLS = [(0, "area", np.inf), (1, "garden", -np.inf), (2, "garden", np.inf),
                  (3, "area", -np.inf), (3, "age", np.inf)]


@pytest.fixture(scope="module")
def scored(prices) -> dict[str, pd.DataFrame]:
    """`dlstudio predict` (one process) on 20 new houses, then on their first 4 rows with some
    cells infinite, then on the same 4 rows with those cells empty."""
    root, _ = prices
    new = _new_houses()
    infinite, missing = new.head(4).copy(), new.head(4).copy()
    for row, column, value in INFINITE_CELLS:
        infinite.loc[row, column] = value
        missing.loc[row, column] = np.nan
    pd.concat([new, infinite, missing]).to_csv(root / "new.csv", index=False)
    assert "-inf" in (root / "new.csv").read_text()
    r = run_cli("predict", "out", "new.csv", "--output", "scored.csv", cwd=root)
    assert r.code == 0, r.stderr[-4000:]
    out = pd.read_csv(root / "scored.csv")
    return {"new": out.iloc[:20], "infinite": out.iloc[20:24], "missing": out.iloc[24:]}


def test_inspect_warns_about_infinite_values(cli, tmp_path):
    df = house_prices(100)
    df.loc[[1, 2, 4], "garden"] = [np.inf, -np.inf, np.inf]
    df.to_csv(tmp_path / "h.csv", index=False)
    r = cli("inspect", "h.csv", "--target", "price", "--json")
    assert r.code == 0, r.stderr
    out = json.loads(r.stdout)
    assert {c["name"]: c["role"] for c in out["columns"]}["garden"] == "numeric"
    assert out["warnings"] == ["Column 'garden' has 3 infinite values (inf or -inf); DL Studio "
                               "treats them as missing."]


def test_a_regression_on_prices_in_millions_exports_a_verified_model(prices, scored):
    root, df = prices
    card = json.loads((root / "out" / "model_card.json").read_text())
    assert card["task"] == "regression"
    assert set(card["metrics"]) == {"rmse", "mae", "r2"}
    evaluation = json.loads((root / "p" / "models" / "evaluation.json").read_text())
    assert evaluation["metrics"] == card["metrics"] and evaluation["roc"] is None
    # The regression plots' points and the example rows: the closest predictions, then the
    # furthest.
    residuals = evaluation["residuals"]
    np.testing.assert_allclose(residuals["actual"], evaluation["test"]["y_true"])
    np.testing.assert_allclose(np.subtract(residuals["actual"], residuals["predicted"]),
                               residuals["residual"])
    errors = [abs(e["true"] - e["predicted"]) for e in evaluation["examples"]]
    assert len(errors) == 6 and max(errors[:3]) <= min(errors[3:])
    assert errors[3] == pytest.approx(max(np.abs(residuals["residual"])))
    assert card["data"]["rows"] == len(df) - 1             # the row with an infinite price
    assert card["verified"]["max_relative_difference"] <= 1e-5
    predicted = scored["new"]["prediction"]
    assert np.isfinite(predicted).all()
    assert 1e5 <= predicted.median() <= 1e7


def test_predict_treats_infinite_cells_as_missing(scored):
    got = scored["infinite"]["prediction"].to_numpy()
    want = scored["missing"]["prediction"].to_numpy()
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_the_saved_model_itself_treats_infinite_inputs_as_missing(prices):
    from dlstudio.engine.tf import tf
    root, _ = prices
    serve = tf.saved_model.load(str(root / "out")).signatures["serving_default"]
    rows = _new_houses().head(4)

    def call(value: float) -> np.ndarray:
        inputs = {"area": rows["area"].to_numpy(np.float32),
                  "age": rows["age"].to_numpy(np.float32),
                  "garden": np.array([value, 120.0, -value, value], dtype=np.float32)}
        tensors = {k: tf.constant(v.reshape(-1, 1)) for k, v in inputs.items()}
        tensors["city"] = tf.constant(rows["city"].to_numpy(str).reshape(-1, 1))
        return serve(**tensors)["prediction"].numpy()

    with_inf, with_nan = call(np.inf), call(np.nan)
    assert np.isfinite(with_inf).all()
    np.testing.assert_allclose(with_inf, with_nan, rtol=1e-6)
