"""The export's fresh process, started ahead of the export (`export.Verifier`): used once, and
ended when the run stops before its export. (Its use is covered by every test that exports.)"""

from __future__ import annotations

import pytest

from dlstudio.engine.export import Verifier


def test_a_verifier_started_ahead_and_never_used_is_ended():
    with Verifier() as verifier:
        proc = verifier.proc
        assert proc is not None and proc.poll() is None      # importing TensorFlow, waiting
    assert verifier.proc is None and proc.returncode is not None
    with pytest.raises(RuntimeError, match="used already"):
        verifier.run(["unused"])
