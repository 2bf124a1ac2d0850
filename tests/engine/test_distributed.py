"""The pieces of a distributed search that need no training: the chief's oracle (re-queueing a
silent worker's trial, the heartbeat), the exclusive port, the worker's watchdog, the settings,
and old events files. The whole search over processes is
tests/workers/test_distributed_processes.py."""

from __future__ import annotations

import time
from concurrent import futures

import pytest

from dlstudio.engine import distributed
from dlstudio.engine.cluster import ClusterSettings, check_worker_id, parse_address
from dlstudio.engine.errors import ConfigError
from dlstudio.engine.events import TrialEnded, TrialStarted, from_dict
from dlstudio.engine.tf import keras, kt


class _Chief(distributed.ChiefOracle, kt.oracles.RandomSearchOracle):
    pass


def _build(hp):
    model = keras.Sequential([keras.layers.Input((1,)),
                              keras.layers.Dense(hp.Int("units", 1, 8))])
    model.compile(loss="mse")
    return model


@pytest.fixture
def chief(tmp_path):
    oracle = _Chief(objective="val_loss", max_trials=3, seed=1)
    kt.Tuner(oracle=oracle, hypermodel=_build, directory=str(tmp_path), project_name="s")
    oracle.init_chief()
    return oracle


def test_a_silent_workers_trial_goes_to_the_next_worker_and_is_kept_in_oracle_json(chief):
    # Pins KerasTuner's private `_retry_queue` (owned by ChiefOracle): `create_trial` hands its
    # trial ids out before new ones, and it is saved in oracle.json for a resumed search.
    first = chief.create_trial("w1")
    assert chief.requeue_silent(timeout=60) == []            # just heard: kept
    lost = chief.requeue_silent(timeout=0)
    assert [(x.worker, x.trial_id) for x in lost] == [("w1", first.trial_id)]
    assert "w1" not in chief.tuner_ids and not chief.ongoing_trials
    assert chief.get_state()["retry_queue"] == [first.trial_id]
    again = chief.create_trial("w2")
    assert again.trial_id == first.trial_id                   # the same trial, not a new one
    assert len(chief.trials) == 1


def test_a_late_result_of_a_requeued_trial_is_taken_and_not_run_again(chief):
    trial = chief.create_trial("w1")
    chief.requeue_silent(timeout=0)
    chief.update_trial(trial.trial_id, {"val_loss": 0.5})
    trial.status = kt.engine.trial.TrialStatus.COMPLETED
    chief.end_trial(trial)
    assert chief.get_state()["retry_queue"] == []
    assert chief.create_trial("w2").trial_id != trial.trial_id


def test_a_worker_waits_while_a_trial_of_a_spent_budget_may_come_back(chief):
    running = [chief.create_trial(f"w{i}") for i in range(3)]     # the whole budget
    assert chief.create_trial("w9").status == kt.engine.trial.TrialStatus.IDLE
    chief.requeue_silent(timeout=0)                          # all three fall silent
    assert chief.create_trial("w9").trial_id == running[-1].trial_id
    chief.stopping = True
    assert chief.create_trial("w8").status == kt.engine.trial.TrialStatus.STOPPED


def test_the_heartbeat_names_the_worker_and_carries_stop(chief):
    answer = chief.get_trial(distributed.HEARTBEAT_PREFIX + "w7")
    assert answer.status == kt.engine.trial.TrialStatus.RUNNING and "w7" in chief.heard
    chief.stopping = True
    answer = chief.get_trial(distributed.HEARTBEAT_PREFIX + "w7")
    assert answer.status == kt.engine.trial.TrialStatus.STOPPED


def test_the_budget_is_spent_only_when_nothing_runs_or_waits(chief):
    trials = [chief.create_trial(f"w{i}") for i in range(3)]
    assert not chief.finished()
    chief.requeue_silent(timeout=0)
    for t in trials[:2]:
        chief.create_trial("w9" + t.trial_id)
    assert not chief.finished()                               # one still waits in the queue


def test_a_busy_port_is_a_plain_error_even_against_a_reuseport_grpc_server(chief):
    import grpc
    stale = grpc.server(futures.ThreadPoolExecutor(max_workers=1))     # gRPC's default options
    port = stale.add_insecure_port("127.0.0.1:0")
    stale.start()
    try:
        with pytest.raises(ConfigError, match=f"port {port} .* is busy"):
            distributed.open_server(chief, "127.0.0.1", port)
    finally:
        stale.stop(0)
    server, bound = distributed.open_server(chief, "127.0.0.1", 0)
    server.stop(0)
    assert bound > 0


def test_a_worker_whose_chief_never_answers_ends_with_a_plain_message():
    lost: list[str] = []
    settings = ClusterSettings(heartbeat=0.2, chief_timeout=1.0)
    beat = distributed.Heartbeat("127.0.0.1", 9, "w1", settings, lost.append)   # port 9: closed
    started = time.monotonic()
    beat.start()
    while not lost and time.monotonic() - started < 10:
        time.sleep(0.1)
    beat.stop()
    assert lost and "No DL Studio search answered at 127.0.0.1:9" in lost[0]
    assert time.monotonic() - started < 5


def test_settings_and_addresses_are_checked_in_words():
    assert parse_address("10.0.0.5:8765") == ("10.0.0.5", 8765)
    with pytest.raises(ConfigError, match="HOST:PORT"):
        parse_address("10.0.0.5")
    with pytest.raises(ConfigError, match="chief"):
        check_worker_id("chief-2")
    with pytest.raises(ConfigError, match="workers"):
        ClusterSettings(workers=0)
    with pytest.raises(ConfigError, match="heartbeat"):
        ClusterSettings(heartbeat=5, chief_timeout=6)
    assert not ClusterSettings().distributed and ClusterSettings(workers=2).distributed


def test_events_files_from_before_workers_still_load():
    old = {"type": "trial_started", "time": 1.0, "trial_id": "0", "number": 1, "max_trials": 2,
           "max_epochs": 3, "hyperparameters": {}}
    assert from_dict(old) == TrialStarted(time=1.0, trial_id="0", number=1, max_trials=2,
                                          max_epochs=3, hyperparameters={}, worker="")
    ended = from_dict({"type": "trial_ended", "trial_id": "0", "status": "completed",
                       "score": 0.5, "hyperparameters": {}, "seconds": 1.0})
    assert isinstance(ended, TrialEnded) and ended.worker == ""
