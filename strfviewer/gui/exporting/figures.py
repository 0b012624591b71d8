"""Figures as files: any pyqtgraph widget "as shown", and the publication figure of one neuron.

Rendering goes through ``QPainter`` onto a ``QImage`` (PNG, at a chosen DPI), a ``QSvgGenerator`` (SVG, text
stays text) or a ``QPdfWriter`` (PDF, vector), never through pyqtgraph's SVG exporter (it crashes on a
``PlotItem`` in pyqtgraph 0.14). Files are written atomically. The publication figure is an offscreen
``GraphicsLayoutWidget`` (spectrogram, PSTH recorded vs predicted, gradmap with colour bar) built from plain
arrays, so the headless CLI draws the same figure as the app.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QMarginsF, QPoint, QRect, QRectF, QSize, QSizeF, Qt
from PySide6.QtGui import (QFont, QImage, QPageSize, QPainter, QPainterPath, QPdfWriter, QPen, QPicture, QPolygonF,
                           QTransform)
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QApplication, QGraphicsView, QWidget

from strfviewer.gui.views.axes import BandAxis, diverging_cmap, sequential_cmap, symmetric_level
from strfviewer.gui.views.registry import plot_widgets
from strfviewer.io.atomic import atomic_path

FORMATS = ("png", "svg", "pdf")
SCREEN_DPI = 96.0  # logical pixels per inch of a widget's size
PathLike = Union[str, os.PathLike]

#: room the gradmap's colour bar and its tick labels take in the figure (px at the screen's DPI)
COLOUR_BAR_PX = 80


def format_of(path: PathLike, fmt: Optional[str] = None) -> str:
    """'png' | 'svg' | 'pdf' from ``fmt`` or the file's suffix; ``ValueError`` naming the file otherwise."""
    fmt = (fmt or Path(path).suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"{path}: unknown figure format {fmt!r} (use .png, .svg or .pdf)")
    return fmt


def ensure_app() -> QApplication:
    """The running ``QApplication``, or a new one (offscreen when there is no display) for headless use; a new
    one deletes its Qt objects in a safe order at exit (:mod:`strfviewer.gui.window.teardown`)."""
    app = QApplication.instance()
    if app is None:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QApplication(["strfviewer"])
        import atexit

        from strfviewer.gui.window.teardown import delete_qt_objects

        atexit.register(delete_qt_objects, app)  # runs before PySide's own clean-up (registered earlier)
    return app


# ----------------------------------------------------------------------------------------------------
# rendering widgets to files
# ----------------------------------------------------------------------------------------------------
def _source_rect(widget: QWidget) -> QRect:
    view = getattr(widget, "viewport", None)
    return view().rect() if callable(view) else widget.rect()


def widgets_size(widgets: Sequence[QWidget]) -> QSize:
    """Logical size of ``widgets`` stacked vertically (widest width, summed heights)."""
    rects = [_source_rect(w) for w in widgets]
    return QSize(max((r.width() for r in rects), default=1), sum(r.height() for r in rects) or 1)


def paint_widgets(widgets: Sequence[QWidget], painter: QPainter, target: QRectF) -> None:
    """Paint ``widgets`` stacked vertically into ``target`` (scaled to fit, vector where the device is)."""
    size = widgets_size(widgets)
    sx, sy = target.width() / size.width(), target.height() / size.height()
    y = 0.0
    for w in widgets:
        src = _source_rect(w)
        rect = QRectF(target.x(), target.y() + y * sy, src.width() * sx, src.height() * sy)
        if isinstance(w, QGraphicsView):  # pyqtgraph plots: the scene is painted as vectors
            w.render(painter, rect, src)
        else:  # any other widget: painted at its size, scaled like the rest
            painter.save()
            painter.translate(rect.topLeft())
            painter.scale(sx, sy)
            w.render(painter, QPoint(0, 0))
            painter.restore()
        y += src.height()


def _paint(device, widgets: Sequence[QWidget], target) -> None:
    """Paint onto ``device``; the painter is ended even when painting fails (an active painter left
    behind crashes Qt)."""
    painter = QPainter(device)
    try:
        # no SmoothPixmapTransform: an image's bins (gradmap, spectrogram) stay sharp squares, as on screen and in
        # the PDF, instead of being interpolated when the PNG is scaled up
        painter.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        paint_widgets(widgets, painter, target(painter))
    finally:
        painter.end()


@contextlib.contextmanager
def _cosmetic_pens_scaled(factor: float) -> Iterator[None]:
    """While the block runs, pens set from Python that are cosmetic (pyqtgraph's curves, axes, legend
    samples: widths in device pixels, which a device pixel ratio does not widen) are ``factor`` times wider,
    so lines keep their on-screen weight in a high-resolution image. Only for painting done synchronously
    in this thread (figure exports)."""
    if abs(factor - 1.0) < 1e-6:
        yield
        return
    original = QPainter.setPen

    def set_pen(painter: QPainter, *args) -> None:
        pen = QPen(*args)
        if pen.isCosmetic() and pen.style() != Qt.NoPen:
            pen.setWidthF(max(pen.widthF(), 1.0) * factor)
        original(painter, pen)

    QPainter.setPen = set_pen
    try:
        yield
    finally:
        QPainter.setPen = original


@contextlib.contextmanager
def _pictures_redrawn(widgets: Sequence[QWidget]) -> Iterator[None]:
    """Items that cache their drawing in a ``QPicture`` (pyqtgraph's axes) draw afresh inside the block, and
    again on screen after it, so a scaled export does not reuse (or leave behind) the other's strokes."""
    items = [item for w in widgets if isinstance(w, QGraphicsView) and w.scene() is not None
             for item in w.scene().items() if isinstance(getattr(item, "picture", None), QPicture)]

    def clear() -> None:
        for item in items:
            item.picture = None

    clear()
    try:
        yield
    finally:
        clear()
        for item in items:
            item.update()


def _is_translation(t: QTransform) -> bool:
    """True when ``t`` moves (or mirrors) without scaling: strokes look the same with or without it."""
    return (abs(abs(t.m11()) - 1.0) < 1e-9 and abs(abs(t.m22()) - 1.0) < 1e-9 and abs(t.m12()) < 1e-9
            and abs(t.m21()) < 1e-9 and not t.isRotating() and t.type() <= QTransform.TransformationType.TxScale)


@contextlib.contextmanager
def _portable_svg_drawing(widgets: Sequence[QWidget]) -> Iterator[None]:
    """While the block runs, drawing that only Qt's own SVG renderer shows right is made portable (librsvg,
    ImageMagick, browsers, Inkscape):

    * a cosmetic stroke (pyqtgraph's curves: width in device pixels) under a scaling transform (a plot's data
      coordinates) is written in device coordinates. QSvgGenerator writes it in data coordinates with
      ``vector-effect="non-scaling-stroke"``, which librsvg ignores: the stroke was scaled with the data (x 0.5,
      y 11 in the figure's PSTH) and the curves became large filled shapes;
    * curves are drawn as one path, not as hundreds of two-point segments (pyqtgraph's segmented mode);
    * a small image drawn large (a gradmap or spectrogram: one pixel per bin) is upscaled by whole factors
      without smoothing first, so a renderer that interpolates images (librsvg does) blurs only the bins'
      edges, not whole bins: bins stay bins, as on screen.

    Only for painting done synchronously in this thread (figure exports)."""
    curves = [item for w in widgets if isinstance(w, QGraphicsView) and w.scene() is not None
              for item in w.scene().items() if isinstance(item, pg.PlotCurveItem)]
    modes = [item.opts.get("segmentedLineMode") for item in curves]
    draw_path, draw_polyline, draw_image = QPainter.drawPath, QPainter.drawPolyline, QPainter.drawImage

    def stroked_in_device_space(painter: QPainter, draw, shape, map_shape) -> bool:
        pen, t = painter.pen(), painter.transform()
        if pen.style() == Qt.NoPen or not pen.isCosmetic() or _is_translation(t):
            return False
        brush = painter.brush()
        painter.save()
        try:
            if brush.style() != Qt.NoBrush:  # the fill stays in the item's coordinates
                painter.setPen(Qt.NoPen)
                draw(painter, shape)
            painter.setBrush(Qt.NoBrush)
            painter.setPen(pen)
            painter.resetTransform()
            draw(painter, map_shape(t, shape))
        finally:
            painter.restore()
        return True

    def path(painter: QPainter, shape, *args) -> None:
        if args or not isinstance(shape, QPainterPath) or not stroked_in_device_space(
                painter, draw_path, shape, lambda t, s: t.map(s)):
            draw_path(painter, shape, *args)

    def polyline(painter: QPainter, shape, *args) -> None:
        if args or not isinstance(shape, QPolygonF) or not stroked_in_device_space(
                painter, draw_polyline, shape, lambda t, s: t.map(s)):
            draw_polyline(painter, shape, *args)

    def image(painter: QPainter, *args) -> None:
        if len(args) == 2 and isinstance(args[0], QRectF) and isinstance(args[1], QImage) and not args[1].isNull():
            target, img = args
            device = painter.transform().mapRect(target)
            fx = max(1, min(32, int(abs(device.width()) // max(1, img.width()))))
            fy = max(1, min(32, int(abs(device.height()) // max(1, img.height()))))
            if fx > 1 or fy > 1:
                args = (target, img.scaled(img.width() * fx, img.height() * fy, Qt.IgnoreAspectRatio,
                                           Qt.FastTransformation))
        draw_image(painter, *args)

    for item in curves:
        item.opts["segmentedLineMode"] = "off"
    QPainter.drawPath, QPainter.drawPolyline, QPainter.drawImage = path, polyline, image
    try:
        yield
    finally:
        QPainter.drawPath, QPainter.drawPolyline, QPainter.drawImage = draw_path, draw_polyline, draw_image
        for item, mode in zip(curves, modes):
            item.opts["segmentedLineMode"] = mode


def _set_dpi(image: QImage, dpi: float) -> None:
    dots_per_metre = round(float(dpi) / 0.0254)
    image.setDotsPerMeterX(dots_per_metre)
    image.setDotsPerMeterY(dots_per_metre)


def save_widgets(widgets: Sequence[QWidget], path: PathLike, fmt: Optional[str] = None, dpi: float = 150.0,
                 title: str = "strfviewer figure") -> Path:
    """Write ``widgets`` (stacked vertically, at their current size) to ``path`` as PNG / SVG / PDF.

    PNG: ``size * dpi / 96`` pixels with the DPI stored in the file; SVG: the logical size, text as text;
    PDF: one page of the logical size in points. Atomic: a failure leaves an existing file untouched.
    """
    widgets = list(widgets)
    if not widgets:
        raise ValueError(f"{path}: nothing to export")
    fmt = format_of(path, fmt)
    if not 10 <= float(dpi) <= 2400:
        raise ValueError(f"{path}: DPI {dpi} is out of range (10..2400)")
    size = widgets_size(widgets)
    with atomic_path(path, suffix=f".{fmt}") as tmp:
        if fmt == "png":
            scale = float(dpi) / SCREEN_DPI
            image = QImage(max(1, round(size.width() * scale)), max(1, round(size.height() * scale)),
                           QImage.Format_ARGB32)
            image.fill(Qt.white)
            # Paint the widgets at their logical size on an image of ``dpi / 96`` device pixels per logical
            # pixel, as on a high-DPI screen: text, cosmetic (1-pixel) pens, and items that ignore the view's
            # transforms (legends) all grow alike, and fonts in points keep their on-screen size. A painter
            # scale on a 96-DPI image would leave pens and legends thin, a DPI set before painting would
            # enlarge text twice (points -> pixels at that DPI, then the scale).
            _set_dpi(image, SCREEN_DPI)
            ratio = image.width() / size.width()
            image.setDevicePixelRatio(ratio)
            with _cosmetic_pens_scaled(ratio), _pictures_redrawn(widgets):
                _paint(image, widgets, lambda painter: QRectF(0, 0, size.width(), size.height()))
            image.setDevicePixelRatio(1.0)
            _set_dpi(image, float(dpi))  # the resolution stored in the file
            if not image.save(str(tmp), "PNG"):
                raise OSError(f"{path}: could not write the PNG image")
        elif fmt == "svg":
            generator = QSvgGenerator()
            generator.setFileName(str(tmp))
            generator.setSize(size)
            generator.setViewBox(QRect(0, 0, size.width(), size.height()))
            generator.setResolution(int(SCREEN_DPI))
            generator.setTitle(title)
            generator.setDescription("made with strfviewer")
            with _portable_svg_drawing(widgets), _pictures_redrawn(widgets):
                _paint(generator, widgets, lambda painter: QRectF(0, 0, size.width(), size.height()))
        else:
            writer = QPdfWriter(str(tmp))
            writer.setTitle(title)
            writer.setCreator("strfviewer")
            writer.setResolution(int(SCREEN_DPI))  # vectors: one device unit per logical pixel, fonts as shown
            points = QSizeF(size.width() * 72.0 / SCREEN_DPI, size.height() * 72.0 / SCREEN_DPI)
            writer.setPageSize(QPageSize(points, QPageSize.Point, "figure", QPageSize.ExactMatch))
            writer.setPageMargins(QMarginsF(0, 0, 0, 0))
            _paint(writer, widgets, lambda painter: QRectF(painter.viewport()))
        if Path(tmp).stat().st_size == 0:
            raise OSError(f"{path}: the {fmt.upper()} renderer wrote nothing")
    return Path(path)


# ----------------------------------------------------------------------------------------------------
# the publication figure
# ----------------------------------------------------------------------------------------------------
@dataclass
class FigurePanels:
    """Everything the one-neuron figure shows (plain arrays; units in the names).

    ``spec (F, T)`` spectrogram of the stimulus; ``recorded (R, T)`` responses per trial (NaN = missing) in ``response_label``
    (``spikes / bin``, ``mV``);
    ``predictions`` label -> ``(T,)`` predicted response; ``gradmap (C, F, T_lag)`` excitation positive,
    ``lags_ms (T_lag,)`` oldest first; ``scores`` label -> ``(cc, cc_norm)`` on this stimulus.
    """

    neuron_name: str
    stimulus_name: str
    spec: np.ndarray
    freqs_hz: np.ndarray
    dt_ms: float
    recorded: np.ndarray
    predictions: Dict[str, np.ndarray] = field(default_factory=dict)
    gradmap: Optional[np.ndarray] = None
    lags_ms: Optional[np.ndarray] = None
    gradmap_title: str = "gradmap"
    channel_names: Tuple[str, ...] = ()
    scores: Dict[str, Tuple[float, float]] = field(default_factory=dict)
    gradmap_freqs_hz: Optional[np.ndarray] = None
    response_label: str = "spikes / bin"

    def gradmap_bands_hz(self) -> np.ndarray:
        """Band centres (Hz) of the gradmap's frequency axis: its own when given, else the spectrogram's."""
        return self.freqs_hz if self.gradmap_freqs_hz is None else self.gradmap_freqs_hz


def panels_for(dataset, neuron: int, stimulus: str, predictions: Optional[Dict[str, Dict[str, np.ndarray]]] = None,
               gradmaps: Optional[np.ndarray] = None, gradmap_title: str = "gradmap",
               gradmap_freqs_hz: Optional[Sequence[float]] = None) -> FigurePanels:
    """Figure panels for ``neuron`` on ``stimulus`` of ``dataset``.

    ``predictions``: run label -> {stimulus name: ``(N, T)``}; ``gradmaps``: ``(N, C, F, T_lag)`` with
    excitation positive. Scores (cc, cc_norm on this stimulus) are computed for each prediction.
    ``gradmap_freqs_hz (F,)``: the gradmaps' band centres (Hz) when they are not the dataset's (a waveform model
    labels its map with its own front-end's bands); ``ValueError`` when their count is not the gradmaps' ``F``.
    """
    if not 0 <= int(neuron) < dataset.n_neurons:
        raise ValueError(f"neuron {neuron} is out of range (the dataset has {dataset.n_neurons} neurons)")
    stim = dataset.stimulus(stimulus)
    recorded = np.asarray(stim.responses[int(neuron)], dtype=np.float64)
    preds: Dict[str, np.ndarray] = {}
    scores: Dict[str, Tuple[float, float]] = {}
    for label, per_stim in (predictions or {}).items():
        if per_stim and stimulus in per_stim:
            p = np.asarray(per_stim[stimulus][int(neuron)], dtype=np.float64)
            preds[label] = p
            scores[label] = _scores(recorded, p)
    grad = None if gradmaps is None else np.asarray(gradmaps[int(neuron)], dtype=np.float32)
    C = 0 if grad is None else grad.shape[0]
    names = ("ON", "OFF") if C == 2 else tuple(f"channel {c}" for c in range(C)) if C > 1 else ()
    bands = None
    if grad is not None and gradmap_freqs_hz is not None:
        bands = np.asarray(gradmap_freqs_hz, dtype=float).reshape(-1)
        if bands.shape[0] != grad.shape[1]:
            raise ValueError(f"gradmap_freqs_hz has {bands.shape[0]} band centres for a gradmap of "
                             f"{grad.shape[1]} bands")
    return FigurePanels(str(dataset.neuron_names[int(neuron)]), stim.name, np.asarray(stim.spec[0], np.float32),
                        np.asarray(dataset.freqs_hz, float), float(dataset.dt_ms), recorded, preds, grad,
                        None if grad is None else dataset.lags_ms(grad.shape[-1]), gradmap_title, names, scores,
                        bands, getattr(dataset, "response_label", "spikes / bin"))


def _scores(recorded: np.ndarray, prediction: np.ndarray) -> Tuple[float, float]:
    try:
        from strfviewer.fit.metrics import cc_norm_from_trials

        T = min(recorded.shape[-1], prediction.shape[-1])
        m = cc_norm_from_trials([recorded[None, :, :T]], [prediction[None, :T]])
        return float(m.cc[0]), float(m.cc_norm[0])
    except (ImportError, ValueError):
        return float("nan"), float("nan")


PRED_COLOURS = ((214, 96, 0), (0, 90, 200), (0, 150, 80), (150, 50, 160))
FONT_PT = 9


def _style(plot: pg.PlotItem) -> None:
    """Black axes and text, readable fonts: a print look."""
    font = QFont()
    font.setPointSize(FONT_PT)
    for name in ("left", "bottom", "right", "top"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen("k", width=1))
        axis.setTextPen(pg.mkPen("k"))
        axis.setStyle(tickFont=font)
        axis.label.setFont(font)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()


def _fmt(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.2f}"


def legend_html(entries) -> str:
    """A legend as text: a line in each entry's colour ``(r, g, b)`` before its label (HTML-escaped), so every
    SVG and PDF renderer draws it alike."""
    import html

    return "&nbsp;&nbsp;&nbsp; ".join(f"<span style='color:#{r:02x}{g:02x}{b:02x}'><b>——</b></span>&nbsp;"
                                      f"{html.escape(text)}" for (r, g, b), text in entries)


def _wrap_legend(label: pg.LabelItem, width_px: float) -> None:
    """Let the legend ``label`` wrap between its entries within ``width_px``: on one line (two runs compared, long
    run names) its minimum width pushed the gradmap panel and colour bar past the figure's right edge."""
    label.item.setTextWidth(max(50.0, float(width_px)))
    label.updateMin()


def offscreen_figure(width_in: float, height_in: float) -> pg.GraphicsLayoutWidget:
    """An empty white layout widget of ``width_in x height_in`` inches that is never shown on screen."""
    ensure_app()
    widget = pg.GraphicsLayoutWidget()
    widget.setAttribute(Qt.WA_DontShowOnScreen, True)
    widget.setBackground("w")
    widget.resize(int(width_in * SCREEN_DPI), int(height_in * SCREEN_DPI))
    return widget


def build_figure(panels: FigurePanels, width_in: float = 9.0, height_in: float = 5.5) -> pg.GraphicsLayoutWidget:
    """An offscreen widget laying out the spectrogram (top left), the PSTH recorded vs predicted (bottom left,
    same time axis) and the gradmap channels with a colour bar (right), sized ``width_in x height_in``."""
    widget = offscreen_figure(width_in, height_in)
    layout = widget.ci
    title = f"{panels.neuron_name} — stimulus {panels.stimulus_name}"
    layout.addLabel(title, row=0, col=0, colspan=4, color="k", size=f"{FONT_PT + 2}pt")
    F, T = panels.spec.shape
    dt = float(panels.dt_ms)

    # A: spectrogram
    spec_axis = BandAxis("left")
    spec_axis.set_freqs(panels.freqs_hz)
    spec_plot = layout.addPlot(row=1, col=0, axisItems={"left": spec_axis})
    spec_plot.setTitle("<b>A</b>  stimulus spectrogram", color="k", size=f"{FONT_PT}pt")
    spec_img = pg.ImageItem(panels.spec, axisOrder="row-major", autoLevels=False)
    finite = panels.spec[np.isfinite(panels.spec)]
    lo, hi = (float(np.percentile(finite, 1)), float(np.percentile(finite, 99.5))) if finite.size else (0.0, 1.0)
    spec_img.setLevels((lo, hi if hi > lo else lo + 1.0))
    spec_img.setColorMap(sequential_cmap())
    spec_img.setRect(0.0, -0.5, T * dt, float(F))
    spec_plot.addItem(spec_img)
    spec_plot.setRange(xRange=(0, T * dt), yRange=(-0.5, F - 0.5), padding=0)
    spec_plot.setLabel("bottom", "time (ms)")
    _style(spec_plot)

    # B: PSTH recorded vs predicted
    psth = layout.addPlot(row=2, col=0)
    psth.setTitle("<b>B</b>  response: recorded vs predicted", color="k", size=f"{FONT_PT}pt")
    psth.setXLink(spec_plot)
    entries = []  # (colour, label): the legend, in its own row under panel B (inside it covered the peak)
    rec = np.asarray(panels.recorded, dtype=np.float64)
    t_ms = np.arange(rec.shape[-1]) * dt
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN bins
        mean = np.nan_to_num(np.nanmean(rec, axis=0))
        sd = np.nan_to_num(np.nanstd(rec, axis=0))
    upper, lower = pg.PlotCurveItem(t_ms, mean + sd), pg.PlotCurveItem(t_ms, mean - sd)
    psth.addItem(pg.FillBetweenItem(upper, lower, brush=pg.mkBrush(160, 160, 160, 110)))
    n_trials = int(np.sum(np.isfinite(rec).any(axis=1))) if rec.ndim == 2 else 1
    psth.plot(t_ms, mean, pen=pg.mkPen("k", width=1.5))
    entries.append(((0, 0, 0), f"recorded mean ± sd ({n_trials} trials)"))
    for k, (label, pred) in enumerate(panels.predictions.items()):
        cc, ccn = panels.scores.get(label, (float("nan"), float("nan")))
        colour = PRED_COLOURS[k % len(PRED_COLOURS)]
        psth.plot(np.arange(len(pred)) * dt, pred, pen=pg.mkPen(colour, width=1.5))
        entries.append((colour, f"{label} (cc {_fmt(cc)}, cc_norm {_fmt(ccn)})"))
    widget.legend = layout.addLabel(legend_html(entries), row=3, col=0, color="k", size=f"{FONT_PT - 1}pt",
                                    justify="left")
    psth.setLabel("bottom", "time (ms)")
    psth.setLabel("left", panels.response_label)
    _style(psth)

    # C: gradmap channels + colour bar
    if panels.gradmap is not None:
        g = np.asarray(panels.gradmap, dtype=np.float32)
        C, Fg, Tg = g.shape
        lags = panels.lags_ms if panels.lags_ms is not None else (np.arange(Tg) - (Tg - 1)) * dt
        level = symmetric_level([g])
        images = []
        for c in range(C):
            axis = BandAxis("left")
            axis.set_freqs(panels.gradmap_bands_hz())
            plot = layout.addPlot(row=1, col=1 + c, rowspan=3, axisItems={"left": axis})
            name = panels.channel_names[c] if c < len(panels.channel_names) else ""
            head = "<b>C</b>  " + panels.gradmap_title if c == 0 else ""
            plot.setTitle((head + (f" — {name}" if name else "")).strip(), color="k", size=f"{FONT_PT}pt")
            img = pg.ImageItem(g[c], axisOrder="row-major", autoLevels=False)
            img.setRect(float(lags[0]) - dt / 2, -0.5, Tg * dt, float(Fg))
            plot.addItem(img)
            plot.setRange(xRange=(lags[0] - dt / 2, lags[-1] + dt / 2), yRange=(-0.5, Fg - 0.5), padding=0)
            plot.setLabel("bottom", "lag (ms)")
            if c > 0:  # same bands as the first channel: no repeated tick labels
                plot.getAxis("left").setLabel("")
                plot.getAxis("left").setStyle(showValues=False)
            _style(plot)
            images.append(img)
        bar = pg.ColorBarItem(colorMap=diverging_cmap(), interactive=False, width=12, values=(-level, level))
        bar.setImageItem(images)
        bar.axis.setPen(pg.mkPen("k"))
        bar.axis.setTextPen(pg.mkPen("k"))
        bar.axis.enableAutoSIPrefix(False)
        bar.axis.setWidth(None)  # room for the widest tick label (the default 45 px let the label overlap it)
        # a CSS colour: an axis label's colour goes into HTML as is, and "k" made an invalid colour that Qt's PDF
        # writer emitted as an 'SCN' without operands (poppler: "Incorrect number of arguments in 'SCN'")
        bar.axis.setLabel("excitatory (+) / inhibitory (−)", color="#000000")
        layout.addItem(bar, row=1, col=1 + C, rowspan=3)
        layout.layout.setColumnStretchFactor(0, 3)
        for c in range(C):
            layout.layout.setColumnStretchFactor(1 + c, 2)
    else:
        layout.addLabel("no model: gradmap not available", row=1, col=1, rowspan=3, color="#555")
        C = 1
    # the left column's share of the width (stretch 3 against 2 per gradmap channel, less the colour bar)
    _wrap_legend(widget.legend, 0.95 * (widget.width() - COLOUR_BAR_PX) * 3.0 / (3.0 + 2.0 * C))
    widget.show()  # not on screen (WA_DontShowOnScreen): lets the layouts settle at the final size
    QApplication.processEvents()
    return widget


def save_figure(panels: FigurePanels, path: PathLike, fmt: Optional[str] = None, dpi: float = 300.0,
                width_in: float = 9.0, height_in: float = 5.5) -> Path:
    """Build the one-neuron figure and write it (PNG at ``dpi``, SVG, PDF); returns the path."""
    widget = build_figure(panels, width_in, height_in)
    try:
        return save_widgets([widget], path, fmt=fmt, dpi=dpi,
                            title=f"{panels.neuron_name} on {panels.stimulus_name}")
    finally:
        widget.close()
        widget.deleteLater()


def view_widgets(view: QWidget) -> List[QWidget]:
    """The widgets to export for a view: its ``plot_widgets()``, else the view itself."""
    return plot_widgets(view)
