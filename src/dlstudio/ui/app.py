"""The GUI entry point: `main()` builds the application and the window."""

from __future__ import annotations

import importlib.resources
import logging
import sys
import traceback

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from dlstudio import __version__

log = logging.getLogger("dlstudio.ui")


def load_style_sheet() -> str:
    try:
        return (importlib.resources.files("dlstudio") / "resources" / "style.qss").read_text(
            encoding="utf-8")
    except (OSError, ModuleNotFoundError):
        return ""


def app_icon() -> QIcon:
    """DL Studio's icon in every size under resources/icons (rendered from dlstudio.svg by
    packaging/make_icons.py): the windows' icon, and so the About box's."""
    icon = QIcon()
    folder = importlib.resources.files("dlstudio") / "resources" / "icons"
    try:
        for entry in folder.iterdir():
            if entry.name.startswith("dlstudio-") and entry.name.endswith(".png"):
                icon.addFile(str(entry))
    except OSError:
        pass                    # no icon is no reason not to start
    return icon


def make_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setOrganizationName("DL Studio")
    app.setApplicationName("DL Studio")
    app.setApplicationVersion(__version__)
    app.setWindowIcon(app_icon())
    app.setDesktopFileName("dlstudio")     # the installed dlstudio.desktop (packaging/)
    app.setStyle("Fusion")
    app.setStyleSheet(load_style_sheet())
    return app  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    """Start the GUI; `argv` may hold one path (a data file, a text folder or a project folder)
    or `--sample NAME` (a bundled sample, opened as its Welcome-page button does).

    Returns the exit code. A failure while starting shows a plain dialog instead of a traceback.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    sample = None
    if "--sample" in args and args.index("--sample") + 1 < len(args):
        i = args.index("--sample")
        sample = args[i + 1]
        del args[i:i + 2]
    paths = [a for a in args if not a.startswith("-")]
    app = make_application([sys.argv[0] if sys.argv else "dlstudio"])
    try:
        from dlstudio.ui import dialogs
        from dlstudio.ui.main_window import MainWindow

        window = MainWindow()
        dialogs.install_excepthook(lambda: window, window.log_path)
        window.show()
        if sample:
            window.open_sample(sample)
        elif paths:
            window.open_path(paths[0])
    except Exception as exc:
        details = traceback.format_exc()
        log.error("DL Studio could not start:\n%s", details)
        box = QMessageBox(QMessageBox.Icon.Critical, "DL Studio",
                          f"DL Studio could not start: {exc}")
        box.setDetailedText(details)
        box.exec()
        return 1
    return app.exec()


if __name__ == "__main__":          # `python -m dlstudio.ui.app`; `dlstudio` checks in cli.py
    from dlstudio.ui.startup import display_problem
    problem = display_problem()
    if problem:
        print(f"dlstudio: {problem}", file=sys.stderr)
        sys.exit(2)
    sys.exit(main())
