"""What a run needs to know: plain, JSON-serialisable settings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from dlstudio.engine.errors import ConfigError

TUNERS = ("bayesian", "hyperband", "random")


@dataclass
class RunConfig:
    data: str                          # CSV/TSV file, or folder of texts with a folder per class
    template: str
    project: str                       # the project folder
    target: str | None = None          # None: guess from the template
    text_column: str | None = None     # None: guess (text templates)
    positive_class: str | None = None  # binary tasks; None: guess from the template
    roles: dict[str, str] = field(default_factory=dict)   # user overrides: column -> role
    max_trials: int | None = None      # None: the template's default
    max_epochs: int | None = None      # None: the template's default
    time_limit: float | None = None    # seconds for the whole search; None: no limit
    tuner: str = "bayesian"
    seed: int = 42
    export: str | None = None          # export the best model here when done
    cost_false_approval: float = 1.0   # credit scoring: cost of approving a bad applicant
    cost_false_rejection: float = 1.0  # ... and of rejecting a good one (sets the threshold)
    # Narrows the search space; keys (all optional): "max_layers" (int, 1-5), "max_units" (int),
    # "max_dropout" (float), "min_learning_rate" / "max_learning_rate" (float),
    # "text_architectures" (list of "bag", "cnn"). Templates may set defaults for these.
    search_space: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tuner not in TUNERS:
            raise ConfigError(f"Unknown tuner '{self.tuner}'. Choose one of: {', '.join(TUNERS)}.")
        if self.max_trials is not None and self.max_trials < 1:
            raise ConfigError(f"The number of trials must be at least 1 (got {self.max_trials}).")
        if self.max_epochs is not None and self.max_epochs < 1:
            raise ConfigError(f"The number of epochs must be at least 1 (got {self.max_epochs}).")
        if self.time_limit is not None and self.time_limit <= 0:
            raise ConfigError(f"The time limit must be positive (got {self.time_limit} s).")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
