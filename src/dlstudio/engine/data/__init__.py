"""Reading the user's data and deciding what each column is for.

`load_data` turns a CSV/TSV/Excel/Parquet/Feather file or a folder of texts (one sub-folder per
class) into a DataFrame; `infer_schema` gives every column a role and a plain reason;
`check_target` refuses a target a model cannot learn from; `profile_column` feeds the GUI's column
panel.

One concern per module:

* `reading`: `load_data` and the file-format detection (encoding, delimiter, decimal comma,
  Excel, Parquet and Feather, folders of texts).
* `inference`: `infer_schema` and its role rules, with the infinite-value warnings.
* `leakage`: warnings for features that predict the target perfectly (used by `infer_schema`).
* `target`: `check_target`, `guess_target`, `guess_positive_class`, `GENERIC_TARGET_HINTS`.
* `profiling`: `ColumnProfile` and `profile_column`, for the GUI's Data page.
* `values` and `wording`: small helpers shared by the above (facts about a column's values; how
  names, values and shares are written in messages).

Everything here is pandas + the standard library: the GUI imports this package, so it must never
import TensorFlow (or Qt).
"""

from __future__ import annotations

from dlstudio.engine.data.inference import infer_schema
from dlstudio.engine.data.profiling import ColumnProfile, profile_column
from dlstudio.engine.data.reading import load_data
from dlstudio.engine.data.target import (
    GENERIC_TARGET_HINTS,
    check_target,
    guess_positive_class,
    guess_target,
)

__all__ = [
    "GENERIC_TARGET_HINTS",
    "ColumnProfile",
    "check_target",
    "guess_positive_class",
    "guess_target",
    "infer_schema",
    "load_data",
    "profile_column",
]
