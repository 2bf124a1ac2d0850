"""The few dialogs every page uses, and the application's last-resort exception hook.

Two kinds of problems, shown two ways:
- a user mistake (`UserError`, or a failure event with `user_error=True`): a plain warning, the
  page keeps its state;
- an internal error (a bug): a dialog with the traceback under "Show Details" and the log path.

`NONINTERACTIVE` lets a script (the demo) collect messages instead of blocking on a modal dialog.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from PySide6.QtWidgets import QMessageBox, QWidget

from dlstudio.paths import append_to_log, user_log_path

log = logging.getLogger("dlstudio.ui")

# When a list, dialogs append (kind, title, text) to it and return at once (scripts, the demo).
NONINTERACTIVE: list[tuple[str, str, str]] | None = None

APP_TITLE = "DL Studio"


def default_log_path() -> Path:
    """Where internal errors are logged when no project is open."""
    return user_log_path()


def log_to_file(path: Path | None, text: str) -> Path:
    """Append `text` to the log at `path` (falling back to the user log); return where it went."""
    return append_to_log(text, path)


def warn(parent: QWidget | None, text: str, title: str = APP_TITLE) -> None:
    """A plain warning for something the user can fix."""
    log.info("user warning: %s", text)
    if NONINTERACTIVE is not None:
        NONINTERACTIVE.append(("warning", title, text))
        return
    QMessageBox.warning(parent, title, text)


def info(parent: QWidget | None, text: str, title: str = APP_TITLE) -> None:
    if NONINTERACTIVE is not None:
        NONINTERACTIVE.append(("info", title, text))
        return
    QMessageBox.information(parent, title, text)


def ask(parent: QWidget | None, text: str, title: str = APP_TITLE) -> bool:
    """A yes/no question; True for yes. Non-interactive scripts get yes."""
    if NONINTERACTIVE is not None:
        NONINTERACTIVE.append(("question", title, text))
        return True
    answer = QMessageBox.question(
        parent, title, text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


def internal_error(parent: QWidget | None, message: str, details: str = "",
                   log_path: Path | None = None) -> None:
    """A bug: say so plainly, keep the traceback under details, and point at the log."""
    where = log_to_file(log_path or default_log_path(),
                        f"--- internal error: {message}\n{details}")
    text = (f"Something went wrong inside DL Studio: {message}\n\n"
            f"Your data and project are unchanged. The details were written to:\n{where}")
    log.error("internal error: %s\n%s", message, details)
    if NONINTERACTIVE is not None:
        NONINTERACTIVE.append(("internal", APP_TITLE, f"{text}\n{details}"))
        return
    box = QMessageBox(QMessageBox.Icon.Critical, APP_TITLE, text,
                      QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.exec()


def install_excepthook(parent_getter: Callable[[], QWidget | None],
                       log_path_getter: Callable[[], Path | None]) -> None:
    """Make an uncaught exception in a slot log itself and show the internal-error dialog."""
    showing = False

    def hook(exc_type: type[BaseException], exc: BaseException,
             tb: TracebackType | None) -> None:
        nonlocal showing
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        if showing:   # an error while the dialog is up: log it, do not stack dialogs
            log_to_file(log_path_getter() or default_log_path(), details)
            return
        showing = True
        try:
            internal_error(parent_getter(), f"{exc_type.__name__}: {exc}", details,
                           log_path_getter())
        finally:
            showing = False

    sys.excepthook = hook
