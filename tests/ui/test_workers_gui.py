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
