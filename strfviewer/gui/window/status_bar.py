"""The main window's status bar: a message too long for the room left by the permanent labels ends on a
whole word and '…' (Qt clips it mid-word), and the whole message is in the tooltip."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFontMetrics, QPainter
from PySide6.QtWidgets import QStatusBar, QStyle, QStyleOption, QWidget

ELLIPSIS = "…"
MARGIN = 6  # px left of the message and between it and the first permanent widget, as Qt leaves them


def elide_words(text: str, metrics: QFontMetrics, width: int) -> str:
    """``text`` when it fits in ``width`` px, else its longest run of whole words that fits with '…' (a first
    word wider than ``width`` alone is cut with Qt's elision)."""
    text = " ".join(text.split())
    if metrics.horizontalAdvance(text) <= width:
        return text
    words = text.split(" ")
    while len(words) > 1:
        words.pop()
        candidate = " ".join(words).rstrip(",;:—-") + ELLIPSIS
        if metrics.horizontalAdvance(candidate) <= width:
            return candidate
    return metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(0, width))


class ElidingStatusBar(QStatusBar):
    """A ``QStatusBar`` whose temporary message is drawn cut on a word boundary (``currentMessage()`` keeps the
    whole text)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.messageChanged.connect(self._on_message)

    def _on_message(self, message: str) -> None:
        self.setToolTip(message if message and self.displayed_message() != message else "")

    def message_rect(self) -> QRect:
        """Where the message goes: from the left margin to the first visible permanent widget."""
        right = self.width() - MARGIN
        for widget in self.findChildren(QWidget):
            if widget.parent() is self and widget.isVisible() and widget.x() > MARGIN:
                right = min(right, widget.x() - MARGIN)
        return QRect(MARGIN, 0, max(0, right - MARGIN), self.height())

    def displayed_message(self) -> str:
        """The message as drawn at the current width."""
        return elide_words(self.currentMessage(), self.fontMetrics(), self.message_rect().width())

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        if not self.currentMessage():
            super().paintEvent(event)
            return
        painter = QPainter(self)
        option = QStyleOption()
        option.initFrom(self)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_PanelStatusBar, option, painter, self)
        painter.setPen(self.palette().windowText().color())
        painter.drawText(self.message_rect(), int(Qt.AlignmentFlag.AlignLeading | Qt.AlignmentFlag.AlignVCenter
                                                  | Qt.TextFlag.TextSingleLine), self.displayed_message())
        painter.end()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._on_message(self.currentMessage())
