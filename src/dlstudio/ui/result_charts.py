"""The Results page's charts that fit the task, and its table of per-class metrics.

Two classes: the ROC and precision-recall curves, each with the point of the current decision
threshold. Regression: predicted against actual values, and the residuals against the
predictions. More than two classes: no curve (said in words); `PerClassTable` shows how each
class fares. A chart with nothing to show is hidden and a sentence says why.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dlstudio.engine.records import EvaluationReport
from dlstudio.engine.templates import TaskType
from dlstudio.ui.plots import PALETTE, fit_range, make_plot, pen, span

CHART_HEIGHT = 280


def _points(plot: pg.PlotWidget, color: str = PALETTE[0], size: int = 5) -> pg.PlotDataItem:
    return plot.plot([], [], pen=None, symbol="o", symbolSize=size, symbolPen=None,
                     symbolBrush=pg.mkBrush(color))


class TaskCharts(QWidget):
    """Two charts side by side, chosen by the task; a sentence when there is nothing to draw."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.roc_plot = make_plot("ROC curve", "true positive rate", "false positive rate",
                                  static=True)
        self.roc_curve = self.roc_plot.plot([], [], pen=pen(0))
        self.roc_plot.plot([0, 1], [0, 1], pen=pen(5, 1, dashed=True))
        self.roc_point = _points(self.roc_plot, "#e65100", 10)

        self.pr_plot = make_plot("Precision-recall curve", "precision", "recall", static=True)
        self.pr_curve = self.pr_plot.plot([], [], pen=pen(2))
        # A model that flags rows at random has the share of positives as its precision.
        self.pr_baseline = pg.InfiniteLine(angle=0, pen=pen(5, 1, dashed=True))
        self.pr_plot.addItem(self.pr_baseline)
        self.pr_point = _points(self.pr_plot, "#e65100", 10)

        self.fit_plot = make_plot("Predicted vs actual (test rows)", "predicted", "actual",
                                  static=True)
        self.fit_diagonal = self.fit_plot.plot([], [], pen=pen(5, 1, dashed=True))
        self.fit_points = _points(self.fit_plot)

        self.residual_plot = make_plot("Residuals: actual − predicted (test rows)", "residual",
                                       "predicted", static=True)
        self.residual_plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pen(5, 1, dashed=True)))
        self.residual_points = _points(self.residual_plot, PALETTE[3])

        self.plots = (self.roc_plot, self.pr_plot, self.fit_plot, self.residual_plot)
        for plot in self.plots:
            plot.setMinimumHeight(CHART_HEIGHT)
            plot.setMaximumHeight(CHART_HEIGHT + 80)
        # What stands in a hidden chart's place: a sentence saying why there is nothing to show.
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note.hide()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        for plot in self.plots:
            row.addWidget(plot, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.note)

    def shown(self) -> list[str]:
        """The titles of the charts on show."""
        return [p.getPlotItem().titleLabel.text for p in self.plots if not p.isHidden()]

    def show_report(self, evaluation: EvaluationReport) -> None:
        for plot in self.plots:
            plot.hide()
        self.mark_threshold(None, None, None)
        classes = [str(c) for c in evaluation.classes]
        test = evaluation.test or {}
        if evaluation.task is TaskType.REGRESSION:
            why = self._show_regression(evaluation.residuals, test)
        elif len(classes) != 2:
            why = (f"No ROC or precision-recall curve: they compare two classes, and this task "
                   f"has {len(classes)}. The table of each class's precision, recall and F1 "
                   "shows how each class fares.")
        else:
            positive = str(evaluation.positive_class or classes[1])
            why = self._show_two_classes(evaluation.roc, evaluation.pr_curve, positive, test)
        self.note.setVisible(why is not None)
        self.note.setText(why or "")

    def _show_two_classes(self, roc: dict[str, list[float]] | None,
                          pr: dict[str, list[float]] | None, positive: str,
                          test: dict[str, list]) -> str | None:
        if not (roc or {}).get("fpr"):
            return ("No ROC or precision-recall curve: the test rows hold only one of the two "
                    "classes, so there is no true- and false-positive rate to draw.")
        self.roc_plot.setTitle(f"ROC curve ('{positive}' as positive)", size="10pt")
        self.roc_curve.setData(roc["fpr"], roc["tpr"])
        self.roc_plot.setXRange(0, 1, padding=0.02)
        self.roc_plot.setYRange(0, 1, padding=0.02)
        self.roc_plot.show()
        if not (pr or {}).get("recall"):
            return ("No precision-recall curve: this evaluation was made before DL Studio "
                    "stored one; search again to see it.")
        assert pr is not None
        self.pr_plot.setTitle(f"Precision-recall ('{positive}' as positive)", size="10pt")
        self.pr_curve.setData(pr["recall"], pr["precision"])
        truth = [str(v) for v in test.get("y_true", [])]
        self.pr_baseline.setVisible(bool(truth))
        if truth:
            self.pr_baseline.setValue(truth.count(positive) / len(truth))
        self.pr_plot.setXRange(0, 1, padding=0.02)
        self.pr_plot.setYRange(0, 1, padding=0.02)
        self.pr_plot.show()
        return None

    def _show_regression(self, residuals: dict[str, list[float]] | None,
                         test: dict[str, list]) -> str | None:
        if residuals and residuals.get("actual"):
            actual, predicted = residuals["actual"], residuals["predicted"]
            residual = residuals["residual"]
        else:           # an evaluation.json from before residuals were stored
            actual = [float(v) for v in test.get("y_true", [])]
            predicted = [float(v) for v in test.get("scores", [])]
            residual = [a - p for a, p in zip(actual, predicted, strict=True)]
        if not actual:
            return "No predicted-vs-actual or residual plot: no test predictions were stored."
        self.fit_points.setData(actual, predicted)
        lo, hi = span([*actual, *predicted])
        self.fit_diagonal.setData([lo, hi], [lo, hi])
        fit_range(self.fit_plot, [lo, hi], [lo, hi])
        self.residual_points.setData(predicted, residual)
        largest = max(abs(r) for r in residual)
        fit_range(self.residual_plot, predicted, [-largest, largest])
        self.fit_plot.show()
        self.residual_plot.show()
        return None

    def mark_threshold(self, fpr: float | None, recall: float | None,
                       precision: float | None) -> None:
        """The current decision threshold's point on the ROC and precision-recall curves
        (precision None: nothing flagged, no point on that curve)."""
        self.roc_point.setData(*(([fpr], [recall]) if fpr is not None else ([], [])))
        on_pr = recall is not None and precision is not None
        self.pr_point.setData(*(([recall], [precision]) if on_pr else ([], [])))


class PerClassTable(QTableWidget):
    """Precision, recall, F1 and the number of test rows of each class."""

    HEADERS = ("Class", "Precision", "Recall", "F1", "Test rows")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(self.HEADERS), parent)
        self.setHorizontalHeaderLabels(list(self.HEADERS))
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.verticalHeader().hide()
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            values = [str(row.get("class")), *(f"{float(row.get(k) or 0.0):.3f}"
                                               for k in ("precision", "recall", "f1")),
                      f"{int(row.get('support') or 0):,}"]
            for c, v in enumerate(values):
                item = QTableWidgetItem(v)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(r, c, item)
        height = sum(self.rowHeight(r) for r in range(self.rowCount()))
        self.setFixedHeight(min(400, height + self.horizontalHeader().height()
                                + 2 * self.frameWidth()))

    def rows(self) -> list[list[str]]:
        """The table as shown, one list of cell texts per class."""
        return [[self.item(r, c).text() for c in range(self.columnCount())]
                for r in range(self.rowCount())]
