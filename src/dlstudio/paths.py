"""Where DL Studio keeps files that belong to no project (logs of the app and the CLI)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def user_dir() -> Path:
    """`$DLSTUDIO_HOME`, or `~/.dlstudio`."""
    return Path(os.environ.get("DLSTUDIO_HOME") or Path.home() / ".dlstudio")


def user_log_path() -> Path:
    """Internal errors outside a project are appended here (DL Studio's tracebacks only)."""
    return user_dir() / "logs" / "dlstudio.log"


def append_to_log(text: str, path: Path | None = None) -> Path:
    """Append a dated entry (a traceback, an internal error) to DL Studio's log at `path` (a
    project's logs/dlstudio.log), or to the user log when there is none or it cannot be
    written. The one writer of these logs, for the engine, the CLI and the GUI alike; returns
    the file the entry went to."""
    entry = f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n{text.rstrip()}\n\n"
    targets = [p for p in (path, user_log_path()) if p is not None]
    for target in targets:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "a", encoding="utf-8") as f:
                f.write(entry)
            return target
        except OSError:
            continue
    return targets[0]


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
