"""Shared test helpers: small data the tests make, the CLI as a user runs it, and a guard that
fails any test leaving a worker process behind."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

POSITIVE = "great lovely excellent tasty delicious perfect wonderful fresh recommend".split()
NEGATIVE = "awful bland stale terrible disappointing broken bad rancid refund".split()
FILLER = "the this product was and it with a taste box coffee tea really very".split()


def review_texts(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        good = rng.random() < 0.5
        words = list(rng.choice(FILLER, 8)) + list(rng.choice(POSITIVE if good else NEGATIVE, 2))
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + ".")
        labels.append("positive" if good else "negative")
    return texts, labels


def credit_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "Income": rng.normal(100, 30, n).round(1),
        "Age": rng.integers(18, 70, n),
        "Home": rng.choice(["rent", "owner", "parents"], n),
    })
    df.loc[rng.random(n) < 0.1, "Income"] = np.nan
    logit = (df["Income"].fillna(100) - 100) / 15 + (df["Home"] == "rent") * 1.5 - 0.7
    df["Status"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "bad", "good")
    return df


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


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def run_cli(*args: str | Path, cwd: Path | None = None, timeout: float = 600) -> CliResult:
    """`dlstudio ARGS` in a fresh process, as a user or a script would run it."""
    env = {**os.environ, "DLSTUDIO_HOME": str(Path(cwd or ".").resolve() / ".dlstudio-home")}
    proc = subprocess.run([sys.executable, "-m", "dlstudio.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


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
