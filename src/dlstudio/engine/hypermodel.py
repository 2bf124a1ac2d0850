"""The searchable network: raw columns in, preprocessing inside, a dense head on top.

Numeric columns are imputed (with a missing-value indicator) and normalised, categorical columns
go through StringLookup (one-hot, or an embedding when there are many values), text columns
through TextVectorization: a bag of word n-grams beside character n-grams, weighted by
(sub-linear) TF-IDF; a 1-D convolution over word embeddings; or a bidirectional LSTM/GRU. All of
it is built from statistics of the training rows only, and lives inside the model, so the model
takes raw values and exports as is.
"""

from __future__ import annotations

import contextlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dlstudio.engine.config import DEFAULT_SEED
from dlstudio.engine.features import FeatureSpec, to_arrays
from dlstudio.engine.schema import Role
from dlstudio.engine.templates import TaskType, Template
from dlstudio.engine.tf import keras, kt, tf

ONE_HOT_MAX = 30          # categorical columns with more values get an embedding
VOCAB_MAX = 1000          # most frequent categorical values kept; the rest share one OOV slot

SMALL_BATCH_SIZES = (32, 64, 128, 256)   # what a table of up to ~25,000 training rows searches
MAX_BATCH_SIZE = 4096
BASE_LEARNING_RATE = 1e-3                # the default learning rate at batch size 32
MAX_LEARNING_RATE_SCALE = 4.0
STEPS_PER_EXECUTION = 32                 # batches per call into TensorFlow (one Python step)

# Text. The bag's defaults (its first trial) are the strongest configuration measured on the
# benchmark's text sets (benchmarks/RESULTS.md): word 1-2-grams beside character 2-5-grams, each
# weighted by sub-linear TF-IDF (with two classes, times the naive-Bayes log-count ratio) and
# scaled to unit length, straight into the output layer.
TEXT_ARCHITECTURES = ("bag", "cnn", "rnn")
DEFAULT_TEXT_ARCHITECTURES = ("bag", "cnn")   # the recurrent one is opt-in: see README
TEXT_WEIGHTINGS = ("sublinear_tf_idf", "tf_idf", "multi_hot")
NB_WEIGHTING = "nb_sublinear_tf_idf"     # two classes only: times |NB log-count ratio|
BAG_LEARNING_RATE = 1e-2     # the bag's first trial: unit-length TF-IDF into a linear layer
CHAR_NGRAMS = (2, 3, 4, 5)
CACHED_TEXT_MIN_ROWS = 1000    # fewer training rows: raw text through the whole model
# The bag's vocabularies: the most frequent word 1-2-grams and character 2-5-grams. Larger ones
# scored higher on the film snippets (text_configs.py, one network, three splits: 20,000 +
# 30,000 -> 60,000 + 150,000 raised test accuracy 0.004-0.010) and cost little once a linear
# bag has no dropout over its inputs (see `build`).
# A table with a text column keeps the smaller ones: it trains on raw rows through the whole
# model (no cached sparse features), where every batch holds its bag dense.
WORD_MAX_TOKENS = 60000
CHAR_MAX_TOKENS = 150000
TABLE_WORD_MAX_TOKENS = 20000
TABLE_CHAR_MAX_TOKENS = 30000
PREDICT_CHUNK_FLOATS = 1 << 25   # predicting, rows per call x text features stays below this
SEQUENCE_QUANTILE = 0.95                 # sequence models read this share of texts whole
MAX_SEQUENCE_LENGTH = 400


def _pow2_floor(x: float) -> int:
    return 1 << max(0, int(x).bit_length() - 1)


def batch_size_choices(rows: int, scale: int = 1) -> list[int]:
    """The batch sizes to search for `rows` training rows, smallest (the default) first.

    Small tables search 32..256. Large ones search powers of two from about rows/500 to rows/100,
    at most MAX_BATCH_SIZE: an epoch is then a few hundred to a thousand steps whatever the size
    of the table, instead of 20,000 steps of 32 rows on a million rows. `scale` (a power of two)
    multiplies both ends: a GPU's larger batches (`device.GPU_BATCH_SCALE`)."""
    lo = min(MAX_BATCH_SIZE, scale * max(SMALL_BATCH_SIZES[0], _pow2_floor(rows / 500)))
    hi = min(MAX_BATCH_SIZE, scale * max(SMALL_BATCH_SIZES[-1], _pow2_floor(rows / 100)))
    return [b for b in (1 << i for i in range(5, 13)) if lo <= b <= hi]


def learning_rate_scale(batch_size: int) -> float:
    """How much larger a learning rate suits `batch_size` than batch size 32: sqrt(batch/32),
    at most MAX_LEARNING_RATE_SCALE (larger batches average out more noise per step)."""
    return min(MAX_LEARNING_RATE_SCALE, (max(batch_size, 32) / 32) ** 0.5)


@keras.saving.register_keras_serializable(package="dlstudio")
class NumericEncoder(keras.layers.Layer):
    """[N, k] raw floats (NaN = missing) -> [N, 2k]: normalised values and missing flags.

    Missing values are replaced by the training median before normalising, and a 0/1 flag per
    column tells the network which values were missing. Infinite values (inf, -inf) count as
    missing too, so a served model never lets one through to its outputs.
    """

    def __init__(self, fill: list[float], mean: list[float], std: list[float], **kwargs):
        super().__init__(**kwargs)
        self.fill = [float(v) for v in fill]
        self.mean = [float(v) for v in mean]
        self.std = [float(v) for v in std]

    def call(self, x):
        x = keras.ops.cast(x, "float32")
        missing = keras.ops.logical_not(keras.ops.isfinite(x))
        filled = keras.ops.where(missing, keras.ops.convert_to_tensor(self.fill), x)
        scaled = (filled - keras.ops.convert_to_tensor(self.mean)) / keras.ops.convert_to_tensor(
            self.std)
        return keras.ops.concatenate([scaled, keras.ops.cast(missing, "float32")], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2 * input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "fill": self.fill, "mean": self.mean, "std": self.std}


@keras.saving.register_keras_serializable(package="dlstudio")
class ToFloat(keras.layers.Layer):
    """Casts to float32 (TextVectorization's multi-hot output is int64 in Keras 3)."""

    def call(self, x):
        return keras.ops.cast(x, "float32")


@keras.saving.register_keras_serializable(package="dlstudio")
class SublinearTfIdf(keras.layers.Layer):
    """[N, V] term counts -> [N, V] sub-linear TF-IDF: (1 + ln count) * idf where count > 0,
    else 0. `idf` has one weight per output column of the TextVectorization before it (column 0
    is its out-of-vocabulary slot)."""

    def __init__(self, idf: list[float], **kwargs):
        super().__init__(**kwargs)
        self.idf = [float(v) for v in idf]

    def call(self, x):
        x = keras.ops.cast(x, "float32")
        tf_ = keras.ops.where(x > 0, 1.0 + keras.ops.log(keras.ops.maximum(x, 1.0)), 0.0)
        return tf_ * keras.ops.convert_to_tensor(self.idf)

    def get_config(self):
        return {**super().get_config(), "idf": self.idf}


def sequence_length(texts: np.ndarray) -> int:
    """Tokens a sequence model reads: enough for SEQUENCE_QUANTILE of the training texts whole
    (whitespace words), rounded up to a multiple of 8, between 16 and MAX_SEQUENCE_LENGTH."""
    if len(texts) == 0:
        return 16
    counts = np.fromiter((len(str(t).split()) for t in texts), dtype=np.int64, count=len(texts))
    q = float(np.quantile(counts, SEQUENCE_QUANTILE))
    return int(min(MAX_SEQUENCE_LENGTH, max(16, 8 * -(-int(np.ceil(q)) // 8))))


@dataclass
class TrainingStats:
    """Everything the model's preprocessing learns, taken from the training rows only."""

    specs: list[FeatureSpec]
    task: TaskType
    n_classes: int
    class_counts: list[int] = field(default_factory=list)
    numeric: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # fill, mean, std
    vocab: dict[str, list[str]] = field(default_factory=dict)
    texts: dict[str, np.ndarray] = field(default_factory=dict)
    target_mean: float = 0.0
    target_std: float = 1.0
    rows: int = 0                      # training rows; the batch sizes searched follow it
    labels: np.ndarray | None = None   # class of each training row (for the text bag's NB ratio)

    @classmethod
    def from_training(cls, train: pd.DataFrame, specs: list[FeatureSpec], y: np.ndarray,
                      task: TaskType, n_classes: int) -> TrainingStats:
        arrays = to_arrays(train, specs)
        stats = cls(specs=specs, task=task, n_classes=n_classes, rows=len(train))
        for s in specs:
            values = arrays[s.key][:, 0]
            if s.role is Role.NUMERIC:
                finite = values[np.isfinite(values)]
                if finite.size == 0:
                    finite = np.zeros(1, dtype=np.float32)
                std = float(finite.std())
                stats.numeric[s.key] = (float(np.median(finite)), float(finite.mean()),
                                        std if std > 1e-12 else 1.0)
            elif s.role is Role.CATEGORICAL:
                counts = pd.Series(values).value_counts()
                stats.vocab[s.key] = [str(v) for v in counts.index[:VOCAB_MAX]]
            else:
                stats.texts[s.key] = values.astype(str)
        if task is TaskType.REGRESSION:
            stats.target_mean = float(np.mean(y))
            stats.target_std = float(np.std(y)) or 1.0
        else:
            stats.class_counts = np.bincount(y.astype(int), minlength=n_classes).tolist()
            stats.labels = y.astype(int)
        return stats

    @property
    def imbalance(self) -> float:
        counts = [c for c in self.class_counts if c > 0]
        return max(counts) / min(counts) if counts else 1.0


def compile_metrics(task: TaskType) -> list:
    if task is TaskType.BINARY:
        return [keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")]
    if task is TaskType.MULTICLASS:
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    return [keras.metrics.RootMeanSquaredError(name="rmse"),
            keras.metrics.MeanAbsoluteError(name="mae")]


class StudioHyperModel(kt.HyperModel):
    """Builds one candidate network per set of hyper-parameters."""

    def __init__(self, stats: TrainingStats, template: Template,
                 space: dict[str, Any] | None = None, seed: int = DEFAULT_SEED) -> None:
        super().__init__(name="dlstudio")
        self.stats = stats
        self.template = template
        self.space = {**template.search_space, **(space or {})}
        self.user_space = dict(space or {})
        self.seed = seed
        self._text_vocab: dict[tuple, list[str]] = {}
        self._text_idf: dict[tuple, list[float]] = {}
        self._sequence_length: dict[str, int] = {}
        # True while the tuner builds every branch only to learn the search space: text layers
        # then get a placeholder vocabulary instead of one learnt from the texts.
        self.declaring = False

    @contextmanager
    def declaring_space(self):
        self.declaring = True
        try:
            yield
        finally:
            self.declaring = False

    # -- search space -------------------------------------------------------------------------
    def _units_choices(self) -> list[int]:
        top = int(self.space.get("max_units", 256))
        return [u for u in (16, 32, 64, 128, 256, 512) if u <= top] or [16]

    batch_scale = 1       # larger batches on a GPU: set from `device.Device.batch_scale`
    # Text features are vectorised once per split (`fit_on_text_features`) from this many
    # training rows on: below it an epoch costs less than tracing the vectoriser.
    cached_text_min_rows = CACHED_TEXT_MIN_ROWS

    def batch_sizes(self) -> list[int]:
        return batch_size_choices(self.stats.rows, self.batch_scale)

    def learning_rate_range(self) -> tuple[float, float, float]:
        """(low, high, default) of the learning rate. The built-in and template bounds grow with
        the default batch size (see `learning_rate_scale`); bounds the user set stay as set."""
        scale = learning_rate_scale(self.batch_sizes()[0])
        lo = float(self.space.get("min_learning_rate", 1e-4))
        hi = float(self.space.get("max_learning_rate", 1e-2))
        if "min_learning_rate" not in self.user_space:
            lo *= scale
        if "max_learning_rate" not in self.user_space:
            hi *= scale
        lo = min(lo, hi)
        return lo, hi, min(max(BASE_LEARNING_RATE * scale, lo), hi)

    def _text_weightings(self) -> list[str]:
        """The bag's weightings, the default first. With two classes the default is sub-linear
        TF-IDF times the NB log-count ratio (see `_idf`): on the film-review snippets it beat
        plain sub-linear TF-IDF (benchmarks/RESULTS.md)."""
        two = self.stats.n_classes == 2 and self.stats.task is not TaskType.REGRESSION
        return [NB_WEIGHTING, *TEXT_WEIGHTINGS] if two else list(TEXT_WEIGHTINGS)

    def _text_architectures(self) -> list[str]:
        archs = [a for a in self.space.get("text_architectures", DEFAULT_TEXT_ARCHITECTURES)
                 if a in TEXT_ARCHITECTURES]
        return archs or ["bag"]

    # -- building -----------------------------------------------------------------------------
    def build(self, hp: kt.HyperParameters) -> keras.Model:
        inputs: dict[str, Any] = {}
        parts = []
        specs = self.stats.specs
        for s in specs:
            inputs[s.key] = keras.Input(shape=(1,), dtype=s.dtype, name=s.key)

        numeric = [s for s in specs if s.role is Role.NUMERIC]
        if numeric:
            # float32 even under mixed precision: raw values such as 400,000 overflow float16.
            x = (keras.layers.Concatenate(name="numeric_columns", dtype="float32")(
                [inputs[s.key] for s in numeric]) if len(numeric) > 1 else inputs[numeric[0].key])
            fill, mean, std = zip(*(self.stats.numeric[s.key] for s in numeric), strict=True)
            parts.append(NumericEncoder(list(fill), list(mean), list(std), name="numeric",
                                        dtype="float32")(x))

        for s in specs:
            if s.role is Role.CATEGORICAL:
                parts.append(self._categorical(s, inputs[s.key]))

        texts = [s for s in specs if s.role is Role.TEXT]
        if texts:
            arch = hp.Choice("text_model", self._text_architectures())
            for s in texts:
                parts.append(self._text(hp, arch, s, inputs[s.key]))

        x = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="features")(parts)
        text_task = self.template.modality == "text"
        max_layers = int(self.space.get("max_layers", 2 if text_task else 3))
        n_layers = hp.Int("layers", 0 if text_task else 1, max(1, max_layers),
                          default=0 if text_task else min(2, max(1, max_layers)))
        max_dropout = float(self.space.get("max_dropout", 0.5))
        batch_norm = hp.Boolean("batch_norm") if not text_task else False
        for i in range(n_layers):
            with hp.conditional_scope("layers", list(range(i + 1, max(1, max_layers) + 1))):
                choices = self._units_choices()
                units = hp.Choice(f"units_{i}", choices, default=64 if 64 in choices
                                  else choices[-1])
            x = keras.layers.Dense(units, use_bias=not batch_norm, name=f"dense_{i}")(x)
            if batch_norm:
                x = keras.layers.BatchNormalization(name=f"batch_norm_{i}")(x)
            x = keras.layers.Activation("relu", name=f"relu_{i}")(x)
        dropout = 0.0
        # A text model drops out hidden units only, so "dropout" is searched only when it has
        # some. Over a bag straight into the output layer (a linear model) it made no
        # difference on the film snippets (test accuracy 0.7908 with 0.1, 0.7904 without), and
        # drawing a mask over 210,000 features per row made each epoch four times as long
        # (text_configs.py); searched there it would only repeat networks.
        if max_dropout > 0 and (n_layers > 0 or not text_task):
            with (hp.conditional_scope("layers", list(range(1, max(1, max_layers) + 1)))
                  if text_task else contextlib.nullcontext()):
                dropout = hp.Float("dropout", 0.0, max_dropout, step=0.1,
                                   default=min(0.1, max_dropout))
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name="dropout")(x)
        outputs = self._output(x)

        model = keras.Model(inputs, outputs, name="dlstudio_model")
        sizes = self.batch_sizes()
        hp.Choice("batch_size", sizes, default=sizes[0])     # used by `fit`
        lo, hi, default = self.learning_rate_range()
        if texts and self._text_architectures()[0] == "bag":
            # Unit-length TF-IDF features need larger steps than Adam's usual 1e-3 to reach the
            # weights of a linear model within a short trial (benchmarks/text_configs.py).
            default = min(max(BAG_LEARNING_RATE, lo), hi)
        lr = hp.Float("learning_rate", lo, hi, sampling="log", default=default)
        loss = {TaskType.BINARY: "binary_crossentropy",
                TaskType.MULTICLASS: "sparse_categorical_crossentropy",
                TaskType.REGRESSION: "mean_squared_error"}[self.stats.task]
        # Several batches per call into TensorFlow: the per-step Python work of Keras would
        # otherwise dominate an epoch on the CPU. Callbacks still see every epoch.
        model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss,
                      metrics=compile_metrics(self.stats.task),
                      steps_per_execution=STEPS_PER_EXECUTION)
        return model

    def _categorical(self, s: FeatureSpec, x):
        vocab = self.stats.vocab[s.key]
        if len(vocab) <= ONE_HOT_MAX:
            return keras.layers.StringLookup(vocabulary=vocab, output_mode="one_hot",
                                             name=f"{s.key}_lookup")(x)
        ids = keras.layers.StringLookup(vocabulary=vocab, name=f"{s.key}_lookup")(x)
        dim = int(min(32, max(4, round(1.6 * len(vocab) ** 0.56))))
        emb = keras.layers.Embedding(len(vocab) + 1, dim, name=f"{s.key}_embedding")(ids)
        return keras.layers.Flatten(name=f"{s.key}_flat")(emb)

    @staticmethod
    def _vectorizer(split: str, ngrams, **kwargs):
        if split == "character":
            return keras.layers.TextVectorization(standardize="lower", split="character",
                                                  ngrams=ngrams, **kwargs)
        return keras.layers.TextVectorization(ngrams=ngrams, **kwargs)

    def _vocabulary(self, key: str, max_tokens: int, ngrams, split: str = "whitespace"
                    ) -> list[str]:
        # Adapting is the slow part of building a text model: do it once per setting, and reuse
        # it in every trial (and the refit) that asks for the same setting.
        if self.declaring:
            return ["[declaring]"]
        cache_key = (key, max_tokens, ngrams, split)
        if cache_key not in self._text_vocab:
            layer = self._vectorizer(split, ngrams, max_tokens=max_tokens)
            layer.adapt(tf.data.Dataset.from_tensor_slices(self.stats.texts[key]).batch(512))
            self._text_vocab[cache_key] = [t for t in layer.get_vocabulary()
                                           if t not in ("", "[UNK]")]
        return self._text_vocab[cache_key]

    def _idf(self, key: str, max_tokens: int, ngrams, split: str = "whitespace",
             nb: bool = False) -> list[float]:
        """Inverse document frequency of each output column of the bag (column 0: unknown
        tokens, weight 0), Keras' formula ln(1 + docs / (1 + docs with the term)). With `nb`
        (two classes), times the magnitude of the naive-Bayes log-count ratio of the column,
        |ln((1 + docs of class 1 with it) / (1 + docs of class 0 with it)) - ln(n1 / n0)|
        (n_c: the smoothed totals; Wang and Manning 2012), which weighs n-grams by how much
        they tell the classes apart."""
        if self.declaring:
            return [0.0, 1.0]
        cache_key = (key, max_tokens, ngrams, split)
        if cache_key not in self._text_idf:
            vocab = self._vocabulary(key, max_tokens, ngrams, split)
            layer = self._vectorizer(split, ngrams, vocabulary=vocab, output_mode="multi_hot")
            texts = self.stats.texts[key]
            labels = self.stats.labels
            df = np.zeros(len(vocab) + 1)
            df_class = np.zeros((2, len(vocab) + 1))
            # Rows per call: the multi-hot block is dense (1024 rows of 210,000 int64: 1.7 GB).
            step = max(64, min(1024, PREDICT_CHUNK_FLOATS // (len(vocab) + 1)))
            for start in range(0, len(texts), step):
                hot = np.asarray(layer(tf.constant(texts[start:start + step])))
                df += hot.sum(axis=0)
                if labels is not None and self.stats.n_classes == 2:
                    part = labels[start:start + step]
                    df_class[1] += hot[part == 1].sum(axis=0)
                    df_class[0] += hot[part == 0].sum(axis=0)
            idf = np.log1p(len(texts) / (1.0 + df))
            idf[0] = 0.0
            p, q = 1.0 + df_class[1], 1.0 + df_class[0]
            ratio = np.abs(np.log(p / p.sum()) - np.log(q / q.sum()))
            self._text_idf[cache_key] = (idf.tolist(), (idf * ratio).tolist())
        return self._text_idf[cache_key][1 if nb else 0]

    def _bag(self, s: FeatureSpec, x, max_tokens: int, ngrams, weighting: str, split: str,
             name: str):
        """One bag of n-grams of the text `x`: [N, V] floats, named `{name}_*`."""
        vocab = self._vocabulary(s.key, max_tokens, ngrams, split)
        if weighting == "tf_idf":
            # Keras' own TF-IDF: counts times idf (its unknown-token slot gets the mean idf).
            idf = self._idf(s.key, max_tokens, ngrams, split)
            bag = self._vectorizer(split, ngrams, vocabulary=vocab, output_mode="tf_idf",
                                   idf_weights=idf[1:], name=f"{name}_ngrams")(x)
        else:
            mode = "multi_hot" if weighting == "multi_hot" else "count"
            bag = self._vectorizer(split, ngrams, vocabulary=vocab, output_mode=mode,
                                   name=f"{name}_ngrams")(x)
        # On a [N, 1] input the layer declares [N, 1, V] but returns [N, V]; say [N, V] so
        # that it concatenates with the other columns' features.
        bag = keras.layers.Reshape((bag.shape[-1],), name=f"{name}_flat")(bag)
        if weighting == "multi_hot":
            return ToFloat(name=f"{name}_bag")(bag)
        if weighting in ("sublinear_tf_idf", NB_WEIGHTING):
            bag = SublinearTfIdf(self._idf(s.key, max_tokens, ngrams, split,
                                           nb=weighting == NB_WEIGHTING),
                                 name=f"{name}_tf_idf")(bag)
        return keras.layers.UnitNormalization(name=f"{name}_l2")(bag)

    def _text(self, hp: kt.HyperParameters, arch: str, s: FeatureSpec, x):
        if arch == "bag":
            texts_only = all(spec.role is Role.TEXT for spec in self.stats.specs)
            word_max, char_max = ((WORD_MAX_TOKENS, CHAR_MAX_TOKENS) if texts_only
                                  else (TABLE_WORD_MAX_TOKENS, TABLE_CHAR_MAX_TOKENS))
            with hp.conditional_scope("text_model", ["bag"]):
                max_tokens = hp.Choice("bag_max_tokens", [5000, word_max], default=word_max)
                ngrams = hp.Choice("bag_ngrams", [1, 2], default=2)
                weighting = hp.Choice("bag_weighting", self._text_weightings(),
                                      default=self._text_weightings()[0])
                chars = hp.Boolean("bag_char_ngrams", default=True)
            words = self._bag(s, x, max_tokens, ngrams, weighting, "whitespace", s.key)
            if not chars:
                return words
            letters = self._bag(s, x, char_max, CHAR_NGRAMS, weighting, "character",
                                f"{s.key}_char")
            return keras.layers.Concatenate(name=f"{s.key}_words_and_chars")([words, letters])
        if arch == "rnn":
            with hp.conditional_scope("text_model", ["rnn"]):
                max_tokens = hp.Choice("rnn_max_tokens", [5000, 20000], default=20000)
                dim = hp.Choice("rnn_embedding_dim", [32, 64, 128], default=64)
                cell = hp.Choice("rnn_cell", ["gru", "lstm"], default="gru")
                units = hp.Choice("rnn_units", [32, 64], default=32)
            emb = self._embedded_tokens(s, x, max_tokens, dim, mask=True)
            layer = (keras.layers.GRU if cell == "gru" else keras.layers.LSTM)(
                units, name=f"{s.key}_{cell}")
            return keras.layers.Bidirectional(layer, name=f"{s.key}_bidirectional")(emb)
        with hp.conditional_scope("text_model", ["cnn"]):
            max_tokens = hp.Choice("cnn_max_tokens", [5000, 20000])
            dim = hp.Choice("cnn_embedding_dim", [32, 64, 128])
            filters = hp.Choice("cnn_filters", [64, 128])
            kernel = hp.Choice("cnn_kernel_size", [3, 5])
        emb = self._embedded_tokens(s, x, max_tokens, dim, mask=False)
        conv = keras.layers.Conv1D(filters, kernel, activation="relu", padding="same",
                                   name=f"{s.key}_conv")(emb)
        return keras.layers.GlobalMaxPooling1D(name=f"{s.key}_pool")(conv)

    def _embedded_tokens(self, s: FeatureSpec, x, max_tokens: int, dim: int, mask: bool):
        """The embeddings of the word ids, padded or cut to the data's sequence length."""
        vocab = self._vocabulary(s.key, max_tokens, None)
        ids = keras.layers.TextVectorization(
            vocabulary=vocab, output_mode="int",
            output_sequence_length=self._sequence_length.setdefault(
                s.key, sequence_length(self.stats.texts[s.key])),
            name=f"{s.key}_tokens")(x)
        return keras.layers.Embedding(len(vocab) + 2, dim, mask_zero=mask,
                                      name=f"{s.key}_embedding")(ids)

    def _output(self, x):
        # float32 outputs even under mixed precision (engine/device.py): stable softmax and
        # loss, and predictions in the range of the target.
        task = self.stats.task
        if task is TaskType.BINARY:
            return keras.layers.Dense(1, activation="sigmoid", name="probability",
                                      dtype="float32")(x)
        if task is TaskType.MULTICLASS:
            return keras.layers.Dense(self.stats.n_classes, activation="softmax",
                                      name="probabilities", dtype="float32")(x)
        x = keras.layers.Dense(1, name="standardised_prediction", dtype="float32")(x)
        return keras.layers.Rescaling(scale=self.stats.target_std, offset=self.stats.target_mean,
                                      name="prediction", dtype="float32")(x)

    # -- training -----------------------------------------------------------------------------
    def class_weight(self, hp: kt.HyperParameters) -> dict[int, float] | None:
        if not (self.template.class_weighting and self.stats.task is not TaskType.REGRESSION
                and self.stats.imbalance > 1.5):
            return None
        if hp.Choice("class_weight", ["none", "balanced"]) == "none":
            return None
        counts = np.asarray(self.stats.class_counts, dtype=float)
        weights = counts.sum() / (len(counts) * np.maximum(counts, 1))
        return {i: float(w) for i, w in enumerate(weights)}

    def fit(self, hp: kt.HyperParameters, model: keras.Model, x: Rows,
            validation_data: Rows | None = None, **kwargs):
        """Train `model` on the rows `x` (a `Rows`, see `make_rows`), shuffled every epoch, in
        batches of the trial's batch size; the search and the refit both come through here."""
        if not isinstance(x, Rows):
            raise TypeError("StudioHyperModel.fit takes its rows as a Rows object (make_rows).")
        sizes = self.batch_sizes()
        batch_size = hp.Choice("batch_size", sizes, default=sizes[0])
        class_weight = self.class_weight(hp)
        core = (text_core(model, self.stats.specs)
                if len(x) >= self.cached_text_min_rows else None)
        if core is not None:
            return fit_on_text_features(model, core, x, validation_data, batch_size,
                                        self.seed, class_weight, self.stats.task, **kwargs)
        train = batches(x, batch_size, shuffle_seed=self.seed)
        val = (batches(validation_data, rows_per_call(model, max(1024, batch_size)))
               if validation_data is not None else None)
        # shuffle=False: the batches are in a new order every epoch already (see `batches`).
        return model.fit(train, validation_data=val, class_weight=class_weight, shuffle=False,
                         **kwargs)


@dataclass(frozen=True)
class CodedStrings:
    """A string column of `Rows` held as int32 codes [N, 1] into its distinct values [K]: a
    million rows of a 200-valued category cost 4 MB of codes instead of 24 MB of strings. It
    reads as the [N, 1] strings it stands for: `shape`, and slices (`t[a:b]`) of strings."""

    codes: Any
    values: Any

    @property
    def shape(self):
        return self.codes.shape

    def __getitem__(self, key):
        return tf.gather(self.values, self.codes[key])

    def gather(self, index):
        return tf.gather(self.values, tf.gather(self.codes, index))


def _gather(t, index):
    return t.gather(index) if isinstance(t, CodedStrings) else tf.gather(t, index)


def _coded(column: np.ndarray) -> CodedStrings | None:
    """`column` (strings, [N, 1]) as codes, when it repeats its values enough for that to
    save memory (categories: yes; free text, nearly one value per row: no)."""
    flat = column.reshape(-1)
    if flat.dtype != object or len(flat) < 1_000 or \
            len(pd.unique(flat[:10_000])) * 4 > min(len(flat), 10_000):
        return None
    codes, uniques = pd.factorize(flat)
    if len(uniques) * 4 > len(codes) or (codes < 0).any():
        return None
    return CodedStrings(tf.constant(codes.astype(np.int32).reshape(-1, 1)),
                        tf.constant(np.asarray(uniques, dtype=object)))


@dataclass
class Rows:
    """Model inputs and targets held in memory as tensors (strings as tf.string, or as
    `CodedStrings`): the rows `start` to `stop` of them (all by default). Several `Rows` may
    share the same tensors (`part`): the search's training and validation rows and the
    refit's rows of both are views of one set of tensors, not copies."""

    features: dict[str, Any]
    y: Any = None
    start: int = 0
    stop: int | None = None

    def __len__(self) -> int:
        stop = self.stop if self.stop is not None else int(
            next(iter(self.features.values())).shape[0])
        return stop - self.start

    def part(self, start: int, stop: int) -> Rows:
        """Rows `start` to `stop` of these (positions counted from this view's first row)."""
        if not 0 <= start <= stop <= len(self):
            raise ValueError(f"Rows {start}:{stop} are outside 0:{len(self)}.")
        return Rows(self.features, self.y, self.start + start, self.start + stop)

    def tensors(self, start: int, stop: int) -> dict[str, Any]:
        """The features of rows `start` to `stop` of this view, as tensors (copies)."""
        stop = self.start + min(stop, len(self))
        return {k: t[self.start + start:stop] for k, t in self.features.items()}


def make_rows(arrays: dict[str, np.ndarray], y: np.ndarray | None = None) -> Rows:
    """Rows to train on, from raw column arrays (converted once, not once per epoch)."""
    return Rows({k: tf.constant(v) for k, v in arrays.items()},
                None if y is None else tf.constant(y))


def stack_rows(columns: dict[str, Any], y: list[np.ndarray] | None = None) -> Rows:
    """One `Rows` over several pieces of rows, one after the other (the training rows, then
    the validation rows): `columns` maps each input to a function that returns its pieces
    as arrays. Built one column at a time, so that only one column's concatenated array is
    ever held beside the tensors (`tf.constant` copies); a category column is held as codes
    (`CodedStrings`)."""
    features: dict[str, Any] = {}
    for key, pieces in columns.items():
        parts = pieces()
        joined = parts[0] if len(parts) == 1 else np.concatenate(parts)
        del parts
        coded = _coded(joined)
        features[key] = coded if coded is not None else tf.constant(joined)
        del joined
    return Rows(features, None if y is None else tf.constant(
        y[0] if len(y) == 1 else np.concatenate(y)))


def batches(rows: Rows, batch_size: int, shuffle_seed: int | None = None):
    """A tf.data dataset of batches of `rows`, in a new random order every epoch when
    `shuffle_seed` is given (reproducible from it). Batches are gathered by index from the
    in-memory tensors, so no per-row work is done: one permutation per epoch, one gather per
    batch. The order depends on the number of rows and the seed only, not on where the rows
    start in tensors shared with other `Rows`."""
    n = len(rows)
    n_batches = -(-n // batch_size)
    offset = rows.start

    def take(index):
        if offset:
            index = index + offset
        features = {k: _gather(t, index) for k, t in rows.features.items()}
        return features if rows.y is None else (features, tf.gather(rows.y, index))

    if shuffle_seed is None:
        index = tf.data.Dataset.range(n_batches).map(
            lambda b: tf.range(b * batch_size, tf.minimum((b + 1) * batch_size, n)))
    else:
        def epoch(seed):
            order = tf.random.experimental.stateless_shuffle(
                tf.range(n, dtype=tf.int64), seed=tf.stack([seed, tf.constant(0, tf.int64)]))
            return tf.data.Dataset.range(n_batches).map(
                lambda b: order[b * batch_size:(b + 1) * batch_size])
        # One random seed per pass over the data: a fresh order each epoch.
        index = (tf.data.Dataset.random(seed=shuffle_seed, rerandomize_each_iteration=True)
                 .take(1).flat_map(epoch)
                 .apply(tf.data.experimental.assert_cardinality(n_batches)))
    return index.map(take, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def text_width(model: keras.Model) -> int:
    """The number of text features (bag columns) the model makes per row: the sum of the
    vocabularies of its TextVectorization layers that output a bag, members' included."""
    width, stack = 0, [model]
    while stack:
        layer = stack.pop()
        if isinstance(layer, keras.layers.TextVectorization):
            if layer.get_config().get("output_mode") != "int":
                width += layer.vocabulary_size()
        elif isinstance(layer, keras.Model):
            stack.extend(layer.layers)
    return width


def rows_per_call(model: keras.Model, batch_size: int) -> int:
    """`batch_size`, or fewer rows where the model's text bag would make a call's dense
    features larger than PREDICT_CHUNK_FLOATS (8192 rows of 210,000 features: 7 GB)."""
    width = text_width(model)
    return batch_size if not width else max(32, min(batch_size, PREDICT_CHUNK_FLOATS // width))


def predict(model: keras.Model, arrays: dict[str, np.ndarray] | Rows,
            batch_size: int = 8192) -> np.ndarray:
    """Model outputs for raw column arrays (or the rows of a `Rows`), as a float NumPy array.

    Chunks go straight to the compiled predict step: evaluation calls this dozens of times on
    a few thousand rows (permutation importance), where building a tf.data pipeline per call
    would cost more than the predictions."""
    batch_size = rows_per_call(model, batch_size)
    if isinstance(arrays, Rows):
        n, chunk = len(arrays), arrays.tensors
    else:
        n = len(next(iter(arrays.values())))

        def chunk(start: int, stop: int) -> dict[str, Any]:
            return {k: tf.constant(v[start:stop]) for k, v in arrays.items()}
    out = [np.asarray(model.predict_on_batch(chunk(start, start + batch_size)))
           for start in range(0, n, batch_size)]
    if not out:
        return np.zeros((0, *model.outputs[0].shape[1:]), dtype=np.float32)
    return np.concatenate(out)


# -- text features computed once per split ------------------------------------------------------
# A text model's preprocessing (TextVectorization, TF-IDF weighting, unit length) has no weights
# to learn, and vectorising strings (character n-grams above all) is most of the cost of a step.
# So `fit` runs it once per split and setting and trains the rest of the network (the "core",
# which shares its layers, hence its weights, with the whole model) on the cached features. The
# model itself is not changed: it still reads raw text, and saves and exports as before.

TEXT_CUT_SUFFIXES = ("_words_and_chars", "_l2", "_bag", "_tokens")   # the first one present
SPARSE_MIN_WIDTH = 512          # wider float features are cached and batched sparse
VECTORISE_CHUNK = 128
CACHED_SETTINGS = 1             # feature sets kept per split (the refit and later trials differ)


@dataclass
class TextCore:
    """The trainable part of a text model: `model` reads [features of each text column (the
    output of its last preprocessing layer), raw other columns] in `keys` order."""

    model: Any
    keys: list[str]
    cuts: dict[str, Any]           # text column -> its features' tensor in the whole model
    signature: tuple


def text_core(model: keras.Model, specs: list[FeatureSpec]) -> TextCore | None:
    """The core of `model` when all its columns are texts, each going through preprocessing
    layers DL Studio names (`_bag`, `_embedded_tokens`); None otherwise (tables with a text
    column train on raw values as before)."""
    texts = [s.key for s in specs if s.role is Role.TEXT]
    if not texts or len(texts) != len(specs):
        # Text columns only: a core that also read raw columns (an Input beside cut tensors)
        # would leave nodes in the shared layers that break saving the whole model.
        return None
    names = {layer.name: layer for layer in model.layers}
    cuts: dict[str, Any] = {}
    for key in texts:
        layer = next((names[key + suffix] for suffix in TEXT_CUT_SUFFIXES
                      if key + suffix in names), None)
        if layer is None or len(layer._inbound_nodes) != 1:
            return None
        cuts[key] = layer.output
    inputs = dict(zip([t.name for t in model.inputs], model.inputs, strict=True))
    keys = [s.key for s in specs]
    if set(keys) != set(inputs):
        return None
    try:
        core = keras.Model([cuts.get(k, inputs[k]) for k in keys], model.outputs,
                           name="dlstudio_text_core")
    except ValueError:
        return None
    # The features depend on the preprocessing layers' settings (vocabulary, weighting).
    signature = tuple(sorted(
        (layer.name, type(layer).__name__, _layer_setting(layer))
        for layer in model.layers if not layer.trainable_weights and layer.name.startswith(
            tuple(texts))))
    return TextCore(core, keys, cuts, signature)


def _layer_setting(layer) -> str:
    if isinstance(layer, keras.layers.TextVectorization):
        cfg = layer.get_config()
        return repr((cfg.get("ngrams"), cfg.get("split"), cfg.get("output_mode"),
                     cfg.get("output_sequence_length"), layer.vocabulary_size()))
    if isinstance(layer, SublinearTfIdf):         # plain or NB-weighted: the values differ
        return repr((len(layer.idf), hash(tuple(layer.idf))))
    return ""


def _text_features(model: keras.Model, core: TextCore, rows: Rows) -> dict[str, Any]:
    """The cached inputs of `core` for `rows`: per text column its features (float features
    wider than SPARSE_MIN_WIDTH as two ragged tensors, `key:ids` and `key:values`, holding the
    non-zero columns), other columns as given."""
    try:                      # kept with the rows: the search passes the same rows every trial
        cache = vars(rows).setdefault("_text_features", {})
    except TypeError:         # rows without a __dict__: vectorised once per fit
        cache = {}
    if core.signature in cache:
        return cache[core.signature]
    out: dict[str, Any] = {}
    n = len(rows)
    for key in core.keys:
        if key not in core.cuts:
            out[key] = rows.tensors(0, n)[key]
            continue
        pre = keras.Model(_input(model, key), core.cuts[key])
        wide = pre.output.dtype.startswith("float") and pre.output.shape[-1] >= SPARSE_MIN_WIDTH
        # `rows` may be a view (rows.start onwards) of tensors shared with other rows, and a
        # column may be held as codes; slices of either are the view's strings.
        text, base = rows.features[key], rows.start
        dtype = tf.string if isinstance(text, CodedStrings) else text.dtype

        @tf.function(input_signature=[tf.TensorSpec([None, *text.shape[1:]], dtype)])
        def vectorise(t, pre=pre, wide=wide):
            f = pre(t, training=False)
            if not wide:
                return f, f
            where = tf.where(f != 0)
            return where, tf.gather_nd(f, where)

        chunks = [vectorise(text[base + start:base + min(start + VECTORISE_CHUNK, n)])
                  for start in range(0, n, VECTORISE_CHUNK)]
        if not wide:
            out[key] = tf.concat([c[0] for c in chunks], axis=0)
            continue
        ids, values = [], []
        for start, (where, vals) in zip(range(0, n, VECTORISE_CHUNK), chunks, strict=True):
            size = min(VECTORISE_CHUNK, n - start)
            ids.append(tf.RaggedTensor.from_value_rowids(
                tf.cast(where[:, 1], tf.int32), where[:, 0], nrows=size))
            values.append(tf.RaggedTensor.from_value_rowids(vals, where[:, 0], nrows=size))
        out[f"{key}:ids"] = tf.concat(ids, axis=0)
        out[f"{key}:values"] = tf.concat(values, axis=0)
    while len(cache) >= CACHED_SETTINGS:
        cache.pop(next(iter(cache)))
    cache[core.signature] = out
    return out


def _view_y(rows: Rows):
    """The targets of the rows of the view `rows` (its tensors may hold more rows)."""
    return None if rows.y is None else rows.y[rows.start:rows.start + len(rows)]


def _input(model: keras.Model, key: str):
    return next(t for t in model.inputs if t.name == key)


def _feature_batches(core: TextCore, features: dict[str, Any], y, batch_size: int,
                     shuffle_seed: int | None):
    """`batches` of the cached features as the tuple of inputs `core.model` takes: wide ones as
    `tf.SparseTensor`s, other ones dense. (Keras makes a sparse batch dense at the core's dense
    `Input`, so this saves little: 2.5 against 3.1 s per epoch on the film snippets.)"""
    widths = {key: int(core.cuts[key].shape[-1]) for key in core.cuts}
    # The first value sets the number of rows in `batches`: put a plain tensor or the ids first.
    data = batches(Rows(features, y), batch_size, shuffle_seed=shuffle_seed)

    def assemble(feats, *target):
        inputs = []
        for key in core.keys:
            if f"{key}:ids" in feats:
                ids, values = feats[f"{key}:ids"], feats[f"{key}:values"]
                where = tf.stack([tf.cast(ids.value_rowids(), tf.int64),
                                  tf.cast(ids.flat_values, tf.int64)], axis=1)
                inputs.append(tf.SparseTensor(
                    where, values.flat_values,
                    tf.stack([ids.nrows(), tf.constant(widths[key], tf.int64)])))
            else:
                inputs.append(feats[key])
        inputs = tuple(inputs) if len(inputs) > 1 else inputs[0]
        return (inputs, *target) if target else inputs

    return data.map(assemble, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


class _OnWholeModel(keras.callbacks.Callback):
    """Passes the core's training events to a callback that sees the whole model (checkpoints,
    early stopping with restored weights, stop requests)."""

    def __init__(self, inner, whole: keras.Model, core: keras.Model):
        super().__init__()
        self.inner, self.whole, self.core = inner, whole, core

    def set_model(self, model):
        super().set_model(model)
        self.inner.set_model(self.whole)

    def set_params(self, params):
        super().set_params(params)
        self.inner.set_params(params)

    def _sync(self):
        if getattr(self.whole, "stop_training", False):
            self.core.stop_training = True


def _forward(name):
    def hook(self, *args, **kwargs):
        getattr(self.inner, name)(*args, **kwargs)
        self._sync()
    hook.__name__ = name
    return hook


for _hook in ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
              "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
              "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
              "on_predict_batch_begin", "on_predict_batch_end"):
    setattr(_OnWholeModel, _hook, _forward(_hook))


def fit_on_text_features(model: keras.Model, core: TextCore, x: Rows,
                         validation_data: Rows | None, batch_size: int, seed: int,
                         class_weight, task: TaskType, callbacks=None, **kwargs):
    """`StudioHyperModel.fit` for a text model: trains `core` (hence `model`, whose layers it
    shares) on features vectorised once per split."""
    core.model.compile(optimizer=model.optimizer, loss=model.loss,
                       metrics=compile_metrics(task),
                       steps_per_execution=STEPS_PER_EXECUTION)
    train = _feature_batches(core, _text_features(model, core, x), _view_y(x), batch_size,
                             seed)
    val = None
    if validation_data is not None:
        val = _feature_batches(core, _text_features(model, core, validation_data),
                               _view_y(validation_data), min(max(512, batch_size), 1024), None)
    model.stop_training = False
    wrapped = [_OnWholeModel(cb, model, core.model) for cb in (callbacks or [])]
    return core.model.fit(train, validation_data=val, class_weight=class_weight,
                          shuffle=False, callbacks=wrapped, **kwargs)
