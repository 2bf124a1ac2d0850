"""What a project records, as typed values: the task, the evaluation report and the model card.

Each is a dataclass that writes itself to the JSON a user can read (`project.json`'s "task",
`models/evaluation.json`, the export's `model_card.json`) and reads itself back. The engine, the
GUI and the tests share these classes, so no one copies a file format by hand. Plain Python: the
GUI may import this module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from dlstudio.engine.templates import TaskType


def _known(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    """The keys of `d` that are fields of `cls` (newer files may carry more)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in d.items() if k in names}


def model_kind(networks: int) -> str:
    """What the model is, in words: "one network" or "an ensemble of 3 networks (...)"."""
    if networks <= 1:
        return "one network"
    return f"an ensemble of {networks} networks (their outputs averaged)"


@dataclass(frozen=True)
class Task:
    """What the model predicts, settled once from the data by `prepare`."""

    template: str
    type: TaskType
    target: str
    classes: list[str] = field(default_factory=list)   # [] for regression; binary: positive last
    positive_class: str | None = None                  # binary only
    text_columns: list[str] = field(default_factory=list)

    @property
    def is_regression(self) -> bool:
        return self.type is TaskType.REGRESSION

    @property
    def is_binary(self) -> bool:
        return self.type is TaskType.BINARY

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "type": str(self.type)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Task:
        d = _known(cls, d)
        return cls(**{**d, "type": TaskType(d["type"])})


@dataclass
class EvaluationReport:
    """The best model measured on the test rows (`models/evaluation.json`)."""

    task: TaskType
    classes: list[str]
    metrics: dict[str, float]
    threshold: float | None = None          # binary: P(positive) at or above it -> positive
    threshold_rule: str | None = None       # how the threshold was chosen, in words
    positive_class: str | None = None
    costs: dict[str, float] | None = None   # {"false_approval": .., "false_rejection": ..}
    confusion_matrix: list[list[int]] | None = None   # rows: true class, columns: predicted
    roc: dict[str, list[float]] | None = None         # {"fpr", "tpr", "thresholds"}
    # Two-class tasks: the precision-recall curve of the positive class (the second class when
    # the task names none), {"recall", "precision", "thresholds"}, recall falling to 0.
    pr_curve: dict[str, list[float]] | None = None
    # Classification: one row per class at the engine's decisions, in `classes` order:
    # {"class", "precision", "recall", "f1", "support"} (support: its test rows).
    per_class: list[dict[str, Any]] = field(default_factory=list)
    # Regression: at most evaluate.MAX_PLOT_POINTS test rows, {"actual", "predicted",
    # "residual"} with residual = actual - predicted.
    residuals: dict[str, list[float]] | None = None
    # Test rows (at most evaluate.MAX_STORED_TEST_ROWS): true labels or values, and the model's
    # scores ([K] probabilities per row, or the predicted value).
    test: dict[str, list] = field(default_factory=dict)
    feature_importance: list[dict[str, Any]] = field(default_factory=list)   # column, importance
    # A few test rows per class, right and wrong, most confident first (regression: the closest
    # and the furthest predictions); see `pipeline.examples`. Each: "row" {column: value},
    # "true", "predicted", "probability" (of the predicted class; None for regression), and
    # since issue 14 "correct" (bool; None for regression), "scores" ([K] probabilities, or
    # None), "words_for" (the class, or the target, whose output the words' effects refer to)
    # and "words" {text column: [{"word", "effect"}]}: the row's own words, strongest first,
    # effect > 0 raised that output, < 0 lowered it.
    examples: list[dict[str, Any]] = field(default_factory=list)
    # Text columns: {column: {class (regression: the target): [{"ngram", "effect", "texts"}]}},
    # the words that push the prediction towards the class most (effect > 0, strongest first),
    # then those that push it away most (effect < 0); see `engine/explain.py`.
    word_importance: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    ensemble_size: int = 1     # networks averaged by the model measured (1: one network)
    device: str = ""           # where it was trained, e.g. "CPU" or "GPU: NVIDIA H200"
    # After these figures were measured, the same network(s) trained once more on this many
    # rows (all of them, test rows included) became the model an export writes
    # (`pipeline.final_fit`). None: the export is the model measured here.
    final_fit_rows: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "task": str(self.task)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvaluationReport:
        d = _known(cls, d)
        return cls(**{**d, "task": TaskType(d["task"])})


@dataclass
class InputSpec:
    """One input of the serving signature, as the model card lists it."""

    column: str     # the column's name in the user's data
    input: str      # the signature key
    dtype: str      # "float32" or "string"
    role: str       # numeric, categorical or text


@dataclass
class ModelCard:
    """What an export is and how it was made (`model_card.json`, also rendered as Markdown)."""

    name: str
    created: str
    template: dict[str, str]                # name, title, objective
    task: TaskType
    target: str
    classes: list[str]
    positive_class: str | None
    threshold: float | None
    threshold_rule: str | None
    inputs: list[InputSpec]
    outputs: dict[str, str]
    metrics: dict[str, float]
    hyperparameters: dict[str, Any]
    data: dict[str, Any]                    # source, rows, columns, train/validation/test, seed
    versions: dict[str, str]
    verified: dict[str, Any] | None = None  # rows compared after reloading, largest difference
    # One per file set written (SavedModel, TFLite, ONNX): format, files (relative paths),
    # runtime, verified, rows, max_difference, labels_equal (None for regression), note.
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    format_version: int = 1
    # An ensemble's members, best first: trial_id, score (the search's validation score) and
    # hyperparameters. Empty: the export is one network (`hyperparameters` above).
    ensemble: list[dict[str, Any]] = field(default_factory=list)
    device: str = ""                        # where it was trained, e.g. "GPU: NVIDIA H200"
    # The model was trained once more on this many rows (every row, test rows included) after
    # `metrics` were measured on the test rows; None: it is the model measured.
    final_fit_rows: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "task": str(self.task)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelCard:
        d = _known(cls, d)
        return cls(**{**d, "task": TaskType(d["task"]),
                      "inputs": [InputSpec(**_known(InputSpec, s)) for s in d["inputs"]]})
