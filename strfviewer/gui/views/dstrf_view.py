"""dSTRF view: the current run's locally linear STRF of the selected neuron along the selected stimulus
(:func:`strfviewer.analysis.dstrf.dstrf`, excitation positive), scrubbed with a slider, the response plot's
line or the listening play-head, and its first principal components across time with the share of variance
each explains. Computed in a worker per (run, neuron, stimulus) when the view is shown."""

from __future__ import annotations

from typing import List, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

from strfviewer.models.capture import private_copy
from strfviewer.gui.views.axes import diverging_cmap, symmetric_level
from strfviewer.gui.views.lazy_view import LazyView
from strfviewer.gui.views.registry import ViewSpec, register_view
from strfviewer.gui.views.strf_data import lags_ms

#: principal components shown
N_COMPONENTS = 3
#: dSTRFs kept per run (the most recent (neuron, stimulus) pairs)
CACHE_ENTRIES = 6
#: largest dSTRF array computed (bytes): frames x bands x lags x 4
MAX_BYTES = 256_000_000
SCRUB_PEN = pg.mkPen((0, 170, 255), width=2)


def dstrf_key(neuron: int, stimulus: str) -> tuple:
    return ("dstrf", int(neuron), str(stimulus))


def dstrf_job(model, spec: np.ndarray, neuron: int, dt_ms: float, key, stimulus=None):
    """Worker function ``fn(progress, cancel) -> {key: (DSTRF, DSTRFComponents)}`` (``None`` when cancelled).
    A waveform model's dSTRF is taken on its own front-end's spectrogram of ``stimulus``' audio (its bands)."""
    model = private_copy(model)  # gradients are taken in the worker: not on the model other views use

    def work(progress, cancel):
        from strfviewer.analysis.dstrf import dstrf

        nonlocal spec
        front = model.front_end() if callable(getattr(model, "front_end", None)) else None
        if front is not None and stimulus is not None:
            import torch

            from strfviewer.data.waveforms import framed_audio

            wave = framed_audio(stimulus, int(front.sample_rate), int(front.hop))
            with torch.no_grad():
                spec = front(torch.from_numpy(wave).reshape(1, 1, -1))[0, 0].numpy()  # (F, L) in its bands

        result = dstrf(model, spec, neuron, dt_ms=dt_ms, cancel=cancel,
                       progress=lambda done, total: progress((done, total, "dSTRF frames")))
        if result is None:
            return None
        return {key: (result, result.pca(N_COMPONENTS))}

    return work


class DSTRFView(LazyView):
    """Attributes for inspection: ``result`` (the :class:`~strfviewer.analysis.dstrf.DSTRF` shown),
    ``components``, ``frame`` (index shown), ``note``."""

    def __init__(self, session, jobs, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.session = session
        self.jobs = jobs
        self.result = None
        self.components = None
        self.frame = 0
        self.note = ""
        self._level = 1.0
        self._shown_key = None
        layout = self.build_frame("dstrfPlots")
        self.title.setWordWrap(False)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setObjectName("dstrfSlider")
        self.slider.setToolTip("time along the stimulus (the listening play-head moves it too)")
        self.slider.valueChanged.connect(self.show_frame)
        self.time_label = QLabel("")
        self.map_plot = self.plots.addPlot(row=0, col=0)
        self.map_image = pg.ImageItem(axisOrder="row-major", autoLevels=False)
        self.map_image.setColorMap(diverging_cmap())
        self.map_plot.addItem(self.map_image)
        self.map_plot.setLabel("bottom", "lag", units="ms")
        self.map_plot.setLabel("left", "band")
        self.pc_plots: List[pg.PlotItem] = []
        self.pc_images: List[pg.ImageItem] = []
        for k in range(N_COMPONENTS):
            plot = self.plots.addPlot(row=0, col=1 + k)
            image = pg.ImageItem(axisOrder="row-major", autoLevels=False)
            image.setColorMap(diverging_cmap())
            plot.addItem(image)
            plot.hideAxis("left")
            plot.setLabel("bottom", "lag", units="ms")
            self.pc_plots.append(plot)
            self.pc_images.append(image)
        for plot in [self.map_plot] + self.pc_plots:
            plot.getAxis("bottom").enableAutoSIPrefix(False)
            plot.setMouseEnabled(x=False, y=False)
            plot.setMenuEnabled(False)
        # one row (the dock is short at the bottom of the window): the map, its components, the response
        self.response_plot = self.plots.addPlot(row=0, col=1 + N_COMPONENTS)
        self.response_plot.setLabel("bottom", "time", units="ms")
        self.response_plot.setLabel("left", "model")
        self.response_plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.response_curve = self.response_plot.plot(pen=pg.mkPen((230, 110, 20), width=1.5))
        self.scrub = pg.InfiniteLine(0.0, angle=90, movable=True, pen=SCRUB_PEN)
        self.scrub.sigPositionChanged.connect(self._scrubbed)
        self.response_plot.addItem(self.scrub)
        self.plots.ci.layout.setColumnStretchFactor(1 + N_COMPONENTS, 3)
        bottom = QHBoxLayout()
        bottom.addWidget(self.slider, 1)
        bottom.addWidget(self.time_label)
        layout.addWidget(self.plots, 1)
        layout.addLayout(bottom)
        jobs.progressed.connect(self._progress)

    def _progress(self, run_id: int, what, text: str) -> None:
        run = self.session.current_run
        if self.result is None and run is not None and run.id == run_id and isinstance(what, tuple) \
                and what[:1] == ("dstrf",):
            self.title.setText(f"computing the dSTRF… {text}")

    # --- data ---------------------------------------------------------------------------------------
    def draw(self) -> None:
        s, ds = self.session, self.session.dataset
        run = s.current_run
        stim = s.stimulus_obj() if ds is not None else None
        if ds is None or stim is None:
            return self._clear("")
        if run is None or run.model is None:
            return self._clear("no model yet" if run is None else f"{run.name}: {run.status}")
        key = dstrf_key(s.neuron, stim.name)
        cached = run.cache.get(key)
        if cached is None:
            spec = stim.spec[0]
            F, L = spec.shape
            T = int(getattr(run.model, "T", 1) or 1)
            if L * F * max(T, 1) * 4 > MAX_BYTES:
                return self._clear(f"{stim.name}: {L} frames are too many for a dSTRF here "
                                   f"({L * F * T * 4 / 1e6:.0f} MB > {MAX_BYTES / 1e6:.0f} MB)")
            error = self.jobs.request(run, key, dstrf_job(run.model, spec, s.neuron, ds.dt_ms, key, stimulus=stim),
                                      name="dSTRF")
            progress = self.jobs.progress_text(run, key)
            return self._clear(f"dSTRF failed: {error}" if error else
                               f"computing the dSTRF of {ds.neuron_names[s.neuron]} along {stim.name}… {progress}")
        self._prune(run, key)
        self.result, self.components = cached
        self.note = ""
        L = self.result.maps.shape[0]
        self._level = symmetric_level([self.result.maps])
        self.lags = lags_ms(self.result.maps.shape[-1], ds.dt_ms)
        times = np.arange(L) * float(ds.dt_ms)
        self.response_curve.setData(times, self.result.response)
        self.response_plot.setXRange(0, times[-1] if L > 1 else 1.0, padding=0.01)
        self._draw_components()
        ratio = self.components.explained_variance_ratio
        share = ", ".join(f"PC{k + 1} {100 * r:.0f} %" for k, r in enumerate(ratio) if np.isfinite(r))
        self.title.setText(f"{ds.neuron_names[s.neuron]} along {stim.name} — {run.name}; dSTRF = d response / d "
                           f"spectrogram (excitation positive); variance across time: "
                           f"{share or 'none (a linear model: the same map at every time)'}")
        self.slider.blockSignals(True)
        self.slider.setRange(0, L - 1)
        self.slider.blockSignals(False)
        if self._shown_key != (run.id, key):  # a new dSTRF opens at the model's strongest response
            self._shown_key = (run.id, key)
            self.frame = int(np.nanargmax(self.result.response)) if np.isfinite(self.result.response).any() else 0
        self.show_frame(min(self.frame, L - 1))

    def _prune(self, run, keep) -> None:
        keys = [k for k in run.cache if isinstance(k, tuple) and k[:1] == ("dstrf",) and k != keep]
        for k in keys[:max(0, len(keys) - (CACHE_ENTRIES - 1))]:
            del run.cache[k]

    def _place(self, image: pg.ImageItem, F: int, T: int) -> None:
        dt = float(self.session.dataset.dt_ms)
        image.setRect(float(self.lags[0]) - dt / 2, -0.5, T * dt, float(F))

    def _draw_components(self) -> None:
        comps = self.components.components[:, 0]                     # (k, F, T)
        ratio = self.components.explained_variance_ratio
        for k, (plot, image) in enumerate(zip(self.pc_plots, self.pc_images)):
            if k < len(comps) and np.isfinite(ratio[k]):
                level = symmetric_level([comps[k]])
                image.setImage(comps[k], autoLevels=False, levels=(-level, level))
                self._place(image, *comps[k].shape)
                plot.setTitle(f"PC{k + 1} ({100 * ratio[k]:.0f} %)", size="8pt")
                plot.autoRange(padding=0)
            else:
                image.clear()
                plot.setTitle(f"PC{k + 1}: –", size="8pt")

    def show_frame(self, frame: int) -> None:
        """Show the dSTRF at frame ``frame`` of the stimulus."""
        if self.result is None:
            self.frame = int(frame)
            return
        L = self.result.maps.shape[0]
        self.frame = int(np.clip(frame, 0, L - 1))
        m = self.result.maps[self.frame, 0]
        self.map_image.setImage(m, autoLevels=False, levels=(-self._level, self._level))
        self._place(self.map_image, *m.shape)
        self.map_plot.autoRange(padding=0)
        t = self.frame * float(self.session.dataset.dt_ms)
        self.map_plot.setTitle(f"dSTRF at {t:.0f} ms", size="8pt")
        self.time_label.setText(f"{t:.0f} ms")
        self.scrub.blockSignals(True)
        self.scrub.setValue(t)
        self.scrub.blockSignals(False)
        if self.slider.value() != self.frame:
            self.slider.blockSignals(True)
            self.slider.setValue(self.frame)
            self.slider.blockSignals(False)

    def _scrubbed(self) -> None:
        ds = self.session.dataset
        if ds is not None:
            self.show_frame(int(round(self.scrub.value() / float(ds.dt_ms))))

    def set_playhead(self, t_ms: Optional[float]) -> None:
        """The listening play-head: show the dSTRF at ``t_ms`` (``None``: stay where it is)."""
        if t_ms is not None and self.session.dataset is not None:
            self.show_frame(int(round(float(t_ms) / float(self.session.dataset.dt_ms))))

    def _clear(self, note: str) -> None:
        self.note = note
        self.result = self.components = None
        self.title.setText(note)
        for image in [self.map_image] + self.pc_images:
            image.clear()
        self.response_curve.setData([], [])

    # --- CSV ------------------------------------------------------------------------------------------
    def csv_table(self):
        """``(header, rows)``: per frame, time, model response and the projections on the components."""
        if self.result is None:
            raise ValueError(f"no dSTRF to export: {self.note or 'nothing shown'}")
        proj = self.components.projections
        header = ["time_ms", "response"] + [f"pc{k + 1}" for k in range(proj.shape[1])]
        dt = float(self.session.dataset.dt_ms)
        rows = [[i * dt, float(self.result.response[i]), *proj[i]] for i in range(len(self.result.response))]
        return header, rows


def _create(window) -> DSTRFView:
    from strfviewer.gui.views.findings_jobs import findings_jobs

    return DSTRFView(window.session, findings_jobs(window))


register_view(ViewSpec("dstrf", "dSTRF", _create, area="bottom",
                       depends=("dataset", "neuron", "stimulus", "run", "results"), exportable=True, order=65))
