"""The shareable HTML report (issue 11), on real projects made by tiny runs: every section is
there and says something, the charts are embedded PNGs, nothing is loaded from outside, user
strings are escaped, the numbers are the project's own, and bad input gets one plain line."""

from __future__ import annotations

import base64
import json
import shutil
import struct
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlstudio.engine.errors import ConfigError
from dlstudio.engine.report import SECTIONS, build_report, write_report
from studio_data import NEGATIVE, POSITIVE, credit_frame, review_texts, run_cli

TINY = ("--max-trials", "2", "--max-epochs", "3", "--seed", "1")
ODD = 'Income <b>€</b> & "net"'        # a column name that is also markup
PNG = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """What a reader (or a browser) finds in the report: sections, their text, images, links."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: dict[str, dict] = {}
        self.current: dict | None = None
        self.tags: list[str] = []
        self.links: list[str] = []
        self.sources: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if a.get("href") is not None:
            self.links.append(a["href"] or "")
        if a.get("src") is not None:
            self.sources.append(a["src"] or "")
        if tag == "section":
            self.current = {"text": "", "images": [], "tables": 0, "why": 0, "h2": ""}
            self.sections[a["id"] or ""] = self.current
        elif self.current is not None:
            if tag == "img":
                self.current["images"].append((a.get("src") or "", a.get("alt") or ""))
            elif tag == "table":
                self.current["tables"] += 1
            elif tag == "p" and a.get("class") == "why":
                self.current["why"] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.current is not None:
            self.current["text"] += data


def png_size(src: str) -> tuple[int, int]:
    """Width and height of an embedded PNG (from its IHDR chunk), after checking it is one."""
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:40]
    data = base64.b64decode(src[len(prefix):], validate=True)
    assert data[:8] == PNG and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def check_page(text: str) -> Page:
    """What every report must be: all sections, each with something to show or a sentence
    saying why not; images embedded; no script; nothing loaded from elsewhere."""
    page = Page(text)
    assert list(page.sections) == [sid for sid, _ in SECTIONS]
    for sid, section in page.sections.items():
        shows = section["images"] or section["tables"] or section["why"]
        assert shows and len(section["text"].strip()) > 40, (sid, section["text"][:200])
    assert "script" not in page.tags and "iframe" not in page.tags and "link" not in page.tags
    assert all(link.startswith("#") for link in page.links), page.links
    assert all(src.startswith("data:image/png;base64,") for src in page.sources)
    for src in page.sources:
        width, height = png_size(src)
        assert width > 300 and height > 150
    return page


def credit_with_notes() -> pd.DataFrame:
    """The tests' credit table with a free-text column whose words carry the answer, and a
    column name that is markup."""
    df = credit_frame()
    rng = np.random.default_rng(5)
    notes = []
    for status in df["Status"]:
        words = [*rng.choice(["the", "client", "asked", "about", "loan", "today"], 5),
                 rng.choice(NEGATIVE if status == "bad" else POSITIVE)]
        rng.shuffle(words)
        notes.append(" ".join(words))
    return df.assign(Notes=notes).rename(columns={"Income": ODD})


@pytest.fixture(scope="module")
def credit_run(tmp_path_factory) -> Path:
    """A tiny credit-scoring run with a text column, exported (and so verified)."""
    root = tmp_path_factory.mktemp("report-credit")
    credit_with_notes().to_csv(root / "credit.csv", index=False)
    r = run_cli("run", "credit.csv", "--template", "credit-scoring", "--text-column", "Notes",
                *TINY, "--project", "proj", "--export", "out", cwd=root)
    assert r.code == 0, r.stderr
    return root


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_report_of_a_credit_project_shows_every_part_with_embedded_charts(credit_run):
    root = credit_run
    r = run_cli("report", "proj", cwd=root)
    assert r.code == 0, r.stderr
    path = root / "proj" / "report.html"        # by default, in the project folder
    assert str(path) in r.stdout
    text = path.read_text(encoding="utf-8")
    page = check_page(text)
    s = page.sections
    evaluation = read(root / "proj" / "models" / "evaluation.json")
    meta = read(root / "proj" / "project.json")
    card = read(root / "out" / "model_card.json")

    # The column named like markup is shown as text, never as markup.
    assert ODD not in text and html_escaped(ODD) in text
    assert ODD in s["profile"]["text"] and ODD in s["importance"]["images"][0][1]
    # Data profile: every column with its role; the target's classes in each split.
    for column in meta["schema"]["columns"]:
        assert column["name"] in s["profile"]["text"]
    assert "Warnings about the data" in s["profile"]["text"]
    assert len(s["profile"]["images"]) == 1
    # Template and budget.
    assert "credit-scoring" in s["setup"]["text"] and "up to 2 networks" in s["setup"]["text"]
    # Leaderboard: both trials, the best first with its hyper-parameters.
    best = meta["best"]
    board = s["leaderboard"]["text"]
    assert board.count("completed") == 1          # two trials: the best and one other
    for name, value in best["hyperparameters"].items():
        if not name.startswith("tuner/") and isinstance(value, str):
            assert f"{name} = {value}" in board
    # Learning curves of the best trial.
    (curves,) = s["curves"]["images"]
    assert f"trial {best['trial_id']} over 3 epochs" in curves[1]
    # Test metrics, as evaluation.json has them.
    for value in evaluation["metrics"].values():
        assert f"{value:.4f}" in s["metrics"]["text"]
    # Confusion matrix at the engine's threshold: the engine's counts.
    for row in evaluation["confusion_matrix"]:
        for v in row:
            assert f"{v:,} (" in s["confusion"]["text"]
    # ROC with the chosen threshold, and the cost settings of credit scoring.
    # A two-class task also has its precision-recall curve, after the ROC.
    roc, pr = s["roc"]["images"]
    assert "Precision-recall curve" in pr[1]
    assert f"at the threshold {evaluation['threshold']:.3f}" in roc[1]
    assert "What the mistakes cost" in s["roc"]["text"]
    assert "Total cost on the test rows at this threshold" in s["roc"]["text"]
    # Feature importance: every input column is ranked.
    (importance,) = s["importance"]["images"]
    for f in evaluation["feature_importance"]:
        assert f["column"] in importance[1]
    # Words of the text column: the words that push towards 'bad' are the bad words.
    (words,) = s["words"]["images"]
    top = words[1].split("push towards bad: ")[1].split(",")[0]
    assert top in NEGATIVE, words[1]
    # Model card and the verified artefact.
    assert card["versions"]["tensorflow"] in s["card"]["text"]
    for spec in card["inputs"]:
        assert spec["column"] in s["card"]["text"] and spec["input"] in s["card"]["text"]
    (saved,) = card["artifacts"]                  # exported as a SavedModel only
    assert saved["format"] == "savedmodel" and saved["verified"]
    assert saved["note"] in s["artifacts"]["text"]
    assert str(saved["rows"]) in s["artifacts"]["text"]
    assert "saved_model.pb" in s["artifacts"]["text"]
    # The headline states the test metrics the template reports.
    assert f"ROC AUC {evaluation['metrics']['auc']:.4f}" in text


def html_escaped(text: str) -> str:
    import html
    return html.escape(text, quote=True)


def test_the_report_follows_the_threshold_and_costs_it_is_given(credit_run):
    evaluation = read(credit_run / "proj" / "models" / "evaluation.json")
    y = np.array(evaluation["test"]["y_true"])
    p = np.array(evaluation["test"]["scores"])[:, 1]      # column 1: 'bad', the positive class
    threshold = float(np.quantile(p, 0.7))
    assert abs(threshold - evaluation["threshold"]) > 1e-6
    text, images = build_report(credit_run / "proj", threshold=threshold,
                                costs={"false_approval": 5.0, "false_rejection": 1.0})
    page = check_page(text)
    flagged = p >= threshold
    tp, fn = int(np.sum((y == "bad") & flagged)), int(np.sum((y == "bad") & ~flagged))
    fp, tn = int(np.sum((y == "good") & flagged)), int(np.sum((y == "good") & ~flagged))
    confusion = page.sections["confusion"]["text"]
    assert f"At the threshold {threshold:.3f} (as set on the Results page)" in confusion
    n = len(y)
    # Rows true good, true bad; columns predicted good, predicted bad.
    for v in (tn, fp, fn, tp):
        assert f"{v:,} ({v / n:.0%})" in confusion
    roc = page.sections["roc"]["text"]
    assert f"Total cost on the test rows at this threshold{5 * fn + fp:,.2f}" in roc
    assert images == len(page.sources)


def test_a_project_not_yet_exported_says_so(credit_run, tmp_path):
    project = tmp_path / "copy"
    shutil.copytree(credit_run / "proj", project)
    meta = read(project / "project.json")
    meta["export"] = None
    (project / "project.json").write_text(json.dumps(meta), encoding="utf-8")
    result = write_report(project, tmp_path / "not exported.html")
    assert result["bytes"] == (tmp_path / "not exported.html").stat().st_size
    page = check_page((tmp_path / "not exported.html").read_text(encoding="utf-8"))
    for sid in ("card", "artifacts"):
        assert page.sections[sid]["why"] == 1 and page.sections[sid]["tables"] == 0
    assert "not been exported" in page.sections["card"]["text"]


def test_bad_input_gets_a_plain_message(credit_run, tmp_path):
    not_run = tmp_path / "not-run"
    shutil.copytree(credit_run / "proj", not_run)
    (not_run / "models" / "evaluation.json").unlink()
    r = run_cli("report", not_run, "--output", "r.html", cwd=tmp_path)
    assert r.code == 2 and r.stdout == ""
    assert r.stderr.startswith("dlstudio: ") and r.stderr.count("\n") == 1, r.stderr
    assert "no finished run yet" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r.html").exists()

    (tmp_path / "a-file").write_text("x")
    cases = [
        (tmp_path / "missing", tmp_path / "r.html", "does not exist"),
        (tmp_path / "a-file", tmp_path / "r.html", "not a DL Studio project folder"),
        (credit_run / "proj", tmp_path, "is a folder; give the report a file name"),
        (credit_run / "proj", tmp_path / "a-file" / "r.html", "cannot be written to .*is a file"),
    ]
    for project, output, words in cases:
        with pytest.raises(ConfigError, match=words):
            write_report(project, output)


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory) -> Path:
    """A tiny regression run on a table with a number and a text column, not exported."""
    root = tmp_path_factory.mktemp("report-regression")
    texts, labels = review_texts(150, seed=4)
    x = np.random.default_rng(4).normal(size=len(texts)).round(3)
    y = 3 * x + np.where(np.array(labels) == "positive", 2.0, -2.0)
    pd.DataFrame({"review": texts, "x": x, "price": y.round(3)}).to_csv(
        root / "prices.csv", index=False)
    r = run_cli("run", "prices.csv", "--template", "tabular-regression", "--target", "price",
                "--text-column", "review", "--max-trials", "1", "--max-epochs", "2",
                "--seed", "1", "--project", "proj", cwd=root)
    assert r.code == 0, r.stderr
    return root


def test_the_report_of_a_regression_project(regression_run):
    text, _ = build_report(regression_run / "proj")
    page = check_page(text)
    s = page.sections
    assert "predicts a number" in s["confusion"]["text"] and s["confusion"]["why"] == 1
    assert "Predicted against true values" in text
    (scatter,) = s["roc"]["images"]
    assert "Predicted against true values on" in scatter[1] and "residuals" in scatter[1]
    (spread,) = s["profile"]["images"]
    assert "Distribution of price" in spread[1]
    (words,) = s["words"]["images"]
    assert "Words of review that raise price" in words[1]
    assert s["card"]["why"] == 1


def test_the_results_page_saves_the_report_it_shows(credit_run, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from dlstudio.engine.project import Project
    from dlstudio.ui import dialogs
    from dlstudio.ui.results_page import ResultsPage
    from dlstudio.ui.state import WizardState

    messages: list[tuple[str, str, str]] = []
    monkeypatch.setattr(dialogs, "NONINTERACTIVE", messages)
    asked: list[str] = []

    def save_as(parent, caption, default, filters):
        asked.append(default)
        return str(tmp_path / "for the bank.html"), filters

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save_as))
    state = WizardState()
    page = ResultsPage(state)
    qtbot.addWidget(page)
    page.report_button.click()                      # no project yet: a plain warning
    assert [m[0] for m in messages] == ["warning"] and "no results" in messages[0][2]
    assert asked == []

    state.load_from_project(Project.open(credit_run / "proj"))
    page.reload()
    page.set_threshold(0.8)                         # the user moved the slider
    with qtbot.waitSignal(page.report_finished, timeout=120_000) as done:
        page.report_button.click()
    assert done.args == [True], messages
    assert asked == [str(credit_run / "proj" / "report.html")]
    saved = tmp_path / "for the bank.html"
    assert messages[-1][0] == "info" and str(saved) in messages[-1][2]
    report = check_page(saved.read_text(encoding="utf-8"))
    assert "At the threshold 0.800 (as set on the Results page)" in \
        report.sections["confusion"]["text"]
    assert page.report_button.isEnabled()


def test_fields_other_parts_add_later_are_shown_when_present(credit_run, tmp_path):
    """evaluation.json may gain a precision-recall curve and per-class metrics, and the model
    card a list of artefacts (TFLite, ONNX, ...): shown when there, as the contracts say."""
    from sklearn.metrics import precision_recall_curve

    project, export = tmp_path / "proj", tmp_path / "out"
    shutil.copytree(credit_run / "proj", project)
    shutil.copytree(credit_run / "out", export)
    meta = read(project / "project.json")
    meta["export"]["model_card"] = str(export / "model_card.json")
    (project / "project.json").write_text(json.dumps(meta), encoding="utf-8")
    evaluation = read(project / "models" / "evaluation.json")
    y = np.array(evaluation["test"]["y_true"]) == "bad"
    precision, recall, _ = precision_recall_curve(y, np.array(evaluation["test"]["scores"])[:, 1])
    evaluation["pr_curve"] = {"precision": precision.tolist(), "recall": recall.tolist()}
    evaluation["per_class"] = {"good": {"precision": 0.81, "recall": 0.92},
                               "bad": {"precision": 0.7, "recall": 0.55}}
    (project / "models" / "evaluation.json").write_text(json.dumps(evaluation))
    card = read(export / "model_card.json")
    card["artifacts"] = [
        {"format": "SavedModel", "files": ["saved_model.pb", "variables/"],
         "runtime": "TensorFlow Serving", "verified": True, "rows": 200,
         "max_difference": 1e-7, "labels_equal": True, "note": ""},
        {"format": "TFLite <float16>", "files": ["model.tflite"], "runtime": "TensorFlow Lite",
         "verified": False, "rows": 200, "max_difference": 0.02, "labels_equal": False,
         "note": "labels differ on 3 rows"}]
    (export / "model_card.json").write_text(json.dumps(card))

    page = check_page(build_report(project)[0])
    s = page.sections
    (_, pr) = s["roc"]["images"]
    assert f"Precision-recall curve over {len(recall)} points" in pr[1]
    assert "Per class" in s["metrics"]["text"] and "0.5500" in s["metrics"]["text"]
    artifacts = s["artifacts"]["text"]
    assert "TFLite <float16>" in artifacts and "labels differ on 3 rows" in artifacts
    assert "model.tflite" in artifacts and "TensorFlow Lite" in artifacts
    assert str(export) in artifacts
