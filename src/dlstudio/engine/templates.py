"""Task templates: plain data saying what to predict, how to score it and where to search."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum

from dlstudio.engine.errors import ConfigError


class TaskType(StrEnum):
    BINARY = "binary"              # two classes, a decision threshold
    MULTICLASS = "multiclass"      # two or more classes, arg-max decision
    REGRESSION = "regression"


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    description: str               # one sentence for a non-expert
    task: TaskType
    modality: str                  # "tabular" or "text"
    objective: str                 # Keras validation metric to optimise, e.g. "val_auc"
    direction: str                 # "max" or "min"
    report: tuple[str, ...]        # test metrics to report, see engine.evaluate
    threshold_criterion: str = ""  # binary only: "ks" (Youden J), "accuracy", "cost"
    target_hints: tuple[str, ...] = ()     # column names that are probably the target
    positive_hints: tuple[str, ...] = ()   # values that are probably the positive ("bad") class
    class_weighting: bool = True   # search over class weights when classes are imbalanced
    max_trials: int = 10
    max_epochs: int = 30
    search_space: dict = field(default_factory=dict)   # overrides of the hypermodel defaults

    def to_dict(self) -> dict:
        d = asdict(self)
        d["task"] = str(self.task)
        d["report"] = list(self.report)
        d["target_hints"] = list(self.target_hints)
        d["positive_hints"] = list(self.positive_hints)
        return d


_TARGETS = ("target", "label", "class", "y", "outcome")

TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            name="credit-scoring",
            title="Credit scoring",
            description="Predict whether a loan applicant will repay, from a table of applicants.",
            task=TaskType.BINARY,
            modality="tabular",
            objective="val_auc",
            direction="max",
            report=("auc", "ks", "gini", "accuracy", "precision", "recall", "f1"),
            threshold_criterion="ks",
            target_hints=("status", "default", "bad", "loan_status", "credit_risk", "risk",
                          *_TARGETS),
            positive_hints=("bad", "default", "defaulted", "charged off", "yes", "1", "true",
                            "risk", "high"),
            max_trials=10,
            max_epochs=40,
        ),
        Template(
            name="sentiment",
            title="Sentiment analysis",
            description="Tell whether a text is positive or negative, from labelled examples.",
            task=TaskType.MULTICLASS,
            modality="text",
            objective="val_accuracy",
            direction="max",
            report=("accuracy", "f1_macro"),
            target_hints=("sentiment", "class", "label", "polarity", "rating", *_TARGETS),
            max_trials=8,
            max_epochs=40,
            search_space={"min_learning_rate": 3e-4},
        ),
        Template(
            name="tabular-classification",
            title="Table: predict a category",
            description="Predict which category a row belongs to, from the other columns.",
            task=TaskType.MULTICLASS,
            modality="tabular",
            objective="val_accuracy",
            direction="max",
            report=("accuracy", "f1_macro", "auc"),
            target_hints=_TARGETS,
            max_trials=10,
            max_epochs=40,
        ),
        Template(
            name="tabular-regression",
            title="Table: predict a number",
            description="Predict a numeric value (a price, an amount, a score) from the other "
                        "columns.",
            task=TaskType.REGRESSION,
            modality="tabular",
            objective="val_loss",
            direction="min",
            report=("rmse", "mae", "r2"),
            target_hints=("price", "amount", "value", "score", *_TARGETS),
            class_weighting=False,
            max_trials=10,
            max_epochs=60,
        ),
        Template(
            name="text-classification",
            title="Texts: predict a category",
            description="Sort texts into categories (topics, intents, departments, ...).",
            task=TaskType.MULTICLASS,
            modality="text",
            objective="val_accuracy",
            direction="max",
            report=("accuracy", "f1_macro"),
            target_hints=("category", "topic", "label", "class", *_TARGETS),
            max_trials=8,
            max_epochs=40,
            search_space={"min_learning_rate": 3e-4},
        ),
    )
}


def deciding_objective(objective: str, direction: str, task: TaskType) -> tuple[str, str]:
    """The validation score that decides which epoch of a network is kept (engine/search.py)
    and how many of the best networks are averaged (engine/ensemble.py), with its direction:
    the search's `objective`, except accuracy on a classification, where the log loss
    ("val_loss", lower is better) decides.

    On a few hundred validation rows accuracy moves in steps of one row, and the highest of
    several such figures is flattered: a network kept at its most accurate epoch is often
    already over-confident (film snippets, seed 2: accuracy peaked at epoch 11 with a loss of
    0.535, the loss was lowest at epoch 1 with 0.449). The log loss counts every row's
    probability, not only which side of 0.5 it falls (benchmarks/RESULTS.md). Networks are
    still ranked, and shown, by their accuracy (at the epoch the loss chose)."""
    if task is not TaskType.REGRESSION and objective.removeprefix("val_") == "accuracy":
        return "val_loss", "min"
    return objective, direction


def get_template(name: str) -> Template:
    try:
        return TEMPLATES[name]
    except KeyError:
        known = ", ".join(TEMPLATES)
        raise ConfigError(f"There is no task template called '{name}'. Choose one of: {known}.") \
            from None
