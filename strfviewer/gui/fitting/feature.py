"""Fitting feature pack: Fit menu, fit dialog, fit queue, training / runs / model docks.

``install(window)`` adds to the main window:

* Fit > New fit... (Ctrl+Shift+F): :class:`strfviewer.gui.fitting.fit_dialog.FitDialog`, its request queued;
* Fit > Cancel fit (Ctrl+.), Fit > Cancel all queued fits, Fit > Save current run..., Fit > Open run...,
  Fit > Undo (deleting runs);
* docks "Training" (live curves, progress, Cancel), "Runs" (runs table) and "Model" (architecture and
  one-click kernel/prefilter swaps).

The feature object is kept as ``window.fitting`` (tests and other features use it).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QEvent, QObject, Qt, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QFileDialog

from strfviewer.gui.fitting.fit_dialog import FitDialog
from strfviewer.gui.fitting.fit_queue import FitQueue, warm_up_fit_server
from strfviewer.gui.fitting.model_panel import ModelPanel
from strfviewer.gui.fitting.runs_table import RunsPanel, open_run_checkpoint, save_run_checkpoint
from strfviewer.gui.fitting.training_panel import TrainingPanel, fraction_done
from strfviewer.session import Run

LAST_RUN_FOLDER_KEY = "fitting/last_run_folder"


def _safe_folder_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "run"


class FittingFeature(QObject):
    """Everything the fitting feature adds to a main window, and the glue between its parts."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.queue = FitQueue(window.qt_session, self._start_worker, parent=self)
        self.training_panel = TrainingPanel()
        self.runs_panel = RunsPanel(window.qt_session, save_run=self.ask_save_run, open_run=self.ask_open_run)
        self.model_panel = ModelPanel(window.qt_session)
        self.dialog: Optional[FitDialog] = None

        area = Qt.DockWidgetArea
        self.training_dock = window.add_dock("Training", self.training_panel, area.BottomDockWidgetArea,
                                             "training_dock")
        self.runs_dock = window.add_dock("Runs", self.runs_panel, area.BottomDockWidgetArea, "runs_dock")
        self.model_dock = window.add_dock("Model", self.model_panel, area.RightDockWidgetArea, "model_dock")

        self.queue.fit_started.connect(self._on_fit_started)
        self.queue.fit_progress.connect(self.training_panel.add_progress)
        self.queue.fit_progress.connect(self._on_fit_progress)
        self.queue.fit_ended.connect(self._on_fit_ended)
        self.queue.queue_changed.connect(self.training_panel.set_queue_length)
        self.training_panel.cancel_requested.connect(self.queue.cancel_current)
        self.model_panel.refit_requested.connect(self._on_refit_requested)
        self._build_menu()
        window.installEventFilter(self)  # empty the queue before the window waits for its workers on close

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt API
        if watched is self.window and event.type() == QEvent.Type.Close:
            self.queue.close()
        return False

    # -- menu ------------------------------------------------------------------------------------------------
    def _build_menu(self) -> None:
        menu = self.window.menu("Fit")
        self.new_fit_action = self._add(menu, "&New fit...", self.open_dialog, "Ctrl+Shift+F",
                                        "Choose a model and training settings and start a fit")
        self.cancel_action = self._add(menu, "&Cancel fit", self.queue.cancel_current, "Ctrl+.",
                                       "Stop the running fit after its current step, keeping its best weights")
        self.cancel_all_action = self._add(menu, "Cancel &all queued fits", self.queue.cancel_all, None,
                                           "Empty the queue and stop the running fit")
        menu.addSeparator()
        self.save_action = self._add(menu, "&Save current run...", self.save_current_run, None,
                                     "Save the current run as a checkpoint folder")
        self.open_action = self._add(menu, "&Open run...", self.ask_open_run, None,
                                     "Open a run saved as a checkpoint folder")
        menu.addSeparator()
        undo = self.runs_panel.undo_stack.createUndoAction(menu, "&Undo")
        menu.addAction(undo)
        self.undo_action = undo
        actions = getattr(self.window, "actions", None)
        if isinstance(actions, dict):  # listed in Help > Keyboard shortcuts
            actions.update(new_fit=self.new_fit_action, cancel_fit=self.cancel_action,
                           cancel_all_fits=self.cancel_all_action, save_run=self.save_action,
                           open_run=self.open_action, undo_runs=undo)
        self._update_cancel_actions()

    def _add(self, menu, text, slot, shortcut, tip) -> QAction:
        action = QAction(text, menu)
        action.setStatusTip(tip)
        action.setToolTip(tip)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _update_cancel_actions(self) -> None:
        self.cancel_action.setEnabled(self.queue.busy)
        self.cancel_all_action.setEnabled(self.queue.busy or bool(self.queue.pending))

    # -- starting fits ---------------------------------------------------------------------------------------
    def _start_worker(self, fn, **callbacks):
        return self.window.start_worker(fn, **callbacks)

    def make_dialog(self) -> FitDialog:
        """A fit dialog for the open dataset with the last choices (not shown)."""
        return FitDialog(self.window, dataset=self.session.dataset, settings=self.window.settings())

    @Slot()
    def open_dialog(self) -> None:
        """Fit > New fit...: show the dialog; on OK queue the fit."""
        if self.session.dataset is None:
            self.window.show_error("No data", "Open a dataset (or the demo) before fitting a model.")
            return
        if self.queue.isolation == "process":
            warm_up_fit_server()  # the fit process imports torch while the user chooses
        self.dialog = dialog = self.make_dialog()
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(self._on_dialog_finished)
        dialog.open()

    @Slot(int)
    def _on_dialog_finished(self, result: int) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is not None and result == QDialog.DialogCode.Accepted:
            self.submit(dialog.fit_request())

    def submit(self, request, compare_with: Optional[Run] = None):
        """Queue a fit of ``request`` on the open dataset; returns the queue entry."""
        item = self.queue.enqueue(request, compare_with=compare_with)
        waiting = len(self.queue.pending)
        self.window.status(f"Queued {item.name}" + (f" ({waiting} waiting)" if waiting else ""), 4000)
        self._update_cancel_actions()
        return item

    @Slot(object, object)
    def _on_refit_requested(self, request, run) -> None:
        self.submit(request, compare_with=run)

    @Slot(object)
    def _on_fit_started(self, run: Run) -> None:
        request = run.request
        self.training_panel.begin(run.name, getattr(request, "epochs", None)
                                  if getattr(request, "method", "sgd") != "ridge" else None)
        self.window.set_progress(0.0)  # determinate from the start: no busy animation during a long fit
        self.training_dock.show()
        self.training_dock.raise_()  # in front of its tab group (a tabbed dock behind others still isVisible())
        self.window.status(f"Fitting {run.name}...")
        self._update_cancel_actions()

    @Slot(object)
    def _on_fit_progress(self, event) -> None:
        """Mirror the fit's progress in the status bar (a determinate bar, not a busy animation)."""
        fraction = fraction_done(event, self.training_panel.max_epochs)
        if fraction is not None:
            self.window.set_progress(fraction)

    @Slot(object)
    def _on_fit_ended(self, run: Run) -> None:
        self.training_panel.end(run.status, run.message)
        verb = {"done": "Fitted", "cancelled": "Cancelled", "failed": "Fit failed:",
                "warning": "Fitted with a warning:"}.get(run.status, run.status)
        self.window.status(f"{verb} {run.name}: {run.message}", 10000)
        self._update_cancel_actions()

    # -- saving and opening runs -----------------------------------------------------------------------------
    def _last_folder(self) -> str:
        value = self.window.settings().value(LAST_RUN_FOLDER_KEY)
        return str(value) if value else str(Path.home())

    @Slot()
    def save_current_run(self) -> None:
        if self.session.current_run is not None:
            self.ask_save_run(self.session.current_run)

    def ask_save_run(self, run: Run) -> None:
        """Ask for a folder name and save ``run`` there."""
        suggestion = str(Path(self._last_folder()) / _safe_folder_name(run.name))
        folder, _ = QFileDialog.getSaveFileName(self.window, "Save run as a checkpoint folder", suggestion)
        if folder:
            self.window.settings().setValue(LAST_RUN_FOLDER_KEY, str(Path(folder).parent))
            self.save_run(run, folder)

    def save_run(self, run: Run, folder) -> None:
        """Save ``run`` to ``folder`` in a worker; the run remembers the path when done."""
        dataset = self.session.dataset

        def work(progress, cancel):
            return save_run_checkpoint(run, folder, dataset)

        def done(path):
            if run in self.session.runs:
                self.session.update_run(run, checkpoint_path=str(path))
            self.window.status(f"Saved {run.name} to {path}", 6000)

        self.window.status(f"Saving {run.name}...")
        self.window.start_worker(work, on_finished=done,
                                 on_failed=lambda msg: self.window.show_error("Could not save the run", msg),
                                 name="save-run")

    @Slot()
    def ask_open_run(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Open a saved run (checkpoint folder)",
                                                  self._last_folder())
        if folder:
            self.window.settings().setValue(LAST_RUN_FOLDER_KEY, str(Path(folder).parent))
            self.open_run(folder)

    def open_run(self, folder) -> None:
        """Open a checkpoint folder in a worker and add it to the runs (it becomes the current run)."""
        dataset = self.session.dataset

        def work(progress, cancel):
            return open_run_checkpoint(folder, dataset)

        def done(run):
            self.session.add_run(run, make_current=run.predictions is not None or self.session.current_run is None)
            self.window.status(f"Opened {run.name}", 6000)

        self.window.status(f"Opening {folder}...")
        self.window.start_worker(work, on_finished=done,
                                 on_failed=lambda msg: self.window.show_error("Could not open the run", msg),
                                 name="open-run")

    def shutdown(self) -> None:
        """Cancel queued and running fits (the window's worker pool waits for the threads)."""
        self.queue.cancel_all()


def install(window) -> FittingFeature:
    """Add the fitting menus and docks to ``window``; the feature is kept as ``window.fitting``."""
    feature = FittingFeature(window)
    window.fitting = feature
    return feature
