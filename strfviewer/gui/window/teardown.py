"""Destroy the app's Qt objects in a safe order before Python shuts down.

Left to PySide, every remaining Qt object is destroyed from an ``atexit`` hook while the interpreter finalises,
in no particular order. pyqtgraph makes that order matter: a ``PlotItem`` (``ColorBarItem`` is one) owns a
``QWidgetAction`` whose default widget is a parentless control panel that Python also holds, and each
``ViewBox`` holds a parentless context menu. When the panel is destroyed first and the plot after, the action
deletes the panel a second time and the process dies with SIGSEGV; a plot that is in no scene when the app quits
(a colour bar not yet placed) is destroyed after those panels about half the time. Deleting in this order, while
Python is still whole, runs every destructor once: the main window (its scenes take their items, actions and
panels with them), then graphics items that are in no scene, then the remaining parentless widgets (menus,
dialogs).
"""

from __future__ import annotations

import gc


def delete_qt_objects(app, main_window=None) -> None:
    """Delete ``main_window``, then orphaned graphics items, then every other top-level widget of ``app``;
    call after ``app.exec()`` returned."""
    import shiboken6
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QGraphicsItem

    if main_window is not None and shiboken6.isValid(main_window):
        shiboken6.delete(main_window)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    orphans = [obj for obj in gc.get_objects()
               if issubclass(type(obj), QGraphicsItem) and shiboken6.isValid(obj)
               and obj.parentItem() is None and obj.scene() is None]
    for item in orphans:
        if shiboken6.isValid(item):  # an earlier orphan may have taken it along
            shiboken6.delete(item)
    for widget in list(app.topLevelWidgets()):
        if shiboken6.isValid(widget) and widget.parent() is None:
            shiboken6.delete(widget)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
