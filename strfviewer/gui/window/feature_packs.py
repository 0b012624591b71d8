"""Optional feature packs plugged into the main window.

Each package in :data:`FEATURE_MODULES` (``strfviewer.gui.<name>``) exposes ``install(window)`` and adds its menus, docks,
toolbar actions and context-menu entries through the main window's public API (``window.menu(name)``,
``window.add_dock(...)``, ``window.session`` ...). Keeping features out of ``main_window.py`` keeps that
file small and lets each feature be tested on its own.
"""

from __future__ import annotations

import importlib
import logging
from typing import List

log = logging.getLogger(__name__)

#: feature packages under strfviewer.gui, installed in this order
FEATURE_MODULES = ("fitting", "listening", "exporting", "dreaming", "history")


def install_all(window) -> List[str]:
    """Install every available feature module into ``window``; returns the names installed."""
    installed = []
    for name in FEATURE_MODULES:
        try:
            module = importlib.import_module(f"strfviewer.gui.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"strfviewer.gui.{name}":
                continue
            raise
        module.install(window)
        installed.append(name)
    return installed
