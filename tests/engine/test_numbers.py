"""Numbers at the edges: outputs in the hundreds of thousands and more."""

from __future__ import annotations

import numpy as np
import pytest

# -- the export check: relative to the outputs' size, absolute near zero --------------------------

def _compare(got, want, key: str = "prediction") -> dict[str, float]:
    from dlstudio.engine.export import compare_outputs
    return compare_outputs({key: np.asarray(got).tolist()}, {key: np.asarray(want)})


def test_outputs_in_the_hundreds_of_thousands_match_within_a_float32_step():
    want = np.array([[412_345.5], [398_000.25], [1.5e7]], dtype=np.float32)
    got = np.nextafter(want, np.float32(np.inf))          # one float32 step up: 0.03 at 4e5
    diff = _compare(got, want)
    assert diff["max_abs_difference"] == pytest.approx(1.0)     # the step at 1.5e7
    assert diff["max_relative_difference"] < 1e-7


def test_outputs_that_differ_by_one_percent_fail_in_plain_words():
    want = np.array([[412_345.5], [398_000.25]], dtype=np.float32)
    got = want * np.array([[1.0], [1.01]], dtype=np.float32)
    with pytest.raises(RuntimeError, match=r"differ .* by up to 1% of their size \(at most "
                                           r"0\.001% is allowed\)"):
        _compare(got, want)


def test_outputs_near_zero_are_compared_with_an_absolute_tolerance():
    want = np.array([[0.0, 1.0], [1e-7, 1.0 - 1e-7]], dtype=np.float32)
    _compare(want + 5e-6, want, key="probabilities")          # 50x want near zero: still fine
    with pytest.raises(RuntimeError, match="differ"):
        _compare(want + np.array([[1e-3, 0], [0, 0]]), want, key="probabilities")


def test_non_numbers_and_other_labels_fail_the_export_check():
    with pytest.raises(RuntimeError, match="not numbers"):
        _compare([[np.nan]], np.array([[np.nan]]))
    from dlstudio.engine.export import compare_outputs
    with pytest.raises(RuntimeError, match="different labels"):
        compare_outputs({"label": ["good", "bad"]}, {"label": np.array(["good", "good"])})
