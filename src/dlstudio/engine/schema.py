"""The schema of a table: one role per column, with the reason it was chosen."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum


class Role(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    TEXT = "text"
    TARGET = "target"
    IGNORE = "ignore"


@dataclass
class ColumnInfo:
    name: str
    role: Role
    dtype: str          # pandas dtype as text, e.g. "float64", "object"
    missing: int        # number of missing values
    distinct: int       # number of distinct non-missing values
    reason: str         # why this role was chosen, in plain words

    def to_dict(self) -> dict:
        d = asdict(self)
        d["role"] = str(self.role)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ColumnInfo:
        return cls(**{**d, "role": Role(d["role"])})


@dataclass
class Schema:
    rows: int
    columns: list[ColumnInfo]
    warnings: list[str] = field(default_factory=list)

    @property
    def target(self) -> str | None:
        for c in self.columns:
            if c.role is Role.TARGET:
                return c.name
        return None

    def names(self, role: Role) -> list[str]:
        return [c.name for c in self.columns if c.role is role]

    @property
    def features(self) -> list[ColumnInfo]:
        return [c for c in self.columns if c.role in (Role.NUMERIC, Role.CATEGORICAL, Role.TEXT)]

    def column(self, name: str) -> ColumnInfo:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def with_roles(self, roles: dict[str, Role | str]) -> Schema:
        """A copy with some roles overridden (e.g. by the user in the GUI)."""
        cols = []
        for c in self.columns:
            if c.name in roles:
                c = ColumnInfo(**{**c.to_dict(), "role": Role(roles[c.name])})
                c.reason = ("the column to predict" if c.role is Role.TARGET
                            else "chosen by you")
            else:
                c = ColumnInfo.from_dict(c.to_dict())
            cols.append(c)
        return Schema(rows=self.rows, columns=cols, warnings=list(self.warnings))

    def to_dict(self) -> dict:
        return {
            "rows": self.rows,
            "columns": [c.to_dict() for c in self.columns],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Schema:
        return cls(
            rows=int(d["rows"]),
            columns=[ColumnInfo.from_dict(c) for c in d["columns"]],
            warnings=list(d.get("warnings", [])),
        )
