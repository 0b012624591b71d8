"""Axis helpers shared by the views: a frequency axis that labels band indices with their centre in Hz."""

from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np
import pyqtgraph as pg


#: what the data views show before a dataset is open
NO_DATA_TEXT = "no data yet: File > Open data… (or drop a folder on the window)"

#: widths (px) that keep the time axes of the spectrogram and PSTH views aligned
LEFT_AXIS_WIDTH = 62
COLORBAR_WIDTH = 70


def reserve_right_column(plot_item: pg.PlotItem, width: int = COLORBAR_WIDTH) -> pg.GraphicsWidget:
    """An empty column where a ``ColorBarItem`` sits in another plot, so stacked plots line up."""
    spacer = pg.GraphicsWidget()
    spacer.setFixedWidth(width)
    plot_item.layout.addItem(spacer, 2, 5)
    plot_item.layout.setColumnFixedWidth(4, 5)
    return spacer


def format_hz(hz: float) -> str:
    """``'500'``, ``'1.2k'``, ``'16k'``: compact labels for frequencies in Hz."""
    if not np.isfinite(hz):
        return ""
    if hz >= 10000:
        return f"{hz / 1000:.0f}k"
    if hz >= 1000:
        return f"{hz / 1000:.1f}k".replace(".0k", "k")
    return f"{hz:.0f}"


class BandAxis(pg.AxisItem):
    """Left axis of an image whose rows are frequency bands: row ``i`` is drawn at ``y = i`` and labelled
    with ``freqs_hz[i]`` (band centres, Hz), so non-uniform (mel) bands keep their true centre labels."""

    def __init__(self, orientation: str = "left", **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.freqs_hz = np.zeros(0)
        self.setLabel("frequency", units="Hz")
        self.enableAutoSIPrefix(False)

    def set_freqs(self, freqs_hz: Sequence[float]) -> None:
        self.freqs_hz = np.asarray(freqs_hz, dtype=float)
        self.picture = None
        self.update()

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 - pyqtgraph API
        n = len(self.freqs_hz)
        if n == 0:
            return super().tickValues(minVal, maxVal, size)
        lo, hi = max(0, int(np.ceil(minVal))), min(n - 1, int(np.floor(maxVal)))
        if hi < lo:
            return []
        max_ticks = max(2, int(size // 28))
        step = max(1, int(np.ceil((hi - lo + 1) / max_ticks)))
        major = list(range(lo, hi + 1, step))
        return [(float(step), [float(v) for v in major])]

    def tickStrings(self, values, scale, spacing) -> List[str]:  # noqa: N802 - pyqtgraph API
        n = len(self.freqs_hz)
        if n == 0:
            return super().tickStrings(values, scale, spacing)
        out = []
        for v in values:
            i = int(round(v))
            out.append(format_hz(self.freqs_hz[i]) if 0 <= i < n else "")
        return out


class RepeatedLagAxis(pg.AxisItem):
    """Bottom axis of channels drawn side by side in one image (a grid tile: ON | OFF): each channel spans
    ``period`` ms from ``start`` (ms, the oldest lag's left edge) and gets its own lag ticks (ms)."""

    def __init__(self, orientation: str = "bottom", **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)
        self.start, self.period, self.channels = 0.0, 0.0, 1

    def set_channels(self, start_ms: float, period_ms: float, channels: int) -> None:
        self.start, self.period, self.channels = float(start_ms), float(period_ms), int(channels)
        self.picture = None
        self.update()

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 - pyqtgraph API
        if self.channels <= 1 or self.period <= 0:
            return super().tickValues(minVal, maxVal, size)
        per_channel = super().tickValues(self.start, self.start + self.period, size / self.channels)
        out = []
        for spacing, values in per_channel:
            shifted = [v + c * self.period for c in range(self.channels) for v in values
                       if self.start <= v <= self.start + self.period]
            out.append((spacing, [v for v in shifted if minVal <= v <= maxVal]))
        return out

    def tickStrings(self, values, scale, spacing) -> List[str]:  # noqa: N802 - pyqtgraph API
        if self.channels <= 1 or self.period <= 0:
            return super().tickStrings(values, scale, spacing)
        local = [self.start + (v - self.start) % self.period for v in values]
        return super().tickStrings(local, scale, spacing)


def diverging_cmap() -> pg.ColorMap:
    """Blue-white-red diverging map for signed STRFs and gradmaps (levels set symmetric around 0)."""
    try:
        return pg.colormap.get("CET-D1")
    except Exception:  # pragma: no cover - colour-map files missing in a frozen build
        return pg.ColorMap([0.0, 0.5, 1.0], [(33, 102, 172), (247, 247, 247), (178, 24, 43)])


def sequential_cmap() -> pg.ColorMap:
    """Perceptually uniform map for spectrograms."""
    try:
        return pg.colormap.get("inferno")
    except Exception:  # pragma: no cover
        return pg.ColorMap([0.0, 1.0], [(0, 0, 0), (255, 255, 255)])


def symmetric_level(arrays) -> float:
    """``max |x|`` over finite entries (1.0 when all are zero/NaN): the level for a symmetric colour map."""
    m = 0.0
    for a in arrays:
        a = np.asarray(a)
        if a.size:
            finite = a[np.isfinite(a)]
            if finite.size:
                m = max(m, float(np.abs(finite).max()))
    return m if m > 0 else 1.0


def set_octave_ticks(axis: pg.AxisItem, freqs_khz: Sequence[float]) -> None:
    """Ticks at whole octaves (0.5, 1, 2, 4 ... kHz) on a log-mode frequency axis spanning ``freqs_khz``
    (pyqtgraph's own log ticks crowd every tenth into a short axis)."""
    f = np.asarray([v for v in freqs_khz if np.isfinite(v) and v > 0], dtype=float)
    if f.size == 0:
        axis.setTicks(None)
        return
    octaves = np.arange(np.floor(np.log2(f.min())), np.ceil(np.log2(f.max())) + 1)
    axis.setTicks([[(float(np.log10(2.0 ** k)), f"{2.0 ** k:g}") for k in octaves], []])


def set_placeholder(plot, text: Optional[str]) -> None:
    """An empty plot says what it waits for instead of showing meaningless axes: ``text`` hides the axes
    (bottom, left) and shows ``text`` in the middle; ``None`` brings the axes back and lets the plot range
    follow its data again. ``plot``: a ``pg.PlotWidget`` or ``pg.PlotItem``; idempotent."""
    item = plot.getPlotItem() if hasattr(plot, "getPlotItem") else plot
    label = getattr(item, "_strfviewer_placeholder", None)
    if text is None:
        if label is None or not label.isVisible():
            return
        label.hide()
        for name in ("left", "bottom"):
            item.showAxis(name)
        item.enableAutoRange()
        return
    if label is None or label not in item.items:  # none yet, or removed by the plot's clear()
        label = pg.TextItem(anchor=(0.5, 0.5), color=(110, 110, 110))
        label.setZValue(20)
        item.addItem(label, ignoreBounds=True)
        item._strfviewer_placeholder = label
    label.setText(text)
    label.setPos(0.5, 0.5)
    label.show()
    for name in ("left", "bottom"):
        item.hideAxis(name)
    item.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)


def placeholder_text(plot) -> Optional[str]:
    """The text an empty plot shows (``None`` when it shows data)."""
    item = plot.getPlotItem() if hasattr(plot, "getPlotItem") else plot
    label = getattr(item, "_strfviewer_placeholder", None)
    return label.toPlainText() if label is not None and label.isVisible() else None
