"""The same search on the CPU and on the GPU, and the speed-up (issue 10). Run it through
``benchmarks/gpu_check.sh``; it takes under 5 minutes.

1. Makes a seeded synthetic credit table (``scale.make_table``, ``--rows``, default 20,000) in a
   temporary folder.
2. Asks TensorFlow, in a fresh process, which GPUs it sees. With none it says so plainly (and
   why, when ``nvidia-smi`` finds a GPU that TensorFlow cannot use: TensorFlow without CUDA,
   install ``pip install -e .[gpu]``) and runs the CPU half only.
3. Runs the public CLI as a user would, once with ``CUDA_VISIBLE_DEVICES=""`` (the CPU) and once
   as is (the GPU): ``dlstudio run FILE --template credit-scoring --tuner random --max-trials
   2 --max-epochs 3 --seed 1 --json``. It takes the device from the ``search_started`` event and
   times the search from the events: the seconds from ``search_started`` to the last
   ``trial_ended``, and the median epoch (the first epoch of each trial, which includes tracing,
   left out). Once the last trial has ended the run is stopped as Ctrl+C stops it (so no
   ensemble check or refit); its test AUC is that of the searched network.

The GPU run trains in its own settings (``engine/device.py``: 4x larger batches, mixed precision
for classification on tensor cores): the speed-up is that of DL Studio as a user gets it, not of
one fixed network. The test AUC of both runs is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import make_table  # benchmarks/ is not a package

GPU_PROBE = ("import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'; import tensorflow as tf; "
             "print(len(tf.config.list_physical_devices('GPU')))")


def tensorflow_gpus() -> int:
    out = subprocess.run([sys.executable, "-c", GPU_PROBE], capture_output=True, text=True,
                         timeout=300)
    try:
        return int(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return 0


def nvidia_smi_gpus() -> list[str]:
    if shutil.which("nvidia-smi") is None:
        return []
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=60)
    return [line for line in out.stdout.splitlines() if line.startswith("GPU")]


def run_search(data: Path, work: Path, label: str, args: argparse.Namespace,
               env_extra: dict[str, str]) -> dict[str, Any]:
    project = work / f"project-{label}"
    cmd = [sys.executable, "-m", "dlstudio.cli", "run", str(data), "--template",
           "credit-scoring", "--tuner", "random", "--max-trials", str(args.trials),
           "--max-epochs", str(args.epochs), "--seed", "1", "--project", str(project), "--json"]
    env = {**os.environ, "DLSTUDIO_HOME": str(work / "home"), **env_extra}
    started = time.time()
    events: list[dict[str, Any]] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not line.startswith("{"):
                continue
            events.append(json.loads(line))
            # The search is what is timed: once its last trial has ended, Stop (as Ctrl+C
            # does), which skips the ensemble check and the refit.
            if sum(e["type"] == "trial_ended" for e in events) == args.trials and \
                    events[-1]["type"] == "trial_ended":
                proc.send_signal(signal.SIGINT)
        stderr = proc.stderr.read() if proc.stderr else ""
        proc.wait(timeout=args.timeout)
    wall = time.time() - started
    final = next((e for e in events if e["type"] in ("search_finished", "search_failed")), None)
    if final is None or final["type"] != "search_finished":
        why = final["message"] if final else stderr[-2000:]
        raise SystemExit(f"The {label} run failed: {why}")
    begin = next(e for e in events if e["type"] == "search_started")
    ended = [e for e in events if e["type"] == "trial_ended"]
    epochs: list[float] = []
    last: dict[str, float] = {}
    for e in events:
        if e["type"] == "trial_started":
            last[e["trial_id"]] = e["time"]
        elif e["type"] == "epoch_ended":
            if e["epoch"] > 1:
                epochs.append(e["time"] - last[e["trial_id"]])
            last[e["trial_id"]] = e["time"]
    return {"device": begin.get("device") or "(not reported)",
            "search_seconds": ended[-1]["time"] - begin["time"],
            "median_epoch_seconds": statistics.median(epochs) if epochs else float("nan"),
            "batch_size": (ended[0]["hyperparameters"].get("batch_size") if ended else None),
            "test_auc": final["metrics"].get("auc"), "wall_seconds": wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120,
                        help="seconds a run may take to finish after its search")
    args = parser.parse_args(argv)

    gpus = tensorflow_gpus()
    if gpus:
        print(f"TensorFlow sees {gpus} GPU(s): running the search on the CPU, then on the GPU.")
    else:
        print("No GPU: TensorFlow sees none on this machine, so only the CPU half runs and "
              "there is no speed-up to report.")
        smi = nvidia_smi_gpus()
        if smi:
            print(f"nvidia-smi does list {', '.join(smi)}: TensorFlow was installed without "
                  "CUDA. Install the GPU build with: pip install -e '.[gpu]'")
    with tempfile.TemporaryDirectory(prefix="dlstudio-gpu-check-") as tmp:
        work = Path(tmp)
        data = work / "credit.csv"
        make_table(args.rows).to_csv(data, index=False)
        print(f"Data: {args.rows:,} rows; search: random tuner, {args.trials} trials of up to "
              f"{args.epochs} epochs.", flush=True)
        results = {"CPU": run_search(data, work, "cpu", args, {"CUDA_VISIBLE_DEVICES": ""})}
        if gpus:
            results["GPU"] = run_search(data, work, "gpu", args, {})
    print(f"\n{'run':5} {'device':40} {'batch':>6} {'search s':>9} {'epoch s':>8} "
          f"{'test AUC':>9} {'wall s':>7}")
    for label, r in results.items():
        auc = "-" if r["test_auc"] is None else f"{r['test_auc']:.4f}"
        print(f"{label:5} {r['device'][:40]:40} {r['batch_size'] or '-':>6} "
              f"{r['search_seconds']:9.1f} {r['median_epoch_seconds']:8.2f} {auc:>9} "
              f"{r['wall_seconds']:7.1f}")
    if "GPU" in results:
        cpu, gpu = results["CPU"], results["GPU"]
        search = cpu["search_seconds"] / gpu["search_seconds"]
        epoch = cpu["median_epoch_seconds"] / gpu["median_epoch_seconds"]
        print(f"\nSpeed-up of the search on the GPU: {search:.1f}x (per epoch: {epoch:.1f}x).")
    else:
        print("\nSpeed-up: not measured (no GPU).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
