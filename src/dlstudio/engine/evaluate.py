"""Test-split metrics, the decision threshold, and permutation feature importance.

Every metric comes from scikit-learn. Pure NumPy/pandas here: model predictions are passed in
as a function, so this module needs no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.inspection import permutation_importance

from dlstudio.engine.records import EvaluationReport
from dlstudio.engine.templates import TaskType, Template
from dlstudio.engine.threshold import best_cost_threshold

MAX_CURVE_POINTS = 200
MAX_STORED_TEST_ROWS = 20_000
MAX_PLOT_POINTS = 2000


def choose_threshold(y_true: np.ndarray, p_positive: np.ndarray, criterion: str,
                     cost_false_approval: float = 1.0, cost_false_rejection: float = 1.0) -> float:
    """The decision threshold on P(positive) that is best on these rows.

    "ks": maximise TPR - FPR (the Kolmogorov-Smirnov point, credit scoring's usual cut-off);
    "cost": minimise the total cost of errors (see `threshold.best_cost_threshold`);
    "accuracy": maximise accuracy.
    """
    y_true = np.asarray(y_true).astype(int)
    if criterion == "ks":
        fpr, tpr, thresholds = skm.roc_curve(y_true, p_positive)
        best = int(np.argmax(tpr - fpr))
        return float(min(max(thresholds[best], 0.0), 1.0))
    if criterion == "cost":
        return best_cost_threshold(p_positive, y_true == 1, cost_false_approval,
                                   cost_false_rejection)[0]
    best_t, best_value = 0.5, -np.inf
    for t in np.unique(np.concatenate([p_positive, [0.5]])):
        value = skm.accuracy_score(y_true, (p_positive >= t).astype(int))
        if value > best_value:
            best_t, best_value = float(t), value
    return best_t


def threshold_criterion(template: Template, cost_false_approval: float,
                        cost_false_rejection: float) -> str:
    if template.threshold_criterion == "ks" and cost_false_approval == cost_false_rejection:
        return "ks"
    if template.threshold_criterion in ("ks", "cost"):
        return "cost"
    return "accuracy"


def _thin(*arrays: np.ndarray) -> list[list[float]]:
    n = len(arrays[0])
    idx = np.unique(np.linspace(0, n - 1, min(n, MAX_CURVE_POINTS)).astype(int))
    return [[float(v) for v in np.asarray(a)[idx]] for a in arrays]


def classification_metrics(task: TaskType, y_true: np.ndarray, proba: np.ndarray,
                           threshold: float | None) -> tuple[dict[str, float], np.ndarray]:
    """Metrics and predicted class indices. `proba` is [N, K]; for binary, column 1 = positive."""
    y_true = np.asarray(y_true).astype(int)
    out: dict[str, float] = {}
    if task is TaskType.BINARY:
        p = proba[:, 1]
        pred = (p >= threshold).astype(int)
        if len(np.unique(y_true)) == 2:
            fpr, tpr, _ = skm.roc_curve(y_true, p)
            out["auc"] = float(skm.roc_auc_score(y_true, p))
            out["ks"] = float(np.max(tpr - fpr))
            out["gini"] = 2 * out["auc"] - 1
        out["precision"] = float(skm.precision_score(y_true, pred, zero_division=0))
        out["recall"] = float(skm.recall_score(y_true, pred, zero_division=0))
        out["f1"] = float(skm.f1_score(y_true, pred, zero_division=0))
    else:
        pred = np.argmax(proba, axis=1)
        labels = list(range(proba.shape[1]))
        if len(np.unique(y_true)) == proba.shape[1] and proba.shape[1] > 2:
            out["auc"] = float(skm.roc_auc_score(y_true, proba, multi_class="ovr",
                                                 labels=labels))
        elif proba.shape[1] == 2 and len(np.unique(y_true)) == 2:
            out["auc"] = float(skm.roc_auc_score(y_true, proba[:, 1]))
    out["accuracy"] = float(skm.accuracy_score(y_true, pred))
    out["f1_macro"] = float(skm.f1_score(y_true, pred, average="macro", zero_division=0))
    out["log_loss"] = float(skm.log_loss(y_true, np.clip(proba, 1e-7, 1),
                                         labels=list(range(proba.shape[1]))))
    return out, pred


def regression_metrics(y_true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, pred))),
        "mae": float(skm.mean_absolute_error(y_true, pred)),
        "r2": float(skm.r2_score(y_true, pred)),
    }


class _Scored:
    """The minimal estimator face scikit-learn's permutation_importance asks of a model."""

    def __init__(self, predict: Callable[[pd.DataFrame], np.ndarray]) -> None:
        self.predict = predict

    def fit(self, *args: Any) -> _Scored:
        return self


def feature_importance(predict_fn: Callable[[pd.DataFrame], np.ndarray], x: pd.DataFrame,
                       y: np.ndarray, task: TaskType, seed: int, n_repeats: int = 3,
                       max_rows: int = 2000) -> list[dict[str, Any]]:
    """Permutation importance of each input column: how much the test score drops when that
    column's values are shuffled (scikit-learn's permutation_importance)."""
    if len(x) > max_rows:
        x = x.sample(max_rows, random_state=seed)
        y = y[np.asarray(x.index)]
        x = x.reset_index(drop=True)

    def score(estimator: _Scored, xs: pd.DataFrame, ys: np.ndarray) -> float:
        out = estimator.predict(xs)
        if task is TaskType.REGRESSION:
            return -float(np.sqrt(skm.mean_squared_error(ys, out.reshape(-1))))
        if task is TaskType.BINARY and len(np.unique(ys)) == 2:
            return float(skm.roc_auc_score(ys, out[:, 1]))
        return float(skm.accuracy_score(ys, np.argmax(out, axis=1)))

    result = permutation_importance(_Scored(predict_fn), x, y, scoring=score,
                                    n_repeats=n_repeats, random_state=seed)
    rows = [{"column": str(c), "importance": float(m), "std": float(s)}
            for c, m, s in zip(x.columns, result.importances_mean, result.importances_std,
                               strict=True)]
    return sorted(rows, key=lambda r: r["importance"], reverse=True)


def evaluate(task: TaskType, classes: list[str], y_test: np.ndarray, test_out: np.ndarray,
             *, threshold: float | None = None) -> EvaluationReport:
    """The evaluation report (callers add importance, examples and the threshold's story).

    `y_test` holds class indices (classification) or values (regression); `test_out` the model's
    [N, K] probabilities (binary: [N, 2], column 1 = positive) or [N] predictions.
    """
    n = min(len(y_test), MAX_STORED_TEST_ROWS)
    if task is TaskType.REGRESSION:
        pred = np.asarray(test_out).reshape(-1)
        return EvaluationReport(
            task=task, classes=classes, threshold=threshold,
            metrics=regression_metrics(y_test, pred),
            residuals=residuals(np.asarray(y_test, dtype=float), pred),
            test={"y_true": [float(v) for v in y_test[:n]],
                  "scores": [float(v) for v in pred[:n]]})
    metrics, pred = classification_metrics(task, y_test, test_out, threshold)
    roc = pr = None
    # Any two-class task has ROC and precision-recall curves (a two-label sentiment task is
    # MULTICLASS): of the positive class, which is column 1 (the second class) when the task
    # names none.
    if len(classes) == 2 and len(np.unique(y_test)) == 2:
        fpr, tpr, thr = skm.roc_curve(y_test, test_out[:, 1])
        thr = np.clip(thr, 0.0, 1.0)
        fpr_l, tpr_l, thr_l = _thin(fpr, tpr, thr)
        roc = {"fpr": fpr_l, "tpr": tpr_l, "thresholds": thr_l}
        precision, recall, thr = skm.precision_recall_curve(y_test, test_out[:, 1])
        # scikit-learn's last point (recall 0, precision 1) has no threshold: above every score.
        thr = np.clip(np.append(thr, 1.0), 0.0, 1.0)
        recall_l, precision_l, thr_l = _thin(recall, precision, thr)
        pr = {"recall": recall_l, "precision": precision_l, "thresholds": thr_l}
    labels = list(range(len(classes)))
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_test, pred, labels=labels, zero_division=0)
    per_class = [{"class": str(c), "precision": float(p), "recall": float(r), "f1": float(f),
                  "support": int(s)}
                 for c, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)]
    return EvaluationReport(
        task=task, classes=classes, threshold=threshold, metrics=metrics,
        confusion_matrix=skm.confusion_matrix(y_test, pred, labels=labels).tolist(),
        roc=roc, pr_curve=pr, per_class=per_class,
        test={"y_true": [classes[int(i)] for i in y_test[:n]],
              "scores": np.round(test_out[:n], 6).tolist()})


def residuals(actual: np.ndarray, predicted: np.ndarray, seed: int = 0) -> dict[str, list[float]]:
    """At most MAX_PLOT_POINTS test rows (a seeded sample, in row order) for the regression
    plots: {"actual", "predicted", "residual"}, residual = actual - predicted."""
    idx = np.arange(len(actual))
    if len(idx) > MAX_PLOT_POINTS:
        idx = np.sort(np.random.default_rng(seed).choice(idx, MAX_PLOT_POINTS, replace=False))
    a, p = np.asarray(actual, dtype=float)[idx], np.asarray(predicted, dtype=float)[idx]
    return {"actual": [float(v) for v in a], "predicted": [float(v) for v in p],
            "residual": [float(v) for v in a - p]}


def decisions(task: TaskType, out: np.ndarray, threshold: float | None) -> np.ndarray:
    """The predicted class index of each row: P(positive) >= threshold for binary, the most
    probable class otherwise."""
    if task is TaskType.BINARY:
        return (out[:, 1] >= (0.5 if threshold is None else threshold)).astype(int)
    return np.argmax(out, axis=1)


def pick_examples(task: TaskType, y_true: np.ndarray, out: np.ndarray, threshold: float | None,
                  *, per_kind: int = 2, max_rows: int = 24) -> list[int]:
    """Test rows worth showing, as row indices.

    Classification: for each true class in turn, its `per_kind` most confident right
    predictions, then its `per_kind` most confident wrong ones (fewer per kind when there are
    many classes, so at most `max_rows` in all, at least one per kind). Regression: the
    `per_kind + 1` closest predictions, then the `per_kind + 1` furthest (furthest first).
    """
    if task is TaskType.REGRESSION:
        error = np.abs(np.asarray(y_true, dtype=float) - np.asarray(out, dtype=float).reshape(-1))
        k = min(per_kind + 1, len(error) // 2)
        order = np.argsort(error, kind="stable")
        return [int(i) for i in [*order[:k], *order[::-1][:k]]]
    y = np.asarray(y_true).astype(int)
    pred = decisions(task, out, threshold)
    confidence = out[np.arange(len(pred)), pred]
    k = max(1, min(per_kind, max_rows // (2 * out.shape[1])))
    rows: list[int] = []
    for c in range(out.shape[1]):
        for right in (True, False):
            mask = (y == c) & ((pred == c) == right)
            idx = np.flatnonzero(mask)
            rows += [int(i) for i in idx[np.argsort(-confidence[idx], kind="stable")][:k]]
    return rows
