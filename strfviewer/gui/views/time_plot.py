"""What the two time-axis views (spectrogram, PSTH) share: one plot widget and a play-head line."""

from __future__ import annotations

from typing import List, Optional

import pyqtgraph as pg

PLAYHEAD_PEN = pg.mkPen((0, 170, 255), width=2)


class TimePlotMixin:
    """Needs ``self.plot`` (a ``pg.PlotWidget`` with time in ms on x); call :meth:`_add_playhead` once."""

    plot: pg.PlotWidget
    playhead: pg.InfiniteLine

    def _add_playhead(self) -> None:
        self.playhead = pg.InfiniteLine(angle=90, movable=False, pen=PLAYHEAD_PEN)
        self.playhead.setZValue(10)
        self.playhead.hide()
        self.plot.addItem(self.playhead)

    def plot_widgets(self) -> List[pg.PlotWidget]:
        return [self.plot]

    def set_playhead(self, t_ms: Optional[float]) -> None:
        """Move the vertical play-head line to ``t_ms`` (ms); ``None`` hides it."""
        if t_ms is None:
            self.playhead.hide()
        else:
            self.playhead.setValue(float(t_ms))
            self.playhead.show()
