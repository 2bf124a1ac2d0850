"""Small builders of real files for the UI tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from dlstudio.engine.config import RunConfig
from dlstudio.engine.project import Project, Status
from dlstudio.engine.records import EvaluationReport
from dlstudio.engine.templates import TaskType


def write_credit_csv(path: Path, n: int = 120, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    income = rng.normal(50, 15, n).round(1)
    df = pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "income": income,
        "city": rng.choice(["paris", "lyon", "nice"], n),
        "status": np.where(income + rng.normal(0, 10, n) < 45, "bad", "good"),
    })
    df.loc[::10, "income"] = np.nan
    df.to_csv(path, index=False)
    return path


def make_project(root: Path, data: Path, *, n: int = 200, seed: int = 0,
                 events: list[dict] | None = None) -> Project:
    """A finished project folder with an evaluation.json like the engine writes."""
    cfg = RunConfig(data=str(data), template="credit-scoring", project=str(root),
                    target="status", positive_class="bad", max_trials=3, max_epochs=4)
    project = Project.create(root, cfg)
    rng = np.random.default_rng(seed)
    y = rng.choice(["bad", "good"], n, p=[0.3, 0.7])
    p_bad = np.clip(np.where(y == "bad", 0.65, 0.35) + rng.normal(0, 0.2, n), 0.001, 0.999)
    classes = ["bad", "good"]
    scores = np.stack([p_bad, 1 - p_bad], axis=1)
    pred = np.where(p_bad >= 0.5, "bad", "good")
    cm = [[int(np.sum((y == t) & (pred == q))) for q in classes] for t in classes]
    evaluation = EvaluationReport(
        task=TaskType.BINARY, classes=classes, positive_class="bad", threshold=0.5,
        metrics={"auc": 0.81, "ks": 0.5, "gini": 0.62, "accuracy": 0.77},
        confusion_matrix=cm,
        roc={"fpr": [0.0, 0.2, 0.5, 1.0], "tpr": [0.0, 0.6, 0.85, 1.0],
             "thresholds": [1.0, 0.6, 0.4, 0.0]},
        test={"y_true": y.tolist(), "scores": scores.tolist()},
        feature_importance=[{"column": "income", "importance": 0.12},
                            {"column": "age", "importance": 0.03},
                            {"column": "city", "importance": 0.0}],
        examples=[{"row": {"age": 30, "income": 40.0, "city": "nice"}, "true": "bad",
                   "predicted": "bad", "probability": 0.7}],
        costs={"false_approval": 1.0, "false_rejection": 1.0},
    )
    project.models_dir.mkdir(parents=True, exist_ok=True)
    project.write_evaluation(evaluation)
    project.set_outcome(Status.FINISHED, evaluation.metrics)
    if events:
        with open(project.events_path, "w", encoding="utf-8") as f:
            for e in events:
                f.write(json.dumps(e) + "\n")
    return project


def search_events(trials: int = 2, epochs: int = 3) -> list[dict]:
    out: list[dict] = [{"type": "search_started", "time": 0.0, "project": "p",
                        "template": "credit-scoring", "objective": "val_auc",
                        "direction": "max", "max_trials": trials, "time_limit": None,
                        "tuner": "bayesian", "completed_trials": 0}]
    for t in range(trials):
        tid = f"t{t}"
        hp = {"layers": t + 1, "units": 32, "dropout": 0.1, "learning_rate": 0.001}
        out.append({"type": "trial_started", "time": 0.0, "trial_id": tid, "number": t + 1,
                    "max_trials": trials, "max_epochs": epochs, "hyperparameters": hp})
        for e in range(epochs):
            out.append({"type": "epoch_ended", "time": 0.0, "trial_id": tid, "epoch": e + 1,
                        "max_epochs": epochs,
                        "logs": {"loss": 1.0 / (e + 1), "val_loss": 1.1 / (e + 1),
                                 "auc": 0.6 + 0.05 * e, "val_auc": 0.58 + 0.05 * e + 0.01 * t}})
        out.append({"type": "trial_ended", "time": 0.0, "trial_id": tid, "status": "completed",
                    "score": 0.68 + 0.01 * t, "hyperparameters": hp, "seconds": 1.5,
                    "epochs": epochs})
        out.append({"type": "best_changed", "time": 0.0, "trial_id": tid,
                    "score": 0.68 + 0.01 * t})
    out.append({"type": "search_finished", "time": 0.0, "project": "p", "reason": "budget",
                "best_trial_id": f"t{trials - 1}", "best_score": 0.69, "trials": trials})
    return out
