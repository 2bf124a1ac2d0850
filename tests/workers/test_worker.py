"""The worker process: live events, graceful stop, crash isolation, resume, and the Qt bridge."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from dlstudio.engine.config import RunConfig
from dlstudio.engine.project import Project, Status
from dlstudio.workers.process import WorkerProcess
from studio_data import credit_frame


@pytest.fixture
def big_credit_csv(tmp_path: Path) -> Path:
    # Large enough that one epoch takes a noticeable time (a few tenths of a second), so a
    # test can act mid-trial; small enough that the searches stay short.
    path = tmp_path / "credit.csv"
    credit_frame(6_000, seed=2).to_csv(path, index=False)
    return path


def _config(data: Path, project: Path, **kw) -> dict:
    kw.setdefault("max_trials", 2)
    kw.setdefault("max_epochs", 3)
    return RunConfig(data=str(data), template="credit-scoring", project=str(project), seed=3,
                     **kw).to_dict()


def _collect(worker: WorkerProcess, until=None, timeout: float = 300) -> list:
    """Events until the final one, or until `until(event)` is true."""
    events = []
    deadline = time.monotonic() + timeout
    while not worker.done and time.monotonic() < deadline:
        for event in worker.poll(timeout=0.2):
            events.append(event)
            if until is not None and until(event):
                return events
    assert worker.done or until is not None, "worker timed out"
    return events


def _assert_trials_in_order(events: list) -> None:
    """Epochs count up within each trial, between its trial_started and trial_ended."""
    current, last_epoch = None, 0
    for e in events:
        if e.type == "trial_started":
            current, last_epoch = e.trial_id, 0
        elif e.type == "epoch_ended":
            assert e.trial_id == current and e.epoch == last_epoch + 1, e
            last_epoch = e.epoch
        elif e.type == "trial_ended":
            assert e.trial_id == current and e.epochs == last_epoch, e


def test_stop_ends_after_the_current_epoch_and_the_project_reopens(tmp_path, big_credit_csv):
    project = tmp_path / "p"
    worker = WorkerProcess("run", _config(big_credit_csv, project, max_trials=5, max_epochs=30))
    worker.start()
    _collect(worker, until=lambda e: e.type == "epoch_ended")
    asked = time.monotonic()
    worker.request_stop()
    after = _collect(worker)
    took = time.monotonic() - asked
    final = after[-1]
    assert final.type == "search_finished" and final.reason == "stopped", final
    assert sum(e.type == "epoch_ended" for e in after) <= 1    # at most the epoch in flight
    assert took < 60, f"stop took {took:.1f} s"
    reopened = Project.open(project)
    assert reopened.status is Status.STOPPED
    assert reopened.best_model_path.is_file() and reopened.evaluation_path.is_file()
    assert final.trials < 5
    # Stopped: no final training on every row; an export writes the model that was tested.
    assert not reopened.final_model_path.exists()
    assert reopened.export_model_path == reopened.best_model_path


def test_events_stream_live_and_a_killed_worker_resumes_to_its_budget(tmp_path, big_credit_csv):
    """One search checks the live event stream and recovery from a kill: its events arrive in
    order while it runs; killed mid-trial it reports a plain failure; resumed, it streams the
    rest in order and completes every trial exactly once."""
    project = tmp_path / "p"
    worker = WorkerProcess("run", _config(big_credit_csv, project, max_trials=3, max_epochs=4,
                                          final_fit=False))
    worker.start()
    events = _collect(worker, until=lambda e: e.type == "epoch_ended")
    assert worker.running, "the first epoch must arrive while the search is still running"
    types = [e.type for e in events]
    assert types.index("search_started") < types.index("trial_started") < types.index(
        "epoch_ended")
    events += _collect(worker, until=lambda e: e.type == "epoch_ended" and e.trial_id == "1")
    assert [e.trial_id for e in events if e.type == "trial_ended"] == ["0"]
    _assert_trials_in_order(events)
    os.kill(worker.pid, signal.SIGKILL)                 # mid-trial, as the OOM killer would
    killed_at = time.monotonic()
    events = _collect(worker, timeout=30)
    assert time.monotonic() - killed_at < 10
    final = events[-1]
    assert final.type == "search_failed" and "killed" in final.message
    assert not worker.running
    json.loads((project / "project.json").read_text())  # intact, not half-written

    resumed = WorkerProcess("resume", {"project": str(project)})
    resumed.start()
    events = _collect(resumed)
    assert events[-1].type == "search_finished", events[-1]
    assert resumed.final is events[-1] and not resumed.running
    started = next(e for e in events if e.type == "search_started")
    assert started.completed_trials == 1
    assert events[-1].trials == 3
    assert [e.trial_id for e in events if e.type == "trial_ended"] == ["1", "2"]
    _assert_trials_in_order(events)
    # every trial completed exactly once across both runs (trial 1 was re-run, not duplicated)
    logged = [json.loads(x) for x in (project / "events.jsonl").read_text().splitlines()]
    completed = [e["trial_id"] for e in logged
                 if e["type"] == "trial_ended" and e["status"] == "completed"]
    assert sorted(completed) == ["0", "1", "2"]
    assert Project.open(project).status is Status.FINISHED
    # Turned off (and kept through the resume): the tested model is the export's.
    assert "final" not in {e.phase for e in events if e.type == "phase_started"}
    assert not Project.open(project).final_model_path.exists()
    assert Project.open(project).read_evaluation().final_fit_rows is None


def test_a_failure_in_the_child_is_a_plain_message_not_a_hang(tmp_path):
    (tmp_path / "broken.csv").write_bytes(b"\x00\x01\x02garbage\xff" * 50)
    worker = WorkerProcess("run", _config(tmp_path / "broken.csv", tmp_path / "p"))
    worker.start()
    final = _collect(worker, timeout=60)[-1]
    assert final.type == "search_failed" and final.user_error
    assert "broken.csv" in final.message and "Traceback" not in final.message


def test_bridge_delivers_signals_on_the_gui_thread(qtbot, tmp_path, credit_csv):
    from PySide6.QtCore import QCoreApplication, QThread

    from dlstudio.workers.bridge import WorkerBridge

    bridge = WorkerBridge(grace_seconds=30)
    threads, seen = set(), []

    def on_event(event) -> None:
        threads.add(QThread.currentThread())
        seen.append(event.type)
        if event.type == "epoch_ended" and "stop" not in seen:
            seen.append("stop")
            bridge.stop()

    bridge.event.connect(on_event)
    with qtbot.waitSignal(bridge.finished, timeout=120_000) as blocker:
        bridge.start("run", _config(credit_csv, tmp_path / "p", max_trials=3, max_epochs=20))
    assert threads == {QCoreApplication.instance().thread()}
    final = blocker.args[0]
    assert final.type == "search_finished" and final.reason == "stopped"
    assert not bridge.is_running()

    with qtbot.waitSignal(bridge.finished, timeout=120_000) as blocker:
        bridge.start("probe", {})
    assert blocker.args[0].type == "task_finished"
    assert isinstance(blocker.args[0].result["gpus"], list)
