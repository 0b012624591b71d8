"""The PySide6 application (the only package that imports Qt)."""

from strfviewer.gui import _refcount_guard

_refcount_guard.install()
