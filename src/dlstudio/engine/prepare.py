"""Preparing a run: read the data once, settle the schema and the task, split the rows, and
hand the search, the evaluation and the export one typed `PreparedRun`."""

from __future__ import annotations

import contextlib
import ctypes
import math
import sys
from collections.abc import Collection
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
from dlstudio.engine.project import TEXT_DTYPE, Project
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
    classes = class_names(df[target])
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


def split_rows(df: pd.DataFrame, target: str, task: TaskType, seed: int, *,
               categories: Collection[str] = ()) -> dict[str, pd.DataFrame]:
    """One seeded train/validation/test split, stratified for classification. Rows without a
    target are left out, and so, for regression, are rows whose target is infinite.

    The rows are those of scikit-learn's `train_test_split` (test first, then validation from
    the rest; `split_positions`). A classification target becomes the class strings
    (`category_strings`: 3.0 -> "3") as text. `categories` names text columns with few distinct
    values: their parts are taken through the values' codes (about twice as fast as taking a
    million strings, which pyarrow copies one by one)."""
    values = df[target]
    keep = values.notna().to_numpy()
    if task is TaskType.REGRESSION:
        keep = keep & np.isfinite(pd.to_numeric(values, errors="coerce")
                            .to_numpy(dtype="float64", na_value=np.nan))
    kept = None if keep.all() else np.flatnonzero(keep)
    if kept is not None:
        values = values.iloc[kept]
    codes = labels = None
    if task is not TaskType.REGRESSION:
        codes, labels = class_codes(values)
    rest, test = split_positions(np.arange(len(values)), TEST_FRACTION, seed, codes)
    train, val = split_positions(rest, VALIDATION_FRACTION, seed,
                                 None if codes is None else codes[rest])
    coded = {name: pd.factorize(df[name]) for name in categories
             if name in df.columns and name != target and df[name].dtype != object
             and pd.api.types.is_string_dtype(df[name].dtype)}
    special = [name for name in df.columns
               if name in coded or (labels is not None and name == target)]
    base = df.drop(columns=special) if special else df
    parts = {}
    for name, positions in (("train", train), ("validation", val), ("test", test)):
        rows = positions if kept is None else kept[positions]
        part = base.take(rows).reset_index(drop=True)
        for column in special:      # in the table's order, so each goes back to its place
            if column in coded:
                col_codes, uniques = coded[column]
                value = uniques.array.take(col_codes[rows], allow_fill=True)
            else:
                value = labels.take(codes[positions])
            part.insert(df.columns.get_loc(column), column, value)
        parts[name] = part
    return parts


def class_codes(values: pd.Series) -> tuple[np.ndarray, pd.api.extensions.ExtensionArray]:
    """(code of each value's class, the classes) of a target without missing values: classes
    are the values as strings (`category_strings`: 3.0 -> "3"), sorted, as text; codes index
    them. The strings are made once per distinct value, not once per row."""
    raw, uniques = pd.factorize(values)
    strings = category_strings(pd.Series(uniques))
    classes = sorted(set(strings))
    where = {c: i for i, c in enumerate(classes)}
    lookup = np.array([where[s] for s in strings], dtype=np.int64)
    return lookup[raw], pd.array(classes, dtype=TEXT_DTYPE)


def class_names(values: pd.Series) -> list[str]:
    """The sorted classes of a target (missing values are no class), as `class_codes`."""
    uniques = pd.Series(pd.unique(values.dropna()) if values.hasnans else pd.unique(values))
    return sorted(set(category_strings(uniques)))


def split_positions(rows: np.ndarray, test_fraction: float, seed: int,
                    stratify: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """`train_test_split(rows, test_size=test_fraction, random_state=seed, stratify=stratify)`:
    the very same rows in the same order, drawn from the same random numbers, where the
    stratification is by class codes (0..k-1). scikit-learn's own split first turns each of a
    million positions into a Python integer (~0.8 s); this one keeps them in arrays. Cases it
    does not cover (too few rows of a class, a seed that is not an integer, a scikit-learn
    without `_approximate_mode`) go to scikit-learn, which also raises its own errors."""
    n = len(rows)
    n_test = math.ceil(test_fraction * n)
    n_train = n - n_test
    fast = None
    if isinstance(seed, int | np.integer) and n_train > 0 and n_test > 0:
        rng = np.random.RandomState(seed)
        if stratify is None:
            permutation = rng.permutation(n)
            fast = permutation[n_test:], permutation[:n_test]
        else:
            fast = _stratified_positions(np.asarray(stratify), n_train, n_test, rng)
    if fast is None:
        rest, test = train_test_split(rows, test_size=test_fraction, random_state=seed,
                                      stratify=stratify)
        return rest, test
    return rows[fast[0]], rows[fast[1]]


def _stratified_positions(codes: np.ndarray, n_train: int, n_test: int,
                          rng: np.random.RandomState
                          ) -> tuple[np.ndarray, np.ndarray] | None:
    """StratifiedShuffleSplit's first split (scikit-learn 1.4 to 1.9), in arrays."""
    try:
        from sklearn.utils.extmath import _approximate_mode
    except ImportError:
        return None
    counts = np.bincount(codes)
    present = counts > 0
    class_counts = counts[present]
    n_classes = len(class_counts)
    if class_counts.min() < 2 or n_train < n_classes or n_test < n_classes:
        return None
    # Codes of the classes present, in sorted order (np.unique's inverse in scikit-learn).
    y = codes if present.all() else (np.cumsum(present) - 1)[codes]
    small = np.int16 if n_classes < 2**15 else np.int64     # radix sort: the same stable order
    order = np.argsort(y.astype(small), kind="stable")
    class_indices = np.split(order, np.cumsum(class_counts)[:-1])
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train, test = [], []
    for i in range(n_classes):
        permutation = rng.permutation(class_counts[i])
        members = class_indices[i].take(permutation, mode="clip")
        train.append(members[: n_i[i]])
        test.append(members[n_i[i]: n_i[i] + t_i[i]])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def prepare(project: Project, reporter: Reporter) -> PreparedRun:
    """Read the data, settle the schema and task, and save the split in the project."""
    config = project.config
    template = get_template(config.template)
    df = data_mod.load_data(config.data)
    schema, task = resolve_task(df, config, template)
    for warning in schema.warnings:
        reporter.report(Log(level="warning", message=warning))
    project.set_task(schema, task)
    parts = split_rows(df[[c.name for c in schema.columns]], task.target, task.type, config.seed,
                       categories=schema.names(Role.CATEGORICAL))
    rows = len(df)
    del df      # the parts hold every row the run uses
    # The parts, typed (in place) as a later run reads them back: no second read of the rows.
    parts = project.save_split(parts)
    release_memory()
    reporter.report(Log(level="info", message=(
        f"{rows} rows: {len(parts['train'])} to train, {len(parts['validation'])} to "
        f"validate, {len(parts['test'])} kept aside to test.")))
    return PreparedRun(project, config, template, task, schema, feature_specs(schema), parts)


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
