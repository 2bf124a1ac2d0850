"""Preparing a run: read the data once, settle the schema and the task, split the rows, and
hand the search, the evaluation and the export one typed `PreparedRun`."""

from __future__ import annotations

import contextlib
import ctypes
import sys
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from dlstudio.engine import data as data_mod
from dlstudio.engine.config import RunConfig
from dlstudio.engine.errors import ConfigError, DataError
from dlstudio.engine.events import Log
from dlstudio.engine.features import FeatureSpec, category_strings, feature_specs, to_arrays
from dlstudio.engine.project import Project
from dlstudio.engine.records import Task
from dlstudio.engine.reporter import Reporter
from dlstudio.engine.schema import Role, Schema
from dlstudio.engine.templates import TaskType, Template, get_template

TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.2     # of what remains after the test rows are set aside


@dataclass
class PreparedRun:
    """Everything the search, the evaluation and the export need, read or settled once:
    the settings, the template, the task, the model inputs and the saved split."""

    project: Project
    config: RunConfig
    template: Template
    task: Task
    schema: Schema
    specs: list[FeatureSpec]
    parts: dict[str, pd.DataFrame]          # train, validation, test

    @classmethod
    def load(cls, project: Project) -> PreparedRun:
        """The run of a project whose data was prepared before (resume, export)."""
        schema, task = project.schema, project.task
        if schema is None or task is None or not project.has_split():
            raise ConfigError(f"The project '{project.root}' has no prepared data yet; "
                              "run its search first.")
        config = project.config
        return cls(project, config, get_template(config.template), task, schema,
                   feature_specs(schema), project.load_split())

    def drop_parts(self, *names: str) -> None:
        """Free the frames `names` (and their arrays) once the model's tensors hold those rows
        (`pipeline.search`): the targets `y` of every split stay; `arrays` then covers the
        parts left."""
        self.y     # noqa: B018  (settled before the frames go)
        self.parts = {k: v for k, v in self.parts.items() if k not in names}
        if "arrays" in self.__dict__:
            self.__dict__["arrays"] = {k: v for k, v in self.arrays.items() if k not in names}
        release_memory()

    @cached_property
    def arrays(self) -> dict[str, dict[str, np.ndarray]]:
        """Model inputs per split: one [N, 1] array per input column."""
        return {name: to_arrays(part, self.specs) for name, part in self.parts.items()}

    @cached_property
    def y(self) -> dict[str, np.ndarray]:
        """Targets per split: class indices, or values for regression."""
        return {name: encode_target(part[self.task.target], self.task)
                for name, part in self.parts.items()}


# -- preparing the data ---------------------------------------------------------------------------

def resolve_task(df: pd.DataFrame, config: RunConfig, template: Template) -> tuple[Schema, Task]:
    """Schema and task description (target, classes, positive class) for this data, or a
    DataError saying what is wrong in words the user understands."""
    target = config.target or data_mod.guess_target(df, template.target_hints)
    if target is None:
        raise DataError(
            "DL Studio could not tell which column to predict. Name it with --target "
            f"(columns: {', '.join(map(str, df.columns))}).")
    data_mod.check_target(df, target, template.task)     # the target's problems come first
    schema = data_mod.infer_schema(df, target=target, text_column=config.text_column)
    if config.roles:
        unknown = [c for c in config.roles if c not in df.columns]
        if unknown:
            raise DataError(f"There is no column {', '.join(map(repr, unknown))} in the data.")
        schema = schema.with_roles(config.roles)
    if schema.target != target:
        raise DataError(f"The column to predict ('{target}') cannot also be an input.")
    if template.modality == "text" and not schema.names(Role.TEXT):
        raise DataError(
            f"The '{template.title}' template needs a column of free text, and none was found. "
            "Name it with --text-column "
            f"(columns: {', '.join(c.name for c in schema.columns if c.name != target)}).")
    if not schema.features:
        raise DataError("No column is left to learn from: every column other than the target "
                        "was set aside (identifiers, constants or mostly empty).")
    if template.task is TaskType.REGRESSION:
        return schema, Task(template=template.name, type=template.task, target=target,
                            text_columns=schema.names(Role.TEXT))
    labels = pd.Series(category_strings(df[target].dropna()))
    classes = sorted(labels.unique().tolist())
    positive = None
    if template.task is TaskType.BINARY:
        positive = config.positive_class
        if positive is not None and positive not in classes:
            raise DataError(f"The positive class '{positive}' does not occur in column "
                            f"'{target}' (its values are: {', '.join(classes)}).")
        if positive is None:
            positive = data_mod.guess_positive_class(classes, template.positive_hints) \
                or classes[-1]
        classes = [c for c in classes if c != positive] + [positive]
    return schema, Task(template=template.name, type=template.task, target=target,
                        classes=classes, positive_class=positive,
                        text_columns=schema.names(Role.TEXT))


def split_rows(df: pd.DataFrame, target: str, task: TaskType, seed: int
               ) -> dict[str, pd.DataFrame]:
    """One seeded train/validation/test split, stratified for classification. Rows without a
    target are left out, and so, for regression, are rows whose target is infinite."""
    keep = df[target].notna()
    if task is TaskType.REGRESSION:
        keep &= np.isfinite(pd.to_numeric(df[target], errors="coerce"))
    if not keep.all():
        df = df[keep]
    df = df.reset_index(drop=True)
    codes = None
    if task is not TaskType.REGRESSION:
        df[target] = category_strings(df[target])
        # Stratified on class codes in sorted class order: the very rows that stratifying on
        # the strings gives (scikit-learn sorts the classes too), without sorting a million
        # strings. The rows are split as positions, and each part is taken from the frame once.
        codes = pd.factorize(df[target], sort=True)[0]
    rows = np.arange(len(df))
    rest, test = train_test_split(rows, test_size=TEST_FRACTION, random_state=seed,
                                  stratify=codes)
    train, val = train_test_split(rest, test_size=VALIDATION_FRACTION, random_state=seed,
                                  stratify=None if codes is None else codes[rest])
    return {name: df.take(part).reset_index(drop=True)
            for name, part in (("train", train), ("validation", val), ("test", test))}


def prepare(project: Project, reporter: Reporter) -> PreparedRun:
    """Read the data, settle the schema and task, and save the split in the project."""
    config = project.config
    template = get_template(config.template)
    df = data_mod.load_data(config.data)
    schema, task = resolve_task(df, config, template)
    for warning in schema.warnings:
        reporter.report(Log(level="warning", message=warning))
    project.set_task(schema, task)
    parts = split_rows(df[[c.name for c in schema.columns]], task.target, task.type, config.seed)
    rows = len(df)
    del df      # the parts hold every row the run uses
    project.save_split(parts)
    reporter.report(Log(level="info", message=(
        f"{rows} rows: {len(parts['train'])} to train, {len(parts['validation'])} to "
        f"validate, {len(parts['test'])} kept aside to test.")))
    # Read back as every later run will (the saved split's dtypes follow the schema), with
    # the parts freed first: only one copy of the rows is ever held.
    del parts
    release_memory()
    return PreparedRun.load(project)


def release_memory() -> None:
    """Hand memory freed by pandas and pyarrow back to the system: pyarrow's pool's unused
    blocks and (glibc) the C heap's free pages, which would otherwise count in the worker's
    resident memory for the rest of the run. (No gc.collect: frames are freed by reference
    counting, and a full collection costs ~0.5 s with TensorFlow's objects loaded.)"""
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):   # not glibc: nothing to trim
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def encode_target(values: pd.Series, task: Task) -> np.ndarray:
    if task.is_regression:
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float32)
    labels = category_strings(values)
    codes = pd.Index(task.classes).get_indexer(labels)
    if (codes < 0).any():
        raise KeyError(labels[np.argmax(codes < 0)])     # a class the task does not know
    return codes.astype(np.int32)
