"""How often the ensemble wins, and what it is worth on test rows (issue 10).

For each bundled sample (credit, reviews) and seed, runs the public CLI as a user would
(``dlstudio run SAMPLE --template T --max-trials N --max-epochs E --seed S``), then reads the
project: the k chosen on the validation rows and the validation score of each k
(``project.json``'s "ensemble"), the seconds of the ensemble check and of the refit (from
``events.jsonl``), and, reloading the searched networks from the search folder, the test
score of the best network alone and of the average of the best k for every k. These test scores
are of the networks as searched (trained on the training rows), so single and ensemble are
compared on equal terms; the exported model is refitted on training + validation rows when the
search used its whole budget.

From the repository root::

    python benchmarks/ensemble.py                             # credit and reviews, seeds 1 2 3
    python benchmarks/ensemble.py --samples credit --seeds 1 --trials 4 --epochs 5

Writes ``benchmarks/results/ensemble.json`` (``--output``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

TEMPLATES = {"credit": "credit-scoring", "reviews": "sentiment"}


def phase_seconds(events: list[dict[str, Any]], phase: str) -> float | None:
    """From the phase's start to the next phase's start (or the search's end)."""
    for i, e in enumerate(events):
        if e["type"] == "phase_started" and e["phase"] == phase:
            later = [x for x in events[i + 1:]
                     if x["type"] in ("phase_started", "search_finished")]
            return (later[0]["time"] - e["time"]) if later else None
    return None


def searched_networks(project_dir: Path, trials: int | None = None):
    """Reload a finished search from disk: (project, run, tuner, trials), the trials being the
    best `trials` completed ones (default `ensemble.MAX_MEMBERS`), best first. Trials with
    equal scores can come back in another order than the run saw, so the run's ensemble
    members (project.json) go first, in the run's order."""
    from dlstudio.engine import ensemble
    from dlstudio.engine import search as search_mod
    from dlstudio.engine.hypermodel import StudioHyperModel, TrainingStats
    from dlstudio.engine.prepare import PreparedRun
    from dlstudio.engine.project import Project
    from dlstudio.engine.reporter import ListReporter

    trials = trials or ensemble.MAX_MEMBERS
    project = Project.open(project_dir)
    run = PreparedRun.load(project)
    task, template = run.task, run.template
    stats = TrainingStats.from_training(run.parts["train"], run.specs, run.y["train"],
                                        task.type, len(task.classes))
    hypermodel = StudioHyperModel(stats, template, run.config.search_space, seed=run.config.seed)
    control = search_mod.SearchControl(ListReporter(), None, trials, 1)
    tuner = search_mod.make_tuner(run.config.tuner, hypermodel, template, project.search_dir,
                                  run.config.seed, control, overwrite=False)
    best = [t for t in tuner.oracle.get_best_trials(min(trials, ensemble.MAX_MEMBERS))
            if t.score is not None]
    chosen = [m["trial_id"] for m in project.ensemble.get("members") or []]
    best.sort(key=lambda t: chosen.index(t.trial_id) if t.trial_id in chosen else len(chosen))
    return project, run, tuner, best


def test_scores(project_dir: Path, trials: int) -> dict[str, Any]:
    """Validation and test score of the average of the best k searched networks, each k."""
    from dlstudio.engine import ensemble, pipeline

    _, run, tuner, best = searched_networks(project_dir, trials)
    task, template = run.task, run.template
    models = [tuner.load_model(t) for t in best]
    out: dict[str, Any] = {"validation": {}, "test": {}}
    for split in ("validation", "test"):
        outs = [pipeline.model_outputs(m, run.arrays[split], task.type) for m in models]
        for k in range(1, len(outs) + 1):
            out[split][str(k)] = ensemble.validation_score(template.objective, task.type,
                                                           run.y[split], sum(outs[:k]) / k)
    return out


def run_one(sample: str, seed: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from dlstudio.paths import sample_path

    project = work / f"{sample}-{seed}"
    cmd = [sys.executable, "-m", "dlstudio.cli", "run", str(sample_path(sample)), "--template",
           TEMPLATES[sample], "--max-trials", str(args.trials), "--max-epochs", str(args.epochs),
           "--seed", str(seed), "--project", str(project)]
    env = {**os.environ, "DLSTUDIO_HOME": str(work / "home")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{sample} seed {seed} failed:\n{proc.stderr[-2000:]}")
    meta = json.loads((project / "project.json").read_text())
    events = [json.loads(line) for line in (project / "events.jsonl").read_text().splitlines()]
    scores = test_scores(project, args.trials)
    k = int(meta["ensemble"]["k"])
    return {"sample": sample, "seed": seed, "objective": meta["ensemble"]["objective"], "k": k,
            "validation_by_k": meta["ensemble"]["validation_scores"],
            "searched_test_by_k": scores["test"],
            "single_validation": scores["validation"]["1"], "single_test": scores["test"]["1"],
            "chosen_validation": scores["validation"][str(k)],
            "chosen_test": scores["test"][str(k)],
            "ensemble_check_seconds": phase_seconds(events, "ensemble"),
            "refit_seconds": phase_seconds(events, "refit"),
            "exported_test_metrics": meta.get("metrics")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", nargs="+", default=list(TEMPLATES), choices=TEMPLATES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--output", default="benchmarks/results/ensemble.json")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="dlstudio-ensemble-") as tmp:
        for sample in args.samples:
            for seed in args.seeds:
                r = run_one(sample, seed, args, Path(tmp))
                results.append(r)
                refit = "-" if r["refit_seconds"] is None else f"{r['refit_seconds']:.1f}"
                print(f"{sample:8} seed {seed}: k={r['k']}  {r['objective']} validation "
                      f"{r['single_validation']:.4f} -> {r['chosen_validation']:.4f}, test "
                      f"{r['single_test']:.4f} -> {r['chosen_test']:.4f}; ensemble check "
                      f"{r['ensemble_check_seconds'] or 0:.1f} s, refit {refit} s", flush=True)
    wins = sum(r["k"] > 1 for r in results)
    print(f"\nThe ensemble won on validation in {wins} of {len(results)} runs.")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({"args": vars(args), "runs": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
