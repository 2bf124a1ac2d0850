"""Scale benchmark (issue 9): DL Studio on a large table against a plain Keras MLP and
HistGradientBoosting, on the same file.

What it does, per size (``--rows``, default 100,000; e.g. ``--rows 100000 1000000``):

1. Generates a seeded synthetic credit table (14 numbers, 4 categories of 3 to 200 values with
   5 % missing, an amount, a yes/no target from a known logistic rule) as a CSV under
   ``--workdir`` (kept between runs: made once per size and seed).
2. Runs the public CLI as a user would: ``dlstudio run FILE --template credit-scoring
   --max-trials 1 --max-epochs 2 --project ... --export ... --json``, and takes the time of each
   phase from the JSON events' timestamps: start-up + read + prepare (launch to
   ``search_started``), each epoch of the search (``trial_started`` / ``epoch_ended``), the search's
   wrap-up (best model reloaded, validation outputs), the refit and each of its epochs
   (``phase_started`` / ``phase_progress``), evaluate and export (``phase_started`` ... to
   ``search_finished``). Training throughput is training rows / seconds of the search's last
   epoch (the first one includes tracing). Peak memory: the largest resident set of the
   command's process tree (``/proc`` polled every 0.2 s), and ``ru_maxrss`` of the children.
3. A plain Keras MLP of the default network's size (two Dense(64), dropout 0.1, sigmoid) on the
   same training/validation rows, prepared with pandas (median fill, standardise, one-hot), in a
   fresh process: one epoch (after a warm-up epoch) at each of ``--mlp-batches``; its best rows/s
   is the reference for DL Studio's throughput (``throughput_ratio``: DL Studio / MLP).
4. pandas ``read_csv`` + ``HistGradientBoostingClassifier`` fit (native categorical support) on
   the same file, in a fresh process, with ``OMP_NUM_THREADS=1`` and with OpenMP's default; the
   faster is the baseline (on a shared 2-core machine the default was 8-30x slower, busy-waiting
   threads). The acceptance figure is DL Studio's end-to-end time at most 6x of that
   (``end_to_end_vs_hgb``).

Each run prints a table and writes ``benchmarks/results/scale.json`` (``--output``). Compare
ratios within one run; absolute times on a shared machine are noisy. From the repository root::

    python benchmarks/scale.py                         # 100,000 rows
    python benchmarks/scale.py --rows 100000 1000000   # both sizes (the 1M run takes minutes)
    python benchmarks/scale.py --rows 1000000 --skip-baselines --src /tmp/before/src \
        --output before.json                            # an older checkout (git archive ... src)
    python benchmarks/scale.py --compare before.json after.json   # two saved runs side by side
    python benchmarks/scale.py --rows 1000000 --prepare-only   # data preparation alone (no TF)

``--prepare-only`` times DL Studio's data preparation alone (``engine.prepare.prepare``: read,
schema, split, the project's split files) in a fresh process, beside pandas' own ``read_csv`` of
the same file just before and after it (the target: prepare at most 2x that read), wall and CPU
time, with each step timed on its own too; with ``--src`` it times an older checkout the same
way.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "scale.json"
DEFAULT_WORKDIR = ROOT / "benchmarks" / "results" / "scale"
TARGET = "default"
CATEGORIES = {"region": 200, "product": 50, "channel": 12, "housing": 3}


# --------------------------------------------------------------------------- the table

def make_table(rows: int, seed: int = 0) -> pd.DataFrame:
    """The synthetic credit table: numbers, categories with missing values, an amount, and a
    yes/no target drawn from a logistic rule over some of them."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    logit = np.full(rows, -1.5)
    for i in range(14):
        x = rng.normal(0, 1, rows)
        data[f"x{i:02d}"] = np.round(x * (10 ** (i % 3)) + 50 * (i % 4), 3)
        if i < 6:
            logit += (0.6 if i % 2 else -0.5) * x
        if i == 6:
            logit += 0.4 * np.sin(2 * x)
    for name, k in CATEGORIES.items():
        codes = rng.integers(0, k, rows)
        effect = rng.normal(0, 0.6, k)
        logit += effect[codes]
        values = np.array([f"{name[:3]}_{j}" for j in range(k)], dtype=object)[codes]
        values[rng.random(rows) < 0.05] = None
        data[name] = values
    amount = rng.lognormal(8, 1, rows)
    logit += 0.3 * (np.log(amount) - 8)
    data["amount"] = np.round(amount, 2)
    data[TARGET] = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return pd.DataFrame(data)


def table_file(rows: int, seed: int, workdir: Path) -> Path:
    path = workdir / f"credit-{rows}-seed{seed}.csv"
    if not path.is_file():
        workdir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        make_table(rows, seed).to_csv(tmp, index=False)
        tmp.replace(path)
    return path


# --------------------------------------------------------------------------- memory

def _tree_rss(root: int) -> tuple[int, int]:
    """Resident set (bytes) of a process and all its descendants, from /proc, and the largest
    resident set of one process among them (the worker, during a run)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            pid, ppid = int(entry), int(fields[1])
            rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            children.setdefault(ppid, []).append(pid)
        except (OSError, IndexError, ValueError):
            continue
    total, largest, todo = 0, 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        largest = max(largest, rss.get(pid, 0))
        todo.extend(children.get(pid, []))
    return total, largest


class PeakMemory(threading.Thread):
    """Polls the process tree every 0.2 s: its peak, and per phase (`phase`, set by the reader of
    the events) the peak of the tree and of its largest process."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()
        self.phase = "start + read + prepare"
        self.by_phase: dict[str, dict[str, int]] = {}

    def run(self) -> None:
        while not self.done.is_set():
            tree, largest = _tree_rss(self.pid)
            self.peak = max(self.peak, tree)
            seen = self.by_phase.setdefault(self.phase, {"tree": 0, "process": 0})
            seen["tree"] = max(seen["tree"], tree)
            seen["process"] = max(seen["process"], largest)
            self.done.wait(0.2)


def frame_memory_mb(path: Path) -> float:
    """The table's size in memory as DL Studio reads it (``df.memory_usage(deep=True)``)."""
    from dlstudio.engine.data import load_data

    return round(float(load_data(path).memory_usage(deep=True).sum()) / 2**20, 1)


PHASE_OF_EVENT = {"search_started": "search", "trial_ended": "search wrap-up",
                  "search_finished": "exit"}


# --------------------------------------------------------------------------- DL Studio

def dlstudio_command(src: Path | None) -> tuple[list[str], dict[str, str]]:
    """The CLI, from `src` (another checkout's src/, e.g. an older commit, to compare) or as
    installed beside this interpreter."""
    env = dict(os.environ)
    beside = Path(sys.executable).with_name("dlstudio")
    if src is None and beside.is_file():
        return [str(beside)], env
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src or ROOT / "src"),
                                                      env.get("PYTHONPATH")]))
    return [sys.executable, "-m", "dlstudio.cli"], env


def run_dlstudio(data: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    project, export = work / "project", work / "export"
    base, env = dlstudio_command(args.src)
    cmd = [*base, "run", str(data), "--template", "credit-scoring",
           "--target", TARGET, "--max-trials", str(args.max_trials),
           "--max-epochs", str(args.max_epochs), "--seed", str(args.seed),
           "--project", str(project), "--export", str(export), "--json"]
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    env["DLSTUDIO_HOME"] = str(work / "home")
    events: list[dict[str, Any]] = []
    start = time.time()
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err, \
            subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env,
                             bufsize=1) as proc:
        memory = PeakMemory(proc.pid)
        memory.start()
        watchdog = threading.Timer(args.timeout, proc.kill)
        watchdog.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(event, dict) and "type" in event:
                    events.append(event)
                    if event["type"] == "phase_started":
                        memory.phase = str(event.get("phase"))
                    elif event["type"] in PHASE_OF_EVENT:
                        memory.phase = PHASE_OF_EVENT[event["type"]]
                    if event["type"] in ("epoch_ended", "phase_started", "phase_progress"):
                        print(f"  {event['type']} {event.get('phase') or ''} "
                              f"{event.get('epoch') or event.get('step') or ''} "
                              f"+{event['time'] - start:.1f} s", file=sys.stderr, flush=True)
            proc.wait()
        finally:
            watchdog.cancel()
            memory.done.set()
            memory.join()
        end = time.time()
        err.seek(0)
        stderr_tail = err.read()[-3000:]
    final = next((e for e in reversed(events) if e["type"] in
                  ("search_finished", "search_failed", "task_failed")), None)
    out: dict[str, Any] = {
        "command": " ".join(cmd), "returncode": proc.returncode,
        "end_to_end_s": round(end - start, 2),
        "peak_rss_tree_mb": round(memory.peak / 2**20),
        "peak_rss_by_phase_mb": {phase: {k: round(v / 2**20) for k, v in peaks.items()}
                                 for phase, peaks in memory.by_phase.items()},
        "maxrss_children_mb": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    }
    if final is None or final["type"] != "search_finished":
        out["error"] = (final or {}).get("message") or stderr_tail
        return out
    out["metrics"] = final.get("metrics", {})
    out["phases"] = phases(events, start, end)
    trial = next(e for e in events if e["type"] == "trial_started")
    out["hyperparameters"] = trial["hyperparameters"]
    return out


def phases(events: list[dict[str, Any]], start: float, end: float) -> dict[str, Any]:
    """Seconds per phase, from the events' timestamps."""
    def first(kind: str, **match: Any) -> dict[str, Any]:
        return next(e for e in events if e["type"] == kind
                    and all(e.get(k) == v for k, v in match.items()))

    search_started = first("search_started")
    trial_started = first("trial_started")
    epochs = [e for e in events if e["type"] == "epoch_ended"]
    trial_ended = [e for e in events if e["type"] == "trial_ended"][-1]
    marks = [trial_started["time"], *(e["time"] for e in epochs)]
    rows_log = next((e["message"] for e in events if e["type"] == "log"
                     and " to train" in e.get("message", "")), "")
    train_rows = int(rows_log.split(": ")[1].split()[0]) if rows_log else 0
    out: dict[str, Any] = {
        "start_read_prepare_s": search_started["time"] - start,
        "search_s": trial_ended["time"] - search_started["time"],
        "epochs_s": [b - a for a, b in itertools.pairwise(marks)],
        "train_rows": train_rows,
    }
    refit = [e for e in events if e["type"] == "phase_started" and e["phase"] == "refit"]
    evaluate = first("phase_started", phase="evaluate")
    export = first("phase_started", phase="export")
    finished = first("search_finished")
    if refit:
        progress = [e for e in events if e["type"] == "phase_progress" and e["phase"] == "refit"]
        refit_marks = [refit[0]["time"], *(e["time"] for e in progress)]
        out["wrap_up_s"] = refit[0]["time"] - trial_ended["time"]
        out["refit_s"] = evaluate["time"] - refit[0]["time"]
        out["refit_epochs_s"] = [b - a for a, b in itertools.pairwise(refit_marks)]
    else:
        out["wrap_up_s"] = evaluate["time"] - trial_ended["time"]
    out["evaluate_s"] = export["time"] - evaluate["time"]
    out["export_s"] = finished["time"] - export["time"]
    out["exit_s"] = end - finished["time"]
    last = out["epochs_s"][-1] if out["epochs_s"] else 0
    out["train_rows_per_s"] = train_rows / last if last > 0 else None
    return {k: (round(v, 2) if isinstance(v, float) else
                [round(x, 2) for x in v] if isinstance(v, list) else v) for k, v in out.items()}


# --------------------------------------------------------------------------- baselines

# The same split as DL Studio makes (engine.prepare.split_rows), so both train on the same rows.
MLP_SCRIPT = textwrap.dedent("""
    import json, sys, time
    import numpy as np, pandas as pd
    from dlstudio.engine.prepare import split_rows
    from dlstudio.engine.templates import TaskType
    import keras

    path, target, seed, sizes = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    df = pd.read_csv(path)
    parts = split_rows(df, target, TaskType.BINARY, seed)
    train, val = parts["train"], parts["validation"]
    numbers = [c for c in df.columns if c != target and pd.api.types.is_numeric_dtype(df[c])]
    cats = [c for c in df.columns if c != target and c not in numbers]

    def encode(frame):
        x = frame[numbers].fillna(train[numbers].median())
        x = (x - train[numbers].mean()) / train[numbers].std()
        miss = frame[numbers].isna().astype("float32").add_suffix("_missing")
        dummies = [pd.get_dummies(pd.Categorical(frame[c], categories=sorted(
            train[c].dropna().unique())), prefix=c) for c in cats]
        return pd.concat([x, miss, *[d.set_index(frame.index) for d in dummies]],
                         axis=1).to_numpy("float32")

    xt, xv = encode(train), encode(val)
    yt = (train[target] == "yes").to_numpy("float32")
    yv = (val[target] == "yes").to_numpy("float32")
    out = {"features": int(xt.shape[1]), "train_rows": len(xt), "batches": {}}
    for bs in [int(b) for b in sizes.split(",")]:
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((xt.shape[1],)),
                                  keras.layers.Dense(64, activation="relu"),
                                  keras.layers.Dense(64, activation="relu"),
                                  keras.layers.Dropout(0.1),
                                  keras.layers.Dense(1, activation="sigmoid")])
        model.compile(keras.optimizers.Adam(1e-3 * min(4, (bs / 32) ** 0.5)),
                      "binary_crossentropy", metrics=[keras.metrics.AUC(name="auc")])
        model.fit(xt, yt, batch_size=bs, epochs=1, verbose=0, validation_data=(xv, yv))
        t = time.perf_counter()
        hist = model.fit(xt, yt, batch_size=bs, epochs=1, verbose=0, validation_data=(xv, yv))
        s = time.perf_counter() - t
        out["batches"][bs] = {"epoch_s": round(s, 2), "rows_per_s": round(len(xt) / s),
                              "val_auc": round(float(hist.history["val_auc"][-1]), 4)}
    print(json.dumps(out))
""")

HGB_SCRIPT = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from dlstudio.engine.prepare import split_rows
    from dlstudio.engine.templates import TaskType

    path, target, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t1 = time.perf_counter()
    df = pd.read_csv(path)
    t2 = time.perf_counter()
    cats = [c for c in df.columns if c != target and not pd.api.types.is_numeric_dtype(df[c])]
    df[cats] = df[cats].astype("category")
    parts = split_rows(df, target, TaskType.BINARY, seed)
    fit = pd.concat([parts["train"], parts["validation"]])
    x, y = fit.drop(columns=target), (fit[target] == "yes")
    t3 = time.perf_counter()
    model = HistGradientBoostingClassifier(categorical_features="from_dtype",
                                           random_state=seed).fit(x, y)
    t4 = time.perf_counter()
    test = parts["test"]
    auc = roc_auc_score(test[target] == "yes",
                        model.predict_proba(test.drop(columns=target))[:, 1])
    print(json.dumps({"import_s": round(t1 - t0, 2), "read_s": round(t2 - t1, 2),
                      "split_s": round(t3 - t2, 2), "fit_s": round(t4 - t3, 2),
                      "read_fit_s": round(t2 - t1 + t4 - t3, 2), "test_auc": round(auc, 4),
                      "fit_rows": len(fit)}))
""")


# DL Studio's data preparation alone (no TensorFlow), in a fresh process: pandas' own read of
# the file, then each step of engine.prepare.prepare timed, and the process's peak memory.
PREPARE_SCRIPT = textwrap.dedent("""
    import inspect, json, resource, sys, tempfile, time
    import pandas as pd
    from dlstudio.engine import prepare as P
    from dlstudio.engine.schema import Role
    from dlstudio.engine.config import RunConfig
    from dlstudio.engine.data import load_data
    from dlstudio.engine.project import Project
    from dlstudio.engine.reporter import ListReporter
    from dlstudio.engine.templates import get_template

    path, target, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    def mb():
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    base = mb()
    frame = pd.read_csv(path)
    frame_mb = frame.memory_usage(deep=True).sum() / 2**20
    del frame
    steps = {}
    with tempfile.TemporaryDirectory() as tmp:
        config = RunConfig(project=tmp + "/p", data=path, template="credit-scoring",
                           target=target, seed=seed, max_trials=1, max_epochs=1)
        project = Project.create(tmp + "/p", config)
        t0 = t = time.perf_counter()
        df = load_data(path); steps["read"] = time.perf_counter() - t; t = time.perf_counter()
        schema, task = P.resolve_task(df, config, get_template(config.template))
        steps["schema + task"] = time.perf_counter() - t; t = time.perf_counter()
        kw = ({"categories": schema.names(Role.CATEGORICAL)}    # as prepare() calls it
              if "categories" in inspect.signature(P.split_rows).parameters else {})
        parts = P.split_rows(df[[c.name for c in schema.columns]], task.target, task.type, seed,
                             **kw)
        steps["split"] = time.perf_counter() - t; t = time.perf_counter()
        project.set_task(schema, task)
        project.save_split(parts)
        steps["write split"] = time.perf_counter() - t; t = time.perf_counter()
        del df, parts
        P.release_memory() if hasattr(P, "release_memory") else None
        run = P.PreparedRun.load(project)
        steps["read split back"] = time.perf_counter() - t
        total = time.perf_counter() - t0
        # The whole function too, as the worker calls it (steps above are its parts).
        project2 = Project.create(tmp + "/q", RunConfig(**{**config.to_dict(),
                                                           "project": tmp + "/q"}))
        # pandas' own read of the same file just before and just after, averaged: the
        # machine's load changes by the minute. Wall time, and CPU time (all threads of the
        # process), which another process's load disturbs less.
        def pandas_read_times():
            w, c = time.perf_counter(), time.process_time()
            pd.read_csv(path)
            return time.perf_counter() - w, time.process_time() - c
        before = pandas_read_times()
        w, c = time.perf_counter(), time.process_time()
        P.prepare(project2, ListReporter())
        prepare_s, prepare_cpu = time.perf_counter() - w, time.process_time() - c
        after = pandas_read_times()
    read_s, read_cpu = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
    print(json.dumps({"pandas_read_s": round(read_s, 2), "frame_mb": round(frame_mb, 1),
                      "pandas_read_runs_s": [round(before[0], 2), round(after[0], 2)],
                      "steps_s": {k: round(v, 2) for k, v in steps.items()},
                      "steps_total_s": round(total, 2), "prepare_s": round(prepare_s, 2),
                      "prepare_vs_pandas_read": round(prepare_s / read_s, 2),
                      "pandas_read_cpu_s": round(read_cpu, 2),
                      "prepare_cpu_s": round(prepare_cpu, 2),
                      "prepare_vs_pandas_read_cpu": round(prepare_cpu / read_cpu, 2),
                      "peak_rss_mb": mb(), "rss_before_mb": base}))
""")


# The worker's fixed memory: a fresh process that imports what `dlstudio run`'s worker holds
# before it has any data (TensorFlow, Keras, KerasTuner and the engine), and runs one tiny op
# (TensorFlow's runtime starts on the first). The data's own cost is the worker's peak minus this.
BASELINE_SCRIPT = textwrap.dedent("""
    import json, time
    t = time.perf_counter()
    import dlstudio.workers.tasks
    from dlstudio.engine import ensemble, evaluate, export, hypermodel, pipeline, search
    from dlstudio.engine.tf import tf
    tf.constant([1.0]) + 1.0
    seconds = time.perf_counter() - t
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    print(json.dumps({"rss_mb": round(int(status["VmRSS"].split()[0]) / 1024),
                      "import_s": round(seconds, 2)}))
""")


def run_script(script: str, *argv: str, timeout: float,
               threads: int | None = None, src: Path | None = None) -> dict[str, Any]:
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src or ROOT / "src"),
                                                      env.get("PYTHONPATH")]))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True,
                          text=True, env=env, timeout=timeout, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr[-3000:]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = round(time.perf_counter() - start, 2)
    return result


# --------------------------------------------------------------------------- report

def run_size(rows: int, args: argparse.Namespace) -> dict[str, Any]:
    t = time.perf_counter()
    data = table_file(rows, args.seed, args.workdir)
    print(f"[{rows} rows] {data} ({data.stat().st_size / 2**20:.0f} MB, "
          f"{time.perf_counter() - t:.0f} s to make)", file=sys.stderr, flush=True)
    work = Path(tempfile.mkdtemp(prefix=f"scale-{rows}-", dir=args.workdir))
    out: dict[str, Any] = {"rows": rows, "csv_mb": round(data.stat().st_size / 2**20, 1),
                           "frame_mb": frame_memory_mb(data)}
    print(f"[{rows} rows] data preparation alone", file=sys.stderr, flush=True)
    out["prepare"] = run_script(PREPARE_SCRIPT, str(data), TARGET, str(args.seed),
                                timeout=args.timeout, src=args.src)
    if args.prepare_only:
        print_prepare(out)
        return out
    out["baseline"] = run_script(BASELINE_SCRIPT, timeout=args.timeout, src=args.src)
    out["dlstudio"] = run_dlstudio(data, work, args)
    base = out["baseline"].get("rss_mb")
    by_phase = out["dlstudio"].get("peak_rss_by_phase_mb")
    if base and by_phase:
        peak = max(m["process"] for m in by_phase.values())
        out["memory"] = {"worker_peak_mb": peak, "baseline_mb": base,
                         "peak_vs_frame": round(peak / out["frame_mb"], 2),
                         "data_vs_frame": round((peak - base) / out["frame_mb"], 2)}
    if not args.skip_baselines:
        print(f"[{rows} rows] HistGradientBoosting", file=sys.stderr, flush=True)
        # OpenMP's default (one thread per core) can be many times slower than one thread on
        # a shared machine; the baseline is the faster of the two.
        runs = [run_script(HGB_SCRIPT, str(data), TARGET, str(args.seed), timeout=args.timeout,
                           threads=t) for t in (1, None)]
        for run, t in zip(runs, ("1", "default"), strict=True):
            run["omp_threads"] = t
        ok = [r for r in runs if "read_fit_s" in r]
        out["hgb"] = min(ok, key=lambda r: r["read_fit_s"]) if ok else runs[0]
        out["hgb_runs"] = runs
        print(f"[{rows} rows] plain Keras MLP", file=sys.stderr, flush=True)
        out["mlp"] = run_script(MLP_SCRIPT, str(data), TARGET, str(args.seed),
                                ",".join(map(str, args.mlp_batches)), timeout=args.timeout)
    ds, hgb, mlp = out["dlstudio"], out.get("hgb", {}), out.get("mlp", {})
    rate = ds.get("phases", {}).get("train_rows_per_s")
    if rate and mlp.get("batches"):
        best = max(mlp["batches"].items(), key=lambda kv: kv[1]["rows_per_s"])
        out["mlp_best_batch"] = int(best[0])
        out["throughput_ratio"] = round(rate / best[1]["rows_per_s"], 3)
    if "end_to_end_s" in ds and hgb.get("read_fit_s"):
        out["end_to_end_vs_hgb"] = round(ds["end_to_end_s"] / hgb["read_fit_s"], 2)
    return out


def print_prepare(r: dict[str, Any]) -> None:
    """The data-preparation figures of one size: DL Studio's prepare beside pandas' own read of
    the same file, both timed in the same process."""
    prep = r.get("prepare", {})
    print(f"\n== {r['rows']:,} rows ({r['csv_mb']} MB CSV): data preparation ==")
    if "prepare_s" not in prep:
        print("  prepare failed:", str(prep.get("error", ""))[-800:])
        return
    print(f"  {'pandas read_csv alone':<38} {prep['pandas_read_s']} s "
          f"(before and after prepare: {prep.get('pandas_read_runs_s')}); "
          f"CPU {prep.get('pandas_read_cpu_s')} s")
    print(f"  {'prepare (whole function)':<38} {prep['prepare_s']} s; "
          f"CPU {prep.get('prepare_cpu_s')} s")
    print(f"  {'prepare / pandas read':<38} {prep['prepare_vs_pandas_read']} (target <= 2); "
          f"CPU {prep.get('prepare_vs_pandas_read_cpu')}")
    print("  steps, one by one (a later run's read back included; prepare itself reads "
          "nothing back where the split is handed to the run):")
    for step, s in prep.get("steps_s", {}).items():
        print(f"    {step:<36} {s} s")
    print(f"  {'peak memory (maxrss)':<38} {prep['peak_rss_mb']} MB")


def print_table(results: list[dict[str, Any]]) -> None:
    for r in results:
        if "dlstudio" not in r:
            continue        # --prepare-only: printed as it ran
        ds = r["dlstudio"]
        p = ds.get("phases", {})
        print(f"\n== {r['rows']:,} rows ({r['csv_mb']} MB CSV) ==")
        if "error" in ds:
            print("DL Studio failed:", ds["error"][-800:])
            continue
        hp = ds.get("hyperparameters", {})
        prep = r.get("prepare", {})
        lines = [
            ("pandas read_csv alone", f"{prep.get('pandas_read_s')} s"),
            ("prepare (read, schema, split, write)",
             f"{prep.get('prepare_s')} s = {prep.get('prepare_vs_pandas_read')}x pandas' read "
             f"(target <= 2); steps {prep.get('steps_s')}; peak {prep.get('peak_rss_mb')} MB"
             if "prepare_s" in prep else str(prep.get("error", ""))[-300:]),
            ("batch size / learning rate", f"{hp.get('batch_size')} / "
                                           f"{hp.get('learning_rate', 0):.2g}"),
            ("start + read + prepare", f"{p['start_read_prepare_s']} s"),
            ("search epochs", " + ".join(f"{s} s" for s in p["epochs_s"])),
            ("search total", f"{p['search_s']} s"),
            ("wrap-up (best model, val outputs)", f"{p['wrap_up_s']} s"),
            ("refit (epochs)", f"{p.get('refit_s', '-')} s ("
             + " + ".join(f"{s} s" for s in p.get("refit_epochs_s", [])) + ")"),
            ("evaluate", f"{p['evaluate_s']} s"),
            ("export", f"{p['export_s']} s"),
            ("end to end", f"{ds['end_to_end_s']} s"),
            ("test AUC", f"{ds.get('metrics', {}).get('auc', float('nan')):.4f}"),
            ("peak memory (process tree / maxrss)",
             f"{ds['peak_rss_tree_mb']} MB / {ds['maxrss_children_mb']} MB"),
            ("DataFrame in memory (deep)", f"{r['frame_mb']} MB"),
            ("baseline: TF + engine, no data",
             f"{r.get('baseline', {}).get('rss_mb')} MB "
             f"(imports {r.get('baseline', {}).get('import_s')} s)"),
            *((("worker peak / DataFrame", f"{m['worker_peak_mb']} MB = {m['peak_vs_frame']}x"),
               ("(peak - baseline) / DataFrame", f"{m['worker_peak_mb'] - m['baseline_mb']} MB = "
                                                 f"{m['data_vs_frame']}x (target <= 3)"))
              if (m := r.get("memory")) else ()),
            *((f"peak in {phase} (largest process / tree)",
               f"{m['process']} MB ({m['process'] / r['frame_mb']:.1f}x frame) / {m['tree']} MB")
              for phase, m in ds.get("peak_rss_by_phase_mb", {}).items()),
            ("training rows/s (last search epoch)", f"{p.get('train_rows_per_s') or 0:,.0f}"),
        ]
        mlp, hgb = r.get("mlp", {}), r.get("hgb", {})
        for bs, m in mlp.get("batches", {}).items():
            lines.append((f"plain MLP batch {bs}", f"{m['rows_per_s']:,} rows/s "
                                                   f"({m['epoch_s']} s/epoch, val AUC "
                                                   f"{m['val_auc']})"))
        if "throughput_ratio" in r:
            lines.append(("throughput DL Studio / best MLP", f"{r['throughput_ratio']}"))
        if hgb.get("read_fit_s"):
            other = ", ".join(f"{h['omp_threads']} threads: {h['read_fit_s']} s"
                              for h in r.get("hgb_runs", []) if "read_fit_s" in h)
            lines.append(("pandas read + HGB fit (best)", f"{hgb['read_fit_s']} s (read "
                                                          f"{hgb['read_s']} s, test AUC "
                                                          f"{hgb['test_auc']}; {other})"))
        if "end_to_end_vs_hgb" in r:
            lines.append(("end to end / (read + HGB fit)",
                          f"{r['end_to_end_vs_hgb']} (target <= 6)"))
        for name, value in lines:
            print(f"  {name:<38} {value}")


def compare(before_path: Path, after_path: Path) -> None:
    """Print the figures of two saved runs (``--output`` files) side by side, per table size."""
    saved = [json.loads(Path(p).read_text()) for p in (before_path, after_path)]
    for name, run in zip(("before", "after"), saved, strict=True):
        print(f"{name}: {run['results'][0].get('dlstudio', {}).get('command', '')}")
    after_rows = {r["rows"]: r for r in saved[1]["results"]}
    for before in saved[0]["results"]:
        after = after_rows.get(before["rows"])
        if after is None:
            continue
        print(f"\n== {before['rows']:,} rows: before / after ==")

        def row(label: str, get: Any, pair: tuple = (before, after)) -> None:
            cells = []
            for r in pair:
                try:
                    cells.append(str(get(r)))
                except (KeyError, TypeError, ZeroDivisionError):
                    cells.append("-")
            print(f"  {label:<44} {cells[0]:>14} / {cells[1]}")

        row("DataFrame in memory (MB)", lambda r: r["frame_mb"])
        row("pandas read_csv alone (s)", lambda r: r["prepare"]["pandas_read_s"])
        row("prepare (s)", lambda r: r["prepare"]["prepare_s"])
        row("prepare / pandas read", lambda r: r["prepare"]["prepare_vs_pandas_read"])
        row("prepare / pandas read (CPU time)",
            lambda r: r["prepare"]["prepare_vs_pandas_read_cpu"])
        for step in ("read", "schema + task", "split", "write split", "read split back"):
            row(f"  {step} (s)", lambda r, s=step: r["prepare"]["steps_s"][s])
        row("prepare alone: peak RSS (MB)", lambda r: r["prepare"]["peak_rss_mb"])
        row("end to end (s)", lambda r: r["dlstudio"]["end_to_end_s"])
        for phase in ("start_read_prepare_s", "search_s", "wrap_up_s", "refit_s", "evaluate_s",
                      "export_s"):
            row(f"  {phase} (s)", lambda r, p=phase: r["dlstudio"]["phases"][p])
        row("worker peak, largest process (MB)",
            lambda r: max(m["process"] for m in r["dlstudio"]["peak_rss_by_phase_mb"].values()))
        row("  / DataFrame", lambda r: round(max(
            m["process"] for m in r["dlstudio"]["peak_rss_by_phase_mb"].values())
            / r["frame_mb"], 1))
        for phase in before.get("dlstudio", {}).get("peak_rss_by_phase_mb", {}):
            row(f"  peak in {phase} (MB)",
                lambda r, p=phase: r["dlstudio"]["peak_rss_by_phase_mb"][p]["process"])
        row("process tree peak (MB)", lambda r: r["dlstudio"]["peak_rss_tree_mb"])
        row("baseline: TF + engine, no data (MB)", lambda r: r["baseline"]["rss_mb"])
        row("(worker peak - baseline) / DataFrame", lambda r: r["memory"]["data_vs_frame"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000],
                        help="table sizes to run (default: 100000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-trials", type=int, default=1)
    parser.add_argument("--max-epochs", type=int, default=2)
    parser.add_argument("--mlp-batches", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--prepare-only", action="store_true",
                        help="time only the data preparation (no TensorFlow run, no baselines)")
    parser.add_argument("--src", type=Path, help="run DL Studio from this src/ folder (another "
                        "checkout, e.g. `git archive` of an older commit) instead of this one")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("BEFORE", "AFTER"),
                        help="print two saved runs side by side, and nothing else")
    args = parser.parse_args(argv)
    if args.compare:
        compare(*args.compare)
        return 0
    args.workdir = args.workdir.resolve()
    results = [run_size(rows, args) for rows in args.rows]
    print_table(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "settings": {k: str(v) for k, v in vars(args).items()},
        "results": results}, indent=2))
    print(f"\nwritten to {args.output}")
    ok = all("error" not in r.get("dlstudio", r["prepare"]) for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
