"""The project folder: everything a user keeps, in files they can read, copy and reopen.

    project.json      settings, schema, split, status, best trial   (human-readable, versioned)
    data/             the split: train.parquet, validation.parquet, test.parquet (a project of
                      an older release: train.csv, ...; both are read)
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
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from dlstudio import __version__
from dlstudio.engine.config import RunConfig
from dlstudio.engine.errors import ConfigError
from dlstudio.engine.events import Event
from dlstudio.engine.features import category_strings
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


# The type of text columns in the saved split: pandas' str dtype (missing values are NaN) where
# pandas has one (3.x), Python strings in object columns otherwise.
TEXT_DTYPE = pd.Series([], dtype=str).dtype


def _as_text(col: pd.Series) -> pd.Series:
    """`col` as text of the split's text type, missing values kept missing: strings stay as
    they are; other values (numbers, yes/no, dates) become the strings a user would type, as
    `features.category_strings` writes them (3.0 -> "3")."""
    missing = col.isna().to_numpy()
    if pd.api.types.is_string_dtype(col.dtype) and col.dtype != object:
        out = col.astype(TEXT_DTYPE)
    else:
        out = pd.Series(category_strings(col), index=col.index, dtype=TEXT_DTYPE)
    return out.where(~missing) if missing.any() else out


def _read_part(path: Path, dtypes: dict[str, str], columns: list[str] | None) -> pd.DataFrame:
    """One saved part: Parquet, or CSV as DL Studio wrote it before Parquet."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path, columns=columns)
    # Text columns as text; numbers parsed by pandas (a non-number, in a column of numbers
    # stored as text, becomes missing when the part is typed).
    return pd.read_csv(path, usecols=columns, keep_default_na=True,
                       dtype={n: str for n, k in dtypes.items() if k == "text"})


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
    def final_model_path(self) -> Path:
        """The chosen network(s) trained once more on every row after the test (`final_fit`)."""
        return self.models_dir / "final.keras"

    @property
    def export_model_path(self) -> Path:
        """The model an export writes: the final model when there is one, else the tested one."""
        return self.final_model_path if self.final_model_path.is_file() else self.best_model_path

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
    def split_dtypes(self) -> dict[str, str]:
        """The type of each column of the saved split, by the schema: "text" (strings, missing
        as NaN) for categorical, text and ignored columns and a classification target, "float64"
        for numbers and a target to predict as a number."""
        schema = self.schema
        if schema is None:
            raise ConfigError(f"The project '{self.root}' has no schema yet; run a search first.")
        task = self.task
        out: dict[str, str] = {}
        for c in schema.columns:
            if c.role is Role.NUMERIC or (c.role is Role.TARGET and task is not None
                                          and task.is_regression):
                out[c.name] = "float64"
            else:
                out[c.name] = "text"
        return out

    def typed_split_part(self, frame: pd.DataFrame,
                         dtypes: dict[str, str] | None = None) -> pd.DataFrame:
        """`frame` (a part of the split, or some of its columns) with the column types of the
        saved split, converted in place where needed; a column already of its type is kept."""
        dtypes = self.split_dtypes() if dtypes is None else dtypes
        for name in frame.columns:
            kind = dtypes.get(name)
            col = frame[name]
            if kind == "float64":
                if col.dtype != np.float64:
                    frame[name] = pd.to_numeric(col, errors="coerce").astype("float64")
            elif kind == "text" and col.dtype != TEXT_DTYPE:
                frame[name] = _as_text(col)
        return frame

    def save_split(self, parts: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        """Save the train/validation/test parts as Parquet (data/NAME.parquet, each written
        atomically) and return them typed exactly as `load_split` will read them back (columns
        converted in place: no second copy of the rows)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        dtypes = self.split_dtypes()
        typed = {name: self.typed_split_part(parts[name], dtypes) for name in SPLITS}
        # Uncompressed, without statistics, dictionaries for text only: ~3x faster to write
        # than pyarrow's defaults (snappy, dictionaries tried on every column), files about
        # the size of the CSV, and as fast to read back.
        text = [name for name, kind in dtypes.items() if kind == "text"]

        def write(name: str) -> None:
            table = pa.Table.from_pandas(typed[name], preserve_index=False)
            atomic_write_with(self.data_dir / f"{name}.parquet",
                              lambda f: pq.write_table(table, f, compression="none",
                                                       use_dictionary=text,
                                                       write_statistics=False))

        # The three files at once: pyarrow writes without holding Python's lock.
        with ThreadPoolExecutor(len(SPLITS)) as pool:
            list(pool.map(write, SPLITS))
        self.meta["split"] = {
            "seed": self.config.seed,
            **{name: len(typed[name]) for name in SPLITS},
            "files": {name: f"data/{name}.parquet" for name in SPLITS},
        }
        self.save()
        return typed

    def split_files(self) -> dict[str, Path] | None:
        """The files of the saved split, per part: those project.json records, else
        data/NAME.parquet, else data/NAME.csv (a project of DL Studio 0.x before Parquet);
        None when a part is missing."""
        recorded = (self.meta.get("split") or {}).get("files") or {}
        candidates = []
        if all(isinstance(recorded.get(name), str) for name in SPLITS):
            candidates.append({name: self.root / recorded[name] for name in SPLITS})
        for suffix in (".parquet", ".csv"):
            candidates.append({name: self.data_dir / f"{name}{suffix}" for name in SPLITS})
        for files in candidates:
            if all(path.is_file() for path in files.values()):
                return files
        return None

    def has_split(self) -> bool:
        return self.split_files() is not None

    def load_split(self, columns: list[str] | None = None) -> dict[str, pd.DataFrame]:
        """Read the saved split back with the dtypes of the schema (text stays text): every
        column, or only `columns` (cheap from Parquet, which reads just those)."""
        dtypes = self.split_dtypes()
        files = self.split_files()
        if files is None:
            raise ConfigError(f"The project '{self.root}' has no saved split (data/) yet; run "
                              "its search first.")
        return {name: self.typed_split_part(_read_part(path, dtypes, columns), dtypes)
                for name, path in files.items()}

    def read_split_columns(self, columns: list[str]) -> dict[str, pd.DataFrame]:
        """Only the named columns of each part of the saved split, typed as `load_split`."""
        return self.load_split(columns)

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
