"""What runs inside the worker process: engine tasks behind one entry point.

This module is imported in the child only (it pulls in TensorFlow through the engine).
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

from dlstudio.engine.errors import UserError
from dlstudio.engine.events import Event, Failed, SearchFailed, TaskFailed, TaskFinished
from dlstudio.paths import worker_log_path
from dlstudio.workers.process import WorkerTask


class QueueReporter:
    """Sends events to the parent as dicts; the stop flag is a multiprocessing.Event."""

    def __init__(self, queue: Any, stop_flag: Any) -> None:
        self.queue = queue
        self.stop_flag = stop_flag

    def report(self, event: Event) -> None:
        self.queue.put(event.to_dict())

    def should_stop(self) -> bool:
        return self.stop_flag.is_set()


def redirect_output(path: Path) -> None:
    """Send this process's stdout and stderr (TensorFlow's C++ chatter, KerasTuner's prints)
    to a log file: the parent's stdout belongs to the parent (`--json` prints only events)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def run_task(task: WorkerTask, payload: dict[str, Any], reporter: QueueReporter) -> None:
    from dlstudio.engine import pipeline
    from dlstudio.engine.cluster import ClusterSettings
    from dlstudio.engine.config import RunConfig
    from dlstudio.engine.project import Project

    cluster = ClusterSettings.from_dict(payload.get("cluster"))   # absent: one process
    # KerasTuner's distributed switches: only a JOIN worker sets them (for itself). Inherited
    # from a shell, they would turn a one-process search or a chief into a KerasTuner worker.
    for key in ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
        os.environ.pop(key, None)
    match task:
        case WorkerTask.RUN:
            pipeline.run(RunConfig.from_dict(payload), reporter,
                         on_project=lambda p: redirect_output(p.root / "logs" / "worker.log"),
                         cluster=cluster)
        case WorkerTask.RESUME:
            if (Path(payload["project"]) / "project.json").is_file():
                redirect_output(Path(payload["project"]) / "logs" / "worker.log")
            pipeline.resume(payload["project"], reporter, export=payload.get("export"),
                            cluster=cluster)
        case WorkerTask.JOIN:
            join(payload, cluster, reporter)
        case WorkerTask.EXPORT:
            project = Project.open(payload["project"])
            redirect_output(project.root / "logs" / "worker.log")
            result = pipeline.export_project(project, payload["export_dir"],
                                             formats=payload.get("formats"))
            reporter.report(TaskFinished(task=str(task), result=result))
        case WorkerTask.PREDICT:
            result = pipeline.predict_file(payload["export_dir"], payload["data"],
                                           payload["output"])
            reporter.report(TaskFinished(task=str(task), result=result))
        case WorkerTask.PROBE:
            from dlstudio.engine.tf import gpu_names, tf
            reporter.report(TaskFinished(task=str(task), result={"tensorflow": tf.__version__,
                                                                 "gpus": gpu_names()}))


def join(payload: dict[str, Any], cluster: Any, reporter: QueueReporter) -> None:
    """Run trials for a chief; if the chief goes silent, say so and end this process now
    (the main thread may be blocked in a KerasTuner call that waits up to an hour)."""
    from dlstudio.engine import distributed
    from dlstudio.engine.cluster import check_worker_id, parse_address

    host, port = parse_address(payload["chief"])
    worker = check_worker_id(payload["worker"])
    if (Path(payload["project"]) / "project.json").is_file():
        redirect_output(Path(payload["project"]) / "logs" / f"{worker}.log")

    def chief_lost(message: str) -> None:
        reporter.report(TaskFailed(task=str(WorkerTask.JOIN), message=message, user_error=True))
        reporter.queue.close()
        reporter.queue.join_thread()
        os._exit(3)

    result = distributed.join(payload["project"], host, port, worker, cluster, reporter,
                              chief_lost)
    reporter.report(TaskFinished(task=str(WorkerTask.JOIN), result=result))


def child_main(task: WorkerTask, payload: dict[str, Any], queue: Any, stop_flag: Any,
               niceness: int = 0) -> None:
    """Entry point of the spawned worker process: run one task, always end with a final event.

    `niceness` > 0 lowers the child's CPU priority, so that on a machine with few cores the
    GUI thread still gets the processor promptly while TensorFlow trains."""
    # Ctrl+C in a terminal reaches the whole process group: the parent turns it into a
    # graceful stop request, so the child must not die of it mid-epoch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warnings.filterwarnings("ignore")       # library warnings go nowhere useful for a user
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stdout.flush()
    os.dup2(2, 1)         # until the log is known, nothing of the child's goes to stdout
    if niceness > 0 and hasattr(os, "nice"):
        os.nice(niceness)
    if not task.is_search:
        redirect_output(worker_log_path())
    reporter = QueueReporter(queue, stop_flag)
    failed: type[Failed] = SearchFailed if task.is_search else TaskFailed
    extra = {} if task.is_search else {"task": str(task)}
    try:
        run_task(task, payload, reporter)
    except UserError as exc:
        reporter.report(failed(message=str(exc), user_error=True, **extra))
    except BaseException as exc:
        reporter.report(failed(message=f"An internal error stopped the {task}: "
                                       f"{exc or type(exc).__name__}",
                               traceback="".join(traceback.format_exception(exc)), **extra))
    finally:
        queue.close()
        queue.join_thread()     # make sure the last event is flushed before the process exits
        # Everything the parent needs is on disk (atomic writes) or in the queue (flushed just
        # above). Skip the interpreter's teardown of TensorFlow, which takes 1-2 s: the parent
        # joins the child when its final event arrives, on the GUI thread under the app.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
