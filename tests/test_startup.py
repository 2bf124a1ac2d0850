"""Before Qt is asked for a window, DL Studio checks that one can be opened, and otherwise says
in one paragraph what is missing (exit 2) instead of Qt's "no Qt platform plugin" abort."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dlstudio.ui.startup import (
    display_problem,
    install_advice,
    missing_libraries,
    parse_ldd,
    qt_folder,
    x_server_answers,
)

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux display check")

# `ldd libqxcb.so` on a Debian 12 machine without libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1
# (shortened: the resolved lines are like the first ones).
LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ff53d70d000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007ff53d63f000)
\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x00007ff53d5af000)
\tlibxkbcommon-x11.so.0 => /lib/x86_64-linux-gnu/libxkbcommon-x11.so.0 (0x00007ff53d55c000)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007ff53d54d000)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007ff53b81e000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007ff53d70f000)
"""


def _dlstudio(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`dlstudio ARGS` as a user starts it, in the given environment."""
    env = {**env, "DLSTUDIO_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, "-m", "dlstudio.cli", *args], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=120)


def _without(*names: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names}


def _fake_qt(tmp_path: Path) -> Path:
    """A folder laid out like PySide6's Qt/ whose files only need to exist (ldd is given)."""
    qt = tmp_path / "Qt"
    (qt / "plugins" / "platforms").mkdir(parents=True)
    (qt / "lib").mkdir()
    (qt / "plugins" / "platforms" / "libqxcb.so").touch()
    (qt / "lib" / "libQt6XcbQpa.so.6").touch()
    return qt


def _unused_display_number() -> int:
    for n in range(4700, 4800):
        if x_server_answers(f":{n}") is False:
            return n
    raise AssertionError("no free display number")


# -- the real command -------------------------------------------------------------------------

@linux_only
def test_no_display_ends_with_a_plain_message_not_an_abort(tmp_path):
    env = {**_without("DISPLAY", "WAYLAND_DISPLAY"), "QT_QPA_PLATFORM": "xcb"}
    result = _dlstudio(tmp_path, env)
    assert result.returncode == 2, result.stderr
    assert "no graphical display" in result.stderr
    assert "dlstudio run" in result.stderr              # what works without a window
    assert "Aborted" not in result.stderr and "Traceback" not in result.stderr
    assert "platform plugin" not in result.stderr       # Qt was never asked
    assert len(result.stderr.strip().splitlines()) == 1


@linux_only
def test_a_display_where_no_x_server_listens_is_named(tmp_path):
    n = _unused_display_number()
    env = {**_without("WAYLAND_DISPLAY", "QT_QPA_PLATFORM"), "DISPLAY": f":{n}"}
    result = _dlstudio(tmp_path, env, "--sample", "credit")
    assert result.returncode == 2, result.stderr
    assert f"no X server answers at DISPLAY=:{n}" in result.stderr
    assert "Aborted" not in result.stderr and "Traceback" not in result.stderr


# -- missing libraries ------------------------------------------------------------------------

def test_ldd_not_found_lines_are_read_once_each():
    assert parse_ldd(LDD_OUTPUT) == ["libxcb-cursor.so.0", "libxcb-icccm.so.4",
                                     "libxcb-keysyms.so.1"]
    assert parse_ldd("\tnot a dynamic executable\n") == []


def test_missing_xcb_libraries_name_the_packages_that_install_them(tmp_path):
    qt = _fake_qt(tmp_path)
    problem = display_problem({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, platform="linux",
                              qt=qt, ldd=lambda path: LDD_OUTPUT, connect=lambda d: True)
    assert problem is not None
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4, libxcb-keysyms.so.1" in problem
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in problem
    assert "sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms" in problem
    assert "dlstudio run" in problem
    assert "no graphical display" not in problem and "no X server" not in problem


def test_an_unknown_library_is_named_as_it_is():
    advice = install_advice(["libxcb-xinerama.so.0", "libfoo-bar.so.3"])
    assert "sudo apt-get install libxcb-xinerama0" in advice
    assert "sudo dnf install libxcb" in advice
    assert "Also install the package that provides libfoo-bar.so.3" in advice
    assert install_advice(["libfoo-bar.so.3"]).startswith("Install the package that provides")


def test_libraries_shipped_in_pyside6_are_not_sent_to_the_package_manager(tmp_path):
    qt = _fake_qt(tmp_path)
    output = "\tlibQt6Gui.so.6 => not found\n\tlibicuuc.so.73 => not found\n"
    assert missing_libraries([qt / "plugins" / "platforms" / "libqxcb.so"],
                             ldd=lambda path: output) == []


@linux_only
@pytest.mark.skipif(shutil.which("ldd") is None or shutil.which("cc") is None,
                    reason="needs ldd and a C compiler")
def test_real_ldd_finds_a_library_that_is_gone(tmp_path):
    """A plugin built here against a library that is then deleted: the real `ldd` says
    "not found", and the message names it."""
    (tmp_path / "gone.c").write_text("int gone(void) { return 1; }\n")
    (tmp_path / "plugin.c").write_text("int gone(void);\nint plugin(void) { return gone(); }\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", "libdlstudio-gone.so.1",
                    "-Wl,-soname,libdlstudio-gone.so.1", "gone.c"], cwd=tmp_path, check=True)
    qt = _fake_qt(tmp_path)
    plugin = qt / "plugins" / "platforms" / "libqxcb.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(plugin), "plugin.c",
                    str(tmp_path / "libdlstudio-gone.so.1")], cwd=tmp_path, check=True)
    (tmp_path / "libdlstudio-gone.so.1").unlink()

    assert missing_libraries([plugin]) == ["libdlstudio-gone.so.1"]
    problem = display_problem({"DISPLAY": ":0"}, platform="linux", qt=qt,
                              connect=lambda d: True)
    assert problem is not None
    assert "Install the package that provides libdlstudio-gone.so.1" in problem


@linux_only
def test_this_machines_pyside6_is_found_without_importing_qt():
    code = ("import sys; from dlstudio.ui.startup import qt_folder; "
            "q = qt_folder(); print(q); print(any(m.startswith('PySide6.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert Path(out[0]) == qt_folder()
    assert (Path(out[0]) / "plugins" / "platforms" / "libqxcb.so").is_file()
    assert out[1] == "False"


# -- which platform, which display ------------------------------------------------------------

def test_platforms_that_need_no_display_are_not_checked(tmp_path):
    def ldd(path):
        raise AssertionError("ldd must not run for a platform without a display")
    qt = _fake_qt(tmp_path)
    for name in ("offscreen", "minimal", "vnc:size=800x600"):
        assert display_problem({"QT_QPA_PLATFORM": name}, platform="linux", qt=qt,
                               ldd=ldd) is None


def test_wayland_needs_a_wayland_display(tmp_path):
    qt = _fake_qt(tmp_path)
    (qt / "plugins" / "platforms" / "libqwayland.so").touch()
    problem = display_problem({"QT_QPA_PLATFORM": "wayland"}, platform="linux", qt=qt)
    assert problem is not None and "WAYLAND_DISPLAY" in problem
    assert display_problem({"QT_QPA_PLATFORM": "wayland", "WAYLAND_DISPLAY": "wayland-0"},
                           platform="linux", qt=qt) is None
    # Unset QT_QPA_PLATFORM: Qt picks Wayland when its plugin is there, so X11 is not checked.
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, platform="linux", qt=qt,
                           ldd=lambda p: LDD_OUTPUT) is None


def test_without_a_wayland_plugin_qt_falls_back_to_x11(tmp_path):
    problem = display_problem({"WAYLAND_DISPLAY": "wayland-0"}, platform="linux",
                              qt=_fake_qt(tmp_path), ldd=lambda p: "")
    assert problem is not None and "no graphical display" in problem


def test_other_systems_and_the_escape_hatch_skip_the_check(tmp_path):
    qt = _fake_qt(tmp_path)
    assert display_problem({}, platform="darwin", qt=qt) is None
    assert display_problem({}, platform="win32", qt=qt) is None
    assert display_problem({"DLSTUDIO_SKIP_DISPLAY_CHECK": "1"}, platform="linux", qt=qt) is None


@linux_only
def test_an_x_server_socket_is_recognised():
    n = _unused_display_number()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(f"\0/tmp/.X11-unix/X{n}")            # abstract: leaves no file behind
        server.listen()
        assert x_server_answers(f":{n}") is True
        assert x_server_answers(f"unix:{n}.0") is True
    assert x_server_answers(f":{n}") is False
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port >= 6000
        assert x_server_answers(f"127.0.0.1:{port - 6000}.0") is True
    assert x_server_answers("host/unix:0") is None       # a form it does not know: Qt decides
