"""Gradmap / STRF view: the selected neuron's gradmap (or kernel STRF for Linear/LN) as lag (ms) x frequency
(Hz), channels side by side, symmetric diverging colours; a grid mode shows the top-K neurons by cc_norm
and a click on a tile selects that neuron.

Gradmaps of all neurons are computed once per (run, readout, channels) in a worker and cached in
``run.cache``, so switching neuron only slices an array.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QSizePolicy, QSpinBox, QStackedWidget,
                               QVBoxLayout, QWidget)

from strfviewer.gui.views.findings_jobs import FindingsJobs, findings_jobs
from strfviewer.gui.views.mask_outline import mask_outline
from strfviewer.gui.views.axes import NO_DATA_TEXT, BandAxis, RepeatedLagAxis, diverging_cmap, symmetric_level
from strfviewer.gui.views.registry import ViewSpec, register_view
from strfviewer.gui.views.strf_data import (READOUTS, band_freqs, gradmap_key, has_kernel_strf,
                                            kernel_strf, lags_ms, n_channels, top_neurons)

CHANNEL_NAMES = {2: ("ON", "OFF")}


def _is_map_key(what) -> bool:
    """True for the ``run.cache`` keys of the maps this view draws (``'kernel'``, gradmap keys)."""
    return what == "kernel" or (isinstance(what, tuple) and what[:1] == ("gradmap",))
MODES = ("gradmap", "kernel STRF")


#: outline of the significant pixels
SIGNIFICANCE_PEN = pg.mkPen((0, 0, 0), width=1.5)

#: frame of the selected neuron's tile in grid mode
SELECTED_TILE_PEN = pg.mkPen("#1f77b4", width=3)


class _NoteLabel(QLabel):
    """A label that is visible only while it has text."""

    def setText(self, text: str) -> None:  # noqa: N802 - Qt API
        super().setText(text)
        self.setVisible(bool(text))


def _diverging_colorbar() -> pg.ColorBarItem:
    """A symmetric diverging colour bar whose axis widens to its tick labels (pyqtgraph's fixed 45 px dropped
    labels such as ``-0.0002``, leaving a bar labelled only ``0``)."""
    bar = pg.ColorBarItem(colorMap=diverging_cmap(), interactive=False, width=12)
    bar.axis.setWidth(None)
    return bar


def _side_by_side(maps: np.ndarray, gap) -> np.ndarray:
    """One grid tile from a neuron's ``maps (C, F, T)``: the channels side by side, ``(F, C*T + C-1)``, with a
    column of ``gap`` between neighbours (NaN for images, False for significance masks)."""
    C, F, _ = maps.shape
    parts = []
    for c in range(C):
        parts += ([np.full((F, 1), gap, dtype=maps.dtype)] if c else []) + [maps[c]]
    return np.concatenate(parts, axis=1)


class GradmapView(QWidget):
    """Attributes for inspection: ``displayed`` ``(C, F, T)`` as drawn (sign applied) for the selected
    neuron, ``images`` (one ``ImageItem`` per channel), ``grid_neurons`` (tile -> neuron index),
    ``grid_images``; ``pending`` is true while a computation runs."""

    tileClicked = Signal(int)

    def __init__(self, session, start_worker: Callable, parent: Optional[QWidget] = None, jobs=None) -> None:
        super().__init__(parent)
        self.session = session
        self._start_worker = start_worker
        self.displayed: Optional[np.ndarray] = None
        self.lags: Optional[np.ndarray] = None
        self.images: List[pg.ImageItem] = []
        self.plots: List[pg.PlotItem] = []
        self.grid_neurons: List[int] = []
        self.grid_images: List[pg.ImageItem] = []
        self.grid_plots: List[pg.PlotItem] = []
        self.jobs = jobs if jobs is not None else FindingsJobs(session, start_worker, self)
        self.grid_levels: List[float] = []  # each tile's symmetric colour range (its title says it)
        self.grid_colorbar: Optional[pg.ColorBarItem] = None
        self._grid_content = None  # what the grid tiles show now (to skip redundant image uploads)

        # controls
        self.mode_box = QComboBox()
        self.mode_box.addItems(MODES)
        self.mode_box.setToolTip("gradmap: gradient of the response at the null stimulus (any model);\n"
                                 "kernel STRF: the weights of a Linear / LN model")
        self.readout_box = QComboBox()
        self.readout_box.addItems(READOUTS)
        self.readout_box.setToolTip("which value of the response the gradient is taken of: the last time step,"
                                    " the mean over time, or the peak")
        self.channels_box = QComboBox()
        self.channels_box.addItems(["channels", "spectrogram"])
        self.channels_box.setToolTip("for prefiltered models (AdapTrans ON/OFF): the gradmap at each prefilter "
                                     "output channel side by side, or at the raw spectrogram")
        self.sign_box = QCheckBox("deepSTRF sign")
        self.sign_box.setToolTip("unchecked: excitation positive (red), i.e. -dL/dx;\n"
                                 "checked: deepSTRF's raw gradmap dL/dx with L = -r (excitation negative).\n"
                                 "Kernel STRFs are always shown as weights.")
        self.grid_box = QCheckBox("grid, top")
        self.grid_box.setToolTip("show the gradmaps of the best neurons by test cc_norm; click a tile to select")
        self.significance_box = QCheckBox("significance")
        self.significance_box.setObjectName("significanceBox")
        self.significance_box.setToolTip(
            "Significance (jackknife): outline the pixels whose |z| = |estimate / jackknife error| exceeds 2\n"
            "(leave one training stimulus out: closed form for ridge-fitted Linear runs, one refit per stimulus\n"
            "otherwise, in the background; uncheck to cancel); in the grid, on every tile.")
        self.significance_box.toggled.connect(self._significance_toggled)
        self.contours: List[pg.PlotCurveItem] = []  # one significance outline per channel plot
        self.grid_contours: List[pg.PlotCurveItem] = []  # one per grid tile
        self.shown_mask: Optional[np.ndarray] = None  # (C, F, T) outlined for the selected neuron
        self.k_spin = QSpinBox()
        self.k_spin.setRange(1, 64)
        self.k_spin.setValue(16)
        self.busy = _NoteLabel("")
        self.busy.setObjectName("gradmapBusy")
        self.single_title = None  # label above the channel plots (single mode)
        for w in (self.mode_box, self.readout_box, self.channels_box):
            w.currentIndexChanged.connect(self.redraw)
        for w in (self.sign_box, self.grid_box):
            w.toggled.connect(self.redraw)
        self.k_spin.valueChanged.connect(self.redraw)
        # two short rows so that the view can be narrow (the window must fit small screens)
        controls = QVBoxLayout()
        controls.setContentsMargins(2, 0, 2, 0)
        controls.setSpacing(2)
        for row_widgets in ((self.mode_box, self.readout_box, self.channels_box),
                            (self.sign_box, self.significance_box, self.grid_box, self.k_spin)):
            row = QHBoxLayout()
            for w in row_widgets:
                row.addWidget(w)
            row.addStretch(1)
            controls.addLayout(row)
        # notes ("computing…", "all zero …") on a third, wrapped row shown only when there is one: a long note
        # in a control row widened the whole view
        self.busy.setWordWrap(True)
        self.busy.setVisible(False)
        self.busy.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        controls.addWidget(self.busy)
        for box in (self.mode_box, self.readout_box, self.channels_box):
            box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(6)
        self.channels_box.setMinimumContentsLength(len("spectrogram"))  # no clipped "spectrogran"

        # single neuron: channels side by side
        self.single = pg.GraphicsLayoutWidget()
        self.single.setObjectName("gradmapSingle")
        self.single.setBackground("w")
        self.single.installEventFilter(self)
        self.colorbar = _diverging_colorbar()
        # grid of top-K neurons
        self.grid = pg.GraphicsLayoutWidget()
        self.grid.setObjectName("gradmapGrid")
        self.grid.setBackground("w")
        self.grid.scene().sigMouseClicked.connect(self._grid_clicked)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.single)
        self.stack.addWidget(self.grid)
        self.tileClicked.connect(self._select_tile)
        self.jobs.progressed.connect(self._job_progress)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(controls)
        layout.addWidget(self.stack, 1)

    # --- public -------------------------------------------------------------------------------------
    @property
    def pending(self) -> bool:
        """True while the maps of some run are computed."""
        return any(_is_map_key(what) for _, what in self.jobs.pending)

    @property
    def errors(self) -> Dict[tuple, str]:
        """``(run id, key) -> message`` of failed map computations."""
        return {token: m for token, m in self.jobs.errors.items() if _is_map_key(token[1])}

    @property
    def readout(self) -> str:
        return self.readout_box.currentText()

    @property
    def mode(self) -> str:
        return self.mode_box.currentText()

    def plot_widgets(self) -> list:
        return [self.grid if self.grid_box.isChecked() else self.single]

    def set_grid(self, on: bool) -> None:
        self.grid_box.setChecked(on)

    # --- data ---------------------------------------------------------------------------------------
    def per_channel(self, model) -> bool:
        """True when gradmaps are taken at the prefilter's output channels (``C_in > 1`` and chosen)."""
        return n_channels(model) > 1 and self.channels_box.currentIndex() == 0

    _per_channel = per_channel  # old private name, kept for feature packs written against it

    def cache_key(self, run):
        """Where the arrays shown for ``run`` live in ``run.cache``: ``'kernel'`` or a gradmap key."""
        if self.mode == "kernel STRF":
            return "kernel"
        return gradmap_key(self.readout, self.per_channel(run.model))

    def shown_maps(self, run=None) -> Optional[np.ndarray]:
        """``(N, C, F, T)`` of every neuron as the view shows them (sign applied) for ``run`` (default: the
        current run), or ``None`` when not computed yet. For exports."""
        run = run if run is not None else self.session.current_run
        if run is None or run.model is None:
            return None
        key = self.cache_key(run)
        arr = run.cache.get(key)
        if arr is None or key == "kernel" or self.sign_box.isChecked():
            return arr
        return -arr

    def title(self) -> str:
        """What is shown, e.g. ``'gradmap (last)'``, ``'gradmap (peak, deepSTRF sign)'``, ``'kernel STRF'``."""
        if self.mode != "gradmap":
            return self.mode
        return f"gradmap ({self.readout}" + (", deepSTRF sign" if self.sign_box.isChecked() else "") + ")"

    def _arrays(self, run) -> Optional[np.ndarray]:
        """``(N, C, F, T)`` to draw, sign applied, or ``None`` while it is computed (worker started)."""
        key = self.cache_key(run)
        if key == "kernel" and key not in run.cache:
            run.cache[key] = kernel_strf(run.model)
        elif key not in run.cache:
            self._compute(run, key)
            return None
        return self.shown_maps(run)

    def _compute(self, run, key) -> None:
        """Compute ``run.cache[key]`` in a worker (shared with the findings views through :attr:`jobs`)."""
        from strfviewer.gui.findings.run_maps import maps_job

        self.jobs.request(run, key, maps_job(run.model, key), name="gradmap")

    # --- drawing ------------------------------------------------------------------------------------
    def redraw(self) -> None:
        s = self.session
        run, ds = s.current_run, s.dataset
        model = getattr(run, "model", None)
        kernel_ok = has_kernel_strf(model)
        self.mode_box.model().item(1).setEnabled(kernel_ok)
        if self.mode == "kernel STRF" and not kernel_ok:
            self.mode_box.setCurrentIndex(0)  # re-enters redraw
            return
        self.readout_box.setEnabled(self.mode == "gradmap")
        self.sign_box.setEnabled(self.mode == "gradmap")
        self.channels_box.setEnabled(model is not None and n_channels(model) > 1)
        grid = self.grid_box.isChecked()
        self.stack.setCurrentIndex(1 if grid else 0)
        if ds is None or run is None or model is None:
            msg = ("no model yet: fit one (Fit menu) or open one (File > Open model...)" if ds is not None
                   else NO_DATA_TEXT)
            if run is not None and model is None:
                msg = f"{run.name}: {run.status}"
            self._show_message(msg)
            return
        arr = self._arrays(run)
        if arr is None:
            token_errors = [m for (rid, _), m in self.errors.items() if rid == run.id]
            if token_errors and not self.pending:
                self._show_message(f"gradmap failed: {token_errors[-1]}")
            else:
                self.busy.setText("computing…")
                self._show_message("computing gradmaps…")
            return
        self.busy.setText("")
        # a waveform model's maps are on its own front-end's bands (labelled by band_freqs), not the dataset's
        own_bands = bool(getattr(model, "is_wav_native", False))
        if arr.shape[0] != ds.n_neurons or (arr.shape[2] != ds.n_freqs and not own_bands):
            self._show_message(f"model shape {arr.shape[0]} neurons x {arr.shape[2]} bands does not match the "
                               f"dataset ({ds.n_neurons} x {ds.n_freqs})")
            return
        self.lags = lags_ms(arr.shape[-1], ds.dt_ms)
        self.busy.setText(self._zero_note(run, arr))
        self.busy.setToolTip(self.busy.text())
        if grid:
            self._draw_grid(run, arr)
            self._draw_grid_significance(run, arr.shape[-1])
        else:
            self._draw_single(arr[s.neuron])
            self._draw_significance(run)

    def _zero_note(self, run, arr: np.ndarray) -> str:
        """A short note when every map is exactly zero (so a blank image is not mistaken for a bug)."""
        if np.any(arr):
            return ""
        if self.mode == "gradmap" and n_channels(run.model) > 1 and not self.per_channel(run.model):
            return "all zero at the spectrogram (silence sits on the prefilter's ReLU kink): see its channels"
        return "all zero"

    def _show_message(self, text: str) -> None:
        self.displayed = None
        for widget in (self.single, self.grid):
            widget.clear()
        self.images, self.plots, self.grid_images, self.grid_plots, self.grid_neurons = [], [], [], [], []
        self.grid_contours = []
        self.contours, self.shown_mask = [], None
        target = self.grid if self.grid_box.isChecked() else self.single
        target.addLabel(text, color="#444")

    def _channel_names(self, C: int) -> tuple:
        return CHANNEL_NAMES.get(C, tuple(f"channel {c}" for c in range(C))) if C > 1 else ("",)

    def _place(self, item: pg.ImageItem, F: int, T: int, dt: float) -> None:
        item.setRect(float(self.lags[0]) - dt / 2, -0.5, T * dt, float(F))

    def _visible_frames(self, T: int) -> int:
        """Lags shown at first: the model's own window (twice, at least 20 frames) when the gradmap reaches
        further back (a prefilter's long memory); the rest is one zoom away (single view)."""
        model = getattr(self.session.current_run, "model", None)
        window = int(getattr(model, "T", T) or T)
        return int(min(T, max(2 * window, 20)))

    def _draw_single(self, maps: np.ndarray) -> None:
        """``maps`` ``(C, F, T)`` of the selected neuron."""
        ds = self.session.dataset
        C, F, T = maps.shape
        self.displayed = maps
        level = symmetric_level([maps])
        if len(self.plots) != C:
            self.single.clear()
            self.plots, self.images, self.contours = [], [], []
            names = self._channel_names(C)
            self.single_title = self.single.addLabel("", row=0, col=0, colspan=C, size="9pt")
            for c in range(C):
                axis = BandAxis("left")
                plot = self.single.addPlot(row=1, col=c, axisItems={"left": axis})
                plot.setLabel("bottom", "lag", units="ms")
                plot.getAxis("bottom").enableAutoSIPrefix(False)
                plot.setMouseEnabled(x=True, y=False)
                if c > 0:  # same bands as the first channel: no repeated tick labels
                    plot.getAxis("left").setLabel("")
                    plot.getAxis("left").setStyle(showValues=False)
                    plot.setYLink(self.plots[0])
                img = pg.ImageItem(axisOrder="row-major", autoLevels=False)
                plot.addItem(img)
                if names[c]:
                    plot.setTitle(names[c], size="9pt")
                self.plots.append(plot)
                self.images.append(img)
            self.colorbar = _diverging_colorbar()
            self.colorbar.setImageItem(self.images)
            self.single.addItem(self.colorbar, row=1, col=C)
            QTimer.singleShot(0, self, self._balance_channels)
        dt = float(ds.dt_ms)
        for c in range(C):
            self.images[c].setImage(maps[c], autoLevels=False)
            self._place(self.images[c], F, T, dt)
            self.plots[c].getAxis("left").set_freqs(band_freqs(getattr(self.session.current_run, "model", None), ds))
            first = self.lags[T - self._visible_frames(T)]
            self.plots[c].setRange(xRange=(first - dt / 2, self.lags[-1] + dt / 2), yRange=(-0.5, F - 0.5),
                                   padding=0)
        self.colorbar.setLevels((-level, level))
        what = self.title()
        self.single_title.setText(f"{ds.neuron_names[self.session.neuron]} — {what}", size="9pt")

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt API
        if watched is self.single and event.type() == QEvent.Type.Resize:
            QTimer.singleShot(0, self, self._balance_channels)
        return False

    def _balance_channels(self) -> None:
        """Give the channels' images (ON | OFF) equal widths: the first column also holds the frequency axis, so
        equal columns drew OFF narrower, and a long title on ON squeezed OFF to a sliver."""
        C = len(self.plots)
        if C < 2:
            return
        layout = self.single.ci.layout
        left, _top, right, _bottom = layout.getContentsMargins()
        spacing = max(layout.horizontalSpacing(), 0)
        bar = self.colorbar.geometry().width() if self.colorbar.scene() is not None else 0
        room = self.single.ci.geometry().width() - bar - left - right - spacing * C
        extra = [p.geometry().width() - p.getViewBox().geometry().width() for p in self.plots]  # axes, margins
        image = (room - sum(extra)) / C
        if image < 10:
            return
        for c in range(C):
            layout.setColumnFixedWidth(c, image + extra[c])

    def _draw_grid(self, run, arr: np.ndarray) -> None:
        ds = self.session.dataset
        values = run.neuron_values("cc_norm", "test")
        neurons = [int(i) for i in top_neurons(values, ds.n_neurons, self.k_spin.value())]
        N, C, F, T = arr.shape
        arr = arr[..., T - self._visible_frames(T):]
        tiles = [_side_by_side(arr[n], np.float32(np.nan)) for n in neurons]
        self.displayed = arr[self.session.neuron]
        if self.grid_neurons != neurons or len(self.grid_images) != len(neurons):
            self._grid_content = None
            self.grid.clear()
            self.grid_plots, self.grid_images, self.grid_contours = [], [], []
            cols = int(np.ceil(np.sqrt(len(neurons))))
            rows = int(np.ceil(len(neurons) / max(1, cols)))
            for i, n in enumerate(neurons):
                row, col = i // cols, i % cols
                plot = self.grid.addPlot(row=row, col=col, axisItems={"left": BandAxis("left"),
                                                                      "bottom": RepeatedLagAxis("bottom")})
                # frequency ticks on the first column, lag ticks on the bottom tile of each column
                plot.getAxis("left").setLabel("")
                plot.getAxis("left").setStyle(showValues=col == 0)
                plot.getAxis("bottom").setStyle(showValues=row == rows - 1 or i + cols >= len(neurons))
                plot.setLabel("bottom", "lag (ms)" if row == rows - 1 and col == 0 else "")
                plot.setMouseEnabled(x=False, y=False)
                plot.hideButtons()
                img = pg.ImageItem(axisOrder="row-major", autoLevels=False)
                img.setColorMap(diverging_cmap())
                plot.addItem(img)
                self.grid_plots.append(plot)
                self.grid_images.append(img)
            # one colour scale: each tile is drawn on its own symmetric range (weak STRFs stay legible), given
            # in its title; the bar shows the colours from -1 to +1 times that range
            self.grid_colorbar = _diverging_colorbar()
            self.grid_colorbar.setLevels((-1.0, 1.0))
            self.grid_colorbar.axis.enableAutoSIPrefix(False)
            self.grid_colorbar.axis.setLabel("× each tile's ±range")
            self.grid.addItem(self.grid_colorbar, row=0, col=cols, rowspan=rows)
            self.grid_neurons = neurons
        dt = float(ds.dt_ms)
        Tv = arr.shape[-1]
        start = float(self.lags[T - Tv]) - dt / 2
        width = tiles[0].shape[1] if tiles else 1
        source = run.cache.get(self.cache_key(run))
        content = (id(run), id(source), self.mode, self.sign_box.isChecked(), tuple(neurons), width)
        if content != self._grid_content:  # a new selection alone only moves the bold title
            self._grid_content = content
            self.grid_levels = []
            for i, tile in enumerate(tiles):
                level = symmetric_level([tile])  # each tile on its own symmetric scale: weak STRFs stay legible
                self.grid_levels.append(level)
                self.grid_images[i].setImage(tile, autoLevels=False, levels=(-level, level))
                self.grid_images[i].setRect(start, -0.5, width * dt, F)
                self.grid_plots[i].getAxis("left").set_freqs(band_freqs(run.model, ds))
                self.grid_plots[i].getAxis("bottom").set_channels(start, (Tv + 1) * dt, C)
                self.grid_plots[i].setRange(xRange=(start, start + width * dt), yRange=(-0.5, F - 0.5), padding=0)
        for i, n in enumerate(neurons):
            v = values[n] if values is not None and n < len(values) else np.nan
            level = self.grid_levels[i] if i < len(self.grid_levels) else float("nan")
            label = (ds.neuron_names[n] + (f"  {v:.2f}" if np.isfinite(v) else "")
                     + (f"  ±{level:.2g}" if np.isfinite(level) else ""))
            title = f"<b>{label}</b>" if n == self.session.neuron else label
            if self.grid_plots[i].titleLabel.text != title:  # re-laying out 16 titles costs ~1 ms each
                self.grid_plots[i].setTitle(title, size="8pt")
                self.grid_plots[i].getViewBox().setBorder(SELECTED_TILE_PEN if n == self.session.neuron else None)

    # --- significance -------------------------------------------------------------------------------
    def _significance_toggled(self, on: bool) -> None:
        cancelled = False
        run = self.session.current_run
        if not on and run is not None and run.model is not None:
            from strfviewer.gui.findings.significance_job import significance_key

            cancelled = self.jobs.cancel(run, significance_key(self.cache_key(run)))
        self.redraw()
        if cancelled:
            self.busy.setText("significance cancelled")

    def significance(self, run=None):
        """The :class:`~strfviewer.gui.findings.significance_job.Significance` of the maps shown for ``run``
        (default: the current run), ``None`` until computed."""
        from strfviewer.gui.findings.significance_job import significance_key

        run = run if run is not None else self.session.current_run
        if run is None or run.model is None:
            return None
        return run.cache.get(significance_key(self.cache_key(run)))

    def _significance_result(self, run, hide):
        """The run's significance of the maps shown, or ``None`` (outlines ``hide``-den) when it is off or still
        running (the jackknife is started here when it has not been)."""
        from strfviewer.gui.findings.significance_job import significance_job, significance_key

        if not self.significance_box.isChecked():
            for item in hide:
                item.hide()
            return None
        key = self.cache_key(run)
        result = run.cache.get(significance_key(key))
        if result is None:
            for item in hide:
                item.hide()
            error = self.jobs.request(run, significance_key(key),
                                      significance_job(run, self.session.dataset, key, run.cache[key]),
                                      name="jackknife")
            self.busy.setText(f"significance failed: {error}" if error else
                              "significance: jackknife running… (uncheck to cancel)")
            self.busy.setToolTip(self.busy.text())
        return result

    def _show_significance_note(self, result, mask: np.ndarray, where: str = "") -> None:
        note = (f"significant (|z| > {result.threshold:g}, {result.how}){where}: {int(mask.sum())} of {mask.size} "
                "pixels")
        self.busy.setText(note if not self.busy.text() else self.busy.text() + "; " + note)
        self.busy.setToolTip(self.busy.text())

    @staticmethod
    def _outline(plot, item: pg.PlotCurveItem, x: np.ndarray, y: np.ndarray) -> None:
        if item.scene() is not plot.scene() or item.parentItem() is not plot.getViewBox().childGroup:
            plot.addItem(item)
        item.setData(x, y, connect="pairs")
        item.setZValue(5)
        item.show()

    def _draw_significance(self, run) -> None:
        """Outline the selected neuron's significant pixels (|z| > 2) when asked; start the jackknife if needed."""
        self.shown_mask = None
        result = self._significance_result(run, self.contours)
        if result is None:
            return
        mask = result.mask()[self.session.neuron]
        if mask.shape != tuple(self.displayed.shape):
            self.busy.setText(f"significance: mask {mask.shape} does not match the map {self.displayed.shape}")
            return
        self.shown_mask = mask
        dt = float(self.session.dataset.dt_ms)
        while len(self.contours) < len(self.plots):
            self.contours.append(pg.PlotCurveItem(pen=SIGNIFICANCE_PEN, connect="pairs"))
        for c, plot in enumerate(self.plots):
            self._outline(plot, self.contours[c], *mask_outline(mask[c], float(self.lags[0]) - dt / 2, dt))
        self._show_significance_note(result, mask)

    def _draw_grid_significance(self, run, T: int) -> None:
        """Outline each grid tile's significant pixels (its channels side by side, as the tile shows them, over
        the lags shown); the selected neuron's mask is ``shown_mask``."""
        self.shown_mask = None
        result = self._significance_result(run, self.grid_contours)
        if result is None:
            return
        masks = result.mask()  # (N, C, F, T)
        if masks.ndim != 4 or masks.shape[-1] != T or masks.shape[0] <= max(self.grid_neurons, default=0):
            self.busy.setText(f"significance: mask {masks.shape} does not match the maps")
            return
        visible = masks[..., T - self._visible_frames(T):]
        dt = float(self.session.dataset.dt_ms)
        start = float(self.lags[T - visible.shape[-1]]) - dt / 2
        while len(self.grid_contours) < len(self.grid_plots):
            self.grid_contours.append(pg.PlotCurveItem(pen=SIGNIFICANCE_PEN, connect="pairs"))
        for i, n in enumerate(self.grid_neurons):  # the gap column between channels is never significant
            tile = _side_by_side(visible[n], False)
            self._outline(self.grid_plots[i], self.grid_contours[i], *mask_outline(tile, start, dt))
        self.shown_mask = visible[self.session.neuron]
        shown = visible[self.grid_neurons]
        self._show_significance_note(result, shown, f" in the {len(self.grid_neurons)} tiles")

    def _job_progress(self, run_id: int, what, text: str) -> None:
        run = self.session.current_run
        if run is None or run.id != run_id or not isinstance(what, tuple) or what[:1] != ("jackknife",):
            return
        self.busy.setText(f"significance: {text} (uncheck to cancel)")

    # --- grid clicks --------------------------------------------------------------------------------
    def tile_at(self, scene_pos) -> Optional[int]:
        """Index of the grid tile under a scene position (``None`` outside every tile)."""
        for i, plot in enumerate(self.grid_plots):
            if plot.sceneBoundingRect().contains(scene_pos):
                return i
        return None

    def _grid_clicked(self, event) -> None:
        i = self.tile_at(event.scenePos())
        if i is not None and i < len(self.grid_neurons):
            self.tileClicked.emit(self.grid_neurons[i])

    def _select_tile(self, neuron: int) -> None:
        if self.session.dataset is not None:
            self.session.select_neuron(neuron)


register_view(ViewSpec("gradmap", "Gradmap / STRF",
                       lambda window: GradmapView(window.session, window.start_worker, jobs=findings_jobs(window)),
                       area="center", depends=("dataset", "neuron", "run", "results"), exportable=True, order=30))
