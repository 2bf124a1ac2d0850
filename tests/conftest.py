"""Shared test helpers: small data the tests make, the CLI as a user runs it, and a guard that
fails any test leaving a worker process behind."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from studio_data import CliResult, credit_frame, review_texts, run_cli


@pytest.fixture
def credit_csv(tmp_path: Path) -> Path:
    path = tmp_path / "credit.csv"
    credit_frame().to_csv(path, index=False)
    return path


@pytest.fixture
def reviews_csv(tmp_path: Path) -> Path:
    texts, labels = review_texts(240)
    path = tmp_path / "reviews.csv"
    pd.DataFrame({"review": texts, "sentiment": labels}).to_csv(path, index=False)
    return path


@pytest.fixture
def cli(tmp_path: Path):
    def call(*args: str | Path, timeout: float = 600) -> CliResult:
        return run_cli(*args, cwd=tmp_path, timeout=timeout)
    return call


@pytest.fixture(autouse=True)
def no_leftover_workers():
    """Fail a test that leaves a worker (child) process running."""
    yield
    deadline = time.monotonic() + 5
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = multiprocessing.active_children()
    for p in alive:
        p.kill()
    assert not alive, f"test left worker processes running: {alive}"
