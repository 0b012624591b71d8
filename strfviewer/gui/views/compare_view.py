"""Compare runs view: run A (the current run) vs run B (the compare run) per neuron on the test stimuli.

Scatter of A's vs B's ``cc_norm`` with the diagonal (blue: B better beyond the neuron's own noise, red: A
better, grey: within noise; click a point to select that neuron), histogram of the differences B - A with the
mean and its bootstrap interval, the statistics of :func:`strfviewer.analysis.compare.compare_runs`, and for the
selected neuron the recorded response against the current run's linear drive with an LN model's output
nonlinearity over it (the prediction itself for other models). Computed in workers."""

from __future__ import annotations

import html
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from strfviewer.gui.views.axes import set_placeholder
from strfviewer.gui.findings.compare_figure import fill_histogram, fill_scatter
from strfviewer.gui.views.lazy_view import LazyView
from strfviewer.gui.views.registry import ViewSpec, register_view

SELECTED_PEN = pg.mkPen((0, 0, 0), width=2)
POINT_BRUSH = pg.mkBrush(120, 120, 120, 70)
CURVE_PEN = pg.mkPen((214, 39, 40), width=2)


class CompareView(LazyView):
    """Attributes for inspection: ``comparison`` (the ``PairedComparison`` shown, ``None`` without two runs),
    ``points`` (the scatter's ``ScatterPlotItem``, each point's data its neuron), ``nl_curve``, ``nl_points``,
    ``note``."""

    def __init__(self, session, jobs, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.session = session
        self.jobs = jobs
        self.comparison = None
        self.points = None
        self.note = ""
        layout = self.build_frame("comparePlots")
        layout.addWidget(self.plots, 1)
        self.scatter_plot = self.plots.addPlot(row=0, col=0)
        self.hist_plot = self.plots.addPlot(row=0, col=1)
        self.nl_plot = self.plots.addPlot(row=0, col=2)
        self.stats = self.plots.addLabel("", row=0, col=3, justify="left", color="k", size="8pt")
        for plot in (self.scatter_plot, self.hist_plot, self.nl_plot):
            plot.setMenuEnabled(False)
            plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.selected = pg.ScatterPlotItem(size=14, pen=SELECTED_PEN, brush=pg.mkBrush(None))
        self.nl_points = pg.ScatterPlotItem(size=4, pen=pg.mkPen(None), brush=POINT_BRUSH)
        self.nl_curve = pg.PlotCurveItem(pen=CURVE_PEN)

    # --- drawing ------------------------------------------------------------------------------------
    def draw(self) -> None:
        s, ds = self.session, self.session.dataset
        a, b = s.current_run, s.compare_run
        self.comparison = None
        if ds is None:
            return self._show_note("")
        if a is None:
            return self._show_note("no run yet: fit or open a model")
        if b is None:
            self._show_note(f"A = {a.name}. Choose a compare run (Runs dock: Compare) to compare two runs.")
        elif a.get_predictions() is None or b.get_predictions() is None:
            self._show_note("waiting for both runs' predictions…")
        else:
            self._draw_comparison(a, b)
        self._draw_nonlinearity(a)

    def _show_note(self, note: str) -> None:
        self.note = note
        self.title.setText(note)
        for plot in (self.scatter_plot, self.hist_plot):
            plot.clear()
            set_placeholder(plot, "two runs compared show here" if note else None)
        self.points = None
        self.stats.setText("")

    def _draw_comparison(self, a, b) -> None:
        from strfviewer.gui.findings.run_comparison import comparison_job, comparison_key, scored_stimuli

        ds = self.session.dataset
        result = a.cache.get(comparison_key(b))
        if result is None:
            error = self.jobs.request(a, comparison_key(b), comparison_job(ds, a, b), name="compare runs")
            return self._show_note(f"comparison failed: {error}" if error else "comparing the runs…")
        self.comparison = result
        for plot in (self.scatter_plot, self.hist_plot):
            set_placeholder(plot, None)
        n_stim = len(scored_stimuli(ds))
        split = "test" if ds.stimuli_in("test") else "all"
        self.note = ""
        self.title.setText(f"A = {a.name} (current run), B = {b.name} (compare run): cc_norm on {n_stim} {split} "
                           f"stimuli; click a point to select its neuron")
        self.points = fill_scatter(self.scatter_plot, result, "A", "B")
        self._fit_scatter(result)
        self.points.sigClicked.connect(self.select_clicked)
        self.scatter_plot.addItem(self.selected)
        fill_histogram(self.hist_plot, result, "A", "B")
        self.hist_plot.setTitle("B - A", size="8pt")
        lines = result.summary_lines("A", "B")
        self.stats.setText("<br>".join(html.escape(line) for line in lines))
        self._mark_selected()

    def _fit_scatter(self, r) -> None:
        """The same range on both axes, around the points (the figure's locked aspect left a short dock's
        scatter a few pixels wide)."""
        self.scatter_plot.setAspectLocked(False)
        values = np.concatenate([r.cc_norm_a, r.cc_norm_b])
        values = values[np.isfinite(values)]
        if values.size:
            low, high = float(values.min()), float(values.max())
            pad = max(0.05 * (high - low), 0.01)
            self.scatter_plot.setRange(xRange=(low - pad, high + pad), yRange=(low - pad, high + pad), padding=0)

    def _mark_selected(self) -> None:
        r, n = self.comparison, self.session.neuron
        if r is not None and n < len(r.cc_norm_a) and np.isfinite(r.cc_norm_a[n]) and np.isfinite(r.cc_norm_b[n]):
            self.selected.setData([r.cc_norm_a[n]], [r.cc_norm_b[n]])
        else:
            self.selected.setData([], [])

    def _draw_nonlinearity(self, run) -> None:
        from strfviewer.gui.findings.run_comparison import (NONLINEARITY_KEY, has_output_nonlinearity,
                                                            nonlinearity_job, predicted_vs_recorded)

        s, ds = self.session, self.session.dataset
        n = s.neuron
        plot = self.nl_plot
        plot.clear()
        plot.addItem(self.nl_points)
        plot.addItem(self.nl_curve)
        self.nl_points.setData([], [])
        self.nl_curve.setData([], [])
        name = ds.neuron_names[n]
        if run.model is not None and has_output_nonlinearity(run.model):
            nl = run.cache.get(NONLINEARITY_KEY)
            if nl is None:
                error = self.jobs.request(run, NONLINEARITY_KEY, nonlinearity_job(run.model, ds),
                                          name="output nonlinearity")
                plot.setTitle(f"output nonlinearity failed: {error}" if error else "computing the nonlinearity…",
                              size="8pt")
                return
            self.nl_points.setData(nl.drive[n], nl.recorded[n])
            self.nl_curve.setData(nl.curve_x[n], nl.curve_y[n])
            plot.setTitle(f"{name}: {nl.name} output nonlinearity ({run.name})", size="8pt")
            plot.setLabel("bottom", "linear drive")
        else:
            pair = predicted_vs_recorded(run, ds, n)
            if pair is None:
                plot.setTitle("no predictions yet", size="8pt")
                return
            pred, rec = pair
            self.nl_points.setData(pred, rec)
            ok = np.isfinite(pred)
            if ok.any():
                lo, hi = float(np.min(pred[ok])), float(np.max(pred[ok]))
                self.nl_curve.setData([lo, hi], [lo, hi])  # identity: the model's output is its prediction
            plot.setTitle(f"{name}: {run.name} has no output nonlinearity", size="8pt")
            plot.setLabel("bottom", "predicted")
        plot.setLabel("left", f"recorded (trial mean, {getattr(ds, 'response_label', 'spikes / bin')})")
        plot.autoRange()

    # --- CSV ------------------------------------------------------------------------------------------
    def csv_table(self):
        """``(header, rows)``: one row per neuron, as ``strfviewer compare`` writes."""
        r = self.comparison
        if r is None:
            raise ValueError(f"no comparison to export: {self.note or 'choose a compare run'}")
        header = ["neuron", "cc_norm_a", "cc_norm_b", "difference", "noise_sd", "z", "differs"]
        names = self.session.dataset.neuron_names
        return header, [[names[i], r.cc_norm_a[i], r.cc_norm_b[i], r.difference[i], r.noise_sd[i], r.z[i],
                         int(r.differs[i])] for i in range(len(r.difference))]


def _create(window) -> CompareView:
    from strfviewer.gui.views.findings_jobs import findings_jobs

    return CompareView(window.session, findings_jobs(window))


register_view(ViewSpec("compare", "Compare runs", _create, area="bottom", depends=("dataset", "neuron", "run", "results"),
                       exportable=True, order=70))
