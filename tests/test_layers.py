"""The layer rules of DESIGN.md, checked in fresh interpreters: the GUI never loads TensorFlow,
the engine never loads Qt."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import dlstudio


def _modules_after_import(modules: list[str]) -> set[str]:
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + "print('\\n'.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"QT_QPA_PLATFORM": "offscreen", **_env()}).stdout
    return set(out.split())


def _env() -> dict[str, str]:
    import os
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _all(package: str) -> list[str]:
    pkg = __import__(package, fromlist=["__path__"])
    return [f"{package}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)]


def test_gui_modules_do_not_import_tensorflow():
    loaded = _modules_after_import(["dlstudio.cli", *_all("dlstudio.ui"),
                                    "dlstudio.workers.process", "dlstudio.workers.bridge"])
    assert "dlstudio.ui.main_window" in loaded
    assert not {"tensorflow", "keras", "keras_tuner"} & loaded


def test_engine_does_not_import_qt():
    loaded = _modules_after_import([*_all("dlstudio.engine"), "dlstudio.workers.tasks"])
    assert "tensorflow" in loaded       # the check itself works: the engine did load TF
    assert not {m for m in loaded if m.startswith(("PySide6", "pyqtgraph", "shiboken6"))}


def test_package_version_is_set():
    assert dlstudio.__version__
