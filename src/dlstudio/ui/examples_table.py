"""The Results page's test rows and what the model said about them.

Each row shows its true value, the prediction, right or wrong, and its cells; in a text column
the words that drove the prediction are highlighted (yellow: towards what the model predicted;
blue: against it), as the engine measured them by taking each word out in turn
(`pipeline.examples`). On a two-class task with a decision threshold the predictions follow the
threshold slider.
"""

from __future__ import annotations

import html
import math
import re
from typing import Any

from PySide6.QtCore import QModelIndex, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QTextDocument
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from dlstudio.engine.explain import tokens
from dlstudio.engine.records import EvaluationReport
from dlstudio.engine.templates import TaskType
from dlstudio.ui.models import format_value

HTML_ROLE = Qt.ItemDataRole.UserRole + 1
TOWARDS, AGAINST = "#ffe082", "#bbdefb"
TOP_TOWARDS, TOP_AGAINST = 3, 2
TEXT_WIDTH = 520
MAX_TEXT_CHARS = 600
WRONG = "#c62828"
MAX_HEIGHT = 720


def describe(evaluation: EvaluationReport | None) -> str:
    """The sentence above the example rows: which rows they are, and what the colours mean."""
    examples = evaluation.examples if evaluation is not None else []
    if not examples:
        return "No example rows were stored with this evaluation."
    if evaluation is not None and evaluation.task is TaskType.REGRESSION:
        which = "The test rows the model predicted most closely, then those it missed most."
    elif any("correct" in e for e in examples):
        which = "A few test rows of each class, right and wrong, the most confident first."
    else:       # an evaluation.json from before issue 14: the first test rows
        which = "The first test rows."
    if not any(e.get("words") for e in examples):
        return which
    return (f"{which} In the text, <span style='background-color:{TOWARDS}'>highlighted</span> "
            "words pushed the model towards what it predicted, "
            f"<span style='background-color:{AGAINST}'>these</span> pushed against it (each "
            "word taken out in turn and the row scored again).")


def highlight(text: str, towards: list[str], against: list[str]) -> str:
    """`text` as HTML, its words in `towards` marked yellow and bold, those in `against` blue.
    Words match as the model reads them (lower case, punctuation stripped)."""
    marks = {**{w: AGAINST for w in against}, **{w: TOWARDS for w in towards}}
    out = []
    for chunk in re.split(r"(\s+)", text):
        key = "".join(tokens(chunk))
        colour = marks.get(key)
        escaped = html.escape(chunk)
        if colour and chunk.strip():
            weight = "font-weight:600;" if colour == TOWARDS else ""
            escaped = f'<span style="background-color:{colour};{weight}">{escaped}</span>'
        out.append(escaped)
    return "".join(out)


class _HtmlDelegate(QStyledItemDelegate):
    """Paints cells that carry HTML (in HTML_ROLE) as rich text, wrapped to the column."""

    def __init__(self, table: QTableWidget) -> None:
        super().__init__(table)
        self.table = table

    @staticmethod
    def _document(text: str, width: int) -> QTextDocument:
        doc = QTextDocument()
        doc.setDocumentMargin(4)
        doc.setHtml(text)
        doc.setTextWidth(max(40, width))
        return doc

    def paint(self, painter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        text = index.data(HTML_ROLE)
        if not text:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        doc = self._document(text, option.rect.width())
        painter.save()
        painter.translate(option.rect.topLeft())
        painter.setClipRect(0, 0, option.rect.width(), option.rect.height())
        doc.drawContents(painter)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        text = index.data(HTML_ROLE)
        if not text:
            return super().sizeHint(option, index)
        width = self.table.columnWidth(index.column())
        return QSize(width, math.ceil(self._document(text, width).size().height()))


class ExamplesTable(QTableWidget):
    """Some test rows, what the model said, and in text the words that drove it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 0, parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setItemDelegate(_HtmlDelegate(self))
        self.setWordWrap(True)
        self._examples: list[dict[str, Any]] = []
        self._evaluation: EvaluationReport | None = None
        self._threshold: float | None = None
        self._shown: list[dict[str, Any]] = []

    def set_examples(self, evaluation: EvaluationReport | None) -> None:
        self._evaluation = evaluation
        self._examples = list(evaluation.examples if evaluation is not None else [])
        self._threshold = evaluation.threshold if evaluation is not None else None
        self._fill()

    def set_threshold(self, threshold: float | None) -> None:
        """Two classes with a threshold: each row's prediction at this threshold."""
        self._threshold = threshold
        if [self._decide(e) for e in self._examples] != self._shown:    # else nothing changed
            self._fill()

    def shown(self) -> list[dict[str, Any]]:
        """What each row shows: "true", "predicted", "probability", "correct", "towards" /
        "against" {text column: [words highlighted]} and "drove" (the towards words with their
        effect on the probability of the prediction, as the "Words that drove it" cell)."""
        return [dict(r) for r in self._shown]

    # -- what a row says ----------------------------------------------------------------------
    def _binary(self) -> tuple[int, str, str] | None:
        """(index of the positive class, positive, negative) when the threshold decides."""
        ev = self._evaluation
        if ev is None or ev.task is not TaskType.BINARY or len(ev.classes) != 2 \
                or self._threshold is None:
            return None
        classes = [str(c) for c in ev.classes]
        positive = str(ev.positive_class or classes[1])
        return classes.index(positive), positive, next(c for c in classes if c != positive)

    def _decide(self, e: dict[str, Any]) -> dict[str, Any]:
        regression = e.get("probability") is None and not e.get("scores")
        predicted, probability = e.get("predicted"), e.get("probability")
        binary = self._binary()
        if binary is not None and not regression and self._threshold is not None:
            pos_index, positive, negative = binary
            scores = e.get("scores")
            if scores:
                p = float(scores[pos_index])
            else:       # an evaluation.json from before scores were kept with the examples
                p = float(probability)
                p = p if str(predicted) == positive else 1.0 - p
            predicted = positive if p >= self._threshold else negative
            probability = p if predicted == positive else 1.0 - p
        # Effects were measured on `words_for`'s output; with two classes the other class's
        # probability moves the opposite way.
        sign = 1.0 if str(e.get("words_for", e.get("predicted"))) == str(predicted) else -1.0
        towards, against, drove = {}, {}, []
        for column, words in (e.get("words") or {}).items():
            signed = [(str(w.get("word")), sign * float(w.get("effect") or 0.0)) for w in words]
            up = [(w, v) for w, v in sorted(signed, key=lambda p: -p[1]) if v > 0][:TOP_TOWARDS]
            towards[column] = [w for w, _ in up]
            against[column] = [w for w, v in sorted(signed, key=lambda p: p[1]) if v < 0][
                :TOP_AGAINST]
            drove += [f"{w} (+{v:.3f})" for w, v in up]
        return {"true": e.get("true"), "predicted": predicted, "probability": probability,
                "correct": None if regression else str(predicted) == str(e.get("true")),
                "towards": towards, "against": against, "drove": "; ".join(drove)}

    # -- the table ----------------------------------------------------------------------------
    def _fill(self) -> None:
        examples = self._examples
        self._shown = [self._decide(e) for e in examples]
        cols: list[str] = []
        for e in examples:
            for k in (e.get("row") or {}):
                if str(k) not in cols:
                    cols.append(str(k))
        texts = {str(c) for e in examples for c in (e.get("words") or {})}
        classification = any(s["correct"] is not None for s in self._shown)
        has_words = bool(texts)
        headers = ["True", "Predicted",
                   *(["Probability", "Result"] if classification else ["Error"]),
                   *(["Words that drove it"] if has_words else []), *cols]
        self.setColumnCount(len(headers))
        self.setHorizontalHeaderLabels(headers)
        self.setRowCount(len(examples))
        for r, (e, s) in enumerate(zip(examples, self._shown, strict=True)):
            if classification:
                p = s["probability"]
                extra = [None if p is None else f"{float(p):.3f}",
                         "right" if s["correct"] else "wrong"]
            else:
                try:
                    extra = [format_value(float(s["predicted"]) - float(s["true"]))]
                except (TypeError, ValueError):
                    extra = [None]
            values = [s["true"], s["predicted"], *extra, *([s["drove"]] if has_words else [])]
            row = e.get("row") or {}
            for c, v in enumerate(values):
                item = QTableWidgetItem(format_value(v))
                if s["correct"] is False and c in (1, 3):
                    item.setForeground(QBrush(QColor(WRONG)))
                self.setItem(r, c, item)
            for j, column in enumerate(cols):
                value = row.get(column)
                item = QTableWidgetItem(format_value(value))
                if column in texts and isinstance(value, str):
                    shown = value if len(value) <= MAX_TEXT_CHARS else \
                        value[:MAX_TEXT_CHARS] + " …"
                    item.setText(shown)
                    item.setData(HTML_ROLE, highlight(shown, s["towards"].get(column, []),
                                                      s["against"].get(column, [])))
                self.setItem(r, len(values) + j, item)
        self.resizeColumnsToContents()
        for c in range(self.columnCount()):
            if headers[c] in texts:
                self.setColumnWidth(c, TEXT_WIDTH)
            else:
                self.setColumnWidth(c, min(self.columnWidth(c), 220))
        self.resizeRowsToContents()
        self._fit_height()

    def _fit_height(self) -> None:
        """As tall as its rows (at most MAX_HEIGHT): no blank table under a few rows."""
        rows = sum(self.rowHeight(r) for r in range(self.rowCount()))
        chrome = self.horizontalHeader().height() + 2 * self.frameWidth() \
            + self.horizontalScrollBar().sizeHint().height()
        self.setFixedHeight(min(MAX_HEIGHT, rows + chrome))

    def cell_html(self, row: int, column: str) -> str:
        """The HTML a text cell shows (for tests and screenshots' captions)."""
        headers = [self.horizontalHeaderItem(c).text() for c in range(self.columnCount())]
        return str(self.item(row, headers.index(column)).data(HTML_ROLE) or "")
