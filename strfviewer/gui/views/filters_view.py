"""The learned filterbank of the current run's waveform front-end (:func:`strfviewer.analysis.filterbank.learned_filterbank`).

Left: each band's frequency response (magnitude of its linear stage, Hz on a log axis), colour from low to high
band; for a front-end with parameters (SincNet, LEAF, GaborFilterbank) its initial responses dashed in grey.
Right: each band's centre frequency with its bandwidth as a bar (the front-end's own parameters), and for
learnable front-ends the initial centres (grey), so the movement of training shows band by band. A line above
says the front-end, its rate and, for learnable ones, the median and largest centre shift (octaves).

Computed in a worker once per run (cached in ``run.cache``); spectrogram models show a note instead.
"""

from __future__ import annotations

from typing import List, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from strfviewer.gui.views.registry import ViewSpec, register_view

CACHE_KEY = "filterbank"
INIT_PEN = pg.mkPen((150, 150, 150), width=1, style=Qt.DashLine)


def compute_filterbank(model):
    """The model's :class:`~strfviewer.analysis.filterbank.Filterbank` (in a worker; the model's lock held, so a
    gradmap probe never shows it without its front-end)."""
    from strfviewer.analysis._probe import model_lock
    from strfviewer.analysis.filterbank import learned_filterbank

    with model_lock(model):
        return learned_filterbank(model.front_end(), n_freqs=1024)


def band_colours(n: int) -> List[tuple]:
    """One colour per band, low bands blue to high bands red."""
    cmap = pg.colormap.get("CET-R4")
    return [cmap.map(x, mode="qcolor") for x in np.linspace(0.0, 1.0, max(n, 1))]


class FiltersView(QWidget):
    """Shows the current run's learned filterbank; ``filterbank`` holds what is drawn (``None`` when nothing)."""

    def __init__(self, window, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.window = window
        self.session = window.session
        self.filterbank = None
        self.worker = None
        self._pending_run = None
        self.info = QLabel("")
        self.info.setObjectName("filtersInfo")
        self.info.setWordWrap(True)
        self.response_plot = pg.PlotWidget()
        self.response_plot.setObjectName("filterResponses")
        self.response_plot.setLogMode(x=True, y=False)
        self.response_plot.setLabel("bottom", "frequency (Hz)")
        self.response_plot.setLabel("left", "gain")
        self.centre_plot = pg.PlotWidget()
        self.centre_plot.setObjectName("filterCentres")
        self.centre_plot.setLogMode(x=False, y=True)
        self.centre_plot.setLabel("bottom", "band")
        self.centre_plot.setLabel("left", "centre ± bandwidth / 2 (Hz)")
        self.centre_plot.addLegend(offset=(5, 5), labelTextSize="8pt")
        for plot in (self.response_plot, self.centre_plot):
            plot.setMinimumHeight(60)
            plot.getAxis("bottom").enableAutoSIPrefix(False)
        plots = QHBoxLayout()
        plots.addWidget(self.response_plot, 3)
        plots.addWidget(self.centre_plot, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.info)
        layout.addLayout(plots, 1)

    def plot_widgets(self):
        return [self.response_plot, self.centre_plot]

    def _clear(self, message: str) -> None:
        self.filterbank = None
        self.response_plot.clear()
        self.centre_plot.clear()
        self.info.setText(message)

    def redraw(self) -> None:
        run = self.session.current_run
        model = getattr(run, "model", None)
        if model is None:
            self._clear("No model.")
            return
        if not getattr(model, "is_wav_native", False):
            self._clear("This model takes spectrograms: it has no learned filterbank (fit one with a waveform "
                        "front-end: Fit > New fit..., Front-end).")
            return
        cached = run.cache.get(CACHE_KEY)
        if cached is not None:
            if cached is not self.filterbank:
                self.draw(cached)
            return
        self._start(run, model)

    def _start(self, run, model) -> None:
        if self.worker is not None:  # one at a time; the newest run is drawn when it ends
            self._pending_run = run
            return
        self.info.setText("Computing the filterbank…")

        def finished(filterbank) -> None:
            self.worker = None
            run.cache[CACHE_KEY] = filterbank
            self._after()

        def failed(message: str) -> None:
            self.worker = None
            self._clear(f"No filterbank: {message}")

        self.worker = self.window.start_worker(lambda progress, cancel: compute_filterbank(model),
                                               on_finished=finished, on_failed=failed, name="filterbank")

    def _after(self) -> None:
        self._pending_run = None
        self.redraw()

    def draw(self, fb) -> None:
        """Draw ``fb`` (a :class:`~strfviewer.analysis.filterbank.Filterbank`)."""
        self.filterbank = fb
        self.response_plot.clear()
        self.centre_plot.clear()
        F = fb.n_bands
        keep = fb.freqs_hz > 0  # log axis
        freqs = fb.freqs_hz[keep]
        scale = float(np.nanmax(fb.response)) or 1.0
        moved = fb.movement
        if moved is not None:
            for row in moved.init_response:
                self.response_plot.plot(freqs, row[keep] / scale, pen=INIT_PEN)
        for colour, row in zip(band_colours(F), fb.response):
            self.response_plot.plot(freqs, row[keep] / scale, pen=pg.mkPen(colour, width=1))
        bands = np.arange(F, dtype=float)
        half = np.maximum(np.asarray(fb.bandwidth_hz, dtype=float) / 2.0, 0.0)
        lo = np.maximum(fb.center_hz - half, 1.0)
        hi = fb.center_hz + half
        # log y: bars from lo to hi drawn in log10 units
        self.centre_plot.addItem(pg.ErrorBarItem(x=bands, y=np.log10(fb.center_hz), top=np.log10(hi / fb.center_hz),
                                                 bottom=np.log10(fb.center_hz / lo), beam=0.2,
                                                 pen=pg.mkPen((40, 120, 220))))
        self.centre_plot.plot(bands, fb.center_hz, pen=None, symbol="o", symbolSize=5,
                              symbolBrush=(40, 120, 220), name="learned" if moved is not None else "centre")
        text = f"{fb.frontend}: {F} bands, {fb.sample_rate} Hz"
        if moved is not None:
            self.centre_plot.plot(bands, moved.init_center_hz, pen=None, symbol="x", symbolSize=6,
                                  symbolPen=(140, 140, 140), name="initial")
            summary = moved.summary()
            text += (f"; moved from its initialisation: centre shift median {summary['median_abs_center_shift_octaves']:.3f}"
                     f", max {summary['max_abs_center_shift_octaves']:.3f} octaves; response change median "
                     f"{summary['median_response_change']:.1%} (initial filters dashed / grey)")
        else:
            text += " (fixed filters)"
        self.info.setText(text)
        self._frequency_ticks(freqs)

    def _frequency_ticks(self, freqs: np.ndarray) -> None:
        """Labelled ticks at 1-2-5 steps of each decade (a log axis' own labels overlap)."""
        lo, hi = float(freqs.min()), float(freqs.max())
        ticks = [(np.log10(v), f"{v / 1000:g}k" if v >= 1000 else f"{v:g}")
                 for e in range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
                 for v in (10.0 ** e, 2 * 10.0 ** e, 5 * 10.0 ** e) if lo <= v <= hi]
        self.response_plot.getAxis("bottom").setTicks([ticks, []])
        self.centre_plot.getAxis("left").setTicks([ticks, []])  # the centre +- bandwidth plot: same labels

    def title(self) -> str:
        return f"Filterbank of {self.filterbank.frontend}" if self.filterbank is not None else "Filterbank"


register_view(ViewSpec("filters", "Filters", lambda window: FiltersView(window), area="bottom",
                       depends=("run", "results"), exportable=True, order=60))
