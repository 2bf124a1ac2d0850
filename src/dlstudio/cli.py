"""`dlstudio`: the desktop app with no arguments, headless sub-commands otherwise.

    dlstudio templates [--json]
    dlstudio inspect DATA [--json]
    dlstudio run DATA --template NAME [options] [--json]
    dlstudio resume PROJECT [--export DIR] [--json]
    dlstudio run/resume ... --workers N [--host H --port P]   (a chief and N worker processes)
    dlstudio worker --chief HOST:PORT PROJECT [--json]        (join a search from another machine)
    dlstudio export PROJECT DIR [--format savedmodel,tflite,onnx]
    dlstudio predict EXPORT_DIR DATA --output FILE.csv
    dlstudio report PROJECT [--output FILE.html]
    dlstudio demo --screenshots DIR

Exit codes: 0 success; 2 a problem with the user's input or options (one plain line on stderr);
1 an internal error (the traceback goes to a log file, whose path is printed); 141 (128 +
SIGPIPE, what a shell tool killed by SIGPIPE reports) when the reader of stdout went away, as in
`dlstudio inspect big.csv | head -3`: the command ends quietly, stopping a running search.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dlstudio import __version__
from dlstudio.engine import events as ev
from dlstudio.engine.errors import UserError
from dlstudio.engine.records import model_kind
from dlstudio.paths import SAMPLE_FILES, append_to_log, worker_log_path
from dlstudio.workers.process import WorkerProcess, WorkerTask

EXIT_OK, EXIT_INTERNAL, EXIT_USER = 0, 1, 2
EXIT_BROKEN_PIPE = 141       # 128 + SIGPIPE (13); signal.SIGPIPE does not exist on Windows


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:    # argparse would print usage and exit 2 itself
        raise _UsageError(message)




@contextlib.contextmanager
def _quiet_stderr(path: Path) -> Iterator[None]:
    """Send stderr (TensorFlow's C++ start-up chatter) to a worker log while the engine works:
    dlstudio.log holds DL Studio's own tracebacks only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _err(message: str) -> None:
    print(f"dlstudio: {message}", file=sys.stderr)


# -- templates / inspect ---------------------------------------------------------------

def cmd_templates(args: argparse.Namespace) -> int:
    from dlstudio.engine.templates import TEMPLATES
    if args.json:
        print(json.dumps([t.to_dict() for t in TEMPLATES.values()]))
        return EXIT_OK
    for t in TEMPLATES.values():
        print(f"{t.name:24} {t.title}: {t.description}")
        print(f"{'':24} optimises {t.objective}, reports {', '.join(t.report)}")
    return EXIT_OK


def cmd_inspect(args: argparse.Namespace) -> int:
    from dlstudio.engine import data
    df = data.load_data(args.data)
    target = args.target or data.guess_target(df, data.GENERIC_TARGET_HINTS)
    schema = data.infer_schema(df, target=target)
    if args.json:
        print(json.dumps({
            "rows": schema.rows,
            "columns": [{"name": c.name, "role": str(c.role), "dtype": c.dtype,
                         "missing": c.missing} for c in schema.columns],
            "warnings": schema.warnings,
        }))
        return EXIT_OK
    print(f"{schema.rows} rows, {len(schema.columns)} columns")
    width = max(len(c.name) for c in schema.columns)
    for c in schema.columns:
        print(f"  {c.name:{width}}  {c.role!s:11}  {c.dtype:10}  missing {c.missing:<6} {c.reason}")
    for w in schema.warnings:
        print(f"warning: {w}")
    return EXIT_OK


# -- run / resume ----------------------------------------------------------------------

class Progress:
    """Human progress on stdout: one line per trial, a live bar on a terminal."""

    def __init__(self, stream: Any = sys.stdout) -> None:
        self.out = stream
        self.tty = stream.isatty()
        self.objective = ""
        self.best: float | None = None
        self.trial = ""
        self.labels: dict[str, str] = {}     # trial id -> "Trial 3/6 on worker2"
        self.distributed = False             # several trials at once: no live bar

    def __call__(self, event: ev.Event) -> None:
        match event:
            case ev.ChiefReady():
                self.distributed = True
                self._line(f"Serving trials to workers at {event.host}:{event.port}. Another "
                           f"machine that sees the project folder joins with: dlstudio worker "
                           f"--chief THIS_MACHINE:{event.port} {event.project}")
            case ev.WorkerLost():
                pass         # the chief's Log line that follows says it in words
            case ev.SearchStarted():
                self.objective = event.objective
                resumed = (f", {event.completed_trials} done before" if event.completed_trials
                           else "")
                limit = f", time limit {event.time_limit:g} s" if event.time_limit else ""
                on = f" on {event.device}" if event.device else ""
                kept = (f", each network at the epoch of its lowest {event.epochs_by}"
                        if event.epochs_by else "")
                self._line(f"Searching with {event.tuner} for the best {event.objective}{kept} "
                           f"({event.max_trials} trials{limit}{resumed}){on}. Project: "
                           f"{event.project}")
            case ev.TrialStarted():
                self.trial = f"Trial {event.number}/{event.max_trials}"
                if self.distributed:
                    self.trial += f" on {event.worker}"
                    self._line(f"{self.trial}: started")
                self.labels[event.trial_id] = self.trial
                if self.tty and not self.distributed:
                    self._bar(0, event.max_epochs, {})
            case ev.EpochEnded() if self.tty and not self.distributed:
                self._bar(event.epoch, event.max_epochs, event.logs)
            case ev.TrialEnded():
                self.trial = self.labels.get(event.trial_id, self.trial)
                score = ("failed" if event.score is None
                         else f"{self.objective} {event.score:.4f}")
                if event.status != "completed" and event.message:
                    score += f" ({event.message})"
                best = "" if self.best is None else f" | best {self.best:.4f}"
                self._line(f"{self.trial}: {score} {event.epochs_text()}, "
                           f"{event.seconds:.0f} s{best}")
            case ev.BestChanged():
                self.best = event.score
                self._line(f"  new best: {self.objective} {event.score:.4f}")
            case ev.PhaseStarted():
                # the label of the phase's progress bar
                self.trial = {ev.Phase.ENSEMBLE: "Ensemble check", ev.Phase.REFIT: "Refit",
                              ev.Phase.FINAL: "Final training"}.get(event.phase, event.phase)
                self._line(event.message)
            case ev.PhaseProgress() if self.tty:
                self._bar(event.step, event.steps, event.logs)
            case ev.Log(level="info"):
                self._line(event.message)
            case ev.Log():
                self._line(f"{event.level}: {event.message}")

    def _bar(self, epoch: int, total: int, logs: dict) -> None:
        total = max(total, 1)
        filled = int(20 * epoch / total)
        metric = logs.get(self.objective)
        shown = f" {self.objective} {metric:.4f}" if isinstance(metric, float) else ""
        best = "" if self.best is None else f" | best {self.best:.4f}"
        self.out.write(f"\r{self.trial} [{'#' * filled}{'.' * (20 - filled)}] "
                       f"epoch {epoch}/{total}{shown}{best}\033[K")
        self.out.flush()

    def _line(self, text: str) -> None:
        if self.tty:
            self.out.write("\r\033[K")
        self.out.write(text + "\n")
        self.out.flush()


def _run_worker(task: WorkerTask, payload: dict[str, Any], as_json: bool,
                cluster: Any = None) -> int:
    """Run a task in a worker process (or, with a distributed `cluster`, a chief and its local
    workers: `workers/pool.py`), showing its events; Ctrl+C stops after the current epoch."""
    if cluster is not None and cluster.distributed:
        from dlstudio.workers.pool import WorkerPool
        worker: Any = WorkerPool(task, payload, cluster)
    else:
        worker = WorkerProcess(task, payload)
    show = Progress() if not as_json else None
    interrupted = 0

    def on_sigint(signum: int, frame: Any) -> None:
        nonlocal interrupted
        interrupted += 1
        if interrupted == 1:
            worker.request_stop()
            if show:
                show._line("Stopping after the current epoch (Ctrl+C again to stop now) ...")
        else:
            worker.terminate()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        worker.start()
        final = None
        for event in worker.iter_events():
            if as_json:
                sys.stdout.write(event.to_json() + "\n")
                sys.stdout.flush()
            else:
                show(event)
            final = event
    finally:
        signal.signal(signal.SIGINT, previous)
        worker.terminate()
    return _final_status(final, as_json)


def _final_status(final: ev.Event | None, as_json: bool) -> int:
    match final:
        case ev.SearchFinished():
            if not as_json:
                metrics = ", ".join(f"{k} {v:.4f}" for k, v in final.metrics.items()
                                    if isinstance(v, float))
                print(f"{ev.EndReason(final.reason).headline}: {final.trials} trials, "
                      f"best {final.best_score:.4f}.")
                print(f"Test metrics of the best model: {metrics}")
                print(f"The model is {model_kind(final.ensemble_size)}.")
                print(f"Project: {final.project}")
                if final.export_dir:
                    print(f"Exported (verified) to: {final.export_dir}")
            return EXIT_OK
        case ev.TaskFinished(task="join"):
            if not as_json:
                print(f"Worker {final.result.get('worker')} finished: "
                      f"{final.result.get('trials', 0)} trials run here.")
            return EXIT_OK
        case ev.Failed(user_error=True):
            _err(final.message)
            return EXIT_USER
        case ev.SearchFailed():
            log = None
            if final.project and (Path(final.project) / "project.json").is_file():
                log = Path(final.project) / "logs" / "dlstudio.log"
            if final.traceback and not final.logged:
                log = append_to_log(final.traceback, log)
            _err(final.message if log is None or str(log) in final.message
                 else f"{final.message} (details in {log})")
    return EXIT_INTERNAL


def _default_project(template: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path.cwd() / f"dlstudio-{template}-{stamp}"
    n = 2
    while path.exists():
        path = Path.cwd() / f"dlstudio-{template}-{stamp}-{n}"
        n += 1
    return path


def cmd_run(args: argparse.Namespace) -> int:
    from dlstudio.engine.config import RunConfig
    from dlstudio.engine.project import Project
    from dlstudio.engine.templates import get_template

    get_template(args.template)
    if not Path(args.data).exists():
        from dlstudio.engine.errors import DataError
        raise DataError(f"The data file '{args.data}' does not exist.")
    project = Path(args.project) if args.project else _default_project(args.template)
    Project.check_free(project)     # refuse now, before a worker loads TensorFlow
    cluster = _cluster(args, args.tuner)     # a busy port, a tuner that cannot share: now
    config = RunConfig(
        data=str(Path(args.data).resolve()), template=args.template, project=str(project.resolve()),
        target=args.target, text_column=args.text_column, positive_class=args.positive_class,
        max_trials=args.max_trials, max_epochs=args.max_epochs, time_limit=args.time_limit,
        tuner=args.tuner, seed=args.seed, workers=cluster.workers,
        final_fit=not args.no_final_fit,
        export=str(Path(args.export).resolve()) if args.export else None,
        search_space=({"text_architectures": args.text_architectures.split(",")}
                      if args.text_architectures else {}))
    if not args.json and not args.project:
        print(f"Project folder: {project}")
    return _run_worker(WorkerTask.RUN, config.to_dict(), args.json, cluster)


def _cluster(args: argparse.Namespace, tuner: str | None = None, workers: int = 1):
    """The distributed settings of `run` or `resume` (--workers, --host, --port, timeouts);
    `workers` when --workers is not given."""
    from dlstudio.engine.cluster import ClusterSettings, check_tuner
    workers = args.workers if args.workers is not None else workers
    cluster = ClusterSettings(workers=workers, host=args.host, port=args.port,
                              worker_timeout=args.worker_timeout,
                              chief_timeout=args.chief_timeout, heartbeat=args.heartbeat)
    if cluster.distributed and tuner is not None:
        check_tuner(tuner)
    cluster.check_port()
    return cluster


def cmd_resume(args: argparse.Namespace) -> int:
    from dlstudio.engine.project import Project
    project = Project.open(args.project)   # a ConfigError here is the user's (not a project)
    payload = {"project": str(Path(args.project).resolve()),
               "export": str(Path(args.export).resolve()) if args.export else None}
    # As many workers as the search had (project.json), unless --workers says otherwise.
    cluster = _cluster(args, project.config.tuner, workers=project.config.workers)
    if not args.json and cluster.workers > 1 and args.workers is None:
        print(f"Resuming with {cluster.workers} workers, as the search was started "
              f"(--workers N to change).")
    return _run_worker(WorkerTask.RESUME, payload, args.json, cluster)


def cmd_worker(args: argparse.Namespace) -> int:
    from dlstudio.engine.cluster import (
        ClusterSettings,
        check_worker_id,
        default_worker_id,
        parse_address,
    )
    from dlstudio.engine.project import Project
    parse_address(args.chief)
    worker_id = check_worker_id(args.id) if args.id else default_worker_id()
    project = Project.open(args.project)     # the shared folder must be visible here
    cluster = ClusterSettings(chief_timeout=args.chief_timeout, heartbeat=args.heartbeat,
                              worker_timeout=max(60.0, 2 * args.chief_timeout))
    if not args.json:
        print(f"Worker {worker_id}: joining the search at {args.chief} on {project.root}")
    payload = {"project": str(project.root.resolve()), "chief": args.chief,
               "worker": worker_id, "cluster": cluster.to_dict()}
    return _run_worker(WorkerTask.JOIN, payload, args.json)


# -- export / predict / demo -----------------------------------------------------------

def cmd_export(args: argparse.Namespace) -> int:
    from dlstudio.engine.formats import missing_packages_message, parse_formats
    problem = missing_packages_message(parse_formats(args.format))   # before any slow import
    if problem:
        raise _UsageError(problem)
    from dlstudio.engine import pipeline
    from dlstudio.engine.errors import ExportRefused
    from dlstudio.engine.project import Project
    project = Project.open(args.project)
    try:
        with _quiet_stderr(project.root / "logs" / "worker.log"):
            result = pipeline.export_project(project, args.export_dir, formats=args.format)
    except ExportRefused:
        # The sentence goes to the terminal (exit 2, as the GUI shows it); the cause (a
        # converter's own error) to the project's log.
        append_to_log(traceback.format_exc(), project.root / "logs" / "dlstudio.log")
        raise
    final = result.get("final_fit_rows")
    trained = f", trained once more on all {final:,} rows after the test" if final else ""
    print(f"Exported (verified in a fresh process) to {result['export_dir']}: "
          f"{model_kind(result['ensemble_size'])}{trained}.")
    for a in result["artifacts"][1:]:
        print(f"  {a['format']}: {', '.join(a['files'])} ({a['runtime']}, {a['rows']} rows, "
              f"largest difference {a['max_difference']:.2g})")
    return EXIT_OK


def cmd_predict(args: argparse.Namespace) -> int:
    from dlstudio.engine import pipeline
    with _quiet_stderr(worker_log_path()):
        result = pipeline.predict_file(args.export_dir, args.data, args.output,
                                       explain=args.explain)
    print(f"Wrote {result['rows']} rows with predictions to {result['output']}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from dlstudio.engine.report import write_report
    output = args.output or Path(args.project) / "report.html"
    result = write_report(args.project, output)
    print(f"Wrote the report ({result['bytes'] / 1024:,.0f} KB, {result['images']} charts) to "
          f"{result['output']}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from dlstudio.ui.startup import display_problem
    problem = display_problem()     # a window is opened only if QT_QPA_PLATFORM asks for one
    if problem:
        _err(problem)
        return EXIT_USER
    from dlstudio.ui.demo import run_demo
    report = run_demo(Path(args.screenshots), max_trials=args.max_trials,
                      max_epochs=args.max_epochs)
    print(json.dumps(report))
    return EXIT_OK


def _cluster_options(s: argparse.ArgumentParser) -> None:
    from dlstudio.engine.cluster import ClusterSettings as C
    g = s.add_argument_group("several workers (KerasTuner's distributed mode)")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes on this machine; more than 1 runs a chief that "
                        "serves trials to them (and to workers on other machines); default "
                        f"{C.workers}, for resume the number the project's search had")
    g.add_argument("--host", default=C.host,
                   help="where the chief listens: 127.0.0.1 (this machine only) or 0.0.0.0 "
                        "(other machines may join)")
    g.add_argument("--port", type=int, default=C.port, help="the chief's port (0: any free one)")
    g.add_argument("--worker-timeout", type=float, default=C.worker_timeout, metavar="SECONDS",
                   help="a worker silent this long loses its trial to another worker")
    g.add_argument("--chief-timeout", type=float, default=C.chief_timeout, metavar="SECONDS",
                   help="local workers end when the chief is silent this long")
    g.add_argument("--heartbeat", type=float, default=C.heartbeat, metavar="SECONDS",
                   help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    from dlstudio.engine.cluster import ClusterSettings
    from dlstudio.engine.config import DEFAULT_SEED, DEFAULT_TUNER, TUNERS

    p = _Parser(prog="dlstudio", description="DL Studio: from a CSV or a folder of texts to a "
                "deployable TensorFlow model. Without a command, opens the desktop app.")
    p.add_argument("--version", action="version", version=f"dlstudio {__version__}")
    p.add_argument("--sample", choices=sorted(SAMPLE_FILES),
                   help="open the desktop app on a bundled sample data set")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    s = sub.add_parser("templates", help="list the task templates")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_templates)

    s = sub.add_parser("inspect", help="show the inferred schema of a data file")
    s.add_argument("data")
    s.add_argument("--target", help="the column to predict (guessed if omitted)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_inspect)

    s = sub.add_parser("run", help="search for a model, evaluate it and optionally export it")
    s.add_argument("data", help="CSV/TSV, Excel, Parquet or Feather file, or a folder with one "
                   "sub-folder of .txt per class")
    s.add_argument("--template", required=True)
    s.add_argument("--target")
    s.add_argument("--text-column")
    s.add_argument("--positive-class")
    s.add_argument("--max-trials", type=int)
    s.add_argument("--max-epochs", type=int)
    s.add_argument("--time-limit", type=float, metavar="SECONDS")
    s.add_argument("--tuner", choices=TUNERS, default=DEFAULT_TUNER)
    s.add_argument("--text-architectures", metavar="LIST",
                   help="text networks to search, comma-separated from bag, cnn, rnn "
                        "(default: bag,cnn)")
    s.add_argument("--seed", type=int, default=DEFAULT_SEED)
    s.add_argument("--project", metavar="DIR")
    s.add_argument("--export", metavar="DIR")
    s.add_argument("--no-final-fit", action="store_true",
                   help="export the tested model as it is, instead of training it once more "
                        "on every row (test rows included) after the test")
    s.add_argument("--json", action="store_true", help="print events as JSON lines")
    _cluster_options(s)
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("resume", help="continue an interrupted search to its budget")
    s.add_argument("project")
    s.add_argument("--export", metavar="DIR")
    s.add_argument("--json", action="store_true")
    _cluster_options(s)
    s.set_defaults(func=cmd_resume)

    s = sub.add_parser("worker", help="run trials for a search started with --workers on "
                       "another machine (the project folder must be shared)")
    s.add_argument("project", help="the search's project folder, as this machine sees it")
    s.add_argument("--chief", required=True, metavar="HOST:PORT",
                   help="the address the search printed when it started")
    s.add_argument("--id", metavar="NAME", help="this worker's name (default: host-pid)")
    s.add_argument("--chief-timeout", type=float, default=ClusterSettings.chief_timeout,
                   metavar="SECONDS", help="end when the search is silent this long")
    s.add_argument("--heartbeat", type=float, default=ClusterSettings.heartbeat,
                   metavar="SECONDS", help=argparse.SUPPRESS)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_worker)

    s = sub.add_parser("export", help="export a project's best model as a SavedModel")
    s.add_argument("project")
    s.add_argument("export_dir")
    s.add_argument("--format", default="savedmodel", metavar="FORMATS",
                   help="comma-separated: savedmodel (always written), tflite, onnx; "
                        'tflite and onnx need pip install "dlstudio[deploy]"')
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("predict", help="score a data file with an exported model")
    s.add_argument("export_dir")
    s.add_argument("data")
    s.add_argument("--output", required=True, metavar="FILE.csv")
    s.add_argument("--explain", action="store_true",
                   help="for each text column, add a column words_<column> with the row's "
                        "words that raise the predicted class's probability most")
    s.set_defaults(func=cmd_predict)

    s = sub.add_parser("report", help="write a project's results as one self-contained HTML "
                       "file (charts embedded, readable offline, printable)")
    s.add_argument("project")
    s.add_argument("--output", metavar="FILE.html",
                   help="where to write it (default: report.html in the project folder)")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("demo", help="drive the app through the credit sample, with screenshots")
    s.add_argument("--screenshots", required=True, metavar="DIR")
    s.add_argument("--max-trials", type=int, default=2)
    s.add_argument("--max-epochs", type=int, default=3)
    s.set_defaults(func=cmd_demo)
    return p


def launch_gui(argv: list[str]) -> int:
    from dlstudio.ui.startup import display_problem
    problem = display_problem()     # before Qt, whose platform plugin would abort the process
    if problem:
        _err(problem)
        return EXIT_USER
    try:
        from dlstudio.ui.app import main as gui_main
    except ImportError as exc:
        _err(f"The desktop app cannot start ({exc}). See 'dlstudio --help' for the commands.")
        return EXIT_INTERNAL
    return gui_main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or (len(argv) == 1 and not argv[0].startswith("-")
                    and argv[0] not in {"templates", "inspect", "run", "resume", "export",
                                        "predict", "report", "demo", "worker"}):
        return launch_gui(argv)
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            return launch_gui(["--sample", args.sample] if args.sample else [])
        code = args.func(args)
        sys.stdout.flush()      # a closed pipe shows here, not in the interpreter's exit
        return code
    except _UsageError as exc:
        _err(str(exc))
        return EXIT_USER
    except UserError as exc:
        _err(str(exc))
        return EXIT_USER
    except BrokenPipeError:
        # The reader of stdout went away (`| head`). Python's recipe: point stdout at devnull so
        # that the interpreter's last flush does not fail again, and end quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception:
        log = append_to_log(traceback.format_exc())
        _err(f"internal error; details are in {log}")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
