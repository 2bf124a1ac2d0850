"""PyInstaller entry script for DL Studio: the frozen equivalent of the `dlstudio` command.

PyInstaller needs a script, not an entry point, so this file calls `dlstudio.cli:main`.
`multiprocessing.freeze_support()` must run first: searches run in `spawn` child processes, and
in a frozen app each child re-executes this executable; freeze_support() turns that re-execution
into the child's work instead of a second copy of the app.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from dlstudio.cli import main

    sys.exit(main())
