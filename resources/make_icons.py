"""Render ``resources/strfviewer.svg`` to PNGs (16..256 px) with Qt's QSvgRenderer.

Writes ``resources/icons/strfviewer-<size>.png`` and copies the SVG and PNGs to ``strfviewer/gui/icons/``
(the package data the app loads at run time). Run from anywhere: ``python resources/make_icons.py``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SIZES = (16, 24, 32, 48, 64, 128, 256)
HERE = Path(__file__).resolve().parent
SVG = HERE / "strfviewer.svg"
OUT = HERE / "icons"
PACKAGE_ICONS = HERE.parent / "strfviewer" / "gui" / "icons"


def render(svg: Path, size: int, path: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a valid SVG for Qt")
    image = QImage(size, size, QImage.Format_ARGB32)
    image.fill(Qt.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.Antialiasing)
    painter.setRenderHint(QPainter.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    tmp = path.with_name(path.name + ".tmp.png")
    if not image.save(str(tmp), "PNG"):
        raise OSError(f"could not write {tmp}")
    os.replace(tmp, path)


def main() -> int:
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - needed by QImage/QPainter
    OUT.mkdir(exist_ok=True)
    PACKAGE_ICONS.mkdir(exist_ok=True)
    for size in SIZES:
        png = OUT / f"strfviewer-{size}.png"
        render(SVG, size, png)
        shutil.copyfile(png, PACKAGE_ICONS / png.name)
        print(f"wrote {png}")
    shutil.copyfile(SVG, PACKAGE_ICONS / SVG.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
