"""Qt fixtures for the UI tests: offscreen, isolated settings, no leaked workers or threads."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import multiprocessing
import time

import pytest
from PySide6.QtCore import QSettings, QThreadPool
from PySide6.QtWidgets import QMessageBox


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory, qapp):
    """QSettings (recent projects, geometry) go to a temporary folder, not the user's."""
    root = tmp_path_factory.mktemp("settings")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(root))
    yield root


@pytest.fixture(autouse=True)
def no_leaks():
    """Fail a test that leaves a worker process or a pool thread running."""
    yield
    pool_done = QThreadPool.globalInstance().waitForDone(10_000)
    deadline = time.monotonic() + 5
    children = multiprocessing.active_children()
    while children and time.monotonic() < deadline:
        time.sleep(0.1)
        children = multiprocessing.active_children()
    for child in children:   # clean up so one leak does not fail every later test
        child.kill()
        child.join(5)
    assert pool_done, "a thread-pool job was still running after the test"
    assert not children, f"the test left worker processes running: {children}"


class DialogSpy:
    """Records QMessageBox calls instead of showing modal dialogs (which would block)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def kinds(self) -> list[str]:
        return [k for k, _ in self.calls]


@pytest.fixture
def dialogs(monkeypatch) -> DialogSpy:
    spy = DialogSpy()

    def static(kind, answer=QMessageBox.StandardButton.Ok):
        def fake(parent, title, text, *args, **kwargs):
            spy.calls.append((kind, text))
            return answer
        return staticmethod(fake)

    monkeypatch.setattr(QMessageBox, "warning", static("warning"))
    monkeypatch.setattr(QMessageBox, "information", static("information"))
    monkeypatch.setattr(QMessageBox, "critical", static("critical"))
    monkeypatch.setattr(QMessageBox, "question",
                        static("question", QMessageBox.StandardButton.Yes))

    def fake_exec(box):
        spy.calls.append(("internal", box.text() + "\n" + box.detailedText()))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    return spy


@pytest.fixture
def window(qtbot, dialogs):
    from dlstudio.ui.main_window import MainWindow

    w = MainWindow(probe_gpu=False)
    qtbot.addWidget(w)
    w.show()
    yield w
    for page in w.pages:
        page.shutdown()
