"""Overhead benchmark (issue 3): DL Studio's worker process against a plain KerasTuner script.

What it measures: the wall time of the *same* KerasTuner search -- the bundled credit-scoring
sample (``src/dlstudio/resources/samples/credit.csv``, template ``credit-scoring``), the same
seeded train/validation/test split, the same ``StudioHyperModel``, a Bayesian tuner with the same
seed, ``--trials`` trials of at most ``--epochs`` epochs, and the same
``EarlyStopping(monitor="val_auc", mode="max", patience=5)`` -- run two ways, each in a fresh
Python process started by this script, so both sides pay interpreter start-up and the TensorFlow
import:

* **plain** -- a short script (its text is ``PLAIN_SCRIPT`` below) that reads the CSV with pandas,
  splits it with the engine's own ``resolve_task``/``split_rows``, builds the engine's
  ``TrainingStats``/``StudioHyperModel`` (so the networks are the same), and calls
  ``keras_tuner.BayesianOptimization(...).search(...)`` directly (with DL Studio's two search
  settings: ``num_initial_points`` and a first trial on the defaults, so that both sides train
  the same networks): no project folder, no events, no tuner subclass, no extra process. Its
  time runs from this script launching it to the moment ``tuner.search`` returns (the script
  prints ``time.time()`` then).
* **worker** -- a short script (``WORKER_SCRIPT``) that does what the GUI does:
  ``WorkerProcess("run", RunConfig(...).to_dict())``, ``.start()``, ``.iter_events()``. Its time
  runs from this script launching it to the moment the ``trial_ended`` event of the last trial
  *arrives* in that script (the parent of the worker). So it includes the second interpreter the
  worker spawns, creating the project folder, saving and re-reading the split, ``project.json``
  and ``events.jsonl`` writes, the event callback and tuner subclass, and the queue to the parent;
  it does not include what the pipeline does after the search (best-model save, evaluation,
  permutation importance), which has no counterpart in the plain script. The worker is still let
  run to its final event, so a failed run is noticed; that tail is reported but not compared.

Runs alternate plain, worker, plain, worker, ... (``--repeats`` pairs); each side's time is the
median of its runs. Both sides also report phase times (start-up and imports, preparing the data,
the search itself) and every trial's hyper-parameters and score, so one can check that the two
searches really trained the same networks, and their CPU time (user + system, all their
processes and threads) up to the same end mark, which a busy machine disturbs less than wall time
(``cpu_ratio`` in the JSON; the Linux ``/proc`` is read for the worker). Prints a table, then,
as its LAST line, ``ratio X`` = worker median / plain median (3 decimals; the target is at most
1.05). Also writes ``benchmarks/results/overhead.json`` (``--output``).

Run from the repository root (a few minutes with the defaults on two CPU cores)::

    python benchmarks/overhead.py                          # 4 trials x 8 epochs, 1 pair
    python benchmarks/overhead.py --repeats 3 --trials 6 --epochs 10 --seed 7

Timings on a busy machine are noisy; the ratio within one run is what is meant to be compared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "dlstudio" / "resources" / "samples" / "credit.csv"
TEMPLATE = "credit-scoring"
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "overhead.json"
MARKER = "OVERHEAD_RESULT "
RUN_TIMEOUT = 3600

# The plain KerasTuner side. Mirrors engine.pipeline.search step for step (same seed call, same
# order of building stats, hypermodel, tuner, datasets), minus everything DL Studio adds.
PLAIN_SCRIPT = '''
import json
import resource
import sys
import time

T_START = time.time()


def main():
    args = json.loads(sys.argv[1])
    import keras_tuner as kt
    import pandas as pd

    from dlstudio.engine.config import RunConfig
    from dlstudio.engine.features import feature_specs, to_arrays
    from dlstudio.engine.hypermodel import StudioHyperModel, TrainingStats, make_rows
    from dlstudio.engine.prepare import encode_target, resolve_task, split_rows
    from dlstudio.engine.search import BayesianOracle
    from dlstudio.engine.templates import get_template
    from dlstudio.engine.tf import keras
    t_imported = time.time()

    seed, trials, epochs = args["seed"], args["trials"], args["epochs"]
    config = RunConfig(data=args["data"], template=args["template"], project=args["dir"],
                       seed=seed)
    template = get_template(config.template)
    df = pd.read_csv(config.data)
    schema, task = resolve_task(df, config, template)
    parts = split_rows(df[[c.name for c in schema.columns]], task.target, task.type, seed)
    specs = feature_specs(schema)
    y = {name: encode_target(part[task.target], task) for name, part in parts.items()}
    arrays = {name: to_arrays(part, specs) for name, part in parts.items()}

    keras.utils.set_random_seed(seed)
    stats = TrainingStats.from_training(parts["train"], specs, y["train"], template.task,
                                        len(task.classes))
    hypermodel = StudioHyperModel(stats, template, config.search_space, seed=seed)
    # The same two search settings DL Studio uses (engine/search.py make_tuner), so both sides
    # train the same networks: few random trials, and a first trial on the defaults (the
    # oracle's only addition when it has no SearchControl: no events, no stop, no time limit).
    oracle = BayesianOracle(
        objective=kt.Objective(template.objective, direction=template.direction),
        max_trials=trials, seed=seed, num_initial_points=max(2, trials // 3),
        max_consecutive_failed_trials=3)
    tuner = kt.Tuner(oracle=oracle, hypermodel=hypermodel, directory=args["dir"],
                     project_name="search", overwrite=True)
    t_ready = time.time()
    tuner.search(make_rows(arrays["train"], y["train"]),
                 validation_data=make_rows(arrays["validation"], y["validation"]),
                 epochs=epochs, verbose=0,
                 callbacks=[keras.callbacks.EarlyStopping(
                     monitor=template.objective, mode=template.direction, patience=5)])
    t_end = time.time()
    usage = resource.getrusage(resource.RUSAGE_SELF)

    done = [{"trial_id": t.trial_id, "status": str(t.status).lower(), "score": t.score,
             "hyperparameters": dict(t.hyperparameters.values)}
            for t in tuner.oracle.trials.values()]
    print("@MARKER@" + json.dumps({
        "start": T_START, "imported": t_imported, "ready": t_ready, "end": t_end,
        "marker": t_end, "cpu": usage.ru_utime + usage.ru_stime, "trials": done}), flush=True)


if __name__ == "__main__":
    main()
'''.replace("@MARKER@", MARKER)

# The DL Studio side: what the GUI does to run a search (a spawned worker, events over a queue).
WORKER_SCRIPT = '''
import json
import os
import resource
import sys
import time

T_START = time.time()


def cpu_seconds(pid):
    """CPU time (user + system) of this launcher plus the worker process `pid`, so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return usage.ru_utime + usage.ru_stime + (int(fields[11]) + int(fields[12])) / ticks


def main():
    args = json.loads(sys.argv[1])
    from dlstudio.engine.config import RunConfig
    from dlstudio.workers.process import WorkerProcess

    config = RunConfig(data=args["data"], template=args["template"], project=args["dir"],
                       max_trials=args["trials"], max_epochs=args["epochs"], tuner="bayesian",
                       seed=args["seed"])
    worker = WorkerProcess("run", config.to_dict())
    t_spawn = time.time()
    worker.start()
    events = []
    cpu = None
    for event in worker.iter_events():
        arrived = time.time()
        if event.type == "trial_ended":
            cpu = cpu_seconds(worker.pid)
        events.append({"type": event.type, "time": event.time, "arrived": arrived,
                       **{k: getattr(event, k) for k in
                          ("trial_id", "status", "score", "hyperparameters", "seconds",
                           "epochs", "message", "level", "reason")
                          if hasattr(event, k)}})
    print("@MARKER@" + json.dumps({"start": T_START, "spawn": t_spawn, "cpu": cpu,
                                   "events": events}), flush=True)


if __name__ == "__main__":
    main()
'''.replace("@MARKER@", MARKER)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH"))
                                        if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def launch(script: Path, args: dict[str, Any], cwd: Path) -> tuple[float, dict[str, Any], float]:
    """Run one side; returns (launch time, its result dict, exit time)."""
    t0 = time.time()
    proc = subprocess.run([sys.executable, str(script), json.dumps(args)], cwd=cwd,
                          capture_output=True, text=True, env=_child_env(), timeout=RUN_TIMEOUT,
                          check=False)
    t_exit = time.time()
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{script.name} failed (exit {proc.returncode}):\n"
                           f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return t0, json.loads(lines[-1][len(MARKER):]), t_exit


def run_plain(script: Path, args: dict[str, Any], work: Path) -> dict[str, Any]:
    t0, r, t_exit = launch(script, args, work)
    return {
        "side": "plain",
        "seconds": r["marker"] - t0,
        "phases": {"start_and_imports": r["imported"] - t0,
                   "prepare": r["ready"] - r["imported"],
                   "search": r["end"] - r["ready"],
                   "after_search": 0.0},
        "process_seconds": t_exit - t0,
        "cpu_seconds": r["cpu"],
        "trials": r["trials"],
    }


def run_worker(script: Path, args: dict[str, Any], work: Path) -> dict[str, Any]:
    t0, r, t_exit = launch(script, args, work)
    events = r["events"]
    final = events[-1] if events else {}
    if final.get("type") != "search_finished":
        raise RuntimeError(f"the worker did not finish its search: {final}")
    ended = [e for e in events if e["type"] == "trial_ended"]
    if not ended:
        raise RuntimeError("the worker reported no trial_ended event")
    started = next(e for e in events if e["type"] == "search_started")
    first = events[0]
    epochs = [e for e in events if e["type"] == "epoch_ended"]
    latency = [e["arrived"] - e["time"] for e in events]
    return {
        "side": "worker",
        "seconds": ended[-1]["arrived"] - t0,
        "phases": {
            # launcher interpreter + importing dlstudio.workers.process
            "launcher_start": r["spawn"] - t0,
            # spawned child: interpreter, engine imports, project folder, read CSV, schema,
            # split saved to data/*.parquet (the first event is sent after that)
            "child_start_and_prepare": first["time"] - r["spawn"],
            # TensorFlow/KerasTuner import, stats, hypermodel, tuner
            "imports_and_tuner": started["time"] - first["time"],
            "search": ended[-1]["time"] - started["time"],
            "last_event_delivery": ended[-1]["arrived"] - ended[-1]["time"],
            "after_search": final["arrived"] - ended[-1]["arrived"],
        },
        "process_seconds": t_exit - t0,
        "cpu_seconds": r["cpu"],
        "events": len(events),
        "epoch_events": len(epochs),
        "event_latency_max": max(latency),
        "event_latency_mean": statistics.fmean(latency),
        "trials": [{k: e.get(k) for k in ("trial_id", "status", "score", "hyperparameters",
                                          "seconds", "epochs")} for e in ended],
    }


def compare_trials(plain: list[dict], worker: list[dict]) -> dict[str, Any]:
    """Did both sides train the same sequence of networks?"""
    same_hp = [p["hyperparameters"] == w["hyperparameters"] for p, w in zip(plain, worker,
                                                                          strict=False)]
    diffs = [abs(p["score"] - w["score"]) for p, w in zip(plain, worker, strict=False)
             if p["score"] is not None and w["score"] is not None]
    return {"plain_trials": len(plain), "worker_trials": len(worker),
            "same_hyperparameters": same_hp,
            "max_score_difference": max(diffs) if diffs else None}


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform(),
           "cpus": str(os.cpu_count())}
    code = ("import keras_tuner, tensorflow, keras; print(tensorflow.__version__, "
            "keras.__version__, keras_tuner.__version__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_child_env(), check=False)
    parts = proc.stdout.split()
    if len(parts) == 3:
        out.update(tensorflow=parts[0], keras=parts[1], keras_tuner=parts[2])
    return out


def print_table(runs: list[dict[str, Any]]) -> None:
    print(f"{'run':>3}  {'side':<6}  {'seconds':>8}  {'to search':>9}  {'search':>8}  "
          f"{'after':>6}  {'exit':>7}  {'cpu':>7}")
    for i, r in enumerate(runs):
        ph = r["phases"]
        to_search = r["seconds"] - ph["search"] - ph.get("last_event_delivery", 0.0)
        print(f"{i // 2 + 1:>3}  {r['side']:<6}  {r['seconds']:8.2f}  {to_search:9.2f}  "
              f"{ph['search']:8.2f}  {ph['after_search']:6.2f}  {r['process_seconds']:7.2f}  "
              f"{_fmt(r['cpu_seconds'])}")
    print("(to search: launch -> tuner ready; search: the trials; after: the worker's evaluation "
          "after the last trial, not counted; exit: launch -> process exit; cpu: user+system "
          "seconds of the side's processes up to its end mark)")


def _fmt(value: float | None) -> str:
    return f"{value:7.2f}" if value is not None else f"{'-':>7}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=4, help="tuner trials (default 4)")
    parser.add_argument("--epochs", type=int, default=8, help="epochs per trial (default 8)")
    parser.add_argument("--repeats", type=int, default=1, help="plain/worker pairs (default 1)")
    parser.add_argument("--seed", type=int, default=42, help="split, tuner and weights seed")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results file")
    args = parser.parse_args(argv)

    runs: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dlstudio-overhead-") as tmp:
        work = Path(tmp)
        plain_script = work / "plain_kerastuner.py"
        worker_script = work / "dlstudio_worker.py"
        plain_script.write_text(PLAIN_SCRIPT, encoding="utf-8")
        worker_script.write_text(WORKER_SCRIPT, encoding="utf-8")
        for i in range(args.repeats):
            common = {"data": str(DATA), "template": TEMPLATE, "seed": args.seed,
                      "trials": args.trials, "epochs": args.epochs}
            print(f"repeat {i + 1}/{args.repeats}: plain ...", file=sys.stderr, flush=True)
            runs.append(run_plain(plain_script, {**common, "dir": str(work / f"plain-{i}")},
                                  work))
            print(f"repeat {i + 1}/{args.repeats}: worker ...", file=sys.stderr, flush=True)
            runs.append(run_worker(worker_script, {**common, "dir": str(work / f"worker-{i}")},
                                   work))

    plain = [r["seconds"] for r in runs if r["side"] == "plain"]
    worker = [r["seconds"] for r in runs if r["side"] == "worker"]
    ratio = statistics.median(worker) / statistics.median(plain)
    cpu = {side: [r["cpu_seconds"] for r in runs if r["side"] == side and r["cpu_seconds"]]
           for side in ("plain", "worker")}
    cpu_ratio = (round(statistics.median(cpu["worker"]) / statistics.median(cpu["plain"]), 3)
                 if cpu["plain"] and cpu["worker"] else None)
    result = {
        "benchmark": "overhead",
        "data": str(DATA.relative_to(ROOT)),
        "template": TEMPLATE,
        "tuner": "bayesian",
        "trials": args.trials,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "seed": args.seed,
        "plain_seconds": plain,
        "worker_seconds": worker,
        "plain_median": statistics.median(plain),
        "worker_median": statistics.median(worker),
        "ratio": round(ratio, 3),
        "target": 1.05,
        "cpu_ratio": cpu_ratio,
        "same_trials": [compare_trials(p["trials"], w["trials"])
                        for p, w in zip(runs[0::2], runs[1::2], strict=True)],
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "versions": versions(),
        "runs": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    print_table(runs)
    for c in result["same_trials"]:
        print(f"same hyper-parameters per trial: {c['same_hyperparameters']}, "
              f"max score difference: {c['max_score_difference']}")
    print(f"median seconds: plain {result['plain_median']:.2f}, "
          f"worker {result['worker_median']:.2f}; cpu ratio {cpu_ratio} (results in "
          f"{args.output})")
    print(f"ratio {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
