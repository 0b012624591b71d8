"""PSTH of the selected neuron on the selected stimulus: recorded trial mean with its trial spread, the
predicted response of the current run (and of the compare run), and their cc / cc_norm on this stimulus."""

from __future__ import annotations

import warnings
from typing import Dict, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from strfviewer.gui.views.axes import LEFT_AXIS_WIDTH, NO_DATA_TEXT, reserve_right_column, set_placeholder
from strfviewer.gui.views.registry import ViewSpec, register_view
from strfviewer.gui.views.time_plot import TimePlotMixin

RUN_PENS = (pg.mkPen((230, 110, 20), width=2), pg.mkPen((40, 120, 220), width=2, style=Qt.DashLine))
RECORDED_PEN = pg.mkPen((20, 20, 20), width=1.5)
SPREAD_BRUSH = pg.mkBrush(150, 150, 150, 90)


def stimulus_scores(responses: np.ndarray, prediction: np.ndarray):
    """``(cc, cc_norm)`` of one neuron on one stimulus: ``responses`` ``(R, T)``, ``prediction`` ``(T,)``."""
    from strfviewer.fit.metrics import cc_norm_from_trials

    m = cc_norm_from_trials([responses[None].astype(np.float64)], [prediction[None].astype(np.float64)])
    return float(m.cc[0]), float(m.cc_norm[0])


def _fmt(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.2f}"


class PSTHView(TimePlotMixin, QWidget):
    """Recorded vs predicted response. Attributes for inspection: ``mean_curve`` (``PlotDataItem`` of the
    trial mean), ``pred_curves`` (run id -> ``PlotDataItem``), ``scores`` (run id -> ``(cc, cc_norm)``),
    ``raster_ticks`` (``ScatterPlotItem`` of the trials, shown with the "raster" box: spike times at full
    resolution where the dataset keeps them, else one tick per bin with spikes)."""

    def __init__(self, session, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.session = session
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("psthPlot")
        self.plot.setLabel("bottom", "time", units="ms")
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.plot.setLabel("left", "spikes / bin")
        self.plot.setMouseEnabled(x=True, y=False)
        # time range comes from the (x-linked) spectrogram view, so a new neuron does not move (and repaint) it;
        self.plot.getViewBox().disableAutoRange()  # y is set from the data in redraw(): one paint per change
        self.plot.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        reserve_right_column(self.plot.getPlotItem())
        self.legend = self.plot.addLegend(offset=(-10, 5), labelTextSize="8pt")
        self.upper = pg.PlotCurveItem()
        self.lower = pg.PlotCurveItem()
        self.spread = pg.FillBetweenItem(self.upper, self.lower, brush=SPREAD_BRUSH)
        self.plot.addItem(self.spread)
        self.mean_curve = self.plot.plot(pen=RECORDED_PEN, name="recorded (trial mean ± sd)")
        self.pred_curves: Dict[int, pg.PlotDataItem] = {}
        self.scores: Dict[int, tuple] = {}
        # one reusable curve per shown run (current, compare): re-creating items costs more than the data
        self._slots = [self.plot.plot(pen=pen) for pen in RUN_PENS]
        self._slot_names = [None] * len(self._slots)
        self._add_playhead()
        set_placeholder(self.plot, NO_DATA_TEXT)  # until redraw() has a stimulus to show
        self.info = QLabel(" ")
        self.info.setObjectName("psthScores")
        self.info.setWordWrap(True)
        # a fixed two-line height: a label that grows or shrinks with its text re-lays out (and repaints)
        # the whole window on every neuron switch
        self.info.setFixedHeight(2 * self.info.fontMetrics().lineSpacing() + 4)
        self.info.setAlignment(Qt.AlignLeft | Qt.AlignVCenter)
        self.info.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.raster_box = QCheckBox("raster")
        self.raster_box.setToolTip("show every trial as a row of spike ticks above the PSTH (at the recorded spike "
                                   "times when the data has them, else one tick per bin with spikes)")
        self.raster_box.toggled.connect(self._toggle_raster)
        self._build_raster()
        header = QHBoxLayout()
        header.addWidget(self.info, 1)
        header.addWidget(self.raster_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self.raster, 1)
        layout.addWidget(self.plot, 2)

    def _build_raster(self) -> None:
        """A small plot of trial rows (tick per bin with spikes), x-linked to the PSTH, hidden by default."""
        self.raster = pg.PlotWidget()
        self.raster.setObjectName("rasterPlot")
        self.raster.setLabel("left", "trial")
        self.raster.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        self.raster.getAxis("bottom").setStyle(showValues=False)
        self.raster.setMouseEnabled(x=True, y=False)
        reserve_right_column(self.raster.getPlotItem())
        self.raster.setXLink(self.plot)
        self.raster_ticks = pg.ScatterPlotItem(symbol="|", size=7, pen=pg.mkPen((20, 20, 20)), brush=None)
        self.raster.addItem(self.raster_ticks)
        self.raster.hide()

    def _toggle_raster(self, on: bool) -> None:
        self.raster.setVisible(on)
        if on:
            self._draw_raster()

    def _draw_raster(self) -> None:
        """Ticks at ``(t_ms, trial)``: every spike at its recorded time when the dataset keeps spike times,
        else one per bin with at least one spike of the selected neuron."""
        stim, ds = self.session.stimulus_obj(), self.session.dataset
        if stim is None or ds is None:
            self.raster_ticks.setData([], [])
            return
        resp = np.asarray(stim.responses[self.session.neuron])  # (R, T)
        times = stim.spike_times_of(self.session.neuron)  # per trial (n,) ms, or None
        if times is not None:
            x = np.concatenate([np.asarray(t, dtype=np.float64) for t in times] or [np.zeros(0)])
            y = np.concatenate([np.full(len(t), r + 1.0) for r, t in enumerate(times)] or [np.zeros(0)])
            self.raster_ticks.setData(x, y)
        else:
            trials, bins = np.nonzero(np.nan_to_num(resp) > 0)
            self.raster_ticks.setData(bins * float(ds.dt_ms), trials + 1.0)
        self.raster.setYRange(0.5, resp.shape[0] + 0.5, padding=0)

    def _follow_response_kind(self, ds) -> None:
        """The y label says the dataset's unit (``spikes / bin``, ``mV``); continuous responses have no spikes
        to draw as a raster, so its box is turned off and disabled for them."""
        label = getattr(ds, "response_label", "spikes / bin")
        if self.plot.getAxis("left").labelText != label:
            self.plot.setLabel("left", label)
        continuous = bool(getattr(ds, "is_continuous", False))
        if continuous and self.raster_box.isChecked():
            self.raster_box.setChecked(False)
        self.raster_box.setEnabled(not continuous)

    def _show_slot(self, k: int, name, x=None, y=None) -> None:
        """Curve ``k`` shows ``(x, y)`` labelled ``name`` in the legend; ``name=None`` hides it."""
        curve = self._slots[k]
        if name != self._slot_names[k]:
            if self._slot_names[k] is not None:
                self.legend.removeItem(curve)
            if name is not None:
                self.legend.addItem(curve, name)
            self._slot_names[k] = name
        if name is None:
            curve.setData([], [])
            curve.hide()
        else:
            curve.setData(x, y)
            curve.show()

    def _set_y_range(self, arrays) -> None:
        lo = min((float(np.nanmin(a)) for a in arrays if a is not None and np.size(a)), default=0.0)
        hi = max((float(np.nanmax(a)) for a in arrays if a is not None and np.size(a)), default=1.0)
        if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
            lo, hi = (lo, lo + 1.0) if np.isfinite(lo) else (0.0, 1.0)
        pad = 0.05 * (hi - lo)
        self.plot.setYRange(lo - pad, hi + pad, padding=0)

    def redraw(self) -> None:
        s = self.session
        stim, ds = s.stimulus_obj(), s.dataset
        self.pred_curves, self.scores = {}, {}
        shown = []
        if stim is None or ds is None:
            for k in range(len(self._slots)):
                self._show_slot(k, None)
            self.mean_curve.setData([], [])
            self.upper.setData([], [])
            self.lower.setData([], [])
            self.info.setText(" ")
            set_placeholder(self.plot, NO_DATA_TEXT)
            return
        set_placeholder(self.plot, None)
        self._follow_response_kind(ds)
        n = s.neuron
        resp = np.asarray(stim.responses[n], dtype=np.float64)  # (R, T)
        T = resp.shape[-1]
        t_ms = np.arange(T) * float(ds.dt_ms)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN bins
            mean = np.nanmean(resp, axis=0)
            sd = np.nanstd(resp, axis=0)
        mean = np.nan_to_num(mean)
        sd = np.nan_to_num(sd)
        self.mean_curve.setData(t_ms, mean)
        self.upper.setData(t_ms, mean + sd)
        self.lower.setData(t_ms, mean - sd)
        parts = [f"<b>{ds.neuron_names[n]}</b> on <b>{stim.name}</b> ({ds.split.get(stim.name, '?')}, "
                 f"{int(np.sum(np.isfinite(resp).any(axis=1)))} trials)"]
        labels = s.run_labels()
        for k, run in enumerate(s.shown_runs()[: len(self._slots)]):
            label = labels.get(run.id, run.name)
            preds = run.get_predictions()
            if not preds or stim.name not in preds:
                parts.append(f"{label}: prediction pending")
                continue
            pred = np.asarray(preds[stim.name][n], dtype=np.float64)
            self._show_slot(k, label, t_ms[: len(pred)], pred)
            shown.append(k)
            self.pred_curves[run.id] = self._slots[k]
            try:
                cc, ccn = stimulus_scores(resp, pred[:T])
            except (ImportError, ValueError):
                cc, ccn = float("nan"), float("nan")
            self.scores[run.id] = (cc, ccn)
            parts.append(f"{label}: cc {_fmt(cc)}, cc_norm {_fmt(ccn)}")
        for k in range(len(self._slots)):
            if k not in shown:
                self._show_slot(k, None)
        self._set_y_range([mean - sd, mean + sd] + [self._slots[k].getData()[1] for k in shown])
        self.info.setText(" &nbsp;|&nbsp; ".join(parts))
        if self.raster_box.isChecked():
            self._draw_raster()


register_view(ViewSpec("psth", "PSTH", lambda window: PSTHView(window.session), area="time",
                       depends=("dataset", "stimulus", "neuron", "run", "results"), exportable=True, order=20))
