"""The parts of the double-click app that a source checkout can check in seconds: the icon, the
launcher of fresh processes (and the frozen entry script's hidden sub-command), the desktop
entry and the install scripts. The frozen build itself is checked by packaging/smoke.sh (slow,
not part of this suite)."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dlstudio import __version__
from dlstudio.fresh import RUN_MODULE, module_command

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
ICONS = ROOT / "src" / "dlstudio" / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)     # packaging/make_icons.py, install.sh
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="the Linux install scripts")


def test_the_icon_has_its_svg_source_and_every_png_size():
    from PySide6.QtGui import QImage

    assert (ICONS / "dlstudio.svg").read_text().lstrip().startswith("<?xml")
    for size in SIZES:
        image = QImage(str(ICONS / f"dlstudio-{size}.png"))
        assert (image.width(), image.height()) == (size, size), size
        assert image.hasAlphaChannel()


def test_the_application_and_its_windows_carry_the_icon(qapp):
    from dlstudio.ui.app import app_icon, make_application

    icon = app_icon()
    assert {s.width() for s in icon.availableSizes()} == set(SIZES)
    app = make_application()
    assert not app.windowIcon().isNull()
    assert app.desktopFileName() == "dlstudio"


def test_a_fresh_process_from_source_is_python_dash_m():
    command = module_command("dlstudio.cli", "--version")
    assert command[:3] == [sys.executable, "-m", "dlstudio.cli"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout.strip()) == (0, f"dlstudio {__version__}")


def test_the_frozen_entry_script_runs_a_module_asked_for_by_the_hidden_argument():
    entry = [sys.executable, str(PACKAGING / "dlstudio_entry.py")]
    proc = subprocess.run([*entry, RUN_MODULE, "dlstudio.cli", "--version"],
                          capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout.strip()) == (0, f"dlstudio {__version__}")
    # the module's own exit status comes back (argparse: 2 for an unknown option)
    proc = subprocess.run([*entry, RUN_MODULE, "dlstudio.cli", "--no-such-option"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--no-such-option" in proc.stderr
    # it is no general Python launcher
    proc = subprocess.run([*entry, RUN_MODULE, "json.tool"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "needs a dlstudio module" in proc.stderr
    # without the hidden argument it is `dlstudio`
    proc = subprocess.run([*entry, "--version"], capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout.strip()) == (0, f"dlstudio {__version__}")


def _desktop_entry(path: Path) -> dict[str, str]:
    parser = configparser.RawConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str        # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def _unescape_string(value: str) -> str:
    """A Desktop Entry string value's escapes: \\s \\n \\t \\r \\\\."""
    escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    out, chars = [], iter(value)
    for c in chars:
        if c == "\\":
            escaped = next(chars, "")
            assert escaped in escapes, f"invalid escape \\{escaped} in {value!r}"
            c = escapes[escaped]
        out.append(c)
    return "".join(out)


def _exec_argv(value: str) -> list[str]:
    """The argv a launcher makes of an Exec value, as the Desktop Entry specification says:
    string escapes first, then arguments split at spaces, "..." quoting with \\" \\` \\$ \\\\
    escaped inside (no field codes here)."""
    argv: list[str] = []
    current: list[str] | None = None          # the argument being read, None between them
    quoted = False
    chars = iter(_unescape_string(value))
    for c in chars:
        if c == " " and not quoted:
            if current is not None:
                argv.append("".join(current))
            current = None
            continue
        current = [] if current is None else current
        if c == '"':
            quoted = not quoted
        elif c == "\\" and quoted:
            current.append(next(chars, ""))
        else:
            current.append(c)
    if current is not None:
        argv.append("".join(current))
    return argv


def test_the_desktop_entry_names_the_icon_and_is_valid():
    entry = _desktop_entry(PACKAGING / "dlstudio.desktop")
    assert entry["Icon"] == "dlstudio" and entry["Terminal"] == "false"
    assert entry["Exec"] == "dlstudio"          # a pip install; install.sh writes the path
    validate = shutil.which("desktop-file-validate")
    if validate:
        proc = subprocess.run([validate, str(PACKAGING / "dlstudio.desktop")],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


@posix_only
def test_install_puts_an_entry_that_starts_the_folder_app_and_uninstall_takes_it_away(tmp_path):
    # A folder laid out as build.sh lays out dist/DL Studio/, in a path with spaces, quotes
    # and a dollar sign; its `DL Studio` is a stand-in that says how it was started.
    folder = tmp_path / "Apps of 'Ann' \"$HOME\"" / "DL Studio"
    internal = folder / "_internal"
    shutil.copytree(ICONS, internal / "dlstudio" / "resources" / "icons")
    shutil.copy(PACKAGING / "dlstudio.desktop", internal / "dlstudio.desktop")
    for script in ("install.sh", "uninstall.sh"):
        shutil.copy(PACKAGING / script, folder / script)
    app = folder / "DL Studio"
    app.write_text('#!/bin/sh\necho "started $0"\n')
    app.chmod(0o755)
    data = tmp_path / "data"
    env = {**os.environ, "XDG_DATA_HOME": str(data), "HOME": str(tmp_path / "home")}

    proc = subprocess.run([str(folder / "install.sh")], capture_output=True, text=True,
                          env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    desktop = data / "applications" / "dlstudio.desktop"
    entry = _desktop_entry(desktop)
    assert _exec_argv(entry["Exec"]) == [str(app)]
    assert _unescape_string(entry["TryExec"]) == str(app)
    assert entry["Icon"] == "dlstudio"
    for size in SIZES:
        assert (data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "dlstudio.png").is_file()
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / "dlstudio.svg").is_file()
    started = subprocess.run(_exec_argv(entry["Exec"]), capture_output=True, text=True)
    assert started.stdout.strip() == f"started {app}"
    validate = shutil.which("desktop-file-validate")
    if validate:
        check = subprocess.run([validate, str(desktop)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr

    proc = subprocess.run([str(folder / "uninstall.sh")], capture_output=True, text=True,
                          env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not desktop.exists()
    assert not list((data / "icons").rglob("dlstudio.*"))
    assert app.is_file()                # the app's folder stays
