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
