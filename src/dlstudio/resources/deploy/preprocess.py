"""Raw rows -> the inputs of the exported network core (`core.onnx`, `core.tflite`).

Written by DL Studio beside `preprocessing.json`; needs NumPy only. It does what the layers at
the front of the trained Keras model do (missing numbers, normalisation, category and word
vocabularies, word and character n-grams, counts and TF-IDF weights, sequence length), so
that a runtime without TensorFlow's string and table operations (onnxruntime,
ai-edge-litert) can run the rest of the network. For an ensemble (the average of several
networks) the core holds every network, and the steps are those of each network, a step they
share written once; such a step lists the networks it feeds (`members`), for reading only.

    import preprocess
    spec = preprocess.load_spec("preprocessing.json")
    inputs = preprocess.preprocess({"Income": [52.0, None], "Home": ["rent", ""]}, spec)
    probabilities = <run the core on inputs>
    labels = preprocess.labels(probabilities, spec)

Rows are given per column, keyed by the names in `spec["inputs"]`: numbers (None, NaN or an
infinite value = missing) and strings ("" or None = missing).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

# ASCII letters only: TensorFlow's tf.strings.lower (used by TextVectorization) leaves other
# letters as they are.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_WHITESPACE = re.compile(r"[ \t\n\r\v\f]+")


def load_spec(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _numbers(values: Any) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in np.asarray(values, dtype=object)
                     .reshape(-1)], dtype=np.float64).astype(np.float32)


def _strings(values: Any) -> list[str]:
    out = []
    for v in np.asarray(values, dtype=object).reshape(-1):
        if v is None:
            out.append("")
        elif isinstance(v, bytes):
            out.append(v.decode("utf-8"))
        else:
            out.append(str(v))
    return out


def _numeric(step: dict[str, Any], rows: dict[str, Any]) -> np.ndarray:
    x = np.stack([_numbers(rows[c]) for c in step["columns"]], axis=1)
    missing = ~np.isfinite(x)
    filled = np.where(missing, np.asarray(step["fill"], dtype=np.float32), x)
    scaled = (filled - np.asarray(step["mean"], dtype=np.float32)) / np.asarray(
        step["std"], dtype=np.float32)
    return np.concatenate([scaled, missing.astype(np.float32)], axis=1).astype(np.float32)


def _index(vocabulary: list[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, token in enumerate(vocabulary):
        index.setdefault(token, i)
    return index


def _encode(ids: list[list[int]], step: dict[str, Any]) -> np.ndarray:
    size = len(step["vocabulary"])
    if step["mode"] in ("one_hot", "multi_hot"):
        out = np.zeros((len(ids), size), dtype=np.float32)
        for r, row in enumerate(ids):
            for i in row:
                if i != step.get("mask_index"):
                    out[r, i] = 1.0
        return out
    if step["mode"] in ("count", "tf_idf"):
        out = np.zeros((len(ids), size), dtype=np.float32)
        for r, row in enumerate(ids):
            for i in row:
                if i != step.get("mask_index"):
                    out[r, i] += 1.0
        if step["mode"] == "tf_idf":     # counts times the layer's idf weights, in float32
            out = out * np.asarray(step["idf"], dtype=np.float32)
        return out
    length = step.get("sequence_length") or max((len(row) for row in ids), default=0)
    out = np.zeros((len(ids), length), dtype=np.int64)
    for r, row in enumerate(ids):
        row = row[:length]
        out[r, :len(row)] = row
    return out


def _lookup(step: dict[str, Any], rows: dict[str, Any]) -> np.ndarray:
    index = _index(step["vocabulary"])
    ids = [[index.get(s, step["oov_index"])] for s in _strings(rows[step["column"]])]
    return _encode(ids, step)


def _tokens(text: str, step: dict[str, Any]) -> list[str]:
    """TextVectorization's tokens: standardise, split on whitespace (tf.strings.split) or
    into Unicode code points, spaces included (tf.strings.unicode_split), then the n-grams of
    each width, their parts joined by one space (tf.strings.ngrams, separator " ")."""
    if step["lowercase"]:
        text = text.translate(_ASCII_LOWER)
    if step["strip_regex"]:
        text = re.sub(step["strip_regex"], "", text)
    if step.get("split", "whitespace") == "character":
        words = list(text)
    else:
        words = [w for w in _WHITESPACE.split(text) if w]
    tokens: list[str] = []
    for n in step["ngrams"]:
        tokens += [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
    return tokens


def _text(step: dict[str, Any], rows: dict[str, Any]) -> np.ndarray:
    index = _index(step["vocabulary"])
    ids = [[index.get(t, step["oov_index"]) for t in _tokens(s, step)]
           for s in _strings(rows[step["column"]])]
    return _encode(ids, step)


_STEPS = {"numeric": _numeric, "lookup": _lookup, "text": _text}


def preprocess(rows: dict[str, Any], spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """The core's inputs, by name, for raw `rows` (one list or array per input column)."""
    missing = [s["input"] for s in spec["inputs"] if s["input"] not in rows]
    if missing:
        raise KeyError(f"Rows lack the input(s) {', '.join(missing)}; "
                       f"expected {', '.join(s['input'] for s in spec['inputs'])}.")
    out = {}
    for step in spec["steps"]:
        value = _STEPS[step["kind"]](step, rows)
        shape = [len(value) if d is None else d for d in step["shape"]]
        out[step["name"]] = value.reshape(shape).astype(step["dtype"])
    return out


def labels(outputs: np.ndarray, spec: dict[str, Any]) -> list[str] | None:
    """The predicted class of each row from the core's `probabilities` ([N, K], `classes`
    order); None for a regression. A two-class task with a threshold predicts the last class
    at or above it, as the SavedModel does; otherwise the most probable class."""
    classes = spec["classes"]
    if not classes:
        return None
    p = np.asarray(outputs)
    if spec.get("threshold") is not None and p.shape[1] == 2:
        return [classes[int(v >= spec["threshold"])] for v in p[:, 1]]
    return [classes[int(i)] for i in np.argmax(p, axis=1)]
