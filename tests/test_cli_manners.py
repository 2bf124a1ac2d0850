"""The command line behaves as a shell tool: a closed pipe ends it quietly with 141 (128 +
SIGPIPE), and TensorFlow's own output goes to a worker log, never to the terminal or to
dlstudio.log (which holds DL Studio's tracebacks only)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

TINY = ("--max-trials", "1", "--max-epochs", "1")
TF_MARKS = ("absl", "oneDNN", "tensorflow/", "cuda", "cpu_feature_guard")


def _start(tmp_path: Path, *args: str | Path) -> subprocess.Popen:
    """`dlstudio ARGS` with its stdout on a pipe that the test reads (and closes)."""
    env = {**os.environ, "DLSTUDIO_HOME": str(tmp_path / "home")}
    return subprocess.Popen([sys.executable, "-m", "dlstudio.cli", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, env=env)


def _assert_quiet_end(proc: subprocess.Popen, tmp_path: Path, timeout: float = 60) -> None:
    stderr = proc.communicate(timeout=timeout)[1]
    assert proc.returncode == 141, stderr
    assert stderr == ""
    assert not (tmp_path / "home" / "logs" / "dlstudio.log").exists()


@pytest.fixture
def wide_csv(tmp_path: Path) -> Path:
    """3,000 columns: `inspect` prints more than a pipe holds."""
    path = tmp_path / "wide.csv"
    pd.DataFrame([[i] * 3000 for i in range(3)],
                 columns=[f"column_{i}" for i in range(3000)]).to_csv(path, index=False)
    return path


def test_inspect_into_a_pipe_closed_after_one_line_ends_quietly(tmp_path, wide_csv):
    proc = _start(tmp_path, "inspect", wide_csv)
    assert proc.stdout.readline().startswith("3 rows, 3000 columns")
    proc.stdout.close()          # as `| head -1` does
    _assert_quiet_end(proc, tmp_path)


@pytest.mark.parametrize("args", [["templates"], ["templates", "--json"],
                                  ["inspect", "wide.csv", "--json"]])
def test_a_pipe_closed_before_anything_is_printed_ends_quietly(tmp_path, wide_csv, args):
    proc = _start(tmp_path, *args)
    proc.stdout.close()
    _assert_quiet_end(proc, tmp_path)


@pytest.mark.parametrize("json", [True, False])
def test_a_search_whose_reader_goes_away_stops_quietly(tmp_path, credit_csv, json):
    proc = _start(tmp_path, "run", credit_csv, "--template", "credit-scoring", *TINY,
                  "--project", "p", *(["--json"] if json else []))
    first = proc.stdout.readline()          # the first event, or the first progress line
    assert first.startswith('{"type"') if json else first.startswith("300 rows")
    proc.stdout.close()
    _assert_quiet_end(proc, tmp_path, timeout=300)
    assert (tmp_path / "p" / "project.json").is_file()      # the project is kept
