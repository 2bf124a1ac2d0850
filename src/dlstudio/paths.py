"""Where DL Studio keeps files that belong to no project (logs of the app and the CLI)."""

from __future__ import annotations

import os
from pathlib import Path


def user_dir() -> Path:
    """`$DLSTUDIO_HOME`, or `~/.dlstudio`."""
    return Path(os.environ.get("DLSTUDIO_HOME") or Path.home() / ".dlstudio")


def user_log_path() -> Path:
    """Internal errors outside a project are appended here (DL Studio's tracebacks only)."""
    return user_dir() / "logs" / "dlstudio.log"


def worker_log_path() -> Path:
    """TensorFlow's own output from work outside a project (probe, predict); a project's is in
    its own logs/worker.log."""
    return user_dir() / "logs" / "worker.log"


SAMPLE_FILES = {"credit": "credit.csv", "reviews": "reviews.csv"}


def sample_path(name: str) -> Path:
    """A bundled sample data file, inside the installed package (see samples/SOURCE.md)."""
    import importlib.resources
    res = importlib.resources.files("dlstudio") / "resources" / "samples" / SAMPLE_FILES[name]
    return Path(str(res))
