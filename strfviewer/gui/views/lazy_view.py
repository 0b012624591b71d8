"""Base of the findings views: draw only while visible."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QWidget


class LazyView(QWidget):
    """A view that draws only while visible: a hidden (tabbed-away) dock marks itself out of date and redraws
    when shown, so its computations start only when someone looks."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._stale = False

    def redraw(self) -> None:
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        self.draw()

    def draw(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self._stale:
            self.redraw()
