"""The Qt face of a worker: its events as signals on the GUI thread.

The only Qt in `workers/`. A QTimer on the GUI thread drains the worker's queue every 50 ms,
so no extra thread is involved and the GUI never blocks on the child.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from dlstudio.engine.cluster import ClusterSettings
from dlstudio.workers.pool import WorkerPool
from dlstudio.workers.process import GRACE_SECONDS, WorkerProcess, WorkerTask

POLL_MS = 50
NICENESS = 5    # the GUI stays responsive while the child trains on every core


class WorkerBridge(QObject):
    event = Signal(object)      # every Event, in order
    finished = Signal(object)   # the final Event (search_finished/failed, task_finished/failed)

    def __init__(self, parent: QObject | None = None, grace_seconds: float = GRACE_SECONDS):
        super().__init__(parent)
        self._worker: WorkerProcess | WorkerPool | None = None
        self._grace_ms = int(grace_seconds * 1000)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self.kill)

    @property
    def worker(self) -> WorkerProcess | WorkerPool | None:
        return self._worker

    def start(self, task: WorkerTask, payload: dict[str, Any]) -> None:
        """Start a task; one at a time (a running one is stopped first). A search whose payload
        asks for several workers (`cluster`) runs as a chief and local workers (`WorkerPool`)."""
        if self.is_running():
            self.kill()
        cluster = ClusterSettings.from_dict(payload.get("cluster"))
        if WorkerTask(task).is_search and cluster.distributed:
            self._worker = WorkerPool(task, payload, cluster, niceness=NICENESS)
        else:
            self._worker = WorkerProcess(task, payload, niceness=NICENESS)
        self._worker.start()
        self._timer.start()

    def stop(self) -> None:
        """Graceful stop (after the current epoch); terminated after the grace period."""
        if self._worker is not None and not self._worker.done:
            self._worker.request_stop()
            self._kill_timer.start(self._grace_ms)

    def kill(self) -> None:
        """End the child now; a failure event follows on the next poll."""
        if self._worker is not None and not self._worker.done:
            self._worker.terminate()
            self._poll()

    def is_running(self) -> bool:
        return self._worker is not None and not self._worker.done

    def _poll(self) -> None:
        worker = self._worker
        if worker is None:
            return
        for event in worker.poll():
            self.event.emit(event)
            if worker.final is event:
                self._timer.stop()
                self._kill_timer.stop()
                self.finished.emit(event)
