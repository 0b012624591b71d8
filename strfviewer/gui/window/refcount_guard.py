"""Work around a reference-count bug of PySide6 6.12's ``abi3`` wheels on Python < 3.12.

Those wheels are built against the stable ABI of a Python where ``None``, ``True`` and ``False`` are
immortal (PEP 683), so a void method such as ``QWidget.show()``, ``QThread.quit()`` or
``QCoreApplication.processEvents()`` returns ``None`` without taking a reference. On Python 3.10/3.11 every
such call drops one reference of ``None``; after a few thousand calls the interpreter aborts with
"Fatal Python error: none_dealloc" (or ``bool_dealloc``), often at exit.

:func:`install` measures the leak with a harmless call and, when present, gives ``None``, ``True`` and
``False`` a very large reference count, which is what Python 3.12 does for immortal objects: they are never
deallocated either way, so the extra references change nothing else.
"""

from __future__ import annotations

import ctypes
import sys

_BOOST = 1 << 40
_installed = False


def leaks_none_reference() -> bool:
    """True when a void PySide6 call loses a reference of ``None`` (the bug above)."""
    from PySide6.QtCore import QObject

    probe = QObject()
    calls = 200
    before = sys.getrefcount(None)
    for _ in range(calls):
        probe.setObjectName("probe")
    lost = before - sys.getrefcount(None)
    return lost >= calls // 2


def install() -> bool:
    """Apply the work-around once when the bug is present; returns True when it was applied."""
    global _installed
    if _installed or sys.version_info >= (3, 12):
        return False
    if not leaks_none_reference():
        return False
    for obj in (None, True, False):
        # ob_refcnt is the first field of every object in CPython < 3.12 (Py_ssize_t)
        ctypes.c_ssize_t.from_address(id(obj)).value += _BOOST
    _installed = True
    return True
