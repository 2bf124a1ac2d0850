"""The cost-based decision threshold: one rule, used by the evaluation (on validation rows) and by
the Results page (when the user types in costs). NumPy only, so the GUI may import it."""

from __future__ import annotations

import numpy as np


def best_cost_threshold(p: np.ndarray, is_pos: np.ndarray, cost_false_approval: float,
                        cost_false_rejection: float) -> tuple[float, float]:
    """The threshold on P(positive) minimising the total cost of errors on these rows.

    A row is predicted positive (e.g. 'bad' -> reject) when p >= threshold. A missed positive is
    a wrong approval and costs `cost_false_approval`; a negative predicted positive is a wrong
    rejection and costs `cost_false_rejection`. Ties go to the lowest threshold. Returns
    (threshold, total cost on these rows).
    """
    p = np.asarray(p, dtype=float)
    is_pos = np.asarray(is_pos, dtype=bool)
    # Every distinct score is a candidate, and so are 0.5 and "above every score" (no row is
    # predicted positive).
    candidates = np.unique(np.concatenate([p, [0.5, 1.0 + 1e-9]]))
    pos = np.sort(p[is_pos])
    neg = np.sort(p[~is_pos])
    missed = np.searchsorted(pos, candidates, side="left")                    # positives, p < t
    false_alarms = len(neg) - np.searchsorted(neg, candidates, side="left")   # negatives, p >= t
    cost = cost_false_approval * missed + cost_false_rejection * false_alarms
    i = int(np.argmin(cost))
    return float(min(candidates[i], 1.0)), float(cost[i])
