"""The architecture search: a KerasTuner tuner that reports events and stops when told to.

KerasTuner has a trial budget but no wall-clock budget and no stop button; both are added here
without touching its internals: a callback ends the running trial after the current epoch, and
`pre_create_trial` ends the search before the next trial. The tuner's state is saved after
every trial by KerasTuner itself, so a stopped or killed search can be resumed.
"""

from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlstudio.engine.events import BestChanged, EpochEnded, Log, TrialEnded, TrialStarted
from dlstudio.engine.hypermodel import StudioHyperModel
from dlstudio.engine.reporter import Reporter
from dlstudio.engine.templates import Template
from dlstudio.engine.tf import keras, kt

EARLY_STOPPING_PATIENCE = 5


class _Halt(Exception):
    """Raised before a new trial when the search must end (time is up or stop requested)."""


class SearchState:
    """Shared by the tuner and the (deep-copied) epoch callbacks: one object per search."""

    def __init__(self, reporter: Reporter, deadline: float | None, max_trials: int,
                 max_epochs: int) -> None:
        self.reporter = reporter
        self.deadline = deadline
        self.max_trials = max_trials
        self.max_epochs = max_epochs
        self.trial_id: str | None = None
        self.epochs = 0                      # epochs run in the current trial
        self.reason: str | None = None       # why the search ended early: "time" or "stopped"

    def __deepcopy__(self, memo: dict) -> SearchState:
        return self     # KerasTuner copies callbacks per trial; they must share this state

    def check(self) -> bool:
        """True when the search must end now; records why."""
        if self.reason is None:
            if self.reporter.should_stop():
                self.reason = "stopped"
            elif self.deadline is not None and time.monotonic() >= self.deadline:
                self.reason = "time"
        return self.reason is not None


class EventCallback(keras.callbacks.Callback):
    """Reports every epoch and ends the trial early when the search must stop."""

    def __init__(self, state: SearchState) -> None:
        super().__init__()
        self.state = state

    def __deepcopy__(self, memo: dict) -> EventCallback:
        return EventCallback(copy.deepcopy(self.state, memo))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        state = self.state
        state.epochs += 1
        state.reporter.report(EpochEnded(trial_id=state.trial_id or "", epoch=epoch + 1,
                                         max_epochs=self.params.get("epochs") or state.max_epochs,
                                         logs={k: float(v) for k, v in (logs or {}).items()}))
        if state.check():
            self.model.stop_training = True


def _last_error_line(message: str | None) -> str:
    """The line of a trial's traceback that says what went wrong."""
    lines = [ln.strip() for ln in str(message or "").splitlines() if ln.strip()]
    for line in reversed(lines):
        if "Error" in line or "Exception" in line:
            return line.replace("\x1b[1m", "").replace("\x1b[0m", "")
    return lines[-1] if lines else ""


def _tuner_class(name: str) -> type[kt.Tuner]:
    return {"bayesian": kt.BayesianOptimization, "hyperband": kt.Hyperband,
            "random": kt.RandomSearch}[name]


def make_tuner(name: str, hypermodel: StudioHyperModel, template: Template, directory: Path,
               max_trials: int, max_epochs: int, seed: int, state: SearchState,
               overwrite: bool) -> kt.Tuner:
    """A tuner of the chosen kind that reports to `state` (a subclass made on the fly)."""
    base = _tuner_class(name)

    class StudioTuner(base):  # type: ignore[misc, valid-type]
        def pre_create_trial(self) -> None:
            # When the budget is spent (and no killed trial waits for a retry; KerasTuner keeps
            # those in `_retry_queue`), the oracle ends the search itself: that is "budget",
            # not "time" or "stopped", even if the clock ran out at the same moment.
            if self.oracle.max_trials and len(self.oracle.trials) >= self.oracle.max_trials \
                    and not self.oracle._retry_queue:
                return
            if state.check():
                raise _Halt

        def on_trial_begin(self, trial: kt.engine.trial.Trial) -> None:
            super().on_trial_begin(trial)
            state.trial_id = trial.trial_id
            state.epochs = 0
            self._trial_started = time.monotonic()
            state.reporter.report(TrialStarted(
                trial_id=trial.trial_id, number=len(self.oracle.trials),
                max_trials=state.max_trials,
                max_epochs=int(trial.hyperparameters.values.get("tuner/epochs", max_epochs)),
                hyperparameters=dict(trial.hyperparameters.values)))

        def on_trial_end(self, trial: kt.engine.trial.Trial) -> None:
            super().on_trial_end(trial)      # KerasTuner records the trial and saves its state
            score = trial.score
            status = str(trial.status).lower()
            message = _last_error_line(trial.message)
            state.reporter.report(TrialEnded(
                trial_id=trial.trial_id, status=status, score=score,
                hyperparameters=dict(trial.hyperparameters.values),
                seconds=time.monotonic() - getattr(self, "_trial_started", time.monotonic()),
                epochs=state.epochs, message=message))
            best = self.oracle.get_best_trials(1)
            if best and best[0].trial_id == trial.trial_id and score is not None:
                state.reporter.report(BestChanged(trial_id=trial.trial_id, score=float(score)))

    objective = kt.Objective(template.objective, direction=template.direction)
    if name == "bayesian":
        # KerasTuner's default of 3 random trials per hyper-parameter (about 30 here) would
        # make a budget of 6-10 trials a purely random search.
        base_kwargs: dict[str, Any] = {"num_initial_points": max(2, max_trials // 3)}
    else:
        base_kwargs = {}
    common: dict[str, Any] = dict(objective=objective, directory=str(directory.parent),
                                  project_name=directory.name, seed=seed, overwrite=overwrite,
                                  max_consecutive_failed_trials=3)
    if name == "hyperband":
        tuner = StudioTuner(hypermodel, max_epochs=max_epochs, factor=3, **common)
        tuner.oracle.max_trials = max_trials
    else:
        tuner = StudioTuner(hypermodel, max_trials=max_trials, **common, **base_kwargs)
        _first_trial_uses_defaults(tuner.oracle)    # (Hyperband's trials carry epochs)
    return tuner


def _first_trial_uses_defaults(oracle: kt.Oracle) -> None:
    """Make the first trial the hypermodel's defaults, a configuration known to work well,
    instead of a random draw: small budgets then always include one sound network."""
    populate = oracle.populate_space

    def populate_space(trial_id: str) -> dict[str, Any]:
        if oracle.trials:
            return populate(trial_id)
        hps = kt.HyperParameters()
        for hp in oracle.hyperparameters.space:
            hps.merge([hp])
            if hps.is_active(hp):
                hps.values[hp.name] = hp.default
        return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": hps.values}

    oracle.populate_space = populate_space


@dataclass
class SearchResult:
    tuner: kt.Tuner
    reason: str                  # "budget", "time" or "stopped"
    completed: int               # trials with a score
    best_trial_id: str | None
    best_score: float | None
    best_hyperparameters: dict[str, Any]


def run_search(tuner: kt.Tuner, state: SearchState, train, validation, template: Template,
               max_epochs: int) -> SearchResult:
    """Run (or continue) the search; returns when the budget, the time or a stop ends it."""
    callbacks = [
        EventCallback(state),
        keras.callbacks.EarlyStopping(monitor=template.objective, mode=template.direction,
                                      patience=EARLY_STOPPING_PATIENCE),
    ]
    reason = "budget"
    if state.check():
        reason = state.reason or "stopped"
    else:
        with contextlib.suppress(_Halt):
            tuner.search(train, validation_data=validation, epochs=max_epochs,
                         callbacks=callbacks, verbose=0)
        if state.reason:
            reason = state.reason
    trials = list(tuner.oracle.trials.values())
    completed = [t for t in trials if t.score is not None
                 and str(t.status).lower() == "completed"]
    best = tuner.oracle.get_best_trials(1)
    if not completed:
        failed = [t for t in trials if t.message]
        detail = _last_error_line(failed[-1].message) if failed else ""
        state.reporter.report(Log(level="error", message=f"No trial finished. {detail}".strip()))
    return SearchResult(
        tuner=tuner, reason=reason, completed=len(completed),
        best_trial_id=best[0].trial_id if best else None,
        best_score=float(best[0].score) if best and best[0].score is not None else None,
        best_hyperparameters=dict(best[0].hyperparameters.values) if best else {},
    )
