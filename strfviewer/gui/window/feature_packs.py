"""Optional feature packs plugged into the main window, discovered rather than listed.

A feature pack is a subpackage of :mod:`strfviewer.gui` (``gui/fitting``, ``gui/listening`` ...) whose
``__init__`` defines ``install(window)`` and ``INSTALL_ORDER`` (an int; packs are installed by increasing order,
then name; a pack without one comes last). ``install`` adds the pack's menus, docks, toolbar actions and
context-menu entries through the main window's public API (``window.menu(name)``, ``window.add_dock(...)``,
``window.add_view(spec)``, ``window.qt_session`` ...). Subpackages without ``install`` (``views``, ``window``)
are plumbing, not packs. Keeping features out of ``main_window.py`` keeps that file small and lets each
feature be tested on its own; a new pack is one new folder, with no list to edit.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from typing import List, Tuple

log = logging.getLogger(__name__)

GUI_PACKAGE = "strfviewer.gui"
DEFAULT_ORDER = 1000


def feature_modules() -> List[Tuple[int, str, object]]:
    """``(INSTALL_ORDER, name, module)`` of every feature pack under :mod:`strfviewer.gui`, in install order."""
    gui = importlib.import_module(GUI_PACKAGE)
    found = []
    for info in pkgutil.iter_modules(gui.__path__):
        if not info.ispkg:
            continue
        module = importlib.import_module(f"{GUI_PACKAGE}.{info.name}")
        if callable(getattr(module, "install", None)):
            found.append((int(getattr(module, "INSTALL_ORDER", DEFAULT_ORDER)), info.name, module))
    return sorted(found, key=lambda item: item[:2])


def install_all(window) -> List[str]:
    """Install every feature pack into ``window``; returns the names installed, in order."""
    installed = []
    for _order, name, module in feature_modules():
        module.install(window)
        installed.append(name)
    return installed
