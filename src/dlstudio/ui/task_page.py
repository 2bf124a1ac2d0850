"""Step 3: what to predict — a task template, the target column, the positive class."""

from __future__ import annotations

import pandas as pd
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


def class_values(series: pd.Series) -> list[str]:
    """The distinct target values as the text the engine receives, most frequent first."""
    return [str(v) for v in series.dropna().value_counts().index]


class TaskPage(Page):
    title = "Task"

    def __init__(self, state, parent=None) -> None:
        super().__init__(state, parent)
        self._updating = False
        self._error = "Choose a task."
        self._leak_job: Job | None = None
        self._leak_generation = 0

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
        return not self._error

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
        if t is None or df is None or target is None or t.task is not TaskType.BINARY:
            self.state.set_positive_class(None)
            return
        values = class_values(df[target])
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
        """New data: refill the column lists."""
        self._sync_from_state()

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
            values = (class_values(st.df[st.target])
                      if binary and st.df is not None and st.target in columns else [])
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
        if st.df is None:
            error = "Load your data first (step 'Data')."
        elif t is None:
            error = "Choose a task above."
        elif st.target is None:
            error = "Choose the column the model should predict."
        else:
            try:
                check_target(st.df, st.target, t.task)
            except UserError as exc:
                error = str(exc)
            if not error and t.modality == "text":
                if not st.text_column:
                    error = "Choose the column that holds the text."
                elif st.text_column == st.target:
                    error = "The text column and the column to predict must be different."
            if not error and t.task is not TaskType.REGRESSION:
                counts = st.df[st.target].dropna().astype(str).value_counts()
                shown = ", ".join(f"{k} ({v:,})" for k, v in counts.head(6).items())
                info = f"Classes: {shown}" + (" …" if len(counts) > 6 else "")
        self.class_info.setText(info)
        set_error(self.error, error)
        changed = error != self._error
        self._error = error
        if not error:
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
