"""The "Compare runs" figure: run A vs run B cc_norm per neuron (diagonal; neurons beyond their noise
highlighted), the histogram of the differences and the statistics, as an offscreen pyqtgraph widget that the
CLI (``strfviewer compare --figure``) saves and the app's Compare dock shows."""

from __future__ import annotations

import html
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from strfviewer.gui.exporting.figures import FONT_PT, _style, offscreen_figure

#: colours of the neurons better with B, better with A, and within noise
BETTER_B, BETTER_A, SAME = (31, 119, 180), (214, 39, 40), (150, 150, 150)


def point_brushes(comparison) -> list:
    """One brush per neuron: blue where B is better beyond noise, red where A is, grey otherwise."""
    colours = []
    for diff, differs in zip(comparison.difference, comparison.differs):
        colours.append(BETTER_B if differs and diff > 0 else BETTER_A if differs and diff < 0 else SAME)
    return [pg.mkBrush(*c) for c in colours]


def fill_scatter(plot: pg.PlotItem, comparison, name_a: str, name_b: str) -> pg.ScatterPlotItem:
    """Draw the A vs B scatter with its diagonal on ``plot`` (cleared first); returns the points item
    (each point's ``data`` is its neuron index)."""
    plot.clear()
    a, b = comparison.cc_norm_a, comparison.cc_norm_b
    ok = np.isfinite(a) & np.isfinite(b)
    values = np.concatenate([a[ok], b[ok], [0.0, 1.0]])
    low, high = float(values.min()), float(values.max())
    plot.plot([low, high], [low, high], pen=pg.mkPen((0, 0, 0), width=1, style=Qt.DashLine))
    brushes = [br for br, keep in zip(point_brushes(comparison), ok) if keep]
    points = pg.ScatterPlotItem(a[ok], b[ok], size=8, pen=pg.mkPen(None), brush=brushes,
                                data=np.flatnonzero(ok))
    plot.addItem(points)
    plot.setLabel("bottom", f"cc_norm {name_a}")
    plot.setLabel("left", f"cc_norm {name_b}")
    plot.setAspectLocked(True)
    return points


def fill_histogram(plot: pg.PlotItem, comparison, name_a: str, name_b: str) -> None:
    """Histogram of the differences B - A with the mean and its interval."""
    plot.clear()
    d = comparison.difference[np.isfinite(comparison.difference)]
    span = max(float(np.abs(d).max()) if len(d) else 0.0, 1e-3)
    edges = np.linspace(-span, span, max(5, min(40, len(d) // 2 + 5)) + 1)
    counts, _ = np.histogram(d, bins=edges)
    plot.plot(edges, counts, stepMode="center", fillLevel=0, brush=pg.mkBrush(*BETTER_B, 120),
              pen=pg.mkPen((0, 0, 0), width=1))
    pen = pg.mkPen((0, 0, 0), width=2)
    plot.addLine(x=comparison.mean_difference, pen=pen)
    for bound in comparison.ci:
        plot.addLine(x=bound, pen=pg.mkPen((0, 0, 0), width=1, style=Qt.DotLine))
    plot.addLine(x=0.0, pen=pg.mkPen((120, 120, 120), width=1, style=Qt.DashLine))
    plot.setLabel("bottom", f"cc_norm {name_b} - {name_a}")
    plot.getAxis("bottom").enableAutoSIPrefix(False)
    plot.setLabel("left", "neurons")


def build_compare_figure(comparison, name_a: str = "A", name_b: str = "B", width_in: float = 10.0,
                         height_in: float = 5.0, title: Optional[str] = None) -> pg.GraphicsLayoutWidget:
    """An offscreen widget: scatter (left), histogram (right), statistics underneath."""
    widget = offscreen_figure(width_in, height_in)
    layout = widget.ci
    layout.addLabel(title or f"{name_b} vs {name_a}", row=0, col=0, colspan=2, color="k", size=f"{FONT_PT + 2}pt")
    scatter = layout.addPlot(row=1, col=0)
    histogram = layout.addPlot(row=1, col=1)
    for plot in (scatter, histogram):
        _style(plot)
    fill_scatter(scatter, comparison, name_a, name_b)
    fill_histogram(histogram, comparison, name_a, name_b)
    text = "<br>".join(html.escape(line) for line in comparison.summary_lines(name_a, name_b))
    layout.addLabel(text, row=2, col=0, colspan=2, color="k", size=f"{FONT_PT}pt", justify="left")
    return widget
