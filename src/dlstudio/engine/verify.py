"""Reload an exported SavedModel and run it on JSON inputs (used in a fresh process).

    python -m dlstudio.engine.verify EXPORT_DIR INPUTS.json OUTPUTS.json

Started through `dlstudio.fresh.module_command`, which also works in the frozen app.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
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
