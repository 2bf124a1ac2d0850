"""The one way to run a DL Studio module in a fresh Python process, from source or frozen.

    subprocess.run(fresh.module_command("dlstudio.engine.verify", export_dir, inp, out), ...)

From a source install the command is `sys.executable -m MODULE ARGS...`. In the frozen app
(PyInstaller, `packaging/`) there is no Python interpreter: `sys.executable` is the app itself,
which ignores `-m`. There the command re-invokes the bundled console executable, `dlstudio`
(`dlstudio.exe`), with the hidden first argument `RUN_MODULE`; the frozen entry script
(`packaging/dlstudio_entry.py`) hands such a call to `run_module_command`, which runs the module
as `__main__` with `sys.argv = [MODULE, *ARGS]`, as `python -m` would. Either way the module
sees the same arguments, and its stdout, stderr and exit status reach the caller.

No Qt and no TensorFlow here: the engine, the workers and the GUI may all import this module.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

RUN_MODULE = "--dlstudio-run-module"   # hidden: not a sub-command a user types

# The console executable beside the windowed one in the frozen folder (packaging/dlstudio.spec).
CONSOLE_NAME = "dlstudio.exe" if sys.platform == "win32" else "dlstudio"


def is_frozen() -> bool:
    """Whether this process is the frozen app (PyInstaller sets `sys.frozen`)."""
    return bool(getattr(sys, "frozen", False))


def module_command(module: str, *args: str) -> list[str]:
    """The argv that runs `python -m module args...` in a fresh process, frozen or not."""
    if not is_frozen():
        return [sys.executable, "-m", module, *args]
    console = Path(sys.executable).with_name(CONSOLE_NAME)
    # The windowed executable has no console on Windows (no stdout for the caller to read):
    # prefer its console twin; fall back to whichever executable this is.
    exe = console if console.is_file() else Path(sys.executable)
    return [str(exe), RUN_MODULE, module, *args]


def run_module_command(argv: list[str]) -> int | None:
    """If `argv` (without the program name) is a `module_command` call, run the module as
    `__main__` and return its exit status; otherwise return None (a normal start).

    Only `dlstudio.` modules may be run: the hidden argument is no general Python launcher."""
    if not argv or argv[0] != RUN_MODULE:
        return None
    if len(argv) < 2 or not argv[1].startswith("dlstudio."):
        print(f"dlstudio: {RUN_MODULE} needs a dlstudio module to run", file=sys.stderr)
        return 2
    module, args = argv[1], argv[2:]
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    return 0
