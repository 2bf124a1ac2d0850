"""Helpers shared by tests in several folders: small learnable data sets the tests make, and
the CLI run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

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


def as_previous_release(project_dir: Path) -> None:
    """Rewrite a project's split as DL Studio 0.1.0 saved it, before Parquet: data/NAME.csv
    (written by that release's CSV writer) recorded in project.json, and no Parquet files."""
    from dlstudio.engine.project import SPLITS, Project, write_table_csv

    project = Project.open(project_dir)
    parts = project.load_split()
    for name in SPLITS:
        with open(project.data_dir / f"{name}.csv", "wb") as f:
            write_table_csv(parts[name], f)
        (project.data_dir / f"{name}.parquet").unlink()
    meta = json.loads(project.project_json.read_text(encoding="utf-8"))
    meta["split"]["files"] = {name: f"data/{name}.csv" for name in SPLITS}
    project.project_json.write_text(json.dumps(meta, indent=2), encoding="utf-8")
