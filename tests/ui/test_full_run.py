"""End-to-end runs through the real worker process (TensorFlow runs only in the child)."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest


@pytest.fixture
def gui_keeps_tensorflow_out():
    """Fails a test whose GUI loaded TensorFlow into this process. When an engine test in the
    same pytest process loaded it first, this process cannot tell: test_demo checks the same
    thing in a fresh process, and test_layers checks every GUI module's imports."""
    loaded_before = "tensorflow" in sys.modules
    yield
    if not loaded_before:
        assert "tensorflow" not in sys.modules


def wait_for(qtbot, signal, action, timeout_s: float):
    with qtbot.waitSignal(signal, timeout=int(timeout_s * 1000)) as blocker:
        action()
    return blocker.args[0]


def start_credit_sample(window, qtbot, tmp_path, trials: int, epochs: int):
    wait_for(qtbot, window.data_page.loaded, window.welcome.sample_buttons["credit"].click, 60)
    window.next_button.click()
    qtbot.waitUntil(lambda: not window.task_page.checking(), timeout=30_000)
    assert window.task_page.is_complete(), window.task_page.error.text()
    assert window.state.target == "Status" and window.state.positive_class == "bad"
    window.next_button.click()
    sp = window.settings_page
    sp.trials.setValue(trials)
    sp.epochs.setValue(epochs)
    sp.folder.setText(str(tmp_path / "project"))
    window.next_button.click()
    assert window.current_page() is window.training_page


def start_and_wait_for_first_epoch(window, qtbot, tmp_path, trials: int, epochs: int):
    """Start a search on the credit sample and return the Training page once an epoch ended."""
    start_credit_sample(window, qtbot, tmp_path, trials=trials, epochs=epochs)
    tp = window.training_page
    tp.start_button.click()
    qtbot.waitUntil(lambda: any(r.epochs >= 1 for r in tp.leaderboard.rows), timeout=300_000)
    return tp


def test_a_tiny_search_ends_on_the_export_page_with_a_saved_model(window, qtbot, tmp_path,
                                                                   dialogs,
                                                                   gui_keeps_tensorflow_out):
    start_credit_sample(window, qtbot, tmp_path, trials=1, epochs=2)
    tp = window.training_page
    final = wait_for(qtbot, tp.search_done, tp.start_button.click, 600)
    assert final.type == "search_finished", getattr(final, "message", final)
    assert window.settings_page.epochs.isEnabled()       # unlocked when the search ends
    assert tp.leaderboard.rowCount() == 1
    assert len(tp.train_loss.getData()[0]) >= 1
    window.next_button.click()
    rp = window.results_page
    assert window.current_page() is rp
    assert rp.matrix.rowCount() == 2
    before = rp.current_matrix()
    rp.slider.setValue(950)
    assert rp.current_matrix() != before
    window.next_button.click()
    ep = window.export_page
    assert window.current_page() is ep
    ep.folder.setText(str(tmp_path / "export"))
    ep.format_boxes["onnx"].setChecked(True)
    done = wait_for(qtbot, ep.export_done, ep.export_button.click, 600)
    assert done.type == "task_finished", getattr(done, "message", done)
    assert (tmp_path / "export" / "saved_model.pb").is_file()
    assert (tmp_path / "export" / "core" / "core.onnx").is_file()
    assert "Inputs" in ep.signature.text() and ep.python.text() and ep.curl.text()
    # The Python snippet loads the real export folder.
    assert json.dumps(str(tmp_path / "export"), ensure_ascii=False) in ep.python.text()
    assert "PATH/TO/EXPORT" not in ep.python.text()
    assert "ONNX: core/core.onnx" in ep.files.text() and "onnxruntime" in ep.files.text()

    rows = pd.read_csv(window.state.data_path).drop(columns=["Status"]).head(25)
    src = tmp_path / "new.csv"
    rows.to_csv(src, index=False)
    ep.input_file.setText(str(src))
    ep.output_file.setText(str(tmp_path / "scored.csv"))
    scored = wait_for(qtbot, ep.predict_done, ep.score_button.click, 600)
    assert scored.type == "task_finished", getattr(scored, "message", scored)
    assert len(pd.read_csv(tmp_path / "scored.csv")) == 25
    assert "Scored 25 rows" in ep.score_status.text()
    assert [k for k in dialogs.kinds() if k != "information"] == []


def test_stop_keeps_the_best_and_the_search_resumes_from_the_training_page_to_its_budget(
        window, qtbot, tmp_path, dialogs, gui_keeps_tensorflow_out):
    import json

    # 3 epochs a trial: a stop clicked after the first epoch lands long before the budget ends
    # (the assertions below check that it did).
    tp = start_and_wait_for_first_epoch(window, qtbot, tmp_path, trials=3, epochs=3)
    assert tp.stop_button.isEnabled()
    sp = window.settings_page          # its fields are locked while the search runs
    assert not sp.trials.isEnabled() and not sp.workers.isEnabled() and not sp.folder.isEnabled()
    assert sp.locked_note.isVisibleTo(sp)
    # The folder holds the running search's project now: not an error that blocks the steps.
    assert sp.is_complete() and not sp.error.text(), sp.error.text()
    stopped = wait_for(qtbot, tp.search_done, tp.stop_button.click, 300)
    assert sp.trials.isEnabled() and sp.workers.isEnabled() and not sp.locked_note.isVisibleTo(sp)
    assert stopped.type == "search_finished", getattr(stopped, "message", stopped)
    assert stopped.reason == "stopped"
    assert stopped.trials < 3
    assert tp.start_button.isEnabled() and not tp.stop_button.isEnabled()
    assert not tp.busy()
    assert (tmp_path / "project" / "models" / "best.keras").is_file()
    assert tp.start_button.text() == "Resume search"

    final = wait_for(qtbot, tp.search_done, tp.start_button.click, 600)
    assert final.type == "search_finished" and final.reason == "budget", final
    assert final.trials == 3
    logged = [json.loads(x) for x in (tmp_path / "project" / "events.jsonl").read_text()
              .splitlines()]
    completed = [e["trial_id"] for e in logged
                 if e["type"] == "trial_ended" and e["status"] == "completed"]
    assert sorted(completed) == ["0", "1", "2"]


def test_a_killed_worker_is_reported_and_the_search_can_be_resumed(window, qtbot, tmp_path,
                                                                   dialogs,
                                                                   gui_keeps_tensorflow_out):
    import os
    import signal

    tp = start_and_wait_for_first_epoch(window, qtbot, tmp_path, trials=2, epochs=3)
    worker = tp._bridge.worker     # the child process, as the out-of-memory killer would see it
    assert not window.settings_page.seed.isEnabled()
    failed = wait_for(qtbot, tp.search_done, lambda: os.kill(worker.pid, signal.SIGKILL), 60)
    assert failed.type == "search_failed" and "killed" in failed.message
    assert window.settings_page.seed.isEnabled()          # unlocked after a failure too
    assert any("killed" in text for _kind, text in dialogs.calls)
    assert window.isVisible() and not tp.busy()
    assert tp.start_button.text() == "Resume search"

    final = wait_for(qtbot, tp.search_done, tp.start_button.click, 600)
    assert final.type == "search_finished" and final.trials == 2, final
