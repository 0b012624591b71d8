"""Spectrogram of the selected stimulus: time (ms) x frequency (Hz on band centres), colour bar, play-head."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from strfviewer.gui.views.axes import (COLORBAR_WIDTH, LEFT_AXIS_WIDTH, NO_DATA_TEXT, BandAxis, sequential_cmap,
                                      set_placeholder)
from strfviewer.gui.views.registry import ViewSpec, register_view
from strfviewer.gui.views.time_plot import TimePlotMixin


class SpectrogramView(TimePlotMixin, QWidget):
    """Shows ``stimulus.spec[0]`` ``(F, T)`` as a row-major ``ImageItem`` placed at ``x = 0 .. T * dt_ms``.

    ``image`` holds the array shown (``None`` before a dataset); ``set_playhead(t_ms)`` moves a vertical line
    (``None`` hides it).
    """

    def __init__(self, session, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.session = session
        self.image: Optional[np.ndarray] = None
        self.band_axis = BandAxis("left")
        self.plot = pg.PlotWidget(axisItems={"left": self.band_axis})
        self.plot.setObjectName("spectrogramPlot")
        self.plot.setLabel("bottom", "time", units="ms")
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.getViewBox().setLimits(minXRange=1.0)
        self.title = ""
        self.item = pg.ImageItem(axisOrder="row-major", autoLevels=False)
        self.plot.addItem(self.item)
        self.colorbar = pg.ColorBarItem(colorMap=sequential_cmap(), interactive=False, width=12,
                                       label="level")
        self.colorbar.setImageItem(self.item, insert_in=self.plot.getPlotItem())
        self.colorbar.setFixedWidth(COLORBAR_WIDTH)
        self.band_axis.setWidth(LEFT_AXIS_WIDTH)
        self._add_playhead()
        set_placeholder(self.plot, NO_DATA_TEXT)  # until redraw() has a stimulus to show
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def redraw(self) -> None:
        stim = self.session.stimulus_obj()
        ds = self.session.dataset
        if stim is None or ds is None:
            self.image = None
            self.item.clear()
            set_placeholder(self.plot, NO_DATA_TEXT)
            return
        set_placeholder(self.plot, None)
        spec = np.asarray(stim.spec[0], dtype=np.float32)  # (F, T)
        self.image = spec
        F, T = spec.shape
        finite = spec[np.isfinite(spec)]
        lo, hi = (float(np.percentile(finite, 1)), float(np.percentile(finite, 99.5))) if finite.size else (0, 1)
        if hi <= lo:
            hi = lo + 1.0
        self.item.setImage(spec, autoLevels=False)
        self.colorbar.setLevels((lo, hi))
        dt = float(ds.dt_ms)
        self.item.setRect(0.0, -0.5, T * dt, float(F))
        self.band_axis.set_freqs(ds.freqs_hz)
        split = ds.split.get(stim.name, "")
        self.title = f"{stim.name}" + (f" ({split})" if split else "")
        self.plot.setTitle(self.title, size="9pt")
        vb = self.plot.getViewBox()
        vb.setLimits(xMin=-dt, xMax=(T + 1) * dt, yMin=-0.5, yMax=F - 0.5)
        vb.setRange(xRange=(0, T * dt), yRange=(-0.5, F - 0.5), padding=0)


register_view(ViewSpec("spectrogram", "Spectrogram", lambda window: SpectrogramView(window.session), area="time",
                       depends=("dataset", "stimulus"), exportable=True, order=10))
