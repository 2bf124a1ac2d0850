"""Run one engine task in a spawned child process and stream its events back.

The child (see `tasks.child_main`) imports TensorFlow; this module does not, so the GUI and the
CLI stay light. A crash, an out-of-memory kill or a SIGKILL ends only the child: `poll()` then
yields a failure event with a plain reason instead of hanging.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
import signal
import time
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

from dlstudio.engine.events import Event, SearchFailed, TaskFailed, from_dict, is_final

GRACE_SECONDS = 30.0


class WorkerTask(StrEnum):
    """What a worker process can be asked to do (see `tasks.run_task`)."""

    RUN = "run"             # make a project, search, evaluate (and export if asked)
    RESUME = "resume"       # continue a project's search to its budget
    EXPORT = "export"       # export a project's best model
    PREDICT = "predict"     # score a data file with an export
    PROBE = "probe"         # which TensorFlow and GPUs the worker sees
    JOIN = "join"           # run trials for a distributed search's chief (workers/pool.py)

    @property
    def is_search(self) -> bool:
        return self in (WorkerTask.RUN, WorkerTask.RESUME)
_CTX = mp.get_context("spawn")   # never fork a process that holds Qt or TensorFlow state


def _death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        sig = -exitcode
        if sig == signal.SIGKILL:
            return ("The worker process was killed (SIGKILL). This often means the computer ran "
                    "out of memory; try a smaller budget or fewer columns. The project was kept "
                    "and the search can be resumed.")
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"The worker process was stopped by signal {name}. The project was kept."
    return (f"The worker process ended unexpectedly (exit code {exitcode}) before it finished. "
            "The project was kept.")


class WorkerProcess:
    """One task (`run`, `resume`, `export`, `predict`, `probe`) in its own process."""

    def __init__(self, task: WorkerTask | str, payload: dict[str, Any], niceness: int = 0) -> None:
        self.task = WorkerTask(task)
        self.payload = dict(payload)
        self.niceness = niceness
        self._queue = _CTX.Queue()
        self._stop_flag = _CTX.Event()
        self._process: Any = None
        self._final: Event | None = None
        self.started_at: float | None = None

    # -- control ------------------------------------------------------------------------------
    def start(self) -> None:
        from dlstudio.workers.tasks import child_main
        self._process = _CTX.Process(target=child_main, name=f"dlstudio-{self.task}",
                                     args=(self.task, self.payload, self._queue, self._stop_flag,
                                           self.niceness),
                                     daemon=True)
        self._process.start()
        self.started_at = time.monotonic()

    def request_stop(self) -> None:
        """Ask the task to end after the current epoch, saving its state."""
        self._stop_flag.set()

    def terminate(self, timeout: float = 5.0) -> None:
        """End the child now (SIGTERM, then SIGKILL)."""
        p = self._process
        if p is None or not p.is_alive():
            return
        p.terminate()
        p.join(timeout)
        if p.is_alive():
            p.kill()
            p.join(timeout)

    def stop(self, grace: float = GRACE_SECONDS) -> list[Event]:
        """Graceful stop; terminate if the child has not finished within `grace` seconds.
        Returns the events that arrived meanwhile (the last one is final)."""
        self.request_stop()
        events: list[Event] = []
        deadline = time.monotonic() + grace
        while not self.done and time.monotonic() < deadline:
            events += self.poll(timeout=0.2)
        if not self.done:
            self.terminate()
            events += self.poll()
        return events

    # -- state --------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def done(self) -> bool:
        return self._final is not None

    @property
    def final(self) -> Event | None:
        return self._final

    # -- events -------------------------------------------------------------------------------
    def poll(self, timeout: float = 0.0) -> list[Event]:
        """Events that have arrived (waiting up to `timeout` for the first one). If the child
        died without saying how it ended, the last event is a synthesised failure."""
        if self._final is not None or self._process is None:
            return []
        events: list[Event] = []
        block = timeout > 0
        while True:
            try:
                item = self._queue.get(timeout=timeout) if block else self._queue.get_nowait()
            except queue_mod.Empty:
                break
            except (EOFError, OSError):
                break
            block = False
            event = from_dict(item)
            events.append(event)
            if is_final(event):
                self._final = event
                self._process.join(10)
                return events
        if not self._process.is_alive():
            # It may have put its last events just before dying: drain once more.
            self._process.join(1)
            while True:
                try:
                    event = from_dict(self._queue.get(timeout=0.2))
                except (queue_mod.Empty, EOFError, OSError):
                    break
                events.append(event)
                if is_final(event):
                    self._final = event
                    return events
            reason = _death_reason(self._process.exitcode)
            failure = (SearchFailed(message=reason, project=self.payload.get("project"))
                       if self.task.is_search else TaskFailed(task=str(self.task), message=reason))
            self._final = failure
            events.append(failure)
        return events

    def iter_events(self, poll_interval: float = 0.25) -> Iterator[Event]:
        """Every event until the final one (blocking)."""
        while not self.done:
            yield from self.poll(timeout=poll_interval)
