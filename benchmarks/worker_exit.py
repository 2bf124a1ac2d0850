"""How long a worker process takes to end after its final event.

The parent joins the child when the final event arrives (on the GUI thread, under the app), so
this is time the window stands still at the end of every search, export and GPU probe.

    .venv/bin/python benchmarks/worker_exit.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from dlstudio.engine.events import from_dict, is_final
from dlstudio.workers.process import WorkerProcess, WorkerTask


def one_run() -> float:
    worker = WorkerProcess(WorkerTask.PROBE, {})
    worker.start()
    while not is_final(from_dict(worker._queue.get(timeout=300))):
        pass
    start = time.monotonic()
    worker._process.join(60)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = [one_run() for _ in range(parser.parse_args().runs)]
    print(f"worker exit after its final event: median {statistics.median(runs):.2f} s "
          f"(runs: {', '.join(f'{r:.2f}' for r in runs)})")


if __name__ == "__main__":
    main()
