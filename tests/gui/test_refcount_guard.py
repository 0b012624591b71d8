"""The PySide6 6.12 / Python < 3.12 reference-count work-around keeps None, True and False alive."""

import sys

import strfviewer.gui  # noqa: F401 - installs the guard
from strfviewer.gui.window import refcount_guard as _refcount_guard


def test_many_void_qt_calls_leave_none_alive():
    from PySide6.QtCore import QObject

    probe = QObject()
    for _ in range(20000):  # without the guard on an affected build this aborts with none_dealloc
        probe.setObjectName("x")
    assert sys.getrefcount(None) > 1000


def test_guard_is_applied_exactly_when_the_leak_exists():
    if sys.version_info >= (3, 12):
        assert not _refcount_guard._installed  # immortal objects: nothing to do
    elif _refcount_guard.leaks_none_reference():
        assert _refcount_guard._installed and sys.getrefcount(None) > (1 << 39)
    assert _refcount_guard.install() is False  # idempotent
