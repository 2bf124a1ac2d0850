"""Ensembles, on a real (tiny) search: the rule that picks k, the validation scores it reads, and
one full run whose ensemble is exported, reloaded in fresh processes and used by `dlstudio
predict` unchanged."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from dlstudio.engine import ensemble, pipeline
from dlstudio.engine.config import RunConfig
from dlstudio.engine.events import (
    Log,
    Phase,
    PhaseProgress,
    PhaseStarted,
    SearchFinished,
)
from dlstudio.engine.features import to_arrays
from dlstudio.engine.prepare import PreparedRun
from dlstudio.engine.project import Project
from dlstudio.engine.reporter import CallbackReporter, ListReporter
from dlstudio.engine.templates import TaskType, deciding_objective
from studio_data import credit_frame, run_cli


@pytest.mark.parametrize(("scores", "direction", "k"), [
    ([0.80, 0.79, 0.78], "max", 1),              # no average beats one network
    ([0.80, 0.81, 0.83, 0.82], "max", 3),        # the best average
    ([0.80, 0.82, 0.82], "max", 2),              # a tie goes to fewer networks
    ([0.80, 0.80005], "max", 1),                 # a gain below MIN_GAIN is noise
    ([0.50, 0.45, 0.47], "min", 2),              # a loss: lower is better
])
def test_k_is_the_best_average_on_validation(scores, direction, k):
    assert ensemble.pick_k(scores, direction) == k


@pytest.mark.parametrize(("objective", "direction", "task", "deciding"), [
    ("val_accuracy", "max", TaskType.BINARY, ("val_loss", "min")),
    ("val_accuracy", "max", TaskType.MULTICLASS, ("val_loss", "min")),
    ("val_auc", "max", TaskType.BINARY, ("val_auc", "max")),
    ("val_loss", "min", TaskType.MULTICLASS, ("val_loss", "min")),
    ("val_rmse", "min", TaskType.REGRESSION, ("val_rmse", "min")),
])
def test_accuracy_hands_the_choice_of_k_and_epochs_to_the_log_loss(objective, direction, task,
                                                                    deciding):
    assert deciding_objective(objective, direction, task) == deciding


def test_on_few_rows_the_log_loss_keeps_an_average_that_accuracy_would_drop():
    """The fine-food case in miniature: the best network is right on one row more, but sure of
    its two mistakes; the average of two is right on one row less but far better
    calibrated. Accuracy keeps one network; the log loss, which decides, keeps the average."""
    y = np.array([1] * 6 + [0] * 4)
    best = np.array([0.9, 0.9, 0.9, 0.9, 0.9, 0.6, 0.01, 0.01, 0.99, 0.99])
    second = np.array([0.7, 0.7, 0.7, 0.7, 0.4, 0.3, 0.3, 0.3, 0.3, 0.3])
    outs = [np.column_stack([1 - p, p]) for p in (best, second)]
    averages = [outs[0], (outs[0] + outs[1]) / 2]
    by_accuracy = [ensemble.validation_score("val_accuracy", TaskType.BINARY, y, a)
                   for a in averages]
    deciding, direction = deciding_objective("val_accuracy", "max", TaskType.BINARY)
    by_loss = [ensemble.validation_score(deciding, TaskType.BINARY, y, a) for a in averages]
    assert by_accuracy == [0.8, 0.7]
    assert ensemble.pick_k(by_accuracy, "max") == 1
    assert by_loss[1] < by_loss[0] and ensemble.pick_k(by_loss, direction) == 2
    message = ensemble.choice_message(2, "val_accuracy", by_accuracy, deciding, by_loss, 640,
                                      1.0)
    assert message.startswith("The average of the best 2 networks predicts the validation "
                              "rows better than the best network alone: log loss ")
    assert "val_accuracy 0.7000 against 0.8000" in message and "640 rows" in message


def test_validation_scores_agree_with_the_keras_metrics_the_search_optimises():
    from dlstudio.engine.tf import keras

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.clip(0.6 * y + rng.random(400) * 0.5, 0.01, 0.99)
    out = np.column_stack([1 - p, p])
    auc = keras.metrics.AUC(num_thresholds=2000)
    auc.update_state(y, p)
    assert ensemble.validation_score("val_auc", TaskType.BINARY, y, out) == pytest.approx(
        float(auc.result()), abs=2e-3)
    acc = keras.metrics.BinaryAccuracy()
    acc.update_state(y, p)
    assert ensemble.validation_score("val_accuracy", TaskType.BINARY, y, out) == pytest.approx(
        float(acc.result()))
    loss = keras.losses.BinaryCrossentropy()(y.astype("float32"), p.astype("float32"))
    assert ensemble.validation_score("val_loss", TaskType.BINARY, y, out) == pytest.approx(
        float(loss), rel=1e-4)
    values = rng.normal(size=50)
    pred = values + rng.normal(scale=0.3, size=50)
    assert ensemble.validation_score("val_rmse", TaskType.REGRESSION, values, pred) == \
        pytest.approx(float(np.sqrt(np.mean((values - pred) ** 2))))


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory):
    """A full run whose choice is made to keep two members, whatever the validation scores
    say (the rule itself is tested above): the path after the choice — refit of each member,
    evaluation, export, verification — is what this exercises, all of it real."""
    root = tmp_path_factory.mktemp("ensemble")
    data = root / "credit.csv"
    credit_frame(300).to_csv(data, index=False)
    config = RunConfig(data=str(data), template="credit-scoring", project=str(root / "project"),
                       max_trials=3, max_epochs=3, seed=3, export=str(root / "export"))
    reporter = ListReporter()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ensemble, "pick_k", lambda scores, direction: 2)
        final = pipeline.run(config, reporter)
    assert isinstance(final, SearchFinished), final
    return root, Project.open(root / "project"), reporter.events, final


def test_the_ensemble_is_its_own_phase_then_each_member_is_refitted(ensemble_run):
    _, project, events, final = ensemble_run
    phases = [(e.phase, e.steps) for e in events if isinstance(e, PhaseStarted)]
    assert phases[0] == (Phase.ENSEMBLE, 3)
    assert [e.step for e in events
            if isinstance(e, PhaseProgress) and e.phase == Phase.ENSEMBLE] == [1, 2, 3]
    assert any(isinstance(e, Log) and "average of the best 2 networks" in e.message
               for e in events)
    members = project.ensemble["members"]
    refit_steps = sum(1 for e in events
                      if isinstance(e, PhaseProgress) and e.phase == Phase.REFIT)
    assert phases[1][0] == Phase.REFIT and phases[1][1] == refit_steps
    assert "the 2 networks of the ensemble" in next(
        e.message for e in events if isinstance(e, PhaseStarted) and e.phase == Phase.REFIT)
    assert final.ensemble_size == 2 and project.read_evaluation().ensemble_size == 2
    assert len(members) == 2 and project.ensemble["k"] == 2
    assert members[0]["trial_id"] == project.meta["best"]["trial_id"]
    assert members[0]["score"] >= members[1]["score"]       # best first (val_auc: max)
    # Each trial wrote its TensorBoard logs under the project.
    for trial_id in {e.trial_id for e in events if type(e).__name__ == "TrialEnded"}:
        logs = project.tensorboard_dir / trial_id / "execution0" / "validation"
        assert list(logs.glob("events.out.tfevents.*")), logs


def _numeric_means(model) -> list[float]:
    from dlstudio.engine.hypermodel import NumericEncoder
    member = model.get_layer("member_1")
    return next(layer.mean for layer in member.layers if isinstance(layer, NumericEncoder))


def test_after_the_test_each_member_trains_once_more_on_every_row_for_the_export(ensemble_run):
    """The final training: after the evaluation, both members learn their preprocessing and
    weights again from all 300 rows (test rows included), and that model is the export; the
    test figures stay those of the tested model, and the card says which is which."""
    root, project, events, _ = ensemble_run
    phases = [e.phase for e in events if isinstance(e, PhaseStarted)]
    assert phases.index(Phase.EVALUATE) < phases.index(Phase.FINAL) < phases.index(Phase.EXPORT)
    start = next(e for e in events if isinstance(e, PhaseStarted) and e.phase == Phase.FINAL)
    assert start.networks == 2 and "all 300 rows, test rows included" in start.message
    assert start.steps == sum(1 for e in events
                              if isinstance(e, PhaseProgress) and e.phase == Phase.FINAL)
    assert project.read_evaluation().final_fit_rows == 300
    assert project.export_model_path == project.final_model_path
    card = json.loads((root / "export" / "model_card.json").read_text())
    assert card["final_fit_rows"] == 300
    assert card["metrics"] == project.read_evaluation().metrics
    assert "trained once more, with the same settings, on all 300 rows" in (
        root / "export" / "model_card.md").read_text()

    tested = pipeline.load_best_model(project)
    exported = pipeline.load_best_model(project, project.export_model_path)
    run = PreparedRun.load(project)
    numeric = [s for s in run.specs if s.role.value == "numeric"]
    every_row = pd.concat([run.parts[k] for k in ("train", "validation", "test")])
    for model, frame in ((tested, run.parts["train"]), (exported, every_row)):
        values = to_arrays(frame, numeric)
        want = [float(np.nanmean(np.where(np.isfinite(values[s.key]), values[s.key], np.nan)))
                for s in numeric]
        np.testing.assert_allclose(_numeric_means(model), want, rtol=1e-4)
    arrays = to_arrays(run.parts["test"], run.specs)
    assert not np.allclose(pipeline.model_outputs(tested, arrays, TaskType.BINARY),
                           pipeline.model_outputs(exported, arrays, TaskType.BINARY), atol=1e-3)


def test_recorded_validation_scores_are_the_averages_of_the_searched_networks(ensemble_run):
    """Reloads the search from disk and checks the scores project.json keeps for k = 1, 2, 3;
    then a Stop pressed after the first member leaves the best network alone."""
    from dlstudio.engine import search as search_mod
    from dlstudio.engine.hypermodel import StudioHyperModel, TrainingStats

    _, project, _, _ = ensemble_run
    run = PreparedRun.load(project)
    stats = TrainingStats.from_training(run.parts["train"], run.specs, run.y["train"],
                                        run.task.type, 2)
    control = search_mod.SearchControl(ListReporter(), None, 3, 3)
    tuner = search_mod.make_tuner("bayesian", StudioHyperModel(stats, run.template, seed=3),
                                  run.template, project.search_dir, 3, control, overwrite=False)
    val, y = run.arrays["validation"], run.y["validation"]
    outs = [pipeline.model_outputs(tuner.load_model(t), val, TaskType.BINARY)
            for t in tuner.oracle.get_best_trials(3)]
    recorded = project.ensemble["validation_scores"]
    for k in (1, 2, 3):
        want = ensemble.validation_score("val_auc", TaskType.BINARY, y, sum(outs[:k]) / k)
        assert recorded[str(k)] == pytest.approx(want, abs=1e-6)

    events = []
    stop_after_one = CallbackReporter(events.append, lambda: any(
        isinstance(e, PhaseProgress) for e in events))
    choice = ensemble.choose(tuner, run.template, TaskType.BINARY, val, y, stop_after_one,
                             lambda m, a: pipeline.model_outputs(m, a, TaskType.BINARY))
    assert choice.k == 1 and len(choice.models) == 1 and len(choice.scores) == 1
    assert ensemble.build(choice.models) is choice.models[0]


def test_the_ensemble_export_round_trips_and_predict_uses_it_unchanged(ensemble_run):
    root, project, _, final = ensemble_run
    export = root / "export"
    assert final.export_dir == str(export)
    card = json.loads((export / "model_card.json").read_text())
    assert [m["trial_id"] for m in card["ensemble"]] == [
        m["trial_id"] for m in project.ensemble["members"]]
    assert all(m["hyperparameters"] for m in card["ensemble"])
    assert card["verified"]["rows"] > 0        # reloaded in a fresh process and compared
    assert "An ensemble of 2 networks" in (export / "model_card.md").read_text()

    # The exported model (saved after the run: the final training on every row) is one Keras
    # model averaging two networks.
    model = pipeline.load_best_model(project, project.export_model_path)
    assert ensemble.size(model) == 2
    run = PreparedRun.load(project)
    test = run.parts["test"]
    arrays = to_arrays(test, run.specs)
    want = pipeline.model_outputs(model, arrays, TaskType.BINARY)
    members = [pipeline.model_outputs(model.get_layer(f"member_{i}"), arrays, TaskType.BINARY)
               for i in (1, 2)]
    np.testing.assert_allclose(want, (members[0] + members[1]) / 2, atol=1e-6)
    assert not np.allclose(members[0], members[1], atol=1e-3)   # two different networks

    # `dlstudio predict`, in a fresh process, reads the export as it reads any export.
    out = root / "scored.csv"
    result = run_cli("predict", export, project.data_dir / "test.parquet", "--output", out,
                     cwd=root)
    assert result.code == 0, result.stderr
    scored = pd.read_csv(out)
    np.testing.assert_allclose(scored[f"probability_{card['classes'][1]}"], want[:, 1],
                               rtol=1e-5, atol=1e-5)
    threshold = card["threshold"]
    expected = np.where(want[:, 1] >= threshold, card["classes"][1], card["classes"][0])
    assert list(scored["predicted_label"]) == list(expected)
    assert math.isfinite(final.best_score)



def test_the_ensemble_exports_to_tflite_and_onnx_each_verified_in_its_runtime(ensemble_run,
                                                                              tmp_path):
    """The whole-model TFLite of the table ensemble, and its ONNX core: both members' cores and
    the average behind one set of preprocessing steps (the members of a table share theirs:
    the same training statistics), each run in a fresh process in its own runtime."""
    from dlstudio.engine import deploy
    from dlstudio.engine import export as ex
    from dlstudio.engine.records import ModelCard
    from dlstudio.engine.tf import tf

    root, project, _, _ = ensemble_run
    out = tmp_path / "out"            # the run's export: its SavedModel is what TFLite converts
    shutil.copytree(root / "export", out)
    card = ModelCard.from_dict(json.loads((out / "model_card.json").read_text()))
    model = pipeline.load_best_model(project, project.export_model_path)
    run = PreparedRun.load(project)
    sample = deploy.with_edge_rows(to_arrays(run.parts["test"].head(200), run.specs), run.specs)
    serve = ex.serving_outputs(model, card.task, card.classes, card.threshold)
    expected = {k: v.numpy() for k, v in serve({k: tf.constant(v)
                                                for k, v in sample.items()}).items()}
    expected["label"] = np.array([x.decode() for x in expected["label"]])
    # What `dlstudio export --format savedmodel,tflite,onnx` adds once the SavedModel is checked.
    artifacts = deploy.artifact_writer(model, run.specs, card, ["savedmodel", "tflite", "onnx"])(
        out, sample, expected)
    records = {a["format"]: a for a in artifacts}
    assert list(records) == ["tflite", "onnx"]
    for a in records.values():
        assert a["verified"] and a["labels_equal"] and a["max_difference"] <= 1e-5, a
    assert records["tflite"]["files"][0] == "model.tflite"
    assert records["onnx"]["note"].startswith("The 2 networks of the ensemble")
    spec = json.loads((out / "core" / "preprocessing.json").read_text())
    assert spec["members"] == 2 and [s["kind"] for s in spec["steps"]] == ["numeric", "lookup"]
    assert all(s["members"] == [1, 2] and not s["name"].startswith("member")
               for s in spec["steps"])


def test_the_cli_says_whether_the_model_is_one_network_or_an_ensemble(ensemble_run, capsys):
    from dlstudio import cli

    _, _, _, final = ensemble_run
    assert cli._final_status(final, as_json=False) == cli.EXIT_OK
    assert "The model is an ensemble of 2 networks" in capsys.readouterr().out
    final.ensemble_size = 1
    cli._final_status(final, as_json=False)
    assert "The model is one network." in capsys.readouterr().out
