"""The wizard page base class and the small widgets several pages share."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from dlstudio.engine.events import Failed
from dlstudio.ui import dialogs
from dlstudio.ui.state import WizardState


class Page(QWidget):
    """One step of the wizard.

    `is_complete()` says whether Next may be pressed; a page emits `complete_changed` when that
    may have changed. `on_enter()` runs each time the page is shown; `validate()` runs on Next
    and may refuse (after telling the user why).
    """

    complete_changed = Signal()
    title = ""

    def __init__(self, state: WizardState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.setObjectName(type(self).__name__)

    def is_complete(self) -> bool:
        return True

    def on_enter(self) -> None:
        pass

    def validate(self) -> bool:
        return True

    def busy(self) -> bool:
        """True while the page runs something that closing the window would interrupt."""
        return False

    def shutdown(self) -> None:
        """Stop whatever the page runs (the window is closing)."""

    def log_path(self) -> Path | None:
        return self.state.project.log_path if self.state.project is not None else None

    def show_failure(self, event: Failed) -> None:
        """A failure event: a plain warning for user errors, the internal-error dialog else."""
        message = event.message or "The task failed."
        if event.user_error:
            dialogs.warn(self, message)
        else:
            dialogs.internal_error(self, message, event.traceback, self.log_path())


def heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("heading")
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.4)
    font.setBold(True)
    label.setFont(font)
    return label


def hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("hint")
    label.setWordWrap(True)
    return label


def error_label() -> QLabel:
    label = QLabel()
    label.setObjectName("error")
    label.setWordWrap(True)
    label.setStyleSheet("color: #b71c1c;")
    label.hide()
    return label


def set_error(label: QLabel, text: str) -> None:
    label.setText(text)
    label.setVisible(bool(text))


class CollapsibleSection(QWidget):
    """A header button that shows or hides its content (for 'Advanced' options)."""

    def __init__(self, title: str, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.toggle = QToolButton(text=title, checkable=True, checked=False)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setAutoRaise(True)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.content = content
        content.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toggle)
        layout.addWidget(content)
        self.toggle.toggled.connect(self.set_expanded)

    def set_expanded(self, expanded: bool) -> None:
        self.toggle.setChecked(expanded)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self.content.setVisible(expanded)


class CopyableText(QWidget):
    """Read-only monospace text with a Copy button."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QPlainTextEdit(readOnly=True)
        self.edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.edit.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(self.copy)
        top = QHBoxLayout()
        label = QLabel(title)
        f = QFont(label.font())
        f.setBold(True)
        label.setFont(f)
        top.addWidget(label)
        top.addStretch(1)
        top.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.edit)

    def set_text(self, text: str) -> None:
        self.edit.setPlainText(text)

    def text(self) -> str:
        return self.edit.toPlainText()

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text())


