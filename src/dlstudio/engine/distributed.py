"""A search over several workers: KerasTuner's distributed mode, made dependable.

KerasTuner ships the pieces: a chief whose oracle is served over gRPC (`OracleServicer`), and
workers whose tuner talks to it through `OracleClient` when `KERASTUNER_ORACLE_IP`,
`KERASTUNER_ORACLE_PORT` and `KERASTUNER_TUNER_ID` are set. Trials go first come, first served.
What the stock code lacks, and this module adds:

- **a worker that dies or freezes** keeps its trial forever (the chief never exits). Workers send
  a heartbeat; a chief that has not heard from one for `worker_timeout` puts its trial back in
  the queue (`ChiefOracle.requeue_silent`, the same queue KerasTuner's own `reload` uses) and
  reports `WorkerLost`; another worker runs it, and the budget is still met.
- **a chief that dies** leaves workers blocked for up to an hour (`oracle_client.TIMEOUT`). A
  worker's heartbeat thread ends it after `chief_timeout` seconds without an answer, with a
  plain message; `dlstudio resume` continues the search from the saved state.
- **the stock server** polls every 20 s and is never stopped. `serve` polls every 0.2 s, keeps
  serving until the workers still asking have heard "stopped", then stops the server.
- **a busy port** is taken silently by gRPC's SO_REUSEPORT; here the bind is exclusive and a
  busy port is a plain error.
- **Stop** reaches every worker through the heartbeat's answer; each ends after its epoch.

The heartbeat rides on KerasTuner's own `GetTrial` call with a trial id of the form
`heartbeat:<tuner id>`: it names the worker, needs no change to the protocol, and its answer's
status (RUNNING or STOPPED) tells the worker whether the search goes on.

Workers need the project folder (the prepared split, and the search folder where they write
checkpoints and the chief writes trials): on another machine it is a shared folder.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from concurrent import futures
from typing import Any

from dlstudio.engine.cluster import ClusterSettings
from dlstudio.engine.errors import ConfigError
from dlstudio.engine.events import ChiefReady, Event, Log, WorkerLost
from dlstudio.engine.reporter import Reporter
from dlstudio.engine.tf import kt, kt_distribute

TrialStatus = kt.engine.trial.TrialStatus
HEARTBEAT_PREFIX = "heartbeat:"
POLL_SECONDS = 0.2
SERVER_THREADS = 8


# -- the chief ------------------------------------------------------------------------------------

class ChiefOracle:
    """Mixed in before a studio oracle on the chief (`make_tuner(..., chief=True)`): hears the
    workers, answers heartbeats, re-queues the trials of silent workers.

    This class is the one owner of KerasTuner's private `_retry_queue` (the list of trial ids
    that `create_trial` hands out before new ones); `tests/engine/test_distributed.py` pins it."""

    def init_chief(self) -> None:
        self.heard: dict[str, float] = {}      # tuner id -> time.monotonic() of its last call
        self.stopping = False                  # set by `serve` when the search must end
        self.fatal: str | None = None          # an error raised while ending a trial

    def _hear(self, tuner_id: str) -> None:
        self.heard[tuner_id] = time.monotonic()

    @kt.synchronized
    def create_trial(self, tuner_id: str):
        self._hear(tuner_id)
        if self.stopping:      # no trial of the queue either: the search is ending
            self.tuner_ids.discard(tuner_id)
            return kt.engine.trial.Trial(self.get_space(), trial_id="stopped",
                                         status=TrialStatus.STOPPED)
        trial = super().create_trial(tuner_id)
        if trial.status == TrialStatus.STOPPED and not self.stopping and self.ongoing_trials:
            # The budget is handed out, but a running trial may still come back to the queue
            # (its worker dies): KerasTuner would send this worker away; keep it waiting.
            self.tuner_ids.add(tuner_id)
            trial.status = TrialStatus.IDLE
        return trial

    def get_trial(self, trial_id: str):
        if trial_id.startswith(HEARTBEAT_PREFIX):
            tuner_id = trial_id[len(HEARTBEAT_PREFIX):]
            self._hear(tuner_id)
            status = TrialStatus.STOPPED if self.stopping else TrialStatus.RUNNING
            return kt.engine.trial.Trial(self.get_space(), trial_id=trial_id, status=status)
        return super().get_trial(trial_id)

    @kt.synchronized
    def end_trial(self, trial) -> None:
        for tuner_id, running in self.ongoing_trials.items():
            if running.trial_id == trial.trial_id:
                self._hear(tuner_id)
        if trial.trial_id in self._retry_queue:
            # A worker thought lost came back with the result: take it, run it no more.
            self._retry_queue.remove(trial.trial_id)
        try:
            super().end_trial(trial)
        except RuntimeError as exc:      # KerasTuner's "too many consecutive failures"
            self.fatal = str(exc).splitlines()[0]

    @kt.synchronized
    def requeue_silent(self, timeout: float) -> list[WorkerLost]:
        """Trials of workers not heard from for `timeout` seconds go back in the queue."""
        now = time.monotonic()
        lost = []
        for tuner_id, trial in list(self.ongoing_trials.items()):
            silent = now - self.heard.get(tuner_id, now)
            if silent < timeout:
                continue
            del self.ongoing_trials[tuner_id]
            self.tuner_ids.discard(tuner_id)
            self._retry_queue.append(trial.trial_id)
            lost.append(WorkerLost(worker=tuner_id, trial_id=trial.trial_id,
                                   silent_seconds=round(silent, 1)))
        if lost:
            self.save()
        return lost

    @kt.synchronized
    def finished(self) -> bool:
        """Nothing runs and nothing waits: the budget is spent, or the search must end."""
        if self.ongoing_trials:
            return False
        if self.stopping:
            return True
        spent = self.max_trials is not None and len(self.trials) >= self.max_trials
        return spent and not self._retry_queue


def open_server(oracle, host: str, port: int):
    """KerasTuner's servicer over `oracle` on host:port, bound exclusively; returns the started
    server and its port. A busy port is a ConfigError (gRPC would share it silently)."""
    protos, oracle_chief = kt_distribute()
    import grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=SERVER_THREADS),
                         options=[("grpc.so_reuseport", 0)])
    protos.get_service_grpc().add_OracleServicer_to_server(
        oracle_chief.OracleServicer(oracle), server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise ConfigError(f"The port {port} on {host} is busy (another search or program "
                          f"uses it). Choose another port, or 0 for any free one.")
    server.start()
    return server, bound


def serve(tuner, settings: ClusterSettings, reporter: Reporter, project: str) -> None:
    """Serve trials to the workers until the budget is spent or the search must end, then stop
    the server. Returns when no trial is running; raises RuntimeError on a fatal oracle error."""
    oracle = tuner.oracle
    control = tuner.control
    oracle.init_chief()
    server, port = open_server(oracle, settings.host, settings.port)
    try:
        reporter.report(ChiefReady(project=project, host=settings.host, port=port))
        while True:
            time.sleep(POLL_SECONDS)
            for lost in oracle.requeue_silent(settings.worker_timeout):
                reporter.report(lost)
                reporter.report(Log(level="warning", message=(
                    f"Worker {lost.worker} was silent for {lost.silent_seconds:g} s; its trial "
                    f"{lost.trial_id} goes back in the queue for another worker.")))
            if oracle.fatal:
                raise RuntimeError(oracle.fatal)
            if not oracle.stopping and control.must_end():
                oracle.stopping = True
            if oracle.finished():
                break
        # Workers still asking hear "stopped" (their next create_trial or heartbeat).
        deadline = time.monotonic() + 2 * settings.heartbeat + 1
        oracle.stopping = True
        while oracle.tuner_ids and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
    finally:
        server.stop(grace=1).wait()
    oracle.save()


# -- a worker -------------------------------------------------------------------------------------

class Heartbeat:
    """A thread that tells the chief this worker is alive, learns from the answer whether the
    search goes on, and calls `on_chief_lost` when the chief has not answered for
    `chief_timeout` seconds (the stock client would wait up to an hour)."""

    def __init__(self, host: str, port: int, tuner_id: str, settings: ClusterSettings,
                 on_chief_lost: Callable[[str], None]) -> None:
        import grpc
        protos, _ = kt_distribute()
        self._request = protos.get_service().GetTrialRequest(
            trial_id=HEARTBEAT_PREFIX + tuner_id)
        self._channel = grpc.insecure_channel(f"{host}:{port}")
        self._stub = protos.get_service_grpc().OracleStub(self._channel)
        self.rpc_error = grpc.RpcError
        self.address = f"{host}:{port}"
        self.settings = settings
        self.on_chief_lost = on_chief_lost
        self.chief_stopping = False
        self.answered = False
        self.rtt: list[float] = []                 # seconds per heartbeat round trip
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dlstudio-heartbeat",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(5)
        self._channel.close()

    def _run(self) -> None:
        s = self.settings
        last_answer = time.monotonic()
        while not self._done.wait(s.heartbeat):
            started = time.monotonic()
            try:
                # A generous deadline: on a starved machine a short one expires before the
                # call is even sent, and the chief would take a live worker for a dead one.
                answer = self._stub.GetTrial(self._request,
                                             timeout=max(2.0, s.chief_timeout / 3))
            except self.rpc_error:
                silent = time.monotonic() - last_answer
                if silent >= s.chief_timeout and not self._done.is_set():
                    self.on_chief_lost(self.lost_message(silent))
                    return
                continue
            last_answer = time.monotonic()
            self.rtt.append(last_answer - started)
            self.answered = True
            if kt.engine.trial.Trial.from_proto(answer.trial).status == TrialStatus.STOPPED:
                self.chief_stopping = True

    def lost_message(self, silent: float = 0.0, during_call: bool = False) -> str:
        resume = ("If the search was running and stopped, continue it with 'dlstudio resume' "
                  "on its project folder.")
        if during_call:
            return (f"The search at {self.address} stopped answering (the connection was lost "
                    f"during a call), so this worker ended. {resume}")
        if not self.answered:      # it may also have died before this worker's first call
            return (f"No DL Studio search answered at {self.address} for {silent:.0f} s, so "
                    f"this worker ended. Check the address, that the search is running, and "
                    f"that the firewall lets this machine reach that port. {resume}")
        return (f"The search at {self.address} stopped answering {silent:.0f} s ago, so this "
                f"worker ended. {resume}")


class WorkerReporter:
    """The worker's reporter: events pass on; stop when this worker or the chief says so."""

    def __init__(self, inner: Reporter, heartbeat: Heartbeat) -> None:
        self.inner = inner
        self.heartbeat = heartbeat

    def report(self, event: Event) -> None:
        self.inner.report(event)

    def should_stop(self) -> bool:
        return self.inner.should_stop() or self.heartbeat.chief_stopping

    def leaving(self) -> bool:
        return self.inner.should_stop()


def set_worker_environment(host: str, port: int, tuner_id: str) -> None:
    """KerasTuner's documented switches: with them, a tuner built in this process sends its
    oracle calls to the chief (`BaseTuner.__init__` wraps its oracle in `OracleClient`)."""
    os.environ["KERASTUNER_ORACLE_IP"] = host
    os.environ["KERASTUNER_ORACLE_PORT"] = str(port)
    os.environ["KERASTUNER_TUNER_ID"] = tuner_id


def rtt_summary(heartbeat: Heartbeat) -> dict[str, Any]:
    rtt = sorted(heartbeat.rtt)
    if not rtt:
        return {"heartbeats": 0}
    return {"heartbeats": len(rtt), "rtt_median_ms": round(1000 * rtt[len(rtt) // 2], 3)}


def join(project_dir: str, host: str, port: int, tuner_id: str, settings: ClusterSettings,
         reporter: Reporter, on_chief_lost: Callable[[str], None]) -> dict[str, Any]:
    """Run trials for the chief at host:port until it says the search is over (or this
    worker is stopped). The project folder must be the chief's (shared on another machine)."""
    from dlstudio.engine import device as device_mod
    from dlstudio.engine import search as search_mod
    from dlstudio.engine.hypermodel import StudioHyperModel, TrainingStats, make_rows
    from dlstudio.engine.pipeline import ProjectReporter
    from dlstudio.engine.prepare import PreparedRun
    from dlstudio.engine.project import Project
    from dlstudio.engine.tf import keras

    project = Project.open(project_dir)
    if not project.has_split() or project.task is None:
        raise ConfigError(f"The project '{project.root}' has no prepared data yet; start the "
                          f"search on the chief first, then the workers.")
    heartbeat = Heartbeat(host, port, tuner_id, settings, on_chief_lost)
    heartbeat.start()
    rep = WorkerReporter(ProjectReporter(project, reporter), heartbeat)
    try:
        run = PreparedRun.load(project)
        config, template, task = run.config, run.template, run.task
        keras.utils.set_random_seed(config.seed)
        stats = TrainingStats.from_training(run.parts["train"], run.specs, run.y["train"],
                                            task.type, len(task.classes))
        hypermodel = StudioHyperModel(stats, template, config.search_space, seed=config.seed)
        # The same device settings as the chief's (pipeline.search): mixed precision and larger
        # batches on a GPU.
        hypermodel.batch_scale = device_mod.configure(task.type).batch_scale
        control = search_mod.SearchControl(rep, None, config.max_trials or template.max_trials,
                                           config.max_epochs or template.max_epochs)
        control.leave = rep.leaving
        set_worker_environment(host, port, tuner_id)
        tuner = search_mod.make_tuner(config.tuner, hypermodel, template, project.search_dir,
                                      config.seed, control, overwrite=False)
        try:
            with contextlib.suppress(search_mod.LeaveSearch):
                search_mod.run_search(tuner, make_rows(run.arrays["train"], run.y["train"]),
                                      make_rows(run.arrays["validation"], run.y["validation"]),
                                      template, tensorboard_dir=project.tensorboard_dir)
        except heartbeat.rpc_error:
            # A call in flight when the chief died fails at once ("connection reset"), before
            # the heartbeat's timeout: the same end, in the same words.
            message = heartbeat.lost_message(during_call=True)
            on_chief_lost(message)
            raise ConfigError(message) from None
        trials = tuner.trials_run
    finally:
        heartbeat.stop()
    return {"worker": tuner_id, "trials": trials, **rtt_summary(heartbeat)}
