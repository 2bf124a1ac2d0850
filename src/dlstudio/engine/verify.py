"""Reload an exported model and run it on JSON inputs (used in a fresh process).

    python -m dlstudio.engine.verify EXPORT_DIR INPUTS.json OUTPUTS.json
    python -m dlstudio.engine.verify artifact REQUEST.json OUTPUTS.json
    python -m dlstudio.engine.verify --wait       (then one of the above as a JSON list on stdin)

The first reloads the SavedModel with TensorFlow. The second runs a TFLite or ONNX artefact in
its own runtime (ai-edge-litert, onnxruntime) without importing TensorFlow, through the bundle's
own `preprocess.py` for a network core (see `engine/deploy.py`): on all rows at once and on the
first row alone.

`--wait` imports TensorFlow first and then reads its arguments from stdin: the export starts it
ahead (`export.Verifier`), so that the import's seconds pass while the SavedModel is written.

Started through `export.run_verifier` (`dlstudio.fresh.module_command`), which also works in the
frozen app.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _load_preprocess(path: str):
    import importlib.util
    spec = importlib.util.spec_from_file_location("dlstudio_export_preprocess", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _raw_arrays(rows: dict[str, list], inputs: list[dict]) -> dict[str, Any]:
    import numpy as np
    out = {}
    for s in inputs:
        values = rows[s["input"]]
        if s["dtype"] == "float32":
            out[s["input"]] = np.array([[np.nan if v is None else v] for v in values],
                                       dtype=np.float32)
        else:
            out[s["input"]] = np.array([[str(v)] for v in values], dtype=object)
    return out


def _runner(request: dict[str, Any]) -> tuple[str, Callable[[dict], dict]]:
    """(runtime and version, a function from named input arrays to named output arrays)."""
    if request["runtime"] == "tflite":
        from importlib.metadata import version

        from ai_edge_litert.interpreter import Interpreter
        runner = Interpreter(model_path=request["model"]).get_signature_runner("serving_default")
        return f"ai-edge-litert {version('ai-edge-litert')}", lambda feed: runner(**feed)
    import onnxruntime
    session = onnxruntime.InferenceSession(request["model"], providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]

    def run(feed: dict) -> dict:
        return dict(zip(names, session.run(names, feed), strict=True))

    return f"onnxruntime {onnxruntime.__version__}", run


def _jsonable(outputs: dict[str, Any]) -> dict[str, list]:
    result = {}
    for key, arr in outputs.items():
        if arr.dtype == object:
            result[key] = [x.decode() if isinstance(x, bytes) else str(x) for x in arr.reshape(-1)]
        else:
            result[key] = arr.tolist()
    return result


def run_artifact(request: dict[str, Any]) -> dict[str, Any]:
    """Outputs of a TFLite or ONNX artefact on the request's raw rows, all and the first alone."""
    runtime, run = _runner(request)
    pre = _load_preprocess(request["preprocess"]) if request.get("preprocess") else None
    spec = pre.load_spec(request["spec"]) if pre else None
    raw = _raw_arrays(request["rows"], request["inputs"])

    def predict(rows: dict[str, Any]) -> dict[str, list]:
        if pre is None:
            return _jsonable(run(rows))
        outputs = {k: v for k, v in run(pre.preprocess(rows, spec)).items()}
        labels = pre.labels(outputs.get("probabilities"), spec)
        result = _jsonable(outputs)
        if labels is not None:
            result["label"] = labels
        return result

    return {"runtime": runtime, "all": predict(raw),
            "first": predict({k: v[:1] for k, v in raw.items()})}


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--wait":
        from dlstudio.engine.tf import tf
        tf.constant([1.0]) + 1.0           # TensorFlow's runtime starts on its first op
        line = sys.stdin.readline()
        if not line.strip():               # the export was abandoned (or its process died)
            return 0
        argv = [str(a) for a in json.loads(line)]
    if argv[0] == "artifact":
        request = json.loads(Path(argv[1]).read_text())
        Path(argv[2]).write_text(json.dumps(run_artifact(request)))
        return 0
    export_dir, inputs_path, outputs_path = argv
    from dlstudio.engine.export import inputs_from_json
    from dlstudio.engine.tf import tf

    data = json.loads(Path(inputs_path).read_text())
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    outputs = serve(**inputs_from_json(data["inputs"], data["specs"]))
    result = {}
    for key, value in outputs.items():
        arr = value.numpy()
        result[key] = [x.decode() for x in arr] if arr.dtype == object else arr.tolist()
    Path(outputs_path).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    status = main(sys.argv[1:])
    # The outputs are written; skip TensorFlow's 1-2 s of interpreter teardown, which every
    # export would otherwise wait for.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
