"""Which k of the ensemble the validation rows should choose (issue 10), read off real searches.

Reads the projects that ``benchmarks/quality.py --workdir DIR`` keeps, reloads the best
searched networks of each (KerasTuner's best-epoch checkpoints, trained on the training rows
only), and scores the average of the best k, for every k, on three sets of rows:

* the validation rows, which choose k: the search's objective (accuracy on the text sets) and
  the log loss;
* the studio's own test rows;
* the benchmark's held-out 20 % (never seen by the studio).

Then prints the k each rule would choose and what that k scored on the held-out rows: "by the
objective" (the search's objective decides, as before) and "as shipped"
(``templates.deciding_objective``: the log loss decides where the objective is accuracy). The
figures are of the networks as searched, so every k is compared on equal terms; the exported
model is trained again on every row (``pipeline.final_fit``).

From the repository root, after e.g.
``python benchmarks/quality.py --only fine-foods --seed 0 --workdir /tmp/q0``::

    python benchmarks/choose_k.py /tmp/q0 --only fine-foods --seed 0

Writes nothing; ``--json FILE`` saves the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # the benchmark's tasks and splits
from ensemble import searched_networks  # benchmarks/ensemble.py: reload a search


def member_outputs(project_dir: Path, name: str, seed: int) -> dict[str, Any]:
    """The best searched networks' outputs on validation, test and held-out rows."""
    from dlstudio.engine import pipeline
    from dlstudio.engine.features import to_arrays

    _, run, tuner, trials = searched_networks(project_dir)
    task, template = run.task, run.template
    bench = quality.TASKS[name]
    _, held = quality.split(bench, seed)
    classes = [str(c) for c in task.classes]
    rows = {"validation": run.arrays["validation"], "test": run.arrays["test"],
            "held_out": to_arrays(held.drop(columns=[bench.target]), run.specs)}
    y = {"validation": run.y["validation"], "test": run.y["test"],
         "held_out": np.array([classes.index(str(v)) for v in held[bench.target]])}
    outs: dict[str, list[np.ndarray]] = {part: [] for part in rows}
    for trial in trials:
        model = tuner.load_model(trial)
        for part, arrays in rows.items():
            outs[part].append(pipeline.model_outputs(model, arrays, task.type))
    return {"task": task, "objective": template.objective, "direction": template.direction,
            "outs": outs, "y": y, "trials": [t.trial_id for t in trials]}


def table(found: dict[str, Any]) -> dict[str, Any]:
    """Scores of the average of the best k, each k, and the k each rule picks."""
    from dlstudio.engine import ensemble
    from dlstudio.engine.templates import deciding_objective

    task, objective, outs, y = found["task"].type, found["objective"], found["outs"], found["y"]
    deciding, direction = deciding_objective(objective, found["direction"], task)
    rows = []
    for k in range(1, len(outs["validation"]) + 1):
        row = {"k": k}
        for part in outs:
            average = sum(outs[part][:k]) / k
            row[part] = ensemble.validation_score(objective, task, y[part], average)
            if part == "validation" and deciding != objective:
                row["validation_" + deciding] = ensemble.validation_score(
                    deciding, task, y[part], average)
        rows.append(row)
    by_objective = ensemble.pick_k([r["validation"] for r in rows], found["direction"])
    shipped = ensemble.pick_k([r.get("validation_" + deciding, r["validation"]) for r in rows],
                              direction)
    return {"objective": objective, "decided_by": deciding, "rows": rows,
            "k_by_objective": by_objective, "k_shipped": shipped,
            "held_out_by_objective": rows[by_objective - 1]["held_out"],
            "held_out_shipped": rows[shipped - 1]["held_out"],
            "held_out_best_k": max(r["held_out"] for r in rows)
            if found["direction"] == "max" else min(r["held_out"] for r in rows)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path, help="a quality.py --workdir")
    parser.add_argument("--only", choices=list(quality.TASKS), required=True)
    parser.add_argument("--seed", type=int, required=True, help="the seed of that run")
    parser.add_argument("--json", type=Path, help="save the table here")
    args = parser.parse_args(argv)
    project = args.workdir / f"{args.only}-project"
    result = table(member_outputs(project, args.only, args.seed))
    name, deciding = result["objective"], result["decided_by"]
    extra = f"  {'validation ' + deciding:>20}" if deciding != name else ""
    print(f"{args.only}, seed {args.seed}: the average of the best k searched networks")
    print(f"{'k':>2}  {'validation ' + name:>22}{extra}  {'studio test':>11}  {'held out':>8}")
    for r in result["rows"]:
        more = f"  {r['validation_' + deciding]:>20.4f}" if deciding != name else ""
        print(f"{r['k']:>2}  {r['validation']:>22.4f}{more}  {r['test']:>11.4f}  "
              f"{r['held_out']:>8.4f}")
    print(f"k by the objective: {result['k_by_objective']} (held out "
          f"{result['held_out_by_objective']:.4f}); k as shipped, by {deciding}: "
          f"{result['k_shipped']} (held out {result['held_out_shipped']:.4f}); best k on the "
          f"held-out rows: {result['held_out_best_k']:.4f}")
    if args.json:
        args.json.write_text(json.dumps({"task": args.only, "seed": args.seed, **result},
                                        indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
