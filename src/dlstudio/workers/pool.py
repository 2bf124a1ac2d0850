"""A distributed search on this machine: a chief process and N worker processes, one stream.

The chief (`WorkerTask.RUN` or `RESUME` with cluster settings) prepares the project and serves
trials over gRPC; when it reports `ChiefReady` the pool starts N `WorkerTask.JOIN` processes on
127.0.0.1. `WorkerPool` has the face of `WorkerProcess` (start, poll, request_stop, terminate,
done, final), so the CLI and the GUI's bridge drive either the same way.

The merged stream: every event of every process, in the order polled. A worker's own ending
(finished, or failed) becomes a `Log` line, never the stream's final event; the final event is
the chief's, and it comes after every worker has ended. Like `WorkerProcess`, this module loads
no TensorFlow: it runs in the GUI process.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from dlstudio.engine.cluster import LOCAL_HOST, ClusterSettings, local_worker_ids
from dlstudio.engine.events import ChiefReady, Event, Failed, Log, TaskFinished, WorkerEnded
from dlstudio.workers.process import WorkerProcess, WorkerTask

EXTRA_WAIT = 10.0    # after the chief ended, workers get chief_timeout + this to end alone


class WorkerPool:
    """A chief and `cluster.workers` local workers (see the module's docstring)."""

    def __init__(self, task: WorkerTask | str, payload: dict[str, Any],
                 cluster: ClusterSettings, niceness: int = 0) -> None:
        self.task = WorkerTask(task)
        self.cluster = cluster
        self.payload = {**payload, "cluster": cluster.to_dict()}
        self.niceness = niceness
        self.chief = WorkerProcess(self.task, self.payload, niceness=niceness)
        self.workers: dict[str, WorkerProcess] = {}
        self.worker_finals: dict[str, Event] = {}
        self._final: Event | None = None
        self._chief_final: Event | None = None
        self._chief_ended_at = 0.0
        self._stopping = False
        self.started_at: float | None = None

    # -- control --------------------------------------------------------------------------------
    def start(self) -> None:
        self.chief.start()
        self.started_at = time.monotonic()

    def _start_workers(self, ready: ChiefReady) -> None:
        host = LOCAL_HOST if ready.host in ("0.0.0.0", "::", "") else ready.host
        for worker_id in local_worker_ids(self.cluster.workers):
            worker = WorkerProcess(WorkerTask.JOIN, {
                "project": ready.project, "chief": f"{host}:{ready.port}", "worker": worker_id,
                "cluster": self.cluster.to_dict()}, niceness=self.niceness)
            worker.start()
            if self._stopping:
                worker.request_stop()
            self.workers[worker_id] = worker

    def request_stop(self) -> None:
        """Every process ends after its current epoch (the chief also tells remote workers)."""
        self._stopping = True
        self.chief.request_stop()
        for worker in self.workers.values():
            worker.request_stop()

    def terminate(self, timeout: float = 5.0) -> None:
        for worker in self.workers.values():
            worker.terminate(timeout)
        self.chief.terminate(timeout)

    # -- state ----------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self.chief.pid

    @property
    def running(self) -> bool:
        return self.chief.running or any(w.running for w in self.workers.values())

    @property
    def done(self) -> bool:
        return self._final is not None

    @property
    def final(self) -> Event | None:
        return self._final

    # -- events ---------------------------------------------------------------------------------
    def poll(self, timeout: float = 0.0) -> list[Event]:
        if self._final is not None:
            return []
        events: list[Event] = []
        if self._chief_final is None:
            for event in self.chief.poll(timeout=timeout if not self.workers else 0.0):
                if event is self.chief.final:
                    self._chief_final = event
                    self._chief_ended_at = time.monotonic()
                    continue
                events.append(event)
                if isinstance(event, ChiefReady) and not self.workers:
                    self._start_workers(event)
        elif timeout:
            time.sleep(min(timeout, 0.2))
        for worker_id, worker in self.workers.items():
            if worker.done:
                continue
            for event in worker.poll(timeout=timeout / max(len(self.workers), 1)):
                if event is worker.final:
                    self.worker_finals[worker_id] = event
                    events.append(_worker_ended(worker_id, event))
                    events.append(_worker_ending(worker_id, event))
                else:
                    events.append(event)
        events += self._check_end()
        return events

    def _check_end(self) -> list[Event]:
        workers = self.workers.values()
        if self._chief_final is None:
            # Every local worker died (none finished: a worker finishes only when the chief
            # says the search is over): stop the search, which can be resumed.
            finals = list(self.worker_finals.values())
            if workers and all(w.done for w in workers) and not self._stopping and all(
                    isinstance(f, Failed) for f in finals):
                self.request_stop()
                return [Log(level="warning", message=(
                    "Every worker on this machine stopped before the search ended, so the "
                    "search stops; continue it with 'dlstudio resume'."))]
            return []
        waited = time.monotonic() - self._chief_ended_at
        if any(not w.done for w in workers):
            if waited < self.cluster.chief_timeout + EXTRA_WAIT:
                return []
            for worker in workers:
                worker.terminate()
        self._final = self._chief_final
        return [self._final]

    def iter_events(self, poll_interval: float = 0.25) -> Iterator[Event]:
        while not self.done:
            yield from self.poll(timeout=poll_interval)


def _worker_ended(worker_id: str, event: Event) -> WorkerEnded:
    """A worker's final event, for the Training page's table of workers."""
    if isinstance(event, TaskFinished):
        return WorkerEnded(worker=worker_id, finished=True,
                           trials=int(event.result.get("trials", 0)))
    return WorkerEnded(worker=worker_id, finished=False,
                       message=getattr(event, "message", "") or "it ended unexpectedly")


def _worker_ending(worker_id: str, event: Event) -> Log:
    """A worker's final event, as a line in the merged stream."""
    if isinstance(event, TaskFinished):
        n = event.result.get("trials", 0)
        return Log(level="info", message=f"Worker {worker_id} finished after {n} trials.")
    message = getattr(event, "message", "") or "it ended unexpectedly"
    return Log(level="warning", message=f"Worker {worker_id} stopped: {message}")
