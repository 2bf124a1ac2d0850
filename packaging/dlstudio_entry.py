"""PyInstaller entry script for DL Studio: the frozen equivalent of the `dlstudio` command.

PyInstaller needs a script, not an entry point, so this file calls `dlstudio.cli:main`. Both
executables of the build (the windowed `DL Studio` and the console `dlstudio`) start here.

1. `multiprocessing.freeze_support()` must run first: searches run in `spawn` child processes,
   and in a frozen app each child re-executes this executable; freeze_support() turns that
   re-execution into the child's work (PyInstaller's runtime hook also catches multiprocessing's
   resource tracker) instead of a second copy of the app.
2. `dlstudio.fresh.run_module_command`: a fresh process asked for by `fresh.module_command`
   (the export's verification) runs its module and exits.
3. Otherwise the app or the command line, as `dlstudio` from a source install.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from dlstudio.fresh import run_module_command

    status = run_module_command(sys.argv[1:])
    if status is None:
        from dlstudio.cli import main

        status = main()
    sys.exit(status)
