"""Step 4: how long to search, how, and where to keep the project."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from dlstudio.engine.cluster import DISTRIBUTED_TUNERS
from dlstudio.engine.events import Event, Failed, TaskFinished
from dlstudio.engine.project import Project
from dlstudio.ui.page import (
    CollapsibleSection,
    Page,
    error_label,
    heading,
    hint,
    set_error,
)
from dlstudio.workers.bridge import WorkerBridge
from dlstudio.workers.process import WorkerTask

TUNER_LABELS = {
    "bayesian": "Bayesian optimisation (recommended)",
    "hyperband": "Hyperband (tries many models briefly, continues the best)",
    "random": "Random search",
}
UNITS = (16, 32, 64, 128, 256, 512)
REMOTE_WORKERS_HINT = (
    "Other computers can help: when the search has started, the Training page shows its "
    "address. On a computer that sees the project folder (a shared folder) and has DL Studio, "
    "run: dlstudio worker --chief ADDRESS PROJECT_FOLDER. To let other computers in, the "
    "search must listen on the network: start it from a terminal with dlstudio run ... "
    "--workers N --host 0.0.0.0 --port 8765, and open that port in the firewall. "
    "See the README, \"Workers on other machines\".")


def human_duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} seconds"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


def estimate_seconds(rows: int, features: int, text: bool, trials: int, epochs: int,
                     gpu: bool) -> float:
    """A rough guess of the search time: per-epoch cost grows with rows and columns."""
    return trials * network_seconds(rows, features, text, epochs, gpu)


def network_seconds(rows: int, features: int, text: bool, epochs: int, gpu: bool) -> float:
    """A rough guess of one network's training time, all epochs."""
    train_rows = 0.7 * rows
    per_row = 2e-4 if text else 1.5e-5 * (1 + features / 40)
    per_epoch = 0.3 + train_rows * per_row / (3 if gpu else 1)
    return 4.0 + epochs * per_epoch


def after_search_seconds(rows: int, features: int, text: bool, epochs: int, gpu: bool,
                         final_fit: bool) -> float:
    """A rough guess of the work after the search: the chosen networks (two, say: an average
    often wins) trained again, then the test with the word importance of text (about 0.1 s
    per test row on two cores: 102-143 s for the 1,000 test reviews of the sample), then the
    final training on every row. Every epoch counted, as in `estimate_seconds`: an upper guess.
    On the reviews sample under Xvfb this part took 5-6 minutes for an ensemble of 4 on a busy
    machine, 1.3 minutes for one network on a quiet one (estimated: 5)."""
    network = network_seconds(rows, features, text, epochs, gpu)
    explain = 0.1 * 0.2 * rows if text else 10.0
    return 2 * network + explain + (2 * 1.25 * network if final_fit else 0.0)


def default_project_dir(data_path: str | None, template: str | None) -> str:
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    root = Path(docs or Path.home()) / "DL Studio"
    stem = Path(data_path).stem if data_path else "project"
    base = re.sub(r"[^\w\-]+", "-", f"{stem}-{template or 'model'}").strip("-") or "project"
    candidate = root / base
    n = 2
    while candidate.exists() and any(candidate.iterdir()):
        candidate = root / f"{base}-{n}"
        n += 1
    return str(candidate)


class SettingsPage(Page):
    title = "Settings"
    probe_done = Signal(object)   # the probe's final event

    def __init__(self, state, parent=None, *, auto_probe: bool = True) -> None:
        super().__init__(state, parent)
        self.auto_probe = auto_probe
        self._probe = None
        self._probe_started = False
        self.gpus: list[str] | None = None
        self._template_seen: str | None = None
        self._search_running = False    # TrainingPage.search_running: the fields are locked

        self.trials = QSpinBox(minimum=1, maximum=1000)
        self.trials.setToolTip("How many different networks to try.")
        self.epochs = QSpinBox(minimum=1, maximum=1000)
        self.epochs.setToolTip("The most passes over the training data for one network; a "
                               "network stops earlier when it stops improving.")
        self.use_time_limit = QCheckBox("Stop after")
        self.minutes = QSpinBox(minimum=1, maximum=7 * 24 * 60, suffix=" minutes")
        self.minutes.setValue(30)
        self.minutes.setEnabled(False)
        self.use_time_limit.toggled.connect(self.minutes.setEnabled)
        limit_row = QHBoxLayout()
        limit_row.addWidget(self.use_time_limit)
        limit_row.addWidget(self.minutes)
        limit_row.addStretch(1)
        self.estimate = QLabel()
        self.estimate.setObjectName("hint")
        self.estimate.setWordWrap(True)        # two sentences: the search, then what follows

        self.tuner = QComboBox()
        for key, label in TUNER_LABELS.items():
            self.tuner.addItem(label, key)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1)
        self.seed.setToolTip("The same seed with the same data gives the same split and, "
                             "as far as possible, the same results.")
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("A new or empty folder")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self.choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)

        budget = QGroupBox("Budget")
        self.budget_box = budget
        bf = QFormLayout(budget)
        bf.addRow("Networks to try:", self.trials)
        bf.addRow("Epochs per network (at most):", self.epochs)
        bf.addRow("Time limit:", limit_row)
        bf.addRow(self.estimate)        # across the form: a wrapped label in the field column
                                        # reserves a line too many (a gap above it)

        self.workers = QSpinBox(minimum=1, maximum=64)
        self.workers.setToolTip("Networks trained at the same time on this computer, each in its "
                                "own process. More than the number of processor cores (or GPUs) "
                                "does not go faster.")
        self.workers_hint = hint(REMOTE_WORKERS_HINT)
        self.workers_hint.setWordWrap(True)
        self.workers_hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.final_fit = QCheckBox("After the test, train once more on all rows for the export")
        self.final_fit.setToolTip(
            "The chosen network is measured on test rows it has never seen. Then, with the same "
            "settings, it is trained once more on every row, test rows included, and that is "
            "the model you export: more rows usually make a slightly better model. The test "
            "figures remain those measured before.")

        search = QGroupBox("Search")
        self.search_box = search
        sf = QFormLayout(search)
        sf.addRow("Search method:", self.tuner)
        sf.addRow("Random seed:", self.seed)
        sf.addRow("Project folder:", folder_row)
        sf.addRow("Workers on this machine:", self.workers)
        sf.addRow("", self.workers_hint)
        sf.addRow("", self.final_fit)

        # Advanced: narrow the search space.
        self.custom_space = QGroupBox("Limit the search space")
        self.custom_space.setCheckable(True)
        self.custom_space.setChecked(False)
        self.max_layers = QSpinBox(minimum=1, maximum=5)
        self.max_layers.setValue(3)
        self.max_units = QComboBox()
        for u in UNITS:
            self.max_units.addItem(str(u), u)
        self.max_units.setCurrentIndex(UNITS.index(256))
        self.max_dropout = QDoubleSpinBox(minimum=0.0, maximum=0.9, singleStep=0.05, decimals=2)
        self.max_dropout.setValue(0.5)
        self.arch_bag = QCheckBox("Bag of words (fast)")
        self.arch_cnn = QCheckBox("Convolutional (reads word order)")
        self.arch_rnn = QCheckBox("Recurrent (bidirectional LSTM/GRU, slow on a CPU)")
        self.arch_bag.setChecked(True)
        self.arch_cnn.setChecked(True)
        arch_row = QHBoxLayout()
        arch_row.addWidget(self.arch_bag)
        arch_row.addWidget(self.arch_cnn)
        arch_row.addWidget(self.arch_rnn)
        arch_row.addStretch(1)
        self.arch_widget = QWidget()
        self.arch_widget.setLayout(arch_row)
        af = QFormLayout(self.custom_space)
        af.addRow("Hidden layers (at most):", self.max_layers)
        af.addRow("Units per layer (at most):", self.max_units)
        af.addRow("Dropout (at most):", self.max_dropout)
        af.addRow("Text networks:", self.arch_widget)
        self.advanced = CollapsibleSection("Advanced", self.custom_space)

        self.gpu_label = QLabel("Hardware: not checked yet.")
        self.error = error_label()
        self.locked_note = hint("A search is running: its settings cannot change until it "
                                "ends (Stop on the Training page ends it).")
        self.locked_note.hide()

        layout = QVBoxLayout(self)
        layout.addWidget(heading("How long should DL Studio search?"))
        layout.addWidget(hint("DL Studio trains several networks and keeps the best. More "
                              "networks and epochs usually give a better model, but take longer."))
        layout.addWidget(self.locked_note)
        layout.addWidget(budget)
        layout.addWidget(search)
        layout.addWidget(self.advanced)
        layout.addWidget(self.gpu_label)
        layout.addWidget(self.error)
        layout.addStretch(1)

        for w in (self.trials, self.epochs, self.minutes, self.seed, self.max_layers,
                  self.workers):
            w.valueChanged.connect(self._changed)
        self.max_dropout.valueChanged.connect(self._changed)
        for w in (self.tuner, self.max_units):
            w.currentIndexChanged.connect(self._changed)
        for w in (self.use_time_limit, self.custom_space, self.arch_bag, self.arch_cnn,
                  self.arch_rnn, self.final_fit):
            w.toggled.connect(self._changed)
        self.folder.textChanged.connect(self._changed)
        state.project_changed.connect(self._load_from_state)

    # -- Page ---------------------------------------------------------------------------------
    def on_enter(self) -> None:
        st = self.state
        t = st.template
        name = t.name if t else None
        if name != self._template_seen:
            # A new template: take its defaults unless the user set values for this project.
            self._template_seen = name
            self._apply_settings(reset=st.project is None)
        if not self.folder.text().strip():
            self.folder.setText(default_project_dir(st.data_path, name))
        text = t is not None and t.modality == "text"
        self.arch_widget.setEnabled(text)
        if self.auto_probe and not self._probe_started:
            self.start_probe()
        self._changed()

    def is_complete(self) -> bool:
        return not self._folder_error() and not self._workers_error()

    def _workers_error(self) -> str:
        s = self.state.settings
        if s.workers > 1 and s.tuner not in DISTRIBUTED_TUNERS:
            return ("Several workers work with the Bayesian and Random search methods; choose "
                    "one of them, or one worker.")
        return ""

    def set_search_running(self, running: bool) -> None:
        """Lock the fields while a search runs (TrainingPage.search_running); unlocked when it
        ends, however it ends. A disabled group keeps its children's own states (the minutes
        without a time limit, the text networks of a table task) for when it is enabled."""
        self._search_running = running
        for box in (self.budget_box, self.search_box, self.custom_space):
            box.setEnabled(not running)
        self.locked_note.setVisible(running)
        self._changed()     # the folder now holds the running search's project: not an error

    def busy(self) -> bool:
        return self._probe is not None and self._probe.is_running()

    def shutdown(self) -> None:
        if self._probe is not None and self._probe.is_running():
            self._probe.kill()

    # -- values -------------------------------------------------------------------------------
    def _apply_settings(self, reset: bool) -> None:
        s, t = self.state.settings, self.state.template
        widgets = (self.trials, self.epochs, self.minutes, self.seed, self.tuner, self.folder,
                   self.use_time_limit, self.custom_space, self.max_layers, self.max_units,
                   self.max_dropout, self.arch_bag, self.arch_cnn, self.arch_rnn, self.workers,
                   self.final_fit)
        for w in widgets:
            w.blockSignals(True)
        try:
            trials = None if reset else s.max_trials
            epochs = None if reset else s.max_epochs
            self.trials.setValue(trials or (t.max_trials if t else 10))
            self.epochs.setValue(epochs or (t.max_epochs if t else 30))
            self.use_time_limit.setChecked(s.time_limit is not None)
            self.minutes.setEnabled(s.time_limit is not None)
            if s.time_limit:
                self.minutes.setValue(max(1, round(s.time_limit / 60)))
            self.tuner.setCurrentIndex(max(0, self.tuner.findData(s.tuner)))
            self.seed.setValue(s.seed)
            self.workers.setValue(s.workers)
            self.final_fit.setChecked(s.final_fit)
            if s.project_dir:
                self.folder.setText(s.project_dir)
            space = s.search_space
            self.custom_space.setChecked(bool(space))
            if "max_layers" in space:
                self.max_layers.setValue(int(space["max_layers"]))
            if "max_units" in space:
                i = self.max_units.findData(int(space["max_units"]))
                if i >= 0:
                    self.max_units.setCurrentIndex(i)
            if "max_dropout" in space:
                self.max_dropout.setValue(float(space["max_dropout"]))
            if "text_architectures" in space:
                archs = set(space["text_architectures"])
                self.arch_bag.setChecked("bag" in archs)
                self.arch_cnn.setChecked("cnn" in archs)
                self.arch_rnn.setChecked("rnn" in archs)
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._changed()

    def _load_from_state(self) -> None:
        """An opened project: show its settings."""
        if self.state.project is not None:
            self._template_seen = self.state.template.name if self.state.template else None
            self._apply_settings(reset=False)

    def search_space(self) -> dict:
        if not self.custom_space.isChecked():
            return {}
        space: dict = {"max_layers": self.max_layers.value(),
                       "max_units": self.max_units.currentData(),
                       "max_dropout": round(self.max_dropout.value(), 3)}
        t = self.state.template
        if t is not None and t.modality == "text":
            archs = [a for a, box in (("bag", self.arch_bag), ("cnn", self.arch_cnn),
                                      ("rnn", self.arch_rnn)) if box.isChecked()]
            space["text_architectures"] = archs or ["bag"]
        return space

    def _changed(self) -> None:
        s = self.state.settings
        s.max_trials = self.trials.value()
        s.max_epochs = self.epochs.value()
        s.time_limit = self.minutes.value() * 60.0 if self.use_time_limit.isChecked() else None
        s.tuner = self.tuner.currentData()
        s.seed = self.seed.value()
        s.project_dir = self.folder.text().strip()
        s.search_space = self.search_space()
        s.workers = self.workers.value()
        s.final_fit = self.final_fit.isChecked()
        self.workers_hint.setVisible(s.workers > 1)
        self._update_estimate()
        set_error(self.error, self._folder_error() or self._workers_error())
        self.complete_changed.emit()

    def _update_estimate(self) -> None:
        st = self.state
        rows = len(st.df) if st.df is not None else 0
        schema = st.schema
        features = len(schema.features) if schema else 10
        text = st.template is not None and st.template.modality == "text"
        secs = estimate_seconds(rows, features, text, self.trials.value(), self.epochs.value(),
                                bool(self.gpus))
        capped = ""
        if self.use_time_limit.isChecked() and secs > self.minutes.value() * 60:
            secs = self.minutes.value() * 60
            capped = ", the time limit ends it"
        after = after_search_seconds(rows, features, text, self.epochs.value(), bool(self.gpus),
                                     self.final_fit.isChecked())
        steps = "test the best networks, explain them and train them once more on all rows" \
            if self.final_fit.isChecked() else "test the best networks and explain them"
        self.estimate.setText(
            f"Rough estimate: about {human_duration(secs)} for the search{capped}; then about "
            f"{human_duration(after)} to {steps}. Networks that stop improving end early, so "
            "it is often shorter.")

    def _folder_error(self) -> str:
        text = self.folder.text().strip()
        if not text:
            return "Choose a folder for the project."
        p = Path(text).expanduser()
        opened = self.state.project
        if self._search_running or (opened is not None and p.resolve() == opened.root):
            return ""
        return Project.folder_problem(p) or ""

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose an empty folder for the project")
        if path:
            self.folder.setText(path)

    # -- GPU probe (in a child process: the GUI never imports TensorFlow) ----------------------
    def start_probe(self) -> None:
        self._probe_started = True
        self._probe = WorkerBridge(self)
        self._probe.finished.connect(self._probe_finished)
        self.gpu_label.setText("Hardware: looking for a GPU…")
        self._probe.start(WorkerTask.PROBE, {})

    def probing(self) -> bool:
        return self._probe is not None and self._probe.is_running()

    def _probe_finished(self, event: Event) -> None:
        if isinstance(event, TaskFinished):
            result = event.result
            self.gpus = list(result.get("gpus") or [])
            tf = result.get("tensorflow", "?")
            if self.gpus:
                self.gpu_label.setText(f"Hardware: GPU found — {', '.join(self.gpus)} "
                                       f"(TensorFlow {tf}). Training will use it.")
            else:
                self.gpu_label.setText(f"Hardware: no GPU found; training runs on the processor "
                                       f"(TensorFlow {tf}). That is fine for small tables.")
        elif isinstance(event, Failed):
            self.gpus = []
            msg = event.message or "unknown reason"
            self.gpu_label.setText(f"Hardware: could not check for a GPU ({msg}).")
        self._update_estimate()
        self.probe_done.emit(event)
