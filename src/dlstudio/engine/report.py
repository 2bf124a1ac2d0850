"""The shareable report: one self-contained HTML file about a project's best model.

Everything comes from the project folder: `project.json` (settings, schema, split, search),
`events.jsonl` (leaderboard, learning curves), `models/evaluation.json` (test metrics, confusion
matrix, ROC, importance, words) and, once exported, the export's `model_card.json`. Charts are
drawn with matplotlib's object-oriented API on the Agg canvas (never pyplot, never a GUI backend)
and embedded as PNG data URIs; the page has no script and no external reference, so it opens
offline and prints. Every user string (column, class and file names) is escaped.

No TensorFlow here: the GUI calls `write_report` on a thread-pool thread, the CLI in-process.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlstudio import __version__
from dlstudio.engine.errors import ConfigError
from dlstudio.engine.events import EndReason
from dlstudio.engine.project import Project, atomic_write_bytes
from dlstudio.engine.records import EvaluationReport
from dlstudio.engine.schema import Role
from dlstudio.engine.templates import TaskType, Template, get_template

# How the metrics of evaluation.json are named for a reader.
METRIC_NAMES = {
    "auc": "ROC AUC", "ks": "KS statistic", "gini": "Gini", "accuracy": "Accuracy",
    "precision": "Precision", "recall": "Recall", "f1": "F1 score", "f1_macro": "F1 (macro)",
    "log_loss": "Log loss", "rmse": "RMSE (root mean squared error)",
    "mae": "MAE (mean absolute error)", "r2": "R² (share of variance explained)", "loss": "Loss",
}
TOP_WORDS = 10          # words each way in a word chart
MAX_WORD_CLASSES = 6    # word charts per text column at most (one per class)
MAX_IMPORTANCE = 20     # columns in the importance chart at most
COLORS = ("#1565c0", "#e65100", "#2e7d32", "#6a1b9a", "#c62828", "#00838f")
GOOD, BAD = "#2e7d32", "#c62828"


class _Html(str):
    """Markup that is already safe (built here); anything else is escaped by `_e`."""


def _e(value: Any) -> str:
    return value if isinstance(value, _Html) else html.escape(str(value), quote=True)


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return "—"
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.3g}"
    return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.2f}"


def _q(name: Any) -> str:
    """A user's name quoted for a sentence (escape it with `_e` when it goes into markup)."""
    return f"‘{name}’"


# -- what the report is made of -------------------------------------------------------------------

@dataclass
class _Facts:
    """Everything the report shows, read once from the project folder."""

    project: Project
    template: Template
    evaluation: EvaluationReport
    raw: dict[str, Any]                 # evaluation.json as written (fields newer than this code)
    events: list[dict[str, Any]]
    card: dict[str, Any] | None
    card_path: Path | None
    threshold: float | None             # the decision threshold the report is about
    threshold_source: str
    costs: dict[str, float] | None


def _read_facts(project_dir: str | os.PathLike, threshold: float | None,
                costs: dict[str, float] | None) -> _Facts:
    root = Path(project_dir)
    if not root.exists():
        raise ConfigError(f"The project folder '{root}' does not exist.")
    project = Project.open(root)
    path = project.evaluation_path
    if not path.is_file():
        raise ConfigError(
            f"The project '{project.root}' has no finished run yet (it has no "
            "models/evaluation.json), so there is nothing to report. Run or resume its search "
            "first; the report can be made once the best model has been measured on the test rows.")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        evaluation = EvaluationReport.from_dict(raw)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"The evaluation file '{path}' cannot be read ({exc}). Resume the "
                          "project's search to measure the model again.") from exc
    template = get_template(project.config.template)
    card, card_path = _read_card(project)
    source = "chosen on the validation rows"
    if threshold is not None and evaluation.threshold is not None \
            and abs(threshold - evaluation.threshold) < 1e-9:
        threshold = evaluation.threshold           # the Results page left it where it was
    elif threshold is not None:
        source = "as set on the Results page"
    elif project.decision_threshold is not None and evaluation.threshold is not None:
        threshold, source = project.decision_threshold, "chosen by the user on the test results"
    else:
        threshold = evaluation.threshold
    return _Facts(project=project, template=template, evaluation=evaluation, raw=raw,
                  events=project.read_events(), card=card, card_path=card_path,
                  threshold=threshold, threshold_source=source,
                  costs=costs if costs is not None else evaluation.costs)


def _read_card(project: Project) -> tuple[dict[str, Any] | None, Path | None]:
    """The last export's model card as a dict (newer cards may carry more), if there is one."""
    summary = project.export_summary or {}
    candidates = [Path(summary["model_card"])] if summary.get("model_card") else []
    candidates.append(project.default_export_dir / "model_card.json")
    for path in candidates:
        if path.is_file():
            try:
                card = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(card, dict):
                return card, path
    return None, None


# -- charts ---------------------------------------------------------------------------------------

RC = {"text.parse_math": False,       # a '$' in a column name is a dollar, not maths
      "font.size": 9, "axes.titlesize": 10, "axes.spines.top": False,
      "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3}


class _Charts:
    """Figures drawn with matplotlib's object-oriented API on the Agg canvas, as PNG data.
    Draw inside `matplotlib.rc_context(RC)` (see `build_report`)."""

    def __init__(self) -> None:
        self.count = 0

    @staticmethod
    def figure(width: float, height: float):
        from matplotlib.figure import Figure
        return Figure(figsize=(width, height), dpi=100, layout="constrained")

    def png(self, fig, alt: str, caption: str = "") -> _Html:
        """The figure as an <img> with its PNG embedded, and a caption under it."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        FigureCanvasAgg(fig)        # the figure draws on the Agg canvas, whatever the default
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=120)
        self.count += 1
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
        return _Html(f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}">'
                     f"{cap}</figure>")


def _barh(ax, labels: Sequence[str], values: Sequence[float], colors: Sequence[str] | str,
          errors: Sequence[float] | None = None) -> None:
    pos = np.arange(len(labels))[::-1]
    ax.barh(pos, values, color=colors, xerr=errors, ecolor="#555", capsize=2)
    ax.set_yticks(pos, [_short(x) for x in labels])
    ax.grid(axis="y", visible=False)
    ax.axvline(0, color="#333", linewidth=0.8)


def _short(text: Any, n: int = 40) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


# -- markup helpers -------------------------------------------------------------------------------

def _table(headers: Sequence[Any], rows: Iterable[Sequence[Any]], cls: str = "") -> _Html:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    klass = f' class="{cls}"' if cls else ""
    return _Html(f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _cell(value: Any) -> str:
    if isinstance(value, _Html):
        return value
    if isinstance(value, float | int) and not isinstance(value, bool):
        return _num(value)
    return _e("" if value is None else value)


def _p(text: str, cls: str = "") -> _Html:
    klass = f' class="{cls}"' if cls else ""
    return _Html(f"<p{klass}>{_e(text)}</p>")


def _why(text: str) -> _Html:
    """What stands where there is nothing to show: a sentence saying why."""
    return _p(text, "why")


def _section(sid: str, title: str, *parts: str) -> _Html:
    return _Html(f'<section id="{sid}"><h2>{_e(title)}</h2>{"".join(parts)}</section>')


def _kv(pairs: Iterable[tuple[str, Any]]) -> _Html:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_cell(v)}</td></tr>" for k, v in pairs)
    return _Html(f'<table class="kv"><tbody>{rows}</tbody></table>')


# -- sections -------------------------------------------------------------------------------------

def _profile(f: _Facts, charts: _Charts) -> _Html:
    project, schema = f.project, f.project.schema
    parts: list[str] = []
    split = project.split_sizes
    source = Path(project.config.data).name or project.config.data
    if schema is None:
        parts.append(_why("The data was never profiled: the project holds no schema."))
    else:
        parts.append(_p(f"{schema.rows:,} rows and {len(schema.columns)} columns from "
                        f"{_q(source)}. Each column's role was chosen as the last column says."))
        parts.append(_table(
            ["Column", "Role", "Type", "Missing", "Distinct values", "Why this role"],
            [[c.name, str(c.role), c.dtype,
              f"{c.missing:,} ({100 * c.missing / max(1, schema.rows):.1f}%)", c.distinct,
              c.reason] for c in schema.columns]))
        parts.append("<h3>Warnings about the data</h3>")
        if schema.warnings:
            parts.append("<ul class=\"warnings\">"
                         + "".join(f"<li>{_e(w)}</li>" for w in schema.warnings) + "</ul>")
        else:
            parts.append(_p("No warnings: no column looked like an identifier, a constant, a "
                            "leak of the answer or held infinite values."))
    if split:
        parts.append(_p(
            f"The rows were split once, at random with seed {split.get('seed', '?')}: "
            f"{split.get('train', 0):,} to train, {split.get('validation', 0):,} to compare "
            f"networks and choose the threshold, {split.get('test', 0):,} held back for the "
            "test results below."))
    parts.append(_target_balance(f, charts))
    return _section("profile", "The data", *parts)


def _target_balance(f: _Facts, charts: _Charts) -> str:
    project, task = f.project, f.project.task
    if task is None or not project.has_split():
        return _why("The target's distribution cannot be shown: the project's split files "
                    "(data/) are missing.")
    try:
        parts = {s: part[task.target]
                 for s, part in project.read_split_columns([task.target]).items()}
    except (OSError, ValueError, KeyError, ConfigError) as exc:
        return _why(f"The target's distribution cannot be shown: the split files cannot be "
                    f"read ({exc}).")
    fig = charts.figure(6.4, 2.6)
    ax = fig.subplots()
    if task.is_regression:
        for i, (name, values) in enumerate(parts.items()):
            ax.hist(values.dropna(), bins=30, histtype="step", linewidth=1.5, color=COLORS[i],
                    label=name, density=True)
        ax.set_xlabel(_short(task.target))
        ax.set_ylabel("share of rows (density)")
        fig.legend(loc="outside upper center", ncols=3)
        alt = f"Distribution of {task.target} in the train, validation and test rows."
        return charts.png(fig, alt, f"How {_q(task.target)} is spread in each part of the data.")
    classes = [str(c) for c in task.classes]
    width = 0.8 / len(parts)
    rows = []
    for i, (name, values) in enumerate(parts.items()):
        counts = values.astype(str).value_counts()
        shares = [counts.get(c, 0) / max(1, len(values)) for c in classes]
        ax.bar(np.arange(len(classes)) + i * width, shares, width, color=COLORS[i], label=name)
        rows.append([name, *[f"{counts.get(c, 0):,} ({s:.0%})" for c, s in
                             zip(classes, shares, strict=True)]])
    ax.set_xticks(np.arange(len(classes)) + width * (len(parts) - 1) / 2,
                  [_short(c, 20) for c in classes])
    ax.set_ylabel("share of rows")
    fig.legend(loc="outside upper center", ncols=3)
    alt = (f"Share of each class of {task.target} per part of the data: "
           + "; ".join(f"{r[0]} " + ", ".join(f"{c} {v}" for c, v in zip(classes, r[1:],
                                                                          strict=True))
                       for r in rows))
    return (charts.png(fig, alt, f"Classes of {_q(task.target)} in each part of the data.")
            + _table(["Rows", *classes], rows))


def _setup(f: _Facts) -> _Html:
    config, template, meta = f.project.config, f.template, f.project.meta
    search = meta.get("search") or {}
    max_trials = search.get("max_trials") or config.max_trials or template.max_trials
    max_epochs = search.get("max_epochs") or config.max_epochs or template.max_epochs
    pairs: list[tuple[str, Any]] = [
        ("Template", f"{template.title} ({template.name}): {template.description}"),
        ("Target", (f.project.task.target if f.project.task else config.target) or "—"),
        ("Optimised on the validation rows",
         f"{template.objective} ({'higher' if template.direction == 'max' else 'lower'} "
         "is better)"),
        ("Search", f"{config.tuner} tuner, seed {config.seed}"),
        ("Budget", f"up to {max_trials} networks of up to {max_epochs} epochs each"
                   + (f", time limit {config.time_limit:g} s" if config.time_limit else "")),
    ]
    if config.search_space:
        pairs.append(("Search space narrowed to",
                      ", ".join(f"{k} = {v}" for k, v in config.search_space.items())))
    if f.evaluation.task is TaskType.BINARY:
        pairs.append(("Positive class (flagged)", f.evaluation.positive_class or "—"))
    reason = search.get("reason")
    if reason in {r.value for r in EndReason}:
        end = EndReason(reason)
        pairs.append(("How the search ended",
                      f"{end.headline}: {search.get('completed_trials', '?')} networks "
                      f"trained; it ended because {end.because}."))
    else:
        pairs.append(("How the search ended", "not recorded"))
    refit = any(e.get("type") == "phase_started" and e.get("phase") == "refit"
                for e in f.events)
    pairs.append(("Final training", "the best network was trained again on the training and "
                                    "validation rows" if refit else
                  "the network the search found (no final training)"))
    return _section("setup", "Template and budget", _kv(pairs))


def _trials(f: _Facts) -> list[dict[str, Any]]:
    last: dict[str, dict[str, Any]] = {}
    for e in f.events:
        if e.get("type") == "trial_ended" and e.get("trial_id") is not None:
            last[str(e["trial_id"])] = e
    maximise = f.template.direction == "max"

    def key(t: dict[str, Any]) -> tuple:
        s = t.get("score")
        ok = t.get("status") == "completed" and isinstance(s, int | float)
        return (not ok, -(s if maximise else -s) if ok else 0.0)

    return sorted(last.values(), key=key)


def _leaderboard(f: _Facts) -> _Html:
    trials = _trials(f)
    if not trials:
        return _section("leaderboard", "The networks tried", _why(
            "No trial is recorded in the project's events.jsonl (it is missing or was emptied), "
            "so the leaderboard cannot be rebuilt."))
    best = str((f.project.meta.get("best") or {}).get("trial_id"))
    rows = []
    for rank, t in enumerate(trials, 1):
        hp = t.get("hyperparameters") or {}
        shown = ", ".join(f"{k} = {_num(v) if isinstance(v, float) else v}"
                          for k, v in hp.items() if not str(k).startswith("tuner/"))
        status = "best" if str(t.get("trial_id")) == best else t.get("status", "")
        if t.get("status") != "completed" and t.get("message"):
            status = f"{status}: {t['message']}"
        rows.append([rank, t.get("trial_id"), t.get("score"), t.get("epochs"),
                     f"{float(t.get('seconds') or 0):.1f} s", status, shown])
    return _section("leaderboard", "The networks tried", _p(
        f"Every network the search trained, best first by {f.template.objective} on the "
        "validation rows, with its hyper-parameters."),
        _table(["Rank", "Trial", f.template.objective, "Epochs", "Time", "Status",
                "Hyper-parameters"], rows, "leaderboard"))


def _curves(f: _Facts, charts: _Charts) -> _Html:
    best = (f.project.meta.get("best") or {}).get("trial_id")
    epochs: dict[int, dict[str, float]] = {}
    for e in f.events:
        if e.get("type") == "epoch_ended" and e.get("trial_id") == best:
            epochs[int(e.get("epoch", 0))] = e.get("logs") or {}
    if not epochs:
        return _section("curves", "Learning curves of the best network", _why(
            "No epoch of the best network is recorded in events.jsonl, so its learning curves "
            "cannot be drawn."))
    refit: list[dict[str, float]] = []
    for e in f.events:
        if e.get("type") == "phase_started" and e.get("phase") == "refit":
            refit = []
        elif e.get("type") == "phase_progress" and e.get("phase") == "refit":
            refit.append(e.get("logs") or {})
    xs = sorted(epochs)
    objective = f.template.objective
    metric = objective[4:] if objective.startswith("val_") else objective
    panels = [("loss", "val_loss")]
    if metric != "loss" and any(objective in epochs[x] for x in xs):
        panels.append((metric, objective))
    fig = charts.figure(6.4 if len(panels) == 1 else 8.6, 2.8)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (train_key, val_key) in zip(axes, panels, strict=True):
        for key, label, color in ((train_key, "training rows", COLORS[0]),
                                  (val_key, "validation rows", COLORS[1])):
            ys = [epochs[x].get(key) for x in xs]
            if any(isinstance(y, int | float) for y in ys):
                ax.plot(xs, [np.nan if y is None else y for y in ys], marker="o", markersize=3,
                        color=color, label=label)
        if refit and any(train_key in r for r in refit):
            ax.plot(range(1, len(refit) + 1), [r.get(train_key, np.nan) for r in refit],
                    linestyle="--", color=COLORS[2], label="final training (train + validation)")
        ax.set_xlabel("epoch")
        ax.set_title(METRIC_NAMES.get(train_key, train_key))
        ax.legend()
    last = epochs[xs[-1]]
    alt = (f"Learning curves of trial {best} over {len(xs)} epochs; last epoch: "
           + ", ".join(f"{k} {_num(v)}" for k, v in last.items()))
    return _section("curves", "Learning curves of the best network", _p(
        f"Trial {best}, epoch by epoch: the training rows it learned from and the validation "
        "rows it was judged on. A validation curve that turns up while the training curve keeps "
        "falling is over-fitting."), charts.png(fig, alt))


def _metrics(f: _Facts) -> _Html:
    ev = f.evaluation
    n = _test_rows(f)
    rows = [[METRIC_NAMES.get(k, k), v] for k, v in ev.metrics.items()]
    if not rows:
        return _section("metrics", "Test metrics", _why("The evaluation holds no metric."))
    at = ""
    if ev.threshold is not None:
        at = (f" Precision, recall, F1 and accuracy are at the threshold "
              f"{ev.threshold:.3f} ({ev.threshold_rule or 'chosen on the validation rows'}).")
    parts = [_p(f"Measured on {n:,} test rows the search never saw.{at}"), _table(
        ["Metric", "Value"], rows, "metrics")]
    parts.append(_per_class(f))
    return _section("metrics", "Test metrics", *parts)


def _test_rows(f: _Facts) -> int:
    """How many test rows the metrics were measured on (evaluation.json stores at most
    evaluate.MAX_STORED_TEST_ROWS of them)."""
    return f.project.split_sizes.get("test") or len(f.evaluation.test.get("y_true", []))


def _per_class(f: _Facts) -> str:
    """Per-class metrics, when a newer evaluation.json carries them."""
    per = f.raw.get("per_class") or f.raw.get("per_class_metrics")
    if isinstance(per, dict) and all(isinstance(v, dict) for v in per.values()):
        per = [{"class": k, **v} for k, v in per.items()]
    if not isinstance(per, list) or not per or not all(isinstance(r, dict) for r in per):
        return ""
    keys: list[str] = []
    for r in per:
        keys += [k for k in r if k not in keys]
    return "<h3>Per class</h3>" + _table([METRIC_NAMES.get(k, k) for k in keys],
                                         [[r.get(k) for k in keys] for r in per])


def _binary_counts(f: _Facts) -> dict[str, Any] | None:
    """True/false positives and negatives at the report's threshold, from the stored test rows."""
    ev = f.evaluation
    scores = np.asarray(ev.test.get("scores", []), dtype=float)
    y = np.asarray([str(v) for v in ev.test.get("y_true", [])], dtype=object)
    if ev.task is not TaskType.BINARY or f.threshold is None or scores.ndim != 2 or not len(y):
        return None
    classes = [str(c) for c in ev.classes]
    positive = str(ev.positive_class or classes[-1])
    negative = next(c for c in classes if c != positive)
    p = scores[:, classes.index(positive)]
    is_pos, flagged = y == positive, p >= f.threshold
    out = {"tp": int(np.sum(is_pos & flagged)), "fn": int(np.sum(is_pos & ~flagged)),
           "fp": int(np.sum(~is_pos & flagged)), "tn": int(np.sum(~is_pos & ~flagged)),
           "positive": positive, "negative": negative, "n": len(y)}
    out["tpr"] = out["tp"] / max(1, out["tp"] + out["fn"])
    out["fpr"] = out["fp"] / max(1, out["fp"] + out["tn"])
    return out


def _confusion(f: _Facts) -> _Html:
    ev = f.evaluation
    title = "Confusion matrix"
    if ev.task is TaskType.REGRESSION:
        return _section("confusion", title, _why(
            "No confusion matrix: the model predicts a number, not a class. The predicted and "
            "true values are compared in the next section."))
    classes = [str(c) for c in ev.classes]
    counts = _binary_counts(f)
    note = ""
    at_engine = (ev.threshold is None or f.threshold is None
                 or abs(f.threshold - ev.threshold) < 1e-9)
    if counts is not None and not at_engine:
        pos, neg = classes.index(counts["positive"]), classes.index(counts["negative"])
        cm = [[0, 0], [0, 0]]
        cm[pos][pos], cm[pos][neg] = counts["tp"], counts["fn"]
        cm[neg][pos], cm[neg][neg] = counts["fp"], counts["tn"]
        note = (f" At the threshold {f.threshold:.3f} ({_threshold_why(f)}), counted on the "
                f"{counts['n']:,} stored test rows.")
    else:
        cm = ev.confusion_matrix or []
        if ev.threshold is not None:
            note = f" At the threshold {ev.threshold:.3f}."
    if not cm or len(cm) != len(classes):
        return _section("confusion", title, _why("The evaluation holds no confusion matrix."))
    total = max(1, sum(sum(r) for r in cm))
    top = max(max(r) for r in cm) or 1
    head = "".join(f"<th>predicted {_e(c)}</th>" for c in classes)
    body = ""
    for r, row in enumerate(cm):
        cells = ""
        for c, v in enumerate(row):
            color = "46,125,50" if r == c else "198,40,40"
            alpha = 0.08 + 0.5 * v / top
            cells += (f'<td style="background: rgba({color},{alpha:.2f})">{v:,} '
                      f'<span class="share">({v / total:.0%})</span></td>')
        body += f"<tr><th>true {_e(classes[r])}</th>{cells}</tr>"
    table = _Html(f'<table class="matrix"><thead><tr><th></th>{head}</tr></thead>'
                  f"<tbody>{body}</tbody></table>")
    return _section("confusion", title, _p(
        "Rows: the true class of each test row. Columns: what the model predicted. The "
        "diagonal is right." + note), table)


def _roc(f: _Facts, charts: _Charts) -> _Html:
    ev = f.evaluation
    title = "ROC curve and the decision threshold"
    if ev.task is TaskType.REGRESSION:
        return _section("roc", "Predicted against true values", _regression(f, charts))
    classes = [str(c) for c in ev.classes]
    roc = ev.roc or {}
    if len(classes) != 2:
        return _section("roc", title, _why(
            f"No ROC curve: it compares two classes, and this task has {len(classes)}. The "
            "confusion matrix above shows how each class fares."), _pr(f, charts))
    if not roc.get("fpr"):
        return _section("roc", title, _why(
            "No ROC curve: the test rows hold only one of the two classes, so there is no true- "
            "and false-positive rate to draw."))
    positive = str(ev.positive_class or classes[1])
    fig = charts.figure(4.6, 4.0)
    ax = fig.subplots()
    ax.plot(roc["fpr"], roc["tpr"], color=COLORS[0], label="the model")
    ax.plot([0, 1], [0, 1], linestyle="--", color="#999", label="guessing")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate (recall)")
    ax.set_title(_short(f"{_q(positive)} as the positive class", 60))
    counts = _binary_counts(f)
    parts: list[str] = []
    alt = f"ROC curve with {_q(positive)} as the positive class"
    if counts is not None:
        ax.plot([counts["fpr"]], [counts["tpr"]], "o", color=COLORS[1], markersize=8,
                label=f"threshold {f.threshold:.3f}")
        alt += (f"; at the threshold {f.threshold:.3f}: true positive rate "
                f"{counts['tpr']:.2f}, false positive rate {counts['fpr']:.2f}")
        parts.append(_p(
            f"The model flags a row as {_q(positive)} when its probability is at least "
            f"{f.threshold:.3f} ({_threshold_why(f)}). On the test rows that catches "
            f"{counts['tpr']:.0%} of the {_q(positive)} rows "
            f"({counts['tp']:,} of {counts['tp'] + counts['fn']:,}) and wrongly flags "
            f"{counts['fpr']:.0%} of the {_q(counts['negative'])} rows "
            f"({counts['fp']:,} of {counts['fp'] + counts['tn']:,})."))
    else:
        parts.append(_p("The model picks the more probable class; the curve shows what other "
                        "cut-offs on the probability of " + _q(positive) + " would give."))
    ax.legend(loc="lower right")
    parts.insert(0, charts.png(fig, alt))
    parts.append(_costs(f, counts))
    parts.append(_pr(f, charts))
    return _section("roc", title, *parts)


def _costs(f: _Facts, counts: dict[str, Any] | None) -> str:
    if counts is None or f.template.name != "credit-scoring" or not f.costs:
        return ""
    fa = float(f.costs.get("false_approval", 1.0))
    fr = float(f.costs.get("false_rejection", 1.0))
    total = fa * counts["fn"] + fr * counts["fp"]
    return "<h3>What the mistakes cost</h3>" + _kv([
        (f"Cost of approving an applicant who will not repay ({counts['positive']} predicted "
         f"{counts['negative']})", f"{fa:,.2f}"),
        (f"Cost of rejecting an applicant who would repay ({counts['negative']} predicted "
         f"{counts['positive']})", f"{fr:,.2f}"),
        ("Wrong approvals / wrong rejections on the test rows", f"{counts['fn']:,} / "
                                                                f"{counts['fp']:,}"),
        ("Total cost on the test rows at this threshold",
         f"{total:,.2f} ({total / max(1, counts['n']):,.3f} per applicant)"),
    ])


def _threshold_why(f: _Facts) -> str:
    """How the report's threshold was chosen, e.g. "maximises TPR - FPR (KS) on the validation
    rows" or "as set on the Results page"."""
    rule = f.evaluation.threshold_rule
    return rule if f.threshold_source == "chosen on the validation rows" and rule \
        else f.threshold_source


def _pr(f: _Facts, charts: _Charts) -> str:
    """The precision-recall curve, when a newer evaluation.json carries one."""
    pr = f.raw.get("pr_curve") or f.raw.get("pr")
    if not isinstance(pr, dict):
        return ""
    precision, recall = pr.get("precision"), pr.get("recall")
    if not (isinstance(precision, list) and isinstance(recall, list) and precision
            and len(precision) == len(recall)):
        return ""
    fig = charts.figure(4.6, 3.4)
    ax = fig.subplots()
    ax.plot(recall, precision, color=COLORS[0])
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_title("Precision against recall (test rows)")
    return "<h3>Precision and recall</h3>" + charts.png(
        fig, f"Precision-recall curve over {len(recall)} points.")


def _regression(f: _Facts, charts: _Charts) -> str:
    test = f.evaluation.test
    true = np.asarray(test.get("y_true", []), dtype=float)
    pred = np.asarray(test.get("scores", []), dtype=float).reshape(-1)
    if not len(true) or len(true) != len(pred):
        return _why("No test predictions were stored, so they cannot be compared.")
    fig = charts.figure(8.6, 3.4)
    ax, hist = fig.subplots(1, 2)
    ax.scatter(true, pred, s=6, alpha=0.5, color=COLORS[0])
    lo, hi = float(min(true.min(), pred.min())), float(max(true.max(), pred.max()))
    ax.plot([lo, hi], [lo, hi], linestyle="--", color="#999")
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    ax.set_title("Predicted against true (test rows)")
    residuals = pred - true
    hist.hist(residuals, bins=30, color=COLORS[1])
    hist.set_xlabel("predicted − true")
    hist.set_title("Errors (residuals)")
    alt = (f"Predicted against true values on {len(true)} test rows; residuals have mean "
           f"{_num(float(residuals.mean()))} and spread {_num(float(residuals.std()))}")
    return charts.png(fig, alt, "Points on the dashed line are predicted exactly.")


def _importance(f: _Facts, charts: _Charts) -> _Html:
    rows = [r for r in f.evaluation.feature_importance if isinstance(r, dict)]
    title = "Which columns matter most"
    if not rows:
        why = ("The model reads a single text column, so there are no columns to rank; the "
               "words that matter are in the next section." if f.evaluation.word_importance
               else "Column importance was not measured for this model.")
        return _section("importance", title, _why(why))
    shown = rows[:MAX_IMPORTANCE]
    names = [str(r.get("column")) for r in shown]
    values = [float(r.get("importance") or 0.0) for r in shown]
    errors = [float(r.get("std") or 0.0) for r in shown]
    fig = charts.figure(6.4, 0.8 + 0.28 * len(shown))
    ax = fig.subplots()
    _barh(ax, names, values, [COLORS[0] if v >= 0 else "#999" for v in values], errors)
    ax.set_xlabel("drop in the test score when the column's values are shuffled")
    alt = "Column importance: " + ", ".join(f"{n} {_num(v)}" for n, v in zip(names, values,
                                                                             strict=True))
    more = (_p(f"{len(rows) - len(shown)} more columns matter less and are not drawn.")
            if len(rows) > len(shown) else "")
    return _section("importance", title, _p(
        "Each column's values were shuffled among the test rows in turn; the bigger the drop in "
        "the score, the more the model relies on that column (a bar near zero: it hardly uses "
        "it; the whisker is the spread over repeats)."), charts.png(fig, alt), more)


def _words(f: _Facts, charts: _Charts) -> _Html:
    ev, schema = f.evaluation, f.project.schema
    title = "Which words matter most"
    texts = schema.names(Role.TEXT) if schema else []
    if not ev.word_importance:
        why = ("The model reads no text column, so there are no words to rank."
               if not texts else "Word importance was not measured for this model.")
        return _section("words", title, _why(why))
    parts = [_p("Each of the most frequent words was taken out of the validation texts that "
                "contain it; a bar is how much the prediction moved on average when it was "
                "taken out (green: the word pushes towards the class; red: away from it).")]
    for column, per_class in ev.word_importance.items():
        if len(ev.word_importance) > 1:
            parts.append(f"<h3>Text column {_e(_q(column))}</h3>")
        targets = list(per_class)
        if ev.task is not TaskType.REGRESSION and len(ev.classes) == 2:
            # Two classes: the words of one are the mirror of the other's.
            positive = str(ev.positive_class or ev.classes[1])
            targets = [positive] if positive in per_class else targets[:1]
        for target in targets[:MAX_WORD_CLASSES]:
            parts.append(_word_chart(charts, column, target, per_class.get(target) or [],
                                     ev.task is TaskType.REGRESSION))
        if len(targets) > MAX_WORD_CLASSES:
            parts.append(_p(f"{len(targets) - MAX_WORD_CLASSES} more classes are not drawn; "
                            "the app's Results page shows each."))
    return _section("words", title, *parts)


def _word_chart(charts: _Charts, column: str, target: str, rows: list[dict[str, Any]],
                regression: bool) -> str:
    pairs = [(str(r.get("ngram")), float(r.get("effect") or 0.0)) for r in rows
             if isinstance(r, dict)]
    up = sorted((p for p in pairs if p[1] > 0), key=lambda p: -p[1])[:TOP_WORDS]
    down = sorted((p for p in pairs if p[1] < 0), key=lambda p: p[1])[:TOP_WORDS]
    towards = "raise" if regression else "push towards"
    if not up and not down:
        return _why(f"No frequent word of {_q(column)} moved the prediction of {_q(target)}.")
    shown = up + down[::-1]
    fig = charts.figure(6.4, 0.9 + 0.24 * len(shown))
    ax = fig.subplots()
    _barh(ax, [w for w, _ in shown], [v for _, v in shown],
          [GOOD if v > 0 else BAD for _, v in shown])
    ax.set_xlabel("average change in " + ("the prediction" if regression else "probability")
                  + " when the word is there rather than taken out")
    ax.set_title(_short(f"{_q(column)}: words that {towards} {_q(target)}", 70))
    alt = (f"Words of {column} that {towards} {target}: "
           + (", ".join(w for w, _ in up) or "none")
           + ". Words that pull away from it: " + (", ".join(w for w, _ in down) or "none")
           + ".")
    return charts.png(fig, alt)


def _card(f: _Facts) -> _Html:
    title = "Model card"
    card = f.card
    if card is None:
        return _section("card", title, _why(
            "The model has not been exported yet, so it has no model card. Export it (the "
            "Export page, or 'dlstudio export PROJECT FOLDER') and make the report again to "
            "include the card and the verified artefacts."))
    template = card.get("template") or {}
    classes = card.get("classes") or []
    threshold = card.get("threshold")
    pairs: list[tuple[str, Any]] = [
        ("Name", card.get("name")), ("Made", card.get("created")),
        ("Template", f"{template.get('title', '')} ({template.get('name', '')})"),
        ("Predicts", card.get("target")),
    ]
    if classes:
        pairs.append(("Classes", ", ".join(str(c) for c in classes)))
    if isinstance(threshold, int | float):
        pairs.append(("Decision", f"{card.get('positive_class')} when its probability is at "
                                  f"least {threshold:.4f} ({card.get('threshold_rule')})"))
    data = card.get("data") or {}
    if data:
        pairs.append(("Data", f"{data.get('rows', '?')} rows from {data.get('source', '?')}: "
                              f"{data.get('train', '?')} train, {data.get('validation', '?')} "
                              f"validation, {data.get('test', '?')} test (seed "
                              f"{data.get('seed', '?')})"))
    versions = card.get("versions") or {}
    if versions:
        pairs.append(("Versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    parts = [_kv(pairs)]
    inputs = [i for i in card.get("inputs") or [] if isinstance(i, dict)]
    if inputs:
        parts.append("<h3>Inputs</h3>" + _table(
            ["Column", "Input name", "Type", "Role"],
            [[i.get("column"), i.get("input"), f"{i.get('dtype')} [N, 1]", i.get("role")]
             for i in inputs]))
    outputs = card.get("outputs") or {}
    if outputs:
        parts.append("<h3>Outputs</h3>" + _table(["Output", "What it is"], outputs.items()))
    hp = {k: v for k, v in (card.get("hyperparameters") or {}).items()
          if not str(k).startswith("tuner/")}
    if hp:
        parts.append("<h3>Hyper-parameters of the chosen network</h3>"
                     + _table(["Hyper-parameter", "Value"], hp.items()))
    stale = [k for k, v in (card.get("metrics") or {}).items()
             if isinstance(v, float) and isinstance(f.evaluation.metrics.get(k), float)
             and abs(v - f.evaluation.metrics[k]) > 1e-9]
    if stale:
        parts.append(_p("This export was made from an earlier model of the project: its test "
                        "metrics differ from those above. Export again to match this report.",
                        "warn"))
    parts.append(_p("Limits: the model learned from the rows above only. Check it on recent data "
                    "before relying on it, and watch for drift once it is in use."))
    return _section("card", title, *parts)


def _artifacts(f: _Facts) -> _Html:
    title = "Artefacts and their verification"
    card = f.card
    if card is None or f.card_path is None:
        return _section("artifacts", title, _why(
            "Nothing has been exported yet, so there is no artefact to verify."))
    folder = f.card_path.parent
    parts = [_p(f"Exported to {folder}.")]
    artifacts = card.get("artifacts")
    if isinstance(artifacts, list) and artifacts:
        rows = []
        for a in artifacts:
            if not isinstance(a, dict):
                continue
            files = a.get("files")
            files = ", ".join(map(str, files)) if isinstance(files, list) else files
            rows.append([a.get("format"), files, a.get("runtime"), _yes_no(a.get("verified")),
                         a.get("rows"), a.get("max_difference"),
                         _yes_no(a.get("labels_equal")), a.get("note")])
        parts.append(_table(["Format", "Files", "Runs with", "Verified", "Rows compared",
                             "Largest difference", "Same labels", "Note"], rows))
    elif isinstance(card.get("verified"), dict):
        v = card["verified"]
        parts.append(_table(
            ["Format", "Verified", "Rows compared", "Largest difference",
             "Largest relative difference"],
            [["TensorFlow SavedModel (serving_default)",
              "yes: reloaded in a fresh process, same outputs", v.get("rows"),
              v.get("max_abs_difference"), v.get("max_relative_difference")]]))
    else:
        parts.append(_why("The model card records no verification of the export."))
    files = _files(folder)
    if files:
        parts.append("<h3>Files</h3>" + _table(["File", "Size"], files))
    return _section("artifacts", title, *parts)


def _yes_no(value: Any) -> str:
    return {True: "yes", False: "no"}.get(value, "—" if value is None else str(value))


def _files(folder: Path) -> list[list[str]]:
    if not folder.is_dir():
        return []
    rows = []
    for path in sorted(folder.iterdir()):
        size = (sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
                if path.is_dir() else path.stat().st_size)
        rows.append([path.name + ("/" if path.is_dir() else ""), _size(size)])
    return rows


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return ""


# -- the page -------------------------------------------------------------------------------------

CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: #222; max-width: 60rem; margin: 2rem auto; padding: 0 1.5rem; line-height: 1.45;
       font-size: 15px; }
header { border-bottom: 3px solid #1565c0; margin-bottom: 1rem; }
h1 { font-size: 1.7rem; margin: 0 0 .3rem; }
h2 { font-size: 1.3rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2rem;
     break-after: avoid; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; break-after: avoid; }
.sub { color: #555; margin: 0 0 .6rem; }
.headline { font-size: 1.1rem; background: #e3f2fd; padding: .6rem .8rem; border-radius: 4px; }
nav ol { columns: 2; margin: .5rem 0 0; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
thead th { background: #f3f5f8; }
tr { break-inside: avoid; }
table.kv th { background: #f3f5f8; width: 16rem; font-weight: 600; }
table.matrix td { text-align: center; min-width: 7rem; font-size: 1rem; }
table.matrix .share { color: #555; font-size: .85em; }
table.leaderboard td:last-child { font-size: .82rem; }
table.leaderboard td { white-space: nowrap; }
table.leaderboard td:last-child { white-space: normal; }
table.metrics td:last-child { font-variant-numeric: tabular-nums; }
figure { margin: .8rem 0; break-inside: avoid; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .85rem; }
p.why { color: #555; font-style: italic; background: #fafafa; border-left: 3px solid #bbb;
        padding: .4rem .7rem; }
p.warn { background: #fff3e0; border-left: 3px solid #e65100; padding: .4rem .7rem; }
ul.warnings li { margin: .2rem 0; }
footer { margin-top: 2.5rem; color: #777; font-size: .8rem; border-top: 1px solid #ddd;
         padding-top: .5rem; }
@page { size: A4; margin: 14mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; print-color-adjust: exact;
         -webkit-print-color-adjust: exact; }
  nav { display: none; }
  section { break-before: auto; }
  a { color: inherit; text-decoration: none; }
}
"""

SECTIONS = (("profile", "The data"), ("setup", "Template and budget"),
            ("leaderboard", "The networks tried"),
            ("curves", "Learning curves of the best network"), ("metrics", "Test metrics"),
            ("confusion", "Confusion matrix"), ("roc", "ROC curve and the decision threshold"),
            ("importance", "Which columns matter most"), ("words", "Which words matter most"),
            ("card", "Model card"), ("artifacts", "Artefacts and their verification"))


def _headline(f: _Facts) -> str:
    ev = f.evaluation
    order = [k for k in f.template.report if k in ev.metrics] or list(ev.metrics)
    shown = ", ".join(f"{METRIC_NAMES.get(k, k)} {_num(ev.metrics[k])}" for k in order[:4])
    n = _test_rows(f)
    return f"On {n:,} test rows the search never saw: {shown}."


def build_report(project_dir: str | os.PathLike, *, threshold: float | None = None,
                 costs: dict[str, float] | None = None) -> tuple[str, int]:
    """The report of the project in `project_dir` as HTML, and how many images it embeds.

    `threshold` and `costs` override the project's (the Results page passes what it shows).
    Raises ConfigError, in words for the user, when there is nothing to report."""
    import matplotlib

    f = _read_facts(project_dir, threshold, costs)
    charts = _Charts()
    project = f.project
    status = project.status
    stopped = ("" if str(status) == "finished" else
               _p(f"The project's search did not finish its budget (status: {status}); the "
                  "report shows the best network it found.", "warn"))
    with matplotlib.rc_context(RC):
        body = [
            _profile(f, charts), _setup(f), _leaderboard(f), _curves(f, charts), _metrics(f),
            _confusion(f), _roc(f, charts), _importance(f, charts), _words(f, charts),
            _card(f), _artifacts(f),
        ]
    titles = {"roc": "Predicted against true values"} if f.evaluation.task is \
        TaskType.REGRESSION else {}
    nav = "".join(f'<li><a href="#{sid}">{_e(titles.get(sid, t))}</a></li>'
                  for sid, t in SECTIONS)
    made = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    name = project.root.name
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="DL Studio {_e(__version__)}">
<title>{_e(f"Model report: {name}")}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>{_e(f"Model report: {name}")}</h1>
<p class="sub">{_e(f"{f.template.title} · made {made} by DL Studio {__version__}")}</p>
</header>
<p class="headline">{_e(_headline(f))}</p>
{stopped}
<nav><strong>Contents</strong><ol>{nav}</ol></nav>
{"".join(body)}
<footer>{_e(f"Made from the project folder {project.root}. Test rows were held back from the "
            "search and used only for the results shown here. This file is self-contained: "
            "its charts are embedded and it loads nothing from anywhere.")}</footer>
</body>
</html>
"""
    return page, charts.count


def output_problem(output: str | os.PathLike) -> str | None:
    """Why a report cannot be written to `output`, in words for the user; None if it can."""
    output = Path(output)
    if output.is_dir():
        return f"'{output}' is a folder; give the report a file name, such as report.html."
    for parent in output.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"The report cannot be written to '{output}': '{parent}' is a file."
            break
    return None


def write_report(project_dir: str | os.PathLike, output: str | os.PathLike, *,
                 threshold: float | None = None,
                 costs: dict[str, float] | None = None) -> dict[str, Any]:
    """Build the report and write it to `output` (atomically). Returns {"output", "bytes",
    "images", "seconds"}. Raises ConfigError, in words for the user, on bad input."""
    started = time.monotonic()
    problem = output_problem(output)
    if problem:
        raise ConfigError(problem)
    page, images = build_report(project_dir, threshold=threshold, costs=costs)
    data = page.encode("utf-8")
    output = Path(output)
    try:
        atomic_write_bytes(output, data)
        output.chmod(0o644)     # a file to share: readable by others (mkstemp made it 0600)
    except OSError as exc:
        raise ConfigError(f"The report cannot be written to '{output}': "
                          f"{exc.strerror or exc}.") from exc
    return {"output": str(output.resolve()), "bytes": len(data), "images": images,
            "seconds": round(time.monotonic() - started, 2)}
