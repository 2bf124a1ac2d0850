"""Events: the one channel from a running task to whoever watches it (CLI, GUI, tests).

Each event is a plain dataclass that serialises to one JSON object with a `type` field, so it
can cross a process boundary as a dict, be appended to `events.jsonl` and be printed by the CLI.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any, ClassVar


class EndReason(StrEnum):
    """Why a search ended; the value is what events and project.json carry."""

    BUDGET = "budget"        # every trial of the budget ran
    TIME = "time"            # the time limit was reached
    STOPPED = "stopped"      # the user pressed Stop (or Ctrl+C)

    @property
    def headline(self) -> str:
        """How the end of a search is announced, e.g. "Time limit reached"."""
        return {EndReason.BUDGET: "Search finished", EndReason.TIME: "Time limit reached",
                EndReason.STOPPED: "Search stopped"}[self]

    @property
    def because(self) -> str:
        """Why it ended, to follow "the search ended because ..."."""
        return {EndReason.BUDGET: "all networks were tried",
                EndReason.TIME: "the time limit was reached",
                EndReason.STOPPED: "you stopped it"}[self]


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become None, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class Event:
    type: ClassVar[str] = "event"
    time: float = field(default_factory=time.time, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **_clean(asdict(self))}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)


@dataclass
class SearchStarted(Event):
    type: ClassVar[str] = "search_started"
    project: str
    template: str
    objective: str
    direction: str            # "max" or "min"
    max_trials: int
    time_limit: float | None
    tuner: str
    completed_trials: int = 0  # > 0 when a search is resumed
    device: str = ""           # where the networks train, e.g. "CPU", "GPU: NVIDIA H200 (...)"
    epochs_by: str = ""        # the score that chose each network's epoch, when not the objective


@dataclass
class TrialStarted(Event):
    type: ClassVar[str] = "trial_started"
    trial_id: str
    number: int               # 1-based position in the search
    max_trials: int
    max_epochs: int
    hyperparameters: dict[str, Any]
    worker: str = ""          # the KerasTuner tuner id that ran it ("" in files before it)


@dataclass
class EpochEnded(Event):
    type: ClassVar[str] = "epoch_ended"
    trial_id: str
    epoch: int                # 1-based
    max_epochs: int
    logs: dict[str, float]    # every Keras log, e.g. loss, val_loss, val_auc
    worker: str = ""


@dataclass
class TrialEnded(Event):
    type: ClassVar[str] = "trial_ended"
    trial_id: str
    status: str               # "completed", "failed", "invalid"
    score: float | None
    hyperparameters: dict[str, Any]
    seconds: float
    epochs: int = 0           # epochs run
    message: str = ""
    worker: str = ""
    kept_epoch: int = 0       # the epoch kept (its checkpoint; the refit's epoch count), 1-based

    def epochs_text(self) -> str:
        """"after 6 epochs", or "at epoch 2 of 6" where an earlier epoch was kept."""
        n = self.epochs
        if 0 < self.kept_epoch < n:
            return f"at epoch {self.kept_epoch} of {n}"
        return f"after {n} epoch{'' if n == 1 else 's'}"


@dataclass
class BestChanged(Event):
    type: ClassVar[str] = "best_changed"
    trial_id: str
    score: float


@dataclass
class Log(Event):
    type: ClassVar[str] = "log"
    level: str                # "info", "warning", "error"
    message: str


@dataclass
class ChiefReady(Event):
    """A distributed search's chief serves trials at host:port (`engine/distributed.py`)."""

    type: ClassVar[str] = "chief_ready"
    project: str
    host: str
    port: int


@dataclass
class WorkerLost(Event):
    """A worker stopped answering; its trial goes back in the queue for another worker."""

    type: ClassVar[str] = "worker_lost"
    worker: str
    trial_id: str
    silent_seconds: float


@dataclass
class WorkerEnded(Event):
    """A worker process of this machine ended (`workers/pool.py`): it finished (the search has
    no more networks for it) or it stopped on an error (`message`)."""

    type: ClassVar[str] = "worker_ended"
    worker: str
    finished: bool
    trials: int = 0
    message: str = ""


class Phase(StrEnum):
    """The steps of a run after the search itself, each announced by `PhaseStarted`."""

    ENSEMBLE = "ensemble"    # k of the average of the best k networks, chosen on validation
    REFIT = "refit"          # the best network(s) trained again on training + validation rows
    EVALUATE = "evaluate"    # test metrics, threshold, importance
    EXPLAIN = "explain"      # which words of the text columns move the predictions
    FINAL = "final"          # after the test: the same network(s) trained on every row
    EXPORT = "export"        # SavedModel, model card, verification


@dataclass
class PhaseStarted(Event):
    type: ClassVar[str] = "phase_started"
    phase: str                # a Phase
    message: str              # for the user, e.g. "Training the best network again on ..."
    steps: int = 0            # how many PhaseProgress events follow (0: none)
    networks: int = 1         # REFIT: how many networks are trained again (k of an ensemble)


@dataclass
class PhaseProgress(Event):
    type: ClassVar[str] = "phase_progress"
    phase: str
    step: int                 # 1-based
    steps: int
    logs: dict[str, float] = field(default_factory=dict)


@dataclass
class SearchFinished(Event):
    type: ClassVar[str] = "search_finished"
    project: str
    reason: str               # an EndReason
    best_trial_id: str | None
    best_score: float | None
    trials: int
    metrics: dict[str, Any] = field(default_factory=dict)   # test-split metrics of the best model
    export_dir: str | None = None
    ensemble_size: int = 1    # how many networks the model averages (1: one network)


@dataclass
class Failed(Event):
    """The end of a task that did not succeed: the base of SearchFailed and TaskFailed."""

    type: ClassVar[str] = "failed"
    message: str              # for the user, plain language
    traceback: str = ""       # for the log
    user_error: bool = False  # True when the user can fix it (bad data or options)
    logged: bool = False      # True when the traceback was already written to a log file


@dataclass
class SearchFailed(Failed):
    type: ClassVar[str] = "search_failed"
    project: str | None = None


@dataclass
class TaskFinished(Event):
    """End of a task that is not a search (export, predict, probe)."""

    type: ClassVar[str] = "task_finished"
    task: str
    result: dict[str, Any]


@dataclass
class TaskFailed(Failed):
    type: ClassVar[str] = "task_failed"
    task: str = ""


FINAL_TYPES = frozenset({"search_finished", "search_failed", "task_finished", "task_failed"})

_BY_TYPE: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (SearchStarted, TrialStarted, EpochEnded, TrialEnded, BestChanged, Log,
                PhaseStarted, PhaseProgress, SearchFinished, SearchFailed, TaskFinished, TaskFailed,
                ChiefReady, WorkerLost, WorkerEnded)
}


def from_dict(d: dict[str, Any]) -> Event:
    """Rebuild an event from `Event.to_dict()` output (unknown keys are ignored)."""
    cls = _BY_TYPE[d["type"]]
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


def is_final(event: Event) -> bool:
    return event.type in FINAL_TYPES
