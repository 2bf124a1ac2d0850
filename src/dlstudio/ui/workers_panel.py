"""The Training page's table of workers in a distributed search: each worker, the network it is
training, and when it was last heard from. Hidden in a search with one process.

It reads the events that name a worker (trial_started, epoch_ended, trial_ended, worker_lost,
worker_ended); "last heard" is the time of the worker's last event, shown as seconds ago and
refreshed every second while the worker works. A worker that ended (worker_ended), and every
worker once the search has no more networks to hand out (the phases after it, its end), shows
that and when instead, and is no longer counted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dlstudio.engine import events as ev

COLUMNS = ("Worker", "Network", "Last heard")


@dataclass
class WorkerRow:
    name: str
    doing: str = "waiting for a network"
    heard: float = 0.0          # event time (time.time())
    lost: bool = False
    ended: str = ""             # "finished" or "stopped" once the worker is done; "" while it works


class WorkersPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: dict[str, WorkerRow] = {}
        self.numbers: dict[str, int] = {}      # trial id -> network number
        self.address = QLabel()
        self.address.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        # "finished at 12:34:56" on one line
        self.table.horizontalHeader().setSectionResizeMode(
            2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMaximumHeight(140)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.address)
        layout.addWidget(self.table)
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self.refresh)
        self.clear()

    def clear(self) -> None:
        self.rows.clear()
        self.numbers.clear()
        self.table.setRowCount(0)
        self.timer.stop()
        self.hide()

    def handle(self, event: ev.Event, replay: bool = False) -> None:
        match event:
            case ev.ChiefReady():
                self.address.setText(
                    f"Serving networks to workers at {event.host}:{event.port}. Another "
                    f"computer that sees the project folder joins with: dlstudio worker "
                    f"--chief THIS_COMPUTER:{event.port} \"{event.project}\"")
                self.show()
                if not replay:
                    self.timer.start()
            case ev.TrialStarted(worker=str(w)) if w:
                self.numbers[event.trial_id] = event.number
                self._row(w, event.time, f"network {event.number}: starting")
            case ev.EpochEnded(worker=str(w)) if w:
                n = self.numbers.get(event.trial_id, "?")
                self._row(w, event.time, f"network {n}: epoch {event.epoch} of "
                                         f"{event.max_epochs}")
            case ev.TrialEnded(worker=str(w)) if w:
                n = self.numbers.get(event.trial_id, "?")
                self._row(w, event.time, f"network {n} {event.status}; waiting for the next")
            case ev.WorkerLost():
                row = self._row(event.worker, None, f"silent for {event.silent_seconds:g} s; "
                                                    f"its network goes to another worker")
                row.lost = True
            case ev.WorkerEnded():
                if event.finished:
                    n = event.trials
                    row = self._row(event.worker, event.time,
                                    f"finished: trained {n} network{'s' if n != 1 else ''}")
                    row.ended = "finished"
                else:
                    row = self._row(event.worker, event.time, f"stopped: {event.message}")
                    row.ended = "stopped"
            case ev.PhaseStarted() | ev.SearchFinished() | ev.Failed():
                # The search hands out no more networks: a worker still listed is done.
                for row in self.rows.values():
                    if not row.ended and not row.lost:
                        row.ended, row.heard = "finished", event.time
                        row.doing = f"{row.doing.split(';')[0]}; no more networks to train"
                if isinstance(event, ev.SearchFinished | ev.Failed) or all(
                        r.ended for r in self.rows.values()):
                    self.timer.stop()
        self.refresh()

    def _row(self, name: str, heard: float | None, doing: str) -> WorkerRow:
        row = self.rows.setdefault(name, WorkerRow(name))
        row.doing = doing
        row.lost = False
        row.ended = ""
        if heard is not None:
            row.heard = heard
        return row

    def refresh(self) -> None:
        if not self.rows:
            return
        self.table.setRowCount(len(self.rows))
        now = time.time()
        for i, row in enumerate(sorted(self.rows.values(), key=lambda r: r.name)):
            ago = max(0.0, now - row.heard) if row.heard else None
            at = time.strftime("%H:%M:%S", time.localtime(row.heard)) if row.heard else ""
            if row.ended:
                heard = f"{row.ended} at {at}" if at else row.ended
            else:
                heard = "–" if ago is None else (f"{ago:.0f} s ago" if ago < 120 else at)
            for col, text in enumerate((row.name, row.doing, heard)):
                item = self.table.item(i, col)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(i, col, item)
                item.setText(text)
