"""Qt item models over plain data: a DataFrame preview and the trials leaderboard.

Both answer `data()` lazily from arrays, so a million-row table costs nothing until a cell is
painted, and no item object is ever built per cell. The preview holds the frame's own column
arrays (NumPy views, or pandas' extension arrays such as its Arrow-backed strings as they are):
nothing is converted or copied into Qt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont

_Index = QModelIndex | QPersistentModelIndex
_NO_INDEX = QModelIndex()


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_value(value: Any) -> str:
    """A cell value as short text; missing values are empty."""
    if is_missing(value):
        return ""
    if isinstance(value, float | np.floating):
        return f"{value:.6g}"
    return str(value)


def column_array(column: pd.Series) -> Any:
    """The column's own values without a copy: a NumPy view for NumPy dtypes, else pandas'
    extension array (Arrow-backed strings, nullable integers) as it is. Converting Arrow strings
    to a NumPy object array would build a Python string per row (over a second on a million
    rows, on the GUI thread)."""
    if isinstance(column.dtype, np.dtype):
        return column.to_numpy(copy=False)
    return column.array


class DataFrameModel(QAbstractTableModel):
    """A read-only table over a DataFrame; cells are formatted only when painted."""

    MISSING_BRUSH = QBrush(QColor("#fbe9e7"))
    TARGET_BRUSH = QBrush(QColor("#e3f2fd"))

    def __init__(self, df: pd.DataFrame | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._df = pd.DataFrame()
        self._columns: list[np.ndarray] = []
        self._roles: dict[str, str] = {}
        self._target: str | None = None
        if df is not None:
            self.set_frame(df)

    def set_frame(self, df: pd.DataFrame) -> None:
        self.beginResetModel()
        self._df = df
        # One array per column: `arr[row]` is far cheaper than `df.iat[row, col]`.
        self._columns = [column_array(df.iloc[:, i]) for i in range(df.shape[1])]
        self.endResetModel()

    def set_roles(self, roles: dict[str, str], target: str | None) -> None:
        self._roles = dict(roles)
        self._target = target
        if self.columnCount():
            self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, self.columnCount() - 1)
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(max(0, self.rowCount() - 1), self.columnCount() - 1),
                                  [Qt.ItemDataRole.BackgroundRole])

    @property
    def frame(self) -> pd.DataFrame:
        return self._df

    def rowCount(self, parent: _Index = _NO_INDEX) -> int:
        return 0 if parent.isValid() else len(self._df)

    def columnCount(self, parent: _Index = _NO_INDEX) -> int:
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return format_value(self._columns[index.column()][index.row()])
        if role == Qt.ItemDataRole.BackgroundRole:
            if is_missing(self._columns[index.column()][index.row()]):
                return self.MISSING_BRUSH
            if self._df.columns[index.column()] == self._target:
                return self.TARGET_BRUSH
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            value = self._columns[index.column()][index.row()]
            numeric = isinstance(value, int | float | np.number)
            if numeric and not isinstance(value, bool | np.bool_):
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if orientation == Qt.Orientation.Horizontal:
                name = str(self._df.columns[section])
                r = "target" if name == self._target else self._roles.get(name)
                return f"{name}\n({r})" if r else name
            return str(section + 1)
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            return f"{self._df.columns[section]}: {self._df.dtypes.iloc[section]}"
        return None


@dataclass
class TrialRow:
    trial_id: str
    number: int
    status: str = "running"
    score: float | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None
    epochs: int = 0


def summarize_hyperparameters(hp: dict[str, Any], limit: int = 5) -> str:
    """The few hyper-parameters a person looks at first, as one short line."""
    preferred = ("layers", "num_layers", "units", "units_0", "dropout", "learning_rate",
                 "architecture", "embedding_dim", "batch_size")
    keys = [k for k in preferred if k in hp] + [k for k in hp if k not in preferred]
    parts = []
    for k in keys[:limit]:
        v = hp[k]
        parts.append(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}")
    return ", ".join(parts)


class LeaderboardModel(QAbstractTableModel):
    """One row per trial, filled in live from trial events."""

    HEADERS = ("Trial", "Status", "Score", "Hyper-parameters", "Duration")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[TrialRow] = []
        self.best_id: str | None = None
        self.direction = "max"

    def clear(self) -> None:
        self.beginResetModel()
        self.rows = []
        self.best_id = None
        self.endResetModel()

    def find(self, trial_id: str) -> int:
        for i, r in enumerate(self.rows):
            if r.trial_id == trial_id:
                return i
        return -1

    def trial_started(self, trial_id: str, number: int, hp: dict[str, Any]) -> None:
        i = self.find(trial_id)
        if i >= 0:
            self.rows[i].status = "running"
            self._changed(i)
            return
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows))
        self.rows.append(TrialRow(trial_id, number, hyperparameters=dict(hp)))
        self.endInsertRows()

    def epoch(self, trial_id: str, epoch: int) -> None:
        i = self.find(trial_id)
        if i >= 0:
            self.rows[i].epochs = epoch
            self._changed(i)

    def trial_ended(self, trial_id: str, status: str, score: float | None,
                    hp: dict[str, Any], seconds: float) -> None:
        i = self.find(trial_id)
        if i < 0:
            self.trial_started(trial_id, len(self.rows) + 1, hp)
            i = len(self.rows) - 1
        row = self.rows[i]
        row.status, row.score, row.seconds = status, score, seconds
        if hp:
            row.hyperparameters = dict(hp)
        self._changed(i)

    def set_best(self, trial_id: str) -> None:
        old = self.find(self.best_id) if self.best_id else -1
        self.best_id = trial_id
        for i in (old, self.find(trial_id)):
            if i >= 0:
                self._changed(i)

    def _changed(self, i: int) -> None:
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(self.HEADERS) - 1))

    def rowCount(self, parent: _Index = _NO_INDEX) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = _NO_INDEX) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return str(row.number)
            if col == 1:
                if row.status == "running" and row.epochs:
                    return f"running (epoch {row.epochs})"
                return row.status
            if col == 2:
                return "" if row.score is None else f"{row.score:.4f}"
            if col == 3:
                return summarize_hyperparameters(row.hyperparameters)
            if col == 4:
                return "" if row.seconds is None else f"{row.seconds:.1f} s"
        if role == Qt.ItemDataRole.UserRole:   # sort keys
            return (row.number, row.status, -math.inf if row.score is None else row.score,
                    summarize_hyperparameters(row.hyperparameters), row.seconds or 0.0)[col]
        if role == Qt.ItemDataRole.ToolTipRole and col == 3:
            return "\n".join(f"{k} = {v}" for k, v in row.hyperparameters.items())
        if role == Qt.ItemDataRole.FontRole and row.trial_id == self.best_id:
            font = QFont()
            font.setBold(True)
            return font
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section]
        return None
