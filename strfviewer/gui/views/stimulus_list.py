"""Stimulus list: name, split (train / val / test) and duration; the current row is the session's stimulus."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from strfviewer.gui.views.registry import ViewSpec, register_view
from strfviewer.gui.views.table_keys import RowHomeEnd

SPLIT_COLOURS = {"train": QColor(60, 140, 60), "val": QColor(200, 130, 20), "test": QColor(40, 100, 200)}


class StimulusListView(QWidget):
    """One row per stimulus in dataset order."""

    COLUMNS = ("stimulus", "split", "duration (ms)")

    def __init__(self, session, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.session = session
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setObjectName("stimulusTable")
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.currentCellChanged.connect(self._row_changed)
        self._home_end = RowHomeEnd(self.table)
        self._names: list = []
        self._syncing = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)

    def plot_widgets(self) -> list:
        return []

    @property
    def names(self) -> list:
        return list(self._names)

    def reload(self) -> None:
        ds = self.session.dataset
        self._syncing = True
        try:
            self.table.setRowCount(0)
            self._names = [] if ds is None else [s.name for s in ds.stimuli]
            if ds is None:
                return
            self.table.setRowCount(len(ds.stimuli))
            for row, stim in enumerate(ds.stimuli):
                split = ds.split.get(stim.name, "")
                cells = (stim.name, split, f"{ds.duration_ms(stim):.0f}")
                for col, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    if col == 1 and split in SPLIT_COLOURS:
                        item.setForeground(QBrush(SPLIT_COLOURS[split]))
                    if col == 2:
                        item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                    self.table.setItem(row, col, item)
        finally:
            self._syncing = False
        self.sync_selection()

    def sync_selection(self) -> None:
        name = self.session.stimulus
        if name not in self._names:
            return
        self._syncing = True
        try:
            row = self._names.index(name)
            self.table.setCurrentCell(row, 0)
            self.table.scrollToItem(self.table.item(row, 0))
        finally:
            self._syncing = False

    def _row_changed(self, row: int, _col: int, _prev_row: int, _prev_col: int) -> None:
        if self._syncing or not 0 <= row < len(self._names):
            return
        if self._names[row] != self.session.stimulus:
            self.session.select_stimulus(self._names[row])


register_view(ViewSpec("stimuli", "Stimuli", lambda window: StimulusListView(window.session), area="left",
                       depends=("dataset", "stimulus"), on={"dataset": "reload", "stimulus": "sync_selection"},
                       order=50))
