"""The search's own extensions of KerasTuner, on real tuners and real (tiny) training: the first
trial is the hypermodel's defaults, Stop ends the search through the oracle, the refit after
the search reports its epochs and honours Stop, and where the objective is accuracy each
network's epoch is the one of its lowest validation loss."""

from __future__ import annotations

import numpy as np
import pytest

from dlstudio.engine import pipeline, prepare
from dlstudio.engine import search as search_mod
from dlstudio.engine.events import (
    EndReason,
    EpochEnded,
    Phase,
    PhaseProgress,
    PhaseStarted,
    TrialEnded,
    TrialStarted,
)
from dlstudio.engine.features import feature_specs, to_arrays
from dlstudio.engine.hypermodel import StudioHyperModel, TrainingStats, make_rows
from dlstudio.engine.reporter import CallbackReporter, ListReporter
from dlstudio.engine.templates import get_template
from dlstudio.engine.tf import keras, kt
from studio_data import credit_frame


def _prepare(name: str, target: str | None = None):
    """Arrays, targets and a hypermodel for template `name` on a small learnable table."""
    from dlstudio.engine.config import RunConfig

    template = get_template(name)
    df = credit_frame(240)
    config = RunConfig(data="", template=template.name, project="", target=target)
    schema, task = prepare.resolve_task(df, config, template)
    parts = prepare.split_rows(df, task.target, task.type, seed=1)
    specs = feature_specs(schema)
    arrays = {k: to_arrays(v, specs) for k, v in parts.items()}
    y = {k: prepare.encode_target(v[task.target], task) for k, v in parts.items()}
    stats = TrainingStats.from_training(parts["train"], specs, y["train"], task.type, 2)
    return template, arrays, y, StudioHyperModel(stats, template, seed=1)


@pytest.fixture(scope="module")
def prepared():
    """The credit template (its objective, ROC AUC, chooses its own epochs)."""
    return _prepare("credit-scoring")


def _tuner(prepared, tmp_path, kind, reporter, max_trials=3, max_epochs=2):
    template, _, _, hypermodel = prepared
    control = search_mod.SearchControl(reporter, None, max_trials, max_epochs)
    return search_mod.make_tuner(kind, hypermodel, template, tmp_path / "search", seed=1,
                                 control=control, overwrite=True)


@pytest.mark.parametrize("kind", ["bayesian", "random"])
def test_first_trial_is_the_hypermodels_defaults(prepared, tmp_path, kind):
    reporter = ListReporter()
    tuner = _tuner(prepared, tmp_path, kind, reporter)
    first = tuner.oracle.create_trial("tuner0")
    defaults = kt.HyperParameters()
    prepared[3].build(defaults)          # registers every hyper-parameter at its default
    assert first.status == kt.engine.trial.TrialStatus.RUNNING
    assert first.hyperparameters.values == {
        name: value for name, value in defaults.values.items()
        if name in first.hyperparameters.values}
    assert first.hyperparameters.values      # not an empty configuration


def test_stop_ends_the_search_through_the_oracle_after_the_current_trial(prepared, tmp_path):
    template, arrays, y, _ = prepared
    stop = []
    events = []

    def sink(event):
        events.append(event)
        if isinstance(event, TrialStarted):
            stop.append(True)            # press Stop as soon as the first trial starts

    tuner = _tuner(prepared, tmp_path, "random", CallbackReporter(sink, lambda: bool(stop)),
                   max_trials=5, max_epochs=3)
    result = search_mod.run_search(tuner, make_rows(arrays["train"], y["train"]),
                                   make_rows(arrays["validation"], y["validation"]), template)
    assert result.reason is EndReason.STOPPED
    assert [e.number for e in events if isinstance(e, TrialStarted)] == [1]
    assert result.completed == 1            # the cut trial still counts, with its one epoch
    assert len(tuner.oracle.trials) == 1


def test_the_budget_ends_a_search_that_nobody_stops(prepared, tmp_path):
    template, arrays, y, _ = prepared
    tuner = _tuner(prepared, tmp_path, "bayesian", ListReporter(), max_trials=2, max_epochs=1)
    result = search_mod.run_search(tuner, make_rows(arrays["train"], y["train"]),
                                   make_rows(arrays["validation"], y["validation"]), template)
    assert result.reason is EndReason.BUDGET
    assert result.completed == 2


def _best_trial(hypermodel, best_step: int):
    hp = kt.HyperParameters()
    hypermodel.build(hp)
    trial = kt.engine.trial.Trial(hyperparameters=hp, trial_id="0")
    trial.best_step = best_step
    return trial


def test_refit_reports_each_epoch(prepared):
    _, arrays, y, hypermodel = prepared
    reporter = ListReporter()
    model = pipeline.refit(hypermodel, _best_trial(hypermodel, 2), arrays, y, 1, reporter)
    assert model is not None
    started = [e for e in reporter.events if isinstance(e, PhaseStarted)]
    progress = [e for e in reporter.events if isinstance(e, PhaseProgress)]
    assert [(e.phase, e.steps) for e in started] == [(Phase.REFIT, 3)]
    assert "batches of 32 rows" in started[0].message     # the trial's batch size, as searched
    assert [e.step for e in progress] == [1, 2, 3]
    assert all(np.isfinite(e.logs["loss"]) for e in progress)


def test_refit_honours_stop_and_keeps_nothing_half_trained(prepared):
    _, arrays, y, hypermodel = prepared
    events = []
    reporter = CallbackReporter(events.append,
                                lambda: any(isinstance(e, PhaseProgress) for e in events))
    model = pipeline.refit(hypermodel, _best_trial(hypermodel, 5), arrays, y, 1, reporter)
    assert model is None
    assert [e.step for e in events if isinstance(e, PhaseProgress)] == [1]


def test_the_bayesian_oracle_never_repeats_a_network_it_has_tried(tmp_path):
    """KerasTuner's Gaussian process can propose values already trained (found: film
    snippets, seed 0, the fourth network repeated the first). On a space of three values the
    process runs out of new ideas at once; every trial must still be new, and the search ends
    when nothing new is left."""
    hps = kt.HyperParameters()
    hps.Choice("units", [8, 16, 32], default=8)
    oracle = search_mod.BayesianOracle(objective=kt.Objective("score", "max"), max_trials=6,
                                       num_initial_points=2, hyperparameters=hps, seed=1)
    oracle._set_project_dir(str(tmp_path), "oracle")
    tried, status = [], "RUNNING"
    for i in range(5):
        trial = oracle.create_trial(f"tuner{i}")
        status = trial.status
        if status != kt.engine.trial.TrialStatus.RUNNING:
            break
        tried.append(trial.hyperparameters.values["units"])
        # The smallest network scores best: the process's optimum stays on it.
        oracle.update_trial(trial.trial_id, {"score": 1.0 / trial.hyperparameters.values["units"]})
        trial.status = kt.engine.trial.TrialStatus.COMPLETED    # as the tuner sets it
        oracle.end_trial(trial)
    assert sorted(tried) == [8, 16, 32]
    assert status == kt.engine.trial.TrialStatus.STOPPED


@pytest.mark.parametrize("name, objective", [
    ("sentiment", "val_loss_negated"), ("text-classification", "val_loss_negated"),
    ("tabular-classification", "val_loss_negated"), ("credit-scoring", "val_auc"),
    ("tabular-regression", "val_loss")])
def test_the_epoch_follows_the_loss_where_the_objective_is_accuracy(name, objective):
    searched = search_mod.search_objective(get_template(name))
    assert searched.name == objective
    assert isinstance(searched, search_mod.EpochsByLoss) == (objective == "val_loss_negated")


def test_a_network_is_kept_at_its_lowest_loss_and_scored_by_its_accuracy_there(tmp_path):
    """Film snippets, seed 2, first network: accuracy peaked at epoch 3 of this history, the
    loss was lowest at epoch 1. KerasTuner's own steps (the best-epoch checkpoint, the epoch
    whose metrics it records, the oracle's score) must keep epoch 1 and score its accuracy."""
    from keras_tuner.src.engine import tuner_utils

    history = keras.callbacks.History()
    history.history = {"val_loss": [0.449, 0.501, 0.535], "val_accuracy": [0.778, 0.780, 0.7835]}
    objective = search_mod.search_objective(get_template("sentiment"))
    hps = kt.HyperParameters()
    hps.Choice("units", [8, 16], default=8)
    oracle = search_mod.RandomOracle(objective=objective, max_trials=2, hyperparameters=hps)
    oracle._set_project_dir(str(tmp_path), "oracle")
    trial = oracle.create_trial("tuner0")
    # What KerasTuner's `_run_and_update_trial` does with a finished fit's history:
    oracle.update_trial(trial.trial_id, tuner_utils.convert_to_metrics_dict(history, objective),
                        step=tuner_utils.get_best_step(history, objective))
    trial.status = kt.engine.trial.TrialStatus.COMPLETED
    oracle.end_trial(trial)
    recorded = oracle.get_trial(trial.trial_id)
    assert recorded.best_step == 0                     # the refit trains best_step + 1 epochs
    assert recorded.score == pytest.approx(0.778)

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    saved = []
    checkpoint = tuner_utils.SaveBestEpoch(objective, str(tmp_path / "best.weights.h5"))
    checkpoint.set_model(model)
    checkpoint._save_model = lambda: saved.append(epoch)
    for epoch, (loss, acc) in enumerate(zip(*history.history.values(), strict=True)):
        checkpoint.on_epoch_end(epoch, {"val_loss": loss, "val_accuracy": acc})
    assert saved == [0]


def test_a_real_search_keeps_each_networks_lowest_loss_epoch(tmp_path):
    """End to end on real training: each trial's recorded epoch is the epoch of its lowest
    validation loss in the epoch events, its score the accuracy logged at that epoch, and the
    network reloaded from its checkpoint has that loss."""
    template, arrays, y, hypermodel = _prepare("tabular-classification", target="Status")
    reporter = ListReporter()
    control = search_mod.SearchControl(reporter, None, 2, 8)
    tuner = search_mod.make_tuner("random", hypermodel, template, tmp_path / "search", seed=1,
                                  control=control, overwrite=True)
    validation = make_rows(arrays["validation"], y["validation"])
    result = search_mod.run_search(tuner, make_rows(arrays["train"], y["train"]), validation,
                                   template)
    assert result.completed == 2
    for trial in tuner.oracle.trials.values():
        logs = [e.logs for e in reporter.events
                if isinstance(e, EpochEnded) and e.trial_id == trial.trial_id]
        losses = [log["val_loss"] for log in logs]
        assert trial.best_step == int(np.argmin(losses))
        assert trial.score == pytest.approx(logs[trial.best_step]["val_accuracy"])
        reloaded = tuner.load_model(trial).evaluate(
            validation.tensors(0, len(validation)), y["validation"], verbose=0, return_dict=True)
        assert reloaded["loss"] == pytest.approx(min(losses), rel=1e-4)
        ended = next(e for e in reporter.events
                     if isinstance(e, TrialEnded) and e.trial_id == trial.trial_id)
        assert ended.kept_epoch == trial.best_step + 1 and ended.epochs == len(logs)


@pytest.mark.parametrize(("epochs", "kept", "text"), [
    (6, 2, "at epoch 2 of 6"), (6, 6, "after 6 epochs"), (1, 1, "after 1 epoch"),
    (5, 0, "after 5 epochs")])      # 0: an event written before kept_epoch existed
def test_a_finished_network_says_which_epoch_was_kept(epochs, kept, text):
    ended = TrialEnded(trial_id="0", status="completed", score=0.8, hyperparameters={},
                       seconds=1.0, epochs=epochs, kept_epoch=kept)
    assert ended.epochs_text() == text
