"""Run Python's cyclic garbage collector only in the GUI thread.

Python's automatic collection runs in whichever thread happens to allocate. When a worker thread triggers
it and the cycle holds Qt widgets (a closed dialog, a window's menus), their C++ destructors run in that
worker thread: Qt then waits for a mutex held by the GUI thread while the GUI thread waits for the GIL,
and the app freezes (seen in the test suite: a QMenu destroyed from a worker's ``json.loads``). The fix used
by pyqtgraph and others: disable automatic collection and collect from a timer in the GUI thread.
"""

from __future__ import annotations

import gc
import threading
from typing import Optional

from PySide6.QtCore import QCoreApplication

_collector: Optional[object] = None


def ensure_installed(interval_s: float = 0.5) -> bool:
    """Install the GUI-thread collector once (needs a QApplication); True when it is active."""
    global _collector
    if _collector is not None:
        return True
    app = QCoreApplication.instance()
    if app is None or threading.current_thread() is not threading.main_thread():
        return False
    from pyqtgraph.util.garbage_collector import GarbageCollector

    _collector = GarbageCollector(interval=interval_s)
    app.aboutToQuit.connect(_uninstall)
    return True


def _uninstall() -> None:
    global _collector
    if _collector is not None:
        _collector.timer.stop()
        _collector = None
    gc.enable()
    gc.collect()
