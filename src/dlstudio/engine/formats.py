"""The export formats a user can ask for, and the optional packages each needs.

Plain Python (no TensorFlow): the CLI and the Export page check a choice here before any work
starts. The conversions themselves are in `engine/deploy.py`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable

from dlstudio.engine.errors import ConfigError

SAVEDMODEL, TFLITE, ONNX = "savedmodel", "tflite", "onnx"
FORMATS = (SAVEDMODEL, TFLITE, ONNX)
TITLES = {SAVEDMODEL: "TensorFlow SavedModel", TFLITE: "TensorFlow Lite", ONNX: "ONNX"}

# Import name -> package name on PyPI, per format. TFLite files are made by TensorFlow itself
# but checked in ai-edge-litert, the runtime phones and small devices use.
NEEDS = {TFLITE: {"ai_edge_litert": "ai-edge-litert"},
         ONNX: {"tf2onnx": "tf2onnx", "onnx": "onnx", "onnxruntime": "onnxruntime"}}
INSTALL_HINT = ('pip install "dlstudio[deploy]" (from a source checkout: '
                '.venv/bin/pip install -e ".[deploy]")')


def parse_formats(value: str | Iterable[str] | None) -> list[str]:
    """The formats asked for, in canonical order, SavedModel always included (it is what the
    others are checked against, and what `dlstudio predict` reads)."""
    if value is None:
        items: list[str] = []
    elif isinstance(value, str):
        items = [v.strip().lower() for v in value.split(",") if v.strip()]
    else:
        items = [str(v).strip().lower() for v in value]
    unknown = [v for v in items if v not in FORMATS]
    if unknown:
        raise ConfigError(f"Unknown export format {', '.join(repr(v) for v in unknown)}; "
                          f"choose from {', '.join(FORMATS)} (comma-separated).")
    return [f for f in FORMATS if f == SAVEDMODEL or f in items]


def missing_packages(formats: Iterable[str]) -> list[str]:
    """PyPI names of the optional packages the formats need that are not installed."""
    missing = []
    for f in formats:
        for module, package in NEEDS.get(f, {}).items():
            if importlib.util.find_spec(module) is None and package not in missing:
                missing.append(package)
    return missing


def missing_packages_message(formats: Iterable[str]) -> str | None:
    """A plain sentence saying what to install, or None when everything is there."""
    formats = list(formats)
    missing = missing_packages(formats)
    if not missing:
        return None
    wanted = [TITLES[f] for f in formats if set(NEEDS.get(f, {}).values()) & set(missing)]
    return (f"Exporting to {' and '.join(wanted)} needs the optional package(s) "
            f"{', '.join(missing)}, which are not installed. Install them with: {INSTALL_HINT}")
