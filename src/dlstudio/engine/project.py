"""The project folder: everything a user keeps, in files they can read, copy and reopen.

    project.json      settings, schema, split, status, best trial   (human-readable, versioned)
    data/             the split: train.csv, validation.csv, test.csv
    search/           KerasTuner's own directory
    events.jsonl      every event of every run, appended
    models/           best.keras and evaluation.json
    export/           SavedModel + model card, when exported
    logs/dlstudio.log tracebacks of internal errors

Writes are atomic (temporary file, then rename) and nothing is ever un-pickled.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import tempfile
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from dlstudio import __version__
from dlstudio.engine.config import RunConfig
from dlstudio.engine.errors import ConfigError
from dlstudio.engine.events import Event
from dlstudio.engine.records import EvaluationReport, Task
from dlstudio.engine.schema import Role, Schema

FORMAT_VERSION = 1
SPLITS = ("train", "validation", "test")


class Status(StrEnum):
    NEW = "new"
    SEARCHING = "searching"
    STOPPED = "stopped"          # stopped by the user or the time limit before the trial budget
    FAILED = "failed"
    FINISHED = "finished"        # search done, best model evaluated


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the new one, never half."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never half."""
    atomic_write_with(path, lambda f: f.write(data))


def atomic_write_with(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Let `write` fill a binary file that replaces `path` once it is complete (readers see
    the old file or the new one, never half), without the whole content in memory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# Columns pyarrow's CSV writer writes so that pandas reads back the same values as from pandas'
# own writer (numbers, and text whose every value is a string); other kinds (booleans, dates,
# mixed objects) are written differently (true/True, ...), so a table with any goes to pandas.
_ARROW_SAFE_KINDS = frozenset({"string", "floating", "integer", "empty"})


def table_csv_bytes(frame: pd.DataFrame) -> bytes:
    """`frame` as CSV bytes (no index), as `write_table_csv` writes it."""
    sink = io.BytesIO()
    write_table_csv(frame, sink)
    return sink.getvalue()


def write_table_csv(frame: pd.DataFrame, f: BinaryIO) -> None:
    """Write `frame` as CSV (no index) to the binary file `f`. pyarrow's writer where it reads
    back the same as pandas' (about 8x faster on a large table of numbers), pandas' otherwise."""
    import importlib.util

    if importlib.util.find_spec("pyarrow") is not None and all(
            not pd.api.types.is_bool_dtype(col.dtype)
            and pd.api.types.infer_dtype(col, skipna=True) in _ARROW_SAFE_KINDS
            for _, col in frame.items()) and frame.columns.is_unique:
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        pa_csv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), f)
        return
    frame.to_csv(f, index=False, lineterminator="\n", encoding="utf-8")


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


def export_folder_problem(export_dir: str | os.PathLike) -> str | None:
    """Why a model cannot be exported to `export_dir`, in words for the user; None if it can (a
    new or empty folder, or an earlier export, which is replaced)."""
    export_dir = Path(export_dir)
    if not export_dir.exists():
        return None
    if not export_dir.is_dir():
        return f"'{export_dir}' is a file; choose a folder to export to."
    if any(export_dir.iterdir()) and not (export_dir / "model_card.json").is_file():
        return (f"The folder '{export_dir}' is not empty and holds no earlier export. Choose an "
                "empty or new folder so that nothing in it is overwritten.")
    return None


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class Project:
    """A project folder on disk. Use `Project.create` or `Project.open`."""

    def __init__(self, root: str | os.PathLike, meta: dict[str, Any]) -> None:
        self.root = Path(root).resolve()
        self.meta = meta

    # -- paths --------------------------------------------------------------------------------
    @property
    def project_json(self) -> Path:
        return self.root / "project.json"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def search_dir(self) -> Path:
        return self.root / "search"

    @property
    def events_path(self) -> Path:
        return self.root / "events.jsonl"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def best_model_path(self) -> Path:
        return self.models_dir / "best.keras"

    @property
    def evaluation_path(self) -> Path:
        return self.models_dir / "evaluation.json"

    @property
    def default_export_dir(self) -> Path:
        return self.root / "export"

    @property
    def tensorboard_dir(self) -> Path:
        """TensorBoard logs: one folder per trial (`tensorboard --logdir PROJECT/tensorboard`)."""
        return self.root / "tensorboard"

    @property
    def log_path(self) -> Path:
        return self.root / "logs" / "dlstudio.log"

    # -- life cycle ---------------------------------------------------------------------------
    @staticmethod
    def folder_problem(root: str | os.PathLike) -> str | None:
        """Why a project cannot be made in `root`, in words for the user; None if it can (a
        new or empty folder). The CLI and the Settings page both ask this."""
        root = Path(root)
        if (root / "project.json").exists():
            return (f"The folder '{root}' already holds a DL Studio project. Continue it "
                    f"('dlstudio resume {root}', or File ▸ Open project in the app), or choose "
                    "another folder.")
        if root.exists() and not root.is_dir():
            return f"'{root}' is a file, not a folder. Choose a folder for the project."
        if root.exists() and any(root.iterdir()):
            return (f"The folder '{root}' is not empty. Choose an empty or new folder for the "
                    "project, so that nothing in it is overwritten.")
        return None

    @staticmethod
    def check_free(root: str | os.PathLike) -> None:
        """Raise ConfigError unless `root` is a new or empty folder a project may be made in."""
        problem = Project.folder_problem(root)
        if problem:
            raise ConfigError(problem)

    @classmethod
    def create(cls, root: str | os.PathLike, config: RunConfig) -> Project:
        """Make a new project folder; refuse to touch a folder that holds anything else."""
        root = Path(root)
        cls.check_free(root)
        root.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": FORMAT_VERSION,
            "app_version": __version__,
            "created": _now(),
            "updated": _now(),
            "status": str(Status.NEW),
            "config": config.to_dict(),
            "task": {},
            "schema": None,
            "split": {},
            "best": None,
            "export": None,
        }
        project = cls(root, meta)
        project.save()
        return project

    @classmethod
    def open(cls, root: str | os.PathLike) -> Project:
        root = Path(root)
        path = root / "project.json"
        if not path.is_file():
            raise ConfigError(
                f"'{root}' is not a DL Studio project folder (it has no project.json).")
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"The project file '{path}' cannot be read: {exc}.") from exc
        version = meta.get("format_version")
        if not isinstance(version, int):
            raise ConfigError(f"'{path}' is not a DL Studio project file (no format_version).")
        if version > FORMAT_VERSION:
            raise ConfigError(
                f"This project was saved by a newer DL Studio (format {version}; this version "
                f"reads up to {FORMAT_VERSION}). Update DL Studio to open it."
            )
        # Format 1 is the first; migrations from older formats go here.
        return cls(root, meta)

    def save(self) -> None:
        self.meta["updated"] = _now()
        atomic_write_json(self.project_json, self.meta)

    # -- typed views of project.json, and the only writers of its keys -------------------------
    @property
    def config(self) -> RunConfig:
        return RunConfig.from_dict(self.meta["config"])

    def set_config(self, config: RunConfig) -> None:
        self.meta["config"] = config.to_dict()
        self.save()

    @property
    def status(self) -> Status:
        return Status(self.meta["status"])

    def set_status(self, status: Status) -> None:
        self.meta["status"] = str(status)
        self.save()

    @property
    def schema(self) -> Schema | None:
        s = self.meta.get("schema")
        return Schema.from_dict(s) if s else None

    @property
    def task(self) -> Task | None:
        t = self.meta.get("task")
        return Task.from_dict(t) if t else None

    def set_task(self, schema: Schema, task: Task) -> None:
        """The schema and task that `prepare` settled from the data."""
        self.meta["schema"] = schema.to_dict()
        self.meta["task"] = task.to_dict()
        self.save()

    @property
    def split_sizes(self) -> dict[str, int]:
        """Rows per split and the split's seed: {"train": .., "validation": .., "test": ..,
        "seed": ..}; empty before the data is prepared."""
        split = self.meta.get("split") or {}
        return {k: int(split[k]) for k in (*SPLITS, "seed") if k in split}

    @property
    def best_hyperparameters(self) -> dict[str, Any]:
        return dict((self.meta.get("best") or {}).get("hyperparameters") or {})

    def set_search_result(self, *, trial_id: str | None, score: float | None, objective: str,
                          hyperparameters: dict[str, Any], reason: str, completed_trials: int,
                          max_trials: int, max_epochs: int) -> None:
        """The best trial and how the search ended (the model itself is in models/)."""
        self.meta["best"] = {"trial_id": trial_id, "score": score, "objective": objective,
                             "hyperparameters": hyperparameters,
                             "model": str(self.best_model_path.relative_to(self.root))}
        self.meta["search"] = {"reason": reason, "completed_trials": completed_trials,
                               "max_trials": max_trials, "max_epochs": max_epochs}
        self.save()

    @property
    def ensemble(self) -> dict[str, Any]:
        """How many of the best networks the model averages and why (`ensemble.Choice.summary`:
        k, validation_scores per k, members); empty before the choice was made."""
        return dict(self.meta.get("ensemble") or {})

    def set_ensemble(self, summary: dict[str, Any]) -> None:
        self.meta["ensemble"] = summary
        self.save()

    def set_outcome(self, status: Status, metrics: dict[str, float]) -> None:
        """The status at the end of a search and the best model's test metrics."""
        self.meta["metrics"] = metrics
        self.meta["status"] = str(status)
        self.save()

    @property
    def decision_threshold(self) -> float | None:
        """The threshold the user chose on the Results page (the export uses it), if any."""
        t = (self.meta.get("decision") or {}).get("threshold")
        return None if t is None else float(t)

    def set_decision_threshold(self, threshold: float | None) -> None:
        self.meta["decision"] = (None if threshold is None
                                 else {"threshold": float(threshold), "chosen_by": "user"})
        self.save()

    @property
    def export_summary(self) -> dict[str, Any] | None:
        """Where the last export went and how to call it (see `export.export_model`)."""
        return self.meta.get("export")

    def set_export_summary(self, summary: dict[str, Any]) -> None:
        self.meta["export"] = summary
        self.save()

    # -- data ---------------------------------------------------------------------------------
    def save_split(self, parts: dict[str, pd.DataFrame]) -> None:
        for name in SPLITS:
            atomic_write_with(self.data_dir / f"{name}.csv",
                              lambda f, part=parts[name]: write_table_csv(part, f))
        self.meta["split"] = {
            "seed": self.config.seed,
            **{name: len(parts[name]) for name in SPLITS},
            "files": {name: f"data/{name}.csv" for name in SPLITS},
        }
        self.save()

    def has_split(self) -> bool:
        return all((self.data_dir / f"{name}.csv").is_file() for name in SPLITS)

    def load_split(self) -> dict[str, pd.DataFrame]:
        """Read the saved split back with the dtypes of the schema (text stays text)."""
        schema = self.schema
        if schema is None:
            raise ConfigError(f"The project '{self.root}' has no schema yet; run a search first.")
        dtypes: dict[str, Any] = {}
        for c in schema.columns:
            if c.role in (Role.CATEGORICAL, Role.TEXT, Role.IGNORE):
                dtypes[c.name] = str
            elif c.role is Role.NUMERIC:
                dtypes[c.name] = "float64"
            elif c.role is Role.TARGET:
                task = self.task
                dtypes[c.name] = "float64" if task is not None and task.is_regression else str
        return {
            name: pd.read_csv(self.data_dir / f"{name}.csv", dtype=dtypes, keep_default_na=True)
            for name in SPLITS
        }

    # -- events -------------------------------------------------------------------------------
    def append_event(self, event: Event) -> None:
        # One short line per write with O_APPEND: a crash can lose at most the last line.
        with open(self.events_path, "a", encoding="utf-8") as f:
            f.write(event.to_json() + "\n")

    def read_events(self) -> list[dict[str, Any]]:
        if not self.events_path.is_file():
            return []
        out = []
        for line in self.events_path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue   # a line cut by a crash
        return out

    def read_evaluation(self) -> EvaluationReport | None:
        if not self.evaluation_path.is_file():
            return None
        return EvaluationReport.from_dict(
            json.loads(self.evaluation_path.read_text(encoding="utf-8")))

    def write_evaluation(self, report: EvaluationReport) -> None:
        atomic_write_json(self.evaluation_path, report.to_dict())
