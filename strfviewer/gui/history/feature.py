"""Run history feature pack: every app fit recorded in the persistent run history, the "Run history" dock, sweeps.

``install(window)`` adds to the main window:

* an :class:`AppRunRecorder` that writes every fit made in the app (fit dialog, fit queue, quick ridge fit...)
  to the run history: it listens to the session, and a run seen ``running`` gets a ``running`` row, then one
  final update when its status turns ``done`` / ``cancelled`` / ``failed`` (metrics, epochs, seconds, device,
  and the checkpoint saved to ``runs/<id>/`` beside the database). The database work and the dataset's content
  hash run in workers, never in the GUI thread;
* the "Run history" dock (:class:`strfviewer.gui.history.history_panel.HistoryPanel`) showing the runs on the open
  dataset; reopening a run loads its checkpoint in a worker and makes it the current run;
* Fit > New sweep... (:class:`strfviewer.gui.history.sweep_dialog.SweepDialog`) and the "Sweep" dock with its progress
  and two-level Cancel (:class:`strfviewer.gui.history.sweep_panel.SweepPanel`);
* Fit > Run history location... (QSettings key :data:`HISTORY_PATH_KEY`; default
  :func:`strfviewer.runs.history.default_history_path`, i.e. ``$STRFVIEWER_HISTORY`` or the user data folder).

The feature object is kept as ``window.run_history``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import queue
import threading
import weakref
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QFileDialog

from strfviewer.gui.history.history_panel import HistoryPanel
from strfviewer.gui.window.qt_session import qt_session_of
from strfviewer.runs.history import HistoryError, RunHistory, default_history_path
from strfviewer.runs.sweeper import CancelToken
from strfviewer.session import Run

log = logging.getLogger(__name__)

HISTORY_PATH_KEY = "history/path"
#: ``Run.metadata`` key marking the app's automatic first-start fit, and the history source it is recorded with
AUTOMATIC_KEY = "automatic"
AUTOMATIC_SOURCE = "app-auto"
TERMINAL = ("done", "cancelled", "failed", "warning")
#: how often a recorder worker waiting for the end of its fit checks whether the app is closing, seconds
_POLL_S = 0.2


def history_path_from(settings) -> Path:
    """The history database the app uses: the QSettings entry, else the default location."""
    value = settings.value(HISTORY_PATH_KEY) if settings is not None else None
    return Path(str(value)).expanduser() if value else default_history_path()


def dataset_identity(dataset) -> Tuple[str, str]:
    """``(path, content hash)`` of a dataset: :func:`strfviewer.data.identity.dataset_hash` of its source.

    A dataset built in memory (its source is no file, folder or ``demo``) is hashed from its contents (neuron and
    stimulus names, spectrograms, responses) with a ``mem-`` prefix. Hashing a folder reads every file: call this
    in a worker.
    """
    from strfviewer.data.identity import dataset_hash

    source = str(getattr(dataset, "source", "") or "")
    if source:
        try:
            return source, dataset_hash(source)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            pass
    h = hashlib.sha256()
    h.update("\0".join(map(str, dataset.neuron_names)).encode())
    for stim in dataset.stimuli:
        h.update(b"\1" + str(stim.name).encode())
        for array in (stim.spec, stim.responses):
            if array is not None:
                h.update(np.ascontiguousarray(array).tobytes())
    return source, "mem-" + h.hexdigest()[:12]


class IdentityCache:
    """Content hashes of datasets, one computation per dataset object, shared by every thread that asks.

    Kept weakly (a closed dataset is not kept alive). :meth:`compute` blocks (call it in a worker): a second
    caller for the same dataset waits for the first one's result instead of reading the folder again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: Dict[int, Tuple[Any, Future]] = {}

    def _entry(self, dataset) -> Optional[Future]:
        entry = self._entries.get(id(dataset))
        return entry[1] if entry is not None and entry[0]() is dataset else None

    def get(self, dataset) -> Optional[Tuple[str, str]]:
        """The identity when already computed, else ``None`` (never blocks)."""
        with self._lock:
            future = self._entry(dataset)
        if future is None or not future.done() or future.exception() is not None:
            return None
        return future.result()

    def compute(self, dataset) -> Tuple[str, str]:
        """:func:`dataset_identity` of ``dataset``, computed once."""
        with self._lock:
            future = self._entry(dataset)
            owner = future is None
            if owner:
                future = Future()
                self._entries = {k: v for k, v in self._entries.items() if v[0]() is not None}
                try:
                    self._entries[id(dataset)] = (weakref.ref(dataset), future)
                except TypeError:  # not weak-referenceable: computed, not kept
                    pass
        if owner:
            try:
                future.set_result(dataset_identity(dataset))
            except BaseException as exc:
                future.set_exception(exc)
                with self._lock:
                    self._entries.pop(id(dataset), None)  # a later call tries again
        return future.result()


def run_config(run: Run) -> Dict[str, Any]:
    """``{"spec": ModelSpec dict, "request": FitRequest dict}`` of a session run (empty parts when unknown)."""
    return run.config()


def record_end(history: RunHistory, run_id: int, run: Run, status: str, message: str, dataset,
               checkpoints_dir: Path) -> None:
    """Write the end of an app fit to ``history`` (one transaction), saving its checkpoint first.

    ``done``/``cancelled`` runs with an outcome get their metrics (``metrics_json``), epochs, seconds, device and
    ``checkpoints_dir/<run_id>/``; a ``failed`` run (or one without an outcome) gets ``message`` as its error.
    """
    from strfviewer.io.fit_output import metrics_json
    from strfviewer.gui.fitting.runs_table import save_run_checkpoint

    outcome = run.outcome
    if status == "cancelled" and outcome is None:  # e.g. dropped because another dataset was opened
        history.finish_run(run_id, metrics={}, status="cancelled", error=message or "cancelled")
        return
    if status == "failed" or outcome is None:
        history.fail_run(run_id, message or "the fit failed", seconds=getattr(outcome, "seconds", None))
        return
    checkpoint, error = None, None
    if run.model is not None:
        try:
            checkpoint = save_run_checkpoint(run, Path(checkpoints_dir) / str(run_id), dataset)
        except Exception as exc:  # noqa: BLE001 - the metrics are still worth recording
            error = f"checkpoint not saved: {exc}"
    warnings = list(getattr(outcome, "warnings", None) or [])
    if status == "warning" and warnings:  # the reason goes with the status
        error = "; ".join(warnings + ([error] if error else []))
    fit_history = getattr(outcome, "history", None)
    history.finish_run(run_id, metrics=metrics_json(outcome), neuron_names=list(dataset.neuron_names),
                       n_params=run.n_params, epochs=getattr(fit_history, "n_epochs", None),
                       seconds=getattr(outcome, "seconds", None), device=str(getattr(outcome, "device", "")),
                       checkpoint=checkpoint, status=status, error=error)


@dataclasses.dataclass
class _Tracked:
    run: Run
    dataset: Any
    mailbox: "queue.Queue"
    worker: Any = None
    history_id: Optional[int] = None


class AppRunRecorder(QObject):
    """Records every fit of the session in the run history.

    A run is tracked from the moment it appears with status ``running``: a worker hashes the dataset (cached),
    inserts a ``running`` row, then waits for the fit's end, which the recorder posts to it when the run's status
    turns terminal; the worker then saves the checkpoint and updates the row. Runs that never were ``running``
    here (opened checkpoints, runs reopened from the history) are not recorded. If the app closes during a fit,
    the row is marked cancelled. The automatic first-start ridge fit (a run whose ``metadata`` holds
    :data:`AUTOMATIC_KEY`) is recorded once per dataset, with source :data:`AUTOMATIC_SOURCE`: later launches
    on the same data (same content hash) do not add another row.
    """

    def __init__(self, session, start_worker, path, identities: IdentityCache, on_recorded=None, on_error=None,
                 parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        qt_session = qt_session_of(session, self)  # a Session or the window's QtSession
        self.session = qt_session.session
        self._start_worker = start_worker
        self.path = Path(path)
        self.identities = identities
        self._on_recorded = on_recorded
        self._on_error = on_error
        self.tracked: Dict[int, _Tracked] = {}  # id(run) -> tracking state, while the fit runs
        self._seen: Dict[int, Any] = {}  # id(run) -> weak reference: runs already tracked once
        self.recorded: list = []  # (run name, history row id) of every run recorded, in order
        self.skipped: list = []  # names of automatic first-start fits not recorded (one is there already)
        self.errors: list = []
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.check_tracked)
        qt_session.follow(self, ("runs",), self._on_runs)

    def _on_runs(self, _dependency: str, payload) -> None:
        for run in payload:
            if run.status == "running" and not self._seen_before(run):
                self._track(run)
        self.check_tracked()

    @Slot()
    def check_tracked(self, *args) -> None:
        """Post the end of every tracked run whose status turned terminal. Runs are checked by object, so a run
        that left the session (another dataset was opened) and ended silently is still recorded: besides the
        session's events, this runs when a fit queue says a fit ended and every second while fits are tracked."""
        for key, tracked in list(self.tracked.items()):
            if tracked.run.status in TERMINAL:
                del self.tracked[key]
                tracked.mailbox.put((tracked.run.status, tracked.run.message))
        if not self.tracked:
            self._timer.stop()

    def _seen_before(self, run: Run) -> bool:
        ref = self._seen.get(id(run))
        return ref is not None and ref() is run

    def _track(self, run: Run) -> None:
        dataset = self.session.dataset
        if dataset is None:
            return
        self._seen = {k: r for k, r in self._seen.items() if r() is not None}
        self._seen[id(run)] = weakref.ref(run)
        tracked = _Tracked(run, dataset, queue.Queue())
        self.tracked[id(run)] = tracked
        self._timer.start()
        identities, path, config = self.identities, self.path, run_config(run)

        automatic = bool(run.metadata.get(AUTOMATIC_KEY))

        def work(progress, cancel):
            identity = identities.compute(dataset)
            with RunHistory(path) as history:
                if automatic and history.runs(dataset_hash=identity[1], source_prefix=AUTOMATIC_SOURCE,
                                              status="done", limit=1):
                    return None  # this dataset's first-start fit is already in the history
                row = history.start_run(config, dataset_path=identity[0], dataset_hash=identity[1],
                                        source=AUTOMATIC_SOURCE if automatic else "app")
                progress(("started", row))
                while True:
                    try:
                        status, message = tracked.mailbox.get(timeout=_POLL_S)
                        break
                    except queue.Empty:
                        if cancel.is_set():  # the app is closing: the fit is stopped, not broken
                            history.finish_run(row, metrics={}, status="cancelled",
                                               error="strfviewer was closed before this fit finished")
                            return row
                record_end(history, row, run, status, message, dataset, path.parent / "runs")
            return row

        def on_progress(event) -> None:
            kind, value = event
            if kind == "started":
                tracked.history_id = value

        def on_finished(row) -> None:
            if row is None:
                self.tracked.pop(id(run), None)
                self.skipped.append(run.name)
                return
            self.recorded.append((run.name, row))
            if self._on_recorded is not None:
                self._on_recorded(run, row)

        def on_failed(message: str) -> None:
            self.tracked.pop(id(run), None)
            self.errors.append(message)
            log.warning("could not record run %r in the run history: %s", run.name, message)
            if self._on_error is not None:
                self._on_error(f"Could not record {run.name} in the run history ({path}): {message}")

        tracked.worker = self._start_worker(work, on_progress=on_progress, on_finished=on_finished,
                                            on_failed=on_failed, name=f"record-{run.name}")

    def set_path(self, path) -> None:
        """Record the next fits in another database (fits already under way stay in theirs)."""
        self.path = Path(path)


class AppCancelToken(CancelToken):
    """The sweep's two-level cancel, also raised to 'kill' when the worker running the sweep is cancelled
    (the app is closing)."""

    def __init__(self) -> None:
        super().__init__()
        self._event = None

    def link(self, event) -> None:
        self._event = event

    @property
    def level(self) -> int:
        closing = self._event is not None and self._event.is_set()
        return max(self._count, 2 if closing else 0)


def sweep_function(spec, history_path, address: Optional[str], workers: Optional[int], token: AppCancelToken):
    """The worker body of a sweep: ``run_sweep`` with its own history connection and executor.

    Progress goes out as ``("executor", description)`` then copies of :class:`SweepProgress`.
    """

    def work(progress, cancel):
        from strfviewer.runs.executors import make_executor
        from strfviewer.runs.sweeper import run_sweep

        token.link(cancel)
        executor = make_executor(address, workers)
        try:
            progress(("executor", executor.describe()))
            with RunHistory(history_path) as history:
                return run_sweep(spec, history, executor, progress=lambda p: progress(dataclasses.replace(p)),
                                 cancel=token)
        finally:
            executor.shutdown()

    return work


class HistoryFeature(QObject):
    """What the run history feature adds to a main window."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.path = history_path_from(window.settings())
        self.identities = IdentityCache()
        self.dataset_hash: Optional[str] = None
        self.recorder = AppRunRecorder(window.qt_session, window.start_worker, self.path, self.identities,
                                       on_recorded=self._on_recorded,
                                       on_error=self._on_record_error, parent=self)
        self._reported: set = set()  # history paths whose recording failure was shown in a dialog
        fit_queue = getattr(getattr(window, "fitting", None), "queue", None)
        if fit_queue is not None and hasattr(fit_queue, "fit_ended"):  # the fitting feature, when installed
            fit_queue.fit_ended.connect(self.recorder.check_tracked)
        self.panel = HistoryPanel(self.path, start_worker=window.start_worker)
        self.panel.reopen_requested.connect(self.reopen)
        self.dock = window.add_dock("Run history", self.panel, Qt.DockWidgetArea.BottomDockWidgetArea,
                                    "history_dock")
        self.sweep_panel = None
        self.sweep_dock = None
        self.sweep_worker = None
        self.sweep_token: Optional[AppCancelToken] = None
        self.sweep_report = None
        self.sweep_error: Optional[str] = None
        self.dialog = None
        self._build_menu()
        window.qt_session.follow(self, ("dataset",), lambda _dependency, dataset: self._identify(dataset))
        if self.session.dataset is not None:
            self._identify(self.session.dataset)
        else:
            self.panel.refresh()

    # -- menu ------------------------------------------------------------------------------------------------
    def _build_menu(self) -> None:
        menu = self.window.menu("Fit")
        menu.addSeparator()
        self.new_sweep_action = QAction("New s&weep...", menu)
        self.new_sweep_action.setObjectName("action_new_sweep")
        self.new_sweep_action.setStatusTip("Fit a grid of model configurations x seeds x datasets, in worker "
                                           "processes or on a Ray cluster")
        self.new_sweep_action.triggered.connect(self.open_sweep_dialog)
        menu.addAction(self.new_sweep_action)
        self.location_action = QAction("Run history &location...", menu)
        self.location_action.setObjectName("action_history_location")
        self.location_action.setStatusTip("Choose the SQLite database where every fit is recorded")
        self.location_action.triggered.connect(self.ask_history_location)
        menu.addAction(self.location_action)

    # -- dataset identity --------------------------------------------------------------------------------------
    def _identify(self, dataset) -> None:
        """Hash the open dataset (in a worker, cached) and show its runs."""
        known = self.identities.get(dataset)
        if known is not None:
            self._set_identity(dataset, known)
            return
        self.dataset_hash = None
        self.panel.status_label.setText("identifying the dataset (content hash)...")

        def done(identity) -> None:
            self._set_identity(dataset, identity)

        self.window.start_worker(lambda progress, cancel: self.identities.compute(dataset), on_finished=done,
                                 on_failed=lambda msg: self.panel.status_label.setText(
                                     f"cannot identify the dataset: {msg}"), name="hash-dataset")

    def _set_identity(self, dataset, identity) -> None:
        if dataset is not self.session.dataset:
            return  # another dataset was opened meanwhile
        self.dataset_hash = identity[1]
        if self.panel.dataset_hash == identity[1]:
            self.panel.refresh()
        else:
            self.panel.set_dataset_hash(identity[1])

    def _on_record_error(self, message: str) -> None:
        """The first failure to record in a database gets a dialog (fits are not being kept); later ones the
        status bar."""
        if self.recorder.path in self._reported:
            self.window.status(message, 15000)
            return
        self._reported.add(self.recorder.path)
        self.window.show_error("Run history", message + "\nChoose another file with Fit > Run history location...")

    def _on_recorded(self, run: Run, row: int) -> None:
        self.panel.refresh()

    # -- history location --------------------------------------------------------------------------------------
    @Slot()
    def ask_history_location(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Run history database", str(self.path),
                                              "SQLite database (*.sqlite *.db);;All files (*)",
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.set_history_path(path)

    def set_history_path(self, path) -> bool:
        """Use the database at ``path`` (created when new) from now on; False with an error dialog when it
        cannot be used."""
        path = Path(path).expanduser()
        try:
            RunHistory(path).close()
        except (HistoryError, OSError) as exc:
            self.window.show_error("Cannot use this run history", str(exc))
            return False
        self.path = path
        self.window.settings().setValue(HISTORY_PATH_KEY, str(path))
        self.recorder.set_path(path)
        self.panel.set_history_path(path)
        self.window.status(f"Run history: {path}", 6000)
        return True

    # -- reopening runs ----------------------------------------------------------------------------------------
    @Slot(object)
    def reopen(self, record) -> None:
        """Load ``record``'s checkpoint in a worker and make it the current run of the session."""
        from strfviewer.gui.fitting.runs_table import open_run_checkpoint

        if not record.checkpoint:
            self.window.show_error("No checkpoint", f"Run {record.id} of the history has no saved checkpoint.")
            return
        dataset = self.session.dataset
        folder = record.checkpoint

        def done(run: Run) -> None:
            from strfviewer.gui.window import model_io

            problem = model_io.mismatch(run.model, self.session.dataset)
            if problem:
                self.window.show_error("Model does not fit this dataset", f"run {record.id}: {problem}")
                return
            run.name = f"#{record.id} {record.label()}"
            same_data = bool(self.dataset_hash) and record.dataset_hash == self.dataset_hash
            if not same_data:
                run.metrics = None  # the saved metrics are those of another dataset
            self.session.add_run(run, make_current=True)
            if run.get_predictions() is None or run.get_metrics() is None:
                compute = getattr(self.window, "compute_results", None)
                if compute is not None:
                    compute(run)
            self.window.status(f"Reopened run {record.id} from the history", 6000)

        self.window.status(f"Opening run {record.id} from {folder}...")
        self.window.start_worker(lambda progress, cancel: open_run_checkpoint(folder, dataset), on_finished=done,
                                 on_failed=lambda msg: self.window.show_error("Could not reopen the run", msg),
                                 name="reopen-run")

    # -- sweeps ------------------------------------------------------------------------------------------------
    def make_sweep_dialog(self):
        from strfviewer.gui.history.sweep_dialog import SweepDialog

        return SweepDialog(self.window, dataset=self.session.dataset, settings=self.window.settings())

    @Slot()
    def open_sweep_dialog(self) -> None:
        if self.sweep_running:
            self.window.show_error("A sweep is running", "Wait for the running sweep to end (or cancel it) "
                                                         "before starting another one.")
            return
        self.dialog = dialog = self.make_sweep_dialog()
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(self._on_sweep_dialog_finished)
        dialog.open()

    @Slot(int)
    def _on_sweep_dialog_finished(self, result: int) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is not None and result == QDialog.DialogCode.Accepted:
            try:
                spec = dialog.sweep_spec()
            except ValueError as exc:
                self.window.show_error("Invalid sweep", str(exc))
                return
            address, workers = dialog.executor_choice()
            self.start_sweep(spec, address=address, workers=workers)

    @property
    def sweep_running(self) -> bool:
        return self.sweep_worker is not None

    def _ensure_sweep_dock(self):
        if self.sweep_panel is None:
            from strfviewer.gui.history.sweep_panel import SweepPanel

            self.sweep_panel = SweepPanel()
            self.sweep_dock = self.window.add_dock("Sweep", self.sweep_panel, Qt.DockWidgetArea.BottomDockWidgetArea,
                                                   "sweep_dock")
            self.window.tabifyDockWidget(self.dock, self.sweep_dock)
        return self.sweep_panel

    def start_sweep(self, spec, address: Optional[str] = None, workers: Optional[int] = None):
        """Run ``spec`` in a worker thread (local processes, or Ray at ``address``); returns the worker."""
        if self.sweep_running:
            raise RuntimeError("a sweep is already running")
        panel = self._ensure_sweep_dock()
        token = AppCancelToken()
        self.sweep_token, self.sweep_report, self.sweep_error = token, None, None
        panel.begin(spec.name, len(spec.trials()), token)
        self.sweep_dock.show()
        self.sweep_dock.raise_()
        finished_counts = [0]

        def on_progress(event) -> None:
            if isinstance(event, tuple):
                panel.set_executor(event[1])
                return
            panel.update_progress(event)
            ended = event.done + event.failed + event.cancelled
            if ended != finished_counts[0]:  # a trial was recorded: show it in the history dock
                finished_counts[0] = ended
                self.panel.refresh()

        def on_finished(report) -> None:
            self.sweep_report = report
            panel.end(report.progress)

        def on_failed(message: str) -> None:
            self.sweep_error = message
            panel.fail(message)
            self.window.show_error("The sweep stopped", message)

        def on_done() -> None:
            self.sweep_worker = None
            self.new_sweep_action.setEnabled(True)
            self.panel.refresh()

        self.new_sweep_action.setEnabled(False)
        self.sweep_worker = self.window.start_worker(
            sweep_function(spec, self.path, address, workers, token), on_progress=on_progress,
            on_finished=on_finished, on_failed=on_failed, on_done=on_done, name=f"sweep-{spec.name}")
        self.window.status(f"Sweep {spec.name!r}: {len(spec.trials())} trial(s) started", 6000)
        return self.sweep_worker

    def cancel_sweep(self) -> int:
        """Same as the panel's Cancel button: first call stops pending trials, second kills running ones."""
        if self.sweep_panel is None or not self.sweep_running:
            return 0
        return self.sweep_panel.request_cancel()


def install(window) -> HistoryFeature:
    """Add the run history dock, the recorder and the sweep menu to ``window`` (kept as ``window.run_history``)."""
    feature = HistoryFeature(window)
    window.run_history = feature
    return feature
