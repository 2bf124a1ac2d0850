"""Step 3: what to predict — a task template, the target column, the positive class."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QLabel,
    QRadioButton,
    QVBoxLayout,
)

from dlstudio.engine.data import check_target, guess_positive_class, guess_target, infer_schema
from dlstudio.engine.errors import UserError
from dlstudio.engine.schema import Role
from dlstudio.engine.templates import TEMPLATES, TaskType
from dlstudio.ui.jobs import Job
from dlstudio.ui.page import Page, error_label, heading, hint, set_error


class TemplateCard(QFrame):
    """A template's title (a radio button) and its one-sentence description."""

    def __init__(self, name: str) -> None:
        super().__init__()
        t = TEMPLATES[name]
        self.name = name
        self.setObjectName("card")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.button = QRadioButton(t.title)
        f = self.button.font()
        f.setBold(True)
        self.button.setFont(f)
        desc = QLabel(t.description)
        desc.setWordWrap(True)
        desc.setObjectName("hint")
        layout = QVBoxLayout(self)
        layout.addWidget(self.button)
        layout.addWidget(desc)

    def mousePressEvent(self, event) -> None:
        self.button.click()
        super().mousePressEvent(event)


MAX_VALUES = 1000     # distinct values a summary keeps (a class to detect is one of two)
SHOWN_CLASSES = 6     # classes named under the combo boxes


@dataclass(frozen=True)
class TargetSummary:
    """What the Task page shows of a target column for a task, computed on a pool thread
    (`summarise_target`) so that a million rows never stall the window (issue 9)."""

    error: str                        # check_target's refusal, in plain words; "" if none
    values: list[str]                 # distinct values as text, most frequent first
    classes: list[tuple[str, int]]    # the most frequent values as text, with their rows
    distinct: int                     # how many distinct values (as text, up to MAX_VALUES)


def summarise_target(df: pd.DataFrame, target: str, task: TaskType) -> TargetSummary:
    """Check `target` for `task` and count its values, in one pass over the column. Runs on a
    pool thread with the loaded frame itself (nothing is copied into Qt)."""
    try:
        check_target(df, target, task)
        error = ""
    except UserError as exc:
        error = str(exc)
    names = [str(c) for c in df.columns]
    if target not in names:
        return TargetSummary(error, [], [], 0)
    counts = df.iloc[:, names.index(target)].dropna().value_counts()   # most frequent first
    head = counts.iloc[:MAX_VALUES]
    values = [str(v) for v in head.index]
    # The engine reads the target as text: values that print alike (1 and "1") are one class.
    by_text: dict[str, int] = {}
    for text, n in zip(values, head.to_numpy().tolist(), strict=True):
        by_text[text] = by_text.get(text, 0) + int(n)
    classes = sorted(by_text.items(), key=lambda kv: -kv[1])
    distinct = len(by_text) if len(counts) <= MAX_VALUES else len(counts)
    return TargetSummary(error, list(dict.fromkeys(values)), classes[:SHOWN_CLASSES], distinct)


class TaskPage(Page):
    title = "Task"
    target_checked = Signal(str)    # the summary of the chosen target arrived and is shown

    def __init__(self, state, parent=None) -> None:
        super().__init__(state, parent)
        self._updating = False
        self._error = "Choose a task."
        self._checking = False          # the chosen target's summary is being computed
        self._leak_job: Job | None = None
        self._leak_generation = 0
        # Target summaries of the loaded frame, by (column, task); jobs computing one.
        self._summaries: dict[tuple[str, str], TargetSummary] = {}
        self._summary_jobs: dict[tuple[str, str], Job] = {}
        self._summary_frame: pd.DataFrame | None = None
        self._guess_pending = False     # guess the class to detect when the values arrive

        self.group = QButtonGroup(self)
        self.cards: dict[str, TemplateCard] = {}
        grid = QGridLayout()
        for i, name in enumerate(TEMPLATES):
            card = TemplateCard(name)
            self.cards[name] = card
            self.group.addButton(card.button)
            card.button.toggled.connect(lambda on, n=name: on and self._template_chosen(n))
            grid.addWidget(card, i // 2, i % 2)

        self.target_combo = QComboBox()
        self.target_combo.setMinimumContentsLength(20)
        self.positive_combo = QComboBox()
        self.text_combo = QComboBox()
        self.positive_label = QLabel("Class to detect:")
        self.positive_label.setToolTip("For credit scoring: the value meaning the applicant did "
                                       "not repay (for example 'bad').")
        self.text_label = QLabel("Column holding the text:")
        self.target_combo.currentIndexChanged.connect(self._target_chosen)
        self.positive_combo.currentIndexChanged.connect(self._positive_chosen)
        self.text_combo.currentIndexChanged.connect(self._text_chosen)

        form = QFormLayout()
        form.addRow("Column to predict:", self.target_combo)
        form.addRow(self.positive_label, self.positive_combo)
        form.addRow(self.text_label, self.text_combo)
        self.class_info = QLabel()
        self.class_info.setObjectName("hint")
        self.error = error_label()
        self.leak_warnings = QLabel()
        self.leak_warnings.setWordWrap(True)
        self.leak_warnings.setStyleSheet("color: #8a4b00;")

        layout = QVBoxLayout(self)
        layout.addWidget(heading("What should the model do?"))
        layout.addWidget(hint("Pick the kind of task that fits your data. Each one comes with "
                              "sensible settings; you can change them on the next page."))
        layout.addLayout(grid)
        layout.addSpacing(8)
        layout.addLayout(form)
        layout.addWidget(self.class_info)
        layout.addWidget(self.error)
        layout.addWidget(self.leak_warnings)
        layout.addStretch(1)

        state.data_changed.connect(self._refresh)
        state.task_changed.connect(self._sync_from_state)
        self._refresh()

    # -- Page ---------------------------------------------------------------------------------
    def is_complete(self) -> bool:
        return not self._error and not self._checking

    def checking(self) -> bool:
        """Whether the chosen target column is still being checked and counted off-thread."""
        return self._checking

    def on_enter(self) -> None:
        preset = self.state.preset
        wanted = preset.get("template")
        if self.state.template is None and wanted in self.cards:
            self.select_template(wanted)
        self._validate()

    def select_template(self, name: str) -> None:
        self.cards[name].button.click()

    # -- reacting to the user -----------------------------------------------------------------
    def _template_chosen(self, name: str) -> None:
        if self._updating:
            return
        self.state.set_template(name)
        t = TEMPLATES[name]
        df = self.state.df
        if df is not None:
            preset = self.state.preset
            columns = [str(c) for c in df.columns]
            target = preset.get("target") if preset.get("target") in columns else None
            target = target or guess_target(df, t.target_hints)
            if target is None and self.state.target in columns:
                target = self.state.target
            self.state.set_target(target)
            if t.modality == "text":
                text = preset.get("text_column")
                if text not in columns:
                    schema = self.state.schema
                    texts = schema.names(Role.TEXT) if schema else []
                    text = next((c for c in texts if c != target), None)
                self.state.set_text_column(text)
            else:
                self.state.set_text_column(None)
            self._guess_positive()
        self._sync_from_state()

    def _guess_positive(self) -> None:
        t, df, target = self.state.template, self.state.df, self.state.target
        self._guess_pending = False
        if t is None or df is None or target is None or t.task is not TaskType.BINARY:
            self.state.set_positive_class(None)
            return
        summary = self._summary(target, t.task)
        if summary is None:             # counted on a pool thread; guessed when it arrives
            self._guess_pending = True
            return
        values = summary.values
        wanted = self.state.preset.get("positive_class")
        if wanted not in values:
            wanted = guess_positive_class(values, t.positive_hints)
        if wanted is None and values:
            wanted = values[-1]   # the rarer class is usually the one to detect
        self.state.set_positive_class(wanted)

    def _target_chosen(self) -> None:
        if self._updating:
            return
        self.state.set_target(self.target_combo.currentData())
        self._guess_positive()
        self._sync_from_state()

    def _positive_chosen(self) -> None:
        if not self._updating:
            self.state.set_positive_class(self.positive_combo.currentData())

    def _text_chosen(self) -> None:
        if not self._updating:
            self.state.set_text_column(self.text_combo.currentData())
            self._validate()

    # -- showing the state --------------------------------------------------------------------
    def _refresh(self) -> None:
        """New data: forget the summaries of the previous table, refill the column lists."""
        self._summaries.clear()
        self._summary_jobs.clear()      # their results are for the previous frame: dropped
        self._summary_frame = self.state.df
        self._guess_pending = False
        self._sync_from_state()

    # -- the target's summary, off the GUI thread ---------------------------------------------
    def _summary(self, target: str, task: TaskType) -> TargetSummary | None:
        """The summary of `target` for `task` if it is computed; otherwise None, and a pool job
        computes it (the page shows it when it arrives)."""
        df = self.state.df
        if df is None:
            return None
        if df is not self._summary_frame:   # a new frame whose data_changed is still on its way
            self._summaries.clear()
            self._summary_jobs.clear()
            self._summary_frame = df
        key = (target, str(task))
        if key not in self._summaries and key not in self._summary_jobs:
            job = Job(summarise_target, df, target, task)
            job.signals.done.connect(lambda s, k=key, f=df: self._summarised(k, f, s))
            job.signals.failed.connect(lambda _e, _tb, k=key, f=df: self._summary_failed(k, f))
            self._summary_jobs[key] = job
            job.start()
        return self._summaries.get(key)

    def _summarised(self, key: tuple[str, str], df: pd.DataFrame, summary: TargetSummary) -> None:
        if df is not self.state.df or self._summary_jobs.get(key) is None:
            return      # a summary of a table that was replaced meanwhile
        del self._summary_jobs[key]
        self._summaries[key] = summary
        t, target = self.state.template, self.state.target
        if t is None or key != (target, str(t.task)):
            return      # the user moved on to another column or task
        if self._guess_pending:
            self._guess_positive()
        self._sync_from_state()
        self.target_checked.emit(key[0])

    def _summary_failed(self, key: tuple[str, str], df: pd.DataFrame) -> None:
        if df is not self.state.df or self._summary_jobs.pop(key, None) is None:
            return
        # An unexpected failure: show it as the target's problem rather than wait forever.
        self._summaries[key] = TargetSummary(
            f"The column '{key[0]}' could not be read as a column to predict.", [], [], 0)
        self._sync_from_state()
        self.target_checked.emit(key[0])

    def _sync_from_state(self) -> None:
        if self._updating:
            return
        self._updating = True
        try:
            st = self.state
            t = st.template
            for name, card in self.cards.items():
                card.button.setChecked(t is not None and t.name == name)
            columns = [str(c) for c in st.df.columns] if st.df is not None else []
            self._fill(self.target_combo, columns, st.target, "(choose a column)")
            binary = t is not None and t.task is TaskType.BINARY
            self.positive_combo.setVisible(binary)
            self.positive_label.setVisible(binary)
            summary = (self._summary(st.target, t.task)
                       if binary and st.df is not None and st.target in columns else None)
            values = summary.values if summary is not None else []
            self._fill(self.positive_combo, values, st.positive_class, None)
            text = t is not None and t.modality == "text"
            self.text_combo.setVisible(text)
            self.text_label.setVisible(text)
            self._fill(self.text_combo, [c for c in columns if c != st.target], st.text_column,
                       "(choose a column)")
        finally:
            self._updating = False
        self._validate()

    @staticmethod
    def _fill(combo: QComboBox, values: list[str], current: str | None,
              placeholder: str | None) -> None:
        combo.blockSignals(True)
        combo.clear()
        if placeholder is not None:
            combo.addItem(placeholder, None)
        for v in values:
            combo.addItem(v, v)
        i = combo.findData(current) if current is not None else -1
        combo.setCurrentIndex(max(i, 0))
        combo.blockSignals(False)

    def _validate(self) -> None:
        st = self.state
        t = st.template
        error = ""
        info = ""
        checking = False
        if st.df is None:
            error = "Load your data first (step 'Data')."
        elif t is None:
            error = "Choose a task above."
        elif st.target is None:
            error = "Choose the column the model should predict."
        elif (summary := self._summary(st.target, t.task)) is None:
            checking = True
            info = f"Counting the values of '{st.target}'…"
        else:
            error = summary.error
            if not error and t.modality == "text":
                if not st.text_column:
                    error = "Choose the column that holds the text."
                elif st.text_column == st.target:
                    error = "The text column and the column to predict must be different."
            if not error and t.task is not TaskType.REGRESSION:
                shown = ", ".join(f"{k} ({v:,})" for k, v in summary.classes)
                info = f"Classes: {shown}" + (" …" if summary.distinct > SHOWN_CLASSES else "")
        self.class_info.setText(info)
        set_error(self.error, error)
        changed = error != self._error or checking != self._checking
        self._error = error
        self._checking = checking
        if not error and not checking:
            self._check_leakage()
        else:
            self.leak_warnings.setText("")
        if changed:
            self.complete_changed.emit()

    def _check_leakage(self) -> None:
        """Ask the engine for warnings that need the target (suspected leakage), off-thread."""
        st = self.state
        if st.df is None or st.target is None:
            return
        self._leak_generation += 1
        generation = self._leak_generation
        df, target = st.df, st.target
        text = st.text_column if st.template and st.template.modality == "text" else None
        job = Job(lambda: infer_schema(df, target=target, text_column=text))

        def done(schema) -> None:
            if generation == self._leak_generation:
                self._leak_job = None
                base = set(st.base_schema.warnings) if st.base_schema else set()
                extra = [w for w in schema.warnings if w not in base]
                self.leak_warnings.setText("\n".join(f"⚠ {w}" for w in extra))

        def failed(_exc, _tb) -> None:
            if generation == self._leak_generation:
                self._leak_job = None

        job.signals.done.connect(done)
        job.signals.failed.connect(failed)
        self._leak_job = job
        job.start()
