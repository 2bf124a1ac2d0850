"""GUI benchmark (issue 9): open a big table in the real window and measure how long the GUI
thread stalls while it is read, previewed and profiled.

What it does (offscreen, in this process):

1. Makes (or reuses) the seeded synthetic credit table of ``benchmarks/scale.py``
   (``--rows``, default 1,000,000) as a CSV under ``--workdir``.
2. Opens the real ``MainWindow`` (1360x900, no GPU probe) with a 10 ms heartbeat on the GUI
   thread, the way ``dlstudio demo`` measures ``gui_max_stall_ms`` (``StallMeter`` of the
   Training page): the longest gap between two ticks beyond 10 ms.
3. Phases, each with its own max stall:
   ``load`` — ``MainWindow.load_data(path)`` until the Data page's ``loaded`` signal;
   ``show`` — one second of event loop after it (the preview and the column list paint, the
   first column's profile appears);
   ``profiles`` — every column selected in turn in the column list, waiting for its profile to
   be on screen (``DataPage.profile_shown``);
   ``scroll`` — the preview scrolled to its last row and back, painting each time;
   ``task`` — Next to the Task page, the credit-scoring template chosen (its target, ``default``,
   is guessed and checked, its values counted, the class to detect guessed), then ``region``
   as the target (refused: 200 values), then the generic classification template on it, then
   ``default`` again; each waiting until the page shows the result (``TaskPage.checking``
   and ``target_checked`` where the page has them; a version that counts on the GUI thread
   is done when the click returns).
4. Checks that the preview holds the loaded frame's own arrays (no copy into Qt): the share of
   the frame's columns whose array in the table model is the same memory.

``--src DIR`` runs another checkout's ``src/`` (e.g. ``git archive`` of an older commit) and
``--repeat N`` opens the file N times (a fresh window each time), so that before and after can be
compared in one run on a shared machine, where other processes' load also stalls the thread;
``--compare BEFORE.json AFTER.json`` prints two saved runs side by side::

    git archive <old commit> src | tar -x -C /tmp/before
    python benchmarks/gui_open.py --src /tmp/before/src --repeat 2 --output before.json
    python benchmarks/gui_open.py --repeat 2 --output after.json
    python benchmarks/gui_open.py --compare before.json after.json

It prints a table and writes ``benchmarks/results/gui_open.json`` (``--output``). From the
repository root::

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_open.py              # 1,000,000 rows
    QT_QPA_PLATFORM=offscreen python benchmarks/gui_open.py --rows 100000

The target (issue 9) is a max stall under 100 ms in every phase.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import DEFAULT_WORKDIR, ROOT, TARGET, table_file

DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "gui_open.json"
HEARTBEAT_MS = 10


def run_delay_ms() -> float:
    """How long this thread has waited for a CPU while it was ready to run (Linux's
    /proc/thread-self/schedstat, second field), in ms; 0 where there is no such file."""
    try:
        with open("/proc/thread-self/schedstat", encoding="ascii") as f:
            return int(f.read().split()[1]) / 1e6
    except (OSError, IndexError, ValueError):
        return 0.0


class Heartbeat:
    """A 10 ms precise timer on the GUI thread that records every gap beyond its interval, per
    phase (same measure as the Training page's StallMeter).

    On a shared machine the kernel also keeps a ready thread off the CPU (other processes' load);
    `own_max_ms` is each gap less the time this thread waited for a CPU during it, i.e. what the
    app's own work cost: GUI-thread code, and waiting for the GIL held by a pool thread (and,
    on a machine short of memory, page faults). `cpu_max_ms` is the GUI thread's own CPU time
    between two ticks: the longest stretch of work on the GUI thread, whatever the load.
    """

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(self._tick)
        self.phase = "start"
        self.max_ms: dict[str, float] = {}
        self.own_max_ms: dict[str, float] = {}
        self.cpu_max_ms: dict[str, float] = {}
        self.stalls: list[tuple[str, float, float, float, float]] = []  # phase, at, ms, own, cpu
        self.t0 = self._last = time.perf_counter()
        self._delay = run_delay_ms()
        self._cpu = time.thread_time()

    def start(self, phase: str) -> None:
        self.phase = phase
        self.max_ms.setdefault(phase, 0.0)
        self.own_max_ms.setdefault(phase, 0.0)
        self.cpu_max_ms.setdefault(phase, 0.0)
        if not self.timer.isActive():
            self._last = time.perf_counter()
            self._delay = run_delay_ms()
            self._cpu = time.thread_time()
            self.timer.start()

    def _tick(self) -> None:
        now, delay, cpu = time.perf_counter(), run_delay_ms(), time.thread_time()
        stall = (now - self._last) * 1000.0 - HEARTBEAT_MS
        own = max(0.0, stall - (delay - self._delay))
        busy = (cpu - self._cpu) * 1000.0
        self._last, self._delay, self._cpu = now, delay, cpu
        self.max_ms[self.phase] = max(self.max_ms.get(self.phase, 0.0), stall)
        self.own_max_ms[self.phase] = max(self.own_max_ms.get(self.phase, 0.0), own)
        self.cpu_max_ms[self.phase] = max(self.cpu_max_ms.get(self.phase, 0.0), busy)
        if stall > 50:
            self.stalls.append((self.phase, round(now - self.t0, 2), round(stall, 1),
                                round(own, 1), round(busy, 1)))


def wait_for(signal: Any, timeout_s: float, what: str, action: Any = None) -> tuple:
    from PySide6.QtCore import QEventLoop, QTimer

    got: list[tuple] = []
    loop = QEventLoop()

    def on(*args: Any) -> None:
        got.append(args)
        loop.quit()

    signal.connect(on)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    try:
        if action is not None:
            action()
        if not got:
            loop.exec()
    finally:
        signal.disconnect(on)
    if not got:
        raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}")
    return got[0]


def settle(ms: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(path: Path) -> dict[str, Any]:
    import numpy as np
    from PySide6.QtWidgets import QApplication

    from dlstudio.ui import dialogs
    from dlstudio.ui.app import make_application
    from dlstudio.ui.main_window import MainWindow

    app = make_application()
    messages: list[tuple[str, str, str]] = []
    dialogs.NONINTERACTIVE = messages
    window = MainWindow(probe_gpu=False)
    window.resize(1360, 900)
    window.show()
    settle(300)
    beat = Heartbeat()
    page = window.data_page
    out: dict[str, Any] = {"rss_before_mb": round(rss_mb())}
    seconds: dict[str, float] = {}
    try:
        beat.start("idle")      # nothing to do: what the machine's load alone does
        settle(2000)
        beat.start("load")
        t = time.perf_counter()
        wait_for(page.loaded, 600, "the table to load", lambda: window.load_data(path))
        seconds["load"] = time.perf_counter() - t

        beat.start("show")
        t = time.perf_counter()
        settle(1000)
        seconds["show"] = time.perf_counter() - t

        beat.start("profiles")
        t = time.perf_counter()
        shown = 0
        for row in range(page.columns.rowCount()):
            name = page.columns.item(row, 0).text()
            if page.profile_title.text().startswith(f"<b>{name}</b>"):
                page.columns.selectRow(row)
                shown += 1
                continue
            wait_for(page.profile_shown, 120, f"the profile of {name}",
                     lambda r=row: page.columns.selectRow(r))
            shown += 1
        settle(100)
        seconds["profiles"] = time.perf_counter() - t

        beat.start("scroll")
        t = time.perf_counter()
        for _ in range(3):
            page.table.scrollToBottom()
            settle(100)
            page.table.scrollToTop()
            settle(100)
        seconds["scroll"] = time.perf_counter() - t

        beat.start("task")
        t = time.perf_counter()
        task = window.task_page
        window.next_button.click()
        if window.current_page() is not task:
            raise RuntimeError("Next did not go to the Task page")
        settle(300)

        def task_step(action: Any, what: str) -> None:
            action()
            if getattr(task, "checking", lambda: False)():
                wait_for(task.target_checked, 120, what)
            settle(300)

        def choose_target(name: str) -> None:
            task.target_combo.setCurrentIndex(task.target_combo.findData(name))

        task_step(lambda: task.select_template("credit-scoring"), "the credit target's check")
        if window.state.target != TARGET:
            task_step(lambda: choose_target(TARGET), f"the check of {TARGET}")
        task_step(lambda: choose_target("region"), "the check of region")
        task_step(lambda: task.select_template("tabular-classification"),
                  "the check of region for several classes")
        task_step(lambda: choose_target(TARGET), f"the check of {TARGET} for several classes")
        seconds["task"] = time.perf_counter() - t
        task_shown = {"target": window.state.target, "classes": task.class_info.text(),
                      "error": task.error.text(), "complete": task.is_complete()}
        beat.timer.stop()

        df = window.state.df
        model_columns = page.model._columns
        # A NumPy column shares the frame's memory; any other (pandas' Arrow-backed strings)
        # is the frame's own extension array object.
        shared = sum(model_columns[i] is df.iloc[:, i].array
                     or (isinstance(model_columns[i], np.ndarray)
                         and np.shares_memory(model_columns[i], df.iloc[:, i].to_numpy()))
                     for i in range(df.shape[1]))
        out.update({
            "rows": len(df), "columns": df.shape[1], "profiles_shown": shown,
            "frame_mb": round(df.memory_usage(deep=True).sum() / 2**20),
            "preview_columns_sharing_frame_memory": f"{shared}/{df.shape[1]}",
            "task_page": task_shown,
            "rss_after_mb": round(rss_mb()),
            "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "seconds": {k: round(v, 2) for k, v in seconds.items()},
            "max_stall_ms": {k: round(v, 1) for k, v in beat.max_ms.items()},
            "own_max_stall_ms": {k: round(v, 1) for k, v in beat.own_max_ms.items()},
            "gui_thread_cpu_max_ms": {k: round(v, 1) for k, v in beat.cpu_max_ms.items()},
            "gui_max_stall_ms": round(max(v for k, v in beat.max_ms.items() if k != "idle"), 1),
            "gui_own_max_stall_ms": round(max(v for k, v in beat.own_max_ms.items()
                                              if k != "idle"), 1),
            "load_average": os.getloadavg(),
            "stalls_over_50ms": beat.stalls,
            "messages": [f"{kind}: {text}" for kind, _title, text in messages],
        })
        return out
    finally:
        dialogs.NONINTERACTIVE = None
        window.close()
        for p in window.pages:
            p.shutdown()
        window.deleteLater()
        settle(50)
        QApplication.processEvents()
        del app


def print_table(r: dict[str, Any], command: str) -> None:
    print(f"\n== opening {r['rows']:,} rows x {r['columns']} columns ({r['csv_mb']} MB CSV) "
          f"in the window ==")
    print(f"  $ {command}")
    print(f"  load average {r['load_average'][0]:.1f} on {os.cpu_count()} CPUs")
    print(f"  {'phase':<10} {'seconds':>8} {'max stall (ms)':>15} {'without CPU wait':>17} "
          f"{'GUI-thread CPU':>15}")
    for phase, ms in r["max_stall_ms"].items():
        print(f"  {phase:<10} {r['seconds'].get(phase, 2.0):>8} {ms:>15} "
              f"{r['own_max_stall_ms'][phase]:>17} {r['gui_thread_cpu_max_ms'][phase]:>15}")
    print(f"  gui_max_stall_ms: {r['gui_max_stall_ms']}, without waiting for a CPU: "
          f"{r['gui_own_max_stall_ms']} (target < 100)")
    print(f"  stalls over 50 ms (phase, at s, ms, without CPU wait, GUI-thread CPU): "
          f"{r['stalls_over_50ms'][:12]}")
    print(f"  frame in memory: {r['frame_mb']} MB; GUI process RSS {r['rss_before_mb']} -> "
          f"{r['rss_after_mb']} MB (peak {r['maxrss_mb']} MB)")
    print(f"  preview columns that are the frame's own arrays: "
          f"{r['preview_columns_sharing_frame_memory']}")
    print(f"  Task page at the end: {r.get('task_page')}")


def compare(before_path: Path, after_path: Path) -> None:
    """Print two saved runs (``--output`` files) side by side."""
    runs = [json.loads(Path(p).read_text()) for p in (before_path, after_path)]
    before, after = (r["result"] for r in runs)
    print(f"\n== GUI stalls opening {after['rows']:,} rows: before / after (ms) ==")
    for r, name in zip(runs, ("before", "after"), strict=True):
        print(f"  {name}: $ {r['command']}  (load average {r['result']['load_average'][0]:.1f})")
    print(f"  {'phase':<10} {'max stall':>19} {'without CPU wait':>19} {'GUI-thread CPU':>19}")
    for phase in after["max_stall_ms"]:
        cells = [f"{b[phase]:>8} / {a[phase]:<8}" for b, a in (
            (before[k], after[k]) for k in ("max_stall_ms", "own_max_stall_ms",
                                            "gui_thread_cpu_max_ms"))]
        print(f"  {phase:<10} " + " ".join(f"{c:>19}" for c in cells))
    print(f"  runs (max stall, without CPU wait): before {before['gui_max_stall_ms_runs']}, "
          f"after {after['gui_max_stall_ms_runs']}")
    print(f"  preview columns that are the frame's own arrays: "
          f"{before['preview_columns_sharing_frame_memory']} / "
          f"{after['preview_columns_sharing_frame_memory']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--src", type=Path, help="import DL Studio from this src/ folder")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("BEFORE", "AFTER"),
                        help="print two saved runs side by side, and nothing else")
    args = parser.parse_args(argv)
    if args.compare:
        compare(*args.compare)
        return 0
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.src:
        sys.path.insert(0, str(args.src.resolve()))
    path = table_file(args.rows, args.seed, args.workdir.resolve())
    runs = []
    for _ in range(args.repeat):
        runs.append(measure(path))
        runs[-1]["csv_mb"] = round(path.stat().st_size / 2**20, 1)
    result = sorted(runs, key=lambda r: r["gui_own_max_stall_ms"])[len(runs) // 2]  # median
    result["gui_max_stall_ms_runs"] = [(r["gui_max_stall_ms"], r["gui_own_max_stall_ms"])
                                       for r in runs]
    command = "QT_QPA_PLATFORM=offscreen python benchmarks/gui_open.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    print_table(result, command.strip())
    import dlstudio

    print(f"  DL Studio from {Path(dlstudio.__file__).parent}; max stall of each run: "
          f"{result['gui_max_stall_ms_runs']} (median shown; without CPU wait second)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "command": command.strip(), "result": result}, indent=2))
    print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
