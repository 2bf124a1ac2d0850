"""Step 1: start a new project, reopen one, or try a bundled sample."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
)

from dlstudio.ui.page import Page, heading, hint


@dataclass(frozen=True)
class Sample:
    name: str
    title: str
    description: str
    template: str
    target: str | None = None
    text_column: str | None = None


SAMPLES = {
    s.name: s
    for s in (
        Sample("credit", "Credit scoring",
               "4,454 loan applicants with their income, debts and whether they repaid.",
               "credit-scoring", target="Status"),
        Sample("reviews", "Product reviews",
               "5,000 food product reviews: great, or not.",
               "sentiment", target="sentiment", text_column="review"),
    )
}


class WelcomePage(Page):
    title = "Welcome"
    new_requested = Signal()
    open_requested = Signal()            # "Open project…" (the window asks for a folder)
    open_recent_requested = Signal(str)  # a project folder
    sample_requested = Signal(str)       # a sample name

    def __init__(self, state, parent=None) -> None:
        super().__init__(state, parent)
        self.new_button = QPushButton("New project from my data…")
        self.new_button.setObjectName("primary")
        self.open_button = QPushButton("Open a project…")
        self.new_button.clicked.connect(self.new_requested)
        self.open_button.clicked.connect(self.open_requested)
        start = QHBoxLayout()
        start.addWidget(self.new_button)
        start.addWidget(self.open_button)
        start.addStretch(1)

        samples = QGroupBox("Or try a sample")
        grid = QGridLayout(samples)
        self.sample_buttons: dict[str, QPushButton] = {}
        for i, s in enumerate(SAMPLES.values()):
            b = QPushButton(f"{s.title}\n{s.description}")
            b.setObjectName("sample")
            b.setMinimumHeight(56)
            b.clicked.connect(lambda _c=False, n=s.name: self.sample_requested.emit(n))
            self.sample_buttons[s.name] = b
            grid.addWidget(b, 0, i)

        recent = QGroupBox("Recent projects")
        self.recent = QListWidget()
        self.recent.itemActivated.connect(
            lambda item: self.open_recent_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        rl = QVBoxLayout(recent)
        rl.addWidget(self.recent)

        layout = QVBoxLayout(self)
        layout.addWidget(heading("Welcome to DL Studio"))
        layout.addWidget(hint("Turn a table or a pile of labelled texts into a model you can "
                              "deploy: load your data, pick a task, let DL Studio try network "
                              "designs, then export the best one. No coding needed."))
        layout.addSpacing(8)
        layout.addLayout(start)
        layout.addWidget(samples)
        layout.addWidget(recent, 1)

    def set_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        for p in paths:
            item = QListWidgetItem(f"{Path(p).name}    —    {p}")
            item.setData(Qt.ItemDataRole.UserRole, p)
            self.recent.addItem(item)
        if not paths:
            item = QListWidgetItem("No recent projects yet.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(item)
