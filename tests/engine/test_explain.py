"""Word importance by occlusion (`engine/explain.py`) on a scorer whose words are known."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlstudio.engine.explain import row_words, tokens, word_importance

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
