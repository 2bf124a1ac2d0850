"""What a run needs to know: plain, JSON-serialisable settings, each checked on creation.

The defaults live here and nowhere else; the CLI and the GUI read them from this module.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from dlstudio.engine.errors import ConfigError
from dlstudio.engine.schema import Role

TUNERS = ("bayesian", "hyperband", "random")
DEFAULT_TUNER = "bayesian"
DEFAULT_SEED = 42
TEXT_ARCHITECTURES = ("bag", "cnn", "rnn")

# The keys a search space may narrow, and the type of each value.
SEARCH_SPACE_KEYS: dict[str, type | tuple[type, ...]] = {
    "max_layers": int, "max_units": int, "max_dropout": (int, float),
    "min_learning_rate": (int, float), "max_learning_rate": (int, float),
    "text_architectures": (list, tuple),
}


@dataclass
class RunConfig:
    data: str                          # a table file, or a folder of texts with a folder per class
    template: str
    project: str                       # the project folder
    target: str | None = None          # None: guess from the template
    text_column: str | None = None     # None: guess (text templates)
    positive_class: str | None = None  # binary tasks; None: guess from the template
    roles: dict[str, str] = field(default_factory=dict)   # user overrides: column -> role
    max_trials: int | None = None      # None: the template's default
    max_epochs: int | None = None      # None: the template's default
    time_limit: float | None = None    # seconds for the whole search; None: no limit
    tuner: str = DEFAULT_TUNER
    seed: int = DEFAULT_SEED
    export: str | None = None          # export the best model here when done
    cost_false_approval: float = 1.0   # credit scoring: cost of approving a bad applicant
    cost_false_rejection: float = 1.0  # ... and of rejecting a good one (sets the threshold)
    # Narrows the search space; keys (all optional): "max_layers" (int, 1-5), "max_units" (int),
    # "max_dropout" (float), "min_learning_rate" / "max_learning_rate" (float),
    # "text_architectures" (list of "bag", "cnn", "rnn"). Templates may set defaults for these.
    search_space: dict = field(default_factory=dict)
    # Worker processes on this machine (more than 1: a distributed search). Kept in
    # project.json so that a reopened or resumed project runs with as many again.
    workers: int = 1
    # After the test, train the chosen network(s) once more on every row, test rows included,
    # with the same settings and epochs; the export is that model (`pipeline.final_fit`).
    final_fit: bool = True

    def __post_init__(self) -> None:
        # The template is checked by name where it is used (`get_template`): the GUI holds a
        # config before the user has picked one.
        for name in ("data", "template", "project"):
            _check_type(name, getattr(self, name), str)
        for name in ("target", "text_column", "positive_class", "export"):
            _check_type(name, getattr(self, name), (str, type(None)), "a column name or nothing"
                        if name != "export" else "a folder or nothing")
        _check_type("roles", self.roles, dict)
        for column, role in self.roles.items():
            _check_choice(f"The role of column '{column}'", role, tuple(str(r) for r in Role))
        for name in ("max_trials", "max_epochs"):
            value = getattr(self, name)
            if value is not None:
                _check_type(name, value, int)
                _check_range(name, value, value >= 1, "at least 1")
        if self.time_limit is not None:
            _check_type("time_limit", self.time_limit, (int, float))
            _check_range("time_limit", self.time_limit,
                         math.isfinite(self.time_limit) and self.time_limit > 0,
                         "a positive number of seconds")
        _check_choice("tuner", self.tuner, TUNERS)
        _check_type("seed", self.seed, int)
        _check_type("workers", self.workers, int)
        _check_type("final_fit", self.final_fit, bool)
        _check_range("workers", self.workers, 1 <= self.workers <= 64, "from 1 to 64")
        for name in ("cost_false_approval", "cost_false_rejection"):
            value = getattr(self, name)
            _check_type(name, value, (int, float))
            _check_range(name, value, math.isfinite(value) and value > 0, "a positive number")
        self._check_search_space()

    def _check_search_space(self) -> None:
        _check_type("search_space", self.search_space, dict)
        for key, value in self.search_space.items():
            _check_choice("A key of the 'search_space' option", key, tuple(SEARCH_SPACE_KEYS))
            name = f"The search space's '{key}'"
            _check_type(name, value, SEARCH_SPACE_KEYS[key])
            if key == "text_architectures":
                for arch in value:
                    _check_choice("A text architecture", arch, TEXT_ARCHITECTURES)
                _check_range(name, value, len(value) > 0, "not empty")
            else:
                _check_range(name, value, value > 0, "positive")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# -- messages in the style of scikit-learn's parameter validation --------------------------------

def _check_type(name: str, value: Any, types: type | tuple[type, ...],
                expected: str | None = None) -> None:
    types = types if isinstance(types, tuple) else (types,)
    # True is an int to Python, but not a number of trials.
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        wanted = expected or " or ".join(_TYPE_WORDS.get(t, t.__name__) for t in types)
        raise ConfigError(f"{_subject(name)} must be {wanted}; got {value!r}.")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{_subject(name)} must be one of {', '.join(choices)}; got {value!r}.")


def _check_range(name: str, value: Any, ok: bool, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{_subject(name)} must be {expected}; got {value!r}.")


def _subject(name: str) -> str:
    """A field name becomes "The 'tuner' option"; a phrase ("The role of column 'Age'") stays."""
    return name if " " in name else f"The '{name}' option"


_TYPE_WORDS = {int: "a whole number", float: "a number", str: "text", dict: "a mapping",
               list: "a list", tuple: "a list", type(None): "nothing"}
