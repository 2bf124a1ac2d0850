"""Can this machine open a window? Asked before Qt is.

On Linux, when Qt's platform plugin cannot start (no display, or the X11 plugin's system
libraries are not installed) Qt prints "no Qt platform plugin could be initialized. Reinstalling
the application may fix this problem" and aborts the process: no exception, no way to say
anything better afterwards. So the check runs first, without a QApplication and without
importing QtGui: it reads the environment as Qt will, and asks `ldd` which shared libraries of
PySide6's Qt (and of its xcb plugin) the system cannot find.

`display_problem()` returns one plain paragraph, or None when a window can be opened (or when it
cannot tell: then Qt decides). DLSTUDIO_SKIP_DISPLAY_CHECK=1 skips the check altogether.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

# soname -> (Debian/Ubuntu package, Fedora package)
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libwayland-client.so.0": ("libwayland-client0", "libwayland-client"),
    "libwayland-cursor.so.0": ("libwayland-cursor0", "libwayland-cursor"),
}

# Shipped inside the PySide6 wheel: when one is "not found" the install is broken, and no system
# package would help.
_BUNDLED = ("libQt6", "libicu", "libpyside6", "libshiboken6")

NO_DISPLAY_PLATFORMS = {"offscreen", "minimal", "vnc"}
CLI_HINT = ("The command line works without a window: 'dlstudio run DATA --template NAME' "
            "searches, evaluates and exports a model (see 'dlstudio --help').")

LddRunner = Callable[[Path], str | None]


def run_ldd(path: Path) -> str | None:
    """`ldd PATH`'s output, or None when ldd is missing or fails."""
    try:
        proc = subprocess.run(["ldd", str(path)], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def parse_ldd(output: str) -> list[str]:
    """The sonames that `ldd` reports as "=> not found", in order, once each."""
    missing: list[str] = []
    for line in output.splitlines():
        name, sep, where = line.strip().partition("=>")
        if sep and where.strip() == "not found" and name.strip() not in missing:
            missing.append(name.strip())
    return missing


def qt_folder() -> Path | None:
    """PySide6's Qt folder (lib/, plugins/), found without importing PySide6's Qt modules."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "Qt"
    return folder if folder.is_dir() else None


def missing_libraries(files: Iterable[Path], ldd: LddRunner = run_ldd) -> list[str]:
    """System libraries that the given shared objects need and the loader cannot find."""
    missing: list[str] = []
    for path in files:
        output = ldd(path) if path.is_file() else None
        for name in parse_ldd(output or ""):
            if name not in missing and not name.startswith(_BUNDLED):
                missing.append(name)
    return missing


def install_advice(sonames: list[str]) -> str:
    """The sentences that say which packages hold `sonames` and how to install them."""
    apt: list[str] = []
    dnf: list[str] = []
    unknown: list[str] = []
    for name in sonames:
        if name not in PACKAGES:
            unknown.append(name)
            continue
        deb, fedora = PACKAGES[name]
        apt += [deb] if deb not in apt else []
        dnf += [fedora] if fedora not in dnf else []
    text = ""
    if apt:
        text = (f"Install them with 'sudo apt-get install {' '.join(apt)}' (Debian, Ubuntu) "
                f"or 'sudo dnf install {' '.join(dnf)}' (Fedora).")
    if unknown:
        text += (f" {'Also install' if apt else 'Install'} the package that provides "
                 f"{', '.join(unknown)} (your distribution's package search finds it).")
    return text.strip()


def x_server_answers(display: str, timeout: float = 2.0) -> bool | None:
    """Whether an X server accepts connections at DISPLAY (None: the form is not understood).

    ":N" and "unix:N" are local sockets (the abstract one first, as Xlib tries); "HOST:N" is
    TCP port 6000+N (ssh's X forwarding uses localhost:10 and up)."""
    m = re.fullmatch(r"(?P<host>[A-Za-z0-9.\-]*):(?P<num>\d+)(\.\d+)?", display)
    if m is None:
        return None
    host, number = m["host"], int(m["num"])
    if host in ("", "unix"):
        for address in (f"\0/tmp/.X11-unix/X{number}", f"/tmp/.X11-unix/X{number}"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(timeout)
                try:
                    s.connect(address)
                    return True
                except OSError:
                    continue
        return False
    try:
        socket.create_connection((host, 6000 + number), timeout=timeout).close()
        return True
    except OSError:
        return False


def _platforms(environ: Mapping[str, str], plugins: Path | None) -> list[str]:
    """The platform plugins Qt will try, in order (QT_QPA_PLATFORM may list several)."""
    wanted = environ.get("QT_QPA_PLATFORM", "").strip()
    if wanted:
        return [p.split(":")[0].strip().lower() for p in wanted.split(";") if p.strip()]
    has_wayland = plugins is not None and any(plugins.glob("libqwayland*.so"))
    if environ.get("WAYLAND_DISPLAY") and has_wayland:
        return ["wayland", "xcb"]
    return ["xcb"]


def _xcb_problem(environ: Mapping[str, str], qt: Path | None, ldd: LddRunner,
                 connect: Callable[[str], bool | None]) -> str | None:
    files = []
    if qt is not None:
        files = [qt / "plugins" / "platforms" / "libqxcb.so",
                 *sorted((qt / "lib").glob("libQt6XcbQpa.so*"))[:1]]
    missing = missing_libraries(files, ldd)
    display = environ.get("DISPLAY", "").strip()
    problems = []
    if not display:
        problems.append("no graphical display was found (the DISPLAY environment variable is "
                        "empty: this looks like a server, a container or an ssh session "
                        "without X forwarding)")
    elif connect(display) is False:
        problems.append(f"no X server answers at DISPLAY={display}")
    if missing:
        problems.append("the X11 part of Qt needs system libraries that are not installed: "
                        + ", ".join(missing))
    if not problems:
        return None
    text = "DL Studio cannot open its window: " + "; and ".join(problems) + "."
    if missing:
        text += " " + install_advice(missing)
    if not display:
        text += " Start it from a desktop session (or with 'ssh -X')."
    return text


def _wayland_problem(environ: Mapping[str, str], plugins: Path | None) -> str | None:
    if not environ.get("WAYLAND_DISPLAY"):
        return ("DL Studio cannot open its window: QT_QPA_PLATFORM asks for Wayland, but no "
                "Wayland display was found (WAYLAND_DISPLAY is empty).")
    if plugins is not None and not any(plugins.glob("libqwayland*.so")):
        return ("DL Studio cannot open its window: QT_QPA_PLATFORM asks for Wayland, but this "
                "PySide6 has no Wayland plugin; unset QT_QPA_PLATFORM to use X11.")
    return None


def display_problem(environ: Mapping[str, str] | None = None, platform: str | None = None,
                    qt: Path | None = None, ldd: LddRunner = run_ldd,
                    connect: Callable[[str], bool | None] = x_server_answers) -> str | None:
    """Why the desktop app cannot open a window here, as one plain paragraph; None when it can
    (or when this cannot tell). The parameters default to this process and this machine."""
    environ = os.environ if environ is None else environ
    if environ.get("DLSTUDIO_SKIP_DISPLAY_CHECK"):
        return None
    if not (platform or sys.platform).startswith("linux"):
        return None                     # macOS and Windows always have their window system
    qt = qt or qt_folder()
    plugins = qt / "plugins" / "platforms" if qt is not None else None
    problem = None
    for name in _platforms(environ, plugins):
        if name in NO_DISPLAY_PLATFORMS:
            return None
        if name == "xcb":
            problem = _xcb_problem(environ, qt, ldd, connect)
        elif name.startswith("wayland"):
            problem = _wayland_problem(environ, plugins)
        else:
            return None                 # eglfs, linuxfb, ...: Qt decides
        if problem is None:
            return None
    return f"{problem} {CLI_HINT}" if problem else None
