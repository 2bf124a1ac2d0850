"""Which words matter: occlusion of the most frequent words of each text column.

For each text column, the most frequent words of at most `max_rows` rows are taken out, one at a
time, of the texts that contain them; all the altered texts are predicted in one model call, and
the change in each class's predicted probability (or in the predicted value) is averaged over
those texts. A positive effect means the word pushes the model towards that class.

Pure NumPy/pandas: the model's predictions are passed in as a function, so this module needs no
TensorFlow.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

# TextVectorization's default standardisation: lower case, then strip this punctuation.
_PUNCTUATION = re.compile(r"[!\"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~']")
MAX_ROWS = 2000
TOP_WORDS = 300
MIN_TEXTS = 3
MAX_TEXTS_PER_WORD = 400      # a word's effect is averaged over at most this many texts
TOP_EACH_WAY = 15


def tokens(text: Any) -> list[str]:
    """The words of a text as the model's TextVectorization sees them."""
    if not isinstance(text, str):
        return []
    return _PUNCTUATION.sub("", text.lower()).split()


def word_importance(predict: Callable[[pd.DataFrame], np.ndarray], frame: pd.DataFrame,
                    text_columns: list[str], outputs: list[str], *, seed: int = 0,
                    max_rows: int = MAX_ROWS, top_words: int = TOP_WORDS,
                    min_texts: int = MIN_TEXTS, top_each_way: int = TOP_EACH_WAY,
                    max_texts_per_word: int = MAX_TEXTS_PER_WORD,
                    ) -> tuple[dict[str, dict[str, list[dict[str, Any]]]], int]:
    """{text column: {output: [{"ngram", "effect", "texts"}, ...]}} and how many altered rows
    were predicted.

    `predict` maps a frame of raw columns to [N, K] probabilities or [N] values; `outputs` names
    the K columns (the classes) or the one value. Each output's list holds the `top_each_way`
    words with the largest positive effect, then the `top_each_way` with the most negative
    effect, each sorted from the strongest; words in fewer than `min_texts` texts are left out.
    "texts" is how many of the rows contain the word; its effect is averaged over at most
    `max_texts_per_word` of them.
    """
    if len(frame) > max_rows:
        frame = frame.sample(max_rows, random_state=seed)
    frame = frame.reset_index(drop=True)
    base = np.asarray(predict(frame), dtype=float).reshape(len(frame), -1)

    result: dict[str, dict[str, list[dict[str, Any]]]] = {}
    altered_total = 0
    for column in text_columns:
        words_of = [tokens(t) for t in frame[column]]
        sets = [set(ws) for ws in words_of]
        df = Counter(w for s in sets for w in s)
        candidates = [w for w, n in df.most_common(top_words) if n >= min_texts]
        if not candidates:
            result[column] = {o: [] for o in outputs}
            continue
        rows: list[int] = []
        texts: list[str] = []
        owner: list[int] = []
        for j, word in enumerate(candidates):
            holders = [i for i, s in enumerate(sets) if word in s][:max_texts_per_word]
            for i in holders:
                rows.append(i)
                texts.append(" ".join(w for w in words_of[i] if w != word))
                owner.append(j)
        altered = frame.iloc[rows].reset_index(drop=True)
        altered[column] = texts
        out = np.asarray(predict(altered), dtype=float).reshape(len(altered), -1)
        altered_total += len(altered)
        # Effect of the word = prediction with it - prediction without it.
        delta = base[np.asarray(rows)] - out
        owner_a = np.asarray(owner)
        counts = np.bincount(owner_a, minlength=len(candidates))
        sums = np.stack([np.bincount(owner_a, weights=delta[:, k], minlength=len(candidates))
                         for k in range(delta.shape[1])], axis=1)
        means = sums / np.maximum(counts, 1)[:, None]
        per_output: dict[str, list[dict[str, Any]]] = {}
        for k, name in enumerate(outputs[:means.shape[1]]):
            order = np.argsort(-means[:, k], kind="stable")
            up = [j for j in order[:top_each_way] if means[j, k] > 0]
            down = [j for j in order[::-1][:top_each_way] if means[j, k] < 0]
            per_output[name] = [{"ngram": candidates[j], "effect": round(float(means[j, k]), 6),
                                 "texts": int(df[candidates[j]])} for j in [*up, *down]]
        result[column] = per_output
    return result, altered_total


def row_word_effects(predict: Callable[[pd.DataFrame], np.ndarray], frame: pd.DataFrame,
                     text_columns: list[str], chosen: np.ndarray, *, max_words: int = 60,
                     ) -> dict[str, list[list[tuple[str, float]]]]:
    """{text column: one list per row of (word, effect)}, strongest first: each distinct word of
    the row (at most `max_words`) is taken out in turn, and its effect is how much the output
    `chosen[row]` (a class's probability, or the prediction) drops without it (> 0: the word
    raised it). All the altered rows are predicted in one call."""
    frame = frame.reset_index(drop=True)
    chosen = np.asarray(chosen, dtype=int)
    base = np.asarray(predict(frame), dtype=float).reshape(len(frame), -1)
    result: dict[str, list[list[tuple[str, float]]]] = {}
    for column in text_columns:
        rows: list[int] = []
        texts: list[str] = []
        removed: list[str] = []
        for i, text in enumerate(frame[column]):
            words = tokens(text)
            for word in list(dict.fromkeys(words))[:max_words]:
                rows.append(i)
                texts.append(" ".join(w for w in words if w != word))
                removed.append(word)
        per_row: list[list[tuple[str, float]]] = [[] for _ in range(len(frame))]
        if rows:
            altered = frame.iloc[rows].reset_index(drop=True)
            altered[column] = texts
            out = np.asarray(predict(altered), dtype=float).reshape(len(altered), -1)
            idx = np.asarray(rows)
            effect = base[idx, chosen[idx]] - out[np.arange(len(idx)), chosen[idx]]
            for i, e, w in zip(rows, effect, removed, strict=True):
                per_row[i].append((w, float(e)))
            for pairs in per_row:
                pairs.sort(key=lambda p: -p[1])
        result[column] = per_row
    return result


def row_words(predict: Callable[[pd.DataFrame], np.ndarray], frame: pd.DataFrame,
              text_columns: list[str], chosen: np.ndarray, *, top: int = 3,
              max_words: int = 60) -> dict[str, list[str]]:
    """{text column: one string per row}: the row's own words whose removal lowers the output
    `chosen[row]` (the predicted class's probability, or the prediction) most, strongest first,
    as "word (+0.123); ..." (see `row_word_effects`)."""
    effects = row_word_effects(predict, frame, text_columns, chosen, max_words=max_words)
    return {column: ["; ".join([f"{w} (+{e:.3f})" for w, e in pairs if e > 0][:top])
                     for pairs in rows]
            for column, rows in effects.items()}
