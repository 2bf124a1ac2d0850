"""The `dlstudio` command line end to end, in fresh processes, on data the tests make."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlstudio.engine.explain import tokens
from dlstudio.engine.project import Project
from dlstudio.engine.records import EvaluationReport
from dlstudio.engine.templates import TaskType
from studio_data import (
    NEGATIVE,
    POSITIVE,
    CliResult,
    as_previous_release,
    credit_frame,
    review_texts,
    run_cli,
)

TINY = ("--max-trials", "2", "--max-epochs", "3", "--seed", "1")
TF_MARKS = ("absl", "oneDNN", "tensorflow/", "cuda", "cpu_feature_guard")   # TF's own chatter


def test_templates_json_lists_every_template(cli):
    r = cli("templates", "--json")
    assert r.code == 0, r.stderr
    names = {t["name"] for t in json.loads(r.stdout)}
    assert names == {"credit-scoring", "sentiment", "tabular-classification",
                     "tabular-regression", "text-classification"}


def test_inspect_json_reports_roles_and_warnings(cli, tmp_path):
    df = credit_frame(100)
    df.insert(0, "applicant_id", range(1000, 1100))
    df["country"] = "NL"
    df.to_csv(tmp_path / "c.csv", index=False)
    r = cli("inspect", "c.csv", "--json")
    assert r.code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["rows"] == 100
    roles = {c["name"]: c["role"] for c in out["columns"]}
    assert roles == {"applicant_id": "ignore", "Income": "numeric", "Age": "numeric",
                     "Home": "categorical", "Status": "target", "country": "ignore"}
    assert {"name", "role", "dtype", "missing"} <= set(out["columns"][0])
    assert next(c for c in out["columns"] if c["name"] == "Income")["missing"] > 0
    assert any("applicant_id" in w for w in out["warnings"])
    assert any("country" in w for w in out["warnings"])


@pytest.fixture(scope="module")
def credit_run(tmp_path_factory) -> tuple[Path, CliResult]:
    """One small credit-scoring run, exported, made once: the end-to-end test checks it, and
    the tests of predict, export and resume on a trained project read it (or a copy of it).
    Without the final training on every row (tested in tests/engine/test_ensemble.py), the
    export is the tested model, whose test scores `predict` must reproduce."""
    root = tmp_path_factory.mktemp("credit-run")
    credit_frame().to_csv(root / "credit.csv", index=False)
    r = run_cli("run", "credit.csv", "--template", "credit-scoring", *TINY, "--project", "proj",
                "--export", "out", "--no-final-fit", "--json", cwd=root)
    assert r.code == 0, r.stderr
    return root, r


def _copy_project(root: Path, name: str, *, previous_release: bool = False) -> Path:
    """A copy of the shared project, for a test that changes it (a project folder may be
    copied and reopened); with `previous_release`, its split saved as DL Studio 0.1.0 saved it
    (data/*.csv), which resume and export still read."""
    shutil.copytree(root / "proj", root / name)
    if previous_release:
        as_previous_release(root / name)
    return root / name


def test_credit_scoring_end_to_end_with_json_events_export_and_predict(credit_run):
    root, r = credit_run
    events = r.json_lines()      # every stdout line is one JSON event, nothing else
    types = [e["type"] for e in events]
    assert types[0] in ("log", "search_started") and types[-1] == "search_finished"
    assert types.count("trial_started") == 2 and types.count("trial_ended") == 2
    assert types.index("search_started") < types.index("trial_started") \
        < types.index("epoch_ended") < types.index("trial_ended")
    assert "best_changed" in types
    epoch = next(e for e in events if e["type"] == "epoch_ended")
    assert {"loss", "val_loss", "val_auc"} <= set(epoch["logs"])
    final = events[-1]
    assert final["reason"] == "budget" and final["trials"] == 2
    refit = next(e for e in events if e["type"] == "phase_started" and e["phase"] == "refit")
    assert refit["networks"] == final["ensemble_size"] >= 1     # k networks train again
    assert 0.0 <= final["metrics"]["auc"] <= 1.0
    assert final["metrics"]["gini"] == pytest.approx(2 * final["metrics"]["auc"] - 1)

    project = root / "proj"
    meta = json.loads((project / "project.json").read_text())
    assert meta["format_version"] == 1 and meta["status"] == "finished"
    assert meta["task"]["classes"] == ["good", "bad"]     # positive ("bad") class last
    assert meta["split"]["files"] == {name: f"data/{name}.parquet"
                                      for name in ("train", "validation", "test")}
    for name in ("train", "validation", "test"):
        assert (project / "data" / f"{name}.parquet").is_file()
    assert (project / "models" / "best.keras").is_file()
    assert not (project / "models" / "final.keras").exists()      # --no-final-fit
    assert meta["config"]["final_fit"] is False
    assert (project / "search").is_dir()
    logged = [json.loads(x)["type"] for x in (project / "events.jsonl").read_text().splitlines()]
    assert logged[-1] == "search_finished" and logged.count("trial_ended") == 2

    card = json.loads((root / "out" / "model_card.json").read_text())
    assert card["classes"] == ["good", "bad"] and card["positive_class"] == "bad"
    assert 0.0 < card["threshold"] < 1.0
    assert {(i["column"], i["dtype"]) for i in card["inputs"]} == {
        ("Income", "float32"), ("Age", "float32"), ("Home", "string")}
    assert card["verified"]["max_abs_difference"] <= 1e-5
    assert {"tensorflow", "keras", "keras_tuner"} <= set(card["versions"])
    assert (root / "out" / "model_card.md").read_text().startswith("# Model card")
    assert (root / "out" / "saved_model.pb").is_file()

    # predict (a fresh process loading the SavedModel) reproduces the in-memory test scores
    test_rows = Project.open(project).load_split()["test"].drop(columns=["Status"])
    test_rows.to_csv(root / "new.csv", index=False)
    r = run_cli("predict", "out", "new.csv", "--output", "scored.csv", cwd=root)
    assert r.code == 0, r.stderr
    scored = pd.read_csv(root / "scored.csv")
    assert list(scored.columns) == [*test_rows.columns, "predicted_label", "probability_good",
                                    "probability_bad"]
    evaluation = json.loads((project / "models" / "evaluation.json").read_text())
    expected = np.array(evaluation["test"]["scores"])
    np.testing.assert_allclose(scored[["probability_good", "probability_bad"]].to_numpy(),
                               expected, atol=1e-5)
    labels = np.where(expected[:, 1] >= card["threshold"], "bad", "good")
    assert (scored["predicted_label"].to_numpy() == labels).all()

    # TensorFlow's own output goes to worker logs, never to the terminal, and dlstudio.log
    # (DL Studio's tracebacks only) is not even made: the search's to the project's worker.log,
    # predict's (no project) to the user's.
    for result in (credit_run[1], r):
        assert not any(mark in result.stderr for mark in TF_MARKS), result.stderr
    home = root / ".dlstudio-home"        # run_cli's DLSTUDIO_HOME
    assert not (home / "logs" / "dlstudio.log").exists()
    assert not (project / "logs" / "dlstudio.log").exists()
    for log in (project / "logs" / "worker.log", home / "logs" / "worker.log"):
        assert log.is_file() and log.stat().st_size > 0, log


def test_recurrent_text_network_end_to_end_and_exported(cli, tmp_path, reviews_csv):
    """The bidirectional recurrent network (opt-in, issue 10) is searched, learns the tiny texts,
    and the run's export writes it as a SavedModel that takes raw text (reloaded and checked in
    a fresh process before it is written; one process less than a separate `dlstudio export`)."""
    r = cli("run", reviews_csv, "--template", "sentiment", "--text-architectures", "rnn",
            "--max-trials", "1", "--max-epochs", "12", "--seed", "1", "--project", "p", "--json",
            "--export", "out")
    assert r.code == 0, r.stderr
    trial = next(e for e in r.json_lines() if e["type"] == "trial_started")
    assert trial["hyperparameters"]["text_model"] == "rnn"
    assert trial["hyperparameters"]["rnn_cell"] in ("gru", "lstm")
    card = json.loads((tmp_path / "out" / "model_card.json").read_text())
    assert card["metrics"]["accuracy"] > 0.7
    assert card["hyperparameters"]["text_model"] == "rnn"
    assert card["inputs"] == [{"column": "review", "input": "review", "dtype": "string",
                               "role": "text"}]


def test_sentiment_on_texts_end_to_end(cli, tmp_path, reviews_csv):
    r = cli("run", reviews_csv, "--template", "sentiment", "--max-trials", "2", "--max-epochs",
            "12", "--seed", "1", "--project", "p", "--export", "out")
    assert r.code == 0, r.stderr
    assert "Search finished" in r.stdout
    card = json.loads((tmp_path / "out" / "model_card.json").read_text())
    assert card["inputs"] == [{"column": "review", "input": "review", "dtype": "string",
                               "role": "text"}]
    assert set(card["metrics"]) >= {"accuracy", "f1_macro"}
    assert card["metrics"]["accuracy"] > 0.7      # the words decide the label: easy to learn
    # Which words matter (issue 14): the top words each way are the ones that decide the label.
    report = EvaluationReport.from_dict(
        json.loads((tmp_path / "p" / "models" / "evaluation.json").read_text()))
    words = report.word_importance["review"]
    for cls, deciding in (("positive", POSITIVE), ("negative", NEGATIVE)):
        top = [w["ngram"] for w in words[cls] if w["effect"] > 0][:3]
        assert len(top) == 3 and set(top) <= set(deciding), (cls, words[cls])
    assert "Finding the words that move the predictions" in r.stdout
    # A two-class text task (MULTICLASS with two labels) has a ROC curve too.
    assert report.task is TaskType.MULTICLASS and report.classes == ["negative", "positive"]
    assert report.roc is not None and len(report.roc["fpr"]) == len(report.roc["tpr"]) > 2
    assert report.pr_curve is not None and len(report.pr_curve["recall"]) > 2
    assert [c["class"] for c in report.per_class] == ["negative", "positive"]
    assert sum(c["support"] for c in report.per_class) == len(report.test["y_true"])
    # Example rows per class, right then wrong, most confident first, each with its own words
    # that moved its predicted class: those that raised it (strongest first), then those that
    # lowered it (strongest first). (Which words a two-trial model leans on row by row is its
    # own business: explain's tests check the words on a scorer whose words are known.)
    for cls in ("negative", "positive"):
        rows = [e for e in report.examples if e["true"] == cls]
        right = [e for e in rows if e["correct"]]
        assert 1 <= len(right) <= 2 and rows[:len(right)] == right
        for group in (right, rows[len(right):]):
            assert [e["probability"] for e in group] == sorted(
                (e["probability"] for e in group), reverse=True)
        for e in rows:
            assert e["words_for"] == e["predicted"] and (e["predicted"] == cls) == e["correct"]
            effects = [w["effect"] for w in e["words"]["review"]]
            up, down = [v for v in effects if v > 0], [v for v in effects if v < 0]
            assert effects and effects == up + down
            assert up == sorted(up, reverse=True) and down == sorted(down)
            assert {w["word"] for w in e["words"]["review"]} <= set(tokens(e["row"]["review"]))
    pd.DataFrame({"review": ["Lovely fresh tea, excellent.", "Awful stale box, refund."]}) \
        .to_csv(tmp_path / "new.csv", index=False)
    r = cli("predict", "out", "new.csv", "--output", "pred.csv", "--explain")
    assert r.code == 0, r.stderr
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert {"predicted_label", "probability_negative", "probability_positive"} <= set(pred)
    np.testing.assert_allclose(pred[["probability_negative", "probability_positive"]].sum(1), 1,
                               atol=1e-5)
    # --explain: each row's own words that raise its predicted class most, e.g. "fresh (+0.2)".
    assert list(pred["predicted_label"]) == ["positive", "negative"]
    for row, deciding in ((0, POSITIVE), (1, NEGATIVE)):
        top = pred["words_review"][row].split("; ")[0].split(" (+")[0]
        assert top in deciding, pred["words_review"][row]


def test_a_table_with_a_text_column_ranks_its_columns_and_its_words(cli, tmp_path):
    texts, labels = review_texts(200, seed=2)
    noise = np.random.default_rng(2).normal(size=len(texts)).round(3)
    pd.DataFrame({"review": texts, "noise": noise, "sentiment": labels}).to_csv(
        tmp_path / "table.csv", index=False)
    r = cli("run", "table.csv", "--template", "tabular-classification", "--target", "sentiment",
            "--text-column", "review", "--max-trials", "1", "--max-epochs", "8", "--seed", "1",
            "--project", "p")
    assert r.code == 0, r.stderr
    report = EvaluationReport.from_dict(
        json.loads((tmp_path / "p" / "models" / "evaluation.json").read_text()))
    assert [f["column"] for f in report.feature_importance] == ["review", "noise"]
    top = [w["ngram"] for w in report.word_importance["review"]["positive"] if w["effect"] > 0]
    assert top and top[0] in POSITIVE, report.word_importance


def test_text_classification_from_a_folder_of_texts(cli, tmp_path):
    rng = np.random.default_rng(3)
    topics = {"sport": "goal match team score player", "food": "bread soup taste recipe cook",
              "tech": "laptop code screen battery chip"}
    for topic, words in topics.items():
        (tmp_path / "texts" / topic).mkdir(parents=True)
        for i in range(30):
            text = " ".join(rng.choice([*words.split(), "the", "a", "today"], 9))
            (tmp_path / "texts" / topic / f"{i}.txt").write_text(text)
    r = cli("run", "texts", "--template", "text-classification", *TINY, "--project", "p",
            "--export", "out", "--json")
    assert r.code == 0, r.stderr
    final = r.json_lines()[-1]
    assert final["type"] == "search_finished"
    card = json.loads((tmp_path / "out" / "model_card.json").read_text())
    assert card["classes"] == ["food", "sport", "tech"] and card["target"] == "label"


def test_tabular_classification_three_classes(cli, tmp_path):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(240, 2))
    kind = np.where(x[:, 0] > 0.5, "A", np.where(x[:, 1] > 0, "B", "C"))
    pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "colour": rng.choice(["r", "g"], 240),
                  "class": kind}).to_csv(tmp_path / "d.csv", index=False)
    r = cli("run", "d.csv", "--template", "tabular-classification", *TINY, "--project", "p",
            "--export", "out")
    assert r.code == 0, r.stderr
    evaluation = json.loads((tmp_path / "p" / "models" / "evaluation.json").read_text())
    assert evaluation["classes"] == ["A", "B", "C"]
    assert np.array(evaluation["confusion_matrix"]).shape == (3, 3)
    assert {f["column"] for f in evaluation["feature_importance"]} == {"x1", "x2", "colour"}
    assert evaluation["feature_importance"][-1]["column"] == "colour"   # pure noise


# -- a user's mistakes: exit code 2, one plain line on stderr, no traceback ------------------

def _assert_user_error(r, *words: str) -> None:
    assert r.code == 2, (r.code, r.stderr)
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    assert r.stderr.strip().count("\n") == 0, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(("content", "extra", "words"), [
    ("", (), ["empty"]),
    ("Income,Home,Status\n", (), ["no rows"]),
    ("Income,Home\n" + "1,rent\n" * 30, ("--target", "Status"), ["Status"]),
    ("Income,Status\n" + "".join(f"{i},good\n" for i in range(30)), (), ["only one value"]),
    ("Income,Status\n" + "".join(f"{i},{'bad' if i % 5 == 0 else ''}\n" for i in range(40)), (),
     ["empty"]),
    ("Income,Status\n" + "".join(f"{i},{'bad' if i < 2 else 'good'}\n" for i in range(40)), (),
     ["bad"]),
], ids=["empty-file", "no-rows", "missing-target", "constant-target", "mostly-empty-target",
        "too-few-per-class"])
def test_data_errors_exit_2_with_a_plain_message(cli, tmp_path, content, extra, words):
    path = _write(tmp_path, "d.csv", content)
    r = cli("run", path, "--template", "credit-scoring", *extra, *TINY, "--project", "p")
    _assert_user_error(r, *words)


def test_an_unreadable_file_exits_2(cli, tmp_path):
    (tmp_path / "photo.csv").write_bytes(bytes(range(256)) * 40)
    r = cli("run", "photo.csv", "--template", "credit-scoring", *TINY, "--project", "p")
    _assert_user_error(r, "photo.csv")
    r = cli("inspect", "photo.csv", "--json")
    _assert_user_error(r, "photo.csv")


def test_unknown_template_and_missing_file_exit_2(cli, tmp_path, credit_csv):
    _assert_user_error(cli("run", credit_csv, "--template", "nope"), "nope", "credit-scoring")
    _assert_user_error(cli("run", "missing.csv", "--template", "sentiment"), "missing.csv")
    _assert_user_error(cli("run", credit_csv), "--template")
    _assert_user_error(cli("predict", tmp_path, credit_csv, "--output", "x.csv"), "export")


def test_run_refuses_a_folder_that_holds_another_project(cli, tmp_path, credit_csv):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "project.json").write_text('{"format_version": 1}')
    r = cli("run", credit_csv, "--template", "credit-scoring", "--project", "p", *TINY)
    _assert_user_error(r, "already holds", "resume")
    assert (tmp_path / "p" / "project.json").read_text() == '{"format_version": 1}'
    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "notes.txt").write_text("mine")
    r = cli("run", credit_csv, "--template", "credit-scoring", "--project", "q", *TINY)
    _assert_user_error(r, "not empty")
    assert (tmp_path / "q" / "notes.txt").read_text() == "mine"


def test_predict_names_the_columns_the_data_lacks(credit_run):
    root, _ = credit_run
    pd.DataFrame({"Income": [1.0]}).to_csv(root / "partial.csv", index=False)
    r = run_cli("predict", "out", "partial.csv", "--output", "x.csv", cwd=root)
    _assert_user_error(r, "Home", "Age")
    assert not (root / "x.csv").exists()


def test_export_uses_the_threshold_the_user_chose(credit_run):
    root, _ = credit_run
    project = _copy_project(root, "proj-threshold", previous_release=True)
    meta = json.loads((project / "project.json").read_text())
    meta["decision"] = {"threshold": 0.97, "chosen_by": "user"}
    (project / "project.json").write_text(json.dumps(meta))
    worker_log = project / "logs" / "worker.log"
    before = worker_log.stat().st_size
    r = run_cli("export", project.name, "out2", cwd=root)
    assert r.code == 0, r.stderr
    # TensorFlow's output from `export` goes to the project's worker log, not the terminal.
    assert not any(mark in r.stderr for mark in TF_MARKS), r.stderr
    assert worker_log.stat().st_size > before
    assert not (project / "logs" / "dlstudio.log").exists()
    card = json.loads((root / "out2" / "model_card.json").read_text())
    assert card["threshold"] == pytest.approx(0.97) and "user" in card["threshold_rule"]
    test_rows = pd.read_csv(project / "data" / "test.csv")
    test_rows.to_csv(root / "t.csv", index=False)
    assert run_cli("predict", "out2", "t.csv", "--output", "s.csv", cwd=root).code == 0
    scored = pd.read_csv(root / "s.csv")
    expected = np.where(scored["probability_bad"] >= 0.97, "bad", "good")
    assert (scored["predicted_label"] == expected).all()
    recorded = json.loads((project / "project.json").read_text())["export"]
    assert recorded["export_dir"] == str((root / "out2").resolve())


def _poison_weights(keras_file: Path) -> None:
    """Every floating-point weight of a saved model set to NaN (a .keras file is a zip that
    holds model.weights.h5): a model whose export the verification must refuse."""
    import zipfile

    import h5py

    with zipfile.ZipFile(keras_file) as z:
        members = {name: z.read(name) for name in z.namelist()}
    weights = keras_file.with_name("weights.h5")
    weights.write_bytes(members["model.weights.h5"])
    with h5py.File(weights, "r+") as f:
        def poison(_name: str, item) -> None:
            if isinstance(item, h5py.Dataset) and item.dtype.kind == "f":
                item[...] = np.nan
        f.visititems(poison)
    members["model.weights.h5"] = weights.read_bytes()
    weights.unlink()
    with zipfile.ZipFile(keras_file, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def test_export_refused_by_its_verification_says_why_in_a_sentence(credit_run):
    """A refusal of the export's verification is the user's to read: one sentence and exit 2,
    not 'internal error' (the converter's or verifier's details go to the project's log)."""
    root, _ = credit_run
    project = _copy_project(root, "proj-refused")
    _poison_weights(project / "models" / "best.keras")
    r = run_cli("export", project.name, "out-refused", cwd=root)
    _assert_user_error(r)
    assert "internal error" not in r.stderr
    assert ("not numbers" in r.stderr or "different labels" in r.stderr
            or "differ from the trained model" in r.stderr), r.stderr
    assert not (root / "out-refused" / "saved_model.pb").exists()
    assert "ExportRefused" in (project / "logs" / "dlstudio.log").read_text()


def test_time_limit_ends_the_search_between_epochs(cli, tmp_path, credit_csv):
    started = time.monotonic()
    r = cli("run", credit_csv, "--template", "credit-scoring", "--max-trials", "50",
            "--max-epochs", "200", "--time-limit", "4", "--project", "p", "--json")
    took = time.monotonic() - started
    assert r.code == 0, r.stderr
    final = r.json_lines()[-1]
    assert final["type"] == "search_finished" and final["reason"] == "time"
    assert 1 <= final["trials"] < 50
    assert took < 120, f"a 4 s search took {took:.0f} s"
    assert json.loads((tmp_path / "p" / "project.json").read_text())["status"] == "stopped"


def test_random_tuner_without_project_makes_a_folder_in_the_current_directory(
        cli, tmp_path, credit_csv):
    """One run checks two things: the random tuner (reported in the human output) and the
    project folder made in the current directory when --project is not given."""
    r = cli("run", credit_csv, "--template", "credit-scoring", "--tuner", "random",
            "--max-trials", "2", "--max-epochs", "2")
    assert r.code == 0, r.stderr
    made = [p for p in tmp_path.iterdir() if p.name.startswith("dlstudio-credit-scoring-")]
    assert len(made) == 1 and (made[0] / "project.json").is_file()
    assert str(made[0]) in r.stdout
    assert "Searching with random for the best" in r.stdout
    assert "Search finished: 2 trials" in r.stdout
    assert json.loads((made[0] / "project.json").read_text())["config"]["tuner"] == "random"


def test_hyperband_tuner(cli, credit_csv):
    r = cli("run", credit_csv, "--template", "credit-scoring", "--tuner", "hyperband",
            "--max-trials", "2", "--max-epochs", "2", "--project", "p", "--json")
    assert r.code == 0, r.stderr
    events = r.json_lines()
    assert events[0]["type"] in ("log", "search_started")
    assert next(e for e in events if e["type"] == "search_started")["tuner"] == "hyperband"
    assert events[-1]["type"] == "search_finished" and events[-1]["trials"] == 2


def test_resume_cli_on_a_finished_search_reruns_no_trial(credit_run):
    root, _ = credit_run
    project = _copy_project(root, "proj-resume", previous_release=True)
    r = run_cli("resume", project.name, "--export", "out-resumed", "--json", cwd=root)
    assert r.code == 0, r.stderr
    events = r.json_lines()
    assert not [e for e in events if e["type"] == "trial_started"]
    started = next(e for e in events if e["type"] == "search_started")
    assert started["completed_trials"] == 2
    assert events[-1]["type"] == "search_finished" and events[-1]["trials"] == 2
    assert events[-1]["export_dir"] == str((root / "out-resumed").resolve())
    assert (root / "out-resumed" / "saved_model.pb").is_file()
    _assert_user_error(run_cli("resume", "out", cwd=root), "not a DL Studio project")


def test_ctrl_c_stops_gracefully_after_the_current_epoch(tmp_path):
    """Ctrl+C reaches the whole foreground process group, worker included."""
    import os
    import signal
    import subprocess
    import sys

    credit_frame(1000, seed=4).to_csv(tmp_path / "c.csv", index=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlstudio.cli", "run", "c.csv", "--template", "credit-scoring",
         "--max-trials", "20", "--max-epochs", "50", "--project", "p", "--json"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        events = []
        for line in proc.stdout:
            events.append(json.loads(line))
            if events[-1]["type"] == "epoch_ended":
                os.killpg(proc.pid, signal.SIGINT)       # what a terminal's Ctrl+C does
                break
        events += [json.loads(line) for line in proc.stdout]
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert events[-1]["type"] == "search_finished" and events[-1]["reason"] == "stopped"
    assert events[-1]["trials"] < 20


def test_a_table_mixing_numbers_many_categories_and_text(cli, tmp_path):
    """Numbers, a category with many values (an embedding) and free text in one model."""
    rng = np.random.default_rng(6)
    n = 300
    city = rng.integers(0, 60, n)
    words = np.where(rng.random(n) < 0.5, "late payment again", "paid on time as usual")
    pd.DataFrame({"amount": rng.normal(size=n), "city": [f"c{i}" for i in city],
                  "comment": [f"{w}, customer {i}" for i, w in enumerate(words)],
                  "label": np.where(words == "late payment again", "risky", "fine")}) \
        .to_csv(tmp_path / "m.csv", index=False)
    r = cli("run", "m.csv", "--template", "tabular-classification", "--target", "label",
            "--max-trials", "2", "--max-epochs", "4", "--project", "p", "--export", "out")
    assert r.code == 0, r.stderr
    card = json.loads((tmp_path / "out" / "model_card.json").read_text())
    assert {i["column"]: i["role"] for i in card["inputs"]} == {
        "amount": "numeric", "city": "categorical", "comment": "text"}
    pd.DataFrame({"amount": [0.1], "city": ["c999"], "comment": ["late payment again"]}) \
        .to_csv(tmp_path / "new.csv", index=False)      # an unseen city goes to the OOV slot
    r = cli("predict", "out", "new.csv", "--output", "pred.csv")
    assert r.code == 0, r.stderr
    assert pd.read_csv(tmp_path / "pred.csv")["predicted_label"].iloc[0] in ("risky", "fine")
