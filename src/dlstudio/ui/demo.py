"""A scripted walk through the real wizard, for screenshots and an end-to-end check.

`run_demo` drives the window only through its widgets (setting values, clicking buttons) and
waits on the pages' real signals, so it exercises what a user does: the bundled credit sample,
a tiny search in a worker process, the results, and a SavedModel export.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QTimer, SignalInstance
from PySide6.QtWidgets import QWidget

from dlstudio.engine.events import SearchFinished, TaskFinished


class DemoError(RuntimeError):
    """The demo could not go on; the message says at which step and why."""


def _settle(ms: int = 300) -> None:
    """Let pending events (layouts, repaints, queued signals) run for a moment."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _do_and_wait(action: Callable[[], Any], signal: SignalInstance, timeout_s: float,
                 what: str) -> tuple:
    """Connect to `signal`, run `action`, and wait (running the event loop) for the signal."""
    got: list[tuple] = []
    loop = QEventLoop()

    def on(*args: Any) -> None:
        got.append(args)
        loop.quit()

    signal.connect(on)
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    try:
        action()
        if not got:
            timer.start(int(timeout_s * 1000))
            loop.exec()
    finally:
        timer.stop()
        signal.disconnect(on)
    if not got:
        raise DemoError(f"Timed out after {timeout_s:.0f} s waiting for: {what}.")
    return got[0]


def _grab(widget: QWidget, out_dir: Path, name: str, pages: list[str]) -> None:
    _settle(250)
    path = out_dir / f"{name}.png"
    if not widget.grab().save(str(path)):
        raise DemoError(f"Could not save the screenshot {path}.")
    pages.append(path.name)


def run_demo(out_dir: Path, *, max_trials: int = 2, max_epochs: int = 3) -> dict:
    """Drive the wizard through the credit sample; save one PNG per page and `report.json`.

    Returns the report: {"pages": [png names], "gui_imported_tensorflow": bool,
    "gui_max_stall_ms": float, ...}. Raises DemoError when a step fails.
    """
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from dlstudio.ui import dialogs
    from dlstudio.ui.app import make_application
    from dlstudio.ui.main_window import MainWindow

    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    project_dir = out_dir / "project"
    export_dir = out_dir / "export"
    for d in (project_dir, export_dir):
        if d.exists() and any(d.iterdir()):
            raise DemoError(f"'{d}' is not empty; give the demo an empty folder.")

    app = make_application()
    # The demo's projects are throw-away: keep them out of the user's recent projects.
    from PySide6.QtCore import QSettings
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      str(out_dir / "settings"))
    messages: list[tuple[str, str, str]] = []
    dialogs.NONINTERACTIVE = messages
    window = MainWindow(probe_gpu=True)
    window.resize(1360, 900)
    window.show()
    pages: list[str] = []
    started = time.monotonic()
    report: dict[str, Any] = {}
    try:
        _settle()
        _grab(window, out_dir, "01-welcome", pages)

        _do_and_wait(window.welcome.sample_buttons["credit"].click, window.data_page.loaded,
                     120, "the credit sample to load")
        _grab(window, out_dir, "02-data", pages)

        window.next_button.click()
        if window.current_page() is not window.task_page:
            raise DemoError(f"Could not go to the Task page: {_last(messages)}")
        if window.task_page.checking():     # the target is counted on a pool thread
            _do_and_wait(lambda: None, window.task_page.target_checked, 60,
                         "the target column to be checked")
        if not window.task_page.is_complete():
            raise DemoError(f"The task is not valid: {window.task_page.error.text()}")
        _grab(window, out_dir, "03-task", pages)

        window.next_button.click()
        sp = window.settings_page
        sp.trials.setValue(max_trials)
        sp.epochs.setValue(max_epochs)
        sp.folder.setText(str(project_dir))
        if sp.probing():
            _do_and_wait(lambda: None, sp.probe_done, 180, "the GPU check")
        _grab(window, out_dir, "04-settings", pages)

        window.next_button.click()
        if window.current_page() is not window.training_page:
            raise DemoError(f"Could not go to the Training page: {sp.error.text()}")
        tp = window.training_page
        (final,) = _do_and_wait(tp.start_button.click, tp.search_done, 1800, "the search")
        if not isinstance(final, SearchFinished):
            raise DemoError(f"The search failed: {final.message}")
        _grab(window, out_dir, "05-training", pages)

        window.next_button.click()
        if window.current_page() is not window.results_page:
            raise DemoError("Could not go to the Results page (no evaluation was written).")
        _grab(window, out_dir, "06-results", pages)

        window.next_button.click()
        ep = window.export_page
        ep.folder.setText(str(export_dir))
        (done,) = _do_and_wait(ep.export_button.click, ep.export_done, 900, "the export")
        if not isinstance(done, TaskFinished):
            raise DemoError(f"The export failed: {done.message}")
        _grab(window, out_dir, "07-export", pages)

        report = {
            "pages": pages,
            "gui_imported_tensorflow": "tensorflow" in sys.modules,
            "gui_max_stall_ms": round(float(window.max_stall_ms), 2),
            "project": str(project_dir),
            "export_dir": str(ep.exported_dir()),
            "metrics": dict(final.metrics),
            "gpu": sp.gpus,
            "seconds": round(time.monotonic() - started, 1),
            "messages": [f"{kind}: {text}" for kind, _title, text in messages],
        }
        (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n",
                                             encoding="utf-8")
        return report
    finally:
        dialogs.NONINTERACTIVE = None
        window.close()
        for page in window.pages:
            page.shutdown()
        window.deleteLater()
        _settle(50)
        del app


def _last(messages: list[tuple[str, str, str]]) -> str:
    return messages[-1][2] if messages else "no message"
