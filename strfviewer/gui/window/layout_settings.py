"""The main window's settings and layout: last paths, recent items, window/dock/splitter state, default layout.

A mixin of :class:`strfviewer.gui.main_window.MainWindow` (uses ``_settings``, ``docks``, ``splitters``,
``views``, ``view_specs``, ``recent_menu`` of the window).
"""

from __future__ import annotations

from pathlib import Path
from typing import List

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtWidgets import QWidget

MAX_RECENT = 10
#: dock areas of the view registry's areas (the others, 'time' and 'center', are central)
DOCK_AREAS = {"left": Qt.LeftDockWidgetArea, "right": Qt.RightDockWidgetArea, "bottom": Qt.BottomDockWidgetArea}


#: the smallest window the layout is made for (the app is laid out for 1280 x 720 upwards)
MIN_WINDOW_SIZE = (1024, 640)
#: the time column (spectrogram over PSTH) never gets narrower than this (px): at 800 x 600 the gradmap's
#: minimum width left it about 100 px
TIME_COLUMN_MIN_WIDTH = 400
#: share of the central area the time column gets by default (the gradmap the rest)
TIME_COLUMN_SHARE = 0.6


def left_dock_width(window_width: int, wanted: int = 0) -> int:
    """Default width (px) of the left docks (neuron table, stimuli): what the neuron table ``wanted`` (full names,
    every run's cc_norm) up to 35 % of the window, and at least 26 % of it (260..560 px)."""
    base = max(260, min(560, window_width * 26 // 100))
    return max(base, min(int(wanted), window_width * 35 // 100))


def default_window_size(widget: QWidget) -> tuple:
    """90 % of the screen, between 1024 x 700 and 1680 x 1050 px."""
    screen = widget.screen()
    if screen is None:
        return 1280, 800
    area = screen.availableGeometry()
    return (max(1024, min(1680, int(area.width() * 0.9))), max(700, min(1050, int(area.height() * 0.9))))


class WindowSettingsMixin:
    """Settings, recent items and layout, on the main window."""

    def set_last(self, what: str, value: str) -> None:
        self._settings.setValue(f"last/{what}", value)
        if what == "dataset" and value != "demo" and Path(value).exists():
            self._settings.setValue("paths/last_folder", str(Path(value).parent))

    def recent(self) -> List[str]:
        value = self._settings.value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: str) -> None:
        items = [p for p in self.recent() if p != path]
        self._settings.setValue("recent", ([path] + items)[:MAX_RECENT])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        items = self.recent()
        for path in items:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_path(p))
        if not items:
            self.recent_menu.addAction("(none)").setEnabled(False)

    def restore_settings(self) -> None:
        s = self._settings
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(*default_window_size(self))
        state = s.value("window/state")
        self._restored_state = isinstance(state, QByteArray) and not state.isEmpty()
        if self._restored_state:
            self.restoreState(state)
        # splitter states are applied once the window has its final size (first show), else the dock
        # layout shrinks the central area afterwards and the splitters scale away from what was saved
        self._pending_splitters = {name: value for name in self.splitters
                                   if isinstance(value := s.value(f"splitters/{name}"), QByteArray)
                                   and not value.isEmpty()}
        if s.value("view/grid", False) in (True, "true") and "gradmap" in self.views:
            self.views["gradmap"].set_grid(True)

    def restore_dock_state(self) -> bool:
        """Apply the saved dock layout to the docks that exist now. ``restore_settings`` runs before the feature
        packs add their docks, and ``restoreState`` leaves docks it did not know at their default place: every
        later start put the Training, Runs, Listening... docks side by side instead of tabbed, and their minimum
        widths made the window wider than the screen."""
        state = self._settings.value("window/state")
        if not (isinstance(state, QByteArray) and not state.isEmpty()):
            return False
        return bool(self.restoreState(state))

    def save_settings(self) -> None:
        s = self._settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        for name, splitter in self.splitters.items():
            s.setValue(f"splitters/{name}", splitter.saveState())
        if "gradmap" in self.views:
            s.setValue("view/grid", self.views["gradmap"].grid_box.isChecked())
        s.sync()

    def arrange_docks(self) -> None:
        """Default layout: the left docks (neurons above stimuli) on the left; the other docks (views of the
        right or bottom area, feature packs' panels) share one tabbed area at the bottom (Runs in front, else the
        first), so the central views keep most of the window."""
        for name, dock in self.docks.items():
            dock.setFloating(False)
            dock.show()
            spec = self.view_specs.get(name)
            if spec is not None and spec.area in DOCK_AREAS:  # a view's dock back in its own area
                self.addDockWidget(DOCK_AREAS[spec.area], dock)
        left = self._left_docks()
        group = [d for d in self.docks.values()
                 if self.dockWidgetArea(d) in (Qt.BottomDockWidgetArea, Qt.RightDockWidgetArea)]
        for dock in group:
            self.addDockWidget(Qt.BottomDockWidgetArea, dock)
        for other in group[1:]:
            self.tabifyDockWidget(group[0], other)
        if group:  # the Runs dock in front (an empty Training dock says little; a fit brings it forward)
            front = self.docks.get("runs_dock")
            self._front_dock = front if front in group else group[0]
            self._front_dock.raise_()
        self._sizes_pending = (left, group[:1])
        if self.isVisible():
            self._apply_default_sizes()

    def _left_docks(self) -> list:
        """The docks docked in the left area (neuron table, stimuli)."""
        return [d for d in self.docks.values()
                if self.dockWidgetArea(d) == Qt.LeftDockWidgetArea and not d.isFloating()]

    def _apply_default_sizes(self) -> None:
        left, bottom = getattr(self, "_sizes_pending", ([], []))
        self._sizes_pending = ([], [])
        if left:
            neurons = getattr(self, "views", {}).get("neurons")
            wanted = neurons.preferred_width() if hasattr(neurons, "preferred_width") else 0
            self.resizeDocks(left, [left_dock_width(self.width(), wanted)] * len(left), Qt.Horizontal)
            self._note_left_auto_width(left[0])
        if bottom:
            self.resizeDocks(bottom, [max(180, self.height() // 4)], Qt.Vertical)
            front = getattr(self, "_front_dock", None)
            if front is not None:  # again once shown: a raise before the first show may be lost
                front.raise_()
        width = max(400, self.main_splitter.width())
        time_column = max(TIME_COLUMN_MIN_WIDTH, int(width * TIME_COLUMN_SHARE))
        self.main_splitter.setSizes([time_column, max(1, width - time_column)])

    def widen_left_docks(self) -> None:
        """Give the neuron table the width its columns now need (a new dataset's names, a new run's cc_norm
        column), up to :func:`left_dock_width`'s cap, unless the user has dragged the docks to a width of their
        own since the app last set it: they stay as the user left them."""
        neurons = getattr(self, "views", {}).get("neurons")
        dock = getattr(self, "docks", {}).get("neurons")
        if dock is None or not hasattr(neurons, "preferred_width") or dock.isFloating() or not dock.isVisible():
            return
        if self.dockWidgetArea(dock) != Qt.LeftDockWidgetArea:
            return
        auto = getattr(self, "_left_auto_width", None)  # None: never sized by the app; "pending": being sized
        users = (getattr(self, "_restored_state", False) if auto is None  # a restored layout is the user's
                 else auto != "pending" and abs(dock.width() - auto) > 2)  # dragged since the app sized it
        target = left_dock_width(self.width(), neurons.preferred_width())
        if users or target <= dock.width():
            return
        left = self._left_docks()
        self.resizeDocks(left, [target] * len(left), Qt.Horizontal)
        self._note_left_auto_width(dock)

    def _note_left_auto_width(self, dock) -> None:
        """Remember the width the layout gives ``dock`` once it has applied a resize (next event-loop pass)."""
        from PySide6.QtCore import QTimer

        self._left_auto_width = "pending"
        QTimer.singleShot(0, self, lambda: setattr(self, "_left_auto_width", dock.width()))

    def _restore_splitters(self) -> None:
        pending, self._pending_splitters = self._pending_splitters, {}
        for name, value in pending.items():
            self.splitters[name].restoreState(value)

    def reset_layout(self) -> None:
        self.arrange_docks()
        for name, action in self.actions.items():
            if name.startswith("view_"):  # every central view shown again
                action.setChecked(True)
        self.plots_splitter.setSizes([300] * self.plots_splitter.count())
        self.main_splitter.setSizes([700] + [440] * (self.main_splitter.count() - 1))
