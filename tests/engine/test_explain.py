"""Word importance by occlusion (`engine/explain.py`) on a scorer whose words are known, and the
curves and examples that fit each task (`engine/evaluate.py`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from dlstudio.engine.evaluate import MAX_PLOT_POINTS, evaluate, pick_examples
from dlstudio.engine.explain import row_word_effects, row_words, tokens, word_importance
from dlstudio.engine.templates import TaskType

GOOD, BAD = {"great": 0.3, "fresh": 0.1}, {"awful": 0.35}


def predict(frame: pd.DataFrame) -> np.ndarray:
    """A known scorer: P(positive) = 0.5 + the weights of the words present."""
    p = np.array([0.5 + sum(GOOD.get(w, 0) - BAD.get(w, 0) for w in set(tokens(t)))
                  for t in frame["review"]])
    p = np.clip(p, 0, 1)
    return np.column_stack([1 - p, p])


def test_occlusion_ranks_the_words_that_move_a_known_scorer():
    texts = ["Great tea!", "the tea was awful.", "Fresh, great coffee", "awful coffee",
             "the coffee", "fresh tea, the best", "AWFUL, awful box"] * 3
    frame = pd.DataFrame({"review": texts, "n": range(len(texts))})
    calls = []
    words, altered = word_importance(lambda f: calls.append(len(f)) or predict(f), frame,
                                     ["review"], ["negative", "positive"])
    assert len(calls) == 2                         # the originals, then all altered texts at once
    assert altered == calls[1] == sum(len(set(tokens(t))) for t in texts)
    pos = words["review"]["positive"]
    towards = [r["ngram"] for r in pos if r["effect"] > 0]
    away = [r["ngram"] for r in pos if r["effect"] < 0]
    assert towards == ["great", "fresh"] and away == ["awful"]
    assert pos[0] == {"ngram": "great", "effect": 0.3, "texts": 6}
    assert [r["ngram"] for r in words["review"]["negative"] if r["effect"] > 0] == ["awful"]
    # Words in fewer than min_texts texts ("best" is in 3) are left out.
    words, _ = word_importance(predict, frame, ["review"], ["negative", "positive"], min_texts=4)
    assert "best" not in {r["ngram"] for rows in words["review"].values() for r in rows}


def test_each_row_lists_its_own_words_that_raise_its_predicted_class():
    frame = pd.DataFrame({"review": ["Fresh and great!", "awful tea", "the tea", None]})
    chosen = np.argmax(predict(frame), axis=1)          # positive, negative, (tie), (tie)
    words = row_words(predict, frame, ["review"], chosen)["review"]
    assert words == ["great (+0.300); fresh (+0.100)", "awful (+0.350)", "", ""]


def test_each_row_gets_the_signed_effect_of_every_word():
    frame = pd.DataFrame({"review": ["great but awful", "the tea"]})
    effects = row_word_effects(predict, frame, ["review"], np.array([1, 1]))["review"]
    assert effects[0] == [("great", pytest.approx(0.3)), ("but", 0.0),
                          ("awful", pytest.approx(-0.35))]
    assert [e for _, e in effects[1]] == [0.0, 0.0]


# -- charts and examples that fit the task (evaluate.py) ------------------------------------------

def test_two_classes_get_roc_and_precision_recall_curves_and_per_class_metrics():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.5 + (y - 0.5) * 0.4 + rng.normal(0, 0.2, 300), 0, 1)
    out = np.column_stack([1 - p, p])
    for task, threshold in ((TaskType.BINARY, 0.7), (TaskType.MULTICLASS, None)):
        report = evaluate(task, ["no", "yes"], y, out, threshold=threshold)
        pr = report.pr_curve
        assert pr is not None and len(pr["recall"]) == len(pr["precision"]) == \
            len(pr["thresholds"]) > 10
        assert pr["recall"][0] == 1.0 and pr["recall"][-1] == 0.0
        assert pr["precision"][-1] == 1.0
        pred = (p >= 0.7) if threshold else (p >= 0.5)
        yes = report.per_class[1]
        assert yes == {"class": "yes", "precision": pytest.approx(precision_score(y, pred)),
                       "recall": pytest.approx(recall_score(y, pred)),
                       "f1": pytest.approx(f1_score(y, pred)), "support": int(y.sum())}
        assert report.residuals is None
    # One class only among the test rows: no curve to draw.
    assert evaluate(TaskType.BINARY, ["no", "yes"], np.ones(5, int), out[:5],
                    threshold=0.5).pr_curve is None


def test_regression_keeps_its_residuals_and_picks_the_closest_and_furthest_rows():
    y = np.arange(10.0)
    pred = y + np.array([0, 3, -1, 0.5, 0, 0, -6, 0.1, 2, 0])
    report = evaluate(TaskType.REGRESSION, [], y, pred)
    assert report.residuals == {"actual": list(y), "predicted": list(pred),
                                "residual": list(y - pred)}
    assert report.pr_curve is None and report.per_class == []
    assert pick_examples(TaskType.REGRESSION, y, pred, None) == [0, 4, 5, 6, 1, 8]
    big = np.arange(5000.0)
    assert len(evaluate(TaskType.REGRESSION, [], big, big)
               .residuals["residual"]) == MAX_PLOT_POINTS


def test_examples_are_right_and_wrong_rows_per_class_most_confident_first():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 2])
    out = np.array([[.9, .05, .05], [.6, .3, .1], [.2, .7, .1], [.1, .1, .8],     # class 0
                    [.1, .8, .1], [.5, .4, .1], [.3, .6, .1],                      # class 1
                    [.1, .1, .8]])                                                 # class 2
    # Class 0: right 0 (.9), 1 (.6); wrong 3 (.8), 2 (.7). Class 1: right 4, 6; wrong 5.
    assert pick_examples(TaskType.MULTICLASS, y, out, None) == [0, 1, 3, 2, 4, 6, 5, 7]
    assert pick_examples(TaskType.MULTICLASS, y, out, None, max_rows=6) == [0, 3, 4, 5, 7]
    # Binary: the threshold decides what is right.
    yb, p = np.array([1, 1, 0, 0]), np.array([0.9, 0.4, 0.45, 0.1])
    outb = np.column_stack([1 - p, p])
    assert pick_examples(TaskType.BINARY, yb, outb, 0.5) == [3, 2, 0, 1]
    assert pick_examples(TaskType.BINARY, yb, outb, 0.95) == [3, 2, 1, 0]
