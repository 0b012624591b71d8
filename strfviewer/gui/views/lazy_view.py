"""Base of the findings views: draw only while visible, a title above a white plot area, clickable points."""

from __future__ import annotations

from typing import Optional

import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget


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

    def build_frame(self, plots_name: str) -> QVBoxLayout:
        """``self.title`` (a wrapped label) above ``self.plots`` (a white ``GraphicsLayoutWidget`` named
        ``plots_name``, what the view exports); returns the view's layout (the plots are added last by the caller
        with ``layout.addWidget(self.plots, 1)`` where the view wants them)."""
        self.title = QLabel("")
        self.title.setWordWrap(True)
        self.title.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setObjectName(plots_name)
        self.plots.setBackground("w")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        return layout

    def plot_widgets(self) -> list:
        plots = getattr(self, "plots", None)
        return [plots] if plots is not None else []

    def select_clicked(self, _item, points, *_args) -> None:
        """``sigClicked`` of a scatter whose points carry their neuron index as data: select that neuron."""
        if len(points):
            self.session.select_neuron(int(points[0].data()))
