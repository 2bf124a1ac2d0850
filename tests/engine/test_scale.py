"""Large tables train at full speed: the batch sizes searched grow with the rows, the learning
rate with the batch size, several batches run per call into TensorFlow, and every epoch visits
every row once in a fresh order. Real (small) training only."""

from __future__ import annotations

import numpy as np
import pytest

from dlstudio.engine import prepare
from dlstudio.engine.config import RunConfig
from dlstudio.engine.features import feature_specs, to_arrays
from dlstudio.engine.hypermodel import (
    MAX_BATCH_SIZE,
    CodedStrings,
    Rows,
    StudioHyperModel,
    TrainingStats,
    batch_size_choices,
    batches,
    make_rows,
    predict,
    stack_rows,
)
from dlstudio.engine.project import Project
from dlstudio.engine.reporter import ListReporter
from dlstudio.engine.templates import get_template
from dlstudio.engine.tf import keras, kt
from studio_data import credit_frame


@pytest.mark.parametrize("rows", [50, 240, 5_000, 25_000])
def test_small_tables_search_the_usual_batch_sizes(rows):
    assert batch_size_choices(rows) == [32, 64, 128, 256]


def test_batch_sizes_grow_with_the_rows_in_powers_of_two():
    assert batch_size_choices(640_000) == [1024, 2048, 4096]
    assert batch_size_choices(64_000) == [128, 256, 512]
    assert batch_size_choices(50_000_000) == [MAX_BATCH_SIZE]
    previous = batch_size_choices(1_000)
    for rows in (10_000, 40_000, 100_000, 400_000, 1_000_000, 5_000_000):
        choices = batch_size_choices(rows)
        assert all(b & (b - 1) == 0 for b in choices)           # powers of two
        assert choices[0] >= previous[0] and choices[-1] >= previous[-1]
        assert rows / choices[0] <= 1_000 or choices[0] == MAX_BATCH_SIZE   # steps per epoch
        previous = choices


def _hypermodel(rows: int, space: dict | None = None, n: int = 240) -> StudioHyperModel:
    template = get_template("credit-scoring")
    df = credit_frame(n)
    schema, task = prepare.resolve_task(df, RunConfig(data="", template=template.name,
                                                      project=""), template)
    specs = feature_specs(schema)
    y = prepare.encode_target(df[task.target], task)
    stats = TrainingStats.from_training(df, specs, y, template.task, 2)
    stats.rows = rows          # what a table of `rows` training rows would search
    return StudioHyperModel(stats, template, space, seed=1)


def _defaults(hypermodel: StudioHyperModel) -> kt.HyperParameters:
    hp = kt.HyperParameters()
    hypermodel.build(hp)
    return hp


def _hp(hps: kt.HyperParameters, name: str):
    return next(h for h in hps.space if h.name == name)


def test_defaults_of_a_small_table_are_unchanged():
    hp = _defaults(_hypermodel(240))
    assert hp.values["batch_size"] == 32
    assert hp.values["learning_rate"] == pytest.approx(1e-3)
    lr = _hp(hp, "learning_rate")
    assert (lr.min_value, lr.max_value) == pytest.approx((1e-4, 1e-2))


def test_a_large_table_starts_with_large_batches_and_a_larger_learning_rate():
    hp = _defaults(_hypermodel(640_000))
    assert hp.values["batch_size"] == 1024
    assert 1e-3 < hp.values["learning_rate"] <= 4e-3
    lr = _hp(hp, "learning_rate")
    assert lr.min_value > 1e-4 and lr.max_value > 1e-2


def test_learning_rate_bounds_the_user_set_are_kept():
    hp = _defaults(_hypermodel(640_000, {"max_learning_rate": 2e-3}))
    lr = _hp(hp, "learning_rate")
    assert lr.max_value == pytest.approx(2e-3)
    assert lr.min_value <= hp.values["learning_rate"] <= 2e-3


def _order(dataset) -> list[int]:
    return [int(v) for _, y in dataset for v in y.numpy()]


def test_every_epoch_visits_every_row_once_in_a_new_reproducible_order():
    n = 1_000
    rows = make_rows({"a": np.arange(n, dtype=np.float32).reshape(-1, 1)},
                     np.arange(n, dtype=np.int32))
    data = batches(rows, 64, shuffle_seed=3)
    assert int(data.cardinality()) == 16
    first, second = _order(data), _order(data)
    assert sorted(first) == sorted(second) == list(range(n))
    assert first != second and first != list(range(n))
    assert _order(batches(rows, 64, shuffle_seed=3)) == first      # same seed, same order
    assert _order(batches(rows, 64)) == list(range(n))            # unshuffled: in order


def test_views_of_shared_rows_batch_and_predict_their_own_rows_only():
    # The search's training and validation rows and the refit's rows of both are views of one
    # set of tensors (no concatenated copy): each view sees its own rows, in the order a Rows
    # of its own would give.
    n, cut = 1_000, 600
    ints = np.arange(n, dtype=np.int32)
    floats = ints.astype(np.float32).reshape(-1, 1)
    cats = np.array([f"v{i % 7}" for i in ints], dtype=object).reshape(-1, 1)
    texts = np.array([f"row {i}" for i in ints], dtype=object).reshape(-1, 1)
    rows = stack_rows({"a": lambda: [floats[:cut], floats[cut:]],
                       "cat": lambda: [cats[:cut], cats[cut:]],
                       "text": lambda: [texts[:cut], texts[cut:]]}, [ints[:cut], ints[cut:]])
    assert isinstance(rows.features["cat"], CodedStrings)       # 7 values: held as codes
    assert not isinstance(rows.features["text"], CodedStrings)  # a value per row: as strings
    train, val = rows.part(0, cut), rows.part(cut, n)
    assert (len(rows), len(train), len(val)) == (n, cut, n - cut)
    own = make_rows({"a": floats[:cut]}, ints[:cut])
    assert _order(batches(train, 64, shuffle_seed=3)) == _order(batches(own, 64, shuffle_seed=3))
    assert sorted(_order(batches(val, 64, shuffle_seed=3))) == list(range(cut, n))
    assert _order(batches(val, 64)) == list(range(cut, n))
    for x, y in batches(val, 64, shuffle_seed=1):
        assert (x["a"].numpy()[:, 0] == y.numpy()).all()
        assert [v.decode() for v in x["cat"].numpy()[:, 0]] == [f"v{i % 7}" for i in y.numpy()]
        assert [v.decode() for v in x["text"].numpy()[:, 0]] == [f"row {i}" for i in y.numpy()]
    assert val.tensors(350, 10_000)["a"].numpy()[:, 0].tolist() == list(range(950, n))
    with pytest.raises(ValueError):
        val.part(0, n - cut + 1)
    assert val.tensors(0, 3)["cat"].numpy().tolist() == [[b"v5"], [b"v6"], [b"v0"]]
    inp = keras.Input(shape=(1,), name="a")
    model = keras.Model({"a": inp}, keras.layers.Rescaling(2.0)(inp))
    val = Rows({"a": val.features["a"]}, val.y, val.start, val.stop)
    assert predict(model, val, batch_size=64)[:, 0].tolist() == (2 * floats[cut:, 0]).tolist()
    assert (predict(model, {"a": floats[cut:]}, batch_size=64)
            == predict(model, val, batch_size=128)).all()


def test_a_prepared_run_frees_the_frames_the_search_holds_as_tensors(tmp_path):
    path = tmp_path / "credit.csv"
    credit_frame(300).to_csv(path, index=False)
    config = RunConfig(project=str(tmp_path / "p"), data=str(path), template="credit-scoring")
    run = prepare.prepare(Project.create(config.project, config), ListReporter())
    y = {k: v.copy() for k, v in run.y.items()}
    test = run.arrays["test"]
    run.drop_parts("train", "validation")
    assert set(run.parts) == set(run.arrays) == {"test"} and run.arrays["test"] is test
    assert all((run.y[k] == y[k]).all() for k in ("train", "validation", "test"))


def test_many_batches_per_call_still_report_every_epoch():
    hypermodel = _hypermodel(2_400, n=2_400)
    df = credit_frame(2_400)
    specs = hypermodel.stats.specs
    task_y = (df["Status"] == "bad").astype(np.int32).to_numpy()
    hp = _defaults(hypermodel)
    model = hypermodel.build(hp)
    assert model.steps_per_execution > 1

    epochs: list[int] = []
    calls: list[int] = []

    class Count(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            calls.append(batch)

        def on_epoch_end(self, epoch, logs=None):
            epochs.append(epoch)
            assert np.isfinite(logs["loss"]) and "val_auc" in logs

    rows = make_rows(to_arrays(df, specs), task_y)
    hypermodel.fit(hp, model, rows, validation_data=rows, epochs=3, verbose=0,
                   callbacks=[Count()])
    assert epochs == [0, 1, 2]
    steps = -(-2_400 // hp.values["batch_size"])                  # 75 batches of 32
    assert steps > model.steps_per_execution
    assert 3 <= len(calls) < 3 * steps       # batches were run several per call
