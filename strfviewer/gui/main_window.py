"""The main window: menus, docks, the registered views, the status bar and the public API feature packs use.

Public API (see ``docs/contracts.md``): ``session``, ``qt_session``, ``menu(name)``, ``add_dock(...)``,
``add_view(spec)``, ``views``, ``view_specs``, ``actions``, ``status(...)``, ``show_error(...)``,
``start_worker(...)``, ``settings()``.
Views come from the view registry (:mod:`strfviewer.gui.views.registry`): the window builds and places each,
and subscribes it to the Qt session's signals of what it depends on (redraws debounced).
File actions live in :mod:`strfviewer.gui.window.file_actions`, settings and layout in
:mod:`strfviewer.gui.window.layout_settings` (mixins of the window).
Long work (opening data or models, predictions, gradmaps, fits) runs in workers; errors from the engine
become a dialog and the previous dataset stays open.
"""

from __future__ import annotations

import logging
from typing import Callable, Dict, List, Optional

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QLabel, QMainWindow, QMenu, QMessageBox, QProgressBar,
                               QSplitter, QWidget)

from strfviewer.gui.views import registry as view_registry
from strfviewer.gui.views.registry import ViewSpec
from strfviewer.gui.window import model_io
from strfviewer.gui.window.file_actions import WindowIOMixin
from strfviewer.gui.window.layout_settings import (DOCK_AREAS, MIN_WINDOW_SIZE, TIME_COLUMN_MIN_WIDTH,
                                                   WindowSettingsMixin)
from strfviewer.gui.window.qt_session import QtSession
from strfviewer.gui.window.status_bar import ElidingStatusBar
from strfviewer.gui.window.workers import Worker, WorkerPool
from strfviewer.session import Session

log = logging.getLogger(__name__)

MENUS = ("File", "View", "Fit", "Tools", "Help")
REDRAW_DELAY_MS = 8  # selection changes arriving within this delay are drawn once


class MainWindow(WindowIOMixin, WindowSettingsMixin, QMainWindow):
    """strfviewer's main window over a :class:`Session`."""

    #: emitted after a dataset was opened by the window (payload: the dataset)
    datasetOpened = Signal(object)

    def __init__(self, session: Optional[Session] = None, settings: Optional[QSettings] = None,
                 install_features: bool = True) -> None:
        super().__init__()
        self.setObjectName("strfviewerMainWindow")
        self.setWindowTitle("strfviewer")
        self.setAcceptDrops(True)
        self.session = session if session is not None else Session()
        self.qt_session = QtSession(self.session, self)
        self._settings = settings if settings is not None else QSettings()
        self.worker_pool = WorkerPool(self)
        self.errors: List[tuple] = []  # (title, message) of every error shown
        self.error_box: Optional[QMessageBox] = None
        self.actions: Dict[str, QAction] = {}
        self._menus: Dict[str, QMenu] = {}
        self.docks: Dict[str, QDockWidget] = {}

        self._build_central()
        self._build_menus()
        self._build_views()
        self._build_status_bar()
        self._connect_session()
        self.restore_settings()
        if self.session.dataset is not None:
            self._on_dataset(self.session.dataset)
            for name in self.views:
                self._bring_up_to_date(name)
        if install_features:
            from strfviewer.gui.window import feature_packs as features

            self.installed_features = features.install_all(self)
        else:
            self.installed_features = []
        if not self._restored_state:
            self.arrange_docks()
        else:  # again, now that the feature packs' docks exist (the first pass only knew the left docks)
            self.restore_dock_state()

    # ================================================================================================
    # public API
    # ================================================================================================
    def menu(self, name: str) -> QMenu:
        """The top-level menu ``name`` ('File', 'View', 'Fit', 'Tools', 'Help'; others are created)."""
        if name not in self._menus:
            menu = QMenu(name.replace("&", ""), self)
            menu.setObjectName(f"menu{name}")
            help_menu = self._menus.get("Help")
            if help_menu is not None:
                self.menuBar().insertMenu(help_menu.menuAction(), menu)
            else:
                self.menuBar().addMenu(menu)
            menu.setTitle(f"&{name}")
            self._menus[name] = menu
        return self._menus[name]

    def add_dock(self, title: str, widget: QWidget, area=Qt.RightDockWidgetArea, name: Optional[str] = None
                 ) -> QDockWidget:
        """Add ``widget`` in a dock (object name ``name`` so its place is restored); listed in View."""
        name = name or title.lower().replace(" ", "_")
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[name] = dock
        self.menu("View").insertAction(self._view_separator, dock.toggleViewAction())
        state = self._settings.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreDockWidget(dock)
        return dock

    def status(self, message: str, timeout_ms: int = 0) -> None:
        self.statusBar().showMessage(message, timeout_ms)

    def show_error(self, title: str, message: str) -> None:
        """A readable, non-blocking error dialog; the app keeps running."""
        log.warning("%s: %s", title, message)
        self.errors.append((title, message))
        if self.error_box is not None:
            self.error_box.close()
        box = QMessageBox(QMessageBox.Warning, title, message, QMessageBox.Ok, self)
        box.setObjectName("errorBox")
        box.setWindowModality(Qt.WindowModal)
        box.open()
        self.error_box = box
        self.status(f"{title}: {message.splitlines()[0] if message else ''}", 10000)

    def start_worker(self, fn: Callable, on_finished: Optional[Callable] = None, on_failed: Optional[Callable] = None,
                     on_progress: Optional[Callable] = None, on_partial: Optional[Callable] = None,
                     on_done: Optional[Callable] = None, name: str = "", busy: str = "") -> Worker:
        """Run ``fn(progress, cancel)`` in a worker thread; callbacks run in the GUI thread. Without
        ``on_failed`` a failure shows an error dialog. ``busy`` is shown in the status bar meanwhile."""
        if on_failed is None:
            def on_failed(message: str, _name=name or "task") -> None:
                self.show_error(f"{_name} failed", message)
        if busy:
            self.status(busy)
        return self.worker_pool.start(fn, on_finished=on_finished, on_failed=on_failed, on_progress=on_progress,
                                      on_partial=on_partial, on_done=on_done, name=name)

    def settings(self) -> QSettings:
        return self._settings

    # ================================================================================================
    # layout
    # ================================================================================================
    def _build_central(self) -> None:
        """The central area: a column of time views (x-linked) left of the other central views."""
        self.views: Dict[str, QWidget] = {}
        self.view_specs: Dict[str, ViewSpec] = {}
        self.plots_splitter = QSplitter(Qt.Vertical)
        self.plots_splitter.setObjectName("plotsSplitter")
        self.main_splitter = QSplitter(Qt.Horizontal)
        self.main_splitter.setObjectName("mainSplitter")
        self.main_splitter.addWidget(self.plots_splitter)
        self.main_splitter.setStretchFactor(0, 3)
        self.main_splitter.setChildrenCollapsible(False)
        self.plots_splitter.setMinimumWidth(TIME_COLUMN_MIN_WIDTH)
        self.setMinimumSize(*MIN_WINDOW_SIZE)
        self.setCentralWidget(self.main_splitter)
        self.splitters = {"plots": self.plots_splitter, "main": self.main_splitter}
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(REDRAW_DELAY_MS)
        self._redraw_timer.timeout.connect(self._redraw_due)
        self._due: set = set()

    def _build_views(self) -> None:
        """Every registered view (see :mod:`strfviewer.gui.views.registry`), in registry order."""
        for spec in view_registry.view_specs():
            self.add_view(spec, refresh=False)
        self.plots_splitter.setSizes([300] * self.plots_splitter.count())
        self.main_splitter.setSizes([700] + [440] * (self.main_splitter.count() - 1))
        gradmap = self.views.get("gradmap")
        grid = self.actions["grid_mode"]
        if gradmap is not None:
            grid.toggled.connect(gradmap.set_grid)
            gradmap.grid_box.toggled.connect(grid.setChecked)
        else:
            grid.setEnabled(False)

    def add_view(self, spec: ViewSpec, refresh: bool = True) -> QWidget:
        """Build the view of ``spec``, place it (central area or a dock, listed in View), subscribe it to the
        Qt session's signals of what it depends on, and (``refresh``) bring it up to date; returns it."""
        if spec.name in self.views:
            raise ValueError(f"the window has a view named {spec.name!r} already")
        view = spec.create(self)
        view.setObjectName(view.objectName() or f"view_{spec.name}")
        self.views[spec.name] = view
        self.view_specs[spec.name] = spec
        if spec.area == "time":
            first = next((v for n, v in self.views.items() if self.view_specs[n].area == "time"), None)
            if first is not view and hasattr(view, "plot") and hasattr(first, "plot"):
                view.plot.setXLink(first.plot)  # one time axis (ms) for the whole column
            self.plots_splitter.addWidget(view)
        elif spec.area == "center":
            self.main_splitter.addWidget(view)
            self.main_splitter.setStretchFactor(self.main_splitter.count() - 1, 2)
        else:
            self.add_dock(spec.title, view, DOCK_AREAS[spec.area], spec.name)
        if spec.is_central:
            self._add_central_toggle(spec, view)
        self.qt_session.follow(view, spec.depends,
                               lambda dependency, _payload, n=spec.name: self._view_changed(n, dependency))
        if refresh and self.session.dataset is not None:
            self._bring_up_to_date(spec.name)
        return view

    def _add_central_toggle(self, spec: ViewSpec, view: QWidget) -> None:
        """View > <title>: show or hide a central view (docks have their own toggle)."""
        action = QAction(spec.title, self)
        action.setObjectName(f"action_view_{spec.name}")
        action.setCheckable(True)
        action.setChecked(True)
        action.toggled.connect(view.setVisible)
        self.menu("View").insertAction(self._view_separator, action)
        self.actions[f"view_{spec.name}"] = action

    def _view_changed(self, name: str, dependency: str) -> None:
        """Something view ``name`` depends on changed: its handler for it now, else a debounced redraw."""
        method = self.view_specs[name].on.get(dependency)
        if method is not None:
            getattr(self.views[name], method)()
        else:
            self.schedule(name)

    def _bring_up_to_date(self, name: str) -> None:
        """A view that has just been built (or a new dataset at start): its 'dataset' handler, then a redraw."""
        spec = self.view_specs[name]
        if "dataset" in spec.on:
            getattr(self.views[name], spec.on["dataset"])()
        if spec.redraws:
            self.schedule(name)

    def _build_menus(self) -> None:
        for name in MENUS:
            self.menu(name)
        a = self._add_action
        f = self.menu("File")
        a("open_data", "File", "&Open data folder...", self.open_data_dialog, "Ctrl+O")
        a("open_data_file", "File", "Open data &file (NWB, NPZ)...", self.open_data_file_dialog)
        a("open_model", "File", "Open &model (folder or Hub id)...", self.open_model_dialog, "Ctrl+Shift+O")
        a("open_demo", "File", "Open &demo data", lambda: self.open_demo(fit=True))
        self.recent_menu = f.addMenu("&Recent")
        self.recent_menu.setObjectName("menuRecent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        f.addSeparator()
        a("save_model", "File", "&Save model...", self.save_model_dialog, "Ctrl+S")
        export = a("export", "File", "&Export...", None, "Ctrl+E")
        export.setEnabled(False)
        export.setToolTip("figures and data export (feature pack)")
        f.addSeparator()
        a("quit", "File", "&Quit", self.close, "Ctrl+Q")

        v = self.menu("View")
        a("next_neuron", "View", "&Next neuron", lambda: self.step_neuron(+1), "Alt+Down")
        a("previous_neuron", "View", "&Previous neuron", lambda: self.step_neuron(-1), "Alt+Up")
        a("next_stimulus", "View", "Next &stimulus", lambda: self.step_stimulus(+1), "Alt+Right")
        a("previous_stimulus", "View", "Previous s&timulus", lambda: self.step_stimulus(-1), "Alt+Left")
        grid = a("grid_mode", "View", "STRF &grid of the best neurons", None, "Ctrl+G")
        grid.setCheckable(True)  # connected to the gradmap view once it exists (_build_views)
        a("filter_neurons", "View", "&Filter neurons", self._focus_filter, "Ctrl+F")
        v.addSeparator()
        self._view_separator = v.addSeparator()
        a("reset_layout", "View", "&Reset layout", self.reset_layout)

        a("quick_fit", "Fit", "Quick &ridge fit (Linear, 75 ms)", lambda: self.quick_fit(), "Ctrl+R")
        self.menu("Fit").addSeparator()

        a("shortcuts", "Help", "&Keyboard shortcuts", self.show_shortcuts, "F1")
        a("about", "Help", "&About strfviewer", self.show_about)

    def _add_action(self, key: str, menu: str, text: str, slot: Optional[Callable], shortcut=None) -> QAction:
        action = QAction(text, self)
        action.setObjectName(f"action_{key}")
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if slot is not None:
            action.triggered.connect(lambda _checked=False: slot())
        self.menu(menu).addAction(action)
        self.actions[key] = action
        return action

    def _build_status_bar(self) -> None:
        sb = ElidingStatusBar(self)
        sb.setObjectName("statusBar")
        self.setStatusBar(sb)
        self.busy_bar = QProgressBar()
        self.busy_bar.setObjectName("busyBar")
        self.busy_bar.setMaximumWidth(160)
        self.busy_bar.setRange(0, 0)
        self.busy_bar.hide()
        self.device_label = QLabel()
        self.model_label = QLabel("no model")
        self.dataset_label = QLabel("no dataset")
        for w in (self.busy_bar, self.device_label, self.model_label, self.dataset_label):
            sb.addPermanentWidget(w)
        self.worker_pool.countChanged.connect(self._on_worker_count)
        self.device_label.setText(f"device: {model_io.default_device_name()}")

    def _on_worker_count(self, count: int) -> None:
        self.busy_bar.setVisible(count > 0)
        if count == 0:
            self.busy_bar.setRange(0, 0)

    def set_progress(self, fraction: Optional[float], message: str = "") -> None:
        """Determinate progress (``0..1``) in the status bar, or busy (``None``)."""
        if fraction is None:
            self.busy_bar.setRange(0, 0)
        else:
            self.busy_bar.setRange(0, 1000)
            self.busy_bar.setValue(model_io.progress_value(fraction))
        self.busy_bar.show()
        if message:
            self.status(message)

    def update_status_labels(self) -> None:
        s = self.session
        notes = list(getattr(s.dataset, "warnings", None) or [])
        self.dataset_label.setText(s.dataset_summary() + (f"  ({len(notes)} note{'s' * (len(notes) > 1)})"
                                                          if notes else ""))
        self.dataset_label.setToolTip("\n".join(f"note: {w}" for w in notes))
        run = s.current_run
        if run is None:
            self.model_label.setText("no model")
        else:
            n = run.n_params
            params = f", {n:,} params" if n is not None else ""
            state = "" if run.status == "done" else f" ({run.status})"
            self.model_label.setText(f"model: {s.run_label(run)}{params}{state}")
        device = getattr(getattr(run, "outcome", None), "device", None)
        self.device_label.setText(f"device: {model_io.device_label(device) if device else model_io.default_device_name()}")

    # ================================================================================================
    # session -> views
    # ================================================================================================
    def _connect_session(self) -> None:
        """The window's own subscriptions (title, status bar); views subscribe in :meth:`add_view`."""
        handlers = {"dataset": self._on_dataset, "runs": self._on_runs,
                    "results": self._on_runs_or_results, "run": self._on_runs_or_results}
        self.qt_session.follow(self, handlers, lambda dependency, payload: handlers[dependency](payload))

    def schedule(self, *views: str) -> None:
        """Redraw ``views`` soon, once, however many changes arrive meanwhile (debounced)."""
        self._due.update(views)
        self._redraw_timer.start()

    def redraw_now(self) -> None:
        """Draw every pending view immediately (tests and benchmarks)."""
        self._redraw_timer.stop()
        self._redraw_due()

    def _redraw_due(self) -> None:
        due, self._due = self._due, set()
        for name, view in self.views.items():  # registry order
            if name in due:
                view.redraw()

    def _on_dataset(self, dataset) -> None:
        # "<document> — <application>": Qt appends the application's display name to a title that does not end
        # with it, which made "strfviewer — demo population — strfviewer"
        self.setWindowTitle(f"{dataset.name or dataset.source} — strfviewer")
        self.update_status_labels()
        QTimer.singleShot(0, self, self.widen_left_docks)  # after the table has its new rows

    def _on_runs_or_results(self, _payload) -> None:
        self.update_status_labels()

    def _on_runs(self, payload) -> None:
        self.update_status_labels()
        QTimer.singleShot(0, self, self.widen_left_docks)  # a new run's cc_norm column

    # ================================================================================================
    # navigation
    # ================================================================================================
    def step_neuron(self, step: int) -> None:
        """Select the next/previous neuron in the table's current (sorted, filtered) order."""
        table = self.views["neurons"]
        rows = table.proxy.rowCount()
        if rows == 0:
            return
        current = table.proxy.mapFromSource(table.model.index(self.session.neuron, 0)).row()
        target = 0 if current < 0 else max(0, min(rows - 1, current + step))
        self.session.select_neuron(table.source_row_at(target))

    def step_stimulus(self, step: int) -> None:
        ds = self.session.dataset
        if ds is None:
            return
        names = [s.name for s in ds.stimuli]
        i = names.index(self.session.stimulus) if self.session.stimulus in names else 0
        self.session.select_stimulus(names[max(0, min(len(names) - 1, i + step))])

    def _focus_filter(self) -> None:
        dock = self.docks.get("neurons")
        if dock is not None:
            dock.show()
            dock.raise_()
        self.views["neurons"].filter_edit.setFocus()
        self.views["neurons"].filter_edit.selectAll()

    def show_about(self) -> None:
        from strfviewer import __version__

        QMessageBox.about(self, "About strfviewer",
                          f"<b>strfviewer {__version__}</b><br>Fit, open and explore spectro-temporal receptive "
                          "field (STRF) encoding models of auditory neurons.<br>PySide6 + pyqtgraph over a "
                          "Qt-free PyTorch engine implementing the deepSTRF model family.")

    def shortcut_rows(self) -> List[tuple]:
        """(menu, action text, shortcut) of every action with a shortcut, features' included."""
        rows = []
        for name, menu in self._menus.items():
            for action in menu.actions():
                seq = action.shortcut().toString(QKeySequence.NativeText)
                if seq:
                    rows.append((name, action.text().replace("&", ""), seq))
        rows.append(("Neuron table", "move the selection", "Up / Down / PgUp / PgDown / Home / End"))
        return rows

    def show_shortcuts(self) -> None:
        html = "<table cellspacing=6>" + "".join(
            f"<tr><td><i>{m}</i></td><td>{t}</td><td><b>{k}</b></td></tr>" for m, t, k in self.shortcut_rows())
        box = QMessageBox(QMessageBox.Information, "Keyboard shortcuts", html + "</table>", QMessageBox.Ok, self)
        box.setObjectName("shortcutsBox")
        box.open()
        self._shortcuts_box = box

    # ================================================================================================
    # show, drag and drop, close
    # ================================================================================================
    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if any(getattr(self, "_sizes_pending", ([], []))):
            QTimer.singleShot(0, self, self._apply_default_sizes)
        if self._pending_splitters:
            QTimer.singleShot(0, self, self._restore_splitters)

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if self._dropped_path(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802
        path = self._dropped_path(event.mimeData())
        if path:
            event.acceptProposedAction()
            self.open_path(path)

    @staticmethod
    def _dropped_path(mime) -> Optional[str]:
        if mime is None or not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile():
                return url.toLocalFile()
        return None

    def is_ready(self) -> bool:
        """True once a dataset is shown, nothing runs in the background and the current run's gradmap (if
        any) is drawn: what the smoke test waits for before its screenshot."""
        run = self.session.current_run
        if self.session.dataset is None or self.worker_pool.workers or self._due:
            return False
        if run is None:
            return True
        return run.status != "running" and (run.model is None or self.views["gradmap"].displayed is not None)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.save_settings()
        self.worker_pool.shutdown()
        super().closeEvent(event)
