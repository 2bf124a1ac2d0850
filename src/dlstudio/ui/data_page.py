"""Step 2: load a table (or a folder of texts), preview it, check the role of each column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dlstudio.engine.data import ColumnProfile, infer_schema, load_data, profile_column
from dlstudio.engine.errors import UserError
from dlstudio.engine.schema import Role, Schema
from dlstudio.ui import dialogs
from dlstudio.ui.jobs import Job
from dlstudio.ui.models import DataFrameModel
from dlstudio.ui.page import Page, heading, hint
from dlstudio.ui.plots import make_plot, set_bars

TEXT_COLUMN_WIDTH = 360
READ_CHUNK_ROWS = 100_000     # a CSV is parsed in parts this size (see load_data)
ROLE_LABELS = {
    Role.NUMERIC: "number",
    Role.CATEGORICAL: "category",
    Role.TEXT: "free text",
    Role.TARGET: "target (to predict)",
    Role.IGNORE: "ignore",
}

FILE_FILTER = ("Data files (*.csv *.tsv *.txt *.xlsx *.xls *.xlsm *.parquet *.pq *.feather *.ftr);;"
               "CSV / TSV (*.csv *.tsv *.txt);;Excel (*.xlsx *.xls *.xlsm);;"
               "Parquet / Feather (*.parquet *.pq *.feather *.ftr);;All files (*)")


Profiles = dict[tuple[str, str | None], ColumnProfile]


def profile_key(column: str, role: Role | None) -> tuple[str, str | None]:
    return column, str(role) if role is not None else None


def read_table(path: str) -> tuple[pd.DataFrame, Schema, Profiles]:
    """Runs on a pool thread: read the file, infer its schema and profile every column with its
    inferred role, so that nothing the size of the table is computed on the GUI thread."""
    df = load_data(path, chunk_rows=READ_CHUNK_ROWS)
    schema = infer_schema(df)
    profiles = {profile_key(c.name, c.role): profile_column(df[c.name], c.role)
                for c in schema.columns}
    return df, schema, profiles


def column_warnings(profile: ColumnProfile, role: Role) -> list[str]:
    """Plain-language remarks about one column."""
    out = []
    if profile.missing_pct >= 95:
        out.append("Almost every value is missing; this column is best ignored.")
    elif profile.missing_pct >= 20:
        out.append(f"{profile.missing_pct:.0f}% of the values are missing. They will be filled "
                   "in automatically, but the model learns less from this column.")
    if profile.distinct == 1:
        out.append("Every row has the same value, so this column cannot help a prediction.")
    if role is Role.CATEGORICAL and profile.distinct > 1000:
        out.append(f"{profile.distinct:,} different values for a category: if this is an "
                   "identifier (a name, a code), set it to 'ignore'.")
    return out


class DataPage(Page):
    title = "Data"
    loaded = Signal(str)            # path, after the table is in the state
    load_failed = Signal(str)       # the message shown to the user
    busy_changed = Signal(bool)
    profile_shown = Signal(str)     # a column's profile is on screen

    def __init__(self, state, parent=None) -> None:
        super().__init__(state, parent)
        self._job: Job | None = None
        self._generation = 0
        self._profiles: Profiles = {}
        self._incoming_profiles: Profiles = {}
        self._profile_jobs: dict[tuple[str, str | None], Job] = {}
        self._updating = False

        self.open_button = QPushButton("Open a data file…")
        self.open_button.setToolTip("CSV, TSV or Excel. You can also drop a file on the window.")
        self.folder_button = QPushButton("Open a folder of texts…")
        self.folder_button.setToolTip("A folder with one sub-folder per category, each holding "
                                      "text files (.txt).")
        self.open_button.clicked.connect(self.choose_file)
        self.folder_button.clicked.connect(self.choose_folder)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(160)
        self.progress.hide()
        self.path_label = QLabel("No data loaded yet. Open a file, or drop one on this window.")
        self.path_label.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.folder_button)
        top.addWidget(self.progress)
        top.addWidget(self.path_label, 1)

        self.model = DataFrameModel(parent=self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.horizontalHeader().setDefaultSectionSize(110)

        self.columns = QTableWidget(0, 3)
        self.columns.setHorizontalHeaderLabels(["Column", "Use as", "Why"])
        self.columns.verticalHeader().hide()
        self.columns.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.columns.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.columns.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.columns.horizontalHeader().setStretchLastSection(True)
        self.columns.itemSelectionChanged.connect(self._show_selected_profile)

        self.profile_title = QLabel("Select a column to see its profile.")
        self.profile_type = QLabel()
        self.profile_missing = QLabel()
        self.profile_distinct = QLabel()
        self.profile_notes = QLabel()
        self.profile_notes.setWordWrap(True)
        self.profile_notes.setStyleSheet("color: #8a4b00;")
        self.histogram = make_plot()
        self.histogram.setFixedHeight(150)
        self.histogram.setMouseEnabled(x=False, y=False)
        form = QFormLayout()
        form.addRow("Type:", self.profile_type)
        form.addRow("Missing:", self.profile_missing)
        form.addRow("Distinct values:", self.profile_distinct)

        self.warnings = QLabel()
        self.warnings.setWordWrap(True)
        self.warnings.setObjectName("warnings")
        self.warnings.setStyleSheet("color: #8a4b00;")
        self.warnings.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(QLabel("<b>Columns</b> — change how a column is used if the "
                                     "guess is wrong:"))
        side_layout.addWidget(self.columns, 3)
        side_layout.addWidget(self.profile_title)
        side_layout.addLayout(form)
        side_layout.addWidget(self.histogram)
        side_layout.addWidget(self.profile_notes)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addWidget(heading("Your data"))
        layout.addWidget(hint("Each row is one example (an applicant, a review, ...). DL Studio "
                              "guessed how to use each column; check the guesses on the right."))
        layout.addLayout(top)
        layout.addWidget(split, 1)
        layout.addWidget(self.warnings)

        state.data_changed.connect(self._on_data_changed)
        state.schema_changed.connect(self._on_schema_changed)

    # -- Page ---------------------------------------------------------------------------------
    def is_complete(self) -> bool:
        return self.state.df is not None and not self.is_loading()

    def busy(self) -> bool:
        return self.is_loading()

    # -- loading ------------------------------------------------------------------------------
    def is_loading(self) -> bool:
        return self._job is not None

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a data file", "", FILE_FILTER)
        if path:
            self.load(path)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of texts (one sub-folder "
                                                "per category)")
        if path:
            self.load(path)

    def load(self, path: str | Path) -> None:
        """Read `path` off the GUI thread; the previous table stays until it succeeds."""
        path = str(path)
        self._generation += 1
        generation = self._generation
        job = Job(read_table, path)
        job.signals.done.connect(lambda result: self._loaded(generation, path, result))
        job.signals.failed.connect(lambda exc, tb: self._failed(generation, path, exc, tb))
        self._job = job
        self._set_busy(True, f"Reading {Path(path).name}…")
        job.start()

    def _set_busy(self, busy: bool, text: str | None = None) -> None:
        self.progress.setVisible(busy)
        if text is not None:
            self.path_label.setText(text)
        self.busy_changed.emit(busy)
        self.complete_changed.emit()

    def _loaded(self, generation: int, path: str,
                result: tuple[pd.DataFrame, Schema, Profiles]) -> None:
        if generation != self._generation:
            return   # a newer load superseded this one
        self._job = None
        df, schema, profiles = result
        self._incoming_profiles = profiles
        self.state.set_data(path, df, schema)
        self._set_busy(False)
        self.loaded.emit(path)

    def _failed(self, generation: int, path: str, exc: BaseException, tb: str) -> None:
        if generation != self._generation:
            return
        self._job = None
        self._set_busy(False)
        self._show_path()
        name = Path(path).name
        if isinstance(exc, UserError):
            message = f"'{name}' could not be used.\n\n{exc}"
            dialogs.warn(self, message)
        elif isinstance(exc, OSError):
            message = f"'{name}' could not be read: {exc.strerror or exc}."
            dialogs.warn(self, message)
        else:
            message = f"Reading '{name}' failed: {type(exc).__name__}: {exc}"
            dialogs.internal_error(self, message, tb, self.log_path())
        self.load_failed.emit(message)

    # -- showing the state --------------------------------------------------------------------
    def _show_path(self) -> None:
        df = self.state.df
        if df is None or not self.state.data_path:
            self.path_label.setText("No data loaded yet. Open a file, or drop one on this window.")
            return
        self.path_label.setText(f"<b>{Path(self.state.data_path).name}</b> — {len(df):,} rows, "
                                f"{df.shape[1]} columns")
        self.path_label.setToolTip(self.state.data_path)

    def _on_data_changed(self) -> None:
        # Profiles made with the table on the pool thread; jobs for an older table are dropped.
        self._profiles, self._incoming_profiles = self._incoming_profiles, {}
        self._profile_jobs = {}
        df = self.state.df
        self.model.set_frame(df if df is not None else pd.DataFrame())
        self._show_path()
        self._fill_columns()
        self.complete_changed.emit()

    def _fill_columns(self) -> None:
        schema = self.state.schema
        self._updating = True
        try:
            self.columns.setRowCount(0)
            if schema is None:
                return
            self.columns.setRowCount(len(schema.columns))
            for row, col in enumerate(schema.columns):
                name_item = QTableWidgetItem(col.name)
                self.columns.setItem(row, 0, name_item)
                combo = QComboBox()
                for role, label in ROLE_LABELS.items():
                    combo.addItem(label, str(role))
                combo.setCurrentIndex(combo.findData(str(col.role)))
                combo.currentIndexChanged.connect(
                    lambda _i, c=combo, n=col.name: self._role_chosen(n, c))
                self.columns.setCellWidget(row, 1, combo)
                self.columns.setItem(row, 2, QTableWidgetItem(col.reason))
            self.columns.resizeColumnToContents(0)
            self.columns.resizeColumnToContents(1)
        finally:
            self._updating = False
        self._on_schema_changed()
        if schema.columns:
            self.columns.selectRow(0)

    def _on_schema_changed(self) -> None:
        schema = self.state.schema
        if schema is None:
            self.warnings.setText("")
            self.model.set_roles({}, None)
            return
        if self.columns.rowCount() != len(schema.columns):
            self._fill_columns()
            return
        self._updating = True
        try:
            for row, col in enumerate(schema.columns):
                combo = self.role_combo(col.name)
                if combo is not None and combo.currentData() != str(col.role):
                    combo.setCurrentIndex(combo.findData(str(col.role)))
                item = self.columns.item(row, 2)
                if item is not None:
                    item.setText(col.reason)
        finally:
            self._updating = False
        self.model.set_roles({c.name: ROLE_LABELS[c.role] for c in schema.columns},
                             schema.target)
        for i, c in enumerate(schema.columns):   # free text needs room to be read
            if c.role is Role.TEXT and self.table.columnWidth(i) < TEXT_COLUMN_WIDTH:
                self.table.setColumnWidth(i, TEXT_COLUMN_WIDTH)
        lines = list(schema.warnings)
        if not schema.features:
            lines.insert(0, "No column is used as an input: set at least one column to number, "
                            "category or free text.")
        self.warnings.setText("\n".join(f"⚠ {w}" for w in lines))
        self._show_selected_profile()

    def role_combo(self, column: str) -> QComboBox | None:
        """The 'Use as' combo box of a column (None if there is no such column)."""
        for row in range(self.columns.rowCount()):
            item = self.columns.item(row, 0)
            if item is not None and item.text() == column:
                widget = self.columns.cellWidget(row, 1)
                return widget if isinstance(widget, QComboBox) else None
        return None

    def _role_chosen(self, column: str, combo: QComboBox) -> None:
        if self._updating:
            return
        self.state.set_role(column, combo.currentData())

    def profile(self, column: str) -> ColumnProfile | None:
        """The profile of `column` with its current role, if it is computed; otherwise None,
        and a pool job computes it (the page shows it when it arrives)."""
        df = self.state.df
        if df is None:
            return None
        key = profile_key(column, self._current_role(column))
        if key not in self._profiles and key not in self._profile_jobs:
            job = Job(profile_column, df[column], self._current_role(column))
            job.signals.done.connect(lambda p, k=key, f=df: self._profiled(k, f, p))
            job.signals.failed.connect(lambda _e, _tb, k=key: self._profile_jobs.pop(k, None))
            self._profile_jobs[key] = job
            job.start()
        return self._profiles.get(key)

    def _current_role(self, column: str) -> Role | None:
        schema = self.state.schema
        if schema is not None and any(c.name == column for c in schema.columns):
            return schema.column(column).role
        return None

    def _profiled(self, key: tuple[str, str | None], df: pd.DataFrame,
                  profile: ColumnProfile) -> None:
        if df is not self.state.df:
            return   # a profile of a table that was replaced meanwhile
        self._profile_jobs.pop(key, None)
        self._profiles[key] = profile
        self._show_selected_profile()

    def _show_selected_profile(self) -> None:
        rows = self.columns.selectionModel().selectedRows()
        schema = self.state.schema
        if not rows or schema is None or self.state.df is None:
            return
        name = self.columns.item(rows[0].row(), 0).text()
        role = schema.column(name).role
        self.profile_title.setText(f"<b>{name}</b> — used as {ROLE_LABELS[role]}")
        p = self.profile(name)
        if p is None:
            for label in (self.profile_type, self.profile_missing, self.profile_distinct):
                label.setText("…")
            self.profile_notes.setText("Computing this column's profile…")
            set_bars(self.histogram, [], [])
            return
        self.profile_type.setText(p.dtype)
        self.profile_missing.setText(f"{p.missing_pct:.1f}% ({p.missing:,} rows)")
        self.profile_distinct.setText(f"{p.distinct:,}")
        set_bars(self.histogram, [lab for lab, _ in p.histogram],
                 [c for _, c in p.histogram])
        self.profile_notes.setText("\n".join(column_warnings(p, role)))
        self.profile_shown.emit(name)
