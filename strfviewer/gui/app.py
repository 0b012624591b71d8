"""``run_app(argv)``: create the QApplication and the main window, open what was asked (or the demo).

Arguments (after ``strfviewer``): an optional path (data folder, NPZ file, checkpoint folder, Hub id or
``demo``), ``--quit-after MS`` (or ``STRFVIEWER_QUIT_AFTER``: close after MS milliseconds, for smoke tests), ``--screenshot PNG`` (or the
environment variable ``STRFVIEWER_SCREENSHOT``: once the window is ready, save ``QWidget.grab()`` of it and
quit), ``--settings INI`` (use that settings file instead of the user's, e.g. for tests).

First start (no settings yet): the built-in demo data and a ridge-fitted Linear model, in workers, so that
spectrograms, PSTHs and STRFs show within seconds; later starts reopen the last dataset (and model).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional

APP_NAME = "strfviewer"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)
READY_POLL_MS = 200


def icon_dir() -> Path:
    """Folder of the packaged icons (``strfviewer/gui/icons``)."""
    return Path(__file__).resolve().parent / "icons"


def app_icon():
    """The app icon with every packaged PNG size (and the SVG when Qt can render it)."""
    from PySide6.QtGui import QIcon

    icon = QIcon()
    folder = icon_dir()
    for size in ICON_SIZES:
        png = folder / f"strfviewer-{size}.png"
        if png.is_file():
            icon.addFile(str(png))
    svg = folder / "strfviewer.svg"
    if icon.isNull() and svg.is_file():
        icon.addFile(str(svg))
    return icon


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="strfviewer", description="strfviewer desktop app")
    parser.add_argument("path", nargs="?", help="data folder, NPZ file, checkpoint folder, Hub id or 'demo'")
    parser.add_argument("--quit-after", type=int, metavar="MS",
                        default=int(os.environ["STRFVIEWER_QUIT_AFTER"]) if os.environ.get("STRFVIEWER_QUIT_AFTER")
                        else None, help="close the app after MS milliseconds (smoke tests; or STRFVIEWER_QUIT_AFTER)")
    parser.add_argument("--screenshot", metavar="PNG", default=os.environ.get("STRFVIEWER_SCREENSHOT") or None,
                        help="once the window is ready, save a screenshot there and quit")
    parser.add_argument("--settings", metavar="INI", default=os.environ.get("STRFVIEWER_SETTINGS") or None,
                        help="settings file to use instead of the user's")
    return parser.parse_args(argv)


def write_view_geometry(window, path: str, scale: float = 1.0) -> None:
    """``{view name: [x, y, w, h]}`` of each registered view's plot area in screenshot pixels (smoke-test
    helper); hidden views are left out."""
    import json

    from PySide6.QtCore import QPoint

    from strfviewer.gui.views.registry import plot_widgets

    rects = {}
    for name in window.view_specs:
        w = plot_widgets(window.views[name])[0]
        if not w.isVisible():
            continue
        top_left = w.mapTo(window, QPoint(0, 0))
        rects[name] = [int(v * scale) for v in (top_left.x(), top_left.y(), w.width(), w.height())]
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(rects, fh)


def start_session(window, path: Optional[str]) -> None:
    """Open ``path``, else reopen the last dataset (and model), else the demo with a ridge fit."""
    if path:
        window.open_path(path)
        return
    settings = window.settings()
    last_data = settings.value("last/dataset")
    last_model = settings.value("last/model")
    if not last_data:
        window.open_demo(fit=True)
        return
    last_data = str(last_data)
    model_ok = bool(last_model) and Path(str(last_model)).exists()
    if last_data == "demo" and not model_ok:
        window.open_demo(fit=True)
    elif model_ok:
        window.open_data(last_data, then=lambda: window.open_model(str(last_model)))
    else:
        window.open_data(last_data)


def _install_exit_timers(app, window, quit_after: Optional[int], screenshot: Optional[str]) -> None:
    from PySide6.QtCore import QTimer

    state = {"done": False}

    def finish(reason: str) -> None:
        if state["done"]:
            return
        state["done"] = True
        if screenshot:
            window.repaint()
            app.processEvents()
            pixmap = window.grab()
            ok = pixmap.save(str(screenshot))
            write_view_geometry(window, str(screenshot) + ".json", pixmap.devicePixelRatio())
            print(f"strfviewer: screenshot {'saved to' if ok else 'FAILED:'} {screenshot} ({reason})",
                  file=sys.stderr)
        window.close()
        app.quit()

    if screenshot:
        poll = QTimer(window)
        poll.setInterval(READY_POLL_MS)
        ready_since = {"t": None}

        def check() -> None:
            if window.is_ready():
                ready_since["t"] = (ready_since["t"] or 0) + 1
                if ready_since["t"] >= 3:  # stayed ready (and painted) for a few polls
                    poll.stop()
                    finish("ready")
            else:
                ready_since["t"] = None

        poll.timeout.connect(check)
        poll.start()
    if quit_after is not None:
        QTimer.singleShot(int(quit_after), lambda: finish(f"--quit-after {quit_after} ms"))


def run_app(argv: Optional[List[str]] = None) -> int:
    """Run the desktop app; returns the exit code."""
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else APP_NAME])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setDesktopFileName(APP_NAME)
    app.setWindowIcon(app_icon())

    from strfviewer.gui.main_window import MainWindow
    from strfviewer.gui.window.teardown import delete_qt_objects

    settings = QSettings(args.settings, QSettings.IniFormat) if args.settings else QSettings()
    window = MainWindow(settings=settings)
    window.setWindowIcon(app_icon())
    window.show()
    start_session(window, args.path)
    _install_exit_timers(app, window, args.quit_after, args.screenshot)
    code = int(app.exec())
    delete_qt_objects(app, window)
    return code

