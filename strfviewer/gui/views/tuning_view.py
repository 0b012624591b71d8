"""Tuning panel: the selected neuron's excitatory / inhibitory frequency and time profiles, the modulation
transfer function (MTF) of its map and the tuning numbers of :mod:`strfviewer.analysis.tuning` (with bootstrap
intervals once the gradmap view's significance has been computed for the run: the numbers are then taken on
the significant pixels). The map is the current run's kernel STRF (Linear / LN) or gradmap, excitation
positive, on the neuron's dominant prefilter channel (:mod:`strfviewer.gui.findings.run_maps`)."""

from __future__ import annotations

import html
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from strfviewer.gui.views.axes import sequential_cmap, set_octave_ticks
from strfviewer.gui.views.lazy_view import LazyView
from strfviewer.gui.views.registry import ViewSpec, register_view

EXC_PEN = pg.mkPen((200, 40, 40), width=2)
INH_PEN = pg.mkPen((40, 90, 200), width=2)
MARK_PEN = pg.mkPen((0, 0, 0), width=1, style=Qt.DashLine)
BAND_BRUSH = pg.mkBrush(200, 40, 40, 40)

#: metric -> (label, unit, scale, format)
ROWS = (
    ("best_frequency_hz", "best frequency", "kHz", 1e-3, "{:.2f}"),
    ("bandwidth_oct", "bandwidth", "oct", 1.0, "{:.2f}"),
    ("latency_ms", "onset latency", "ms", 1.0, "{:.1f}"),
    ("peak_latency_ms", "peak latency", "ms", 1.0, "{:.1f}"),
    ("separability", "separability", "", 1.0, "{:.2f}"),
    ("ei_balance", "E/I balance", "", 1.0, "{:+.2f}"),
    ("best_temporal_modulation_hz", "best temporal mod.", "Hz", 1.0, "{:.1f}"),
    ("best_spectral_modulation_cyc_per_oct", "best spectral mod.", "cyc/oct", 1.0, "{:.2f}"),
)


#: where the significance the tuning reads is computed: the gradmap view's mode showing the same maps
SIGNIFICANCE_HINTS = {
    "kernel": "show 'kernel STRF' with 'significance' checked in the gradmap view",
    "gradmap": "show 'gradmap' (readout last) with 'significance' checked in the gradmap view",
}

class TuningView(LazyView):
    """Attributes for inspection: ``metrics`` ``{metric: value}`` shown, ``intervals`` ``{metric: (low, high)}``
    (empty before significance), ``channel`` index, ``note`` (why nothing is shown)."""

    def __init__(self, session, jobs, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.session = session
        self.jobs = jobs
        self.metrics: dict = {}
        self.intervals: dict = {}
        self.channel = 0
        self.note = ""
        layout = self.build_frame("tuningPlots")
        self.freq_plot = self.plots.addPlot(row=0, col=0)
        self.freq_plot.setLabel("bottom", "frequency", units="kHz")
        self.freq_plot.setLogMode(x=True)
        self.time_plot = self.plots.addPlot(row=0, col=1)
        self.time_plot.setLabel("bottom", "lag", units="ms")
        self.mtf_plot = self.plots.addPlot(row=0, col=2)
        self.mtf_plot.setLabel("bottom", "temporal mod.", units="Hz")
        self.mtf_plot.setLabel("left", "cyc/oct")
        for plot, title in ((self.freq_plot, "frequency profile"), (self.time_plot, "time profile"),
                            (self.mtf_plot, "MTF")):
            plot.setTitle(title, size="9pt")
            plot.getAxis("bottom").enableAutoSIPrefix(False)
            plot.setMenuEnabled(False)
        self.mtf_image = pg.ImageItem(axisOrder="row-major")
        self.mtf_image.setColorMap(sequential_cmap())
        self.mtf_plot.addItem(self.mtf_image)
        self.numbers = QLabel("")
        self.numbers.setObjectName("tuningNumbers")
        self.numbers.setTextFormat(Qt.RichText)
        self.numbers.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.numbers.setTextInteractionFlags(Qt.TextSelectableByMouse)
        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.addWidget(self.plots, 1)
        body.addWidget(self.numbers)
        layout.addLayout(body, 1)

    # --- data ---------------------------------------------------------------------------------------
    def _state(self):
        """``(run, maps (N, C, F, T), RunTuning, Significance | None)`` or a note saying what is missing."""
        from strfviewer.gui.findings.run_maps import cached_maps, cached_tuning, request_tuning

        s = self.session
        run = s.current_run
        if s.dataset is None:
            return ""
        if run is None or run.model is None:
            return "no model yet" if run is None else f"{run.name}: {run.status}"
        error = request_tuning(self.jobs, run, s.dataset)
        maps, tuning = cached_maps(run), cached_tuning(run)
        if error:
            return f"tuning failed: {error}"
        if maps is None or tuning is None:
            return "computing the tuning…"
        return run, maps, tuning, self._significance(run, maps)

    @staticmethod
    def _significance(run, maps):
        """The jackknife of the run's findings maps; for a ``Linear`` model's kernel, that of its gradmap (readout
        last) when only that one was computed: a Linear model's gradmap is its kernel times a fixed gain per
        neuron (the readout's BatchNorm), so their z-scores, and masks, are the same."""
        from strfviewer.gui.findings.run_maps import maps_key
        from strfviewer.gui.findings.significance_job import significance_key
        from strfviewer.gui.views.strf_data import gradmap_key

        key = maps_key(run.model)
        found = run.cache.get(significance_key(key))
        if found is None and key == "kernel" and type(run.model).__name__ == "Linear":
            found = run.cache.get(significance_key(gradmap_key("last", maps.shape[1] > 1)))
        if found is not None and found.jackknife.estimate.shape != maps.shape:
            return None
        return found

    def draw(self) -> None:
        state = self._state()
        if isinstance(state, str):
            self._clear(state)
            return
        run, maps, tuning, significance = state
        from strfviewer.analysis.tuning import modulation_transfer, profiles, tuning as tune

        s, ds = self.session, self.session.dataset
        n = s.neuron
        self.channel = c = int(tuning.channel[n])
        strf = maps[n, c]
        mask = None
        self.intervals = {}
        if significance is not None:
            mask = significance.mask()[n, c]
            self.intervals = {m: tuple(v[n, c]) for m, v in significance.intervals.items()}
        from strfviewer.gui.views.strf_data import band_freqs

        freqs_hz = band_freqs(run.model, ds)  # a waveform model's own bands
        self.metrics = tune(strf, freqs_hz, ds.dt_ms, mask=mask)
        self.note = ""
        channel = tuning.channel_names[c]
        where = f", {channel} channel" if channel else ""
        sig = (f"; on the significant pixels (|z| > {significance.threshold:g}, {significance.how}, "
               f"{significance.n_boot} bootstrap samples)" if mask is not None else
               f"; significance: {SIGNIFICANCE_HINTS['kernel' if tuning.key == 'kernel' else 'gradmap']}")
        self.title.setText(f"{ds.neuron_names[n]} — {run.name}{where} (map: "
                           f"{'kernel STRF' if tuning.key == 'kernel' else 'gradmap'}, excitation positive){sig}")
        shown = strf if mask is None else np.where(mask, strf, 0.0)
        prof = profiles(shown, ds.dt_ms)
        khz = np.asarray(freqs_hz, dtype=float) / 1000.0
        self._draw_profiles(prof, khz)
        mtf = modulation_transfer(shown, freqs_hz, ds.dt_ms)
        self._draw_mtf(mtf)
        self.numbers.setText(self._numbers_html())

    def _draw_profiles(self, prof: dict, khz: np.ndarray) -> None:
        self.freq_plot.clear()
        set_octave_ticks(self.freq_plot.getAxis("bottom"), khz)
        self.freq_plot.plot(khz, prof["freq_excitatory"], pen=EXC_PEN)
        self.freq_plot.plot(khz, prof["freq_inhibitory"], pen=INH_PEN)
        bf = self.metrics.get("best_frequency_hz", np.nan)
        if np.isfinite(bf):
            self.freq_plot.addItem(pg.InfiniteLine(np.log10(bf / 1000.0), angle=90, pen=MARK_PEN))
        self.time_plot.clear()
        self.time_plot.plot(prof["lags_ms"], prof["time_excitatory"], pen=EXC_PEN)
        self.time_plot.plot(prof["lags_ms"], prof["time_inhibitory"], pen=INH_PEN)
        for name in ("latency_ms", "peak_latency_ms"):
            v = self.metrics.get(name, np.nan)
            if np.isfinite(v):
                self.time_plot.addItem(pg.InfiniteLine(v, angle=90, pen=MARK_PEN))

    def _draw_mtf(self, mtf) -> None:
        power = mtf.power
        temporal, spectral = mtf.temporal_hz, mtf.spectral_cyc_per_oct
        self.mtf_image.setImage(power, autoLevels=True)
        dt_hz = float(temporal[1] - temporal[0]) if len(temporal) > 1 else 1.0
        if np.all(np.isfinite(spectral)) and len(spectral) > 1:
            ds_ = float(spectral[1] - spectral[0])
            y0 = float(spectral[0]) - ds_ / 2
            self.mtf_plot.setLabel("left", "cyc/oct")
        else:  # unknown band frequencies: spectral modulation in cycles per band
            ds_, y0 = 1.0, -len(spectral) / 2
            self.mtf_plot.setLabel("left", "cyc/band (unknown Hz)")
        self.mtf_image.setRect(float(temporal[0]) - dt_hz / 2, y0, dt_hz * len(temporal), ds_ * len(spectral))
        self.mtf_plot.autoRange(padding=0)

    def _numbers_html(self) -> str:
        rows = []
        for metric, label, unit, scale, fmt in ROWS:
            v = self.metrics.get(metric, np.nan)
            text = fmt.format(v * scale) if np.isfinite(v) else "–"
            ci = self.intervals.get(metric)
            if ci is not None and np.all(np.isfinite(ci)):
                text += f" [{fmt.format(ci[0] * scale)}, {fmt.format(ci[1] * scale)}]"
            rows.append(f"<tr><td>{html.escape(label)}</td><td align='right'>{text}</td>"
                        f"<td>{html.escape(unit)}</td></tr>")
        head = "<tr><td colspan=3><i>[95 % bootstrap interval]</i></td></tr>" if self.intervals else ""
        return f"<table cellspacing=2>{head}{''.join(rows)}</table>"

    def _clear(self, note: str) -> None:
        self.note = note
        self.metrics, self.intervals = {}, {}
        self.title.setText(note)
        for plot in (self.freq_plot, self.time_plot):
            plot.clear()
        self.mtf_image.clear()
        self.numbers.setText("")

    # --- CSV ------------------------------------------------------------------------------------------
    def csv_table(self):
        """``(header, rows)``: the selected neuron's metrics with their intervals (File > Export, CSV)."""
        if not self.metrics:
            raise ValueError(f"no tuning to export: {self.note or 'nothing shown'}")
        ds = self.session.dataset
        header = ["neuron", "metric", "value", "ci_low", "ci_high"]
        rows = []
        for metric, *_ in ROWS:
            low, high = self.intervals.get(metric, (np.nan, np.nan))
            rows.append([ds.neuron_names[self.session.neuron], metric, self.metrics.get(metric, np.nan), low, high])
        return header, rows


def _create(window) -> TuningView:
    from strfviewer.gui.views.findings_jobs import findings_jobs

    return TuningView(window.session, findings_jobs(window))


register_view(ViewSpec("tuning", "Tuning", _create, area="bottom", depends=("dataset", "neuron", "run", "results"),
                       exportable=True, order=60))
