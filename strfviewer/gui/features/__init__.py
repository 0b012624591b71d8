"""Optional feature packs plugged into the main window.

Each module in :data:`FEATURE_MODULES` exposes ``install(window) -> None`` and adds its menus, docks,
toolbar actions and context-menu entries through the main window's public API (``window.menu(name)``,
``window.add_dock(...)``, ``window.session`` ...). Keeping features out of ``main_window.py`` keeps that
file small and lets each feature be tested on its own.
"""

from __future__ import annotations

import importlib
import logging
from typing import List

log = logging.getLogger(__name__)

#: feature modules under strfviewer.gui.features, installed in this order
FEATURE_MODULES = ("fitting", "listening", "exporting", "dreaming", "history")


def install_all(window) -> List[str]:
    """Install every available feature module into ``window``; returns the names installed."""
    installed = []
    for name in FEATURE_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue
            raise
        module.install(window)
        installed.append(name)
    return installed
