"""Render the application icon's PNG sizes from its SVG source (Qt's own SVG renderer).

    .venv/bin/python packaging/make_icons.py

Writes src/dlstudio/resources/icons/dlstudio-<N>.png for every N in SIZES, next to
dlstudio.svg. The PNGs are committed (the window, the About box, the desktop entry and the
frozen build use them); run this again after editing the SVG.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parent.parent / "src" / "dlstudio" / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)   # the hicolor theme's usual sizes


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])   # noqa: F841
    renderer = QSvgRenderer(str(ICONS / "dlstudio.svg"))
    if not renderer.isValid():
        print(f"cannot read {ICONS / 'dlstudio.svg'}", file=sys.stderr)
        return 1
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        out = ICONS / f"dlstudio-{size}.png"
        if not image.save(str(out)):
            print(f"cannot write {out}", file=sys.stderr)
            return 1
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
