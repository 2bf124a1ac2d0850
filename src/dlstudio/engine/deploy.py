"""TFLite and ONNX beside the SavedModel, each checked in its own runtime before it is kept.

- `model.tflite`: the whole model (raw columns in, `probabilities` and `label` out), made by
  TensorFlow's TFLiteConverter with built-in operations only. Only for models without a text
  column: TextVectorization's string operations are not among TFLite's built-ins.
- `core/`: the network after its preprocessing layers ("the core", which takes float and int
  tensors) as `core.onnx` and, for text models, `core.tflite`, with `preprocessing.json` (what
  the preprocessing layers learned) and `preprocess.py` (NumPy only) that turns raw rows into
  the core's inputs. Stock tf2onnx cannot convert the lookup tables and text operations, so
  ONNX is always a core.

The preprocessing layers are found by their kind, wherever they sit in the graph
(`NumericEncoder`, `StringLookup`, `TextVectorization`; see `split_model`), so any flat Keras
functional model built from `engine/hypermodel.py`'s layers splits the same way. An ensemble
(`engine/ensemble.py`, whole networks held as layers) splits member by member into one core
that holds every member and their average (`_split_ensemble`).

Each artefact is run in a fresh process (`export.run_verifier` -> `verify.run_artifact`), in
its own runtime and without TensorFlow, on the export sample plus edge rows (`with_edge_rows`),
all rows at once and the first alone, and compared with the SavedModel's outputs within the
SavedModel's own tolerance; the labels must be equal. A disagreement stops the export.
"""

from __future__ import annotations

import importlib.resources
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from dlstudio.engine import export as ex
from dlstudio.engine.errors import ConfigError, ExportRefused
from dlstudio.engine.features import FeatureSpec
from dlstudio.engine.formats import ONNX, TFLITE
from dlstudio.engine.hypermodel import NumericEncoder
from dlstudio.engine.records import ModelCard
from dlstudio.engine.schema import Role
from dlstudio.engine.templates import TaskType
from dlstudio.engine.tf import keras, tf

CORE_DIR = "core"
ONNX_OPSET = 17
UNSEEN_CATEGORY = "a value never seen in training"
EDGE_TEXT = "UNSEEN-words, Ünïcödé CAFÉ!! 😀👍🏽  tabs\tand\nnew lines... zzqx"
CORE_WHY = {ONNX: "stock tf2onnx converts neither lookup tables nor text operations",
            TFLITE: "TFLite's built-in operations lack the text operations"}
# TextVectorization's "lower_and_strip_punctuation" (Keras's DEFAULT_STRIP_REGEX).
STRIP_PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'


class SplitError(ConfigError):
    """The model's preprocessing cannot be described for `preprocess.py`."""


# -- edge rows ------------------------------------------------------------------------------------

def with_edge_rows(sample: dict[str, np.ndarray], specs: list[FeatureSpec]
                   ) -> dict[str, np.ndarray]:
    """The sample plus rows a deployed model meets sooner or later: every number NaN, +inf or
    -inf; every category and text empty; an unseen category and a text of unseen words with
    capitals, punctuation, accents, emoji, tabs and line breaks. Each starts from the first row."""
    if not sample or len(next(iter(sample.values()))) == 0:
        return sample
    numeric = [s.key for s in specs if s.role is Role.NUMERIC]
    strings = [s for s in specs if s.role is not Role.NUMERIC]
    edits: list[dict[str, Any]] = []
    if numeric:
        edits += [dict.fromkeys(numeric, v) for v in (np.nan, np.inf, -np.inf)]
    if strings:
        edits.append({s.key: "" for s in strings})
        edits.append({s.key: UNSEEN_CATEGORY if s.role is Role.CATEGORICAL else EDGE_TEXT
                      for s in strings})
    out = {}
    for key, values in sample.items():
        extra = np.repeat(values[:1], len(edits), axis=0)
        for i, edit in enumerate(edits):
            if key in edit:
                extra[i, 0] = edit[key]
        out[key] = np.concatenate([values, extra])
    return out


# -- the split: preprocessing layers and the core -------------------------------------------------

def _raw_columns(layer, node) -> list[str]:
    """The model inputs (raw columns) that `layer`, called at `node`, reads: directly or
    through a Concatenate of inputs."""
    columns = []
    for t in node.input_tensors:
        op, index = t._keras_history.operation, t._keras_history.node_index
        sources = ([t] if isinstance(op, keras.layers.InputLayer) else
                   op._inbound_nodes[index].input_tensors
                   if isinstance(op, keras.layers.Concatenate) else [])
        if not sources or not all(isinstance(u._keras_history.operation, keras.layers.InputLayer)
                                  for u in sources):
            raise SplitError(f"The preprocessing layer '{layer.name}' does not read the raw "
                             "columns directly, so it cannot be written out for other runtimes.")
        columns += [u._keras_history.operation.name for u in sources]
    return columns


ENCODERS = (NumericEncoder, keras.layers.TextVectorization, keras.layers.StringLookup)


def _encoders(model: keras.Model) -> list[tuple[Any, Any, Any]]:
    """(layer, node, output tensor) of every preprocessing layer call in the model's graph, in
    the order of `model.layers`. Raises SplitError when a path from an output reaches a raw
    input without passing one."""
    return _calls_back_from_outputs(
        model, ENCODERS,
        "Part of the model reads the raw columns without going through its preprocessing "
        "layers (it may hold whole models as layers), so it cannot be split for other runtimes.")


def _calls_back_from_outputs(model: keras.Model, kinds, raw_input: str
                             ) -> list[tuple[Any, Any, Any]]:
    """(layer, node, output tensor) of every call of a layer of `kinds` met walking back from
    the model's outputs (not walking past them), in the order of `model.layers`, then of each
    layer's calls. Raises SplitError(`raw_input`) when a path reaches a raw input first."""
    found: dict[int, tuple[Any, Any, Any]] = {}
    seen: set[int] = set()
    stack = list(model.outputs)
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        op, index = t._keras_history.operation, t._keras_history.node_index
        node = op._inbound_nodes[index]
        if isinstance(op, kinds):
            found[id(node)] = (op, node, t)
        elif isinstance(op, keras.layers.InputLayer):
            raise SplitError(raw_input)
        else:
            stack.extend(node.input_tensors)
    order = {id(layer): i for i, layer in enumerate(model.layers)}
    return sorted(found.values(), key=lambda e: (order.get(id(e[0]), len(order)),
                                                 e[0]._inbound_nodes.index(e[1])))


def _shape(tensor) -> list[int | None]:
    return [None, *(int(d) for d in tensor.shape[1:])]


def _vocabulary_step(layer, tensor, kind: str) -> dict[str, Any]:
    lookup = layer._lookup_layer if kind == "text" else layer
    config = layer.get_config()
    mode = config["output_mode"]
    vocabulary = [str(v) for v in layer.get_vocabulary()]
    if (config.get("sparse") or config.get("ragged") or mode not in (
            "int", "one_hot", "multi_hot", "count", "tf_idf")
            or lookup.num_oov_indices != 1 or getattr(lookup, "invert", False)):
        raise SplitError(f"The layer '{layer.name}' uses settings that preprocess.py does not "
                         "reproduce.")
    step = {"shape": _shape(tensor), "dtype": tensor.dtype,
            "mode": mode, "vocabulary": vocabulary,
            "oov_index": vocabulary.index(str(lookup.oov_token)),
            "mask_index": (vocabulary.index(str(lookup.mask_token))
                           if lookup.mask_token is not None
                           and str(lookup.mask_token) in vocabulary else None)}
    if mode != "int" and step["shape"][-1] != len(vocabulary):
        raise SplitError(f"The layer '{layer.name}' has {step['shape'][-1]} outputs for "
                         f"{len(vocabulary)} vocabulary entries; preprocess.py cannot match it.")
    if mode == "tf_idf":
        # The weights the layer multiplies its counts by (float32), the unknown-token slot's
        # included (Keras gives it the mean idf when the vocabulary was given without it).
        idf = np.asarray(lookup.idf_weights_const, dtype=np.float32).reshape(-1)
        if len(idf) != len(vocabulary):
            raise SplitError(f"The layer '{layer.name}' has {len(idf)} idf weights for "
                             f"{len(vocabulary)} vocabulary entries; preprocess.py cannot "
                             "match it.")
        step["idf"] = [float(v) for v in idf]      # float32 values, exact in JSON
    return step


def _text_step(layer, node, tensor) -> dict[str, Any]:
    config = layer.get_config()
    standardize, split, ngrams = config["standardize"], config["split"], config["ngrams"]
    if standardize not in (None, "lower", "strip_punctuation", "lower_and_strip_punctuation") \
            or split not in ("whitespace", "character"):
        raise SplitError(f"The text layer '{layer.name}' standardises or splits its texts in a "
                         "way preprocess.py does not reproduce.")
    widths = ([1] if ngrams is None else list(range(1, ngrams + 1)) if isinstance(ngrams, int)
              else [int(n) for n in ngrams])
    return {**_vocabulary_step(layer, tensor, "text"), "kind": "text",
            "column": _raw_columns(layer, node)[0],
            "lowercase": standardize in ("lower", "lower_and_strip_punctuation"),
            "strip_regex": (STRIP_PUNCTUATION if standardize in (
                "strip_punctuation", "lower_and_strip_punctuation") else None),
            "split": split, "ngrams": widths,
            "sequence_length": config.get("output_sequence_length")}


class ZeroSafeUnitNormalization(keras.layers.Layer):
    """UnitNormalization (L2) as `x * rsqrt(max(sum(x^2), eps^2))`: the same values as Keras'
    `x * min(rsqrt(sum(x^2)), 1/eps)`, but without rsqrt(0), which TFLite's CPU kernels turn
    into NaN where TensorFlow gives inf (an empty text, or one of unseen words only, is an
    all-zero bag: the SavedModel gives zeros there)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, x):
        square_sum = keras.ops.sum(keras.ops.square(x), axis=self.axis, keepdims=True)
        return x * keras.ops.rsqrt(keras.ops.maximum(square_sum, 1e-24))


def _runtime_safe(core: keras.Model) -> keras.Model:
    """The core with each UnitNormalization replaced by ZeroSafeUnitNormalization; the other
    layers (and their weights) are the core's own."""
    if not any(isinstance(layer, keras.layers.UnitNormalization) for layer in core.layers):
        return core

    def swap(layer):
        if isinstance(layer, keras.layers.UnitNormalization):
            return ZeroSafeUnitNormalization(axis=layer.axis, name=layer.name)
        return layer

    return keras.models.clone_model(core, clone_function=swap)


def _members(model: keras.Model) -> list[keras.Model]:
    """The whole models `model` holds as layers: the members of an ensemble
    (`engine/ensemble.py`); none for a single network."""
    return [layer for layer in getattr(model, "layers", []) if isinstance(layer, keras.Model)]


def _member_calls(model: keras.Model) -> list[tuple[Any, Any]]:
    """(member, node) of every call of a whole model in `model`'s graph, in the order of
    `model.layers`. Raises SplitError when a path from an output reaches a raw input without
    passing through a member."""
    return [(member, node) for member, node, _ in _calls_back_from_outputs(
        model, keras.Model,
        "Part of the model reads the raw columns outside the networks it holds, so it cannot be "
        "split for other runtimes.")]


def _fed(member: keras.Model, node) -> list[tuple[Any, Any]]:
    """(the member's input, the tensor the call `node` feeds it) for each of its inputs."""
    args = node.arguments.args
    given = args[0] if len(args) == 1 else list(args)
    struct = member._inputs_struct
    if isinstance(given, dict):
        if isinstance(struct, dict):
            return [(struct[k], given[k]) for k in struct]
        return [(t, given[t.name]) for t in member.inputs]
    return list(zip(member.inputs, keras.tree.flatten(given), strict=True))


def _step_key(step: dict[str, Any]) -> str:
    """What makes two steps the same preprocessing: everything but the name."""
    return json.dumps({k: v for k, v in step.items() if k != "name"}, sort_keys=True)


def _split_ensemble(model: keras.Model) -> tuple[keras.Model, list[dict[str, Any]]]:
    """`split_model` for a model that holds whole networks as layers (an ensemble): each
    member is split on its own, and one core takes the inputs of all the members' cores, runs
    each core and then what the model does with the members' outputs (the average).

    A step that several members share (the same columns, the same learned values: the numeric
    and category steps of a table, built from the same training statistics) is written once
    and feeds each of them; the others are written per member. Every step says which members
    it feeds (`members`, numbered as the layers `member_1..k`); a step that feeds every member
    keeps its layer's name, the others are prefixed `member_<i>_` (or `members_<i>_<j>_`)."""
    calls = _member_calls(model)
    # Each member call's core and steps, its columns renamed to the raw inputs it is fed.
    parts = []
    for member, node in calls:
        core, steps = split_model(member)
        rename = {}
        for inner, outer in _fed(member, node):
            source = outer._keras_history.operation
            if not isinstance(source, keras.layers.InputLayer):
                raise SplitError(f"The network '{member.name}' inside the model does not read "
                                 "the raw columns directly, so it cannot be split for other "
                                 "runtimes.")
            rename[inner._keras_history.operation.name] = source.name
        for step in steps:
            if "columns" in step:
                step["columns"] = [rename[c] for c in step["columns"]]
            if "column" in step:
                step["column"] = rename[step["column"]]
        parts.append((member, node, core, steps))

    # The distinct steps, in order of first use, and the members each feeds.
    unique: dict[str, dict[str, Any]] = {}
    for number, (_, _, _, steps) in enumerate(parts, start=1):
        for step in steps:
            entry = unique.setdefault(_step_key(step), {**step, "members": []})
            if number not in entry["members"]:
                entry["members"].append(number)
    names: set[str] = set()
    for entry in unique.values():
        fed = entry["members"]
        prefix = ("" if len(fed) == len(parts) else f"member_{fed[0]}_" if len(fed) == 1
                  else "members_" + "_".join(str(i) for i in fed) + "_")
        name, n = prefix + entry["name"], 2
        while name in names:
            name, n = f"{prefix}{entry['name']}_{n}", n + 1
        names.add(name)
        entry["name"] = name
    inputs = {key: keras.Input(shape=tuple(entry["shape"][1:]), dtype=entry["dtype"],
                               name=entry["name"]) for key, entry in unique.items()}

    # The model's graph again, each member call replaced by its core on the shared inputs.
    made: dict[int, Any] = {}
    for number, (member, node, core, steps) in enumerate(parts, start=1):
        # Unique inside the core, as the members are (a member called twice: numbered).
        core.name = member.name if [p[0] for p in parts].count(member) == 1 else \
            f"{member.name}_{number}"
        out = core([inputs[_step_key(step)] for step in steps])
        for t, u in zip(node.outputs, keras.tree.flatten(out), strict=True):
            made[id(t)] = u

    def rebuilt(t):
        if id(t) not in made:
            op, index = t._keras_history.operation, t._keras_history.node_index
            node = op._inbound_nodes[index]
            args, kwargs = node.arguments.fill_in(
                {id(u): rebuilt(u) for u in node.input_tensors})
            out = op(*args, **kwargs)
            for v, u in zip(node.outputs, keras.tree.flatten(out), strict=True):
                made[id(v)] = u
        return made[id(t)]

    outputs = [rebuilt(t) for t in model.outputs]
    core = keras.Model(list(inputs.values()), outputs[0] if len(outputs) == 1 else outputs,
                       name="dlstudio_core")
    return core, list(unique.values())


def split_model(model: keras.Model) -> tuple[keras.Model, list[dict[str, Any]]]:
    """The network after its preprocessing layers (a Keras model whose inputs are the outputs
    of those layers) and one step per preprocessing layer for `preprocess.py`. Raises
    SplitError when some part of the model reads raw columns any other way. An ensemble (a
    model holding whole networks as layers) is split member by member (`_split_ensemble`)."""
    if _members(model):
        return _split_ensemble(model)
    encoders = _encoders(model)
    if not encoders:
        raise SplitError("The model has no preprocessing layers DL Studio knows, so it cannot "
                         "be split for other runtimes.")
    steps = []
    for layer, node, tensor in encoders:
        if isinstance(layer, NumericEncoder):
            step = {"kind": "numeric", "columns": _raw_columns(layer, node), "fill": layer.fill,
                    "mean": layer.mean, "std": layer.std, "shape": _shape(tensor),
                    "dtype": "float32"}
        elif isinstance(layer, keras.layers.TextVectorization):
            step = _text_step(layer, node, tensor)
        else:
            step = {**_vocabulary_step(layer, tensor, "lookup"), "kind": "lookup",
                    "column": _raw_columns(layer, node)[0]}
        name, n = layer.name, 2
        while name in {s["name"] for s in steps}:      # one layer called in several places
            name, n = f"{layer.name}_{n}", n + 1
        steps.append({"name": name, **step})
    try:
        core = keras.Model([tensor for _, _, tensor in encoders], model.outputs,
                           name="dlstudio_core")
        core = _runtime_safe(core)
    except ValueError as exc:
        raise SplitError("Part of the model reads the raw columns without going through its "
                         "preprocessing layers, so it cannot be split for other runtimes.") from exc
    for step in steps:
        step["dtype"] = str(step["dtype"])
    return core, steps


def core_function(core: keras.Model, steps: list[dict[str, Any]], task: TaskType):
    """A tf.function over the core's inputs (in `core.inputs` order, named after the
    preprocessing layers that make them, as `steps` are) returning `probabilities` [N, K] or
    `prediction` [N, 1], as the SavedModel's signature does."""
    specs = [tf.TensorSpec(t.shape, t.dtype, name=step["name"])
             for t, step in zip(core.inputs, steps, strict=True)]

    def run(*args):
        out = core(list(args), training=False)
        if task is TaskType.REGRESSION:
            return {"prediction": out}
        if task is TaskType.BINARY:
            p = out[:, 0:1]
            return {"probabilities": tf.concat([1.0 - p, p], axis=1)}
        return {"probabilities": out}

    return tf.function(run, input_signature=specs), specs


# -- conversions ----------------------------------------------------------------------------------

RECURRENT_TFLITE = (
    "TensorFlow Lite cannot hold this model: {which} ({detail}GRU or LSTM, read with a mask) "
    "needs TensorFlow operations that are not among TFLite's built-in ones, so no .tflite file "
    "was made. Export it to SavedModel and ONNX (--format savedmodel,onnx), or search without "
    "the recurrent network to get a model TFLite can run.")


def refusal(model: keras.Model, formats: list[str]) -> str | None:
    """Why `model` cannot be exported to one of `formats`, in a sentence; None when it can be
    tried (the conversion and the verification in its runtime still decide). An ensemble is
    split member by member (`split_model`), so it is refused only for what one of its members
    would be refused for."""
    def layers(m):
        for layer in getattr(m, "layers", []):
            yield layer
            yield from layers(layer)

    def recurrent(m) -> bool:
        return any(isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))
                   for layer in layers(m))

    if TFLITE in formats and recurrent(model):
        # The converter stops at the loop's TensorList operations ("Lowering tensor list ops
        # is failed"); with SELECT_TF_OPS it would need TensorFlow at run time.
        members = _members(model)
        if not members:
            return RECURRENT_TFLITE.format(which="its recurrent text network", detail="")
        which = [m.name for m in members if recurrent(m)]
        return RECURRENT_TFLITE.format(
            which=(f"the recurrent text network{'s' if len(which) > 1 else ''} of this "
                   f"ensemble of {len(members)} networks"),
            detail=f"{', '.join(which)}: ")
    return None


def tflite_bytes_from_savedmodel(folder: Path) -> bytes:
    converter = tf.lite.TFLiteConverter.from_saved_model(str(folder),
                                                         signature_keys=["serving_default"])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def tflite_bytes_from_function(function, specs, trackable) -> bytes:
    """Through a SavedModel of the function: converting the concrete function directly
    (`from_concrete_functions`) gave a core whose outputs were far off (Keras 3.15, TF 2.21)."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = keras.export.ExportArchive()
        archive.track(trackable)
        archive.add_endpoint("serving_default", function, input_signature=specs)
        archive.write_out(tmp, verbose=False)
        return tflite_bytes_from_savedmodel(Path(tmp))


def onnx_bytes_from_function(function, specs) -> bytes:
    import tf2onnx
    proto, _ = tf2onnx.convert.from_function(function, input_signature=specs, opset=ONNX_OPSET)
    return proto.SerializeToString()


def _converted(title: str, convert, *args) -> bytes:
    try:
        return convert(*args)
    except Exception as exc:    # the converters raise many kinds; the user gets one sentence
        raise ExportRefused(f"The model could not be converted to {title}: "
                           f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else exc}"
                           ) from exc


# -- verification ---------------------------------------------------------------------------------

def _json_rows(sample: dict[str, np.ndarray], specs: list[FeatureSpec]) -> dict[str, list]:
    rows = {}
    for s in specs:
        values = sample[s.key][:, 0]
        rows[s.key] = ([float(v) for v in values] if s.dtype == "float32"
                       else [str(v) for v in values])
    return rows


def _label_ties(expected: dict[str, np.ndarray], threshold: float | None) -> np.ndarray:
    """Rows whose label a difference within the tolerance could flip (a probability at the
    threshold, or two classes equally likely); their labels are not compared."""
    p = np.asarray(expected["probabilities"], dtype=np.float64)
    tol = ex.VERIFY_ATOL + ex.VERIFY_RTOL * p.max(axis=1)
    if threshold is not None and p.shape[1] == 2:
        return np.abs(p[:, 1] - threshold) <= 2 * tol
    top2 = np.sort(p, axis=1)[:, -2:] if p.shape[1] > 1 else np.zeros((len(p), 2))
    return (top2[:, 1] - top2[:, 0]) <= 2 * tol


def compare(title: str, got: dict[str, list], expected: dict[str, np.ndarray],
            threshold: float | None) -> tuple[float, float, bool | None]:
    """(largest absolute difference, largest relative difference, labels equal or None) of an
    artefact's outputs against the
    SavedModel's; raises RuntimeError, in plain words, when they differ beyond the tolerance
    `export.compare_outputs` applies to the SavedModel itself."""
    floor = ex.VERIFY_ATOL / ex.VERIFY_RTOL
    abs_diff = rel_diff = 0.0
    for key, want in expected.items():
        if key == "label":
            continue
        want = np.asarray(want, dtype=np.float64)
        if key not in got:
            raise ExportRefused(f"The {title} file does not return '{key}'.")
        values = np.asarray(got[key], dtype=np.float64).reshape(want.shape)
        if not np.isfinite(values).all():
            raise ExportRefused(f"The {title} file gives outputs that are not numbers (NaN or "
                               "infinite) where the SavedModel gives numbers.")
        diff = np.abs(values - want)
        abs_diff = max(abs_diff, float(diff.max(initial=0.0)))
        rel_diff = max(rel_diff, float((diff / (np.abs(want) + floor)).max(initial=0.0)))
    if rel_diff > ex.VERIFY_RTOL:
        raise ExportRefused(f"The {title} file gives outputs that differ from the SavedModel's by "
                           f"up to {100 * rel_diff:.2g}% of their size (at most "
                           f"{100 * ex.VERIFY_RTOL:.2g}% is allowed), so it was not written.")
    if "label" not in expected:
        return abs_diff, rel_diff, None
    want_labels = [str(x) for x in expected["label"]]
    got_labels = [str(x) for x in got.get("label", [])]
    if len(got_labels) != len(want_labels):
        raise ExportRefused(f"The {title} file does not give one label per row.")
    ties = _label_ties(expected, threshold)
    if any(g != w and not t for g, w, t in zip(got_labels, want_labels, ties, strict=True)):
        raise ExportRefused(f"The {title} file predicts different labels from the SavedModel, so "
                           "it was not written.")
    return abs_diff, rel_diff, True


def verify_artifact(title: str, runtime: str, model_file: Path, bundle: Path | None,
                    sample: dict[str, np.ndarray], expected: dict[str, np.ndarray],
                    card: ModelCard, specs: list[FeatureSpec]) -> dict[str, Any]:
    """Run an artefact in a fresh process in its own runtime (`verify.run_artifact`) on all
    sample rows and on the first alone; compare with the SavedModel's outputs (`compare`).
    Returns the record fields rows, max_difference, labels_equal and runtime."""
    with tempfile.TemporaryDirectory() as tmp:
        request = {"runtime": runtime, "model": str(model_file),
                   "preprocess": str(bundle / "preprocess.py") if bundle else None,
                   "spec": str(bundle / "preprocessing.json") if bundle else None,
                   "inputs": [{"input": s.key, "dtype": s.dtype} for s in specs],
                   "rows": _json_rows(sample, specs)}
        req, out = Path(tmp) / "request.json", Path(tmp) / "outputs.json"
        req.write_text(json.dumps(request))
        proc = ex.run_verifier(["artifact", str(req), str(out)])
        if proc.returncode != 0:
            raise RuntimeError(f"The {title} file could not be run in its runtime:\n"
                               f"{proc.stderr[-4000:]}")
        got = json.loads(out.read_text())
    diff_all, rel_all, labels = compare(title, got["all"], expected, card.threshold)
    diff_one, rel_one, _ = compare(f"{title} (one row alone)", got["first"],
                                   {k: v[:1] for k, v in expected.items()}, card.threshold)
    rows = len(next(iter(sample.values())))
    return {"runtime": got["runtime"], "rows": rows, "max_difference": max(diff_all, diff_one),
            "relative": max(rel_all, rel_one), "labels_equal": labels}


def _edge_kinds(specs: list[FeatureSpec]) -> tuple[int, str]:
    """How many edge rows `with_edge_rows` adds for these inputs, and what they hold."""
    kinds, count = [], 0
    if any(s.role is Role.NUMERIC for s in specs):
        kinds.append("NaN, +inf and -inf numbers")
        count += 3
    if any(s.role is Role.CATEGORICAL for s in specs):
        kinds.append("empty and unseen categories")
    if any(s.role is Role.TEXT for s in specs):
        kinds.append("empty text and unseen words with capitals, accents, emoji and punctuation")
    if any(s.role is not Role.NUMERIC for s in specs):
        count += 2
    return count, ", ".join(kinds)


def _note(how: str, record: dict[str, Any], specs: list[FeatureSpec]) -> str:
    edge, kinds = _edge_kinds(specs)
    same = "; the same labels" if record["labels_equal"] else ""
    return (f"{how} in a fresh process with {record['runtime']}, on {record['rows']} rows "
            f"({record['rows'] - edge} test rows and {edge} edge rows: {kinds}) and on one "
            f"row alone; largest difference {record['max_difference']:.2g} "
            f"({record['relative']:.2g} relative to the output's size){same}.")


# -- writing --------------------------------------------------------------------------------------

def preprocessing_spec(card: ModelCard, steps: list[dict[str, Any]], output: str
                       ) -> dict[str, Any]:
    """What preprocess.py reads. For an ensemble each step also names the members it feeds
    (`members`, 1..k) and `members` says k; a reader of single-network files reads these as
    they are (every step still makes one input of the core), so the format stays version 1."""
    spec = {"format_version": 1, "task": str(card.task), "classes": card.classes,
            "threshold": card.threshold,
            "inputs": [{"input": s.input, "column": s.column, "dtype": s.dtype, "role": s.role}
                       for s in card.inputs],
            "steps": steps, "output": output}
    members = {i for step in steps for i in step.get("members", [])}
    if members:
        spec["members"] = len(members)
    return spec


def _literal(value: Any, dtype: str) -> str:
    if dtype == "float32":
        return "None" if value is None or not math.isfinite(value) else repr(float(value))
    return repr(str(value))


def example_row(card: ModelCard, sample: dict[str, np.ndarray]) -> str:
    """The first sample row as Python source: {"input": [value], ...}."""
    items = [f"    {s.input!r}: [{_literal(sample[s.input][0, 0], s.dtype)}],"
             for s in card.inputs]
    return "{\n" + "\n".join(items) + "\n}"


def tflite_example(card: ModelCard, sample: dict[str, np.ndarray]) -> str:
    return (
        "# Run model.tflite with ai-edge-litert (pip install ai-edge-litert); no TensorFlow.\n"
        "import numpy as np\n"
        "from ai_edge_litert.interpreter import Interpreter\n\n"
        'runner = Interpreter(model_path="model.tflite").get_signature_runner("serving_default")\n'
        f"row = {example_row(card, sample)}\n"
        "# One [N, 1] array per column: float32 (NaN when missing) or strings (\"\" missing).\n"
        "inputs = {k: np.array([[np.nan if x is None else x] for x in v],\n"
        "                      dtype=np.float32 if isinstance(v[0], float) or v[0] is None\n"
        "                      else object) for k, v in row.items()}\n"
        "outputs = runner(**inputs)\n"
        "print(outputs)\n")


def core_example(card: ModelCard, sample: dict[str, np.ndarray], runtime: str) -> str:
    if runtime == ONNX:
        head = ("# Run core.onnx with onnxruntime (pip install onnxruntime numpy); no TensorFlow.\n"
                "import onnxruntime\n")
        load = ('session = onnxruntime.InferenceSession(str(here / "core.onnx"),\n'
                '                                      providers=["CPUExecutionProvider"])\n'
                "outputs = session.run(None, preprocess.preprocess(rows, spec))[0]\n")
    else:
        head = ("# Run core.tflite with ai-edge-litert (pip install ai-edge-litert numpy).\n"
                "from ai_edge_litert.interpreter import Interpreter\n")
        load = ('runner = Interpreter(model_path=str(here / "core.tflite"))'
                '.get_signature_runner("serving_default")\n'
                f"outputs = runner(**preprocess.preprocess(rows, spec))[{_output(card)!r}]\n")
    return (head + "import sys\nfrom pathlib import Path\n\n"
            "here = Path(__file__).resolve().parent\n"
            "sys.path.insert(0, str(here))\n"
            "import preprocess  # noqa: E402  (beside this file: raw rows -> the core's inputs)\n\n"
            'spec = preprocess.load_spec(here / "preprocessing.json")\n'
            f"rows = {example_row(card, sample)}\n" + load +
            "print(outputs, preprocess.labels(outputs, spec))\n")


def _output(card: ModelCard) -> str:
    return "prediction" if card.task is TaskType.REGRESSION else "probabilities"


def _copy_preprocess(bundle: Path) -> None:
    source = importlib.resources.files("dlstudio") / "resources" / "deploy" / "preprocess.py"
    (bundle / "preprocess.py").write_text(source.read_text(encoding="utf-8"), encoding="utf-8")


def artifact_writer(model: keras.Model, specs: list[FeatureSpec], card: ModelCard,
                    formats: list[str]) -> ex.ExtraArtifacts:
    """The `extra` step of `export.export_model` for `formats` (SavedModel aside): converts,
    writes into the staging folder, verifies each artefact and returns its records."""
    has_text = any(s.role is Role.TEXT for s in specs)
    problem = refusal(model, formats)
    if problem:
        raise ConfigError(problem)

    def write(folder: Path, sample: dict[str, np.ndarray],
              expected: dict[str, np.ndarray]) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        if TFLITE in formats and not has_text:
            path = folder / "model.tflite"
            path.write_bytes(_converted("TensorFlow Lite", tflite_bytes_from_savedmodel, folder))
            result = verify_artifact("TensorFlow Lite", "tflite", path, None, sample, expected,
                                     card, specs)
            ex.atomic_write_text(folder / "serving_example_tflite.py",
                                 tflite_example(card, sample))
            records.append(_record(TFLITE, ["model.tflite", "serving_example_tflite.py"], result,
                                   _note("The whole model (built-in TFLite operations) was run",
                                         result, specs)))
        core_formats = [f for f in (TFLITE, ONNX) if f in formats and (f == ONNX or has_text)]
        if core_formats:
            core, steps = split_model(model)
            k = len(_members(model)) or 1
            function, tf_specs = core_function(core, steps, card.task)
            bundle = folder / CORE_DIR
            bundle.mkdir()
            ex.atomic_write_json(bundle / "preprocessing.json",
                                 preprocessing_spec(card, steps, _output(card)))
            _copy_preprocess(bundle)
            shared = [f"{CORE_DIR}/preprocessing.json", f"{CORE_DIR}/preprocess.py"]
            for fmt in core_formats:
                title = {ONNX: "ONNX", TFLITE: "TensorFlow Lite"}[fmt]
                name = f"core.{fmt}"
                data = (_converted(title, onnx_bytes_from_function, function, tf_specs)
                        if fmt == ONNX else
                        _converted(title, tflite_bytes_from_function, function, tf_specs, core))
                (bundle / name).write_bytes(data)
                result = verify_artifact(title, fmt, bundle / name, bundle, sample, expected,
                                         card, specs)
                example = f"serving_example_{fmt}.py"
                ex.atomic_write_text(bundle / example, core_example(card, sample, fmt))
                records.append(_record(fmt, [f"{CORE_DIR}/{name}", *shared,
                                             f"{CORE_DIR}/{example}"], result,
                                       _note(_core_how(fmt, k), result, specs)))
        return records

    return write


def _core_how(fmt: str, k: int) -> str:
    what = ("The network after its preprocessing layers" if k == 1 else
            f"The {k} networks of the ensemble, each after its preprocessing layers, and their "
            "average")
    return f"{what} ({CORE_WHY[fmt]}), fed by preprocess.py, was run"


def _record(fmt: str, files: list[str], result: dict[str, Any], note: str) -> dict[str, Any]:
    return {"format": fmt, "files": files, "runtime": result["runtime"], "verified": True,
            "rows": result["rows"], "max_difference": result["max_difference"],
            "labels_equal": result["labels_equal"], "note": note}
