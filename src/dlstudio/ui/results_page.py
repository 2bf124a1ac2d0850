"""Step 6: how good is the best model on rows it never saw, and where to draw the line."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dlstudio.engine.records import EvaluationReport
from dlstudio.engine.templates import TaskType
from dlstudio.engine.threshold import best_cost_threshold
from dlstudio.ui.models import format_value
from dlstudio.ui.page import Page, heading, hint
from dlstudio.ui.plots import make_plot, pen, set_bars

SLIDER_STEPS = 1000

METRIC_NAMES = {
    "auc": "ROC AUC", "ks": "KS statistic", "gini": "Gini", "accuracy": "Accuracy",
    "precision": "Precision", "recall": "Recall", "f1": "F1 score", "f1_macro": "F1 (macro)",
    "rmse": "RMSE (root mean squared error)", "mae": "MAE (mean absolute error)",
    "r2": "R² (share of variance explained)", "loss": "Loss",
}


class ResultsPage(Page):
    title = "Results"
    threshold_changed = Signal(float)

    def __init__(self, state, parent=None) -> None:
        super().__init__(state, parent)
        self.evaluation: EvaluationReport | None = None
        self.threshold: float | None = None
        self._p: np.ndarray | None = None
        self._y: np.ndarray | None = None
        self._classes: list[str] = []
        self._positive: str | None = None
        self._negative: str | None = None

        self.summary = QLabel("Results appear here when a search has finished.")
        self.summary.setWordWrap(True)
        self.metrics = QTableWidget(0, 2)
        self.metrics.setHorizontalHeaderLabels(["Test metric", "Value"])
        self._readonly(self.metrics)
        self.metrics.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.metrics.verticalHeader().hide()

        self.matrix = QTableWidget(0, 0)
        self._readonly(self.matrix)
        self.matrix.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.matrix.setMinimumHeight(120)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.valueChanged.connect(self._slider_moved)
        self.threshold_label = QLabel()
        self.at_threshold = QLabel()
        self.at_threshold.setWordWrap(True)
        self.threshold_box = QWidget()
        tl = QVBoxLayout(self.threshold_box)
        tl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Decision threshold:"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.threshold_label)
        tl.addLayout(row)
        tl.addWidget(self.at_threshold)

        self.costs = QGroupBox("What does a mistake cost?")
        self.cost_fa = QDoubleSpinBox(minimum=0.0, maximum=1e9, decimals=2, singleStep=1.0)
        self.cost_fr = QDoubleSpinBox(minimum=0.0, maximum=1e9, decimals=2, singleStep=1.0)
        self.cost_fa.setToolTip("For example the average loss on a loan that is not repaid.")
        self.cost_fr.setToolTip("For example the profit lost on a good customer turned away.")
        self.cost_result = QLabel()
        self.cost_result.setWordWrap(True)
        cf = QFormLayout(self.costs)
        cf.addRow("Cost of approving an applicant who will not repay:", self.cost_fa)
        cf.addRow("Cost of rejecting an applicant who would repay:", self.cost_fr)
        cf.addRow(self.cost_result)
        self.cost_fa.valueChanged.connect(self.apply_costs)
        self.cost_fr.valueChanged.connect(self.apply_costs)

        self.matrix_box = QGroupBox("Confusion matrix (test rows)")
        ml = QVBoxLayout(self.matrix_box)
        ml.addWidget(hint("Rows: the true class. Columns: what the model predicted."))
        ml.addWidget(self.matrix)
        ml.addWidget(self.threshold_box)

        self.roc_plot = make_plot("ROC curve", "true positive rate", "false positive rate")
        self.roc_plot.setXRange(0, 1)
        self.roc_plot.setYRange(0, 1)
        self.roc_curve = self.roc_plot.plot([], [], pen=pen(0))
        self.roc_plot.plot([0, 1], [0, 1], pen=pen(5, 1, dashed=True))
        self.roc_point = self.roc_plot.plot([], [], pen=None, symbol="o", symbolSize=10,
                                            symbolBrush="#e65100")
        self.importance_plot = make_plot("Which columns matter most",
                                         "", "drop in score when the column is shuffled")
        self.importance_plot.setMouseEnabled(x=False, y=False)

        self.examples = QTableWidget(0, 0)
        self._readonly(self.examples)

        content = QWidget()
        grid = QGridLayout(content)
        grid.addWidget(self.summary, 0, 0, 1, 2)
        grid.addWidget(self.metrics, 1, 0)
        grid.addWidget(self.roc_plot, 1, 1)
        grid.addWidget(self.matrix_box, 2, 0)
        grid.addWidget(self.importance_plot, 2, 1)
        grid.addWidget(self.costs, 3, 0, 1, 2)
        grid.addWidget(QLabel("<b>Some test rows and what the model said</b>"), 4, 0, 1, 2)
        grid.addWidget(self.examples, 5, 0, 1, 2)
        grid.setRowMinimumHeight(1, 230)
        grid.setRowMinimumHeight(2, 260)
        grid.setRowMinimumHeight(5, 180)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Results on test rows the search never saw"))
        layout.addWidget(scroll, 1)
        state.project_changed.connect(self.reload)

    @staticmethod
    def _readonly(table: QTableWidget) -> None:
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)

    def on_enter(self) -> None:
        if self.evaluation is None:
            self.reload()

    # -- loading ------------------------------------------------------------------------------
    def reload(self) -> None:
        self.set_evaluation(self.state.evaluation())

    def set_evaluation(self, evaluation: EvaluationReport | None) -> None:
        self.evaluation = evaluation
        if evaluation is None:
            self.summary.setText("Results appear here when a search has finished.")
            return
        task = evaluation.task
        self._classes = [str(c) for c in evaluation.classes]
        metrics = evaluation.metrics
        self.metrics.setRowCount(len(metrics))
        for i, (k, v) in enumerate(metrics.items()):
            self.metrics.setItem(i, 0, QTableWidgetItem(METRIC_NAMES.get(k, k)))
            self.metrics.setItem(i, 1, QTableWidgetItem(format_value(v)))
        test = evaluation.test
        self._y = np.array([str(v) for v in test.get("y_true", [])], dtype=object)
        binary = task is TaskType.BINARY and len(self._classes) == 2
        self.threshold_box.setVisible(binary)
        self.roc_plot.setVisible(task is not TaskType.MULTICLASS)
        self.matrix_box.setVisible(task is not TaskType.REGRESSION)
        t = self.state.template
        costs = evaluation.costs
        self.costs.setVisible(binary and (t is None or t.name == "credit-scoring")
                              and costs is not None)
        if binary:
            self._positive = str(evaluation.positive_class or self._classes[1])
            self._negative = next(c for c in self._classes if c != self._positive)
            scores = np.asarray(test.get("scores", []), dtype=float)
            pos = self._classes.index(self._positive)
            self._p = scores[:, pos] if scores.ndim == 2 else scores
            roc = evaluation.roc or {}
            self.roc_plot.setTitle("ROC curve", size="10pt")
            self.roc_plot.setLabel("left", "true positive rate")
            self.roc_plot.setLabel("bottom", "false positive rate")
            self.roc_plot.setXRange(0, 1)
            self.roc_plot.setYRange(0, 1)
            self.roc_curve.setData(roc.get("fpr", []), roc.get("tpr", []))
            self.roc_curve.setPen(pen(0))
            self.roc_curve.setSymbol(None)
            threshold = evaluation.threshold
            self.set_threshold(0.5 if threshold is None else float(threshold))
            if costs is not None:
                for box, key in ((self.cost_fa, "false_approval"),
                                 (self.cost_fr, "false_rejection")):
                    box.blockSignals(True)
                    box.setValue(float(costs.get(key, 1.0)))
                    box.blockSignals(False)
                self.cost_result.setText("Change a cost to move the threshold to the one with "
                                         "the lowest total cost on the test rows.")
        else:
            self._p = None
            self.threshold = None
            self._show_matrix(evaluation.confusion_matrix or [])
            if task is TaskType.REGRESSION:
                pred = [float(v) for v in test.get("scores", [])]
                true = [float(v) for v in test.get("y_true", [])]
                self.roc_plot.setTitle("Predicted vs true (test rows)", size="10pt")
                self.roc_plot.setLabel("left", "predicted")
                self.roc_plot.setLabel("bottom", "true")
                self.roc_curve.setData(true, pred)
                self.roc_curve.setPen(None)
                self.roc_curve.setSymbol("o")
                self.roc_curve.setSymbolSize(4)
                if true:
                    lo, hi = min(true + pred), max(true + pred)
                    self.roc_point.setData([lo, hi], [lo, hi])
                    self.roc_plot.enableAutoRange()
        self._show_importance(evaluation.feature_importance)
        self._show_examples(evaluation.examples)
        n = len(self._y)
        self.summary.setText(f"Measured on {n:,} test rows held back from the search. "
                             + (f"The model flags '{self._positive}' when its probability is at "
                                "least the threshold below." if binary else ""))

    # -- threshold ----------------------------------------------------------------------------
    def set_threshold(self, threshold: float) -> None:
        """Move the decision threshold (binary tasks) and recompute the confusion matrix."""
        threshold = float(min(1.0, max(0.0, threshold)))
        self.threshold = threshold
        self.slider.blockSignals(True)
        self.slider.setValue(round(threshold * SLIDER_STEPS))
        self.slider.blockSignals(False)
        self._recompute()

    def _slider_moved(self, value: int) -> None:
        self.threshold = value / SLIDER_STEPS
        self._recompute()

    def predictions(self) -> np.ndarray:
        assert self._p is not None and self.threshold is not None
        return np.where(self._p >= self.threshold, self._positive, self._negative)

    def current_matrix(self) -> list[list[int]]:
        """The confusion matrix as shown (rows: true class, columns: predicted)."""
        out = []
        for r in range(self.matrix.rowCount()):
            out.append([int(self.matrix.item(r, c).text().split()[0])
                        for c in range(self.matrix.columnCount())])
        return out

    def _recompute(self) -> None:
        if self._p is None or self._y is None or self.threshold is None:
            return
        pred = self.predictions()
        # Imported on first use: scikit-learn takes most of a second to load, the window doesn't.
        from sklearn.metrics import confusion_matrix

        cm = confusion_matrix(self._y.astype(str), pred.astype(str), labels=self._classes)
        self._show_matrix(cm.tolist())
        self.threshold_label.setText(f"{self.threshold:.3f}")
        is_pos = self._y == self._positive
        flagged = pred == self._positive
        tp = int(np.sum(is_pos & flagged))
        fn = int(np.sum(is_pos & ~flagged))
        fp = int(np.sum(~is_pos & flagged))
        tn = int(np.sum(~is_pos & ~flagged))
        n = max(1, len(pred))
        recall = tp / max(1, tp + fn)
        fpr = fp / max(1, fp + tn)
        precision = tp / max(1, tp + fp)
        self.at_threshold.setText(
            f"At this threshold: accuracy {(tp + tn) / n:.1%}; {recall:.0%} of the "
            f"'{self._positive}' rows are caught (recall), {precision:.0%} of the rows flagged "
            f"'{self._positive}' really are (precision); {fp} '{self._negative}' rows are "
            f"wrongly flagged and {fn} '{self._positive}' rows are missed.")
        self.roc_point.setData([fpr], [recall])
        if not self.costs.isHidden():
            total = self.cost_fa.value() * fn + self.cost_fr.value() * fp
            self.cost_result.setToolTip(f"Total cost at this threshold: {total:,.2f}")
        self.state.decision_threshold = self.threshold
        self.threshold_changed.emit(self.threshold)

    def apply_costs(self) -> None:
        """Set the threshold that minimises the expected cost of mistakes on the test rows."""
        if self._p is None or self._y is None:
            return
        fa, fr = self.cost_fa.value(), self.cost_fr.value()
        self.state.settings.cost_false_approval = fa
        self.state.settings.cost_false_rejection = fr
        t, cost = best_cost_threshold(self._p, self._y == self._positive, fa, fr)
        self.set_threshold(t)
        n = max(1, len(self._p))
        self.cost_result.setText(f"Threshold set to {t:.3f}: the lowest total cost on the test "
                                 f"rows ({cost:,.2f}, or {cost / n:,.3f} per applicant).")

    # -- tables and charts --------------------------------------------------------------------
    def _show_matrix(self, cm: list[list[int]]) -> None:
        classes = self._classes
        n = len(cm)
        self.matrix.setRowCount(n)
        self.matrix.setColumnCount(n)
        labels = classes if len(classes) == n else [str(i) for i in range(n)]
        self.matrix.setVerticalHeaderLabels([f"true {c}" for c in labels])
        self.matrix.setHorizontalHeaderLabels([f"predicted {c}" for c in labels])
        total = max(1, sum(sum(r) for r in cm))
        top = max([max(r) for r in cm if r] or [1]) or 1
        for r in range(n):
            for c in range(n):
                v = int(cm[r][c])
                item = QTableWidgetItem(f"{v}  ({v / total:.0%})")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                strength = v / top
                base = (46, 125, 50) if r == c else (198, 40, 40)
                alpha = int(30 + 150 * strength)
                item.setBackground(QBrush(QColor(*base, alpha)))
                self.matrix.setItem(r, c, item)

    def _show_importance(self, rows: list[dict[str, Any]]) -> None:
        rows = rows[:15]
        set_bars(self.importance_plot, [str(r.get("column")) for r in rows],
                 [max(0.0, float(r.get("importance") or 0.0)) for r in rows], horizontal=True)

    def _show_examples(self, examples: list[dict[str, Any]]) -> None:
        examples = examples[:20]
        cols: list[str] = []
        for e in examples:
            for k in (e.get("row") or {}):
                if k not in cols:
                    cols.append(str(k))
        has_p = any(e.get("probability") is not None for e in examples)
        headers = ["True", "Predicted", *(["Probability"] if has_p else []), *cols]
        self.examples.setColumnCount(len(headers))
        self.examples.setHorizontalHeaderLabels(headers)
        self.examples.setRowCount(len(examples))
        for r, e in enumerate(examples):
            values = [e.get("true"), e.get("predicted")]
            if has_p:
                p = e.get("probability")
                values.append(None if p is None else f"{float(p):.3f}")
            row = e.get("row") or {}
            values += [row.get(c) for c in cols]
            for c, v in enumerate(values):
                item = QTableWidgetItem(format_value(v))
                if c == 1 and str(e.get("true")) != str(e.get("predicted")):
                    item.setForeground(QBrush(QColor("#c62828")))
                self.examples.setItem(r, c, item)
        self.examples.resizeColumnsToContents()
