"""What the wizard pages share: the data, the chosen task, the settings and the project.

One `WizardState` object is passed to every page. Pages change it through its methods and
listen to its signals; no page reaches into another page's widgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from PySide6.QtCore import QObject, Signal

from dlstudio.engine.config import DEFAULT_SEED, DEFAULT_TUNER, RunConfig
from dlstudio.engine.project import Project
from dlstudio.engine.records import EvaluationReport
from dlstudio.engine.schema import ColumnInfo, Role, Schema
from dlstudio.engine.templates import TEMPLATES, Template


@dataclass
class SearchSettings:
    """The Settings page's values (None: the template's default); `WizardState.run_config`
    turns them, with the data and task choices, into the engine's RunConfig."""

    max_trials: int | None = None
    max_epochs: int | None = None
    time_limit: float | None = None
    tuner: str = DEFAULT_TUNER
    seed: int = DEFAULT_SEED
    project_dir: str = ""
    search_space: dict[str, Any] = field(default_factory=dict)
    cost_false_approval: float = 1.0
    cost_false_rejection: float = 1.0
    workers: int = 1        # worker processes on this machine (more than 1: a distributed search)
    final_fit: bool = True  # after the test, train once more on every row for the export


def fallback_role(column: ColumnInfo) -> Role:
    """The role a column falls back to when it stops being the target."""
    if column.dtype.startswith(("int", "uint", "float", "Int", "UInt", "Float")):
        return Role.NUMERIC
    return Role.CATEGORICAL


class WizardState(QObject):
    """The one shared model behind the wizard."""

    data_changed = Signal()        # a new table was loaded (or cleared)
    schema_changed = Signal()      # a role, the target or the text column changed
    task_changed = Signal()        # template, target, positive class or text column changed
    project_changed = Signal()     # a project folder was created, finished or opened

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.reset()

    def reset(self) -> None:
        self.data_path: str | None = None
        self.df: pd.DataFrame | None = None
        self.base_schema: Schema | None = None
        self.role_overrides: dict[str, Role] = {}
        self.template: Template | None = None
        self.target: str | None = None
        self.positive_class: str | None = None
        self.text_column: str | None = None
        self.settings = SearchSettings()
        self.project: Project | None = None
        self.decision_threshold: float | None = None   # set on the Results page (binary)
        # Suggestions from a sample or an opened project, applied by the Task page.
        self.preset: dict[str, Any] = {}

    def new(self) -> None:
        """Forget everything (File > New) and tell every page."""
        self.reset()
        self.data_changed.emit()
        self.schema_changed.emit()
        self.task_changed.emit()
        self.project_changed.emit()

    # -- data ---------------------------------------------------------------------------------
    def set_data(self, path: str, df: pd.DataFrame, schema: Schema) -> None:
        self.data_path = path
        self.df = df
        self.base_schema = schema
        known = set(df.columns)
        self.role_overrides = {k: v for k, v in self.role_overrides.items() if k in known}
        if self.target not in known:
            self.target = None
            self.positive_class = None
        if self.text_column not in known:
            self.text_column = None
        self.data_changed.emit()
        self.schema_changed.emit()

    @property
    def schema(self) -> Schema | None:
        """The inferred schema with the user's roles and the chosen target applied."""
        if self.base_schema is None:
            return None
        roles: dict[str, Role] = {}
        for c in self.base_schema.columns:
            if c.name == self.target:
                roles[c.name] = Role.TARGET
            elif c.name in self.role_overrides:
                roles[c.name] = self.role_overrides[c.name]
            elif c.role is Role.TARGET:
                roles[c.name] = fallback_role(c)
        schema = self.base_schema.with_roles(roles)
        # Columns the user did not touch keep the reason the engine gave.
        for c, base in zip(schema.columns, self.base_schema.columns, strict=True):
            if c.name not in self.role_overrides and c.name != self.target and c.role is base.role:
                c.reason = base.reason
        return schema

    def set_role(self, column: str, role: Role | str) -> None:
        role = Role(role)
        if role is Role.TARGET:
            self.role_overrides.pop(column, None)
            self.set_target(column)
            return
        if column == self.target:
            self.target = None
            self.positive_class = None
            self.task_changed.emit()
        self.role_overrides[column] = role
        self.schema_changed.emit()

    # -- task ---------------------------------------------------------------------------------
    def set_template(self, name: str | None) -> None:
        self.template = TEMPLATES[name] if name else None
        self.task_changed.emit()

    def set_target(self, column: str | None) -> None:
        if column == self.target:
            return
        self.target = column
        if column:
            self.role_overrides.pop(column, None)
        self.positive_class = None
        self.task_changed.emit()
        self.schema_changed.emit()

    def set_positive_class(self, value: str | None) -> None:
        if value != self.positive_class:
            self.positive_class = value
            self.task_changed.emit()

    def set_text_column(self, column: str | None) -> None:
        if column != self.text_column:
            self.text_column = column
            self.task_changed.emit()

    # -- project ------------------------------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        self.project = project
        self.project_changed.emit()

    def evaluation(self) -> EvaluationReport | None:
        return self.project.read_evaluation() if self.project is not None else None

    def run_config(self) -> RunConfig:
        """The settings of a new search, as the engine reads them (may raise ConfigError)."""
        s = self.settings
        roles = {k: str(v) for k, v in self.role_overrides.items() if k != self.target}
        return RunConfig(
            data=self.data_path or "",
            template=self.template.name if self.template else "",
            project=s.project_dir,
            target=self.target,
            text_column=self.text_column,
            positive_class=self.positive_class,
            roles=roles,
            max_trials=s.max_trials,
            max_epochs=s.max_epochs,
            time_limit=s.time_limit,
            tuner=s.tuner,
            seed=s.seed,
            cost_false_approval=s.cost_false_approval,
            cost_false_rejection=s.cost_false_rejection,
            search_space=dict(s.search_space),
            workers=s.workers,
            final_fit=s.final_fit,
        )

    def load_from_project(self, project: Project) -> None:
        """Take the settings of an opened project (its data is loaded separately)."""
        cfg = project.config
        self.reset()
        self.project = project
        self.data_path = cfg.data or None
        self.role_overrides = {k: Role(v) for k, v in cfg.roles.items()}
        self.template = TEMPLATES.get(cfg.template)
        self.target = cfg.target or (project.schema.target if project.schema else None)
        task = project.task
        self.positive_class = cfg.positive_class or (task.positive_class if task else None)
        self.text_column = cfg.text_column
        self.settings = SearchSettings(
            max_trials=cfg.max_trials, max_epochs=cfg.max_epochs, time_limit=cfg.time_limit,
            tuner=cfg.tuner, seed=cfg.seed, project_dir=str(project.root),
            search_space=dict(cfg.search_space),
            cost_false_approval=cfg.cost_false_approval,
            cost_false_rejection=cfg.cost_false_rejection,
            workers=cfg.workers,
            final_fit=cfg.final_fit,
        )
        self.preset = {"template": cfg.template, "target": self.target,
                       "positive_class": self.positive_class, "text_column": self.text_column}
        self.data_changed.emit()
        self.task_changed.emit()
        self.project_changed.emit()

    def save_decision(self) -> None:
        """Record the user's decision threshold in project.json (read by the export)."""
        if self.project is None or self.decision_threshold is None:
            return
        fresh = type(self.project).open(self.project.root)   # the worker may have written it
        fresh.set_decision_threshold(self.decision_threshold)
        self.project = fresh

    def save_to_project(self) -> Path:
        """Write the current settings and roles into the project's config (Save project)."""
        if self.project is None:
            raise RuntimeError("no project")
        cfg = self.run_config()
        cfg.project = str(self.project.root)
        # Re-read first: the worker may have written status, best trial or export meanwhile.
        fresh = type(self.project).open(self.project.root)
        fresh.set_config(cfg)
        if self.decision_threshold is not None:
            # The engine's own threshold stays in models/evaluation.json; this is the user's.
            fresh.set_decision_threshold(self.decision_threshold)
        self.project = fresh
        return fresh.project_json
