"""A distributed search on 127.0.0.1 (issue 13): a real chief serving KerasTuner's oracle over
gRPC, real worker processes, real SIGKILLs. Tiny data, 1-epoch trials, short timeouts set through
`ClusterSettings` (the same settings `--worker-timeout` and `--chief-timeout` set)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from dlstudio.engine import events as ev
from dlstudio.engine.cluster import ClusterSettings
from dlstudio.engine.config import RunConfig
from dlstudio.workers.pool import WorkerPool
from dlstudio.workers.process import WorkerTask
from studio_data import credit_frame, review_texts

# Short enough for a quick test, long enough that a live worker on a busy machine (2 cores,
# TensorFlow in every process) is never taken for a dead one.
FAST = dict(heartbeat=0.5, worker_timeout=20.0, chief_timeout=6.0)


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    path = tmp_path / "credit.csv"
    credit_frame(200, seed=1).to_csv(path, index=False)
    return path


def _pool(data: Path, project: Path, trials: int, template: str = "credit-scoring",
          max_epochs: int = 1, **cluster) -> WorkerPool:
    config = RunConfig(data=str(data), template=template, project=str(project), seed=3,
                       max_trials=trials, max_epochs=max_epochs, tuner="random")
    return WorkerPool(WorkerTask.RUN, config.to_dict(),
                      ClusterSettings(workers=2, **{**FAST, **cluster}))


def _drain(pool: WorkerPool, on_event=None, timeout: float = 900) -> list[ev.Event]:
    events: list[ev.Event] = []
    deadline = time.monotonic() + timeout
    pool.start()
    try:
        while not pool.done:
            assert time.monotonic() < deadline, f"search timed out; last: {events[-3:]}"
            for event in pool.poll(timeout=0.2):
                events.append(event)
                if on_event is not None:
                    on_event(event)
    finally:
        pool.terminate()
    return events


def _of(events, cls) -> list:
    return [e for e in events if isinstance(e, cls)]


def test_chief_and_two_workers_run_each_trial_of_the_budget_once(small_csv, tmp_path):
    project = tmp_path / "p"
    events = _drain(_pool(small_csv, project, trials=6))

    final = events[-1]
    assert isinstance(final, ev.SearchFinished), final
    assert final.reason == "budget" and final.trials == 6
    started = Counter(e.trial_id for e in _of(events, ev.TrialStarted))
    assert len(started) == 6 and set(started.values()) == {1}      # each trial exactly once
    ended = _of(events, ev.TrialEnded)
    assert sorted(e.trial_id for e in ended) == sorted(started)
    assert all(e.status == "completed" and e.score is not None for e in ended)
    assert {e.worker for e in ended} == {"worker1", "worker2"}    # both workers were used
    # Each worker's end is an event the Training page's table of workers reads.
    assert sorted((e.worker, e.finished) for e in _of(events, ev.WorkerEnded)) == [
        ("worker1", True), ("worker2", True)]
    # The events file says which worker ran what (the same merged stream, in JSON).
    lines = [json.loads(x) for x in (project / "events.jsonl").read_text().splitlines()]
    by_trial = {d["trial_id"]: d["worker"] for d in lines if d["type"] == "trial_ended"}
    assert by_trial == {e.trial_id: e.worker for e in ended}
    assert sum(1 for d in lines if d["type"] == "search_finished") == 1


def test_workers_keep_each_network_at_its_lowest_validation_loss(tmp_path):
    """Where the objective is accuracy, the epoch kept (`search.EpochsByLoss`) and the score
    (the chief's `score_trial`) travel through KerasTuner's gRPC oracle like any metric."""
    import pandas as pd

    texts, labels = review_texts(240, seed=2)
    data = tmp_path / "reviews.csv"
    pd.DataFrame({"review": texts, "sentiment": labels}).to_csv(data, index=False)
    events = _drain(_pool(data, tmp_path / "p", trials=2, template="sentiment", max_epochs=4))
    assert isinstance(events[-1], ev.SearchFinished), events[-1]
    assert _of(events, ev.SearchStarted)[0].epochs_by == "val_loss"
    ended = _of(events, ev.TrialEnded)
    assert len(ended) == 2 and all(e.worker for e in ended)         # run by the workers
    for trial in ended:
        logs = [e.logs for e in _of(events, ev.EpochEnded) if e.trial_id == trial.trial_id]
        losses = [log["val_loss"] for log in logs]
        kept = losses.index(min(losses))
        assert trial.kept_epoch == kept + 1
        assert trial.score == pytest.approx(logs[kept]["val_accuracy"])


def test_a_worker_killed_mid_trial_has_its_trial_rerun_once(small_csv, tmp_path):
    pool = _pool(small_csv, tmp_path / "p", trials=4)
    killed: dict[str, str] = {}

    def kill_worker1(event: ev.Event) -> None:
        if isinstance(event, ev.TrialStarted) and event.worker == "worker1" and not killed:
            os.kill(pool.workers["worker1"].pid, signal.SIGKILL)
            killed["trial"] = event.trial_id

    events = _drain(pool, kill_worker1)
    final = events[-1]
    assert isinstance(final, ev.SearchFinished), final
    assert final.reason == "budget" and final.trials == 4
    lost = _of(events, ev.WorkerLost)
    assert [(e.worker, e.trial_id) for e in lost] == [("worker1", killed["trial"])]
    started = Counter(e.trial_id for e in _of(events, ev.TrialStarted))
    assert started[killed["trial"]] == 2                     # killed once, re-run once
    assert all(n == 1 for t, n in started.items() if t != killed["trial"])
    ended = _of(events, ev.TrialEnded)
    assert sorted(e.trial_id for e in ended) == sorted(started)       # every trial ended once
    rerun = next(e for e in ended if e.trial_id == killed["trial"])
    assert rerun.worker == "worker2" and rerun.status == "completed"


def test_workers_end_within_seconds_when_the_chief_dies(small_csv, tmp_path):
    pool = _pool(small_csv, tmp_path / "p", trials=6)
    killed_at: list[float] = []

    def kill_chief(event: ev.Event) -> None:
        if isinstance(event, ev.TrialStarted) and not killed_at:
            os.kill(pool.chief.pid, signal.SIGKILL)
            killed_at.append(time.monotonic())

    events = _drain(pool, kill_chief)
    assert isinstance(events[-1], ev.SearchFailed)             # the chief's death, in words
    for worker_id, worker in pool.workers.items():
        final = pool.worker_finals[worker_id]
        # Each worker ended by itself (not terminated by the pool), saying why. (A worker still
        # loading TensorFlow when the chief died was never answered: its message says that.)
        assert isinstance(final, ev.TaskFailed), final
        assert "so this worker ended" in final.message and "dlstudio resume" in final.message
        assert not worker.running
    assert time.monotonic() - killed_at[0] < 30
    assert "Traceback" not in " ".join(e.message for e in _of(events, ev.Log))
