"""The runs dock: every fitted or opened model of the session in a table, and what can be done with a run.

Columns: run, model, kernel, prefilter, front-end (``spectrogram`` or the waveform front-end), parameters, epochs, time, mean test cc_norm, status (and which run is
shown as current / compare). Runs that share a name show the settings
that differ between them (``Session.run_labels``). Actions: show a run in every view
(``session.set_current_run``), rename it (F2 or the context menu; undoable), compare it with the current one (``session.set_compare_run``: two predicted traces in the PSTH view, one cc_norm column per run
in the neuron table), save it as a checkpoint folder, open a saved one, delete it (undoable).

Saving and opening run in workers (started by the fitting feature); the file work is done by the Qt-free
helpers :func:`save_run_checkpoint` and :func:`open_run_checkpoint` at the end of this module.
"""

from __future__ import annotations

import math
from typing import Any, Callable, List, Optional

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QSortFilterProxyModel, Qt, Slot
from PySide6.QtGui import QAction, QFont, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QMenu, QPushButton, QTableView,
                               QVBoxLayout, QWidget)

from strfviewer.fit.metrics import cc_norm_note
from strfviewer.gui.window.qt_session import QtSession, qt_session_of
from strfviewer.io.fit_output import response_record
from strfviewer.session import Run, Session

#: text colour of the Status cell (the tooltip gives the reason)
STATUS_COLOURS = {"failed": "#b00020", "warning": "#a05a00"}
COLUMNS = ("Run", "Shown", "Model", "Kernel", "Prefilter", "Front-end", "Params", "Epochs", "Time", "Test cc_norm", "Status")


def mean_test_cc_norm(run: Run) -> Optional[float]:
    """Mean over neurons of the run's test cc_norm (NaN neurons ignored); ``None`` when unknown."""
    values = run.neuron_values("cc_norm", "test")
    if values is None or not np.isfinite(values).any():
        return None
    return float(np.nanmean(values))


def run_epochs(run: Run) -> Optional[int]:
    history = getattr(run.outcome, "history", None)
    if history is not None:
        n = getattr(history, "n_epochs", None)
        if n is not None:
            return int(n)
    n = (run.metadata or {}).get("epochs")
    return int(n) if isinstance(n, (int, float)) else None


def best_epochs_text(epochs) -> str:
    """``'each neuron kept its own best epoch: 3 to 12 (median 7)'`` from a per-neuron list."""
    known = [int(e) for e in epochs if e is not None]
    if not known:
        return "no neuron had a validation score: the population's best epoch"
    return (f"each neuron kept the weights of its own best validation epoch: {min(known)} to {max(known)} "
            f"(median {int(np.median(known))})")


def run_seconds(run: Run) -> Optional[float]:
    seconds = getattr(run.outcome, "seconds", None)
    if seconds is None:
        seconds = (run.metadata or {}).get("seconds")
    return float(seconds) if isinstance(seconds, (int, float)) and math.isfinite(seconds) else None


def run_frontend(run: Run) -> str:
    """What the run's model takes: its waveform front-end's name (from the spec, else the model's own
    ``wav2spec``) or ``spectrogram``; empty for a run without spec or model."""
    from strfviewer.gui.fitting.frontend_slot import SPECTROGRAM, frontend_label, has_frontend

    if run.spec is not None and has_frontend(run.spec):
        return frontend_label(run.spec)
    front = getattr(run.model, "wav2spec", None)
    if front is not None and getattr(run.model, "is_wav_native", False):
        from strfviewer.models import registry

        try:
            return registry.name_of("frontend", front)
        except KeyError:
            return type(front).__name__
    return SPECTROGRAM if run.spec is not None or run.model is not None else ""


def _spec_field(run: Run, name: str) -> str:
    value = getattr(run.spec, name, None) if run.spec is not None else None
    return str(value) if value else ""


class RunsTableModel(QAbstractTableModel):
    """Table model over ``session.runs``; refreshed on the session's ``runs``/``current_run``/``compare_run``."""

    def __init__(self, session: Session, parent: Optional[QObject] = None,
                 rename: Optional[Callable[[Run, str], None]] = None) -> None:
        super().__init__(parent)
        self.session = session
        self._rename = rename  # the Run column is editable when given (F2, double-click is Show)
        self._runs: List[Run] = list(session.runs)
        self._labels = session.run_labels()

    def refresh(self) -> None:
        self.beginResetModel()
        self._runs = list(self.session.runs)
        self._labels = self.session.run_labels()
        self.endResetModel()

    def run_at(self, row: int) -> Optional[Run]:
        return self._runs[row] if 0 <= row < len(self._runs) else None

    def row_of(self, run: Run) -> int:
        for i, r in enumerate(self._runs):
            if r is run:
                return i
        return -1

    # -- Qt model API ------------------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 (Qt name)
        return 0 if parent.isValid() else len(self._runs)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def flags(self, index: QModelIndex):
        flags = super().flags(index)
        if self._rename is not None and index.isValid() and COLUMNS[index.column()] == "Run":
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index: QModelIndex, value, role=Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        run = self.run_at(index.row())
        if (role != Qt.ItemDataRole.EditRole or run is None or self._rename is None
                or COLUMNS[index.column()] != "Run"):
            return False
        name = str(value).strip()
        if not name or name == run.name:
            return False
        self._rename(run, name)
        return True

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole) -> Any:
        run = self.run_at(index.row())
        if run is None:
            return None
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.EditRole and column == "Run":
            return run.name
        if role == Qt.ItemDataRole.DisplayRole:
            return self.display(run, column)
        if role == Qt.ItemDataRole.UserRole:  # sort key
            return self.sort_key(run, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == "Test cc_norm" and cc_norm_note(mean_test_cc_norm(run)):
                return cc_norm_note(mean_test_cc_norm(run))
            if column == "Epochs" and run.best_epochs() is not None:
                return best_epochs_text(run.best_epochs())
            return run.message or run.name
        if role == Qt.ItemDataRole.ForegroundRole and column == "Status" and run.status in STATUS_COLOURS:
            from PySide6.QtGui import QColor

            return QColor(STATUS_COLOURS[run.status])
        if role == Qt.ItemDataRole.FontRole and run is self.session.current_run:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("Params", "Epochs", "Time", "Test cc_norm"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def display(self, run: Run, column: str) -> str:
        if column == "Run":
            return self._labels.get(run.id, run.name)  # the name, with what differs from namesakes
        if column == "Model":
            family = run.family
            rnn = _spec_field(run, "rnn_type")
            return f"{family} ({rnn})" if rnn and family == "StateNet" else family
        if column == "Kernel":
            from strfviewer.models.factory import kernel_shown

            return kernel_shown(run.spec) if run.spec is not None else ""
        if column == "Prefilter":
            return _spec_field(run, "prefilter") or "none"
        if column == "Front-end":
            return run_frontend(run)
        if column == "Params":
            n = run.n_params
            return f"{n:,}" if n is not None else ""
        if column == "Epochs":
            n = run_epochs(run)
            if n is not None and run.best_epochs() is not None:
                return f"{n} (per neuron)"
            return "" if n is None else str(n)
        if column == "Time":
            s = run_seconds(run)
            return "" if s is None else f"{s:.1f} s"
        if column == "Test cc_norm":
            v = mean_test_cc_norm(run)
            return "" if v is None else f"{v:.3f}" + ("*" if cc_norm_note(v) else "")  # tooltip says why
        if column == "Status":
            return run.status
        if column == "Shown":
            if run is self.session.current_run:
                return "current"
            if run is self.session.compare_run:
                return "compare"
            return ""
        return ""

    def sort_key(self, run: Run, column: str):
        if column == "Params":
            return run.n_params if run.n_params is not None else -1
        if column == "Epochs":
            return run_epochs(run) if run_epochs(run) is not None else -1
        if column == "Time":
            return run_seconds(run) if run_seconds(run) is not None else -1.0
        if column == "Test cc_norm":
            v = mean_test_cc_norm(run)
            return v if v is not None else -math.inf
        if column == "Run":
            return run.id
        return self.display(run, column)


class DeleteRunCommand(QUndoCommand):
    """Remove a run from the session; undo puts it back where it was (current/compare roles included)."""

    def __init__(self, session: Session, run: Run) -> None:
        super().__init__(f"Delete run {run.name!r}")
        self.session = session
        self.run = run
        self._undo_info = None

    def redo(self) -> None:
        self._undo_info = self.session.remove_run(self.run)

    def undo(self) -> None:
        if self._undo_info is not None:
            self.session.restore_run(self._undo_info)
            self._undo_info = None


class RenameRunCommand(QUndoCommand):
    """Rename a run; undo gives it its previous name back."""

    def __init__(self, session: Session, run: Run, name: str) -> None:
        super().__init__(f"Rename run {run.name!r} to {name!r}")
        self.session = session
        self.run = run
        self.old, self.new = run.name, name

    def redo(self) -> None:
        self.session.rename_run(self.run, self.new)

    def undo(self) -> None:
        self.session.rename_run(self.run, self.old)


class RunsPanel(QWidget):
    """The runs dock: table + buttons (Show, Compare, Save, Open, Delete, Undo).

    File work is delegated: ``save_run(run)`` and ``open_run()`` are callables given by the fitting feature
    (they ask for a folder and start workers). ``undo_stack`` holds the deletions.
    """

    def __init__(self, session: Session | QtSession, parent: Optional[QWidget] = None,
                 save_run: Optional[Callable[[Run], None]] = None,
                 open_run: Optional[Callable[[], None]] = None) -> None:
        super().__init__(parent)
        self.setObjectName("runs_panel")
        self.qt_session = qt_session_of(session, self)  # the window's, or one over a plain Session
        self.session = session = self.qt_session.session
        self._save_run = save_run
        self._open_run = open_run
        self.undo_stack = QUndoStack(self)

        self.model = RunsTableModel(session, self, rename=self.rename)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.table = QTableView()
        self.table.setObjectName("runs_table")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)  # F2 renames
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(self._on_double_clicked)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._on_context_menu)

        self.show_action = self._action("Show", "Make the selected run the current model of every view",
                                        self.show_selected, "Return")
        self.compare_action = self._action("Compare", "Overlay the selected run on the current one (PSTH "
                                                      "traces, neuron table columns); again to stop",
                                           self.toggle_compare_selected)
        self.save_action = self._action("Save...", "Save the selected run as a checkpoint folder "
                                                   "(config.json + model.safetensors + metrics)",
                                        self.save_selected)
        self.open_action = self._action("Open...", "Open a saved run (checkpoint folder)", self.open_run)
        self.delete_action = self._action("Delete", "Remove the selected run (undo brings it back)",
                                          self.delete_selected, QKeySequence.StandardKey.Delete)
        self.rename_action = self._action("Rename...", "Give the selected run another name (F2; undo brings the "
                                                       "old one back)", self.rename_selected, "F2")
        self.undo_action = self.undo_stack.createUndoAction(self, "Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(self.undo_action)
        self.redo_action = self.undo_stack.createRedoAction(self, "Redo")

        buttons = QHBoxLayout()
        self.buttons = {}
        for action in (self.show_action, self.compare_action, self.save_action, self.open_action,
                       self.delete_action, self.undo_action):
            button = QPushButton(action.text())
            button.setToolTip(action.toolTip())
            button.clicked.connect(action.trigger)
            button.setObjectName(f"runs_{action.text().strip('.').lower()}")
            self.buttons[action.text().strip(".").lower()] = button
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.undo_action.changed.connect(self._update_actions)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        self.qt_session.follow(self, ("dataset", "runs", "run", "results"), self._on_session_change)
        self._update_actions()

    def _action(self, text: str, tip: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
        return action

    # -- selection -------------------------------------------------------------------------------------------
    def selected_run(self) -> Optional[Run]:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.run_at(self.proxy.mapToSource(rows[0]).row())

    def select_run(self, run: Run) -> None:
        row = self.model.row_of(run)
        if row >= 0:
            self.table.selectRow(self.proxy.mapFromSource(self.model.index(row, 0)).row())

    # -- actions -----------------------------------------------------------------------------------------------
    @Slot()
    def show_selected(self) -> None:
        run = self.selected_run()
        if run is not None and run.model is not None:
            self.session.set_current_run(run)

    @Slot()
    def toggle_compare_selected(self) -> None:
        run = self.selected_run()
        if run is None or run is self.session.current_run or run.model is None:
            return
        self.session.set_compare_run(None if run is self.session.compare_run else run)

    @Slot()
    def save_selected(self) -> None:
        run = self.selected_run()
        if run is not None and run.model is not None and self._save_run is not None:
            self._save_run(run)

    @Slot()
    def open_run(self) -> None:
        if self._open_run is not None:
            self._open_run()

    @Slot()
    def delete_selected(self) -> None:
        run = self.selected_run()
        if run is None or run.status == "running":
            return
        self.undo_stack.push(DeleteRunCommand(self.session, run))

    @Slot()
    def rename_selected(self) -> None:
        """Edit the selected run's name in place (what F2 does)."""
        run = self.selected_run()
        row = self.model.row_of(run) if run is not None else -1
        if row >= 0:
            index = self.proxy.mapFromSource(self.model.index(row, COLUMNS.index("Run")))
            self.table.setCurrentIndex(index)
            self.table.edit(index)

    def rename(self, run: Run, name: str) -> None:
        """Rename ``run`` (undoable); an empty name is refused."""
        name = str(name).strip()
        if name and name != run.name:
            self.undo_stack.push(RenameRunCommand(self.session, run, name))

    @Slot(QModelIndex)
    def _on_double_clicked(self, index: QModelIndex) -> None:
        self.show_selected()

    @Slot("QPoint")
    def _on_context_menu(self, pos) -> None:
        menu = QMenu(self)
        for action in (self.show_action, self.compare_action, self.rename_action, self.save_action,
                       self.delete_action, self.undo_action):
            menu.addAction(action)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _on_session_change(self, _dependency: str, _payload) -> None:
        selected = self.selected_run()
        self.model.refresh()
        if selected is not None:
            self.select_run(selected)
        self._update_actions()

    def _update_actions(self, *args) -> None:
        run = self.selected_run()
        usable = run is not None and run.model is not None
        self.show_action.setEnabled(usable and run is not self.session.current_run)
        self.compare_action.setEnabled(usable and run is not self.session.current_run)
        self.compare_action.setText("Compare" if run is None or run is not self.session.compare_run
                                    else "Stop comparing")
        self.save_action.setEnabled(usable and self._save_run is not None and run.status != "running")
        self.delete_action.setEnabled(run is not None and run.status != "running")
        self.rename_action.setEnabled(run is not None)
        self.open_action.setEnabled(self._open_run is not None)
        self.buttons["compare"].setText(self.compare_action.text())
        for key, action in (("show", self.show_action), ("compare", self.compare_action),
                            ("save", self.save_action), ("open", self.open_action),
                            ("delete", self.delete_action), ("undo", self.undo_action)):
            self.buttons[key].setEnabled(action.isEnabled())


# ---- run <-> checkpoint folder (Qt-free; called in workers) -------------------------------------------------------
def run_checkpoint_metadata(run: Run, dataset) -> dict:
    """The metadata saved with a run: front-end, axes, spec, fit request, metrics, dataset identity, timing."""
    meta = {}
    if dataset is not None:
        meta.update(frontend=dict(dataset.frontend or {}), freqs_hz=[float(f) for f in dataset.freqs_hz],
                    dt_ms=float(dataset.dt_ms), neuron_names=list(dataset.neuron_names),
                    dataset={"source": str(dataset.source), "name": dataset.name, **response_record(dataset)})
    waveform = waveform_frontend_record(run)
    if waveform is not None:  # fitted on raw audio: the model's own front-end and band centres, as the CLI saves
        meta.update(waveform)
    if run.spec is not None and hasattr(run.spec, "to_dict"):
        meta["spec"] = run.spec.to_dict()
    if run.request is not None and hasattr(run.request, "to_dict"):
        meta["fit"] = run.request.to_dict()
    metrics = run.get_metrics() or {}
    meta["metrics"] = {split: m.to_dict() for split, m in metrics.items() if m is not None}
    split = getattr(run.outcome, "split", None) or (dict(dataset.split or {}) if dataset is not None else None)
    if split:  # the split the metrics were computed on; under "dataset" too, where the CLI writes and reads it
        meta["split"] = dict(split)
        meta.setdefault("dataset", {})["split"] = dict(split)
    meta["run"] = {"name": run.name, "status": run.status, "message": run.message,
                   "epochs": run_epochs(run), "seconds": run_seconds(run)}
    return meta


def waveform_frontend_record(run: Run) -> Optional[dict]:
    """``{"frontend": {"mode": "waveform", ...}, "freqs_hz": [...]}`` of a run whose model was fitted on raw
    audio (from its fit's details, or the checkpoint it was opened from); ``None`` for spectrogram models."""
    if not getattr(run.model, "is_wav_native", False):
        return None
    details = getattr(run.outcome, "details", None) or {}
    if isinstance(details.get("frontend"), dict):
        return {"frontend": dict(details["frontend"]), "freqs_hz": list(details.get("freqs_hz") or [])}
    saved = (run.metadata or {}).get("frontend")
    if isinstance(saved, dict) and saved.get("mode") == "waveform":
        return {"frontend": dict(saved), "freqs_hz": list((run.metadata or {}).get("freqs_hz") or [])}
    return None


def model_input_problem(model, dataset) -> Optional[str]:
    """Why ``model`` cannot be run on ``dataset`` (neurons, bands, or audio for a waveform model); ``None``
    when it can. A waveform model takes the stimuli's audio at its own rate: the data's bands do not matter,
    its frame step must be the data's."""
    if model is None or dataset is None:
        return None
    N, F = getattr(model, "N", None), getattr(model, "F", None)
    problems = []
    if N is not None and int(N) != dataset.n_neurons:
        problems.append(f"{N} neurons (the dataset has {dataset.n_neurons})")
    if getattr(model, "is_wav_native", False):
        from strfviewer.data.waveforms import has_audio

        front = model.wav2spec
        dt = getattr(front, "dt_ms", None)
        if not has_audio(dataset):
            problems.append(f"the stimuli's audio (its front-end {type(front).__name__} takes waveforms; the "
                            "dataset has spectrograms only)")
        elif isinstance(dt, (int, float)) and abs(float(dt) - float(dataset.dt_ms)) > 1e-6:
            problems.append(f"{float(dt):g} ms frames (the dataset's bins are {float(dataset.dt_ms):g} ms)")
    elif F is not None and int(F) != dataset.n_freqs:
        problems.append(f"{F} frequency bands (the dataset has {dataset.n_freqs})")
    return ("the model predicts " + " and expects ".join(problems)) if problems else None


def save_run_checkpoint(run: Run, folder, dataset) -> str:
    """Save ``run`` as a checkpoint folder (config.json + model.safetensors + metrics); returns the path."""
    from strfviewer.io.checkpoints import save_checkpoint

    if run.model is None:
        raise ValueError(f"run {run.name!r} has no model to save")
    return str(save_checkpoint(run.model, folder, metadata=run_checkpoint_metadata(run, dataset)))


#: front-end settings whose difference makes a model's input another thing (keys of SpectrogramConfig)
_FRONTEND_KEYS = ("n_bands", "dt_ms", "f_min_hz", "f_max_hz", "scale", "compression", "causal", "window_ms",
                  "log_offset", "sample_rate")


def frontend_differences(saved, current) -> List[str]:
    """What differs between the front-end a model was fitted on (checkpoint ``frontend``) and the open data's:
    ``["dt_ms 5.0 vs 2.0", "normalization"]``; empty when the same or when either side is unknown."""
    if not isinstance(saved, dict) or not isinstance(current, dict) or not saved or not current:
        return []
    out = [f"{k} {saved[k]!r} vs {current[k]!r}" for k in _FRONTEND_KEYS
           if k in saved and k in current and saved[k] != current[k]]
    a, b = saved.get("normalization"), current.get("normalization")
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) & set(b)):
            try:
                same = np.allclose(np.asarray(a[key], dtype=float), np.asarray(b[key], dtype=float), rtol=1e-4,
                                   atol=1e-6)
            except (TypeError, ValueError):
                same = a[key] == b[key]
            if not same:
                out.append(f"normalization {key}")
    return out


#: what a checkpoint error says when a deepSTRF waveform checkpoint needs its audio sample rate (the one argument
#: its files do not record; see strfviewer.io.deepstrf_frontends)
SAMPLE_RATE_ARGUMENT = "'audio_fs'"


def needs_sample_rate(message: str) -> bool:
    """True when a checkpoint error asks for the audio sample rate of a waveform front-end."""
    return SAMPLE_RATE_ARGUMENT in str(message)


def load_run_model(folder, sample_rate: Optional[int] = None):
    """``load_checkpoint(folder)``; a deepSTRF waveform checkpoint, which records no sample rate, gets
    ``sample_rate`` (Hz) as its front-end's ``audio_fs``. Without one it raises the loader's error, which
    :func:`needs_sample_rate` recognises; a rate given for a checkpoint that does not need it is unused."""
    from strfviewer.io.checkpoint_error import CheckpointError
    from strfviewer.io.checkpoints import load_checkpoint

    try:
        return load_checkpoint(str(folder))
    except CheckpointError as exc:
        if sample_rate is None or not needs_sample_rate(str(exc)):
            raise
    return load_checkpoint(str(folder), extra_kwargs={"wav2spec": {"audio_fs": int(sample_rate)}})


def parse_sample_rate(text: str) -> Optional[int]:
    """The sample rate typed in the Open model dialog: ``None`` when empty, else a whole number of Hz from 1000 to
    384000; ``ValueError`` (one line naming the value) otherwise."""
    text = str(text).strip().lower().removesuffix("hz").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value == value and value.is_integer() and 1000 <= value <= 384000):
        raise ValueError(f"sample rate {text!r}: expected a whole number of Hz from 1000 to 384000 (e.g. 16000)")
    return int(value)


def open_run_checkpoint(folder, dataset=None, device: str = "cpu", sample_rate: Optional[int] = None) -> Run:
    """Rebuild a :class:`Run` from a checkpoint folder: its model, spec, request, saved metrics and (when it fits
    the open ``dataset``: same number of neurons and bands, or audio for a waveform model) fresh predictions on
    that dataset. ``sample_rate`` (Hz): the audio rate of a deepSTRF waveform checkpoint (:func:`load_run_model`)."""
    from strfviewer.fit.metrics import NeuronMetrics

    model, meta = load_run_model(folder, sample_rate)
    meta = dict(meta or {})
    spec = request = None
    try:
        from strfviewer.models.factory import ModelSpec, spec_of

        spec = ModelSpec.from_dict(meta["spec"]) if meta.get("spec") else spec_of(model)
    except Exception:  # noqa: BLE001 - a checkpoint from elsewhere may not carry a spec
        spec = None
    if meta.get("fit") and spec is not None:
        try:
            from strfviewer.fit.run import FitRequest

            request = FitRequest.from_dict(meta["fit"])
        except Exception:  # noqa: BLE001 - older or foreign request formats: keep the run without it
            request = None
    metrics = {split: NeuronMetrics.from_dict(d) for split, d in (meta.get("metrics") or {}).items()
               if isinstance(d, dict)} or None
    info = meta.get("run") or {}
    run_meta = dict(meta, epochs=info.get("epochs"), seconds=info.get("seconds"))
    predictions, message = None, f"opened from {folder}"
    if dataset is not None:
        problem = model_input_problem(model, dataset)
        same_shape = problem is None
        wav_native = bool(getattr(model, "is_wav_native", False))  # takes the audio: the data's spectrograms
        other_input = [] if wav_native else frontend_differences(meta.get("frontend"), dataset.frontend)
        if same_shape and other_input:
            message += ("; fitted on spectrograms made with other settings (" + "; ".join(other_input)
                        + "): no predictions on the open data — open it again with the model's front-end")
        elif same_shape:
            from strfviewer.fit.run import predict, score

            predictions = predict(model, dataset, device)
            if metrics is None:  # a checkpoint saved without metrics (e.g. deepSTRF's): score it here
                split = meta.get("split") or (meta.get("dataset") or {}).get("split")
                scored = dataset.with_split(split) if isinstance(split, dict) and split else dataset
                metrics = score(scored, predictions) or None
        elif wav_native:
            message += f"; {problem}: no predictions on the open data"
        else:
            message += (f"; fitted on other data ({getattr(model, 'N', '?')} neurons x {getattr(model, 'F', '?')} "
                        f"bands, the open dataset has {dataset.n_neurons} x {dataset.n_freqs}): no predictions")
    from pathlib import Path

    name = info.get("name") or Path(str(folder)).name
    return Run(name=name, spec=spec, request=request, model=model, checkpoint_path=str(folder), status="done",
               message=message, metadata=run_meta, predictions=predictions, metrics=metrics)
