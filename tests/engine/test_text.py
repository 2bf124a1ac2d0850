"""Text features inside the model (issue 10): word and character n-grams weighted by sub-linear
TF-IDF, as the first trial's configuration, read back in NumPy from the layers' own settings (what
an export to TFLite/ONNX must reproduce), and the sequence length the sequence models read."""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from dlstudio.engine.features import FeatureSpec
from dlstudio.engine.hypermodel import (
    CHAR_NGRAMS,
    StudioHyperModel,
    TrainingStats,
    batches,
    make_rows,
    predict,
    sequence_length,
)
from dlstudio.engine.schema import Role
from dlstudio.engine.templates import TaskType, get_template
from dlstudio.engine.tf import keras, kt
from studio_data import review_texts

PUNCTUATION = re.compile(r"[!\"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~']")


@pytest.fixture(scope="module")
def text_model():
    texts, labels = review_texts(120, seed=3)
    texts[0] = "Great TEA!! The box, really fresh :) "        # case, punctuation, spaces
    df = pd.DataFrame({"review": texts})
    y = np.array([lab == "positive" for lab in labels], dtype=int)
    spec = FeatureSpec("review", "review", Role.TEXT, "string")
    stats = TrainingStats.from_training(df, [spec], y, TaskType.MULTICLASS, 2)
    hypermodel = StudioHyperModel(stats, get_template("sentiment"), seed=0)
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)          # no values set: the first trial's configuration
    return hypermodel, hp, model, df, y


def test_the_first_trial_is_words_beside_characters_with_sublinear_tf_idf(text_model):
    _, hp, model, _, _ = text_model
    assert {k: hp.values[k] for k in ("text_model", "bag_ngrams", "bag_weighting",
                                      "bag_char_ngrams", "layers")} == {
        "text_model": "bag", "bag_ngrams": 2, "bag_weighting": "nb_sublinear_tf_idf",
        "bag_char_ngrams": True, "layers": 0}
    assert hp.values["learning_rate"] == pytest.approx(1e-2)
    names = {layer.name for layer in model.layers}
    assert {"review_ngrams", "review_tf_idf", "review_l2", "review_char_ngrams",
            "review_char_tf_idf", "review_char_l2", "review_words_and_chars"} <= names
    # A linear bag has no dropout over its (up to 210,000) features, nor a "dropout" to search;
    # with a hidden layer, both.
    assert "dropout" not in names and not hp.is_active("dropout")
    deeper = kt.HyperParameters()
    deeper.values.update({**hp.values, "layers": 1})
    assert "dropout" in {layer.name for layer in text_model[0].build(deeper).layers}
    assert deeper.is_active("dropout") and deeper.values["dropout"] > 0


def test_predictions_of_a_wide_bag_are_made_in_calls_of_fewer_rows():
    """8192 rows of a bag of 200,000 features would be 6.5 GB of floats per step of the model;
    `predict` asks for fewer rows per call, members of an ensemble included."""
    from dlstudio.engine.hypermodel import PREDICT_CHUNK_FLOATS, rows_per_call, text_width

    words = [f"w{i}" for i in range(200_000)]
    text = keras.Input(shape=(1,), dtype="string", name="t")
    bag = keras.layers.TextVectorization(vocabulary=words, output_mode="multi_hot")(text)
    member = keras.Model(text, keras.layers.Dense(1)(keras.ops.cast(bag, "float32")))
    outer = keras.Input(shape=(1,), dtype="string", name="t")
    ensemble = keras.Model(outer, member(outer))
    assert text_width(member) == text_width(ensemble) == 200_001     # and the OOV column
    assert rows_per_call(ensemble, 8192) == PREDICT_CHUNK_FLOATS // 200_001 < 8192
    numbers = keras.Input(shape=(3,))
    assert rows_per_call(keras.Model(numbers, keras.layers.Dense(1)(numbers)), 8192) == 8192


def _numpy_bag(texts, vectorizer, weighting) -> np.ndarray:
    """The bag of one TextVectorization followed by SublinearTfIdf and unit length, computed
    from nothing but the layers' configurations and weights."""
    cfg = vectorizer.get_config()
    vocab = vectorizer.get_vocabulary()     # column 0: "[UNK]", then the n-grams
    index = {t: i for i, t in enumerate(vocab)}
    idf = np.asarray(weighting.idf)
    out = np.zeros((len(texts), len(vocab)))
    for row, text in enumerate(texts):
        if cfg["split"] == "character":
            parts = list(text.lower())
        else:
            parts = PUNCTUATION.sub("", text.lower()).split()
        widths = cfg["ngrams"] if isinstance(cfg["ngrams"], (list, tuple)) else \
            range(1, cfg["ngrams"] + 1)
        grams = Counter(" ".join(parts[i:i + n]) for n in widths
                        for i in range(len(parts) - n + 1))
        for gram, count in grams.items():
            out[row, index.get(gram, 0)] += count
    weighted = np.where(out > 0, 1 + np.log(np.maximum(out, 1)), 0) * idf
    return weighted / np.maximum(np.linalg.norm(weighted, axis=1, keepdims=True), 1e-12)


def test_the_bag_is_reproduced_in_numpy_from_the_layers(text_model):
    _, _, model, df, _ = text_model
    features = keras.Model(model.inputs, model.get_layer("review_words_and_chars").output)
    texts = [*df["review"][:20], "Unseen wordz, zany!", ""]
    got = predict(features, {"review": np.array(texts, dtype=object).reshape(-1, 1)})
    words = _numpy_bag(texts, model.get_layer("review_ngrams"), model.get_layer("review_tf_idf"))
    chars = _numpy_bag(texts, model.get_layer("review_char_ngrams"),
                       model.get_layer("review_char_tf_idf"))
    assert model.get_layer("review_char_ngrams").get_config()["ngrams"] == CHAR_NGRAMS
    np.testing.assert_allclose(got, np.concatenate([words, chars], axis=1), atol=1e-5)
    # idf follows Keras' formula on the training texts; unknown tokens weigh nothing. With two
    # classes the first trial multiplies it by |NB log-count ratio| of the column.
    hypermodel, hp, _, _, y = text_model
    vectorizer = model.get_layer("review_ngrams")
    plain = np.asarray(hypermodel._idf("review", hp.values["bag_max_tokens"], 2))
    assert plain[0] == 0 and math.isclose(plain.max(), math.log1p(len(df) / 2), rel_tol=1e-6)
    hot = np.asarray(keras.layers.TextVectorization(
        vocabulary=vectorizer.get_vocabulary()[1:], ngrams=2, output_mode="multi_hot")(
        df["review"].to_numpy()))
    p, q = 1 + hot[y == 1].sum(axis=0), 1 + hot[y == 0].sum(axis=0)
    ratio = np.abs(np.log(p / p.sum()) - np.log(q / q.sum()))
    np.testing.assert_allclose(model.get_layer("review_tf_idf").idf, plain * ratio, rtol=1e-5)


def test_the_other_weightings_build_and_tf_idf_learns(text_model):
    hypermodel, _, _, df, y = text_model
    hp = kt.HyperParameters()
    hp.values.update({"bag_weighting": "multi_hot", "bag_char_ngrams": False})
    names = {layer.name for layer in hypermodel.build(hp).layers}
    assert "review_bag" in names and "review_char_ngrams" not in names
    hp = kt.HyperParameters()
    hp.values.update({"bag_weighting": "tf_idf"})     # Keras' own tf_idf mode, with characters
    keras.utils.set_random_seed(0)
    model = hypermodel.build(hp)
    assert model.get_layer("review_char_ngrams").get_config()["output_mode"] == "tf_idf"
    rows = make_rows({"review": df[["review"]].to_numpy().astype(object)}, y)
    history = hypermodel.fit(hp, model, rows, validation_data=rows, epochs=6, verbose=0)
    assert max(history.history["val_accuracy"]) > 0.9, history.history


def test_sequence_length_follows_the_texts():
    assert sequence_length(np.array(["a b c"] * 100)) == 16                  # at least 16
    lengths = [" ".join(["w"] * n) for n in range(1, 101)]                  # 1..100 words
    assert sequence_length(np.array(lengths)) == 96                         # 95 % -> 95, x8
    assert sequence_length(np.array([" ".join(["w"] * 5000)] * 10)) == 400  # at most 400


def _trained_on_raw_text(hypermodel, hp, rows):
    """The network of `hp` trained 2 epochs the slow way: raw text through the whole model
    every batch, in the batches `fit` would use."""
    keras.utils.set_random_seed(0)
    model = hypermodel.build(hp)
    model.fit(batches(rows, hp.values["batch_size"], shuffle_seed=hypermodel.seed), epochs=2,
              shuffle=False, verbose=0)
    return model


def _assert_same_weights(a, b) -> None:
    for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(x, y, atol=1e-5)


def test_fit_trains_on_features_vectorised_once_and_the_model_still_reads_text(text_model,
                                                                              monkeypatch):
    """`fit` vectorises each split once and trains the layers after the preprocessing on the
    cached features; the same network trained the slow way (raw text through the whole model
    every batch) ends with the same weights, and callbacks see the whole model."""
    hypermodel, hp, _, df, y = text_model
    # 120 rows: too few to pay for vectorising once (an epoch costs less) ...
    rows = make_rows({"review": df[["review"]].to_numpy().astype(object)}, y)
    hypermodel.fit(hp, hypermodel.build(hp), rows, epochs=1, verbose=0)
    assert not hasattr(rows, "_text_features")
    monkeypatch.setattr(hypermodel, "cached_text_min_rows", 0)   # ... so it is asked for here
    seen = []

    class Watch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.model)

    keras.utils.set_random_seed(0)
    fast = hypermodel.build(hp)
    hypermodel.fit(hp, fast, rows, validation_data=rows, epochs=2, verbose=0,
                   callbacks=[Watch()])
    assert seen == [fast, fast]
    assert len(rows._text_features) == 1           # the features of one setting, cached
    slow = _trained_on_raw_text(hypermodel, hp, rows)
    _assert_same_weights(fast, slow)
    raw = {"review": df[["review"]].to_numpy().astype(object)}
    np.testing.assert_allclose(predict(fast, raw), predict(slow, raw), atol=1e-5)

    # The search's rows are views into tensors shared with other rows (`Rows.part`): the
    # features and targets are the view's own, not the first rows of the shared tensors.
    texts = raw["review"]
    shared = make_rows({"review": np.concatenate([texts[::-1], texts])},
                       np.concatenate([1 - y[::-1], y]))
    view = shared.part(len(texts), 2 * len(texts))
    keras.utils.set_random_seed(0)
    on_view = hypermodel.build(hp)
    hypermodel.fit(hp, on_view, view, validation_data=view, epochs=2, verbose=0)
    _assert_same_weights(on_view, slow)


def test_two_text_columns_train_on_sparse_features_as_on_raw_text(monkeypatch):
    """Two text columns: the cached features of both are sparse batches joined inside the
    network; training on them ends as training on the raw texts does."""
    texts, labels = review_texts(80, seed=5)
    df = pd.DataFrame({"title": [t.split(".")[0] for t in texts], "review": texts})
    y = np.array([lab == "positive" for lab in labels], dtype=int)
    specs = [FeatureSpec(c, c, Role.TEXT, "string") for c in df.columns]
    stats = TrainingStats.from_training(df, specs, y, TaskType.MULTICLASS, 2)
    hypermodel = StudioHyperModel(stats, get_template("sentiment"), seed=0)
    monkeypatch.setattr(hypermodel, "cached_text_min_rows", 0)
    hp = kt.HyperParameters()
    hypermodel.build(hp)
    rows = make_rows({c: df[[c]].to_numpy().astype(object) for c in df.columns}, y)
    keras.utils.set_random_seed(0)
    fast = hypermodel.build(hp)
    hypermodel.fit(hp, fast, rows, validation_data=rows, epochs=2, verbose=0)
    assert len(rows._text_features) == 1
    _assert_same_weights(fast, _trained_on_raw_text(hypermodel, hp, rows))
