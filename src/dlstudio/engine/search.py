"""The architecture search: KerasTuner, extended the way KerasTuner itself is extended.

- An Oracle subclass per tuner kind decides what runs next: the first trial is the hypermodel's
  defaults (a configuration known to work), and when time is up or Stop was pressed its
  `populate_space` answers `TrialStatus.STOPPED`, which ends `Tuner.search` cleanly (KerasTuner's
  own `GridSearchOracle` works the same way). The trial budget stays KerasTuner's own check.
- A Tuner subclass reports trials as events through the `on_trial_begin` / `on_trial_end` hooks.
- A Keras callback reports every epoch and ends the running trial after the current epoch when
  the search must stop.
- Where the objective is accuracy, each network's epoch is chosen by its validation loss
  (`templates.deciding_objective`) and networks are ranked by their accuracy at that epoch: an
  `EpochsByLoss` objective and the oracle's `score_trial`, KerasTuner's own extension points.

KerasTuner saves its state after every trial, so a stopped or killed search can be resumed.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dlstudio.engine.events import BestChanged, EndReason, EpochEnded, Log, TrialEnded, TrialStarted
from dlstudio.engine.hypermodel import StudioHyperModel
from dlstudio.engine.reporter import Reporter
from dlstudio.engine.templates import Template, deciding_objective
from dlstudio.engine.tf import keras, kt

if TYPE_CHECKING:
    from dlstudio.engine.cluster import ClusterSettings

EARLY_STOPPING_PATIENCE = 5
MAX_CONSECUTIVE_FAILED_TRIALS = 3
IDLE_WAIT_SECONDS = 0.5        # a distributed worker told to wait asks again after this
TrialStatus = kt.engine.trial.TrialStatus


class SearchControl:
    """One per search, shared by the oracle, the tuner and the (deep-copied) epoch callbacks:
    the reporter, the budgets, the trial in progress, and why the search ended early."""

    def __init__(self, reporter: Reporter, deadline: float | None, max_trials: int,
                 max_epochs: int) -> None:
        self.reporter = reporter
        self.deadline = deadline
        self.max_trials = max_trials
        self.max_epochs = max_epochs
        self.trial_id: str | None = None
        self.trial_started = 0.0
        self.epochs = 0                            # epochs run in the current trial
        self.reason: EndReason | None = None       # set when time is up or Stop was pressed
        # A distributed search (engine/distributed.py): the chief's settings, or on a worker
        # whether it must leave the search before its next trial.
        self.cluster: ClusterSettings | None = None
        self.leave: Callable[[], bool] | None = None
        self.worker = ""                           # the tuner id of the process running trials

    def __deepcopy__(self, memo: dict) -> SearchControl:
        return self     # KerasTuner copies callbacks per trial; they must share this object

    def must_end(self) -> bool:
        """True when the search must end now (Stop pressed or time up); records why."""
        if self.reason is None:
            if self.reporter.should_stop():
                self.reason = EndReason.STOPPED
            elif self.deadline is not None and time.monotonic() >= self.deadline:
                self.reason = EndReason.TIME
        return self.reason is not None


# -- objectives: which epoch of a network is kept, and what a network scores --------------------

class EpochsByLoss(kt.Objective):
    """The oracle's objective where the template's is accuracy (`deciding_objective`): its
    value is the negated validation loss, so KerasTuner's best-epoch checkpoint and the epoch
    whose metrics it records are the epoch of the lowest loss; `_StudioOracle.score_trial` then
    scores the network by its accuracy (`shown`) at that epoch.

    Its name is in no Keras log: KerasTuner adds it to each epoch's metrics under that name (as
    for its `MultiObjective`), so it never compares a loss with an accuracy."""

    def __init__(self, shown: str) -> None:
        super().__init__("val_loss_negated", "max")
        self.shown = shown

    def has_value(self, logs: dict) -> bool:
        return "val_loss" in logs

    def get_value(self, logs: dict) -> float:
        return -float(logs["val_loss"])


def search_objective(template: Template) -> kt.Objective:
    """What KerasTuner optimises: the template's objective, or `EpochsByLoss` for accuracy."""
    if deciding_objective(template.objective, template.direction, template.task)[0] \
            != template.objective:
        return EpochsByLoss(template.objective)
    return kt.Objective(template.objective, direction=template.direction)


# -- oracles: what runs next --------------------------------------------------------------------

class _StudioOracle(kt.Oracle):
    """Adds to a KerasTuner oracle: defaults first, and STOPPED when the search must end.

    `control` is attached by `make_tuner` after construction and is not part of the oracle's
    saved state (KerasTuner saves oracles through `get_state`, which this does not extend)."""

    control: SearchControl | None = None
    defaults_first = True

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        if self.control is not None and self.control.must_end():
            return {"status": TrialStatus.STOPPED, "values": None}
        if self.defaults_first and not self.trials:
            return {"status": TrialStatus.RUNNING, "values": self._default_values()}
        return super().populate_space(trial_id)

    def score_trial(self, trial: kt.engine.trial.Trial) -> None:
        """KerasTuner's score (the objective at the recorded epoch), or with `EpochsByLoss` the
        accuracy at the epoch of the lowest loss. NaN (a diverged network) lets KerasTuner mark
        the trial invalid, as it does for a NaN objective."""
        super().score_trial(trial)
        shown = getattr(self.objective, "shown", None)
        if shown is None or trial.score is None:
            return
        at_step = {obs.step: obs.mean() for obs in trial.metrics.get_history(shown)} \
            if trial.metrics.exists(shown) else {}
        value = at_step.get(trial.best_step, float("nan"))
        trial.score = float(value) if np.isfinite(trial.score) else float("nan")

    def _default_values(self) -> dict[str, Any]:
        hps = kt.HyperParameters()
        for hp in self.hyperparameters.space:
            hps.merge([hp])
            if hps.is_active(hp):      # conditional ones only where their parent allows
                hps.values[hp.name] = hp.default
        return hps.values


class BayesianOracle(_StudioOracle, kt.oracles.BayesianOptimizationOracle):
    def populate_space(self, trial_id: str) -> dict[str, Any]:
        """KerasTuner checks its random start for repeats but not its Gaussian process, whose
        optimum often sits on a bound or on the best trial: the fourth of four film-snippet
        networks (seed 0) repeated the first one's values exactly, a quarter of the budget
        spent on nothing new. A repeat is replaced by random values not yet tried."""
        response = super().populate_space(trial_id)
        if response["status"] == TrialStatus.RUNNING and self._duplicate(response["values"]):
            values = self._random_values()        # None once every value has been tried
            response = {"status": TrialStatus.RUNNING if values else TrialStatus.STOPPED,
                        "values": values}
        return response


class RandomOracle(_StudioOracle, kt.oracles.RandomSearchOracle):
    pass


class HyperbandOracle(_StudioOracle, kt.oracles.HyperbandOracle):
    defaults_first = False      # Hyperband's trials carry their bracket's epochs and rounds


# -- tuners: trials as events -------------------------------------------------------------------

class LeaveSearch(Exception):
    """Raised between trials when a distributed worker was asked to stop (its own Stop)."""


class StudioTuner(kt.Tuner):
    """A KerasTuner tuner that reports each trial's start and end as events.

    On a distributed worker `self.oracle` is KerasTuner's `OracleClient`, which only offers the
    oracle's calls (no `trials`): the hooks below use calls only."""

    def __init__(self, oracle: _StudioOracle, hypermodel: StudioHyperModel,
                 control: SearchControl, **kwargs: Any) -> None:
        # `kt.Tuner.__init__` by name: subclasses that also derive from a stock tuner (below)
        # take its trial logic but not its constructor, which would build a second oracle.
        kt.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)
        oracle.control = control
        self.control = control
        control.worker = self.tuner_id     # KERASTUNER_TUNER_ID, "tuner0" in a single process
        self.trials_run = 0
        self._waiting = False

    def pre_create_trial(self) -> None:
        if self.control.leave is not None:           # a distributed worker
            if self.control.leave():
                raise LeaveSearch
            if self._waiting:      # the chief answered IDLE: KerasTuner would ask again at once
                time.sleep(IDLE_WAIT_SECONDS)
            self._waiting = True   # until on_trial_begin says a trial came

    def _populate_initial_space(self) -> None:
        # KerasTuner builds every conditional branch once to learn the search space; with a
        # placeholder vocabulary, so that no branch adapts to the texts before a trial asks.
        with self.hypermodel.declaring_space():
            super()._populate_initial_space()

    def on_trial_begin(self, trial: kt.engine.trial.Trial) -> None:
        super().on_trial_begin(trial)
        self._waiting = False
        c = self.control
        c.trial_id, c.epochs, c.trial_started = trial.trial_id, 0, time.monotonic()
        trials = getattr(self.oracle, "trials", None)     # None on a distributed worker
        number = len(trials) if trials is not None else int(trial.trial_id) + 1
        c.reporter.report(TrialStarted(
            trial_id=trial.trial_id, number=number, max_trials=c.max_trials,
            max_epochs=int(trial.hyperparameters.values.get("tuner/epochs", c.max_epochs)),
            hyperparameters=dict(trial.hyperparameters.values), worker=c.worker))

    def on_trial_end(self, trial: kt.engine.trial.Trial) -> None:
        super().on_trial_end(trial)      # KerasTuner records the trial and saves its state
        self.trials_run += 1
        # The oracle's record (the chief's, on a worker) holds the score it computed.
        recorded = self.oracle.get_trial(trial.trial_id)
        c = self.control
        c.reporter.report(TrialEnded(
            trial_id=trial.trial_id, status=str(recorded.status).lower(), score=recorded.score,
            hyperparameters=dict(trial.hyperparameters.values),
            seconds=time.monotonic() - c.trial_started, epochs=c.epochs,
            message=last_error_line(trial.message), worker=c.worker,
            kept_epoch=int(recorded.best_step or 0) + 1 if recorded.score is not None else 0))
        trial = recorded
        best = self.oracle.get_best_trials(1)
        if best and best[0].trial_id == trial.trial_id and trial.score is not None:
            c.reporter.report(BestChanged(trial_id=trial.trial_id, score=float(trial.score)))


class HyperbandTuner(StudioTuner, kt.Hyperband):
    """Hyperband's trial logic (epochs per bracket, weights carried between rounds)."""


_KINDS: dict[str, tuple[type[_StudioOracle], type[StudioTuner]]] = {
    "bayesian": (BayesianOracle, StudioTuner),
    "random": (RandomOracle, StudioTuner),
    "hyperband": (HyperbandOracle, HyperbandTuner),
}


def make_tuner(kind: str, hypermodel: StudioHyperModel, template: Template, directory: Path,
               seed: int, control: SearchControl, overwrite: bool) -> StudioTuner:
    """A tuner of the chosen kind over `hypermodel`, keeping its state in `directory`."""
    oracle_class, tuner_class = _KINDS[kind]
    if control.cluster is not None:          # the chief of a distributed search
        from dlstudio.engine.distributed import ChiefOracle
        oracle_class = type(f"Chief{oracle_class.__name__}", (ChiefOracle, oracle_class), {})
    common: dict[str, Any] = dict(
        objective=search_objective(template), seed=seed,
        max_consecutive_failed_trials=MAX_CONSECUTIVE_FAILED_TRIALS)
    if kind == "hyperband":
        oracle = oracle_class(max_epochs=control.max_epochs, factor=3, **common)
        oracle.max_trials = control.max_trials     # Hyperband has no trial budget of its own
    elif kind == "bayesian":
        # KerasTuner's default of 3 random trials per hyper-parameter (about 30 here) would
        # make a budget of 6-10 trials a purely random search.
        oracle = oracle_class(max_trials=control.max_trials,
                              num_initial_points=max(2, control.max_trials // 3), **common)
    else:
        oracle = oracle_class(max_trials=control.max_trials, **common)
    return tuner_class(oracle, hypermodel, control, directory=str(directory.parent),
                       project_name=directory.name, overwrite=overwrite)


# -- epochs as events ---------------------------------------------------------------------------

class EventCallback(keras.callbacks.Callback):
    """Reports every epoch and ends the trial after it when the search must stop."""

    def __init__(self, control: SearchControl) -> None:
        super().__init__()
        self.control = control

    def __deepcopy__(self, memo: dict) -> EventCallback:
        return EventCallback(copy.deepcopy(self.control, memo))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        c = self.control
        c.epochs += 1
        c.reporter.report(EpochEnded(trial_id=c.trial_id or "", epoch=epoch + 1,
                                     max_epochs=self.params.get("epochs") or c.max_epochs,
                                     logs={k: float(v) for k, v in (logs or {}).items()},
                                     worker=c.worker))
        if c.must_end():
            self.model.stop_training = True


def last_error_line(message: str | None) -> str:
    """The line of a trial's traceback that says what went wrong."""
    lines = [ln.strip() for ln in str(message or "").splitlines() if ln.strip()]
    for line in reversed(lines):
        if "Error" in line or "Exception" in line:
            return line.replace("\x1b[1m", "").replace("\x1b[0m", "")
    return lines[-1] if lines else ""


@dataclass
class SearchResult:
    tuner: StudioTuner
    reason: EndReason
    completed: int               # trials with a score
    best_trial_id: str | None
    best_score: float | None
    best_hyperparameters: dict[str, Any]


def run_search(tuner: StudioTuner, train, validation, template: Template,
               tensorboard_dir: Path | None = None) -> SearchResult | None:
    """Run (or continue) the search; returns when the budget, the time or a stop ends it.
    With `tensorboard_dir`, each trial writes its TensorBoard logs (losses, metrics and
    hyper-parameters per epoch) under `tensorboard_dir/<trial id>/` (KerasTuner names the
    folder per trial).

    The chief of a distributed search serves trials instead of running them; a distributed
    worker runs trials until the chief says the search is over, and returns None."""
    control = tuner.control
    monitor, mode = deciding_objective(template.objective, template.direction, template.task)
    callbacks = [
        EventCallback(control),
        keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=EARLY_STOPPING_PATIENCE),
    ]
    if tensorboard_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(
            log_dir=str(tensorboard_dir), write_graph=False, profile_batch=0))
    if control.leave is not None:            # a distributed worker
        tuner.search(train, validation_data=validation, epochs=control.max_epochs,
                     callbacks=callbacks, verbose=0)
        return None
    if control.cluster is not None:          # the chief: serve until the budget is spent
        from dlstudio.engine.distributed import serve
        serve(tuner, control.cluster, control.reporter, str(Path(tuner.project_dir).parent))
    elif not control.must_end():
        tuner.search(train, validation_data=validation, epochs=control.max_epochs,
                     callbacks=callbacks, verbose=0)
    trials = list(tuner.oracle.trials.values())
    completed = [t for t in trials if t.score is not None
                 and t.status == TrialStatus.COMPLETED]
    best = tuner.oracle.get_best_trials(1)
    if not completed:
        failed = [t for t in trials if t.message]
        detail = last_error_line(failed[-1].message) if failed else ""
        control.reporter.report(Log(level="error", message=f"No trial finished. {detail}".strip()))
    return SearchResult(
        tuner=tuner, reason=control.reason or EndReason.BUDGET, completed=len(completed),
        best_trial_id=best[0].trial_id if best else None,
        best_score=float(best[0].score) if best and best[0].score is not None else None,
        best_hyperparameters=dict(best[0].hyperparameters.values) if best else {},
    )
