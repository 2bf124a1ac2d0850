"""Ensembles: the average of the best few networks of a search, when it beats the best one.

After the search, the best `MAX_MEMBERS` completed trials are reloaded from their best-epoch
checkpoints (KerasTuner keeps one per trial; they were trained on the training rows only) and
predict the validation rows once each. For k = 1..N the average of the first k members'
probabilities (regression: predictions) is scored on the validation rows; the best k wins, the
smallest on a tie, and k > 1 only when it beats the single best network by more than
`MIN_GAIN`. The validation rows thus choose k, as they chose the trials and their epochs; none
of it trains on them. The test rows stay unseen.

The score that decides is the search's own objective, except accuracy
(`templates.deciding_objective`, which also chose each network's epoch): on a few hundred
validation rows accuracy moves in steps of one row, and the best network's accuracy is the
highest of several such noisy figures, so it is flattered against any average. There the log
loss decides, which counts every row's probability and not only which side of 0.5 it falls
(benchmarks/RESULTS.md, "Choosing k": with accuracy deciding, the fine-food searches kept one
network where the average was better on the held-out reviews).

The ensemble is ONE Keras functional model: the same raw inputs go to each member, and a
Keras `Average` layer averages their outputs. Evaluation, explanation and export treat it as
any model, and its SavedModel has the same `serving_default` signature.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn import metrics as skm

from dlstudio.engine.events import Log, Phase, PhaseProgress, PhaseStarted
from dlstudio.engine.reporter import Reporter
from dlstudio.engine.templates import TaskType, Template, deciding_objective

MAX_MEMBERS = 5        # the best trials considered; each one more costs a prediction pass
MIN_GAIN = 1e-4        # what k > 1 must gain over one network on validation, in objective units


def validation_score(objective: str, task: TaskType, y: np.ndarray, out: np.ndarray) -> float:
    """The search's objective ("val_auc", "val_accuracy", "val_loss", "val_rmse", ...)
    measured with scikit-learn on outputs `out`: [N, K] probabilities (binary: [N, 2]) or [N]
    predictions. Unweighted, like the Keras metric of the same name."""
    name = objective.removeprefix("val_")
    if task is TaskType.REGRESSION:
        pred = np.asarray(out, dtype=np.float64).reshape(-1)
        mse = float(skm.mean_squared_error(y, pred))
        return {"loss": mse, "mse": mse, "rmse": mse ** 0.5,
                "mae": float(skm.mean_absolute_error(y, pred))}[name]
    y = np.asarray(y).astype(int)
    proba = np.clip(np.asarray(out, dtype=np.float64), 1e-7, 1.0)
    if name == "auc":
        if task is TaskType.BINARY:
            return float(skm.roc_auc_score(y, proba[:, 1]))
        return float(skm.roc_auc_score(y, proba, multi_class="ovr",
                                       labels=list(range(proba.shape[1]))))
    if name == "accuracy":
        pred = (proba[:, 1] >= 0.5).astype(int) if task is TaskType.BINARY else proba.argmax(1)
        return float(skm.accuracy_score(y, pred))
    if name == "loss":
        return float(skm.log_loss(y, proba, labels=list(range(proba.shape[1]))))
    raise ValueError(f"No validation score for the objective '{objective}'.")


def better(a: float, b: float, direction: str, margin: float = 0.0) -> bool:
    """True when score `a` beats `b` by more than `margin` in the objective's direction."""
    return a > b + margin if direction == "max" else a < b - margin


def pick_k(scores: list[float], direction: str, min_gain: float = MIN_GAIN) -> int:
    """How many members to average, from `scores[i]`, the validation score of the average of
    the best i + 1: the best score, the smallest k on a tie, and k > 1 only when it beats one
    network by more than `min_gain`."""
    k = 1
    for i, score in enumerate(scores[1:], start=2):
        if better(score, scores[0], direction, min_gain) and better(score, scores[k - 1],
                                                                    direction):
            k = i
    return k


@dataclass
class Choice:
    """What the ensemble step decided. `trials` are KerasTuner trials, best first; `models`
    the members as searched (best-epoch checkpoints); `scores[i]` the validation score of the
    average of the first i + 1 of them."""

    k: int
    trials: list[Any]
    models: list[Any]
    scores: list[float] = field(default_factory=list)
    decided_by: str = ""                     # the objective that chose k (`deciding_objective`)
    deciding: list[float] = field(default_factory=list)   # its score of each average
    outputs: np.ndarray | None = None        # validation outputs of the chosen average
    seconds: float = 0.0

    @property
    def is_ensemble(self) -> bool:
        return self.k > 1

    def members(self) -> list[dict[str, Any]]:
        """The card's and project.json's list: trial id, search score, hyper-parameters."""
        return [{"trial_id": t.trial_id, "score": None if t.score is None else float(t.score),
                 "hyperparameters": dict(t.hyperparameters.values)}
                for t in self.trials[:self.k]]

    def summary(self, objective: str) -> dict[str, Any]:
        """What project.json keeps of the choice."""
        return {"k": self.k, "considered": len(self.scores), "objective": objective,
                "validation_scores": {str(i + 1): s for i, s in enumerate(self.scores)},
                "decided_by": self.decided_by or objective,
                "deciding_scores": {str(i + 1): s for i, s in
                                    enumerate(self.deciding or self.scores)},
                "seconds": round(self.seconds, 2), "members": self.members()}


def choose(tuner, template: Template, task: TaskType, arrays: dict[str, np.ndarray],
           y: np.ndarray, reporter: Reporter, outputs_of) -> Choice:
    """Reload the best trials and choose k on the validation rows (`arrays`, `y`).

    `outputs_of(model, arrays)` gives a model's outputs in the shape `validation_score` takes.
    Reports `PhaseStarted(phase="ensemble")` and a `PhaseProgress` per member. With fewer than
    two completed trials, or when Stop was pressed, the best network alone is returned and
    nothing is reported (k = 1: the same model as without this step)."""
    started = time.monotonic()
    trials = [t for t in tuner.oracle.get_best_trials(MAX_MEMBERS) if t.score is not None]
    best = tuner.load_model(trials[0])
    if len(trials) < 2 or reporter.should_stop():
        return Choice(k=1, trials=trials[:1], models=[best])
    reporter.report(PhaseStarted(phase=Phase.ENSEMBLE, steps=len(trials), message=(
        f"Checking whether the average of the best {len(trials)} networks beats the best one "
        "on the validation rows.")))
    deciding, direction = deciding_objective(template.objective, template.direction, task)
    models, outs, scores, by = [], [], [], []
    for i, trial in enumerate(trials):
        if i and reporter.should_stop():
            break
        model = best if i == 0 else tuner.load_model(trial)
        models.append(model)
        outs.append(np.asarray(outputs_of(model, arrays), dtype=np.float64))
        average = sum(outs) / (i + 1)
        scores.append(validation_score(template.objective, task, y, average))
        by.append(validation_score(deciding, task, y, average))
        reporter.report(PhaseProgress(phase=Phase.ENSEMBLE, step=i + 1, steps=len(trials),
                                      logs={template.objective: scores[-1]}))
    k = pick_k(by, direction)
    seconds = time.monotonic() - started
    outputs = sum(outs[:k]) / k if k > 1 else None
    reporter.report(Log(level="info", message=choice_message(
        k, template.objective, scores, deciding, by, len(y), seconds)))
    return Choice(k=k, trials=trials[:max(k, 1)], models=models[:k], scores=scores,
                  decided_by=deciding, deciding=by, outputs=outputs, seconds=seconds)


def choice_message(k: int, objective: str, scores: list[float], deciding: str,
                   by: list[float], rows: int, seconds: float) -> str:
    """The log line that says which k was kept and why, in the deciding score's terms."""
    checked = f"(checked in {seconds:.1f} s)"
    if deciding == objective:
        if k > 1:
            return (f"The average of the best {k} networks wins on the validation rows: "
                    f"{objective} {scores[k - 1]:.4f} against {scores[0]:.4f} for the best "
                    f"network alone {checked}.")
        return (f"The best network alone is kept: no average of the best {len(scores)} beats "
                f"its {objective} of {scores[0]:.4f} on the validation rows {checked}.")
    why = (f"The log loss decides, not the accuracy: it weighs how sure each answer is, while "
           f"on {rows:,} rows the accuracy moves in steps of one row.")
    if k > 1:
        return (f"The average of the best {k} networks predicts the validation rows better "
                f"than the best network alone: log loss {by[k - 1]:.4f} against {by[0]:.4f} "
                f"(lower is better; {objective} {scores[k - 1]:.4f} against {scores[0]:.4f}) "
                f"{checked}. {why}")
    return (f"The best network alone is kept: no average of the best {len(scores)} has a lower "
            f"log loss on the validation rows than its {by[0]:.4f} ({objective} "
            f"{scores[0]:.4f}) {checked}. {why}")


def build(members: list[Any]):
    """One functional Keras model that averages `members`' outputs over the same raw inputs."""
    from dlstudio.engine.tf import keras

    if len(members) == 1:
        return members[0]
    first = members[0]
    inputs = {t.name: keras.Input(shape=tuple(t.shape[1:]), dtype=t.dtype, name=t.name)
              for t in first.inputs}
    outputs = []
    for i, member in enumerate(members):
        member.name = f"member_{i + 1}"      # unique names inside the ensemble
        outputs.append(member({t.name: inputs[t.name] for t in member.inputs}))
    averaged = keras.layers.Average(name="average", dtype="float32")(outputs)
    return keras.Model(inputs, averaged, name="dlstudio_ensemble")


def size(model) -> int:
    """How many networks a model averages (1 for a single network)."""
    return sum(1 for layer in getattr(model, "layers", [])
               if layer.name.startswith("member_")) or 1
