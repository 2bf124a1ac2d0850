"""UI tests driven through widgets and signals (no worker process needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog
from sklearn.metrics import confusion_matrix
from ui_helpers import make_project, search_events, write_credit_csv

from dlstudio.engine.project import Project
from dlstudio.engine.schema import Role
from dlstudio.ui.models import DataFrameModel, format_value


def load_via_dialog(window, qtbot, monkeypatch, path: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(path), "")))
    window.goto(window.data_page)
    with qtbot.waitSignal(window.data_page.loaded, timeout=10_000):
        qtbot.mouseClick(window.data_page.open_button, Qt.MouseButton.LeftButton)


def test_loading_a_csv_fills_the_preview_and_the_roles(window, qtbot, monkeypatch, tmp_path):
    path = write_credit_csv(tmp_path / "loans.csv")
    load_via_dialog(window, qtbot, monkeypatch, path)
    page = window.data_page
    assert page.model.rowCount() == 120
    assert page.model.columnCount() == 4
    assert page.columns.rowCount() == 4
    assert window.state.schema.column("age").role is Role.NUMERIC
    assert window.next_button.isEnabled()
    # A missing income shows as an empty cell.
    assert page.model.data(page.model.index(0, 1)) == ""
    # The profile of the selected column is shown, with its histogram.
    page.columns.selectRow(1)
    assert "10.0%" in page.profile_missing.text()


def test_a_bad_file_shows_a_plain_dialog_and_keeps_the_previous_data(
        window, qtbot, monkeypatch, tmp_path, dialogs):
    good = write_credit_csv(tmp_path / "loans.csv")
    load_via_dialog(window, qtbot, monkeypatch, good)
    bad = tmp_path / "broken.csv"
    bad.write_bytes(b"\x00\x01\x02\xff\xfe" * 200)
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(bad), "")))
    with qtbot.waitSignal(window.data_page.load_failed, timeout=10_000):
        window.data_page.open_button.click()
    assert dialogs.kinds() == ["warning"]
    assert "broken.csv" in dialogs.calls[0][1]
    assert window.state.data_path == str(good)
    assert window.data_page.model.rowCount() == 120
    assert "loans.csv" in window.data_page.path_label.text()


def test_changing_a_role_in_its_combo_changes_the_schema(window, qtbot, monkeypatch, tmp_path):
    load_via_dialog(window, qtbot, monkeypatch, write_credit_csv(tmp_path / "loans.csv"))
    combo = window.data_page.role_combo("city")
    assert combo is not None and combo.currentData() == "categorical"
    with qtbot.waitSignal(window.state.schema_changed):
        combo.setCurrentIndex(combo.findData("ignore"))
    assert window.state.schema.column("city").role is Role.IGNORE
    assert window.state.run_config().roles == {"city": "ignore"}
    # Choosing "target" in a combo makes it the target everywhere.
    window.data_page.role_combo("status").setCurrentIndex(
        window.data_page.role_combo("status").findData("target"))
    assert window.state.target == "status"
    assert window.state.schema.target == "status"


def test_choosing_a_template_prefills_target_and_positive_class(
        window, qtbot, monkeypatch, tmp_path):
    load_via_dialog(window, qtbot, monkeypatch, write_credit_csv(tmp_path / "loans.csv"))
    window.next_button.click()
    page = window.task_page
    assert window.current_page() is page
    assert not window.next_button.isEnabled()          # no template yet
    page.cards["credit-scoring"].button.click()
    assert page.target_combo.currentData() == "status"
    # The target's values are counted on a pool thread; Next waits for them.
    assert page.checking() and not window.next_button.isEnabled()
    qtbot.waitUntil(lambda: not page.checking(), timeout=10_000)
    assert page.positive_combo.currentData() == "bad"
    assert page.positive_combo.isVisibleTo(page)
    assert window.state.positive_class == "bad"
    assert page.class_info.text().startswith("Classes: ")
    assert window.state.schema.column("status").role is Role.TARGET
    assert window.next_button.isEnabled()
    # A target the template cannot learn shows an inline error and blocks Next.
    page.target_combo.setCurrentIndex(page.target_combo.findData("city"))
    qtbot.waitUntil(lambda: not page.checking(), timeout=10_000)
    assert page.error.isVisibleTo(page)
    assert "3 different values" in page.error.text()
    assert not window.next_button.isEnabled()
    # A text template on a table without text asks for the text column.
    page.cards["sentiment"].button.click()
    page.target_combo.setCurrentIndex(page.target_combo.findData("status"))
    assert page.text_combo.isVisibleTo(page)


def test_settings_page_builds_the_run_config(window, qtbot, monkeypatch, tmp_path):
    load_via_dialog(window, qtbot, monkeypatch, write_credit_csv(tmp_path / "loans.csv"))
    window.next_button.click()
    window.task_page.cards["credit-scoring"].button.click()
    qtbot.waitUntil(window.next_button.isEnabled, timeout=10_000)
    window.next_button.click()
    page = window.settings_page
    assert window.current_page() is page
    assert page.trials.value() == 10                   # the template's default
    page.trials.setValue(3)
    page.use_time_limit.setChecked(True)
    page.minutes.setValue(5)
    page.tuner.setCurrentIndex(page.tuner.findData("random"))
    page.advanced.toggle.click()
    assert page.custom_space.isVisibleTo(page)
    page.custom_space.setChecked(True)
    page.max_layers.setValue(2)
    nonempty = tmp_path / "full"
    nonempty.mkdir()
    (nonempty / "x.txt").write_text("x")
    page.folder.setText(str(nonempty))
    assert not window.next_button.isEnabled()
    assert "not empty" in page.error.text()
    page.folder.setText(str(tmp_path / "proj"))
    assert window.next_button.isEnabled()
    cfg = window.state.run_config()
    assert (cfg.max_trials, cfg.time_limit, cfg.tuner) == (3, 300.0, "random")
    assert cfg.search_space["max_layers"] == 2
    assert cfg.target == "status" and cfg.positive_class == "bad"
    assert "minutes" in page.estimate.text() or "seconds" in page.estimate.text()
    assert cfg.final_fit                          # on unless the user turns it off
    page.final_fit.setChecked(False)
    assert not window.state.run_config().final_fit


def test_threshold_slider_recomputes_the_confusion_matrix(window, qtbot, tmp_path):
    data = write_credit_csv(tmp_path / "loans.csv")
    project = make_project(tmp_path / "proj", data)
    assert window.open_project(project.root)
    qtbot.waitUntil(lambda: window.state.df is not None, timeout=10_000)
    page = window.results_page
    assert window.current_page() is page
    ev = project.read_evaluation()
    assert page.current_matrix() == ev.confusion_matrix
    y = np.array(ev.test["y_true"])
    p = np.array(ev.test["scores"])[:, 0]

    def metric_cells(name: str) -> tuple[str, str]:
        rows = [(page.metrics.item(i, 0).text(), page.metrics.item(i, 1).text())
                for i in range(page.metrics.rowCount())]
        return next(r for r in rows if r[0].startswith(name))

    # At the engine's threshold the table shows the engine's own accuracy...
    assert metric_cells("Accuracy") == ("Accuracy", format_value(ev.metrics["accuracy"]))
    with qtbot.waitSignal(page.threshold_changed):
        page.slider.setValue(800)
    expected = confusion_matrix(y, np.where(p >= 0.8, "bad", "good"), labels=["bad", "good"])
    assert page.current_matrix() == expected.tolist()
    assert page.current_matrix() != ev.confusion_matrix
    assert sum(map(sum, page.current_matrix())) == len(y)
    # ... and at the slider's threshold, the accuracy there, labelled as such.
    accuracy = float(np.mean(np.where(p >= 0.8, "bad", "good") == y))
    assert metric_cells("Accuracy") == ("Accuracy (at threshold 0.800)", format_value(accuracy))
    assert metric_cells("ROC AUC")[0] == "ROC AUC"          # not a threshold metric

    # Costs: a wrong approval 10x dearer than a wrong rejection lowers the threshold.
    assert page.costs.isVisibleTo(page)
    page.cost_fa.setValue(10.0)
    assert page.threshold < 0.5
    assert "lowest total cost" in page.cost_result.text()


def test_reopening_a_project_rebuilds_the_leaderboard(window, qtbot, tmp_path):
    data = write_credit_csv(tmp_path / "loans.csv")
    project = make_project(tmp_path / "proj", data, events=search_events(trials=3, epochs=4))
    window.open_project(project.root)
    qtbot.waitUntil(lambda: window.state.df is not None, timeout=10_000)
    tp = window.training_page
    lb = tp.leaderboard
    assert [r.number for r in lb.rows] == [1, 2, 3]
    assert lb.best_id == "t2"
    assert lb.data(lb.index(2, 2)) == "0.7000"
    assert "layers=3" in lb.data(lb.index(2, 3))
    xs, _ys = tp.val_loss.getData()
    assert len(xs) == 4
    assert list(tp.best_curve.getData()[1]) == pytest.approx([0.68, 0.69, 0.70])
    assert str(project.root) in window.recent_projects()
    assert window.state.template.name == "credit-scoring"
    assert window.state.target == "status"


def test_live_events_update_the_training_page(window, qtbot):
    from dlstudio.engine import events

    tp = window.training_page
    for d in search_events(trials=2, epochs=3)[:-1]:
        tp.handle_event(events.from_dict(d))
    assert tp.leaderboard.rowCount() == 2
    assert len(tp.train_metric.getData()[0]) == 3
    assert "Network 2 completed" in tp.log.toPlainText()


def test_the_log_says_which_epoch_of_each_network_was_kept(window):
    """Where the objective is accuracy the epoch kept is the lowest validation loss, often not
    the last nor the most accurate one: the log says so, so that the leaderboard's score is
    not mistaken for the peak of the accuracy curve."""
    from dlstudio.engine import events

    tp = window.training_page
    started = {**search_events()[0], "template": "sentiment", "objective": "val_accuracy",
               "epochs_by": "val_loss"}
    tp.handle_event(events.from_dict(started))
    tp.handle_event(events.TrialStarted(trial_id="a", number=1, max_trials=2, max_epochs=40,
                                        hyperparameters={}))
    tp.handle_event(events.TrialEnded(trial_id="a", status="completed", score=0.778,
                                      hyperparameters={}, seconds=12.0, epochs=6, kept_epoch=1))
    # The plots of the finished network mark the epoch kept, until the next network starts.
    assert all(line.isVisible() and line.value() == 1 for line in tp.kept_lines)
    tp.handle_event(events.TrialStarted(trial_id="b", number=2, max_trials=2, max_epochs=40,
                                        hyperparameters={}))
    assert not any(line.isVisible() for line in tp.kept_lines)
    log = tp.log.toPlainText()
    assert "optimising validation accuracy (each network kept at the epoch of its lowest " \
           "validation loss)" in log
    assert "Network 1 completed: score 0.7780 at epoch 1 of 6, 12.0 s." in log


def test_table_model_handles_a_million_rows():
    n = 1_000_000
    df = pd.DataFrame({"x": np.arange(n, dtype=float), "city": np.array(["a", "b"] * (n // 2))})
    df.loc[n - 3, "x"] = np.nan
    model = DataFrameModel(df)
    assert model.rowCount() == n
    assert model.columnCount() == 2
    assert model.data(model.index(n - 1, 0)) == f"{n - 1:.6g}"
    assert model.data(model.index(n - 1, 1)) == "b"
    assert model.data(model.index(n - 3, 0)) == ""
    assert model.data(model.index(n - 3, 0), Qt.ItemDataRole.BackgroundRole) is not None


def test_the_preview_holds_the_frames_own_columns_without_a_copy():
    n = 50_000
    df = pd.DataFrame({"x": np.arange(n, dtype=float),
                       "city": pd.array(["paris", None, "nice", "lyon"] * (n // 4), dtype="str"),
                       "k": pd.array([1, None] * (n // 2), dtype="Int64")})
    model = DataFrameModel(df)
    assert np.shares_memory(model._columns[0], df["x"].to_numpy())
    assert model._columns[1] is df["city"].array    # Arrow strings stay Arrow strings
    assert model._columns[2] is df["k"].array
    assert [model.data(model.index(r, 1)) for r in range(4)] == ["paris", "", "nice", "lyon"]
    assert model.data(model.index(1, 1), Qt.ItemDataRole.BackgroundRole) is not None
    assert (model.data(model.index(0, 2)), model.data(model.index(1, 2))) == ("1", "")


def test_profiles_come_with_the_table_and_a_new_role_is_profiled_off_the_gui_thread(
        window, qtbot, monkeypatch, tmp_path):
    load_via_dialog(window, qtbot, monkeypatch, write_credit_csv(tmp_path / "loans.csv"))
    page = window.data_page
    # Every column was profiled with the table, on the pool thread.
    assert {name for name, _role in page._profiles} == {"age", "income", "city", "status"}
    shown: list[str] = []
    page.profile_shown.connect(shown.append)
    page.columns.selectRow(2)
    assert shown == ["city"] and "0.0%" in page.profile_missing.text()
    # As free text, the city is profiled again (words per text), by a pool job.
    with qtbot.waitSignal(page.profile_shown, timeout=10_000) as blocker:
        window.state.set_role("city", Role.TEXT)
        assert page.profile_distinct.text() == "…"
    assert blocker.args == ["city"]
    assert page.profile_title.text().startswith("<b>city</b> — used as free text")
    assert page.profile_distinct.text() == "3"
    assert ("city", "text") in page._profiles


def test_save_project_writes_the_current_settings(window, qtbot, tmp_path):
    data = write_credit_csv(tmp_path / "loans.csv")
    project = make_project(tmp_path / "proj", data)
    window.open_project(project.root)
    qtbot.waitUntil(lambda: window.state.df is not None, timeout=10_000)
    window.state.set_role("city", Role.IGNORE)
    window.results_page.slider.setValue(300)
    window.save_action.trigger()
    saved = Project.open(project.root)
    assert saved.config.roles == {"city": "ignore"}
    assert saved.decision_threshold == pytest.approx(0.3)


def test_opening_something_that_is_not_a_project_warns(window, tmp_path, dialogs):
    assert not window.open_project(tmp_path)
    assert dialogs.kinds() == ["warning"]
    assert "not a DL Studio project" in dialogs.calls[0][1]


def test_about_lists_versions_but_not_tensorflow(window):
    text = window.about_text()
    assert "PySide6" in text and "pyqtgraph" in text and "Python" in text
    assert "TensorFlow" not in text


def test_excepthook_logs_and_shows_the_internal_error_dialog(window, tmp_path, dialogs,
                                                              monkeypatch):
    from dlstudio.ui import dialogs as ui_dialogs

    log = tmp_path / "logs" / "dlstudio.log"
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    ui_dialogs.install_excepthook(lambda: window, lambda: log)
    try:
        raise ValueError("boom")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    assert dialogs.kinds() == ["internal"]
    assert "boom" in dialogs.calls[0][1]
    assert "Traceback" in log.read_text()


def test_closing_during_a_search_asks_first(window, dialogs, monkeypatch):
    tp = window.training_page
    stopped = []
    monkeypatch.setattr(tp, "busy", lambda: True)
    monkeypatch.setattr(tp, "stop_and_wait", lambda *a: stopped.append(True))
    window.close()
    assert dialogs.kinds() == ["question"]
    assert stopped == [True]


def test_the_ui_never_imports_tensorflow():
    code = ("import sys; import dlstudio.ui.app, dlstudio.ui.main_window, dlstudio.ui.demo; "
            "import dlstudio.workers.bridge; "
            "bad = [m for m in ('tensorflow', 'keras', 'keras_tuner') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def _words(*pairs: tuple[str, float]) -> list[dict]:
    return [{"ngram": w, "effect": e, "texts": 10} for w, e in pairs]


def test_results_explain_text_models_and_never_show_an_empty_chart(window):
    from dlstudio.engine.records import EvaluationReport
    from dlstudio.engine.templates import TaskType

    page = window.results_page

    def shown(w) -> bool:
        return w.isVisibleTo(page)

    # Sentiment on two labels: a MULTICLASS task with two classes, one text column.
    two = EvaluationReport(
        task=TaskType.MULTICLASS, classes=["negative", "positive"],
        metrics={"accuracy": 0.9}, confusion_matrix=[[9, 1], [1, 9]],
        roc={"fpr": [0.0, 0.1, 1.0], "tpr": [0.0, 0.9, 1.0], "thresholds": [1.0, 0.5, 0.0]},
        test={"y_true": ["negative", "positive"], "scores": [[0.8, 0.2], [0.1, 0.9]]},
        word_importance={"review": {
            "positive": _words(("great", 0.3), ("tasty", 0.2), ("awful", -0.4)),
            "negative": _words(("awful", 0.4), ("great", -0.3), ("tasty", -0.2))}})
    page.set_evaluation(two)
    assert page.charts.shown() == ["ROC curve ('positive' as positive)"]
    assert page.charts.roc_curve.getData()[0].tolist() == [0.0, 0.1, 1.0]
    # An evaluation.json from before precision-recall curves: ROC, and a sentence for the PR.
    assert "No precision-recall curve" in page.charts.note.text()
    assert shown(page.words_box) and not shown(page.word_picker)
    assert page.word_charts() == {"Words that push towards 'positive'": [("great", 0.3),
                                                                          ("tasty", 0.2)],
                                  "Words that push towards 'negative'": [("awful", 0.4)]}
    assert shown(page.words_up) and shown(page.words_down)
    # One text column: nothing to rank among columns -> a sentence instead of an empty plot.
    assert not shown(page.importance_plot) and shown(page.importance_note)
    assert "single text column" in page.importance_note.text()

    # Three classes: no ROC (said in words), a class to pick, and a chart with no word hidden.
    three = EvaluationReport(
        task=TaskType.MULTICLASS, classes=["food", "sport", "tech"], metrics={"accuracy": 0.8},
        confusion_matrix=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        test={"y_true": ["food"], "scores": [[0.8, 0.1, 0.1]]},
        feature_importance=[{"column": "title", "importance": 0.2},
                            {"column": "body", "importance": 0.1}],
        word_importance={"body": {"food": _words(("soup", 0.5), ("bread", 0.4)),
                                  "sport": _words(("goal", 0.6), ("soup", -0.2)),
                                  "tech": _words(("chip", 0.5), ("goal", -0.3))}})
    page.set_evaluation(three)
    assert page.charts.shown() == [] and "this task has 3" in page.charts.note.text()
    assert shown(page.charts.note)
    assert shown(page.importance_plot) and not shown(page.importance_note)
    assert shown(page.word_class) and page.word_class.currentText() == "food"
    assert page.word_charts()["Words that push towards 'food'"] == [("soup", 0.5),
                                                                      ("bread", 0.4)]
    assert not shown(page.words_down) and shown(page.words_down_note)
    page.word_class.setCurrentText("sport")
    assert page.word_charts() == {"Words that push towards 'sport'": [("goal", 0.6)],
                                  "Words that push away from 'sport'": [("soup", 0.2)]}
    assert shown(page.words_up) and shown(page.words_down)

    # Regression without importance or words: sentences, no empty charts, no word section.
    reg = EvaluationReport(task=TaskType.REGRESSION, classes=[], metrics={"rmse": 1.0},
                           test={"y_true": [1.0, 2.0], "scores": [1.1, 1.9]})
    page.set_evaluation(reg)
    assert not shown(page.importance_plot) and shown(page.importance_note)
    assert not shown(page.words_box)
    assert page.charts.shown() == ["Predicted vs actual (test rows)",
                                   "Residuals: actual − predicted (test rows)"]


GOOD, BAD = {"great": 0.3, "fresh": 0.1}, {"awful": 0.35}


def _score(frame: pd.DataFrame) -> np.ndarray:
    """A known scorer: P(positive) = 0.5 + the weights of the words present."""
    from dlstudio.engine.explain import tokens
    p = np.array([0.5 + sum(GOOD.get(w, 0) - BAD.get(w, 0) for w in set(tokens(t)))
                  for t in frame["review"]])
    p = np.clip(p, 0, 1)
    return np.column_stack([1 - p, p])


def test_results_fit_the_task_and_the_examples_follow_the_threshold(window, qtbot):
    """Binary text: ROC and precision-recall with the threshold's point, example rows per class
    with their deciding words highlighted, following the slider. Every value comes from the
    engine's own functions (`evaluate`, `pipeline.examples`) on a known scorer."""
    from dlstudio.engine.evaluate import evaluate
    from dlstudio.engine.pipeline import examples
    from dlstudio.engine.records import Task
    from dlstudio.engine.templates import TaskType

    texts = ["Great tea!", "the tea was awful.", "Fresh, great coffee", "awful coffee",
             "fresh but awful", "great box", "the box", "great but awful"] * 3
    frame = pd.DataFrame({"review": texts})
    y = np.array([1, 0, 1, 0, 0, 1, 0, 1] * 3)       # 'the box' is bad, 'great but awful' good
    out = _score(frame)
    task = Task(template="sentiment", type=TaskType.BINARY, target="label",
                classes=["bad", "good"], positive_class="good", text_columns=["review"])
    report = evaluate(task.type, task.classes, y, out, threshold=0.5)
    report.positive_class = "good"
    report.examples = examples(frame, task, y, out, 0.5, _score)
    page = window.results_page
    page.set_evaluation(report)
    charts = page.charts
    assert charts.shown() == ["ROC curve ('good' as positive)",
                              "Precision-recall ('good' as positive)"]
    assert not charts.note.isVisibleTo(page)
    assert charts.pr_curve.getData()[0].tolist() == report.pr_curve["recall"]
    assert charts.pr_baseline.value() == pytest.approx(y.mean())
    assert not page.per_class_box.isVisibleTo(page)         # binary: the slider's metrics

    # Rows per class, right then wrong, the most confident first.
    def texts_shown() -> list[tuple[str, str, bool]]:
        return [(e["row"]["review"], s["predicted"], s["correct"])
                for e, s in zip(report.examples, page.examples.shown(), strict=True)]

    assert texts_shown() == [
        ("the tea was awful.", "bad", True), ("awful coffee", "bad", True),
        ("the box", "good", False), ("the box", "good", False),
        ("Fresh, great coffee", "good", True), ("Fresh, great coffee", "good", True),
        ("great but awful", "bad", False), ("great but awful", "bad", False)]
    shown = page.examples.shown()
    assert [s["probability"] for s in shown[:3]] == pytest.approx([0.85, 0.85, 0.5])
    # 'great but awful' scored 0.45 good: 'awful' drove it to bad, 'great' pushed against.
    assert shown[6]["towards"] == {"review": ["awful"]}
    assert shown[6]["against"] == {"review": ["great"]}
    assert page.examples.item(6, 4).text() == shown[6]["drove"] == "awful (+0.350)"
    html = page.examples.cell_html(6, "review")
    assert html == ('<span style="background-color:#bbdefb;">great</span> but '
                    '<span style="background-color:#ffe082;font-weight:600;">awful</span>')
    assert page.examples.item(6, 1).foreground().color().name() == "#c62828"
    assert page.examples.item(4, 3).text() == "right"
    # At 0.4 it is called good, rightly: its prediction, colour and words follow the slider.
    with qtbot.waitSignal(page.threshold_changed):
        page.slider.setValue(400)
    moved = page.examples.shown()
    assert texts_shown()[6] == ("great but awful", "good", True)
    assert moved[6]["probability"] == pytest.approx(0.45)
    assert moved[6]["towards"] == {"review": ["great"]}
    assert moved[6]["against"] == {"review": ["awful"]}
    assert page.examples.item(6, 3).text() == "right"
    assert page.examples.item(6, 1).foreground().color().name() != "#c62828"
    assert 'font-weight:600;">great</span>' in page.examples.cell_html(6, "review")
    with qtbot.waitSignal(page.threshold_changed):
        page.slider.setValue(600)
    assert texts_shown()[2] == ("the box", "bad", True)
    # The threshold's point sits on both curves.
    fpr, tpr = charts.roc_point.getData()
    recall, precision = charts.pr_point.getData()
    assert recall.tolist() == tpr.tolist() and 0 <= precision[0] <= 1 and 0 <= fpr[0] <= 1


@pytest.mark.filterwarnings("ignore:R.2 score is not well-defined")    # the one-row test split
def test_multiclass_shows_per_class_metrics_and_regression_its_plots(window):
    from dlstudio.engine.evaluate import evaluate
    from dlstudio.engine.templates import TaskType

    page = window.results_page
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 90)
    out = np.full((90, 3), 0.1) + np.eye(3)[np.where(rng.random(90) < 0.7, y, (y + 1) % 3)] * .7
    page.set_evaluation(evaluate(TaskType.MULTICLASS, ["a", "b", "c"], y, out))
    assert page.per_class_box.isVisibleTo(page)
    pred = out.argmax(1)
    from sklearn.metrics import precision_score
    assert page.per_class.rows()[1] == [
        "b", f"{precision_score(y, pred, labels=[1], average=None)[0]:.3f}",
        *page.per_class.rows()[1][2:4], str(int((y == 1).sum()))]
    assert page.charts.shown() == [] and "this task has 3" in page.charts.note.text()

    actual = rng.normal(100, 20, 50)
    predicted = actual + rng.normal(0, 5, 50)
    page.set_evaluation(evaluate(TaskType.REGRESSION, [], actual, predicted))
    assert not page.per_class_box.isVisibleTo(page) and not page.matrix_box.isVisibleTo(page)
    charts = page.charts
    assert charts.shown() == ["Predicted vs actual (test rows)",
                              "Residuals: actual − predicted (test rows)"]
    x, yv = charts.fit_points.getData()
    np.testing.assert_allclose(x, actual)
    np.testing.assert_allclose(yv, predicted)
    np.testing.assert_allclose(charts.residual_points.getData()[1], actual - predicted)
    # Every point in view, the residuals centred on zero.
    (x0, x1), (y0, y1) = charts.fit_plot.viewRange()
    assert x0 <= actual.min() and x1 >= actual.max() and y0 <= predicted.min()
    (_, _), (r0, r1) = charts.residual_plot.viewRange()
    assert r0 == pytest.approx(-r1) and r1 >= np.abs(actual - predicted).max()
    # One test row: a readable range around it, not a degenerate one.
    page.set_evaluation(evaluate(TaskType.REGRESSION, [], np.array([250.0]),
                                 np.array([240.0])))
    (x0, x1), (y0, y1) = charts.fit_plot.viewRange()
    assert x0 < 240 and x1 > 250 and x1 - x0 < 100 and (y0, y1) == (x0, x1)
    (r0, r1) = charts.residual_plot.viewRange()[1]
    assert r0 < 0 < 10 < r1 < 20
    # No example rows stored: a sentence, not an empty table.
    assert page.examples.shown() == [] and not page.examples.isVisibleTo(page)
    assert page.examples_hint.text() == "No example rows were stored with this evaluation."


def test_the_mouse_wheel_over_a_result_chart_is_left_to_the_page(window, qtbot):
    """A result chart neither zooms nor keeps the wheel: Qt passes an ignored wheel event on to
    the parent, the page's scroll area. (Qt propagates only real, spontaneous wheel events, so
    the scrolling itself was checked under Xvfb with xdotool: the page moved, the charts not.)"""
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    from dlstudio.engine.evaluate import evaluate
    from dlstudio.engine.templates import TaskType

    y = np.random.default_rng(2).integers(0, 2, 200)
    out = np.column_stack([1 - y * 0.6 - 0.2, y * 0.6 + 0.2])
    page = window.results_page
    window.goto(page)
    page.set_evaluation(evaluate(TaskType.MULTICLASS, ["no", "yes"], y, out))
    for plot in (page.charts.roc_plot, page.charts.pr_plot, page.words_up,
                 page.importance_plot):
        before = plot.viewRange()
        centre = QPointF(plot.viewport().rect().center())
        wheel = QWheelEvent(centre, QPointF(plot.viewport().mapToGlobal(centre.toPoint())),
                            QPoint(), QPoint(0, -120), Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(plot.viewport(), wheel)
        assert not wheel.isAccepted()
        assert plot.viewRange() == before


def test_results_say_whether_the_model_is_one_network_or_an_ensemble(window):
    from dlstudio.engine.records import EvaluationReport
    from dlstudio.engine.templates import TaskType

    page = window.results_page
    report = EvaluationReport(task=TaskType.REGRESSION, classes=[], metrics={"rmse": 1.0},
                              test={"y_true": [1.0, 2.0], "scores": [1.1, 2.2]})
    page.set_evaluation(report)
    assert "The model is one network." in page.summary.text()
    report.ensemble_size, report.device = 3, "GPU: NVIDIA H200 (mixed precision)"
    page.set_evaluation(report)
    text = page.summary.text()
    assert "an ensemble of 3 networks" in text
    assert "predicted the validation rows better than the best network alone" in text
    assert "trained on GPU: NVIDIA H200 (mixed precision)." in text
    assert "once more" not in text
    report.final_fit_rows = 12345
    page.set_evaluation(report)
    assert ("After this test it was trained once more, with the same settings, on all 12,345 "
            "rows (test rows included): that is the model you export") in page.summary.text()


def test_the_training_page_names_the_device_and_the_ensemble_check(window):
    from dlstudio.engine import events as ev

    tp = window.training_page
    tp.handle_event(ev.SearchStarted(project="p", template="credit-scoring", objective="val_auc",
                                     direction="max", max_trials=3, time_limit=None,
                                     tuner="random", device="GPU: NVIDIA H200 (mixed precision)"))
    assert "training on GPU: NVIDIA H200 (mixed precision)." in tp.log.toPlainText()
    tp.handle_event(ev.PhaseStarted(phase=ev.Phase.ENSEMBLE, steps=3, message="Checking ..."))
    tp.handle_event(ev.PhaseProgress(phase=ev.Phase.ENSEMBLE, step=2, steps=3))
    assert tp.status.text() == "Checking the average of the best networks: 2 of 3."
    tp.handle_event(ev.PhaseProgress(phase=ev.Phase.REFIT, step=1, steps=4))
    assert tp.status.text() == ("Training the best network again on training + validation "
                                "rows: epoch 1 of 4.")


def test_the_python_snippet_loads_the_real_export_folder():
    import ast

    from dlstudio.ui.export_page import with_export_folder

    snippet = 'model = tf.saved_model.load("PATH/TO/EXPORT")\n'
    assert with_export_folder(snippet, None) == snippet           # nothing exported yet
    folder = '/home/ana/my "best" model\\v2/export'
    shown = with_export_folder(snippet, folder)
    literal = shown.split("load(", 1)[1].rsplit(")", 1)[0]
    assert ast.literal_eval(literal) == folder                     # a valid Python string
