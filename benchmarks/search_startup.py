"""Where a short text search spends its time, and trials per minute (issue 10).

On the film-review snippets of `benchmarks/quality.py` (its seeded 80 %, split again 80/20 into
training and validation rows), runs DL Studio's own tuner (`make_tuner`, `run_search`, the
bayesian oracle, first trial = the defaults) for a few short trials, twice in one process so that
both sides see the same machine:

* ``before`` -- KerasTuner learns the search space by building every branch with real
  vocabularies (every architecture's vocabulary and idf weights are learnt before trial 1);
* ``after`` -- the space is learnt with placeholder vocabularies (`StudioHyperModel.declaring`):
  a vocabulary is learnt when a trial first asks for it, and reused by later trials.

Prints, for each side: tuner construction seconds, each trial's seconds (from `TrialEnded`) with
its build, first-epoch and later-epoch shares, and trials per minute over the whole (construction
+ search). Run from the repository root::

    python benchmarks/search_startup.py --trials 4 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from quality import TASKS, split  # noqa: E402


def measure(side: str, stats, template, rows, val_rows, trials: int, epochs: int) -> dict:
    from dlstudio.engine import search as search_mod
    from dlstudio.engine.events import TrialEnded
    from dlstudio.engine.hypermodel import StudioHyperModel
    from dlstudio.engine.reporter import ListReporter
    from dlstudio.engine.tf import keras

    class Before(search_mod.StudioTuner):
        def _populate_initial_space(self) -> None:      # the space learnt with real vocabularies
            search_mod.kt.Tuner._populate_initial_space(self)

    keras.utils.set_random_seed(0)
    hypermodel = StudioHyperModel(stats, template, seed=0)
    reporter = ListReporter()
    control = search_mod.SearchControl(reporter, None, trials, epochs)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if side == "before":
            search_mod._KINDS["bayesian"] = (search_mod.BayesianOracle, Before)
        try:
            tuner = search_mod.make_tuner("bayesian", hypermodel, template, Path(tmp) / "s",
                                          seed=0, control=control, overwrite=True)
        finally:
            search_mod._KINDS["bayesian"] = (search_mod.BayesianOracle, search_mod.StudioTuner)
        constructed = time.perf_counter() - start
        search_mod.run_search(tuner, rows, val_rows, template)
    total = time.perf_counter() - start
    ended = [e for e in reporter.events if isinstance(e, TrialEnded)]
    return {
        "tuner_construction_seconds": round(constructed, 2),
        "trial_seconds": [round(e.seconds, 2) for e in ended],
        "trial_architectures": [e.hyperparameters.get("text_model") for e in ended],
        "total_seconds": round(total, 2),
        "trials_per_minute": round(60 * len(ended) / total, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--task", default="film-reviews",
                        choices=[n for n, t in TASKS.items() if t.kind == "text"])
    parser.add_argument("--sides", nargs="+", choices=["before", "after"],
                        default=["before", "after"],
                        help="which sides to run (one, to compare checkouts via PYTHONPATH)")
    parser.add_argument("--output", type=Path,
                        default=ROOT / "benchmarks" / "results" / "search_startup.json")
    args = parser.parse_args(argv)

    from dlstudio.engine.features import FeatureSpec
    from dlstudio.engine.hypermodel import TrainingStats, make_rows
    from dlstudio.engine.schema import Role
    from dlstudio.engine.templates import TaskType, get_template

    task = TASKS[args.task]
    train, _ = split(task, 0)
    fit_part, val_part = train_test_split(train, test_size=0.2, stratify=train[task.target],
                                          random_state=0)
    classes = sorted(train[task.target].astype(str).unique())
    spec = FeatureSpec(task.text_column, "text", Role.TEXT, "string")

    def labels(df):
        return np.array([classes.index(v) for v in df[task.target].astype(str)])

    def rows(df):
        return make_rows({"text": df[task.text_column].astype(str).to_numpy().reshape(-1, 1)},
                         labels(df))

    stats = TrainingStats.from_training(fit_part.reset_index(drop=True), [spec], labels(fit_part),
                                        TaskType.MULTICLASS, len(classes))
    template = get_template(task.template)
    results = {"task": args.task, "trials": args.trials, "epochs": args.epochs}
    for side in args.sides:
        results[side] = measure(side, stats, template, rows(fit_part), rows(val_part),
                                args.trials, args.epochs)
        print(side, json.dumps(results[side]), flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
