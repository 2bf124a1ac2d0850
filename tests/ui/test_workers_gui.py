"""Several workers in the GUI (issue 13): the Settings page's choice, and the Training page's
table of workers built from the events a distributed search sends."""

from __future__ import annotations

import time

from dlstudio.engine import events as ev


def test_settings_page_offers_workers_and_how_to_add_remote_ones(window, tmp_path):
    page = window.settings_page
    page.folder.setText(str(tmp_path / "proj"))
    assert page.workers.value() == 1 and not page.workers_hint.isVisibleTo(page)
    page.workers.setValue(3)
    assert window.state.settings.workers == 3
    assert page.workers_hint.isVisibleTo(page)
    assert "dlstudio worker --chief" in page.workers_hint.text()
    page.tuner.setCurrentIndex(page.tuner.findData("hyperband"))
    assert not page.is_complete() and "Bayesian and Random" in page.error.text()
    page.tuner.setCurrentIndex(page.tuner.findData("random"))
    assert page.is_complete()
    payload = window.training_page._payload_with_workers({"project": "x"})
    assert payload["cluster"] == {"workers": 3}
    page.workers.setValue(1)
    assert "cluster" not in window.training_page._payload_with_workers({"project": "x"})


def test_training_page_shows_each_worker_its_network_and_when_it_was_heard(window):
    tp = window.training_page
    panel = tp.workers_panel
    assert not panel.isVisibleTo(tp)
    now = time.time()
    hps = {"units": 8}
    for event in [
        ev.SearchStarted(project="/p", template="credit-scoring", objective="val_auc",
                         direction="max", max_trials=4, time_limit=None, tuner="random"),
        ev.ChiefReady(project="/p", host="127.0.0.1", port=8765),
        ev.TrialStarted(trial_id="0", number=1, max_trials=4, max_epochs=3,
                        hyperparameters=hps, worker="worker1", time=now - 30),
        ev.TrialStarted(trial_id="1", number=2, max_trials=4, max_epochs=3,
                        hyperparameters=hps, worker="worker2", time=now - 20),
        ev.EpochEnded(trial_id="1", epoch=1, max_epochs=3, logs={"val_auc": 0.7},
                      worker="worker2", time=now - 5),
        ev.WorkerLost(worker="worker1", trial_id="0", silent_seconds=60.0),
    ]:
        tp.handle_event(event)
    assert panel.isVisibleTo(tp)
    assert "127.0.0.1:8765" in panel.address.text()
    table = panel.table
    rows = {table.item(r, 0).text(): (table.item(r, 1).text(), table.item(r, 2).text())
            for r in range(table.rowCount())}
    assert rows["worker2"][0] == "network 2: epoch 1 of 3"
    assert rows["worker2"][1] in ("5 s ago", "6 s ago")
    assert "goes to another worker" in rows["worker1"][0]
    assert rows["worker1"][1] in ("30 s ago", "31 s ago")
    tp.clear()
    assert not panel.isVisibleTo(tp) and table.rowCount() == 0


def test_a_worker_that_ended_shows_it_and_is_no_longer_counted(window):
    """A worker's end (the pool's worker_ended) and the end of the search's networks (the
    phases after it) stop the 'last heard N s ago' count of that row."""
    tp = window.training_page
    panel = tp.workers_panel
    now = time.time()
    hps = {"units": 8}
    for event in [
        ev.ChiefReady(project="/p", host="127.0.0.1", port=8765),
        ev.TrialStarted(trial_id="0", number=1, max_trials=3, max_epochs=3,
                        hyperparameters=hps, worker="worker1", time=now - 50),
        ev.TrialStarted(trial_id="1", number=2, max_trials=3, max_epochs=3,
                        hyperparameters=hps, worker="worker2", time=now - 40),
        ev.TrialEnded(trial_id="0", status="completed", score=0.7, hyperparameters=hps,
                      seconds=9.0, worker="worker1", time=now - 30),
        ev.WorkerEnded(worker="worker1", finished=True, trials=1, time=now - 30),
    ]:
        tp.handle_event(event)

    def rows() -> dict[str, tuple[str, str]]:
        t = panel.table
        return {t.item(r, 0).text(): (t.item(r, 1).text(), t.item(r, 2).text())
                for r in range(t.rowCount())}

    assert rows()["worker1"][0] == "finished: trained 1 network"
    assert rows()["worker1"][1].startswith("finished at ")
    assert rows()["worker2"][1] in ("40 s ago", "41 s ago")      # still at work: counted
    assert panel.timer.isActive()
    tp.handle_event(ev.PhaseStarted(phase=ev.Phase.REFIT, message="Training again.", steps=3))
    assert rows()["worker2"] == ("network 2: starting; no more networks to train",
                                 rows()["worker2"][1])
    assert rows()["worker2"][1].startswith("finished at ")
    assert not panel.timer.isActive()                             # nothing left to count
    # A worker that failed says so.
    tp.handle_event(ev.WorkerEnded(worker="worker3", finished=False, message="out of memory"))
    assert rows()["worker3"] == ("stopped: out of memory", rows()["worker3"][1])
    assert rows()["worker3"][1].startswith("stopped at ")
    # The same event, replayed from events.jsonl on reopening, reads back alike.
    ended = ev.WorkerEnded(worker="w", finished=True, trials=2)
    assert ev.from_dict(ended.to_dict()) == ended


def test_the_number_of_workers_is_saved_in_the_project_and_restored(window, qtbot, tmp_path):
    """Settings > Workers on this machine goes into project.json's config: a reopened project
    shows it again and resumes with as many workers."""
    from dataclasses import replace

    from ui_helpers import make_project, write_credit_csv

    from dlstudio.engine.project import Project

    project = make_project(tmp_path / "proj", write_credit_csv(tmp_path / "loans.csv"))
    project.set_config(replace(project.config, workers=3))
    assert window.open_project(project.root)
    qtbot.waitUntil(lambda: window.state.df is not None, timeout=10_000)
    assert window.state.settings.workers == 3
    assert window.settings_page.workers.value() == 3
    assert window.training_page._payload_with_workers({"project": "x"})["cluster"] == {
        "workers": 3}
    window.settings_page.workers.setValue(2)
    assert window.state.run_config().workers == 2
    window.state.save_to_project()
    assert Project.open(project.root).config.workers == 2
