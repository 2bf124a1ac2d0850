"""Step 5: run the search in a worker process and watch it live."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QElapsedTimer, QEventLoop, QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from dlstudio.engine import events as ev
from dlstudio.engine.errors import UserError
from dlstudio.engine.project import Project, Status
from dlstudio.ui import dialogs
from dlstudio.ui.models import LeaderboardModel
from dlstudio.ui.page import Page, heading
from dlstudio.ui.plots import epoch_marker, fit_y, make_plot, pen
from dlstudio.ui.settings_page import human_duration
from dlstudio.ui.workers_panel import WorkersPanel
from dlstudio.workers.bridge import WorkerBridge
from dlstudio.workers.process import WorkerTask

HEARTBEAT_MS = 10


def metric_label(name: str) -> str:
    return {"auc": "ROC AUC", "accuracy": "accuracy", "loss": "loss", "mae": "mean abs. error",
            "rmse": "RMSE"}.get(name, name.replace("_", " "))


def refit_status(networks: int, step: int, steps: int, final: bool = False) -> str:
    """The status line while the chosen network(s) train again before the evaluation, or
    (`final`) once more on every row after it."""
    if final:
        what = (f"the {networks} networks of the ensemble" if networks > 1
                else "the chosen network")
        return (f"Training {what} once more on all rows for the export: epoch {step} of "
                f"{steps}.")
    if networks > 1:
        return (f"Training the {networks} networks of the ensemble again on training + "
                f"validation rows: epoch {step} of {steps} (all {networks} together).")
    return (f"Training the best network again on training + validation rows: epoch {step} of "
            f"{steps}.")


class StallMeter:
    """A 10 ms heartbeat on the GUI thread; records the longest gap beyond its interval."""

    def __init__(self, parent: QWidget) -> None:
        self.timer = QTimer(parent)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(self._tick)
        self.max_stall_ms = 0.0
        self._last = 0.0

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def reset(self) -> None:
        self.max_stall_ms = 0.0
        self._last = time.perf_counter()

    def _tick(self) -> None:
        now = time.perf_counter()
        stall = (now - self._last) * 1000.0 - HEARTBEAT_MS
        self.max_stall_ms = max(self.max_stall_ms, stall)
        self._last = now


AFTER_SEARCH = {ev.Phase.ENSEMBLE: "checking averages", ev.Phase.REFIT: "training again",
                ev.Phase.EVALUATE: "testing", ev.Phase.EXPLAIN: "explaining",
                ev.Phase.FINAL: "training on all rows", ev.Phase.EXPORT: "exporting"}


class TrainingPage(Page):
    title = "Training"
    search_done = Signal(object)      # the final event of a search
    search_running = Signal(bool)

    def __init__(self, state, parent=None) -> None:
        super().__init__(state, parent)
        self._log_time: float | None = None     # set while replaying a saved event
        self._bridge: Any = None
        self._running = False
        self._stopping = False
        self._refit_networks = 1        # networks the refit trains again (PhaseStarted)
        self.objective = "val_loss"
        self.direction = "min"
        self.max_trials = 0
        self.max_epochs = 0
        self.time_limit: float | None = None
        self.current_trial: str | None = None
        self.trials_done = 0
        self.current_number = 0          # the network training now (1-based; 0: none yet)
        self.phase: str | None = None    # the step after the search now running (ev.Phase)
        self.epoch_seconds: list[float] = []
        self._last_epoch_time: float | None = None
        self._curves: dict[str, list[float]] = {}
        self._best_x: list[int] = []
        self._best_y: list[float] = []
        self._best: float | None = None
        self.clock = QElapsedTimer()
        self.stall = StallMeter(self)

        self.start_button = QPushButton("Start search")
        self.start_button.setObjectName("primary")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Ends the search after the current epoch; the best network "
                                    "so far is kept and evaluated.")
        self.stop_button.setEnabled(False)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.status = QLabel("Press Start to begin the search.")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setFormat("network %v of %m")
        self.progress.setValue(0)
        self.elapsed_label = QLabel("Elapsed: –")
        self.remaining_label = QLabel("Remaining: –")
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.elapsed_label)
        buttons.addWidget(self.remaining_label)

        self.loss_plot = make_plot("Loss of the current network", "loss", "epoch", legend=True,
                                   counts_on_x=True)
        self.train_loss = self.loss_plot.plot([], [], pen=pen(0), name="training",
                                              symbol="o", symbolSize=5)
        self.val_loss = self.loss_plot.plot([], [], pen=pen(1), name="validation",
                                            symbol="o", symbolSize=5)
        self.metric_plot = make_plot("Score of the current network", "", "epoch", legend=True,
                                     counts_on_x=True)
        self.train_metric = self.metric_plot.plot([], [], pen=pen(0), name="training",
                                                  symbol="o", symbolSize=5)
        self.val_metric = self.metric_plot.plot([], [], pen=pen(1), name="validation",
                                                symbol="o", symbolSize=5)
        # Where a finished network was kept (its checkpoint, the refit's epochs): not always the
        # last epoch, nor the peak of the accuracy curve.
        self.kept_lines = (epoch_marker(self.loss_plot), epoch_marker(self.metric_plot))
        self.best_plot = make_plot("Best score so far", "", "network", counts_on_x=True)
        self.best_curve = self.best_plot.plot([], [], pen=pen(2), symbol="o", symbolSize=7,
                                              symbolBrush="#2e7d32")
        self.scores_curve = self.best_plot.plot([], [], pen=None, symbol="x", symbolSize=7,
                                                symbolPen="#999999")
        plots = QWidget()
        grid = QGridLayout(plots)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.loss_plot, 0, 0)
        grid.addWidget(self.metric_plot, 0, 1)
        grid.addWidget(self.best_plot, 0, 2)

        self.leaderboard = LeaderboardModel(self)
        proxy = QSortFilterProxyModel(self)
        proxy.setSourceModel(self.leaderboard)
        proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.table = QTableView()
        self.table.setModel(proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText("Messages from the search appear here.")

        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.table)
        bottom.addWidget(self.log)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(plots)
        split.addWidget(bottom)

        layout = QVBoxLayout(self)
        layout.addWidget(heading("Training"))
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self.workers_panel = WorkersPanel(self)     # shown in a search with several workers
        layout.addWidget(self.workers_panel)
        layout.addWidget(split, 1)

        self.ticker = QTimer(self)
        self.ticker.setInterval(1000)
        self.ticker.timeout.connect(self._update_times)
        state.project_changed.connect(self._project_changed)
        self.clear()
        self._show_budget()

    # -- Page ---------------------------------------------------------------------------------
    def is_complete(self) -> bool:
        p = self.state.project
        return not self._running and p is not None and p.evaluation_path.is_file()

    def busy(self) -> bool:
        return self._running

    @property
    def max_stall_ms(self) -> float:
        """Longest GUI-thread stall seen by the heartbeat since the last search started (ms)."""
        return self.stall.max_stall_ms

    def on_enter(self) -> None:
        if not self._running and not self.leaderboard.rows:
            self._show_budget()
        self._update_buttons()

    def _show_budget(self) -> None:
        """Before a search: "network 0 of N", N the budget chosen on the Settings page (or the
        template's default), not QProgressBar's default maximum of 100."""
        st = self.state
        budget = st.settings.max_trials or (st.template.max_trials if st.template else 10)
        self.progress.setMaximum(max(1, budget))
        self.progress.setValue(0)

    def is_running(self) -> bool:
        return self._running

    # -- start / stop -------------------------------------------------------------------------
    def _task_and_payload(self) -> tuple[WorkerTask, dict] | None:
        st = self.state
        p = st.project
        if p is not None and Path(st.settings.project_dir or p.root).resolve() == p.root:
            if p.status in (Status.STOPPED, Status.SEARCHING, Status.FAILED) and p.has_split():
                return WorkerTask.RESUME, {"project": str(p.root)}
            if p.status is Status.FINISHED:
                dialogs.warn(self, "This project's search is finished. To search again with "
                                   "other settings, choose a new project folder on the "
                                   "Settings page.")
                return None
        if st.df is None or st.template is None:
            dialogs.warn(self, "Load your data and choose a task first.")
            return None
        try:
            cfg = st.run_config()
        except UserError as exc:
            dialogs.warn(self, str(exc))
            return None
        if not cfg.project:
            dialogs.warn(self, "Choose a project folder on the Settings page first.")
            return None
        return WorkerTask.RUN, cfg.to_dict()

    def _payload_with_workers(self, payload: dict) -> dict:
        workers = self.state.settings.workers
        return {**payload, "cluster": {"workers": workers}} if workers > 1 else payload

    def start(self) -> None:
        if self._running:
            return
        job = self._task_and_payload()
        if job is None:
            return
        task, payload = job
        payload = self._payload_with_workers(payload)
        if task is WorkerTask.RUN:
            self.clear()
        self._running = True
        self._stopping = False
        self.time_limit = payload.get("time_limit")
        self.clock.start()
        self.stall.reset()
        self.stall.start()
        self.ticker.start()
        if self._bridge is None:
            self._bridge = WorkerBridge(self)
            self._bridge.event.connect(self.handle_event)
            self._bridge.finished.connect(self._finished)
        self.scroll_log_to_end()
        self.append_log("Starting the search…" if task is WorkerTask.RUN
                        else "Resuming the search…")
        self.status.setText("Starting the worker (loading TensorFlow takes a few seconds)…")
        self._bridge.start(task, payload)
        self._update_buttons()
        self.search_running.emit(True)
        self.complete_changed.emit()

    def stop(self) -> None:
        if self._running and self._bridge is not None and not self._stopping:
            self._stopping = True
            self.status.setText("Stopping after the current epoch…")
            self.append_log("Stop requested; the search ends after the current epoch.")
            self._bridge.stop()
            self._update_buttons()

    def stop_and_wait(self, timeout_s: float = 30.0) -> None:
        """Stop gracefully and wait (processing events) until the worker is gone."""
        if self._bridge is None or not self._bridge.is_running():
            return
        self.stop()
        deadline = time.monotonic() + timeout_s
        loop = QEventLoop()
        while self._bridge.is_running() and time.monotonic() < deadline:
            loop.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.02)
        if self._bridge.is_running():
            self._bridge.kill()

    def shutdown(self) -> None:
        if self._bridge is not None and self._bridge.is_running():
            self._bridge.kill()
        self.stall.stop()
        self.ticker.stop()

    def _update_buttons(self) -> None:
        self.start_button.setEnabled(not self._running)
        self.stop_button.setEnabled(self._running and not self._stopping)
        p = self.state.project
        resumable = (p is not None and p.status in (Status.STOPPED, Status.SEARCHING, Status.FAILED)
                     and Path(self.state.settings.project_dir or p.root).resolve() == p.root)
        self.start_button.setText("Resume search" if resumable else "Start search")

    # -- events -------------------------------------------------------------------------------
    def clear(self) -> None:
        self.workers_panel.clear()
        self.leaderboard.clear()
        self.log.clear()
        self.trials_done = 0
        self.current_trial = None
        self.epoch_seconds = []
        self._best = None
        self._best_x, self._best_y = [], []
        self._scores_x: list[int] = []
        self._scores_y: list[float] = []
        self._reset_curves()
        self.best_curve.setData([], [])
        self.scores_curve.setData([], [])
        self.current_number = 0
        self.phase = None
        self.progress.setFormat("network %v of %m")
        self.progress.setValue(0)

    def _reset_curves(self) -> None:
        self._curves = {"loss": [], "val_loss": [], "metric": [], "val_metric": []}
        for c in (self.train_loss, self.val_loss, self.train_metric, self.val_metric):
            c.setData([], [])
        for line in self.kept_lines:
            line.hide()

    def append_log(self, text: str, when: float | None = None) -> None:
        """Add a line stamped with `when` (now by default); the view follows new lines unless
        the user scrolled up to read older ones."""
        when = self._log_time if when is None else when
        bar = self.log.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - 2
        self.log.appendPlainText(f"{time.strftime('%H:%M:%S', time.localtime(when))}  {text}")
        if follow:
            bar.setValue(bar.maximum())

    def scroll_log_to_end(self) -> None:
        self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())

    def handle_event(self, event: ev.Event, replay: bool = False) -> None:
        """Update the page from one event (live from the worker, or replayed from disk)."""
        # A replayed event's lines carry the time it happened, not the time it was replayed.
        self._log_time = event.time if replay else None
        self.workers_panel.handle(event, replay)
        match event:
            case ev.SearchStarted():
                self._search_started(event)
            case ev.TrialStarted():
                self._trial_started(event)
            case ev.EpochEnded():
                self._epoch(event, replay)
            case ev.TrialEnded():
                self._trial_ended(event)
            case ev.BestChanged():
                self.leaderboard.set_best(event.trial_id)
            case ev.PhaseStarted():
                self.phase = event.phase
                self._update_times()
                if event.phase in (ev.Phase.REFIT, ev.Phase.FINAL):
                    self._refit_networks = event.networks
                self.status.setText(event.message)
                self.append_log(event.message)
            case ev.PhaseProgress(phase=ev.Phase.ENSEMBLE):
                self.status.setText(f"Checking the average of the best networks: {event.step} "
                                    f"of {event.steps}.")
            case ev.PhaseProgress():
                self.status.setText(refit_status(self._refit_networks, event.step, event.steps,
                                                 final=event.phase == ev.Phase.FINAL))
            case ev.Log(level="warning" | "error"):
                self.append_log(f"{event.level.capitalize()}: {event.message}")
            case ev.Log():
                self.append_log(event.message)
            case ev.SearchFinished():
                why = ev.EndReason(event.reason).because
                score = "" if event.best_score is None else f" Best score: {event.best_score:.4f}."
                if event.best_score is not None and event.ensemble_size > 1:
                    score = (f" Best network: {event.best_score:.4f}; the model is the average "
                             f"of the best {event.ensemble_size}, which predicted the "
                             "validation rows better together.")
                self.append_log(f"Search finished ({why}) after {event.trials} networks.{score}")
                self.status.setText(f"Finished: {why}.{score} See the results on the next page.")
            case ev.Failed():
                self.append_log(f"The search failed: {event.message}")
                self.status.setText(f"The search failed: {event.message}")

    def _search_started(self, event: ev.SearchStarted) -> None:
        self.objective, self.direction = event.objective, event.direction
        self.max_trials, self.time_limit = event.max_trials, event.time_limit
        self.phase = None
        self.leaderboard.direction = event.direction
        self.progress.setMaximum(max(1, event.max_trials))
        name = metric_label(self.objective.removeprefix("val_"))
        self.metric_plot.setTitle(f"{name} of the current network", size="10pt")
        self.metric_plot.setLabel("left", name)
        self.best_plot.setTitle(f"Best validation {name} so far", size="10pt")
        verb = "Resumed" if event.completed_trials else "Started"
        on = f", training on {event.device}" if event.device else ""
        kept = ""
        if event.epochs_by:
            by = metric_label(event.epochs_by.removeprefix("val_")).lower()
            kept = f" (each network kept at the epoch of its lowest validation {by})"
        self.append_log(f"{verb} a search: up to {event.max_trials} networks, "
                        f"{event.tuner} tuner, optimising validation {name}{kept}{on}.")

    def _trial_started(self, event: ev.TrialStarted) -> None:
        self.current_trial = event.trial_id
        self.max_epochs = event.max_epochs
        self.max_trials = event.max_trials or self.max_trials
        self.current_number = event.number
        # The bar fills as networks finish: "network 8 of 8" at seven eighths while it trains.
        self.progress.setMaximum(max(1, self.max_trials))
        self.progress.setFormat(f"network {event.number} of %m")
        self.progress.setValue(min(event.number - 1, self.progress.maximum()))
        self._reset_curves()
        self._last_epoch_time = time.monotonic()
        self.leaderboard.trial_started(event.trial_id, event.number, event.hyperparameters)
        self.status.setText(f"Training network {event.number} of {event.max_trials}…")
        self.append_log(f"Network {event.number}: training.")

    def _epoch(self, event: ev.EpochEnded, replay: bool) -> None:
        if self.current_trial is not None and event.trial_id != self.current_trial:
            self.current_trial = event.trial_id
            self._reset_curves()
        logs = event.logs or {}
        metric = self.objective.removeprefix("val_")
        for key, src in (("loss", "loss"), ("val_loss", "val_loss"), ("metric", metric),
                         ("val_metric", f"val_{metric}")):
            value = logs.get(src)
            self._curves[key].append(float("nan") if value is None else float(value))
        xs = list(range(1, len(self._curves["loss"]) + 1))
        self.train_loss.setData(xs, self._curves["loss"], connect="finite")
        self.val_loss.setData(xs, self._curves["val_loss"], connect="finite")
        self.train_metric.setData(xs, self._curves["metric"], connect="finite")
        self.val_metric.setData(xs, self._curves["val_metric"], connect="finite")
        fit_y(self.loss_plot, (self.train_loss, self.val_loss))
        fit_y(self.metric_plot, (self.train_metric, self.val_metric))
        self.leaderboard.epoch(event.trial_id, event.epoch)
        if not replay:
            now = time.monotonic()
            if self._last_epoch_time is not None:
                self.epoch_seconds.append(now - self._last_epoch_time)
            self._last_epoch_time = now
            val = logs.get(self.objective)
            shown = "" if val is None else f", validation {metric_label(metric)} {val:.4f}"
            self.status.setText(f"Network {self.current_number} of {self.progress.maximum()}: "
                                f"epoch {event.epoch} of {event.max_epochs}{shown}.")

    def _trial_ended(self, event: ev.TrialEnded) -> None:
        self.trials_done += 1
        self.leaderboard.trial_ended(event.trial_id, event.status, event.score,
                                     event.hyperparameters, event.seconds)
        n = self.leaderboard.rows[self.leaderboard.find(event.trial_id)].number
        self.progress.setValue(min(n, self.progress.maximum()))
        if event.kept_epoch and event.trial_id == self.current_trial:
            for line in self.kept_lines:
                line.setValue(event.kept_epoch)
                line.show()
        if event.score is not None:
            better = (self._best is None
                      or (event.score > self._best if self.direction == "max"
                          else event.score < self._best))
            if better:
                self._best = event.score
            self._scores_x.append(n)
            self._scores_y.append(event.score)
        if self._best is not None:
            self._best_x.append(n)
            self._best_y.append(self._best)
        self.best_curve.setData(self._best_x, self._best_y)
        self.scores_curve.setData(self._scores_x, self._scores_y)
        fit_y(self.best_plot, (self.best_curve, self.scores_curve))
        score = "no score" if event.score is None else f"score {event.score:.4f}"
        extra = f" ({event.message})" if event.message else ""
        ran = f" {event.epochs_text()}" if event.epochs and event.score is not None else ""
        self.append_log(f"Network {n} {event.status}: {score}{ran}, {event.seconds:.1f} s{extra}.")

    def _finished(self, event: ev.Event) -> None:
        self._running = False
        self._stopping = False
        self.stall.stop()
        self.ticker.stop()
        self._update_times()
        match event:
            case ev.SearchFinished():
                try:
                    self.state.set_project(Project.open(event.project
                                                        or self.state.settings.project_dir))
                except UserError as exc:
                    dialogs.warn(self, str(exc))
            case ev.SearchFailed():
                if event.project and (Path(event.project) / "project.json").is_file():
                    with contextlib.suppress(UserError):
                        self.state.set_project(Project.open(event.project))
                self.show_failure(event)
        self._update_buttons()
        self.search_running.emit(False)
        self.complete_changed.emit()
        self.search_done.emit(event)

    def _update_times(self) -> None:
        if not self.clock.isValid():
            return
        elapsed = self.clock.elapsed() / 1000.0
        self.elapsed_label.setText(f"Elapsed: {human_duration(elapsed)}")
        if not self._running:
            self.remaining_label.setText("Remaining: –")
            return
        if self.phase is not None:      # the networks are tried: no estimate of what is left
            self.remaining_label.setText(f"Remaining: the search is done; now "
                                         f"{AFTER_SEARCH.get(self.phase, 'finishing')}")
            return
        remaining = None
        if self.epoch_seconds and self.max_epochs:
            per_epoch = sum(self.epoch_seconds[-20:]) / len(self.epoch_seconds[-20:])
            epochs_left = max(0, self.max_epochs - len(self._curves["loss"]))
            trials_left = max(0, self.max_trials - max(self.trials_done, 1))
            remaining = per_epoch * (epochs_left + trials_left * self.max_epochs)
        if self.time_limit:
            left = max(0.0, self.time_limit - elapsed)
            remaining = left if remaining is None else min(remaining, left)
        self.remaining_label.setText("Remaining: estimating…" if remaining is None
                                     else f"Remaining: at most {human_duration(remaining)}")

    # -- reopening a project ------------------------------------------------------------------
    def _project_changed(self) -> None:
        if not self._running:
            self._update_buttons()

    def load_history(self, project: Project) -> None:
        """Rebuild the leaderboard and curves from the project's events.jsonl."""
        self.clear()
        for d in project.read_events():
            try:
                event = ev.from_dict(d)
            except (KeyError, TypeError):
                continue
            if isinstance(event, ev.SearchStarted) and event.completed_trials == 0:
                self.clear()
            self.handle_event(event, replay=True)
        self._log_time = None
        self.scroll_log_to_end()
        self._update_buttons()
        self.complete_changed.emit()
