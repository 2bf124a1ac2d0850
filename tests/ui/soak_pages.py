"""Soak the live plots: the real Training and Results pages, repainted for a while under a stream
of engine events. Run as a script in its own process (tests/ui/test_soak.py does):

    QT_QPA_PLATFORM=offscreen python tests/ui/soak_pages.py SECONDS

The Training page gets its events through a real `WorkerBridge.event` signal connected to
`TrainingPage.handle_event`, as when a search runs, only faster (many trials, short epochs, several
searches one after another, objectives that relabel the axes). The Results page gets evaluation
reports made by the engine's own `evaluate()` (binary, multiclass, regression) and moves its
threshold. Both windows are visible and are grabbed (painted) now and then.

Exits 0 after printing `SOAK OK ...` if nothing crashed and no Python exception was raised in a
handler; a crash in Qt or pyqtgraph ends the process with a fatal error instead.
"""

from __future__ import annotations

import itertools
import random
import sys
import time
import traceback
from collections.abc import Iterator

import numpy as np

from dlstudio.engine import events as ev
from dlstudio.engine.evaluate import evaluate
from dlstudio.engine.templates import TaskType
from dlstudio.ui.app import make_application
from dlstudio.ui.results_page import ResultsPage
from dlstudio.ui.state import WizardState
from dlstudio.ui.training_page import TrainingPage
from dlstudio.workers.bridge import WorkerBridge

MARKER = "SOAK OK"
TICK_MS = 5                # the feeding timer; the event loop repaints between ticks
EVENTS_PER_S = 60          # at least this many events a second: a slow tick gets a bigger burst
MAX_BURST = 100
RESULTS_EVERY_S = 0.5      # a new evaluation report on the Results page
GRAB_EVERY_S = 1.0         # paint the plots into pixmaps too, whatever the window system does
OBJECTIVES = (("val_auc", "max"), ("val_loss", "min"), ("val_mae", "min"),
              ("val_accuracy", "max"))


def search_events(rng: random.Random, search: int, ids: Iterator[int]) -> Iterator[ev.Event]:
    """One search as the worker reports it, with failed trials, missing logs and wide ranges."""
    objective, direction = OBJECTIVES[search % len(OBJECTIVES)]
    max_trials = rng.randint(15, 40)
    resumed = search % 5 == 4
    yield ev.SearchStarted(project=f"/tmp/soak{search}", template="credit-scoring",
                           objective=objective, direction=direction, max_trials=max_trials,
                           time_limit=rng.choice([None, 600.0]), tuner="bayesian",
                           completed_trials=3 if resumed else 0)
    scale = 10.0 ** rng.randint(-4, 4)        # loss axes from 0.0001 to 10000: labels change width
    best: float | None = None
    for number in range(1, max_trials + 1):
        tid = f"trial_{next(ids):05d}"
        max_epochs = rng.randint(3, 30)
        hp = {"layers": rng.randint(1, 4), "units": rng.choice([16, 32, 64, 128]),
              "dropout": round(rng.random() * 0.5, 2), "learning_rate": 10 ** rng.uniform(-4, -2)}
        yield ev.TrialStarted(trial_id=tid, number=number, max_trials=max_trials,
                              max_epochs=max_epochs, hyperparameters=hp)
        fails = rng.random() < 0.1
        epochs = rng.randint(1, max_epochs) if fails else max_epochs
        metric = objective.removeprefix("val_")
        for epoch in range(1, epochs + 1):
            loss = scale * (1.0 / epoch + rng.random() * 0.3)
            logs = {"loss": loss, "val_loss": loss * (1 + rng.random() * 0.2),
                    metric: 0.5 + 0.4 * (1 - 1 / epoch) + rng.random() * 0.05,
                    f"val_{metric}": 0.5 + 0.35 * (1 - 1 / epoch) + rng.random() * 0.05}
            if rng.random() < 0.05:
                del logs[f"val_{metric}"]            # a missing value: a gap in the curve
            yield ev.EpochEnded(trial_id=tid, epoch=epoch, max_epochs=max_epochs, logs=logs)
        if fails:
            yield ev.Log(level="warning", message=f"Network {number} failed: out of memory.")
            yield ev.TrialEnded(trial_id=tid, status="failed", score=None, hyperparameters=hp,
                                seconds=rng.random() * 5, epochs=epochs, message="out of memory")
            continue
        score = rng.random()
        yield ev.TrialEnded(trial_id=tid, status="completed", score=score, hyperparameters=hp,
                            seconds=rng.random() * 30, epochs=epochs)
        if best is None or (score > best if direction == "max" else score < best):
            best = score
            yield ev.BestChanged(trial_id=tid, score=score)
    if search % 7 == 6:
        yield ev.SearchFailed(message="The worker stopped unexpectedly.", project=None)
    else:
        yield ev.SearchFinished(project=f"/tmp/soak{search}", reason="budget",
                                best_trial_id=None, best_score=best, trials=max_trials)


def evaluation_reports(seed: int = 0) -> list[dict]:
    """Reports as `pipeline.evaluate_best` writes them, one per task type and a few seeds."""
    rng = np.random.default_rng(seed)
    reports = []
    for i in range(6):
        task = (TaskType.BINARY, TaskType.BINARY, TaskType.MULTICLASS, TaskType.BINARY,
                TaskType.REGRESSION, TaskType.BINARY)[i]
        n = int(rng.integers(300, 3000))
        if task is TaskType.REGRESSION:
            classes: list[str] = []
            y = rng.normal(100, 30, n) * 10.0 ** (i - 3)
            out = y + rng.normal(0, 10, n) * 10.0 ** (i - 3)
        else:
            classes = ["bad", "good"] if task is TaskType.BINARY else ["low", "mid", "high"]
            k = len(classes)
            y = rng.integers(0, k, n)
            logits = rng.normal(0, 1, (n, k)) + np.eye(k)[y] * (0.5 + i * 0.3)
            out = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        threshold = float(rng.uniform(0.2, 0.8)) if task is TaskType.BINARY else None
        report = evaluate(task, classes, y, out, threshold=threshold)
        report.positive_class = "good" if task is TaskType.BINARY else None
        report.costs = {"false_approval": 5.0, "false_rejection": 1.0}
        columns = [f"column_{j}" + "_long_name" * (j % 3) for j in range(int(rng.integers(3, 20)))]
        report.feature_importance = [
            {"column": c, "importance": float(v)}
            for c, v in sorted(zip(columns, rng.exponential(0.05, len(columns)), strict=True),
                               key=lambda cv: -cv[1])]
        if i in (2, 3):          # text tasks: words each way, per class
            vocab = [f"word{j}" + "_long" * (j % 4) for j in range(60)]
            report.word_importance = {"review": {
                c: [{"ngram": str(w), "effect": float(e), "texts": int(rng.integers(3, 300))}
                    for w, e in zip(rng.choice(vocab, 30, replace=False),
                                    sorted(rng.normal(0, 0.1, 30), key=lambda v: -v),
                                    strict=True)]
                for c in classes}}
        if i == 4:               # nothing to rank: a sentence instead of the chart
            report.feature_importance = []
        report.examples = [
            {"row": {"age": int(rng.integers(18, 80)), "city": "nice", "income": None},
             "true": classes[int(y[j])] if classes else float(y[j]),
             "predicted": classes[0] if classes else float(out[j]),
             "probability": float(rng.random()) if classes else None}
            for j in range(10)]
        if i in (2, 3):          # text examples: words highlighted, following the threshold
            for j, e in enumerate(report.examples):
                e["row"]["review"] = f"the word{j} was word{j + 1}, really word{j + 2}."
                e["scores"] = [float(v) for v in out[j]]
                e["words_for"] = e["predicted"]
                e["words"] = {"review": [{"word": f"word{j + k}", "effect": 0.1 - 0.07 * k}
                                         for k in range(3)]}
        reports.append(report)
    return reports


def main(seconds: float) -> int:
    app = make_application(sys.argv[:1])
    errors: list[str] = []

    def record(kind, value, tb) -> None:       # an exception in a slot: note it, keep soaking
        errors.append("".join(traceback.format_exception(kind, value, tb)))
        sys.__excepthook__(kind, value, tb)

    sys.excepthook = record
    state = WizardState()
    training = TrainingPage(state)
    results = ResultsPage(state)
    for page, x in ((training, 0), (results, 1120)):
        page.resize(1100, 800)
        page.move(x, 0)
        page.show()
    bridge = WorkerBridge()         # the worker's signal, wired as TrainingPage.start does
    bridge.event.connect(training.handle_event)
    training.clock.start()
    training.ticker.start()

    rng = random.Random(7)
    ids = itertools.count(1)
    searches = itertools.count()
    reports = itertools.cycle(evaluation_reports())
    stream: Iterator[ev.Event] = iter(())
    counts = {"events": 0, "searches": 0, "reports": 0, "thresholds": 0, "grabs": 0}
    start = time.monotonic()
    next_report = next_grab = start

    def tick() -> None:
        nonlocal stream, next_report, next_grab
        try:
            # The bridge emits, in one go, what one poll of the worker's queue drained.
            due = int((time.monotonic() - start) * EVENTS_PER_S) - counts["events"]
            for _ in range(min(MAX_BURST, max(due, rng.randint(1, 8)))):
                event = next(stream, None)
                if event is None:
                    n = next(searches)
                    if n % 5 != 4:              # a new search clears the page; a resume does not
                        training.clear()
                    stream = search_events(rng, n, ids)
                    counts["searches"] += 1
                    event = next(stream)
                bridge.event.emit(event)
                counts["events"] += 1
            now = time.monotonic()
            if now >= next_report:
                results.set_evaluation(next(reports))
                counts["reports"] += 1
                next_report = now + RESULTS_EVERY_S
            elif results.threshold is not None:
                results.slider.setValue(rng.randint(0, results.slider.maximum()))
                counts["thresholds"] += 1
                if counts["thresholds"] % 50 == 0:
                    results.cost_fa.setValue(rng.uniform(0.5, 10))   # moves the threshold too
            if now >= next_grab:
                for widget in (training.loss_plot, training.metric_plot, training.best_plot,
                               *results.charts.plots, results.importance_plot,
                               results.words_up, results.words_down, results.examples):
                    widget.grab()
                counts["grabs"] += 1
                next_grab = now + GRAB_EVERY_S
            if now - start >= seconds:
                timer.stop()
                app.quit()
        except Exception:
            errors.append(traceback.format_exc())
            timer.stop()
            app.exit(1)

    from PySide6.QtCore import QTimer

    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    timer.start()
    app.exec()
    training.shutdown()
    if errors:
        print(f"{len(errors)} Python exception(s) while soaking; the first:\n{errors[0]}",
              file=sys.stderr)
        return 1
    summary = " ".join(f"{k}={v}" for k, v in counts.items())
    print(f"{MARKER} seconds={time.monotonic() - start:.1f} {summary}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 60.0))
