"""The view registry: every view of the main window declares itself here, once.

A view is a ``QWidget`` registered with a :class:`ViewSpec`: its name (key of ``window.views``), its title
(dock title, View menu entry, export label), where it goes by default, what it depends on, and whether
File > Export offers it. The main window builds, places and subscribes every registered view
(``MainWindow.add_view``); the export feature and the smoke test's geometry dump read the same specs.

Registering: a module of :mod:`strfviewer.gui.views` calls :func:`register_view` at import; every module of
that package is imported by :func:`view_specs` (so a new view is one new file), and a feature pack may
register its own views before the window is built, or add one later with ``window.add_view(spec)``.

Subscription (see :meth:`strfviewer.gui.window.qt_session.QtSession.follow`): for each dependency in
``depends`` the view's ``redraw()`` is scheduled, debounced (changes arriving within a few ms draw once),
unless ``on`` names a method of the view to call at once for that dependency (tables keep their selection
in step immediately; ``reload``, ``sync_selection`` ...). Dependencies: ``dataset``, ``neuron``, ``stimulus``,
``run`` (current / compare run shown), ``results`` (a run's model, predictions or metrics arrived), ``runs``.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Tuple

#: default places of a view: the central area's time column (stacked, x-linked on time in ms), the central
#: area right of it, or a dock in one of the window's dock areas
AREAS = ("time", "center", "left", "right", "bottom")
CENTRAL_AREAS = ("time", "center")


@dataclass(frozen=True)
class ViewSpec:
    """How a view is made and wired.

    ``create(window)`` returns the widget (it may use ``window.session``, ``window.start_worker`` ...);
    ``depends`` lists what the view shows (keys of ``qt_session.DEPENDENCIES``); ``on`` maps some of them to
    a method name called at once instead of the debounced ``redraw()``; ``exportable`` views must show
    their content in ``plot_widgets()`` (or the whole widget is exported); ``order`` sorts views (built-ins
    use 10..50; a new view without one comes after them).
    """

    name: str
    title: str
    create: Callable[[object], object]
    area: str = "right"
    depends: Tuple[str, ...] = ("dataset", "neuron", "stimulus")
    on: Mapping[str, str] = field(default_factory=dict)
    exportable: bool = False
    order: int = 100

    def __post_init__(self) -> None:
        from strfviewer.gui.window.qt_session import DEPENDENCIES

        if not self.name.isidentifier():
            raise ValueError(f"view name {self.name!r} must be an identifier (letters, digits, _)")
        if self.area not in AREAS:
            raise ValueError(f"view {self.name!r}: area {self.area!r} is not one of {AREAS}")
        unknown = [d for d in tuple(self.depends) + tuple(self.on) if d not in DEPENDENCIES]
        if unknown:
            raise ValueError(f"view {self.name!r}: unknown dependency {unknown[0]!r}, expected one of "
                             f"{sorted(DEPENDENCIES)}")
        missing = [d for d in self.on if d not in self.depends]
        if missing:
            raise ValueError(f"view {self.name!r}: 'on' handles {missing[0]!r}, which is not in 'depends'")
        object.__setattr__(self, "depends", tuple(self.depends))
        object.__setattr__(self, "on", dict(self.on))

    @property
    def export_label(self) -> str:
        """What File > Export calls this view."""
        return f"{self.title} view"

    @property
    def redraws(self) -> bool:
        """True when some dependency triggers the debounced ``redraw()``."""
        return any(d not in self.on for d in self.depends)

    @property
    def is_central(self) -> bool:
        return self.area in CENTRAL_AREAS


_REGISTRY: Dict[str, ViewSpec] = {}


def register_view(spec: ViewSpec, replace: bool = False) -> ViewSpec:
    """Add ``spec``; a second view under the same name is an error unless ``replace``."""
    if spec.name in _REGISTRY and not replace and _REGISTRY[spec.name] != spec:
        raise ValueError(f"a view named {spec.name!r} is registered already")
    _REGISTRY[spec.name] = spec
    return spec


def unregister_view(name: str) -> Optional[ViewSpec]:
    """Remove the view ``name`` (tests); returns its spec, ``None`` when there was none."""
    return _REGISTRY.pop(name, None)


def discover() -> None:
    """Import every module of :mod:`strfviewer.gui.views` (each registers its views); cheap once imported."""
    package = importlib.import_module("strfviewer.gui.views")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.ispkg and info.name != "registry":
            importlib.import_module(f"{package.__name__}.{info.name}")


def view_specs() -> List[ViewSpec]:
    """Every registered view, by ``order`` then name (the built-ins first)."""
    discover()
    return sorted(_REGISTRY.values(), key=lambda s: (s.order, s.name))


def spec(name: str) -> Optional[ViewSpec]:
    """The spec of view ``name`` (``None`` when no such view is registered)."""
    discover()
    return _REGISTRY.get(name)


def plot_widgets(view) -> list:
    """The widgets that show a view's content: its ``plot_widgets()``, else the view itself."""
    getter = getattr(view, "plot_widgets", None)
    widgets = list(getter()) if callable(getter) else []
    return widgets or [view]
