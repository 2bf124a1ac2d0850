"""One project from data to a verified export: prepare -> search -> evaluate -> export.

Every function here has the shape `f(..., reporter)`: it reports events and asks the reporter
whether to stop; it knows nothing of processes, terminals or Qt.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from dlstudio.engine import data as data_mod
from dlstudio.engine.config import RunConfig
from dlstudio.engine.errors import ConfigError, DataError, UserError
from dlstudio.engine.events import Event, Log, SearchFailed, SearchFinished, SearchStarted
from dlstudio.engine.features import FeatureSpec, category_strings, feature_specs, to_arrays
from dlstudio.engine.project import Project, Status, atomic_write_json
from dlstudio.engine.reporter import Reporter
from dlstudio.engine.schema import Role, Schema
from dlstudio.engine.templates import TaskType, Template, get_template

TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.2     # of what remains after the test rows are set aside
EXPORT_SAMPLE_ROWS = 200


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


def log_exception(project: Project | None, exc: BaseException) -> str:
    """Write the traceback to the project's log; returns where it went."""
    text = "".join(traceback.format_exception(exc))
    if project is None:
        return text
    project.log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(project.log_path, "a", encoding="utf-8") as f:
        f.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n{text}\n")
    return text


# -- preparing the data ---------------------------------------------------------------------------

def resolve_task(df: pd.DataFrame, config: RunConfig, template: Template) -> tuple[Schema, dict]:
    """Schema and task description (target, classes, positive class) for this data, or a
    DataError saying what is wrong in words the user understands."""
    target = config.target or data_mod.guess_target(df, template.target_hints)
    if target is None:
        raise DataError(
            "DL Studio could not tell which column to predict. Name it with --target "
            f"(columns: {', '.join(map(str, df.columns))}).")
    data_mod.check_target(df, target, template.task)     # the target's problems come first
    schema = data_mod.infer_schema(df, target=target, text_column=config.text_column)
    if config.roles:
        unknown = [c for c in config.roles if c not in df.columns]
        if unknown:
            raise DataError(f"There is no column {', '.join(map(repr, unknown))} in the data.")
        schema = schema.with_roles(config.roles)
    if schema.target != target:
        raise DataError(f"The column to predict ('{target}') cannot also be an input.")
    if template.modality == "text" and not schema.names(Role.TEXT):
        raise DataError(
            f"The '{template.title}' template needs a column of free text, and none was found. "
            "Name it with --text-column "
            f"(columns: {', '.join(c.name for c in schema.columns if c.name != target)}).")
    if not schema.features:
        raise DataError("No column is left to learn from: every column other than the target "
                        "was set aside (identifiers, constants or mostly empty).")
    task: dict[str, Any] = {"template": template.name, "type": str(template.task),
                            "target": target, "text_columns": schema.names(Role.TEXT)}
    if template.task is TaskType.REGRESSION:
        task.update(classes=[], positive_class=None)
        return schema, task
    labels = pd.Series(category_strings(df[target].dropna()))
    classes = sorted(labels.unique().tolist())
    positive = None
    if template.task is TaskType.BINARY:
        positive = config.positive_class
        if positive is not None and positive not in classes:
            raise DataError(f"The positive class '{positive}' does not occur in column "
                            f"'{target}' (its values are: {', '.join(classes)}).")
        if positive is None:
            positive = data_mod.guess_positive_class(classes, template.positive_hints) \
                or classes[-1]
        classes = [c for c in classes if c != positive] + [positive]
    task.update(classes=classes, positive_class=positive)
    return schema, task


def split_rows(df: pd.DataFrame, target: str, task: TaskType, seed: int
               ) -> dict[str, pd.DataFrame]:
    """One seeded train/validation/test split, stratified for classification."""
    df = df[df[target].notna()].reset_index(drop=True)
    if task is not TaskType.REGRESSION:
        df[target] = category_strings(df[target])
    strat = df[target] if task is not TaskType.REGRESSION else None
    rest, test = train_test_split(df, test_size=TEST_FRACTION, random_state=seed, stratify=strat)
    strat = rest[target] if task is not TaskType.REGRESSION else None
    train, val = train_test_split(rest, test_size=VALIDATION_FRACTION, random_state=seed,
                                  stratify=strat)
    return {"train": train.reset_index(drop=True), "validation": val.reset_index(drop=True),
            "test": test.reset_index(drop=True)}


def prepare(project: Project, reporter: Reporter) -> None:
    """Read the data, settle the schema and task, and save the split in the project."""
    config = project.config
    template = get_template(config.template)
    df = data_mod.load_data(config.data)
    schema, task = resolve_task(df, config, template)
    for warning in schema.warnings:
        reporter.report(Log(level="warning", message=warning))
    project.meta["schema"] = schema.to_dict()
    project.meta["task"] = task
    parts = split_rows(df[[c.name for c in schema.columns]], task["target"], template.task,
                       config.seed)
    project.save_split(parts)
    reporter.report(Log(level="info", message=(
        f"{len(df)} rows: {len(parts['train'])} to train, {len(parts['validation'])} to "
        f"validate, {len(parts['test'])} kept aside to test.")))


def project_specs(project: Project) -> list[FeatureSpec]:
    """The model inputs of a prepared project (its schema decides them)."""
    schema = project.schema
    if schema is None:
        raise ConfigError(f"The project '{project.root}' has no data yet; run a search first.")
    return feature_specs(schema)


def encode_target(values: pd.Series, task: dict) -> np.ndarray:
    if task["type"] == str(TaskType.REGRESSION):
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float32)
    index = {c: i for i, c in enumerate(task["classes"])}
    return np.array([index[v] for v in category_strings(values)], dtype=np.int32)


# -- search ---------------------------------------------------------------------------------------

def search(project: Project, reporter: Reporter, *, resume: bool) -> SearchFinished:
    from dlstudio.engine import search as search_mod
    from dlstudio.engine.hypermodel import StudioHyperModel, TrainingStats, make_dataset
    from dlstudio.engine.tf import keras

    config = project.config
    template = get_template(config.template)
    task = project.task
    specs = project_specs(project)
    parts = project.load_split()
    target = task["target"]
    y = {name: encode_target(part[target], task) for name, part in parts.items()}
    arrays = {name: to_arrays(part, specs) for name, part in parts.items()}
    task_type = TaskType(task["type"])

    keras.utils.set_random_seed(config.seed)
    stats = TrainingStats.from_training(parts["train"], specs, y["train"], task_type,
                                        len(task["classes"]))
    hypermodel = StudioHyperModel(stats, template, config.search_space, seed=config.seed)
    max_trials = config.max_trials or template.max_trials
    max_epochs = config.max_epochs or template.max_epochs
    deadline = time.monotonic() + config.time_limit if config.time_limit else None
    state = search_mod.SearchState(reporter, deadline, max_trials, max_epochs)
    tuner = search_mod.make_tuner(config.tuner, hypermodel, template, project.search_dir,
                                  max_trials, max_epochs, config.seed, state,
                                  overwrite=not resume)
    done = sum(1 for t in tuner.oracle.trials.values() if str(t.status).lower() == "completed")
    reporter.report(SearchStarted(
        project=str(project.root), template=template.name, objective=template.objective,
        direction=template.direction, max_trials=max_trials, time_limit=config.time_limit,
        tuner=config.tuner, completed_trials=done))
    project.set_status(Status.SEARCHING)

    result = search_mod.run_search(tuner, state, make_dataset(arrays["train"], y["train"]),
                                   make_dataset(arrays["validation"], y["validation"]),
                                   template, max_epochs)
    if result.best_trial_id is None:
        raise RuntimeError("No trial of the search finished, so there is no model. "
                           "See the log for the reason each trial failed.")
    searched = tuner.get_best_models(1)[0]
    # The threshold is chosen on validation rows the chosen model has not trained on.
    val_out = _model_outputs(searched, arrays["validation"], task_type)
    model = searched
    best_trial = tuner.oracle.get_best_trials(1)[0]
    if result.reason == "budget":
        model = refit(hypermodel, best_trial, arrays, y, config.seed, reporter)
    project.models_dir.mkdir(parents=True, exist_ok=True)
    tmp = project.models_dir / ".best.tmp.keras"
    model.save(tmp)
    tmp.replace(project.best_model_path)
    project.meta["best"] = {"trial_id": result.best_trial_id, "score": result.best_score,
                            "objective": template.objective,
                            "hyperparameters": result.best_hyperparameters,
                            "model": "models/best.keras"}
    project.meta["search"] = {"reason": result.reason, "completed_trials": result.completed,
                              "max_trials": max_trials, "max_epochs": max_epochs}
    project.save()

    evaluation = evaluate_model(project, model, specs, parts, arrays, y, val_out)
    project.meta["metrics"] = evaluation["metrics"]
    project.meta["status"] = str(Status.FINISHED if result.reason == "budget"
                                 else Status.STOPPED)
    project.save()
    export_dir = None
    if config.export:
        reporter.report(Log(level="info", message=f"Exporting to {config.export} ..."))
        export_dir = export_project(project, config.export, model=model)["export_dir"]
    return SearchFinished(project=str(project.root), reason=result.reason,
                          best_trial_id=result.best_trial_id, best_score=result.best_score,
                          trials=result.completed, metrics=evaluation["metrics"],
                          export_dir=export_dir)


def refit(hypermodel, best_trial, arrays: dict[str, dict[str, np.ndarray]],
          y: dict[str, np.ndarray], seed: int, reporter: Reporter):
    """The best configuration trained again on training + validation rows, for as many epochs
    as it took to reach its best validation score. More rows usually make a better model; the
    test rows stay unseen."""
    from dlstudio.engine.hypermodel import make_dataset
    from dlstudio.engine.tf import keras

    epochs = int(best_trial.best_step) + 1
    rows = len(y["train"]) + len(y["validation"])
    reporter.report(Log(level="info", message=(
        f"Training the best network again on all {rows} training and validation rows "
        f"({epochs} epochs).")))
    keras.utils.set_random_seed(seed)
    both = {k: np.concatenate([arrays["train"][k], arrays["validation"][k]])
            for k in arrays["train"]}
    hp = best_trial.hyperparameters
    model = hypermodel.build(hp)
    hypermodel.fit(hp, model, make_dataset(both, np.concatenate([y["train"], y["validation"]])),
                   epochs=epochs, verbose=0)
    return model


# -- evaluation -----------------------------------------------------------------------------------

def _model_outputs(model, arrays: dict[str, np.ndarray], task_type: TaskType) -> np.ndarray:
    from dlstudio.engine.hypermodel import predict
    out = predict(model, arrays)
    if task_type is TaskType.BINARY:
        p = out[:, 0]
        return np.column_stack([1.0 - p, p])
    if task_type is TaskType.REGRESSION:
        return out.reshape(-1)
    return out


def evaluate_model(project: Project, model, specs: list[FeatureSpec],
                   parts: dict[str, pd.DataFrame], arrays: dict[str, dict[str, np.ndarray]],
                   y: dict[str, np.ndarray], val_out: np.ndarray) -> dict[str, Any]:
    """Test metrics of `model`; the decision threshold comes from `val_out`, the searched
    model's outputs on the validation rows."""
    from dlstudio.engine import evaluate as ev

    config = project.config
    template = get_template(config.template)
    task = project.task
    task_type = TaskType(task["type"])
    classes = task["classes"]
    threshold = None
    rule = None
    if task_type is TaskType.BINARY:
        rule = ev.threshold_criterion(template, config.cost_false_approval,
                                      config.cost_false_rejection)
        threshold = ev.choose_threshold(y["validation"], val_out[:, 1], rule,
                                        config.cost_false_approval, config.cost_false_rejection)
    test_out = _model_outputs(model, arrays["test"], task_type)
    report = ev.evaluate(task_type, classes, y["test"], test_out, threshold=threshold)
    report["positive_class"] = task.get("positive_class")
    report["threshold_rule"] = {"ks": "maximises TPR - FPR (KS) on the validation rows",
                                "cost": "minimises the cost of errors on the validation rows",
                                "accuracy": "maximises accuracy on the validation rows",
                                None: None}[rule]
    report["costs"] = {"false_approval": config.cost_false_approval,
                       "false_rejection": config.cost_false_rejection}

    test = parts["test"]
    columns = [s.column for s in specs]
    if not task["text_columns"]:
        def predict_frame(frame: pd.DataFrame) -> np.ndarray:
            return _model_outputs(model, to_arrays(frame, specs), task_type)
        report["feature_importance"] = ev.feature_importance(
            predict_frame, test[columns].reset_index(drop=True), y["test"], task_type,
            seed=config.seed)
    else:
        report["feature_importance"] = []
    examples = []
    for i in range(min(10, len(test))):
        row = {c: (None if pd.isna(v) else (v if isinstance(v, int | float) else str(v)))
               for c, v in test[columns].iloc[i].items()}
        if task_type is TaskType.REGRESSION:
            examples.append({"row": row, "true": float(y["test"][i]),
                             "predicted": float(test_out[i]), "probability": None})
        else:
            if task_type is TaskType.BINARY:
                k = int(test_out[i, 1] >= threshold)
            else:
                k = int(np.argmax(test_out[i]))
            examples.append({"row": row, "true": classes[int(y["test"][i])],
                             "predicted": classes[k], "probability": float(test_out[i, k])})
    report["examples"] = examples
    atomic_write_json(project.evaluation_path, report)
    return report


# -- export ---------------------------------------------------------------------------------------

def load_best_model(project: Project):
    import dlstudio.engine.hypermodel  # noqa: F401  (registers the custom layers)
    from dlstudio.engine.tf import keras
    if not project.best_model_path.is_file():
        raise ConfigError(f"The project '{project.root}' has no trained model yet. "
                          "Run or resume its search first.")
    return keras.saving.load_model(project.best_model_path, safe_mode=True)


def export_project(project: Project, export_dir: str | Path, model=None) -> dict[str, Any]:
    """Export the project's best model with its card; verified in a fresh process."""
    from dlstudio.engine import export as ex

    if model is None:
        model = load_best_model(project)
    evaluation = project.read_evaluation()
    if evaluation is None:
        raise ConfigError(f"The project '{project.root}' has not been evaluated yet.")
    config = project.config
    template = get_template(config.template)
    task = project.task
    specs = project_specs(project)
    schema = project.schema
    parts = project.load_split()
    sample = to_arrays(parts["test"].head(EXPORT_SAMPLE_ROWS), specs)
    split = project.meta["split"]
    threshold, rule = evaluation.get("threshold"), evaluation.get("threshold_rule")
    decision = project.meta.get("decision") or {}
    if threshold is not None and decision.get("threshold") is not None:
        threshold = float(decision["threshold"])     # the user moved the slider in the app
        rule = "chosen by the user on the test results"
    card = {
        "format_version": 1,
        "name": project.root.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "template": {"name": template.name, "title": template.title,
                     "objective": template.objective},
        "task": task["type"],
        "target": task["target"],
        "classes": task["classes"],
        "positive_class": task.get("positive_class"),
        "threshold": threshold,
        "threshold_rule": rule,
        "inputs": [{"column": s.column, "input": s.key, "dtype": s.dtype, "role": str(s.role)}
                   for s in specs],
        "outputs": ({"prediction": f"predicted {task['target']}, float32 [N, 1]"}
                    if task["type"] == "regression" else
                    {"probabilities": "float32 [N, K], one column per class in `classes` order",
                     "label": "string [N], the predicted class"}),
        "metrics": evaluation["metrics"],
        "hyperparameters": (project.meta.get("best") or {}).get("hyperparameters", {}),
        "data": {"source": Path(config.data).name, "rows": sum(split[k] for k in
                                                               ("train", "validation", "test")),
                 "columns": len(schema.columns), "train": split["train"],
                 "validation": split["validation"], "test": split["test"],
                 "seed": split["seed"]},
        "versions": ex.versions(),
    }
    result = ex.export_model(model, specs, card, sample, export_dir)
    project.meta["export"] = {k: result[k] for k in ("export_dir", "model_card", "signature",
                                                     "curl_example", "python_example")}
    project.save()
    return result


# -- prediction -----------------------------------------------------------------------------------

def predict_file(export_dir: str | Path, data: str | Path, output: str | Path,
                 batch_size: int = 2048) -> dict[str, Any]:
    """Score a table with an exported model; writes the rows plus the predictions."""
    import json

    from dlstudio.engine.project import atomic_write_text

    export_dir = Path(export_dir)
    card_path = export_dir / "model_card.json"
    if not card_path.is_file():
        raise ConfigError(f"'{export_dir}' is not a DL Studio export (it has no model_card.json).")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    df = data_mod.load_data(data)
    specs = [FeatureSpec(s["column"], s["input"], Role(s["role"]), s["dtype"])
             for s in card["inputs"]]
    arrays = to_arrays(df, specs)
    # TensorFlow only now that the export and the data are known good: a user's mistake
    # (not an export, a missing column) is reported without the seconds its import takes.
    from dlstudio.engine.tf import tf
    serve = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    chunks: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(df), batch_size):
        batch = {k: tf.constant(v[start:start + batch_size]) for k, v in arrays.items()}
        for key, value in serve(**batch).items():
            chunks.setdefault(key, []).append(value.numpy())
    out = df.copy()
    if card["task"] == "regression":
        out["prediction"] = np.concatenate(chunks["prediction"]).reshape(-1)
    else:
        out["predicted_label"] = [x.decode() for x in np.concatenate(chunks["label"])]
        probs = np.concatenate(chunks["probabilities"])
        for i, c in enumerate(card["classes"]):
            out[f"probability_{c}"] = probs[:, i]
    atomic_write_text(Path(output), out.to_csv(index=False))
    return {"output": str(output), "rows": len(out)}


# -- entry points with failure handling -----------------------------------------------------------

def _guard(project: Project, reporter: Reporter, body) -> Event:
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
            traceback=text, project=str(project.root))
        project.set_status(Status.FAILED)
    rep.report(final)
    return final


def run(config: RunConfig, reporter: Reporter,
        on_project: Callable[[Project], None] | None = None) -> Event:
    """Make the project, prepare the data, search, evaluate and (if asked) export.

    `on_project` is called once the project folder exists (the worker sends its log there)."""
    project = Project.create(config.project, config)   # ConfigError if the folder is taken
    if on_project is not None:
        on_project(project)

    def body(rep: Reporter) -> Event:
        prepare(project, rep)
        return search(project, rep, resume=False)

    return _guard(project, reporter, body)


def resume(project_dir: str | Path, reporter: Reporter, export: str | None = None) -> Event:
    """Continue a stopped, failed or killed search to its budget, then evaluate and export."""
    project = Project.open(project_dir)
    if export:
        project.meta["config"]["export"] = str(export)
        project.save()

    def body(rep: Reporter) -> Event:
        if not project.has_split() or project.schema is None:
            prepare(project, rep)
            return search(project, rep, resume=False)
        return search(project, rep, resume=True)

    return _guard(project, reporter, body)
