"""Distributed search benchmark (issue 13): the same budget with 1, 2 and 4 local workers, and
what the gRPC round trips cost per trial.

Part 1, throughput. The same search -- the bundled credit-scoring sample, template
``credit-scoring``, ``--tuner random`` (the trials are the same configurations whatever the
number of workers), ``--trials`` trials of at most ``--epochs`` epochs, seed ``--seed`` -- run
through the real CLI (``dlstudio run ... --json``), each in a fresh project folder:

* ``single``: today's path, one worker process, no chief (``--workers`` absent);
* ``1``, ``2``, ``4``: a chief and that many worker processes (``--workers N --port 0``, with
  ``--port`` given so that one worker still runs the distributed path).

For each: wall time from launch to the last ``trial_ended`` (the search itself, start-up
included), trials per minute over that time, the best validation score, which worker ran how
many trials, and the whole run's wall time (with the final training and evaluation).

Part 2, the cost per trial of the gRPC calls. A worker makes these calls to the chief for every
trial: ``CreateTrial``, ``UpdateTrial``, ``EndTrial``, ``GetTrial`` (the studio reads the score
the chief recorded), ``GetBestTrials`` (is it the best?), and between two trials one heartbeat
per second. Measured here without training: KerasTuner's own ``OracleClient`` against the
studio's chief (``engine/distributed.open_server``) on 127.0.0.1, the same five calls per trial
``--rpc-trials`` times, against the same calls on the oracle in-process; the difference per trial
is the price of distribution, to compare with the seconds a trial trains.

Run from the repository root::

    python benchmarks/distributed.py                        # 8 trials x 3 epochs; 1, 2, 4
    python benchmarks/distributed.py --trials 12 --workers 1 2 --epochs 5

Writes ``benchmarks/results/distributed.json`` (``--output``). On a machine with 2 cores expect
no speed-up past 2 workers: each worker trains with every core it gets.

Measured (2026-11-29, 2 cores shared with about six other test runs: load average 14-18 the
whole time, so the figures are the share these processes got, not what the machine can do;
``--trials 6 --epochs 2``, credit sample)::

    workers   search s   trials/min   best val_auc   trials per worker
    single       437.9         0.82         0.8455   tuner0 6
    1            503.5         0.72         0.8455   worker1 6
    2            345.2         1.04         0.8489   3 + 3
    4            317.5         1.13         0.8446   2 + 2 + 1 + 1

    gRPC, 100 trials without training: 45.4 ms per trial over gRPC vs 32.3 ms in-process
    (13 ms extra per trial; another run under the same load: 63.0 vs 6.9 ms); heartbeat 0.9 ms.

One worker costs about 15 % against the single process (the chief is one more process that
loads TensorFlow and prepares the data; the worker loads everything again). Two and four
workers gain 1.3x and 1.4x over the single process here, partly because more processes get a
bigger share of a machine others were using; on an idle 2-core machine do not expect more than
2 workers to help. The gRPC calls cost tens of milliseconds per trial against tens of seconds
of training: they do not matter.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "dlstudio" / "resources" / "samples" / "credit.csv"


def run_search(workers: str, trials: int, epochs: int, seed: int, folder: Path) -> dict[str, Any]:
    project = folder / f"p-{workers}"
    cmd = [sys.executable, "-m", "dlstudio.cli", "run", str(SAMPLE), "--template",
           "credit-scoring", "--tuner", "random", "--max-trials", str(trials), "--max-epochs",
           str(epochs), "--seed", str(seed), "--project", str(project), "--json"]
    if workers != "single":
        cmd += ["--workers", workers]
    if workers == "1":      # one worker takes the distributed path when a port is given
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            cmd += ["--port", str(s.getsockname()[1])]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    last_trial_end = None
    ended: list[dict] = []
    final: dict = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        if event["type"] == "trial_ended":
            last_trial_end = time.monotonic()
            ended.append(event)
        if event["type"] in ("search_finished", "search_failed"):
            final = event
    proc.wait()
    total = time.monotonic() - started
    search = (last_trial_end or time.monotonic()) - started
    scores = [e["score"] for e in ended if e["score"] is not None]
    return {
        "workers": workers, "trials": len(ended), "search_seconds": round(search, 1),
        "trials_per_minute": round(60 * len(ended) / search, 2) if ended else 0.0,
        "best_score": round(max(scores), 4) if scores else None,
        "final": final.get("type"), "final_best": final.get("best_score"),
        "by_worker": dict(Counter(e.get("worker", "") for e in ended)),
        "total_seconds": round(total, 1),
    }


def rpc_cost(trials: int) -> dict[str, Any]:
    """Seconds per trial of a worker's five oracle calls: over gRPC vs in-process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from dlstudio.engine import distributed
    from dlstudio.engine.tf import keras, kt

    class Chief(distributed.ChiefOracle, kt.oracles.RandomSearchOracle):
        pass

    def build(hp):
        hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")    # never runs out of values
        model = keras.Sequential([keras.layers.Input((4,)),
                                  keras.layers.Dense(hp.Int("units", 4, 64, step=4)),
                                  keras.layers.Dense(1)])
        model.compile(loss="mse")
        return model

    def one_trial(oracle, tuner_id: str, i: int) -> None:
        trial = oracle.create_trial(tuner_id)
        oracle.update_trial(trial.trial_id, {"val_loss": 1.0 / (i + 1)}, step=0)
        trial.status = kt.engine.trial.TrialStatus.COMPLETED
        oracle.end_trial(trial)
        oracle.get_trial(trial.trial_id)
        oracle.get_best_trials(1)

    out: dict[str, Any] = {"trials": trials}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("in_process", "grpc"):
            oracle = Chief(objective="val_loss", max_trials=trials + 1, seed=1)
            kt.Tuner(oracle=oracle, hypermodel=build, directory=tmp, project_name=mode)
            oracle.init_chief()
            if mode == "in_process":
                target = oracle
            else:
                server, port = distributed.open_server(oracle, "127.0.0.1", 0)
                os.environ.update(KERASTUNER_ORACLE_IP="127.0.0.1",
                                  KERASTUNER_ORACLE_PORT=str(port), KERASTUNER_TUNER_ID="bench")
                from keras_tuner.src.distribute.oracle_client import OracleClient
                target = OracleClient(oracle)
            one_trial(target, "bench", 0)                  # warm up (channel, first save)
            started = time.perf_counter()
            for i in range(1, trials):
                one_trial(target, "bench", i)
            out[f"{mode}_ms_per_trial"] = round(1000 * (time.perf_counter() - started)
                                                / (trials - 1), 2)
            if mode == "grpc":
                started = time.perf_counter()
                request_oracle = target
                for _ in range(200):
                    request_oracle.get_trial(distributed.HEARTBEAT_PREFIX + "bench")
                out["heartbeat_ms"] = round(1000 * (time.perf_counter() - started) / 200, 3)
                server.stop(0)
                for key in ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT",
                            "KERASTUNER_TUNER_ID"):
                    os.environ.pop(key)      # the searches below must not inherit them
    out["grpc_extra_ms_per_trial"] = round(out["grpc_ms_per_trial"]
                                           - out["in_process_ms_per_trial"], 2)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--workers", nargs="+", default=["single", "1", "2", "4"])
    p.add_argument("--rpc-trials", type=int, default=100)
    p.add_argument("--skip-search", action="store_true", help="only the gRPC cost")
    p.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "distributed.json"))
    args = p.parse_args()

    machine = {"cpus": os.cpu_count(), "python": platform.python_version(),
               "load_average": os.getloadavg()}
    result: dict[str, Any] = {"machine": machine,
                              "budget": {"trials": args.trials, "epochs": args.epochs}}
    result["rpc"] = rpc_cost(args.rpc_trials)
    print(f"gRPC: {result['rpc']['grpc_ms_per_trial']} ms per trial "
          f"(in-process {result['rpc']['in_process_ms_per_trial']} ms; extra "
          f"{result['rpc']['grpc_extra_ms_per_trial']} ms); heartbeat "
          f"{result['rpc']['heartbeat_ms']} ms", flush=True)
    runs = []
    if not args.skip_search:
        with tempfile.TemporaryDirectory() as tmp:
            for workers in args.workers:
                row = run_search(workers, args.trials, args.epochs, args.seed, Path(tmp))
                runs.append(row)
                print(f"{workers:>6} workers: {row['trials']} trials in {row['search_seconds']} s "
                      f"= {row['trials_per_minute']} trials/min, best {row['best_score']}, "
                      f"{row['by_worker']}, whole run {row['total_seconds']} s", flush=True)
    result["runs"] = runs
    result["machine"]["load_average_after"] = os.getloadavg()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
