"""The main window: a wizard of pages with a side list of steps, menus and project handling."""

from __future__ import annotations

import importlib
import platform
from pathlib import Path

import pyqtgraph
import PySide6
from PySide6.QtCore import QByteArray, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from dlstudio import __version__
from dlstudio.engine.errors import UserError
from dlstudio.engine.project import Project
from dlstudio.paths import sample_path
from dlstudio.ui import dialogs
from dlstudio.ui.data_page import DataPage
from dlstudio.ui.export_page import ExportPage
from dlstudio.ui.jobs import Job
from dlstudio.ui.page import Page
from dlstudio.ui.results_page import ResultsPage
from dlstudio.ui.settings_page import SettingsPage
from dlstudio.ui.state import WizardState
from dlstudio.ui.task_page import TaskPage
from dlstudio.ui.training_page import TrainingPage
from dlstudio.ui.welcome import SAMPLES, WelcomePage

ORGANIZATION = "DL Studio"
APPLICATION = "DL Studio"
MAX_RECENT = 8


def app_settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION,
                     APPLICATION)


class MainWindow(QMainWindow):
    page_changed = Signal(int)

    def __init__(self, *, probe_gpu: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("DL Studio")
        self.setAcceptDrops(True)
        # The Results page needs scikit-learn, which takes most of a second to import: load it
        # on a pool thread now rather than on the GUI thread when the page first draws.
        Job(importlib.import_module, "sklearn.metrics").start()
        self.state = WizardState(self)
        self.welcome = WelcomePage(self.state)
        self.data_page = DataPage(self.state)
        self.task_page = TaskPage(self.state)
        self.settings_page = SettingsPage(self.state, auto_probe=probe_gpu)
        self.training_page = TrainingPage(self.state)
        self.results_page = ResultsPage(self.state)
        self.export_page = ExportPage(self.state)
        self.pages: list[Page] = [self.welcome, self.data_page, self.task_page,
                                  self.settings_page, self.training_page, self.results_page,
                                  self.export_page]

        self.steps = QListWidget()
        self.steps.setObjectName("steps")
        self.steps.setFixedWidth(170)
        self.stack = QStackedWidget()
        for i, page in enumerate(self.pages):
            self.stack.addWidget(page)
            self.steps.addItem(QListWidgetItem(f"{i + 1}.  {page.title}"))
            page.complete_changed.connect(self._update_navigation)
        self.steps.currentRowChanged.connect(self._step_clicked)

        self.back_button = QPushButton("‹ Back")
        self.next_button = QPushButton("Next ›")
        self.next_button.setObjectName("primary")
        self.back_button.clicked.connect(self.back)
        self.next_button.clicked.connect(self.next)
        nav = QHBoxLayout()
        nav.addStretch(1)
        nav.addWidget(self.back_button)
        nav.addWidget(self.next_button)
        right = QVBoxLayout()
        right.addWidget(self.stack, 1)
        right.addLayout(nav)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addWidget(self.steps)
        layout.addLayout(right, 1)
        self.setCentralWidget(central)

        self.welcome.new_requested.connect(self.new_project)
        self.welcome.open_requested.connect(self.choose_project)
        self.welcome.open_recent_requested.connect(self.open_project)
        self.welcome.sample_requested.connect(self.open_sample)
        self.data_page.loaded.connect(lambda _p: self._after_load())
        self.training_page.search_done.connect(self._search_done)
        self.training_page.search_running.connect(lambda _r: self._update_navigation())
        self.training_page.search_running.connect(self.settings_page.set_search_running)
        self.state.project_changed.connect(self._update_title)
        self._build_menus()
        self._restore()
        self.goto(0)

    # -- menus --------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.new_action = QAction("&New project", self, shortcut=QKeySequence.StandardKey.New)
        self.new_action.triggered.connect(self.new_project)
        self.open_action = QAction("&Open project…", self, shortcut=QKeySequence("Ctrl+O"))
        self.open_action.triggered.connect(self.choose_project)
        self.open_data_action = QAction("Open &data file…", self)
        self.open_data_action.triggered.connect(self._open_data_file)
        self.save_action = QAction("&Save project", self, shortcut=QKeySequence("Ctrl+S"))
        self.save_action.triggered.connect(self.save_project)
        self.quit_action = QAction("&Quit", self, shortcut=QKeySequence("Ctrl+Q"))
        self.quit_action.triggered.connect(self.close)
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.insertAction(self.recent_menu.menuAction(), self.new_action)
        file_menu.insertAction(self.recent_menu.menuAction(), self.open_action)
        file_menu.addAction(self.open_data_action)
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = QAction("&About DL Studio", self)
        self.about_action.triggered.connect(self.about)
        help_menu.addAction(self.about_action)

    def about_text(self) -> str:
        return (f"<b>DL Studio {__version__}</b><br>Desktop AutoML: turn a table or labelled "
                f"texts into a deployable deep-learning model.<br><br>"
                f"Python {platform.python_version()}<br>PySide6 {PySide6.__version__}<br>"
                f"pyqtgraph {pyqtgraph.__version__}")

    def about(self) -> None:
        QMessageBox.about(self, "About DL Studio", self.about_text())

    # -- settings -----------------------------------------------------------------------------
    def _restore(self) -> None:
        s = app_settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        self._refresh_recent()

    def recent_projects(self) -> list[str]:
        value = app_settings().value("recent_projects", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: str | Path) -> None:
        path = str(Path(path).resolve())
        items = [path] + [p for p in self.recent_projects() if p != path]
        app_settings().setValue("recent_projects", items[:MAX_RECENT])
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        paths = [p for p in self.recent_projects() if (Path(p) / "project.json").is_file()]
        self.welcome.set_recent(paths)
        self.recent_menu.clear()
        for p in paths:
            action = self.recent_menu.addAction(p)
            action.triggered.connect(lambda _c=False, path=p: self.open_project(path))
        self.recent_menu.setEnabled(bool(paths))

    # -- navigation ---------------------------------------------------------------------------
    @property
    def current_index(self) -> int:
        return self.stack.currentIndex()

    def current_page(self) -> Page:
        return self.pages[self.current_index]

    def goto(self, target: int | Page) -> None:
        """Show a page (no checks: the program decides; the user goes through next/back)."""
        index = self.pages.index(target) if isinstance(target, Page) else int(target)
        self.stack.setCurrentIndex(index)
        self.steps.blockSignals(True)
        self.steps.setCurrentRow(index)
        self.steps.blockSignals(False)
        self.pages[index].on_enter()
        self._update_navigation()
        self.page_changed.emit(index)

    def can_reach(self, index: int) -> bool:
        if index <= self.current_index:
            return True
        return all(p.is_complete() for p in self.pages[1:index])

    def next(self) -> None:
        page = self.current_page()
        if self.current_index >= len(self.pages) - 1 or not page.is_complete():
            return
        if page.validate():
            self.goto(self.current_index + 1)

    def back(self) -> None:
        if self.current_index > 0:
            self.goto(self.current_index - 1)

    def _step_clicked(self, row: int) -> None:
        if row < 0 or row == self.current_index:
            return
        if self.can_reach(row):
            self.goto(row)
        else:
            self.steps.blockSignals(True)
            self.steps.setCurrentRow(self.current_index)
            self.steps.blockSignals(False)

    def _update_navigation(self) -> None:
        i = self.current_index
        self.back_button.setEnabled(i > 0)
        last = i >= len(self.pages) - 1
        self.next_button.setEnabled(not last and self.pages[i].is_complete())
        for row in range(self.steps.count()):
            item = self.steps.item(row)
            flags = item.flags()
            if self.can_reach(row):
                item.setFlags(flags | Qt.ItemFlag.ItemIsEnabled)
            else:
                item.setFlags(flags & ~Qt.ItemFlag.ItemIsEnabled)

    def _update_title(self) -> None:
        p = self.state.project
        self.setWindowTitle(f"DL Studio — {p.root.name}" if p is not None else "DL Studio")

    # -- actions ------------------------------------------------------------------------------
    def _ask_stop_search(self) -> bool:
        """True if nothing runs, or the user agreed to stop the search (then it is stopped)."""
        if not self.training_page.busy():
            return True
        if not dialogs.ask(self, "A search is running. Stop it? The best network found so far "
                                 "is kept in the project."):
            return False
        self.training_page.stop_and_wait()
        return True

    def new_project(self) -> None:
        if not self._ask_stop_search():
            return
        self.state.new()
        self.training_page.clear()
        self.goto(self.data_page)
        self.data_page.choose_file()

    def _open_data_file(self) -> None:
        self.goto(self.data_page)
        self.data_page.choose_file()

    def load_data(self, path: str | Path) -> None:
        """Load a data file or a folder of texts into the Data page."""
        self.goto(self.data_page)
        self.data_page.load(path)

    def open_sample(self, name: str) -> None:
        if not self._ask_stop_search():
            return
        sample = SAMPLES[name]
        path = sample_path(name)
        if not path.is_file():
            dialogs.warn(self, f"The sample '{sample.title}' is missing from this installation "
                               f"({path}). Reinstall DL Studio, or open your own data.")
            return
        self.state.new()
        self.training_page.clear()
        self.state.preset = {"template": sample.template, "target": sample.target,
                             "text_column": sample.text_column}
        self.load_data(path)

    def _after_load(self) -> None:
        """Data arrived: apply the template a sample or a project suggested."""
        preset = self.state.preset
        if preset.get("template") and self.state.template is None:
            self.task_page.select_template(preset["template"])

    def choose_project(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a DL Studio project folder")
        if path:
            self.open_project(path)

    def open_project(self, path: str | Path) -> bool:
        if not self._ask_stop_search():
            return False
        try:
            project = Project.open(path)
        except UserError as exc:
            dialogs.warn(self, str(exc))
            return False
        self.state.load_from_project(project)
        self.training_page.load_history(project)
        self.add_recent(project.root)
        data = project.config.data
        if data and Path(data).exists():
            self.data_page.load(data)
        elif data:
            dialogs.warn(self, f"The data of this project ('{data}') is no longer there. The "
                               "results can still be seen; to search again, open the data.")
        if project.evaluation_path.is_file():
            self.goto(self.results_page)
        else:
            self.goto(self.training_page)
        return True

    def save_project(self) -> None:
        if self.state.project is None:
            dialogs.info(self, "There is no project to save yet. A project folder is created "
                               "when the search starts; everything is saved as it goes.")
            return
        try:
            path = self.state.save_to_project()
        except UserError as exc:
            dialogs.warn(self, str(exc))
            return
        except OSError as exc:
            dialogs.warn(self, f"The project could not be saved: {exc}")
            return
        self.statusBar().showMessage(f"Saved {path}", 4000)

    def _search_done(self, event) -> None:
        p = self.state.project
        if p is not None:
            self.add_recent(p.root)
        self._update_navigation()

    def log_path(self) -> Path | None:
        return self.state.project.log_path if self.state.project is not None else None

    @property
    def max_stall_ms(self) -> float:
        return self.training_page.max_stall_ms

    # -- drag and drop ------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if not urls:
            return
        event.acceptProposedAction()
        self.open_path(urls[0].toLocalFile())

    def open_path(self, path: str | Path) -> None:
        """A path from the command line or a drop: a project, a data file or a text folder."""
        p = Path(path)
        if (p / "project.json").is_file():
            self.open_project(p)
        elif p.exists():
            if self.current_index == 0:
                self.state.new()
            self.load_data(p)
        else:
            dialogs.warn(self, f"'{p}' does not exist.")

    # -- closing ------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._ask_stop_search():
            event.ignore()
            return
        for page in self.pages:
            page.shutdown()
        app_settings().setValue("window/geometry", self.saveGeometry())
        event.accept()
