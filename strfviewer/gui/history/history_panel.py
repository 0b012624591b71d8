"""The "Run history" dock: every past run of the persistent run history (app fits, CLI fits, sweeps).

Shows the runs on the open dataset (matched by content hash; "All datasets" shows every run) in a sortable,
filterable table (columns below), and a per-configuration summary (mean and spread of test cc_norm across seeds
and cells, :func:`strfviewer.runs.summary.summarize`). Actions: reopen a run's checkpoint (double-click or
"Reopen": the panel emits :attr:`HistoryPanel.reopen_requested` with the :class:`RunRecord`; the history feature
loads it), delete with undo (``Ctrl+Z`` while the dock has focus; :meth:`RunHistory.delete_run` /
:meth:`RunHistory.restore_run`), export the visible rows as CSV (atomic, :meth:`RunHistory.export_csv`).

Reading the database happens in a worker when the panel is given a ``start_worker`` (the main window's), so a
large history never stalls drawing; single-row deletes and restores are done in the GUI thread (milliseconds).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable, List, Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QSortFilterProxyModel, Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QMenu, QPushButton, QTableView, QTabWidget, QVBoxLayout, QWidget)

from strfviewer.models.factory import kernel_label
from strfviewer.runs.history import RunHistory, RunRecord
from strfviewer.runs.summary import ConfigSummary, distinguishing_settings, summarize

COLUMNS = ("ID", "Status", "Model", "Kernel", "Prefilter", "Seed", "Test cc_norm", "Epochs", "Seconds", "Device",
           "Date", "Source", "Data")
SUMMARY_COLUMNS = ("Configuration", "Settings", "Runs", "Datasets", "Seeds", "Mean test cc_norm", "Std", "Min", "Max")
_NUMERIC = {"ID", "Seed", "Test cc_norm", "Epochs", "Seconds", "Runs", "Datasets", "Seeds", "Mean test cc_norm",
            "Std", "Min", "Max"}


def model_label(record: RunRecord) -> str:
    """Family, with the recurrence of a StateNet: ``StateNet (GRU)``."""
    spec = (record.config or {}).get("spec") or {}
    family = record.family or spec.get("family") or "?"
    rnn = spec.get("rnn_type")
    return f"{family} ({rnn})" if rnn and family == "StateNet" else family


def _number(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return format(value, fmt)


def format_date(unix_s: Optional[float]) -> str:
    """``2026-11-25 09:58`` in local time; empty when unknown."""
    return "" if unix_s is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(unix_s))


def display(record: RunRecord, column: str) -> str:
    """What the table shows for ``record`` in ``column``."""
    if column == "ID":
        return str(record.id)
    if column == "Status":
        return record.status
    if column == "Model":
        return model_label(record)
    if column == "Kernel":  # named as the runs table and the Model dock name it ("full" when none was chosen)
        return kernel_label(record.family, record.kernel) if record.family else ""
    if column == "Prefilter":
        return record.prefilter or "none"
    if column == "Seed":
        return "" if record.seed is None else str(record.seed)
    if column == "Test cc_norm":
        return _number(record.mean_test_cc_norm, ".3f")
    if column == "Epochs":
        return "" if record.epochs is None else str(record.epochs)
    if column == "Seconds":
        return _number(record.seconds, ".1f")
    if column == "Device":
        return record.device or ""
    if column == "Date":
        return format_date(record.created)
    if column == "Source":
        return record.source or ""
    if column == "Data":
        path = record.dataset_path or ""
        return Path(path).name or path
    raise KeyError(column)


def sort_key(record: RunRecord, column: str) -> Any:
    """Numbers sort as numbers (unknown first), dates by time, text as text."""
    if column == "ID":
        return record.id
    if column == "Seed":
        return -1 if record.seed is None else record.seed
    if column == "Test cc_norm":
        v = record.mean_test_cc_norm
        return -math.inf if v is None else float(v)
    if column == "Epochs":
        return -1 if record.epochs is None else record.epochs
    if column == "Seconds":
        return -1.0 if record.seconds is None else float(record.seconds)
    if column == "Date":
        return -1.0 if record.created is None else float(record.created)
    return display(record, column)


class _RowsModel(QAbstractTableModel):
    """A read-only table over a list of items, one row each; subclasses set :attr:`columns` and ``data``."""

    columns: tuple = ()

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.items: list = []

    def set_items(self, items) -> None:
        self.beginResetModel()
        self.items = list(items)
        self.endResetModel()

    def item_at(self, row: int):
        return self.items[row] if 0 <= row < len(self.items) else None

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 (Qt name)
        return 0 if parent.isValid() else len(self.items)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section]
        return None

    def _align(self, column: str):
        return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter) if column in _NUMERIC else None


class HistoryTableModel(_RowsModel):
    """Rows of :class:`RunRecord`; ``UserRole`` gives the sort key of a cell."""

    columns = COLUMNS

    @property
    def records(self) -> List[RunRecord]:
        return self.items

    def set_records(self, records: List[RunRecord]) -> None:
        self.set_items(records)

    def record_at(self, row: int) -> Optional[RunRecord]:
        return self.item_at(row)

    def row_of(self, run_id: int) -> int:
        for i, r in enumerate(self.items):
            if r.id == run_id:
                return i
        return -1

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole) -> Any:
        record = self.record_at(index.row())
        if record is None:
            return None
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return display(record, column)
        if role == Qt.ItemDataRole.UserRole:
            return sort_key(record, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [record.label(), record.dataset_path or ""]
            if record.checkpoint:
                lines.append(f"checkpoint: {record.checkpoint}")
            if record.error:
                lines.append(f"error: {record.error}")
            return "\n".join(line for line in lines if line)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self._align(column)
        return None


class SummaryTableModel(_RowsModel):
    """One row per configuration (:class:`ConfigSummary`), best mean test cc_norm first."""

    columns = SUMMARY_COLUMNS

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.settings: List[str] = []

    def set_items(self, items) -> None:
        items = list(items)
        self.settings = distinguishing_settings(items)
        super().set_items(items)

    @property
    def rows(self) -> List[ConfigSummary]:
        return self.items

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole) -> Any:
        s = self.item_at(index.row())
        if s is None:
            return None
        column = SUMMARY_COLUMNS[index.column()]
        values = {"Configuration": s.label, "Settings": self.settings[index.row()], "Runs": s.n_runs, "Datasets": s.n_datasets, "Seeds": s.n_seeds,
                  "Mean test cc_norm": s.mean, "Std": s.std, "Min": s.minimum, "Max": s.maximum}
        value = values[column]
        if role == Qt.ItemDataRole.DisplayRole:
            return _number(value, ".3f") if isinstance(value, float) else str(value)
        if role == Qt.ItemDataRole.UserRole:
            return -math.inf if isinstance(value, float) and not math.isfinite(value) else value
        if role == Qt.ItemDataRole.ToolTipRole:
            return s.config_key
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self._align(column)
        return None


class DeleteHistoryRunCommand(QUndoCommand):
    """A run deleted from the history database (``row`` as :meth:`RunHistory.delete_run` returned it); undo
    writes the same row (same id) back, redo deletes it again. The first deletion is done before the push, so a
    database error surfaces to the caller instead of inside Qt's ``redo``."""

    def __init__(self, panel: "HistoryPanel", record: RunRecord, row: dict) -> None:
        super().__init__(f"Delete history run {record.id} ({record.label()})")
        self.panel = panel
        self.run_id = record.id
        self._row: Optional[dict] = row
        self._first = True

    def redo(self) -> None:
        if self._first:
            self._first = False
        else:
            self._row = self.panel.history().delete_run(self.run_id)
        self.panel.forget(self.run_id)

    def undo(self) -> None:
        if self._row is not None:
            try:
                self.panel.history().restore_run(self._row)
            except Exception as exc:  # noqa: BLE001 - Qt calls undo(): report instead of raising into it
                self.panel.status_label.setText(f"could not restore run {self.run_id}: {exc}")
            self.panel.refresh()


def load_records(path, dataset_hash: Optional[str]) -> List[RunRecord]:
    """Runs of the history at ``path`` (all of them when ``dataset_hash`` is ``None``), newest first.

    Opens its own connection, so it can run in any thread.
    """
    with RunHistory(path, reap=False) as history:
        return history.runs(dataset_hash=dataset_hash, order_by="id", descending=True)


class HistoryPanel(QWidget):
    """The run history dock's widget.

    ``history_path``: the SQLite file; ``start_worker(fn, on_finished=..., on_failed=..., name=...)`` (the main
    window's) loads in a worker, ``None`` loads synchronously. :meth:`set_dataset_hash` chooses the dataset shown
    when "All datasets" is off (``None`` = no open dataset: nothing unless "All datasets").
    """

    reopen_requested = Signal(object)  # RunRecord
    loaded = Signal()

    def __init__(self, history_path, start_worker: Optional[Callable] = None,
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("history_panel")
        self.history_path = Path(history_path)
        self._start_worker = start_worker
        self._history: Optional[RunHistory] = None
        self.dataset_hash: Optional[str] = None
        self.generation = 0  # increases with every refresh request
        self.loaded_generation = 0  # the generation the table shows
        self.error: Optional[str] = None
        self.undo_stack = QUndoStack(self)

        self.model = HistoryTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.table = self._make_table(self.proxy, "history_table")
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.table.doubleClicked.connect(self._on_double_clicked)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._on_context_menu)

        self.summary_model = SummaryTableModel(self)
        summary_proxy = QSortFilterProxyModel(self)
        summary_proxy.setSourceModel(self.summary_model)
        summary_proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.summary_table = self._make_table(summary_proxy, "history_summary_table")
        self.summary_table.sortByColumn(SUMMARY_COLUMNS.index("Mean test cc_norm"), Qt.SortOrder.DescendingOrder)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Runs")
        self.tabs.addTab(self.summary_table, "Summary per configuration")

        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("history_filter")
        self.filter_edit.setPlaceholderText("Filter runs (model, kernel, status, source, data...)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._on_filter_changed)
        self.all_datasets_box = QCheckBox("All datasets")
        self.all_datasets_box.setObjectName("history_all_datasets")
        self.all_datasets_box.setToolTip("Show the runs of every dataset, not only those of the open one")
        self.all_datasets_box.toggled.connect(lambda _checked: self.refresh())
        self.count_label = QLabel()
        top = QHBoxLayout()
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.all_datasets_box)
        top.addWidget(self.count_label)

        self.reopen_action = self._action("Reopen", "Open the selected run's checkpoint and show it in every view",
                                          self.reopen_selected, "Return")
        self.delete_action = self._action("Delete", "Delete the selected run from the history (Undo brings it "
                                                    "back)", self.delete_selected, QKeySequence.StandardKey.Delete)
        self.undo_action = self.undo_stack.createUndoAction(self, "Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(self.undo_action)
        self.redo_action = self.undo_stack.createRedoAction(self, "Redo")
        self.redo_action.setShortcut(QKeySequence.StandardKey.Redo)
        self.redo_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(self.redo_action)
        self.export_action = self._action("Export CSV...", "Save the rows shown (filtered, sorted) as a CSV file",
                                          self.ask_export_csv)
        self.refresh_action = self._action("Refresh", "Read the history database again", self.refresh, "F5")

        buttons = QHBoxLayout()
        self.buttons = {}
        for key, action in (("reopen", self.reopen_action), ("delete", self.delete_action),
                            ("undo", self.undo_action), ("export", self.export_action),
                            ("refresh", self.refresh_action)):
            button = QPushButton(action.text())
            button.setObjectName(f"history_{key}")
            button.setToolTip(action.toolTip())
            button.clicked.connect(action.trigger)
            self.buttons[key] = button
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.status_label = QLabel()
        self.status_label.setObjectName("history_status")
        buttons.addWidget(self.status_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)
        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        self.undo_action.changed.connect(self._update_actions)
        self._update_actions()

    def _make_table(self, model, name: str) -> QTableView:
        table = QTableView()
        table.setObjectName(name)
        table.setModel(model)
        table.setSortingEnabled(True)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setStretchLastSection(True)
        table.setMinimumHeight(60)  # the dock shares the bottom area with others: keep the views large
        return table

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

    # -- the database ------------------------------------------------------------------------------------------
    def history(self) -> RunHistory:
        """This panel's GUI-thread connection (for single-row writes and CSV export)."""
        if self._history is None:
            self._history = RunHistory(self.history_path)
        return self._history

    def set_history_path(self, path) -> None:
        """Show another history database (undo steps of the previous one are dropped)."""
        path = Path(path)
        if path == self.history_path:
            return
        if self._history is not None:
            self._history.close()
            self._history = None
        self.history_path = path
        self.undo_stack.clear()
        self.refresh()

    def set_dataset_hash(self, dataset_hash: Optional[str]) -> None:
        if dataset_hash != self.dataset_hash:
            self.dataset_hash = dataset_hash
            self.refresh()

    @property
    def all_datasets(self) -> bool:
        return self.all_datasets_box.isChecked()

    @Slot()
    def refresh(self) -> None:
        """Read the runs again (in a worker when possible); the newest request wins."""
        self.generation += 1
        generation = self.generation
        if not self.all_datasets and not self.dataset_hash:
            self._show([], generation)
            self.status_label.setText("no dataset open: check \"All datasets\" to see every run")
            return
        path, wanted = self.history_path, None if self.all_datasets else self.dataset_hash
        if self._start_worker is None:
            try:
                records = load_records(path, wanted)
            except Exception as exc:  # noqa: BLE001 - shown in the panel, the app keeps running
                self._on_load_failed(str(exc), generation)
                return
            self._show(records, generation)
            return
        self.status_label.setText("reading the run history...")
        self._start_worker(lambda progress, cancel: load_records(path, wanted),
                           on_finished=lambda records, g=generation: self._show(records, g),
                           on_failed=lambda message, g=generation: self._on_load_failed(message, g),
                           name="read-history")

    def _on_load_failed(self, message: str, generation: int) -> None:
        if generation != self.generation:
            return
        self.error = message
        self.loaded_generation = generation
        self.status_label.setText(f"cannot read the run history: {message}")
        self.loaded.emit()

    def _show(self, records: List[RunRecord], generation: int) -> None:
        if generation != self.generation:
            return  # a newer refresh is under way
        selected = self.selected_record()
        self.error = None
        self.model.set_records(records)
        self.summary_model.set_items(summarize(records))
        if selected is not None:
            self.select_run(selected.id)
        self.loaded_generation = generation
        self._update_count()
        self.status_label.setText(str(self.history_path))
        self.status_label.setToolTip(f"run history database: {self.history_path}")
        self._update_actions()
        self.loaded.emit()

    @property
    def is_loading(self) -> bool:
        return self.loaded_generation != self.generation

    def forget(self, run_id: int) -> None:
        """Drop a deleted run from the table at once (no re-read)."""
        row = self.model.row_of(run_id)
        if row >= 0:
            records = [r for r in self.model.records if r.id != run_id]
            self.model.set_records(records)
            self.summary_model.set_items(summarize(records))
            self._update_count()
            self._update_actions()

    # -- selection and filtering -------------------------------------------------------------------------------
    def visible_records(self) -> List[RunRecord]:
        """The rows as shown: filtered and in display order."""
        out = []
        for row in range(self.proxy.rowCount()):
            record = self.model.record_at(self.proxy.mapToSource(self.proxy.index(row, 0)).row())
            if record is not None:
                out.append(record)
        return out

    def selected_record(self) -> Optional[RunRecord]:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.record_at(self.proxy.mapToSource(rows[0]).row())

    def select_run(self, run_id: int) -> bool:
        row = self.model.row_of(run_id)
        if row < 0:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return False
        self.table.selectRow(index.row())
        return True

    @Slot(str)
    def _on_filter_changed(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        self._update_count()
        self._update_actions()

    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        scope = "all datasets" if self.all_datasets else "this dataset"
        self.count_label.setText(f"{shown} of {total} run(s), {scope}" if shown != total
                                 else f"{total} run(s), {scope}")

    def _update_actions(self, *args) -> None:
        record = self.selected_record()
        self.reopen_action.setEnabled(record is not None and bool(record.checkpoint))
        self.delete_action.setEnabled(record is not None and record.status != "running")
        self.export_action.setEnabled(self.proxy.rowCount() > 0)
        for key, action in (("reopen", self.reopen_action), ("delete", self.delete_action),
                            ("undo", self.undo_action), ("export", self.export_action),
                            ("refresh", self.refresh_action)):
            self.buttons[key].setEnabled(action.isEnabled())

    # -- actions -----------------------------------------------------------------------------------------------
    @Slot()
    def reopen_selected(self) -> None:
        record = self.selected_record()
        if record is not None and record.checkpoint:
            self.reopen_requested.emit(record)

    @Slot(QModelIndex)
    def _on_double_clicked(self, index: QModelIndex) -> None:
        self.reopen_selected()

    @Slot("QPoint")
    def _on_context_menu(self, pos) -> None:
        menu = QMenu(self)
        for action in (self.reopen_action, self.delete_action, self.undo_action, self.redo_action,
                       self.export_action, self.refresh_action):
            menu.addAction(action)
        menu.popup(self.table.viewport().mapToGlobal(pos))
        self._context_menu = menu

    @Slot()
    def delete_selected(self) -> None:
        record = self.selected_record()
        if record is None or record.status == "running":
            return
        try:
            row = self.history().delete_run(record.id)
        except Exception as exc:  # noqa: BLE001 - e.g. the database is locked, or the run was deleted elsewhere
            self.status_label.setText(f"could not delete run {record.id}: {exc}")
            self.refresh()
            return
        self.undo_stack.push(DeleteHistoryRunCommand(self, record, row))

    @Slot()
    def ask_export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the run history as CSV", str(Path.home() / "runs.csv"),
                                              "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path) -> Path:
        """Write the visible rows (filtered, sorted) to ``path`` atomically; returns the path."""
        out = self.history().export_csv(path, self.visible_records())
        self.status_label.setText(f"exported {self.proxy.rowCount()} run(s) to {out}")
        return Path(out)

    def close_history(self) -> None:
        if self._history is not None:
            self._history.close()
            self._history = None
