"""The PySide6 application (the only package that imports Qt)."""

from strfviewer.gui.window import refcount_guard as _refcount_guard

_refcount_guard.install()
