"""RunConfig checks every field on creation, with a message that names the option, what it
accepts and what it got (scikit-learn's style)."""

from __future__ import annotations

import pytest

from dlstudio.engine.config import RunConfig
from dlstudio.engine.errors import ConfigError


def _config(**kw) -> RunConfig:
    return RunConfig(**{"data": "d.csv", "template": "credit-scoring", "project": "p", **kw})


@pytest.mark.parametrize(("field", "value", "message"), [
    ("tuner", "grid", "The 'tuner' option must be one of bayesian, hyperband, random; "
                      "got 'grid'."),
    ("template", None, "The 'template' option must be text; got None."),
    ("max_trials", 0, "The 'max_trials' option must be at least 1; got 0."),
    ("max_epochs", 2.5, "The 'max_epochs' option must be a whole number; got 2.5."),
    ("max_trials", True, "The 'max_trials' option must be a whole number; got True."),
    ("time_limit", -1, "The 'time_limit' option must be a positive number of seconds; got -1."),
    ("time_limit", float("inf"), "must be a positive number of seconds; got inf."),
    ("seed", "42", "The 'seed' option must be a whole number; got '42'."),
    ("target", 3, "The 'target' option must be a column name or nothing; got 3."),
    ("roles", {"Age": "number"}, "The role of column 'Age' must be one of numeric, "),
    ("cost_false_approval", 0, "The 'cost_false_approval' option must be a positive number"),
    ("search_space", {"layers": 2}, "A key of the 'search_space' option must be one of max_layers"),
    ("search_space", {"max_units": "big"}, "The search space's 'max_units' must be a whole "
                                           "number; got 'big'."),
    ("search_space", {"text_architectures": ["transformer"]},
     "must be one of bag, cnn, rnn; got 'transformer'."),
])
def test_every_field_is_checked_with_a_plain_message(field, value, message):
    with pytest.raises(ConfigError) as info:
        _config(**{field: value})
    assert message in str(info.value)


def test_a_valid_config_survives_a_round_trip_through_its_dict():
    config = _config(roles={"Age": "categorical"}, max_trials=3, time_limit=60, seed=7,
                     search_space={"max_layers": 2, "text_architectures": ["bag"]},
                     cost_false_approval=5.0)
    assert RunConfig.from_dict(config.to_dict()) == config
