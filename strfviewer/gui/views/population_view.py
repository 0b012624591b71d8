"""Population view: the current run's tuning across neurons. Best frequency against test ``cc_norm`` (click a
point to select its neuron), the histogram of best frequencies (half-octave bins), the tuning map (each
neuron's excitatory frequency profile, normalised to its peak, neurons sorted by best frequency) and best
temporal against best spectral modulation. The tuning is the neuron table's (computed once per run in a
worker, :mod:`strfviewer.gui.findings.run_maps`)."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from strfviewer.gui.views.axes import sequential_cmap, set_octave_ticks
from strfviewer.gui.views.lazy_view import LazyView
from strfviewer.gui.views.registry import ViewSpec, register_view

POINT_BRUSH = pg.mkBrush(31, 119, 180, 200)
SELECTED_PEN = pg.mkPen((0, 0, 0), width=2)
#: width of the best-frequency histogram's bins (octaves)
BIN_OCT = 0.5


def frequency_profiles(maps: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """Excitatory frequency profile ``(N, F)`` of each neuron's dominant channel, normalised to its peak (0
    for a neuron without excitation); ``maps`` ``(N, C, F, T)`` excitation positive."""
    chosen = maps[np.arange(len(maps)), channel]                         # (N, F, T)
    profile = np.maximum(chosen, 0.0).sum(axis=-1)
    peak = profile.max(axis=1, keepdims=True)
    return np.where(peak > 0, profile / np.where(peak > 0, peak, 1.0), 0.0)


class PopulationView(LazyView):
    """Attributes for inspection: ``tuning`` (the ``RunTuning`` shown), ``cc_norm`` ``(N,)``, ``bf_points``
    (scatter of BF vs cc_norm, each point's data its neuron), ``order`` (neurons of the tuning map, top to
    bottom), ``note``."""

    def __init__(self, session, jobs, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.session = session
        self.jobs = jobs
        self.tuning = None
        self.cc_norm = None
        self.order = np.zeros(0, dtype=int)
        self.note = ""
        layout = self.build_frame("populationPlots")
        layout.addWidget(self.plots, 1)
        self.bf_plot = self.plots.addPlot(row=0, col=0, title="BF vs cc_norm")
        self.bf_plot.setLogMode(x=True)
        self.bf_plot.setLabel("bottom", "best frequency", units="kHz")
        self.bf_plot.setLabel("left", "cc_norm (test)")
        self.hist_plot = self.plots.addPlot(row=0, col=1, title="best frequencies")
        self.hist_plot.setLogMode(x=True)
        self.hist_plot.setLabel("bottom", "best frequency", units="kHz")
        self.hist_plot.setLabel("left", "neurons")
        self.map_plot = self.plots.addPlot(row=0, col=2, title="tuning map")
        self.map_plot.setLabel("bottom", "band")
        self.map_plot.setLabel("left", "neurons by BF")
        self.map_image = pg.ImageItem(axisOrder="row-major")
        self.map_image.setColorMap(sequential_cmap())
        self.map_plot.addItem(self.map_image)
        self.mod_plot = self.plots.addPlot(row=0, col=3, title="best modulations")
        self.mod_plot.setLabel("bottom", "temporal", units="Hz")
        self.mod_plot.setLabel("left", "spectral (cyc/oct)")
        for plot in (self.bf_plot, self.hist_plot, self.map_plot, self.mod_plot):
            plot.setMenuEnabled(False)
            plot.getAxis("bottom").enableAutoSIPrefix(False)
            plot.titleLabel.setText(plot.titleLabel.text, size="8pt")
        self.bf_points = pg.ScatterPlotItem(size=7, pen=pg.mkPen(None), brush=POINT_BRUSH)
        self.bf_points.sigClicked.connect(self.select_clicked)
        self.bf_plot.addItem(self.bf_points)
        self.mod_points = pg.ScatterPlotItem(size=7, pen=pg.mkPen(None), brush=POINT_BRUSH)
        self.mod_points.sigClicked.connect(self.select_clicked)
        self.mod_plot.addItem(self.mod_points)
        self.selected = [pg.ScatterPlotItem(size=13, pen=SELECTED_PEN, brush=pg.mkBrush(None)) for _ in range(2)]
        self.bf_plot.addItem(self.selected[0])
        self.mod_plot.addItem(self.selected[1])
        self.hist_curve = self.hist_plot.plot(stepMode="center", fillLevel=0, brush=pg.mkBrush(31, 119, 180, 120),
                                              pen=pg.mkPen((0, 0, 0), width=1))

    def draw(self) -> None:
        from strfviewer.gui.findings.run_maps import cached_maps, cached_tuning, request_tuning

        s, ds = self.session, self.session.dataset
        run = s.current_run
        self.tuning = None
        if ds is None:
            return self._clear("")
        if run is None or run.model is None:
            return self._clear("no model yet" if run is None else f"{run.name}: {run.status}")
        error = request_tuning(self.jobs, run, ds)
        tuning, maps = cached_tuning(run), cached_maps(run)
        if tuning is None or maps is None:
            return self._clear(f"tuning failed: {error}" if error else "computing the tuning…")
        self.tuning = tuning
        values = run.neuron_values("cc_norm", "test")
        self.cc_norm = np.full(ds.n_neurons, np.nan) if values is None else np.asarray(values, dtype=float)
        bf_khz = tuning.values["best_frequency_hz"] / 1000.0
        ok = np.isfinite(bf_khz) & (bf_khz > 0) & np.isfinite(self.cc_norm)
        self.bf_points.setData(np.log10(bf_khz[ok]), self.cc_norm[ok], data=np.flatnonzero(ok))
        self._draw_histogram(bf_khz[np.isfinite(bf_khz) & (bf_khz > 0)])
        self._draw_map(maps, tuning, ds)
        tm = tuning.values["best_temporal_modulation_hz"]
        sm = tuning.values["best_spectral_modulation_cyc_per_oct"]
        good = np.isfinite(tm) & np.isfinite(sm)
        self.mod_points.setData(tm[good], sm[good], data=np.flatnonzero(good))
        n_bf = int(np.isfinite(bf_khz).sum())
        self.note = ""
        self.title.setText(f"{run.name}: {n_bf} of {ds.n_neurons} neurons with a best frequency (tuning of each "
                           f"neuron's {'kernel STRF' if tuning.key == 'kernel' else 'gradmap'}); click a point to "
                           f"select its neuron")
        self._mark_selected(np.log10(np.where(bf_khz > 0, bf_khz, np.nan)), tm, sm)

    def _draw_histogram(self, bf_khz: np.ndarray) -> None:
        ds = self.session.dataset
        f = np.asarray(ds.freqs_hz, dtype=float) / 1000.0
        low = np.log2(max(float(f.min()), 1e-3))
        high = np.log2(max(float(f.max()), 1e-3))
        edges = np.arange(low, high + BIN_OCT, BIN_OCT)
        if len(edges) < 2:
            edges = np.array([low - BIN_OCT / 2, low + BIN_OCT / 2])
        counts, _ = np.histogram(np.log2(bf_khz), bins=edges)
        self.hist_curve.setData(2.0 ** edges, counts)  # kHz: the log-mode plot takes their log itself
        for plot in (self.bf_plot, self.hist_plot):
            set_octave_ticks(plot.getAxis("bottom"), f)

    def _draw_map(self, maps: np.ndarray, tuning, ds) -> None:
        profiles = frequency_profiles(maps, tuning.channel)
        bf = tuning.values["best_frequency_hz"]
        self.order = np.argsort(np.where(np.isfinite(bf), bf, np.inf), kind="stable")
        self.map_image.setImage(profiles[self.order], autoLevels=False, levels=(0.0, 1.0))
        self.map_image.setRect(-0.5, 0.0, profiles.shape[1], len(self.order))
        self.map_plot.autoRange(padding=0)

    def _mark_selected(self, log_bf: np.ndarray, tm: np.ndarray, sm: np.ndarray) -> None:
        n = self.session.neuron
        pairs = ((log_bf[n], self.cc_norm[n]), (tm[n], sm[n]))
        for item, (x, y) in zip(self.selected, pairs):
            item.setData([x], [y]) if np.isfinite(x) and np.isfinite(y) else item.setData([], [])

    def _clear(self, note: str) -> None:
        self.note = note
        self.title.setText(note)
        for item in [self.bf_points, self.mod_points] + self.selected:
            item.setData([], [])
        self.hist_curve.setData([0, 1], [0])
        self.map_image.clear()

    # --- CSV ------------------------------------------------------------------------------------------
    def csv_table(self):
        """``(header, rows)``: one row per neuron, its tuning (dominant channel) and test cc_norm."""
        from strfviewer.analysis.tuning import METRICS

        t = self.tuning
        if t is None:
            raise ValueError(f"no tuning to export: {self.note or 'nothing shown'}")
        names = self.session.dataset.neuron_names
        header = ["neuron", "channel", *METRICS, "cc_norm"]
        return header, [[names[n], t.channel_names[int(t.channel[n])], *(t.values[m][n] for m in METRICS),
                         self.cc_norm[n]] for n in range(len(names))]


def _create(window) -> PopulationView:
    from strfviewer.gui.views.findings_jobs import findings_jobs

    return PopulationView(window.session, findings_jobs(window))


register_view(ViewSpec("population", "Population", _create, area="bottom",
                       depends=("dataset", "neuron", "run", "results"), exportable=True, order=75))
