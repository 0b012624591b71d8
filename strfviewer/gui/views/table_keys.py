"""Home / End in the app's row tables go to the first / last row (a plain ``QTableView`` moves between the
columns of the current row, which does nothing visible when whole rows are selected)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QTableView


class RowHomeEnd(QObject):
    """Event filter of a row-selecting ``QTableView``: Home / End select its first / last row."""

    def __init__(self, table: QTableView) -> None:
        super().__init__(table)
        self.table = table
        table.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt API
        if event.type() != QEvent.Type.KeyPress or event.modifiers() not in (Qt.NoModifier, Qt.KeypadModifier):
            return False
        if event.key() not in (Qt.Key_Home, Qt.Key_End):
            return False
        model = self.table.model()
        rows = model.rowCount() if model is not None else 0
        if rows == 0:
            return True
        row = 0 if event.key() == Qt.Key_Home else rows - 1
        column = max(self.table.currentIndex().column(), 0)
        self.table.setCurrentIndex(model.index(row, column))
        return True
