"""Step 6: how good is the best model on rows it never saw, and where to draw the line."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dlstudio.engine.errors import UserError
from dlstudio.engine.records import EvaluationReport, model_kind
from dlstudio.engine.report import METRIC_NAMES, write_report
from dlstudio.engine.templates import TaskType
from dlstudio.engine.threshold import best_cost_threshold
from dlstudio.ui import dialogs
from dlstudio.ui.examples_table import ExamplesTable
from dlstudio.ui.examples_table import describe as describe_examples
from dlstudio.ui.jobs import Job
from dlstudio.ui.models import format_value
from dlstudio.ui.page import Page, heading, hint
from dlstudio.ui.plots import PALETTE, make_plot, set_bars
from dlstudio.ui.result_charts import PerClassTable, TaskCharts

SLIDER_STEPS = 1000
TOP_WORDS = 15


class ResultsPage(Page):
    title = "Results"
    threshold_changed = Signal(float)
    report_finished = Signal(bool)      # the HTML report was written (True) or not (False)

    def __init__(self, state, parent=None) -> None:
        super().__init__(state, parent)
        self.evaluation: EvaluationReport | None = None
        self._metric_rows: dict[str, int] = {}
        self.threshold: float | None = None
        self._p: np.ndarray | None = None
        self._y: np.ndarray | None = None
        self._classes: list[str] = []
        self._positive: str | None = None
        self._negative: str | None = None
        self._word_bars: dict[str, list[tuple[str, float]]] = {}

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

        # ROC and precision-recall (two classes), or predicted-vs-actual and residuals.
        self.charts = TaskCharts()
        self.per_class = PerClassTable()
        self.per_class_box = QGroupBox("Each class on the test rows")
        pl = QVBoxLayout(self.per_class_box)
        pl.addWidget(self.per_class)
        pl.addStretch(1)
        self.importance_plot = make_plot("Which columns matter most",
                                         "", "drop in score when the column is shuffled",
                                         static=True)
        self.importance_plot.setMinimumHeight(240)
        self.importance_plot.setMaximumHeight(420)
        # What stands in a hidden chart's place: a sentence saying why there is nothing to show.
        self.importance_note = self._note()

        self.words_box = QGroupBox("Which words matter most")
        self.word_column = QComboBox()
        self.word_class = QComboBox()
        self.word_column.currentIndexChanged.connect(self._show_words)
        self.word_class.currentIndexChanged.connect(self._show_words)
        self.word_picker = QWidget()
        wp = QHBoxLayout(self.word_picker)
        wp.setContentsMargins(0, 0, 0, 0)
        self.word_column_label = QLabel("Text column:")
        self.word_class_label = QLabel("Class:")
        wp.addWidget(self.word_column_label)
        wp.addWidget(self.word_column)
        wp.addWidget(self.word_class_label)
        wp.addWidget(self.word_class)
        wp.addStretch(1)
        self.words_up = make_plot("", "", "average change in probability when the word is removed",
                                  static=True)
        self.words_down = make_plot("", "", "average change in probability when the word is "
                                    "removed", static=True)
        for plot in (self.words_up, self.words_down):
            plot.setMinimumHeight(260)
        self.words_up_note = self._note()
        self.words_down_note = self._note()
        wl = QVBoxLayout(self.words_box)
        wl.addWidget(hint("Each of the most frequent words was taken out of the validation texts "
                          "that contain it; the bars show how much the model's prediction moved."))
        wl.addWidget(self.word_picker)
        charts = QHBoxLayout()
        for plot, note in ((self.words_up, self.words_up_note),
                           (self.words_down, self.words_down_note)):
            col = QVBoxLayout()
            col.addWidget(plot)
            col.addWidget(note)
            charts.addLayout(col, 1)
        wl.addLayout(charts)

        self.examples = ExamplesTable()
        self.examples_hint = hint("")
        self.examples_hint.setTextFormat(Qt.TextFormat.RichText)

        content = QWidget()
        grid = QGridLayout(content)
        grid.addWidget(self.summary, 0, 0, 1, 2)
        grid.addWidget(self.metrics, 1, 0)
        grid.addWidget(self.matrix_box, 1, 1)
        grid.addWidget(self.charts, 2, 0, 1, 2)
        # Side by side; the importance chart takes the row when there is no per-class table.
        side = QHBoxLayout()
        side.addWidget(self.per_class_box, 1)
        side.addWidget(self._stack(self.importance_plot, self.importance_note), 1)
        grid.addLayout(side, 3, 0, 1, 2)
        grid.addWidget(self.words_box, 4, 0, 1, 2)
        grid.addWidget(self.costs, 5, 0, 1, 2)
        grid.addWidget(QLabel("<b>Some test rows and what the model said</b>"), 6, 0, 1, 2)
        grid.addWidget(self.examples_hint, 7, 0, 1, 2)
        grid.addWidget(self.examples, 8, 0, 1, 2)
        grid.setRowMinimumHeight(1, 230)
        grid.setRowStretch(9, 1)        # spare height below the last row, not inside the tables
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(heading("Results on test rows the search never saw"), 1)
        top.addWidget(self._make_report_button())
        layout.addLayout(top)
        layout.addWidget(scroll, 1)
        state.project_changed.connect(self.reload)

    @staticmethod
    def _readonly(table: QTableWidget) -> None:
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)

    @staticmethod
    def _note() -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.hide()
        return label

    @staticmethod
    def _stack(*widgets: QWidget) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in widgets:
            layout.addWidget(w, 1 if not isinstance(w, QLabel) else 0)
        return box

    @staticmethod
    def _explain_absence(plot: QWidget, note: QLabel, why: str | None) -> None:
        """Show the chart, or (when `why` is given) hide it and say why in words."""
        plot.setVisible(why is None)
        note.setVisible(why is not None)
        note.setText(why or "")

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
        self._metric_rows = {k: i for i, k in enumerate(metrics)}
        for i, (k, v) in enumerate(metrics.items()):
            self.metrics.setItem(i, 0, QTableWidgetItem(METRIC_NAMES.get(k, k)))
            self.metrics.setItem(i, 1, QTableWidgetItem(format_value(v)))
        test = evaluation.test
        self._y = np.array([str(v) for v in test.get("y_true", [])], dtype=object)
        binary = task is TaskType.BINARY and len(self._classes) == 2
        self.threshold_box.setVisible(binary)
        self.charts.show_report(evaluation)
        self._show_per_class(evaluation)
        self.matrix_box.setVisible(task is not TaskType.REGRESSION)
        self.examples.set_examples(evaluation)
        self.examples.setVisible(bool(evaluation.examples))
        self.examples_hint.setText(describe_examples(evaluation))
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
        self._show_importance(evaluation.feature_importance, evaluation)
        self._show_word_choices(evaluation)
        n = len(self._y)
        self.summary.setText(f"Measured on {n:,} test rows held back from the search. "
                             + (f"The model flags '{self._positive}' when its probability is at "
                                "least the threshold below. " if binary else "")
                             + self._model_sentence(evaluation))

    @staticmethod
    def _model_sentence(evaluation: EvaluationReport) -> str:
        """What the model is (one network or an ensemble of k) and where it was trained."""
        text = f"The model is {model_kind(evaluation.ensemble_size)}"
        if evaluation.ensemble_size > 1:
            text += ", which predicted the validation rows better than the best network alone"
        text += f"; trained on {evaluation.device}." if evaluation.device else "."
        if evaluation.final_fit_rows:
            text += (f" After this test it was trained once more, with the same settings, on "
                     f"all {evaluation.final_fit_rows:,} rows (test rows included): that is the "
                     "model you export, and these figures are its estimate from before.")
        return text

    def _show_per_class(self, evaluation: EvaluationReport) -> None:
        """Per-class precision, recall and F1 where the decisions are the most probable class
        (a binary task's follow the threshold slider, in the metrics table)."""
        rows = evaluation.per_class
        self.per_class_box.setVisible(evaluation.task is TaskType.MULTICLASS and bool(rows))
        self.per_class.set_rows(rows)

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
        self.charts.mark_threshold(fpr, recall, precision if tp + fp else None)
        self.examples.set_threshold(self.threshold)
        self._show_threshold_metrics(tp, fn, fp, tn)
        if not self.costs.isHidden():
            total = self.cost_fa.value() * fn + self.cost_fr.value() * fp
            self.cost_result.setToolTip(f"Total cost at this threshold: {total:,.2f}")
        self.state.decision_threshold = self.threshold
        self.threshold_changed.emit(self.threshold)

    def _show_threshold_metrics(self, tp: int, fn: int, fp: int, tn: int) -> None:
        """The metrics that depend on the threshold, at the slider's threshold. At the engine's
        own threshold the table keeps the engine's values (measured on every test row; the
        page holds at most evaluate.MAX_STORED_TEST_ROWS of them)."""
        assert self.evaluation is not None and self.threshold is not None
        engine_threshold = self.evaluation.threshold
        at_engine = engine_threshold is not None and abs(self.threshold - engine_threshold) < 1e-9
        precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
        neg_precision, neg_recall = tn / max(1, tn + fn), tn / max(1, tn + fp)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        neg_f1 = (2 * neg_precision * neg_recall / (neg_precision + neg_recall)
                  if neg_precision + neg_recall else 0.0)
        here = {"precision": precision, "recall": recall, "f1": f1,
                "accuracy": (tp + tn) / max(1, tp + fn + fp + tn), "f1_macro": (f1 + neg_f1) / 2}
        for key, value in here.items():
            row = self._metric_rows.get(key)
            if row is None:
                continue
            name = METRIC_NAMES.get(key, key)
            if not at_engine:
                name += f" (at threshold {self.threshold:.3f})"
                self.metrics.setItem(row, 1, QTableWidgetItem(format_value(value)))
            else:
                self.metrics.setItem(row, 1, QTableWidgetItem(
                    format_value(self.evaluation.metrics[key])))
            self.metrics.setItem(row, 0, QTableWidgetItem(name))

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

    def _show_importance(self, rows: list[dict[str, Any]], evaluation: EvaluationReport) -> None:
        rows = rows[:15]
        if rows:
            why = None
        elif evaluation.word_importance:
            why = ("The model reads a single text column, so there are no columns to rank; "
                   "the words that matter most are shown below.")
        else:
            why = "Column importance was not measured for this model."
        self._explain_absence(self.importance_plot, self.importance_note, why)
        set_bars(self.importance_plot, [str(r.get("column")) for r in rows],
                 [max(0.0, float(r.get("importance") or 0.0)) for r in rows], horizontal=True)

    # -- words --------------------------------------------------------------------------------
    def _show_word_choices(self, evaluation: EvaluationReport) -> None:
        words = evaluation.word_importance or {}
        self.words_box.setVisible(bool(words))
        for combo, items in ((self.word_column, list(words)),
                             (self.word_class, self._word_targets(evaluation))):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(items)
            combo.blockSignals(False)
        many_columns = len(words) > 1
        many_classes = self.word_class.count() > 2
        self.word_column.setVisible(many_columns)
        self.word_column_label.setVisible(many_columns)
        self.word_class.setVisible(many_classes)
        self.word_class_label.setVisible(many_classes)
        self.word_picker.setVisible(many_columns or many_classes)
        self._show_words()

    @staticmethod
    def _word_targets(evaluation: EvaluationReport) -> list[str]:
        if evaluation.task is TaskType.REGRESSION:
            first = next(iter(evaluation.word_importance.values()), {})
            return list(first)
        return [str(c) for c in evaluation.classes]

    def word_charts(self) -> dict[str, list[tuple[str, float]]]:
        """What the two word charts show: {chart title: [(word, bar length), ...]}."""
        return dict(self._word_bars)

    def _show_words(self) -> None:
        self._word_bars = {}
        evaluation = self.evaluation
        if evaluation is None or not evaluation.word_importance:
            return
        per_class = evaluation.word_importance.get(self.word_column.currentText(), {})
        regression = evaluation.task is TaskType.REGRESSION
        classes = [str(c) for c in evaluation.classes]
        if not regression and len(classes) == 2:
            # Two classes: what pushes towards the second, and what pushes towards the first.
            a, b = classes[1], classes[0]
            charts = [(f"Words that push towards '{a}'", self._towards(per_class.get(a, []))),
                      (f"Words that push towards '{b}'", self._towards(per_class.get(b, [])))]
        else:
            c = self.word_class.currentText()
            rows = per_class.get(c, [])
            up, down = ("raise", "lower") if regression else ("push towards", "push away from")
            charts = [(f"Words that {up} '{c}'", self._towards(rows)),
                      (f"Words that {down} '{c}'", self._towards(rows, away=True))]
        for i, (plot, note, (title, bars)) in enumerate(
                ((self.words_up, self.words_up_note, charts[0]),
                 (self.words_down, self.words_down_note, charts[1]))):
            plot.setTitle(title, size="10pt")
            why = None if bars else (f"{title}: none. No frequent word moved the prediction "
                                     "that way.")
            self._explain_absence(plot, note, why)
            set_bars(plot, [w for w, _ in bars], [v for _, v in bars], horizontal=True,
                     color=PALETTE[1 if i == 0 else 3])
            self._word_bars[title] = bars

    @staticmethod
    def _towards(rows: list[dict[str, Any]], away: bool = False) -> list[tuple[str, float]]:
        sign = -1.0 if away else 1.0
        bars = [(str(r.get("ngram")), sign * float(r.get("effect") or 0.0)) for r in rows]
        bars = sorted((b for b in bars if b[1] > 0), key=lambda b: -b[1])
        return bars[:TOP_WORDS]

    # -- the shareable report (engine/report.py, no TensorFlow: run on a pool thread) -----------
    def _make_report_button(self) -> QPushButton:
        self.report_button = QPushButton("Save report…")
        self.report_button.setToolTip("One HTML file with these results, the data, the search "
                                      "and the model card: opens offline, prints, can be shared.")
        self.report_button.clicked.connect(self.save_report)
        self._report_job: Job | None = None
        return self.report_button

    def save_report(self) -> None:
        project = self.state.project
        if project is None or self.evaluation is None:
            dialogs.warn(self, "There are no results to report yet: the report can be saved once "
                               "a search has finished and its best network has been measured.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save report", str(project.root /
                                                                       "report.html"),
                                              "HTML files (*.html)")
        if not path or self._report_job is not None:
            return
        threshold = self.threshold if self._p is not None else None
        costs = None if self.costs.isHidden() else {"false_approval": self.cost_fa.value(),
                                                    "false_rejection": self.cost_fr.value()}
        job = Job(lambda: write_report(project.root, path, threshold=threshold, costs=costs))
        job.signals.done.connect(self._report_saved)
        job.signals.failed.connect(self._report_failed)
        self._report_job = job
        self.report_button.setEnabled(False)
        self.report_button.setText("Saving report…")
        job.start()

    def _report_done(self) -> None:
        self._report_job = None
        self.report_button.setEnabled(True)
        self.report_button.setText("Save report…")

    def _report_saved(self, result: dict[str, Any]) -> None:
        self._report_done()
        dialogs.info(self, f"The report was saved to:\n{result['output']}\n\nIt is one file "
                           "that opens in any web browser, without a connection, and prints.")
        self.report_finished.emit(True)

    def _report_failed(self, exc: BaseException, tb: str) -> None:
        self._report_done()
        if isinstance(exc, UserError):
            dialogs.warn(self, f"The report could not be saved. {exc}")
        else:
            dialogs.internal_error(self, f"The report could not be saved: {exc}", tb,
                                   self.log_path())
        self.report_finished.emit(False)
