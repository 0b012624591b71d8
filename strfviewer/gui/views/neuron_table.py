"""Neuron table: name, number of spikes (the mean in mV for a continuous dataset), cc_max, one test cc_norm column per run and the tuning of the current
run (best frequency, bandwidth, latency, separability, best modulations; hidden until the "Tuning" button or
the header's right-click menu shows them); sortable, filterable, keyboard navigable; the current row is the
session's selected neuron. The tuning is computed in a worker when a run's model arrives
(:mod:`strfviewer.gui.findings.run_maps`)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import List, Optional

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QEvent, QModelIndex, QSortFilterProxyModel, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLineEdit, QMenu, QTableView,
                               QToolButton, QVBoxLayout, QWidget)

from strfviewer.fit.metrics import cc_norm_note
from strfviewer.gui.views.registry import ViewSpec, register_view
from strfviewer.gui.views.table_keys import RowHomeEnd
from strfviewer.io.exports import response_column

SORT_ROLE = Qt.UserRole + 1
FIXED_COLUMNS = ("#", "neuron", "spikes", "cc_max")


@dataclass(frozen=True)
class TuningColumn:
    """A tuning column: the metric of :mod:`strfviewer.analysis.tuning`, its header, display scale and format."""

    metric: str
    header: str
    scale: float
    fmt: str
    tip: str


#: the current run's tuning, after the run columns (hidden by default: they would push cc_norm out of the dock)
TUNING_COLUMNS = (
    TuningColumn("best_frequency_hz", "BF\nkHz", 1e-3, "{:.2f}", "best frequency (kHz): peak of the excitatory "
                 "frequency profile"),
    TuningColumn("bandwidth_oct", "bw\noct", 1.0, "{:.2f}", "bandwidth (octaves) at half maximum of the "
                 "excitatory frequency profile"),
    TuningColumn("latency_ms", "lat\nms", 1.0, "{:.1f}", "onset latency (ms): half-maximum rise of the "
                 "excitatory time profile"),
    TuningColumn("separability", "sep", 1.0, "{:.2f}", "separability: share of the map's power in its first "
                 "singular value (1 = rank 1)"),
    TuningColumn("best_temporal_modulation_hz", "tMod\nHz", 1.0, "{:.1f}", "best temporal modulation (Hz) of the "
                 "modulation transfer function"),
    TuningColumn("best_spectral_modulation_cyc_per_oct", "sMod\ncyc/oct", 1.0, "{:.2f}", "best spectral "
                 "modulation (cycles/octave) of the modulation transfer function"),
)




def data_ceiling(dataset) -> np.ndarray:
    """``cc_max`` ``(N,)`` of the test stimuli (all stimuli when there is no test split), from the data only."""
    stims = dataset.stimuli_in("test") or list(dataset.stimuli)
    try:
        from strfviewer.fit.metrics import cc_norm_from_trials
    except ImportError:  # pragma: no cover - engine part absent
        return np.full(dataset.n_neurons, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # cc_max does not depend on the prediction; the trial mean stands in for one
        m = cc_norm_from_trials([s.responses for s in stims], [np.nan_to_num(s.psth()) for s in stims])
    return np.asarray(m.cc_max, dtype=float)


#: family names shortened in column headers (as deepSTRF's documentation writes them); tooltips keep the full names
SHORT_FAMILIES = {"LinearNonlinear": "LN", "NetworkReceptiveField": "NRF"}
HEADER_LINE = 14  # characters per header line for a run's name


def header_name(name: str) -> str:
    """A run name for a narrow column header: long family names shortened, wrapped on spaces at
    ``HEADER_LINE`` characters (``'LinearNonlinear / AdapTrans'`` -> ``'LN / AdapTrans'``)."""
    for long, short in SHORT_FAMILIES.items():
        name = name.replace(long, short)
    lines: List[str] = []
    for word in name.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= HEADER_LINE:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)


class NeuronTableModel(QAbstractTableModel):
    """Rows = neurons (source order = dataset order). ``SORT_ROLE`` gives numbers for sorting."""

    def __init__(self, session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.spikes = np.zeros(0)
        self.response_header, self.response_tip = "spikes", "spikes over all stimuli and trials"
        self.cc_max = np.zeros(0)
        self.run_values: List[tuple] = []  # (run, (N,) cc_norm or None)
        self.tuning = None  # RunTuning of the current run, once computed

    @property
    def first_tuning_column(self) -> int:
        return len(FIXED_COLUMNS) + len(self.run_values)

    def tuning_column(self, column: int) -> Optional[TuningColumn]:
        j = column - self.first_tuning_column
        return TUNING_COLUMNS[j] if 0 <= j < len(TUNING_COLUMNS) else None

    # --- refresh from the session --------------------------------------------------------------------
    def reload(self) -> None:
        """Recompute everything (new dataset or new set of runs)."""
        self.beginResetModel()
        ds = self.session.dataset
        if ds is None:
            self.spikes = np.zeros(0)
            self.cc_max = np.zeros(0)
        else:
            column = response_column(ds)  # total spikes, or the mean mV of a continuous dataset
            self.spikes = np.asarray(column.values, dtype=np.float64)
            self.response_header, self.response_tip = column.header, column.tip
            self.cc_max = data_ceiling(ds)
        self._collect_runs()
        self.endResetModel()

    def reload_runs(self) -> None:
        self.beginResetModel()
        self._collect_runs()
        self.endResetModel()

    def _collect_runs(self) -> None:
        from strfviewer.gui.findings.run_maps import cached_tuning

        self.run_values = [(r, r.neuron_values("cc_norm", "test")) for r in self.session.runs]
        self.tuning = cached_tuning(self.session.current_run)

    def refresh_results(self) -> None:
        """Results of a run arrived: same columns, new numbers."""
        if len(self.run_values) != len(self.session.runs):
            return self.reload_runs()
        self._collect_runs()
        if self.rowCount():
            self.dataChanged.emit(self.index(0, len(FIXED_COLUMNS)),
                                  self.index(self.rowCount() - 1, self.columnCount() - 1))
        self.headerDataChanged.emit(Qt.Horizontal, self.first_tuning_column, self.columnCount() - 1)

    # --- Qt model API -------------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        ds = self.session.dataset
        return 0 if parent.isValid() or ds is None else ds.n_neurons

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(FIXED_COLUMNS) + len(self.run_values) + len(TUNING_COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):  # noqa: N802
        if orientation != Qt.Horizontal:
            return None
        tuning = self.tuning_column(section)
        if role == Qt.DisplayRole:
            if section == 2:
                return self.response_header
            if section < len(FIXED_COLUMNS):
                return FIXED_COLUMNS[section]
            if tuning is not None:
                return tuning.header
            run = self.run_values[section - len(FIXED_COLUMNS)][0]
            return f"cc_norm\n{header_name(self.session.run_label(run))}"
        if role == Qt.ToolTipRole:
            tips = {0: "index in the dataset", 1: "neuron name", 2: self.response_tip,
                    3: "noise ceiling of the test stimuli (from the trials)"}
            if section in tips:
                return tips[section]
            if tuning is not None:
                run = self.session.current_run
                of = f" of the current run {run.name!r}" if run is not None else " of the current run"
                return f"{tuning.tip}{of} (its kernel STRF or gradmap, excitation positive; see docs/analysis.md)"
            run = self.run_values[section - len(FIXED_COLUMNS)][0]
            return (f"normalised correlation on the test stimuli, run {self.session.run_label(run)!r} (can exceed 1: the noise "
                    f"ceiling is estimated from finitely many trials)")
        return None

    def value(self, row: int, column: int):
        """Raw value of a cell (int, str or float, NaN when unknown)."""
        ds = self.session.dataset
        if column == 0:
            return row
        if column == 1:
            return ds.neuron_names[row]
        if column == 2:
            return float(self.spikes[row]) if row < len(self.spikes) else math.nan
        if column == 3:
            return float(self.cc_max[row]) if row < len(self.cc_max) else math.nan
        tuning = self.tuning_column(column)
        if tuning is not None:
            values = None if self.tuning is None else self.tuning.values.get(tuning.metric)
            return float(values[row]) * tuning.scale if values is not None and row < len(values) else math.nan
        values = self.run_values[column - len(FIXED_COLUMNS)][1]
        return float(values[row]) if values is not None and row < len(values) else math.nan

    def run_tooltip(self, row: int, column: int) -> str:
        """A run cell's tooltip: its test cc_norm and, when each neuron kept its own best epoch, which one."""
        run = self.run_values[column - len(FIXED_COLUMNS)][0]
        v = self.value(row, column)
        text = f"{run.name}: test cc_norm {v:.3f}" if math.isfinite(v) else f"{run.name}: no test cc_norm"
        note = cc_norm_note(v)
        if note:
            text += f"\n{note}"
        epochs = run.best_epochs()
        if epochs is not None and row < len(epochs):
            epoch = epochs[row]
            text += ("\nweights of epoch {} (this neuron's best validation score; each neuron kept its own)"
                     .format(epoch) if epoch is not None else "\nno validation score: the population's best epoch")
        return text

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        v = self.value(index.row(), index.column())
        if role == Qt.DisplayRole:
            if isinstance(v, float):
                if not math.isfinite(v):
                    return "–"
                if index.column() == 2:
                    return f"{v:.0f}" if self.response_header == "spikes" else f"{v:.2f}"
                tuning = self.tuning_column(index.column())
                if tuning is not None:
                    return tuning.fmt.format(v)
                # a cc_norm above 1 carries a mark; its tooltip says why it can happen
                return f"{v:.3f}" + ("*" if index.column() >= len(FIXED_COLUMNS) and cc_norm_note(v) else "")
            return str(v)
        if role == SORT_ROLE:
            if isinstance(v, float) and not math.isfinite(v):
                return -math.inf
            return v
        if role == Qt.ToolTipRole and index.column() == 1:
            return str(v)  # the full name when the column is narrowed
        if role == Qt.ToolTipRole and self.tuning_column(index.column()) is not None:
            names = self.tuning.channel_names if self.tuning is not None else ("",)
            channel = names[int(self.tuning.channel[index.row()])] if self.tuning is not None else ""
            return f"on the {channel} channel (the one with the most power)" if channel else None
        if role == Qt.ToolTipRole and index.column() >= len(FIXED_COLUMNS):
            return self.run_tooltip(index.row(), index.column())
        if role == Qt.TextAlignmentRole:
            return int(Qt.AlignLeft | Qt.AlignVCenter) if index.column() == 1 else int(Qt.AlignRight | Qt.AlignVCenter)
        return None


class NeuronTableView(QWidget):
    """Filter box over a sortable table; selecting a row selects that neuron in the session."""

    def __init__(self, session, parent: Optional[QWidget] = None, jobs=None) -> None:
        super().__init__(parent)
        self.session = session
        self.jobs = jobs  # FindingsJobs computing the tuning columns (None: those columns stay empty)
        self.shown_tuning: set = set()  # metrics of the tuning columns shown
        self.model = NeuronTableModel(session, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterKeyColumn(1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseInsensitive)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("filter neurons by name")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._set_filter)
        self.table = QTableView()
        self.table.setObjectName("neuronTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        # sized to the contents once per reload: ResizeToContents would measure every row on each change
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.sortByColumn(0, Qt.AscendingOrder)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        header = self.table.horizontalHeader()
        header.setContextMenuPolicy(Qt.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        self.tuning_button = QToolButton()
        self.tuning_button.setText("Tuning")
        self.tuning_button.setObjectName("tuningColumnsButton")
        self.tuning_button.setCheckable(True)
        self.tuning_button.setToolTip("show the current run's tuning columns (BF, bandwidth, latency, separability, "
                                      "best modulations); right-click the header to choose them one by one")
        self.tuning_button.toggled.connect(self.set_tuning_columns)
        self._home_end = RowHomeEnd(self.table)
        self._squeeze_due = False
        self.table.viewport().installEventFilter(self)
        self._syncing = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.tuning_button)
        layout.addLayout(top)
        layout.addWidget(self.table)
        self._apply_tuning_visibility()

    def plot_widgets(self) -> list:
        return []

    # --- session -> table ----------------------------------------------------------------------------
    def reload(self) -> None:
        self.model.reload()
        self._after_reset()
        self.sync_selection()

    def reload_runs(self) -> None:
        self.model.reload_runs()
        self._after_reset()
        self.sync_selection()

    def refresh_results(self) -> None:
        columns = self.model.columnCount()
        self.model.refresh_results()
        if self.model.columnCount() != columns:
            self._after_reset()
        else:
            self._fit_columns()
        self._request_tuning()

    def _after_reset(self) -> None:
        self._apply_tuning_visibility()
        self._fit_columns()
        self._request_tuning()

    # --- tuning columns ------------------------------------------------------------------------------
    def _request_tuning(self) -> None:
        """Start the current run's tuning in a worker when its model is there and it is not computed yet."""
        if self.jobs is not None:
            from strfviewer.gui.findings.run_maps import request_tuning

            request_tuning(self.jobs, self.session.current_run, self.session.dataset)

    def tuning_columns(self) -> List[int]:
        """Model (= proxy) column of each tuning column, in :data:`TUNING_COLUMNS` order."""
        first = self.model.first_tuning_column
        return list(range(first, first + len(TUNING_COLUMNS)))

    def set_tuning_columns(self, shown: bool = True, metrics=None) -> None:
        """Show (or hide) the tuning columns ``metrics`` (default: all of them)."""
        chosen = {c.metric for c in TUNING_COLUMNS} if metrics is None else set(metrics)
        self.shown_tuning = (self.shown_tuning | chosen) if shown else (self.shown_tuning - chosen)
        self._apply_tuning_visibility()
        self._fit_columns()

    def _apply_tuning_visibility(self) -> None:
        header = self.table.horizontalHeader()
        hidden = {column for column, spec in zip(self.tuning_columns(), TUNING_COLUMNS)
                  if spec.metric not in self.shown_tuning}
        for column in range(self.model.columnCount()):  # sections keep their state when the run columns move
            header.setSectionHidden(column, column in hidden)
        self.tuning_button.blockSignals(True)
        self.tuning_button.setChecked(bool(self.shown_tuning))
        self.tuning_button.blockSignals(False)

    def header_menu(self) -> QMenu:
        """The header's right-click menu: one checkable entry per tuning column, and all of them."""
        menu = QMenu(self)
        every = QAction("All tuning columns", menu)
        every.setCheckable(True)
        every.setChecked(len(self.shown_tuning) == len(TUNING_COLUMNS))
        every.toggled.connect(lambda on: self.set_tuning_columns(on))
        menu.addAction(every)
        menu.addSeparator()
        for spec in TUNING_COLUMNS:
            action = QAction(f"{spec.header.replace(chr(10), ' (')})" if "\n" in spec.header else spec.header, menu)
            action.setToolTip(spec.tip)
            action.setCheckable(True)
            action.setChecked(spec.metric in self.shown_tuning)
            action.toggled.connect(lambda on, m=spec.metric: self.set_tuning_columns(on, [m]))
            menu.addAction(action)
        return menu

    def _header_menu(self, pos) -> None:
        self.header_menu().popup(self.table.horizontalHeader().mapToGlobal(pos))

    def _fit_columns(self) -> None:
        """Column widths from the header and (at most) the first rows, computed once per change."""
        header = self.table.horizontalHeader()
        header.setResizeContentsPrecision(200)
        self.table.resizeColumnsToContents()
        header.setStretchLastSection(False)  # the last column fills the room left again (contents sizing undid it)
        header.setStretchLastSection(True)
        self._squeeze_columns()

    def preferred_width(self) -> int:
        """Width (px) the view needs to show every column at its content's width (full names, every run's
        cc_norm), frame and vertical scroll bar included."""
        table = self.table
        count = self.proxy.columnCount()
        header = table.horizontalHeader()
        columns = sum(max(table.sizeHintForColumn(c), header.sectionSizeHint(c))
                      for c in range(count) if not header.isSectionHidden(c))  # hidden tuning columns aside
        return columns + 2 * table.frameWidth() + table.verticalScrollBar().sizeHint().width() + 4

    def _squeeze_columns(self) -> None:
        """When the columns are wider than the table, take back the room Qt keeps for the sort arrow in the
        numeric columns (down to their header and cell text), then narrow the name column (long names are elided, the tooltip
        has them in full), so that the numbers stay in view: a long neuron name (a cell folder's) pushed the only
        cc_norm column out of the dock. Many runs' columns may still scroll."""
        header = self.table.horizontalHeader()
        room = self.table.viewport().width()
        count = self.proxy.columnCount()
        if room <= 0 or count < 2:
            return
        excess = header.length() - room
        if excess <= 0:
            return
        widths = [header.sectionSize(c) for c in range(count)]
        metrics = header.fontMetrics()
        header.setStretchLastSection(False)  # else the last section keeps its width whatever resizeSection says
        for c in list(range(len(FIXED_COLUMNS), count)) + [0, 2, 3]:  # the run columns, then #, spikes, cc_max
            if header.isSectionHidden(c):
                continue
            text = str(self.proxy.headerData(c, Qt.Horizontal) or "")
            cells = self.table.sizeHintForColumn(c)  # the rows' text (ResizeContentsPrecision rows)
            tight = max(max(metrics.horizontalAdvance(line) for line in text.split("\n")) + 10, cells)
            cut = min(excess, max(widths[c] - tight, 0))
            widths[c] -= cut
            excess -= cut
        name_min = self.table.fontMetrics().horizontalAdvance("neuron") + 16
        widths[1] -= min(max(excess, 0), max(widths[1] - name_min, 0))
        for c in range(count):
            if widths[c] != header.sectionSize(c):
                header.resizeSection(c, widths[c])
        header.setStretchLastSection(True)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt API
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize and not self._squeeze_due:
            self._squeeze_due = True  # once per burst of resizes, after them (no resize feedback loop)
            QTimer.singleShot(0, self, self._squeeze_after_resize)
        return False

    def _squeeze_after_resize(self) -> None:
        """Fit the columns to the new width: narrower, squeeze them; wider, give the names back the room they
        need (a name squeezed at a small first size stayed cut in a large window)."""
        self._squeeze_due = False
        self._fit_columns()

    def sync_selection(self) -> None:
        """Make the current row the session's neuron (no signal back to the session)."""
        if self.session.dataset is None:
            return
        src = self.model.index(self.session.neuron, 0)
        idx = self.proxy.mapFromSource(src)
        self._syncing = True
        try:
            if idx.isValid():
                self.table.setCurrentIndex(idx)
                self.table.scrollTo(idx)
            else:
                self.table.clearSelection()
        finally:
            self._syncing = False

    # --- table -> session ----------------------------------------------------------------------------
    def _row_changed(self, current, _previous) -> None:
        if self._syncing or not current.isValid():
            return
        row = self.proxy.mapToSource(current).row()
        if row != self.session.neuron:
            self.session.select_neuron(row)

    def _set_filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text)
        self.sync_selection()

    def source_row_at(self, proxy_row: int) -> int:
        """Dataset index of the neuron shown at ``proxy_row``."""
        return self.proxy.mapToSource(self.proxy.index(proxy_row, 0)).row()


def _create(window) -> NeuronTableView:
    from strfviewer.gui.views.findings_jobs import findings_jobs

    return NeuronTableView(window.session, jobs=findings_jobs(window))


register_view(ViewSpec("neurons", "Neurons", _create, area="left",
                       depends=("dataset", "runs", "run", "results", "neuron"),
                       on={"dataset": "reload", "runs": "reload_runs", "run": "refresh_results",
                           "results": "refresh_results", "neuron": "sync_selection"}, order=40))
