"""One project from data to a verified export: prepare -> search -> evaluate -> export.

Every function here has the shape `f(..., reporter)`: it reports events and asks the reporter
whether to stop; it knows nothing of processes, terminals or Qt. `prepare` settles the data once
and returns a `PreparedRun`, which the later steps take instead of re-reading `project.json`.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dlstudio.engine import data as data_mod
from dlstudio.engine import ensemble
from dlstudio.engine.cluster import ClusterSettings, check_tuner
from dlstudio.engine.config import RunConfig
from dlstudio.engine.errors import ConfigError, UserError
from dlstudio.engine.events import (
    EndReason,
    Event,
    Log,
    Phase,
    PhaseProgress,
    PhaseStarted,
    SearchFailed,
    SearchFinished,
    SearchStarted,
)
from dlstudio.engine.features import FeatureSpec, column_array, to_arrays
from dlstudio.engine.prepare import PreparedRun, prepare, release_memory
from dlstudio.engine.project import Project, Status
from dlstudio.engine.records import EvaluationReport, InputSpec, ModelCard
from dlstudio.engine.reporter import Reporter
from dlstudio.engine.schema import Role
from dlstudio.engine.templates import TaskType, deciding_objective
from dlstudio.paths import append_to_log

EXPORT_SAMPLE_ROWS = 200
THRESHOLD_RULES = {"ks": "maximises TPR - FPR (KS) on the validation rows",
                   "cost": "minimises the cost of errors on the validation rows",
                   "accuracy": "maximises accuracy on the validation rows"}


class ProjectReporter:
    """Appends every event to the project's events.jsonl, then passes it on."""

    def __init__(self, project: Project, inner: Reporter) -> None:
        self.project = project
        self.inner = inner

    def report(self, event: Event) -> None:
        self.project.append_event(event)
        self.inner.report(event)

    def should_stop(self) -> bool:
        return self.inner.should_stop()


def log_exception(project: Project, exc: BaseException) -> str:
    """Write the traceback to the project's log; returns the traceback."""
    text = "".join(traceback.format_exception(exc))
    append_to_log(text, project.log_path)
    return text


# -- search ---------------------------------------------------------------------------------------

def search(run: PreparedRun, reporter: Reporter, *, resume: bool,
           export: str | Path | None = None,
           cluster: ClusterSettings | None = None) -> SearchFinished:
    """Search, keep the best model, evaluate it and (if `export` is given) export it.

    With a distributed `cluster`, this process is the chief: it serves trials to workers
    (`engine/distributed.py`) and does everything after the search itself."""
    from dlstudio.engine import device as device_mod
    from dlstudio.engine import search as search_mod
    from dlstudio.engine.hypermodel import StudioHyperModel, TrainingStats
    from dlstudio.engine.tf import keras

    project, config, template, task = run.project, run.config, run.template, run.task
    y = run.y
    device = device_mod.configure(task.type)   # mixed precision and larger batches on a GPU
    keras.utils.set_random_seed(config.seed)
    stats = TrainingStats.from_training(run.parts["train"], run.specs, y["train"], task.type,
                                        len(task.classes))
    # The training and validation rows as tensors, once: the search trains on the first and
    # is scored on the second, the refit trains on both (views, not copies). Their frames are
    # freed then; the validation frame stays when text columns need it (`explain_words`).
    rows = training_rows(run)
    run.drop_parts("train", *(() if task.text_columns else ("validation",)))
    n_train = len(y["train"])
    train_rows, val_rows = rows.part(0, n_train), rows.part(n_train, len(rows))
    hypermodel = StudioHyperModel(stats, template, config.search_space, seed=config.seed)
    hypermodel.batch_scale = device.batch_scale
    max_trials = config.max_trials or template.max_trials
    max_epochs = config.max_epochs or template.max_epochs
    deadline = time.monotonic() + config.time_limit if config.time_limit else None
    control = search_mod.SearchControl(reporter, deadline, max_trials, max_epochs)
    if cluster is not None and cluster.distributed:
        check_tuner(config.tuner)
        control.cluster = cluster
    tuner = search_mod.make_tuner(config.tuner, hypermodel, template, project.search_dir,
                                  config.seed, control, overwrite=not resume)
    done = sum(1 for t in tuner.oracle.trials.values()
               if t.status == search_mod.TrialStatus.COMPLETED)
    epochs_by, _ = deciding_objective(template.objective, template.direction, template.task)
    reporter.report(SearchStarted(
        project=str(project.root), template=template.name, objective=template.objective,
        direction=template.direction, max_trials=max_trials, time_limit=config.time_limit,
        tuner=config.tuner, completed_trials=done, device=device.describe(),
        epochs_by=epochs_by if epochs_by != template.objective else ""))
    project.set_status(Status.SEARCHING)

    result = search_mod.run_search(tuner, train_rows, val_rows, template,
                                   tensorboard_dir=project.tensorboard_dir)
    if result.best_trial_id is None:
        raise RuntimeError("No trial of the search finished, so there is no model. "
                           "See the log for the reason each trial failed.")
    held = [rows]          # handed on, so that the rows are freed once the refit is done
    del rows, train_rows, val_rows
    return _after_search(run, reporter, tuner, hypermodel, result, held, device, export)


def _after_search(run: PreparedRun, reporter: Reporter, tuner, hypermodel, result, held: list,
                  device, export: str | Path | None) -> SearchFinished:
    """The rest of `search`: the best model or ensemble, the refit, evaluation and export.
    `held`: a list of the one `Rows` of the training then validation rows (taken from it)."""
    from dlstudio.engine.export import Verifier

    project, config, template, task, y = run.project, run.config, run.template, run.task, run.y
    rows = held.pop()
    n_train = len(y["train"])
    val_rows = rows.part(n_train, len(rows))
    max_trials = config.max_trials or template.max_trials
    max_epochs = config.max_epochs or template.max_epochs
    # The best network, or the average of the best k when that wins on the validation rows.
    choice = ensemble.choose(tuner, template, task.type, val_rows, y["validation"],
                             reporter, lambda m, a: model_outputs(m, a, task.type))
    searched = ensemble.build(choice.models)
    # The threshold is chosen on validation rows the chosen model has not trained on.
    val_out = (choice.outputs if choice.outputs is not None
               else model_outputs(searched, val_rows, task.type))
    model = searched
    reason = result.reason
    project.final_model_path.unlink(missing_ok=True)    # a previous search's
    if reason is EndReason.BUDGET:
        refitted = refit_all(hypermodel, choice.trials, rows, None, config.seed, reporter)
        if refitted is None:          # Stop pressed during the refit: keep the searched model
            reason = EndReason.STOPPED
        else:
            model = ensemble.build(refitted)
    del rows, val_rows          # evaluation and export use the test rows only
    release_memory()
    project.models_dir.mkdir(parents=True, exist_ok=True)
    _save_model(model, project.best_model_path)
    project.set_search_result(
        trial_id=result.best_trial_id, score=result.best_score, objective=template.objective,
        hyperparameters=result.best_hyperparameters, reason=str(reason),
        completed_trials=result.completed, max_trials=max_trials, max_epochs=max_epochs)
    project.set_ensemble(choice.summary(template.objective))

    what = "the best network" if choice.k == 1 else f"the ensemble of {choice.k} networks"
    reporter.report(PhaseStarted(phase=Phase.EVALUATE,
                                 message=f"Measuring {what} on the test rows."))
    export_dir = None
    with contextlib.ExitStack() as stack:
        # The export's fresh process imports TensorFlow while this one evaluates and writes
        # the SavedModel (mostly one core each: little contention on a small machine).
        verifier = stack.enter_context(Verifier()) if export else None
        evaluation = evaluate_model(run, model, val_out, reporter, device=device.describe())
        project.set_outcome(Status.FINISHED if reason is EndReason.BUDGET else Status.STOPPED,
                            evaluation.metrics)
        if config.final_fit and reason is EndReason.BUDGET:
            final = final_fit(run, choice.trials, hypermodel.batch_scale, reporter)
            if final is not None:
                model, evaluation.final_fit_rows = final
                _save_model(model, project.final_model_path)
                project.write_evaluation(evaluation)
        if export:
            reporter.report(PhaseStarted(phase=Phase.EXPORT,
                                         message=f"Exporting to {export} ..."))
            export_dir = export_project(project, export, model=model, run=run,
                                       verifier=verifier)["export_dir"]
    return SearchFinished(project=str(project.root), reason=str(reason),
                          best_trial_id=result.best_trial_id, best_score=result.best_score,
                          trials=result.completed, metrics=evaluation.metrics,
                          export_dir=export_dir, ensemble_size=choice.k)


def _save_model(model, path: Path) -> None:
    """Write `model` to `path` whole or not at all (a crash leaves the previous file)."""
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    model.save(tmp)
    tmp.replace(path)


def training_rows(run: PreparedRun):
    """The training rows, then the validation rows, as one `hypermodel.Rows` of tensors."""
    return rows_of_frames([run.parts["train"], run.parts["validation"]], run.specs,
                          [run.y["train"], run.y["validation"]])


def rows_of_frames(frames: list[pd.DataFrame], specs: list[FeatureSpec], y: list[np.ndarray]):
    """The rows of `frames`, one after the other, as one `hypermodel.Rows` of tensors, made
    column by column (no second copy of all the rows as arrays)."""
    from dlstudio.engine.hypermodel import stack_rows

    columns = {s.key: (lambda s=s: [column_array(f[s.column], s) for f in frames])
               for s in specs}
    return stack_rows(columns, y)


def refit(hypermodel, best_trial, arrays: dict[str, dict[str, np.ndarray]],
          y: dict[str, np.ndarray], seed: int, reporter: Reporter):
    """The best configuration trained again on training + validation rows (see `refit_all`)."""
    models = refit_all(hypermodel, [best_trial], arrays, y, seed, reporter)
    return None if models is None else models[0]


def refit_all(hypermodel, trials: list, arrays, y: dict[str, np.ndarray] | None, seed: int,
              reporter: Reporter, final: bool = False) -> list | None:
    """Each trial's configuration trained again on training + validation rows, for as many
    epochs as the search kept (its best validation score; its lowest validation loss where the
    objective is accuracy, `templates.deciding_objective`): the best network, or each member of
    an ensemble. More rows usually make a better model; the test rows stay unseen. Reports
    each epoch as one phase; returns None if Stop was pressed meanwhile.

    `arrays`: the model inputs per split, with `y` the targets per split; or the training
    then validation rows as one `hypermodel.Rows` already (`training_rows`; `y` unused).
    `final`: the rows are every row of the data (`final_fit`), announced as Phase.FINAL."""
    from dlstudio.engine.hypermodel import Rows, stack_rows
    from dlstudio.engine.tf import keras

    if isinstance(arrays, Rows):
        rows_both = arrays
    else:
        rows_both = stack_rows(
            {k: (lambda k=k: [arrays["train"][k], arrays["validation"][k]])
             for k in arrays["train"]}, [y["train"], y["validation"]])
    counts = [int(t.best_step) + 1 for t in trials]
    epochs = sum(counts)
    rows = len(rows_both)
    which = (f"all {rows} rows, test rows included" if final
             else f"all {rows} training and validation rows")
    if len(trials) == 1:
        batch = trials[0].hyperparameters.values.get("batch_size")
        batches = f", batches of {batch} rows as in the search" if batch else ""
        what = (f"the best network again on {which} ({epochs} "
                f"epoch{'' if epochs == 1 else 's'}{batches})")
    else:
        what = (f"the {len(trials)} networks of the ensemble again on {which} "
                f"({' + '.join(map(str, counts))} epochs, batch sizes as in the search)")
    if final:
        what = f"{what} for the export, now that the test is done"
    phase = Phase.FINAL if final else Phase.REFIT
    reporter.report(PhaseStarted(phase=phase, steps=epochs, networks=len(trials),
                                 message=f"Training {what}."))

    class Progress(keras.callbacks.Callback):
        stopped = False
        done = 0                                   # epochs of the earlier members

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            step = self.done + epoch + 1
            reporter.report(PhaseProgress(phase=phase, step=step, steps=epochs,
                                          logs={k: float(v) for k, v in (logs or {}).items()}))
            if step < epochs and reporter.should_stop():
                self.stopped = self.model.stop_training = True

    progress = Progress()
    models = []
    for trial, count in zip(trials, counts, strict=True):
        keras.utils.set_random_seed(seed)
        hp = trial.hyperparameters
        model = hypermodel.build(hp)
        hypermodel.fit(hp, model, rows_both, epochs=count, verbose=0, callbacks=[progress])
        if progress.stopped:
            reporter.report(Log(level="info", message=(
                "Stopped during the final training on all rows; the export will be the "
                "model that was tested." if final else
                "Stopped while training the best network again; keeping the network the "
                "search found." if len(trials) == 1 else
                "Stopped while training the networks of the ensemble again; keeping the "
                "networks the search found.")))
            return None
        progress.done += count
        models.append(model)
    return models


def final_fit(run: PreparedRun, trials: list, batch_scale: int,
              reporter: Reporter) -> tuple[Any, int] | None:
    """After the test: the chosen network(s) trained once more on every row of the data,
    test rows included, each for as many epochs as in its refit; the preprocessing (vocabularies,
    idf and naive-Bayes weights, normalisation) is learnt again from all of them. The test
    figures were measured before, on rows the model had not seen; more rows usually make a
    slightly better model, and this one is what an export writes. Returns the model and the
    number of rows, or None if Stop was pressed meanwhile (the export is then the tested model).
    """
    from dlstudio.engine.hypermodel import StudioHyperModel, TrainingStats
    from dlstudio.engine.prepare import encode_target

    task, config = run.task, run.config
    columns = list(dict.fromkeys([s.column for s in run.specs] + [task.target]))
    parts = run.project.load_split(columns)
    frame = pd.concat([parts.pop(k) for k in ("train", "validation", "test")],
                      ignore_index=True)
    y = encode_target(frame[task.target], task)
    stats = TrainingStats.from_training(frame, run.specs, y, task.type, len(task.classes))
    rows = rows_of_frames([frame], run.specs, [y])
    n = len(frame)
    del frame, parts
    release_memory()
    hypermodel = StudioHyperModel(stats, run.template, config.search_space, seed=config.seed)
    hypermodel.batch_scale = batch_scale
    models = refit_all(hypermodel, trials, rows, None, config.seed, reporter, final=True)
    return None if models is None else (ensemble.build(models), n)


# -- evaluation -----------------------------------------------------------------------------------

def model_outputs(model, arrays: dict[str, np.ndarray], task_type: TaskType) -> np.ndarray:
    """[N, K] probabilities (binary: [N, 2], column 1 = positive) or [N] predictions."""
    from dlstudio.engine.hypermodel import predict
    out = predict(model, arrays)
    if task_type is TaskType.BINARY:
        p = out[:, 0]
        return np.column_stack([1.0 - p, p])
    if task_type is TaskType.REGRESSION:
        return out.reshape(-1)
    return out


def evaluate_model(run: PreparedRun, model, val_out: np.ndarray,
                   reporter: Reporter | None = None, device: str = "") -> EvaluationReport:
    """Test metrics of `model`, written to models/evaluation.json; the decision threshold comes
    from `val_out`, the searched model's outputs on the validation rows. Text columns also get
    the words that move the predictions most (`explain.word_importance`, on validation rows),
    announced to `reporter` as the explain phase."""
    from dlstudio.engine import evaluate as ev

    config, task, y = run.config, run.task, run.y
    threshold = rule = None
    if task.is_binary:
        rule = ev.threshold_criterion(run.template, config.cost_false_approval,
                                      config.cost_false_rejection)
        threshold = ev.choose_threshold(y["validation"], val_out[:, 1], rule,
                                        config.cost_false_approval, config.cost_false_rejection)
    test_out = model_outputs(model, run.arrays["test"], task.type)
    report = ev.evaluate(task.type, task.classes, y["test"], test_out, threshold=threshold)
    report.positive_class = task.positive_class
    report.ensemble_size = ensemble.size(model)
    report.device = device
    report.threshold_rule = THRESHOLD_RULES.get(rule) if rule else None
    report.costs = {"false_approval": config.cost_false_approval,
                    "false_rejection": config.cost_false_rejection}

    test = run.parts["test"]
    columns = [s.column for s in run.specs]

    def predict_frame(frame: pd.DataFrame) -> np.ndarray:
        return model_outputs(model, to_arrays(frame, run.specs), task.type)

    # A lone text column needs no ranking of columns; a table with text columns does.
    if not task.text_columns or len(columns) > 1:
        report.feature_importance = ev.feature_importance(
            predict_frame, test[columns].reset_index(drop=True), y["test"], task.type,
            seed=config.seed)
    report.examples = examples(test[columns], task, y["test"], test_out, threshold,
                               predict_frame)
    if task.text_columns:
        report.word_importance = explain_words(run, predict_frame, reporter)
    run.project.write_evaluation(report)
    return report


def explain_words(run: PreparedRun, predict_frame: Callable[[pd.DataFrame], np.ndarray],
                  reporter: Reporter | None) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Which words of each text column move the predictions, by occlusion on validation rows."""
    from dlstudio.engine import explain

    task = run.task
    frame = run.parts["validation"][[s.column for s in run.specs]]
    rows = min(len(frame), explain.MAX_ROWS)
    if reporter is not None:
        reporter.report(PhaseStarted(phase=Phase.EXPLAIN, message=(
            f"Finding the words that move the predictions: each of the {explain.TOP_WORDS} "
            f"most frequent words taken out of {rows} validation texts.")))
    started = time.monotonic()
    outputs = [task.target] if task.is_regression else list(task.classes)
    words, altered = explain.word_importance(predict_frame, frame, list(task.text_columns),
                                             outputs, seed=run.config.seed)
    if reporter is not None:
        reporter.report(Log(level="info", message=(
            f"Word importance: {altered} altered texts predicted in "
            f"{time.monotonic() - started:.1f} s.")))
    return words


def examples(test: pd.DataFrame, task, y_test: np.ndarray, test_out: np.ndarray,
             threshold: float | None, predict_frame: Callable[[pd.DataFrame], np.ndarray],
             *, words_each_way: int = 5, max_words: int = 150) -> list[dict[str, Any]]:
    """A few test rows per class, right and wrong, most confident first (`evaluate.
    pick_examples`), with their true and predicted values and, for text columns, the row's
    own words that moved its prediction most (`explain.row_word_effects`): at most
    `words_each_way` that raised the predicted class's probability (or the prediction) and as
    many that lowered it."""
    from dlstudio.engine.evaluate import decisions, pick_examples
    from dlstudio.engine.explain import row_word_effects

    picked = pick_examples(task.type, y_test, test_out, threshold)
    rows = test.iloc[picked].reset_index(drop=True)
    if task.is_regression:
        chosen = np.zeros(len(picked), dtype=int)
    else:
        chosen = decisions(task.type, test_out[picked], threshold)
    effects = row_word_effects(predict_frame, rows, list(task.text_columns), chosen,
                               max_words=max_words) if task.text_columns and picked else {}
    out = []
    for j, i in enumerate(picked):
        example: dict[str, Any] = {"row": {c: _example_value(v) for c, v in rows.iloc[j].items()}}
        if task.is_regression:
            example.update(true=float(y_test[i]), predicted=float(test_out[i]), probability=None,
                           correct=None, scores=None, words_for=task.target)
        else:
            k = int(chosen[j])
            example.update(true=task.classes[int(y_test[i])], predicted=task.classes[k],
                           probability=float(test_out[i, k]), correct=bool(k == int(y_test[i])),
                           scores=[round(float(v), 6) for v in test_out[i]],
                           words_for=task.classes[k])
        example["words"] = {}
        for column, per_row in effects.items():
            pairs = per_row[j]
            kept = ([p for p in pairs if p[1] > 0][:words_each_way]
                    + [p for p in reversed(pairs) if p[1] < 0][:words_each_way])
            example["words"][column] = [{"word": w, "effect": round(e, 6)} for w, e in kept]
        out.append(example)
    return out


def _example_value(v: Any) -> Any:
    """A cell for evaluation.json: None for a missing or infinite number (JSON has neither)."""
    if pd.isna(v) or (isinstance(v, float) and not np.isfinite(v)):
        return None
    return v if isinstance(v, int | float) else str(v)


# -- export ---------------------------------------------------------------------------------------

def load_best_model(project: Project, path: Path | None = None):
    """The tested model (models/best.keras), or the model at `path` in the project."""
    import dlstudio.engine.hypermodel  # noqa: F401  (registers the custom layers)
    from dlstudio.engine.tf import keras
    path = path or project.best_model_path
    if not path.is_file():
        raise ConfigError(f"The project '{project.root}' has no trained model yet. "
                          "Run or resume its search first.")
    return keras.saving.load_model(path, safe_mode=True)


def model_card(run: PreparedRun, evaluation: EvaluationReport) -> ModelCard:
    """The card of an export of this run's best model."""
    project, task, template = run.project, run.task, run.template
    threshold, rule = evaluation.threshold, evaluation.threshold_rule
    if threshold is not None and project.decision_threshold is not None:
        threshold = project.decision_threshold     # the user moved the slider in the app
        rule = "chosen by the user on the test results"
    split = project.split_sizes
    return ModelCard(
        name=project.root.name,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        template={"name": template.name, "title": template.title,
                  "objective": template.objective},
        task=task.type, target=task.target, classes=task.classes,
        positive_class=task.positive_class, threshold=threshold, threshold_rule=rule,
        inputs=[InputSpec(column=s.column, input=s.key, dtype=s.dtype, role=str(s.role))
                for s in run.specs],
        outputs=({"prediction": f"predicted {task.target}, float32 [N, 1]"}
                 if task.is_regression else
                 {"probabilities": "float32 [N, K], one column per class in `classes` order",
                  "label": "string [N], the predicted class"}),
        metrics=evaluation.metrics,
        hyperparameters=project.best_hyperparameters,
        ensemble=(list(project.ensemble.get("members") or [])
                  if evaluation.ensemble_size > 1 else []),
        device=evaluation.device,
        final_fit_rows=evaluation.final_fit_rows,
        data={"source": Path(run.config.data).name,
              "rows": sum(split[k] for k in ("train", "validation", "test")),
              "columns": len(run.schema.columns), **split},
        versions={},      # filled by export.export_model, which has TensorFlow loaded
    )


def export_project(project: Project, export_dir: str | Path, model=None,
                   run: PreparedRun | None = None,
                   formats: str | list[str] | None = None, verifier=None) -> dict[str, Any]:
    """Export the project's best model with its card; verified in a fresh process. `formats`
    adds TFLite and ONNX files (`engine/deploy.py`), each verified in its own runtime."""
    from dlstudio.engine.formats import SAVEDMODEL, missing_packages_message, parse_formats

    formats = parse_formats(formats)
    problem = missing_packages_message(formats)
    if problem:
        raise ConfigError(problem)
    from dlstudio.engine import deploy
    from dlstudio.engine import export as ex

    if model is None:
        model = load_best_model(project, project.export_model_path)
    problem = deploy.refusal(model, formats)
    if problem:
        raise ConfigError(problem)
    evaluation = project.read_evaluation()
    if evaluation is None:
        raise ConfigError(f"The project '{project.root}' has not been evaluated yet.")
    run = run or PreparedRun.load(project)
    sample = deploy.with_edge_rows(to_arrays(run.parts["test"].head(EXPORT_SAMPLE_ROWS),
                                             run.specs), run.specs)
    card = model_card(run, evaluation)
    extra = (deploy.artifact_writer(model, run.specs, card, formats)
             if formats != [SAVEDMODEL] else None)
    result = ex.export_model(model, run.specs, card, sample, export_dir, extra=extra,
                             verifier=verifier)
    result["ensemble_size"] = len(card.ensemble) or 1
    result["final_fit_rows"] = card.final_fit_rows
    project.set_export_summary({k: result[k] for k in ("export_dir", "model_card", "signature",
                                                       "curl_example", "python_example",
                                                       "artifacts")})
    return result


# -- prediction -----------------------------------------------------------------------------------

TEXT_PREDICT_ROWS = 128


def predict_file(export_dir: str | Path, data: str | Path, output: str | Path,
                 batch_size: int = 2048, explain: bool = False) -> dict[str, Any]:
    """Score a table with an exported model; writes the rows plus the predictions.

    `explain`: for each text column, a column `words_<column>` lists the row's own words that
    raise the predicted class's probability (or the prediction) most, by occlusion through the
    exported model (`explain.row_words`)."""
    import json

    from dlstudio.engine.project import atomic_write_text

    export_dir = Path(export_dir)
    card_path = export_dir / "model_card.json"
    if not card_path.is_file():
        raise ConfigError(f"'{export_dir}' is not a DL Studio export (it has no model_card.json).")
    card = ModelCard.from_dict(json.loads(card_path.read_text(encoding="utf-8")))
    df = data_mod.load_data(data)
    specs = [FeatureSpec(s.column, s.input, Role(s.role), s.dtype) for s in card.inputs]
    if any(s.role is Role.TEXT for s in specs):
        # A text bag is dense inside the SavedModel: 128 rows of 210,000 features is 100 MB.
        batch_size = min(batch_size, TEXT_PREDICT_ROWS)
    arrays = to_arrays(df, specs)
    # TensorFlow only now that the export and the data are known good: a user's mistake
    # (not an export, a missing column) is reported without the seconds its import takes.
    from dlstudio.engine.tf import tf
    serve = tf.saved_model.load(str(export_dir)).signatures["serving_default"]

    def run_all(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        chunks: dict[str, list[np.ndarray]] = {}
        n = len(next(iter(arrays.values())))
        for start in range(0, n, batch_size):
            batch = {k: tf.constant(v[start:start + batch_size]) for k, v in arrays.items()}
            for key, value in serve(**batch).items():
                chunks.setdefault(key, []).append(value.numpy())
        return {k: np.concatenate(v) for k, v in chunks.items()}

    def scores(frame: pd.DataFrame) -> np.ndarray:
        got = run_all(to_arrays(frame, specs))
        if card.task is TaskType.REGRESSION:
            return got["prediction"].reshape(-1, 1)
        return got["probabilities"]

    outputs = run_all(arrays)
    out = df.copy()
    if card.task is TaskType.REGRESSION:
        out["prediction"] = outputs["prediction"].reshape(-1)
        chosen = np.zeros(len(df), dtype=int)
    else:
        out["predicted_label"] = [x.decode() for x in outputs["label"]]
        probs = outputs["probabilities"]
        for i, c in enumerate(card.classes):
            out[f"probability_{c}"] = probs[:, i]
        chosen = np.array([card.classes.index(x) for x in out["predicted_label"]], dtype=int)
    if explain:
        from dlstudio.engine.explain import row_words
        texts = [s.column for s in card.inputs if s.role == Role.TEXT]
        frame = df[[s.column for s in card.inputs]].reset_index(drop=True)
        for column, words in row_words(scores, frame, texts, chosen).items():
            out[f"words_{column}"] = words
    atomic_write_text(Path(output), out.to_csv(index=False))
    return {"output": str(output), "rows": len(out)}


# -- entry points with failure handling -----------------------------------------------------------

def _guard(project: Project, reporter: Reporter, body: Callable[[Reporter], Event]) -> Event:
    rep = ProjectReporter(project, reporter)
    try:
        final: Event = body(rep)
    except UserError as exc:
        final = SearchFailed(message=str(exc), user_error=True, project=str(project.root))
        project.set_status(Status.FAILED)
    except Exception as exc:   # a bug or a crash inside TensorFlow: keep the cause in the log
        text = log_exception(project, exc)
        final = SearchFailed(
            message=f"The search stopped because of an internal error: {exc}. "
                    f"Details are in {project.log_path}.",
            traceback=text, logged=True, project=str(project.root))
        project.set_status(Status.FAILED)
    rep.report(final)
    return final


def run(config: RunConfig, reporter: Reporter,
        on_project: Callable[[Project], None] | None = None,
        cluster: ClusterSettings | None = None) -> Event:
    """Make the project, prepare the data, search, evaluate and (if asked) export.

    `on_project` is called once the project folder exists (the worker sends its log there)."""
    project = Project.create(config.project, config)   # ConfigError if the folder is taken
    if on_project is not None:
        on_project(project)
    return _guard(project, reporter, lambda rep: search(prepare(project, rep), rep,
                                                        resume=False, export=config.export,
                                                        cluster=cluster))


def resume(project_dir: str | Path, reporter: Reporter, export: str | None = None,
           cluster: ClusterSettings | None = None) -> Event:
    """Continue a stopped, failed or killed search to its budget, then evaluate and export."""
    project = Project.open(project_dir)
    export = export or project.config.export    # finish what the first run was asked to do

    def body(rep: Reporter) -> Event:
        if not project.has_split() or project.schema is None or project.task is None:
            return search(prepare(project, rep), rep, resume=False, export=export,
                          cluster=cluster)
        return search(PreparedRun.load(project), rep, resume=True, export=export,
                      cluster=cluster)

    return _guard(project, reporter, body)
