"""The Training page's message panel on a reopened project: lines carry the time their event
happened, and new lines stay in view."""

from __future__ import annotations

import time

from ui_helpers import make_project, search_events, write_credit_csv

START = 1_000_000.0


def test_a_reopened_search_shows_when_things_happened_and_follows_new_lines(window, qtbot,
                                                                            tmp_path):
    events = search_events(trials=12, epochs=3)
    for i, e in enumerate(events):
        e["time"] = START + 60 * i
    project = make_project(tmp_path / "proj", write_credit_csv(tmp_path / "loans.csv"),
                           events=events)
    assert window.open_project(project.root)
    page = window.training_page
    window.goto(page)
    lines = page.log.toPlainText().splitlines()
    assert lines[0].startswith(time.strftime("%H:%M:%S", time.localtime(START)))
    assert lines[-1].startswith(time.strftime("%H:%M:%S", time.localtime(events[-1]["time"])))
    bar = page.log.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=5_000)
    assert bar.value() == bar.maximum()            # the replay ends at its last line

    page.append_log("A new line.")
    assert page.log.toPlainText().splitlines()[-1].startswith(time.strftime("%H:%M:%S"))
    assert bar.value() == bar.maximum()            # and a new line stays in view


def test_the_refit_status_says_how_many_networks_train_again(window):
    """The refit of an ensemble names its k networks (PhaseStarted.networks), one network
    says 'the best network'."""
    from dlstudio.engine import events as ev

    page = window.training_page
    page.handle_event(ev.PhaseStarted(phase=ev.Phase.REFIT, steps=9, networks=3,
                                      message="Training the 3 networks of the ensemble again."))
    page.handle_event(ev.PhaseProgress(phase=ev.Phase.REFIT, step=4, steps=9))
    assert page.status.text() == ("Training the 3 networks of the ensemble again on training + "
                                  "validation rows: epoch 4 of 9 (all 3 together).")
    page.handle_event(ev.PhaseStarted(phase=ev.Phase.REFIT, steps=5, networks=1,
                                      message="Training the best network again."))
    page.handle_event(ev.PhaseProgress(phase=ev.Phase.REFIT, step=2, steps=5))
    assert page.status.text() == ("Training the best network again on training + validation "
                                  "rows: epoch 2 of 5.")
    # After the test: once more on every row, for the export.
    page.handle_event(ev.PhaseStarted(phase=ev.Phase.FINAL, steps=9, networks=3,
                                      message="Training the 3 networks once more."))
    page.handle_event(ev.PhaseProgress(phase=ev.Phase.FINAL, step=9, steps=9))
    assert page.status.text() == ("Training the 3 networks of the ensemble once more on all "
                                  "rows for the export: epoch 9 of 9.")


def test_the_end_of_a_search_says_when_the_model_is_an_ensemble(window):
    """The closing status names the best network's score, and says when the model is the
    average of several (found under Xvfb: an ensemble that won read as the best network)."""
    from dlstudio.engine import events as ev

    page = window.training_page
    page.handle_event(ev.SearchFinished(project="p", reason="budget", best_trial_id="7",
                                        best_score=0.8225, trials=8, ensemble_size=5))
    assert page.status.text() == (
        "Finished: all networks were tried. Best network: 0.8225; the model is the average of "
        "the best 5, which predicted the validation rows better together. See the results on "
        "the next page.")
    page.handle_event(ev.SearchFinished(project="p", reason="budget", best_trial_id="7",
                                        best_score=0.8225, trials=8))
    assert page.status.text() == ("Finished: all networks were tried. Best score: 0.8225. "
                                  "See the results on the next page.")
