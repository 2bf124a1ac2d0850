"""Before Start, the Training page's progress bar counts to the budget chosen on the Settings
page ("network 0 of 4"), not to QProgressBar's default 100."""

from __future__ import annotations

from ui_helpers import write_credit_csv


def test_progress_bar_shows_the_chosen_budget_before_start(window, qtbot, tmp_path):
    tp = window.training_page
    assert tp.progress.text() == "network 0 of 10"       # no settings yet: the usual budget
    with qtbot.waitSignal(window.data_page.loaded, timeout=10_000):
        window.open_path(write_credit_csv(tmp_path / "loans.csv"))
    window.goto(window.task_page)
    window.task_page.cards["credit-scoring"].button.click()
    qtbot.waitUntil(window.next_button.isEnabled, timeout=10_000)   # the target is checked
    window.next_button.click()
    settings = window.settings_page
    assert window.current_page() is settings
    settings.folder.setText(str(tmp_path / "proj"))
    settings.trials.setValue(4)
    window.next_button.click()
    assert window.current_page() is tp
    assert tp.progress.text() == "network 0 of 4"
    assert tp.start_button.text() == "Start search"

    window.back_button.click()                           # a second thought: a bigger budget
    settings.trials.setValue(25)
    window.next_button.click()
    assert tp.progress.text() == "network 0 of 25"


def test_the_bar_fills_as_networks_finish_and_one_point_gets_a_close_axis(window):
    """Found under Xvfb: the bar was full at "network 8 of 8" while the 8th still trained,
    and the first network's score sat on an axis from 0.32 to 1.32."""
    from dlstudio.engine import events as ev

    tp = window.training_page
    tp.handle_event(ev.SearchStarted(project="p", template="sentiment", objective="val_accuracy",
                                     direction="max", max_trials=2, time_limit=None,
                                     tuner="bayesian"))
    tp.handle_event(ev.TrialStarted(trial_id="0", number=1, max_trials=2, max_epochs=3,
                                    hyperparameters={}))
    assert (tp.progress.text(), tp.progress.value()) == ("network 1 of 2", 0)
    tp.handle_event(ev.EpochEnded(trial_id="0", epoch=1, max_epochs=3,
                                  logs={"loss": 0.6, "val_loss": 0.5, "accuracy": 0.7,
                                        "val_accuracy": 0.82}))
    assert tp.status.text() == "Network 1 of 2: epoch 1 of 3, validation accuracy 0.8200."
    tp.handle_event(ev.TrialEnded(trial_id="0", status="completed", score=0.82,
                                  hyperparameters={}, seconds=5.0))
    assert tp.progress.value() == 1
    low, high = tp.best_plot.getViewBox().viewRange()[1]
    assert 0.75 < low < 0.82 < high < 0.9
    tp.handle_event(ev.TrialStarted(trial_id="1", number=2, max_trials=2, max_epochs=3,
                                    hyperparameters={}))
    assert (tp.progress.text(), tp.progress.value()) == ("network 2 of 2", 1)
    tp.handle_event(ev.TrialEnded(trial_id="1", status="completed", score=0.6,
                                  hyperparameters={}, seconds=5.0))
    assert tp.progress.value() == tp.progress.maximum() == 2
    view = tp.best_plot.getViewBox()
    view.updateAutoRange()                      # what the next paint does
    low, high = view.viewRange()[1]
    assert low < 0.6 and 0.82 < high < 0.9              # two values: pyqtgraph's own range


def test_after_the_search_remaining_names_the_step_instead_of_a_countdown(window):
    """The work after the search (refit, test, word importance, final training) took 5-6
    minutes of the reviews sample's 10 under Xvfb, while "Remaining" read "at most 0 s"."""
    from dlstudio.engine import events as ev

    tp = window.training_page
    tp.clock.start()
    tp._running = True
    tp.handle_event(ev.SearchStarted(project="p", template="sentiment", objective="val_accuracy",
                                     direction="max", max_trials=1, time_limit=60.0,
                                     tuner="bayesian"))
    tp._update_times()
    assert tp.remaining_label.text().startswith("Remaining: at most")
    tp.handle_event(ev.PhaseStarted(phase=ev.Phase.EVALUATE, message="Measuring."))
    assert tp.remaining_label.text() == "Remaining: the search is done; now testing"
    tp.handle_event(ev.PhaseStarted(phase=ev.Phase.FINAL, message="Training once more."))
    tp._update_times()
    assert tp.remaining_label.text() == ("Remaining: the search is done; now training on all "
                                         "rows")


def test_the_settings_estimate_counts_the_work_after_the_search(window, qtbot, tmp_path):
    with qtbot.waitSignal(window.data_page.loaded, timeout=10_000):
        window.open_path(write_credit_csv(tmp_path / "loans.csv"))
    window.goto(window.task_page)
    window.task_page.cards["credit-scoring"].button.click()
    qtbot.waitUntil(window.next_button.isEnabled, timeout=10_000)
    window.next_button.click()
    settings = window.settings_page
    settings.final_fit.setChecked(True)
    with_final = settings.estimate.text()
    # Found under Xvfb: unwrapped, this longer estimate widened the page past a 1360-pixel
    # screen and hid the Next button.
    assert settings.estimate.wordWrap()
    assert settings.estimate.minimumSizeHint().width() < 400     # unwrapped: 1,281 offscreen
    assert "for the search" in with_final and "train them once more on all rows" in with_final
    settings.final_fit.setChecked(False)
    assert "once more" not in settings.estimate.text()
    assert "test the best networks and explain them" in settings.estimate.text()


def test_bar_labels_are_thinned_to_fit_the_plot(qtbot):
    """Found under Xvfb: the Data page's ten words-per-text labels ran into each other
    ("176–197197+ words") on a 1360-pixel screen."""
    import pyqtgraph as pg

    from dlstudio.ui.plots import make_plot, set_bars

    labels = [*[f"{lo}–{lo + 21}" for lo in range(10, 200, 21)][:9], "197+ words"]
    plot = make_plot()
    qtbot.addWidget(plot)
    for width, shown in ((1200, 10), (640, None), (320, None)):
        plot.resize(width, 150)
        set_bars(plot, labels, list(range(10, 0, -1)))
        ticks = plot.getAxis("bottom")._tickLevels[0]
        metrics = pg.QtGui.QFontMetrics(plot.font())
        widest = max(metrics.horizontalAdvance(t) for _, t in ticks)
        spacing = ticks[1][0] - ticks[0][0]           # in bars
        if shown:
            assert len(ticks) == shown
        else:
            assert 1 < len(ticks) < 10
            # Room per shown label: the plot's width over ten bars, times the bars between.
            assert widest < spacing * (width - plot.getAxis("left").width()) / 10
