"""How the data checks write names, values and shares into their messages.

Shared by reading, inference, target checks and profiling: a list of column names cut to 20, a
"no such column" message with a close match, a value cut to 40 characters, a percentage never
rounded to 0% or 100%, a number for a histogram label.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np


def _no_such_column(given: str, names: list[str], what: str) -> str:
    close = difflib.get_close_matches(given, names, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return (f"There is no column called '{given}' to use as the {what} column.{hint} The columns "
            f"are: {_list_names(names)}.")


def _list_names(names: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _short(value: object, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pct(part: int, whole: int) -> str:
    return _pct_f(part / whole)


def _pct_f(fraction: float) -> str:
    # Never round a partial share to 0% or 100%: "100% missing" must mean every value.
    pct = 100 * fraction
    if 0 < pct < 1:
        return "<1%"
    if 99 < pct < 100:
        return ">99%"
    return f"{pct:.0f}%"


def _fmt_number(x: object) -> str:
    return f"{float(x):.4g}" if not isinstance(x, (int, np.integer)) else str(x)
