"""Short work inside the GUI process (reading a file) on a thread-pool thread.

Long engine work (search, export, predict) runs in a child process through
`dlstudio.workers.bridge`; this module is only for pandas-level work that would freeze the window
for a moment. Results come back as Qt signals on the GUI thread.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

# Jobs still running or whose results are not yet delivered: holding them here keeps their
# signal object alive even when the page that started them has moved on to a newer job.
_LIVE: set[Job] = set()


class JobSignals(QObject):
    done = Signal(object)              # the function's return value
    failed = Signal(object, str)       # the exception, its formatted traceback


class Job(QRunnable):
    """Run `fn(*args)` on the global thread pool; listen to `.signals`."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        super().__init__()
        self.fn = fn
        self.args = args
        self.signals = JobSignals()
        self.setAutoDelete(False)   # the caller keeps the Python object alive until it is done

    def run(self) -> None:
        try:
            result = self.fn(*self.args)
        except Exception as exc:
            self._emit(self.signals.failed, exc, traceback.format_exc())
        else:
            self._emit(self.signals.done, result)

    @staticmethod
    def _emit(signal: Any, *args: Any) -> None:
        # The window closed while the job ran (its QApplication and signal objects are gone):
        # nobody is left to tell, which is not an error worth a traceback on stderr.
        try:
            signal.emit(*args)
        except RuntimeError as exc:
            if "deleted" not in str(exc):
                raise

    def start(self) -> Job:
        _LIVE.add(self)
        self.signals.done.connect(self._forget)
        self.signals.failed.connect(self._forget)
        QThreadPool.globalInstance().start(self)
        return self

    def _forget(self, *_args: Any) -> None:
        _LIVE.discard(self)
