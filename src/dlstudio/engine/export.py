"""Export: a SavedModel over raw columns, a model card beside it, verified in a fresh process.

The `serving_default` signature takes one [N, 1] tensor per raw input column (string for
categorical and text, float32 for numeric, NaN for a missing number) and returns
`probabilities` [N, K] and `label` [N] (classification) or `prediction` [N, 1] (regression).
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from dlstudio import __version__
from dlstudio.engine.errors import ConfigError, ExportRefused
from dlstudio.engine.features import FeatureSpec
from dlstudio.engine.project import atomic_write_json, atomic_write_text, export_folder_problem
from dlstudio.engine.records import ModelCard
from dlstudio.engine.templates import TaskType
from dlstudio.engine.tf import keras, tf
from dlstudio.fresh import module_command

MODEL_NAME = "dlstudio"
# The reloaded model's outputs must match per element within VERIFY_ATOL + VERIFY_RTOL * |want|
# (numpy.allclose's rule): relative for large outputs, where one float32 step of a price near
# 400,000 is 0.03, and absolute near zero.
VERIFY_RTOL = 1e-5
VERIFY_ATOL = 1e-5


def serving_outputs(model: keras.Model, task: TaskType, classes: list[str],
                    threshold: float | None):
    """The function behind `serving_default`: raw inputs -> named outputs."""
    class_names = tf.constant(classes) if classes else None

    def serve(inputs: dict[str, Any]) -> dict[str, Any]:
        out = model(inputs, training=False)
        if task is TaskType.REGRESSION:
            return {"prediction": out}
        if task is TaskType.BINARY:
            p = out[:, 0:1]
            probs = tf.concat([1.0 - p, p], axis=1)
            idx = tf.cast(p[:, 0] >= threshold, tf.int32)
        else:
            probs = out
            idx = tf.argmax(out, axis=1, output_type=tf.int32)
        return {"probabilities": probs, "label": tf.gather(class_names, idx)}

    return serve


def _input_signature(specs: list[FeatureSpec]) -> dict[str, tf.TensorSpec]:
    return {s.key: tf.TensorSpec([None, 1], tf.float32 if s.dtype == "float32" else tf.string,
                                 name=s.key) for s in specs}


def _jsonable_inputs(arrays: dict[str, np.ndarray]) -> dict[str, list]:
    out = {}
    for k, v in arrays.items():
        if v.dtype == object:
            out[k] = [[str(x)] for x in v[:, 0]]
        else:
            out[k] = [[None if not np.isfinite(x) else float(x)] for x in v[:, 0]]
    return out


def inputs_from_json(data: dict[str, list], specs: list[dict]) -> dict[str, Any]:
    """Tensors for the serving signature from JSON rows (None = missing number)."""
    tensors = {}
    for s in specs:
        values = data[s["input"]]
        if s["dtype"] == "float32":
            arr = np.array([[np.nan if v[0] is None else v[0]] for v in values], dtype=np.float32)
            tensors[s["input"]] = tf.constant(arr)
        else:
            tensors[s["input"]] = tf.constant([[str(v[0])] for v in values], dtype=tf.string)
    return tensors


def serving_examples(card: ModelCard, example: dict[str, list]) -> tuple[str, str]:
    """A curl request for TensorFlow Serving and a Python snippet, for one example row."""
    instance = {k: v[0] for k, v in example.items()}
    body = json.dumps({"signature_name": "serving_default", "instances": [instance]})
    curl = (
        "# Serve the export folder with TensorFlow Serving (it expects a numbered version):\n"
        f'docker run -p 8501:8501 -v "$PWD:/models/{MODEL_NAME}/1" '
        f"-e MODEL_NAME={MODEL_NAME} tensorflow/serving\n\n"
        f"curl -X POST http://localhost:8501/v1/models/{MODEL_NAME}:predict \\\n"
        f"  -H 'Content-Type: application/json' \\\n  -d '{body}'\n"
    )
    args = []
    for s in card.inputs:
        value = example[s.input][0][0]
        if s.dtype == "float32":
            literal = "float('nan')" if value is None else repr(float(value))
            args.append(f"    {s.input!r}: tf.constant([[{literal}]], tf.float32),")
        else:
            args.append(f"    {s.input!r}: tf.constant([[{str(value)!r}]]),")
    python = (
        "import tensorflow as tf\n\n"
        'model = tf.saved_model.load("PATH/TO/EXPORT")\n'
        'serve = model.signatures["serving_default"]\n'
        "outputs = serve(**{\n" + "\n".join(args) + "\n})\n"
        "print({k: v.numpy() for k, v in outputs.items()})\n"
    )
    return curl, python


def keras_example(card: ModelCard, example: dict[str, list]) -> str:
    """A Python snippet that uses the SavedModel as a layer of a Keras 3 model."""
    args = []
    for s in card.inputs:
        value = example[s.input][0][0]
        if s.dtype == "float32":
            literal = "np.nan" if value is None else repr(float(value))
            args.append(f"    {s.input!r}: np.array([[{literal}]], dtype=np.float32),")
        else:
            args.append(f"    {s.input!r}: np.array([[{str(value)!r}]], dtype=object),")
    return ("import keras\nimport numpy as np\n\n"
            'layer = keras.layers.TFSMLayer("PATH/TO/EXPORT", call_endpoint="serving_default")\n'
            "outputs = layer({\n" + "\n".join(args) + "\n})\n"
            "print({k: np.asarray(v) for k, v in outputs.items()})\n")


def model_card_markdown(card: ModelCard) -> str:
    lines = [f"# Model card: {card.name}", "",
             f"Made with DL Studio {card.versions['dlstudio']} on {card.created}, "
             f"template **{card.template['title']}** ({card.template['name']}).", "",
             "## What it predicts", ""]
    if card.task is TaskType.REGRESSION:
        lines.append(f"The number in column **{card.target}**.")
    else:
        lines.append(f"Column **{card.target}**, one of: "
                     + ", ".join(f"`{c}`" for c in card.classes) + ".")
        if card.threshold is not None:
            lines.append(f"A row is labelled `{card.positive_class}` when its probability is at "
                         f"least **{card.threshold:.4f}** ({card.threshold_rule}).")
    lines += ["", "## Inputs (serving signature `serving_default`)", "",
              "| column | input | type |", "|---|---|---|"]
    for s in card.inputs:
        lines.append(f"| {s.column} | `{s.input}` | {s.dtype} [N, 1] |")
    lines += ["", "Missing numbers: NaN. Missing categories or text: an empty string.", "",
              "## Outputs", ""]
    for k, v in card.outputs.items():
        lines.append(f"- `{k}`: {v}")
    lines += ["", "## Test metrics", ""]
    if card.final_fit_rows:
        lines += [f"Measured on {card.data['test']} held-out rows by the same network(s) "
                  "trained on the training and validation rows only. This model was then "
                  f"trained once more, with the same settings, on all {card.final_fit_rows} "
                  "rows, test rows included: it has seen those rows, and the figures are its "
                  "estimate from before (more rows usually make a model slightly better).", ""]
    else:
        lines += [f"On {card.data['test']} held-out rows the search never saw:", ""]
    lines += ["| metric | value |", "|---|---|"]
    for k, v in card.metrics.items():
        lines.append(f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |")
    lines += ["", "## Data", "",
              f"{card.data['rows']} rows from `{card.data['source']}`: "
              f"{card.data['train']} to train, {card.data['validation']} to validate, "
              f"{card.data['test']} to test (seed {card.data['seed']}).", "",
              "## Hyper-parameters of the chosen network", ""]
    for k, v in card.hyperparameters.items():
        if not k.startswith("tuner/"):
            lines.append(f"- {k}: {v}")
    if card.artifacts:
        lines += ["", "## Files and how each was checked", "",
                  "| format | files | runtime | rows | largest difference | labels equal |",
                  "|---|---|---|---|---|---|"]
        for a in card.artifacts:
            same = {True: "yes", False: "no", None: "-"}[a.get("labels_equal")]
            lines.append(f"| {a['format']} | {', '.join(f'`{f}`' for f in a['files'])} | "
                         f"{a['runtime']} | {a['rows']} | {a['max_difference']:.2g} | {same} |")
        lines += [""] + [f"- {a['format']}: {a['note']}" for a in card.artifacts]
    if card.ensemble:
        lines += ["", f"## An ensemble of {len(card.ensemble)} networks", "",
                  f"The model averages the outputs of the best {len(card.ensemble)} networks "
                  "of the search (the number chosen on the validation rows, which the average "
                  "predicted better than the best network alone). Each member, with its "
                  "validation score in the search:", ""]
        for i, m in enumerate(card.ensemble, start=1):
            hps = ", ".join(f"{k}={v}" for k, v in m["hyperparameters"].items()
                            if not k.startswith("tuner/"))
            score = "-" if m.get("score") is None else f"{m['score']:.4f}"
            lines.append(f"{i}. trial {m['trial_id']}, {card.template['objective']} {score}: "
                         f"{hps}")
    if card.device:
        lines += ["", f"Trained on: {card.device}."]
    lines += ["", "## Versions", ""]
    lines += [f"- {k}: {v}" for k, v in card.versions.items()]
    lines += ["", "## Limits", "",
              "The model learned from the rows above only. Check it on recent data before "
              "relying on it, and watch for drift once it is in use.", ""]
    return "\n".join(lines)


def versions() -> dict[str, str]:
    import keras_tuner
    import sklearn
    return {"dlstudio": __version__, "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__,
            "keras_tuner": keras_tuner.__version__, "scikit_learn": sklearn.__version__}


def _prepare_target(export_dir: Path) -> None:
    problem = export_folder_problem(export_dir)
    if problem:
        raise ConfigError(problem)


def compare_outputs(got: dict[str, Any], expected: dict[str, np.ndarray]) -> dict[str, float]:
    """Check the reloaded model's outputs `got` against `expected`; returns the largest
    absolute and relative differences. Raises ExportRefused, in plain words, if they differ.

    Numbers match when |got - want| <= VERIFY_ATOL + VERIFY_RTOL * |want|, per element. The
    relative difference reported is |got - want| / (|want| + VERIFY_ATOL / VERIFY_RTOL): below
    VERIFY_RTOL exactly when the element matches.
    """
    floor = VERIFY_ATOL / VERIFY_RTOL
    abs_diff = rel_diff = 0.0
    for key, want in expected.items():
        if key == "label":
            if [str(x) for x in want] != list(got[key]):
                raise ExportRefused("The exported model, reloaded in a fresh process, predicts "
                                   "different labels from the trained model.")
            continue
        want = np.asarray(want, dtype=np.float64)
        values = np.asarray(got[key], dtype=np.float64).reshape(want.shape)
        if not (np.isfinite(want).all() and np.isfinite(values).all()):
            raise ExportRefused("The model gives outputs that are not numbers (NaN or infinite), "
                               "so its export cannot be checked.")
        diff = np.abs(values - want)
        abs_diff = max(abs_diff, float(diff.max(initial=0.0)))
        rel_diff = max(rel_diff, float((diff / (np.abs(want) + floor)).max(initial=0.0)))
    if rel_diff > VERIFY_RTOL:
        raise ExportRefused(
            f"The exported model, reloaded in a fresh process, gives outputs that differ from "
            f"the trained model's by up to {_percent(rel_diff)} of their size (at most "
            f"{_percent(VERIFY_RTOL)} is allowed).")
    return {"max_abs_difference": abs_diff, "max_relative_difference": rel_diff}


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.2g}%"


VERIFY_TIMEOUT = 600


class Verifier:
    """The fresh process that checks an export, started ahead of it: it imports TensorFlow
    (seconds) while this process trains, evaluates or writes the SavedModel, then waits for
    its arguments (`verify.py --wait`). Used once, by `run_verifier`; `close` ends it if it was
    not used (a failed or stopped run). Still a fresh process: it has loaded nothing of the
    model when the export is handed to it."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = subprocess.Popen(
            module_command("dlstudio.engine.verify", "--wait"), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, args: list[str]) -> subprocess.CompletedProcess:
        proc, self.proc = self.proc, None
        if proc is None:
            raise RuntimeError("This verifier was used already.")
        try:
            out, err = proc.communicate(json.dumps(args) + "\n", timeout=VERIFY_TIMEOUT)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.kill()
            proc.communicate()

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_verifier(args: list[str], verifier: Verifier | None = None
                 ) -> subprocess.CompletedProcess:
    """`python -m dlstudio.engine.verify ARGS` in a fresh process: the one way the engine starts
    another Python (to check an export away from the memory of the process that made it).
    `fresh.module_command` makes that `python -m` from source, the bundled executable when
    frozen. With `verifier`, that process was started ahead (`Verifier`) and is used now."""
    if verifier is not None:
        return verifier.run(args)
    return subprocess.run(module_command("dlstudio.engine.verify", *args),
                          capture_output=True, text=True, timeout=VERIFY_TIMEOUT)


def verify_in_fresh_process(export_dir: Path, card: ModelCard, inputs: dict[str, list],
                            expected: dict[str, np.ndarray],
                            verifier: Verifier | None = None) -> dict[str, float]:
    """Reload the SavedModel in a new Python process (`verifier`'s, when one was started ahead)
    and compare its outputs (see `compare_outputs`); returns the largest differences. Raises
    RuntimeError if they differ."""
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "inputs.json", Path(tmp) / "outputs.json"
        inp.write_text(json.dumps({"specs": card.to_dict()["inputs"], "inputs": inputs}))
        proc = run_verifier([str(export_dir), str(inp), str(out)], verifier)
        if proc.returncode != 0:
            raise RuntimeError(f"The exported model could not be reloaded:\n{proc.stderr[-4000:]}")
        got = json.loads(out.read_text())
    return compare_outputs(got, expected)


# Writes more artefacts into the staging folder once the SavedModel there is verified:
# (folder, sample inputs, the SavedModel's outputs on them) -> one record per artefact.
ExtraArtifacts = Callable[[Path, dict[str, np.ndarray], dict[str, np.ndarray]],
                          list[dict[str, Any]]]


def export_model(model: keras.Model, specs: list[FeatureSpec], card: ModelCard,
                 sample: dict[str, np.ndarray], export_dir: str | Path,
                 extra: ExtraArtifacts | None = None,
                 verifier: Verifier | None = None) -> dict[str, Any]:
    """Export, write the model card and examples, verify in a fresh process, then move the
    result into `export_dir` (replacing an earlier export there). `extra` adds other formats
    (`engine/deploy.py`), each verified before anything is moved. `verifier`: the fresh
    process, started ahead by the caller; otherwise one is started now, so that its import of
    TensorFlow overlaps the writing of the SavedModel. Returns a summary."""
    export_dir = Path(export_dir).resolve()
    _prepare_target(export_dir)
    if verifier is None:
        with Verifier() as own:
            return export_model(model, specs, card, sample, export_dir, extra, own)
    card = replace(card, versions=versions())
    serve = serving_outputs(model, card.task, card.classes, card.threshold)
    staging = Path(tempfile.mkdtemp(prefix=f".{export_dir.name}.", dir=export_dir.parent
                                    if export_dir.parent.exists() else None))
    try:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serving_default", tf.function(serve),
                             input_signature=[_input_signature(specs)])
        archive.write_out(str(staging), verbose=False)

        expected = {k: v.numpy() for k, v in serve(
            {k: tf.constant(v) for k, v in sample.items()}).items()}
        if "label" in expected:
            expected["label"] = np.array([x.decode() for x in expected["label"]])
        sample_json = _jsonable_inputs(sample)
        diff = verify_in_fresh_process(staging, card, sample_json, expected, verifier)
        rows = len(next(iter(sample.values())))
        artifacts = [savedmodel_record(staging, rows, diff, card)]
        if extra is not None:
            artifacts += extra(staging, sample, expected)
        card = replace(card, verified={"rows": rows, **diff}, artifacts=artifacts)
        example = {k: v[:1] for k, v in sample_json.items()}
        curl, python = serving_examples(card, example)
        atomic_write_json(staging / "model_card.json", card.to_dict())
        atomic_write_text(staging / "model_card.md", model_card_markdown(card))
        atomic_write_json(staging / "serving_example.json",
                          {"signature_name": "serving_default",
                           "instances": [{k: v[0] for k, v in example.items()}]})
        atomic_write_text(staging / "serving_example.sh", curl)
        atomic_write_text(staging / "serving_example.py", python)
        atomic_write_text(staging / "serving_example_keras.py", keras_example(card, example))
        if export_dir.exists():
            old = export_dir.with_name(f".{export_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            export_dir.rename(old)
            staging.rename(export_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            export_dir.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(staging), str(export_dir))
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return {
        "export_dir": str(export_dir),
        "model_card": str(export_dir / "model_card.json"),
        "signature": signature_summary(card),
        "curl_example": curl,
        "python_example": python,
        "verified_max_abs_difference": diff["max_abs_difference"],
        "verified_max_relative_difference": diff["max_relative_difference"],
        "artifacts": card.artifacts,
    }


def savedmodel_record(folder: Path, rows: int, diff: dict[str, float],
                      card: ModelCard) -> dict[str, Any]:
    """The model card's `artifacts` entry of the SavedModel (checked by
    `verify_in_fresh_process`, which fails on any label that differs)."""
    files = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    files += [f"serving_example.{x}" for x in ("json", "sh", "py")] + ["serving_example_keras.py"]
    return {"format": "savedmodel", "files": files, "runtime": f"tensorflow {tf.__version__}",
            "verified": True, "rows": rows, "max_difference": diff["max_abs_difference"],
            "labels_equal": None if card.task is TaskType.REGRESSION else True,
            "note": (f"Reloaded with tf.saved_model.load in a fresh process and run on {rows} "
                     f"rows; largest difference {diff['max_abs_difference']:.2g}.")}


def signature_summary(card: ModelCard) -> dict[str, Any]:
    inputs = {s.input: {"column": s.column, "dtype": s.dtype, "shape": [None, 1]}
              for s in card.inputs}
    if card.task is TaskType.REGRESSION:
        outputs = {"prediction": {"dtype": "float32", "shape": [None, 1]}}
    else:
        outputs = {"probabilities": {"dtype": "float32", "shape": [None, len(card.classes)]},
                   "label": {"dtype": "string", "shape": [None]}}
    return {"name": "serving_default", "inputs": inputs, "outputs": outputs}
