"""The Dream dock: settings, a live image of the dream and the response reached per step.

Only widgets and drawing; the dreaming feature (:mod:`strfviewer.gui.dreaming.feature`) runs the engine.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel, QLineEdit,
                               QProgressBar, QPushButton, QSizePolicy, QSpinBox, QVBoxLayout, QWidget)

from strfviewer.gui.views.axes import BandAxis, diverging_cmap, set_placeholder

INITS = ("silence", "noise", "selected stimulus")
READOUTS = ("last", "mean", "peak")
CURVE_COLOURS = ((214, 96, 0), (0, 90, 200), (0, 150, 80), (150, 50, 160), (120, 120, 120))


def parse_neurons(text: str, n_neurons: int) -> List[int]:
    """'3', '1, 4, 7' or '2-5' -> neuron indices; ``ValueError`` naming the bad part."""
    out: List[int] = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = (int(v) for v in part.split("-", 1))
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise ValueError(f"neurons: {part!r} is not an index or a range like 2-5") from None
    bad = [i for i in out if not 0 <= i < n_neurons]
    if bad:
        raise ValueError(f"neurons: {bad} out of range 0..{n_neurons - 1}")
    if not out:
        raise ValueError("neurons: give at least one neuron index")
    return sorted(set(out), key=out.index)


class DreamPanel(QWidget):
    """Settings (``neurons_edit``, ``steps_spin``, ``lr_spin``, ``init_box``, ``readout_box``,
    ``population_box``, ``clamp_box``, ``l2_spin``, ``smooth_spin``), buttons (``start_button``,
    ``cancel_button``, ``export_npz_button``, ``export_png_button``, ``listen_button``), the live
    ``image`` (``ImageItem`` of the shown dream, ``(F, T)``) and one response curve per dream."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.neurons_edit = QLineEdit()
        self.neurons_edit.setToolTip("neuron indices: '3', '1, 4, 7' or '2-5' (the table's selection by default)")
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 100000)
        self.steps_spin.setValue(1500)
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(4)
        self.lr_spin.setRange(0.0001, 10.0)
        self.lr_spin.setSingleStep(0.01)
        self.lr_spin.setValue(0.05)
        self.init_box = QComboBox()
        self.init_box.addItems(INITS)
        self.readout_box = QComboBox()
        self.readout_box.addItems(READOUTS)
        self.population_box = QCheckBox("population")
        self.population_box.setToolTip("one dream for the mean response of the neurons instead of one each")
        self.clamp_box = QCheckBox("data range")
        self.clamp_box.setToolTip("keep the dream within the range of the training stimuli's values")
        self.clamp_box.setChecked(True)
        self.l2_spin = QDoubleSpinBox()
        self.l2_spin.setDecimals(4)
        self.l2_spin.setRange(0.0, 100.0)
        self.l2_spin.setSingleStep(0.01)
        self.l2_spin.setToolTip("L2 penalty: pulls the dream towards silence (0 = off)")
        self.smooth_spin = QDoubleSpinBox()
        self.smooth_spin.setDecimals(4)
        self.smooth_spin.setRange(0.0, 100.0)
        self.smooth_spin.setSingleStep(0.01)
        self.smooth_spin.setToolTip("smoothness penalty across neighbouring bands and frames (0 = off)")
        settings = QGridLayout()
        settings.setContentsMargins(0, 0, 0, 0)
        cells = (("Neurons", self.neurons_edit), ("Steps", self.steps_spin), ("lr", self.lr_spin),
                 ("From", self.init_box), ("Maximise", self.readout_box))
        for col, (label, widget) in enumerate(cells):
            settings.addWidget(QLabel(label), 0, 2 * col)
            settings.addWidget(widget, 0, 2 * col + 1)
        settings.addWidget(self.population_box, 1, 0, 1, 3)
        settings.addWidget(self.clamp_box, 1, 3, 1, 3)
        settings.addWidget(QLabel("L2"), 1, 6)
        settings.addWidget(self.l2_spin, 1, 7)
        settings.addWidget(QLabel("Smooth"), 1, 8)
        settings.addWidget(self.smooth_spin, 1, 9)

        self.start_button = QPushButton("Dream")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.export_npz_button = QPushButton("Save NPZ…")
        self.export_png_button = QPushButton("Save image…")
        self.listen_button = QPushButton("Listen")
        self.listen_button.setToolTip("make the dream audible (synthesised through the front-end) and play it")
        for b in (self.export_npz_button, self.export_png_button, self.listen_button):
            b.setEnabled(False)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.cancel_button, self.export_npz_button, self.export_png_button,
                  self.listen_button):
            buttons.addWidget(b)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.state = QLabel("")
        self.state.setObjectName("dreamState")
        self.state.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)  # a long note must not widen the dock
        self.show_box = QComboBox()
        self.show_box.setToolTip("which dream the image shows")

        self.band_axis = BandAxis("left")
        self.image_plot = pg.PlotWidget(axisItems={"left": self.band_axis})
        self.image_plot.setObjectName("dreamImage")
        self.image_plot.setLabel("bottom", "time (ms)")
        self.image = pg.ImageItem(axisOrder="row-major", autoLevels=False)
        self.image.setColorMap(diverging_cmap())
        self.image_plot.addItem(self.image)
        self.curve_plot = pg.PlotWidget()
        self.curve_plot.setObjectName("dreamResponse")
        self.curve_plot.setLabel("bottom", "step")
        self.curve_plot.setLabel("left", "response")
        self.curve_plot.addLegend(offset=(-5, 5), labelTextSize="8pt")
        self.curves: List[pg.PlotDataItem] = []
        plots = QHBoxLayout()
        plots.addWidget(self.image_plot, 3)
        plots.addWidget(self.curve_plot, 2)

        for plot in (self.image_plot, self.curve_plot):
            plot.setMinimumHeight(60)
        set_placeholder(self.image_plot, "no dream yet: choose neurons, then Dream")
        set_placeholder(self.curve_plot, "the response after each step shows here")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(settings)
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.state, 2)
        buttons.addWidget(QLabel("show"))
        buttons.addWidget(self.show_box)
        layout.addLayout(buttons)
        layout.addLayout(plots, 1)

    def plot_widgets(self):
        return [self.image_plot, self.curve_plot]

    # --- drawing -------------------------------------------------------------------------------------
    def set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def reset(self, labels: Sequence[str], freqs_hz, dt_ms: float) -> None:
        """Prepare for a new dream of ``labels`` (one curve and one image choice per dream)."""
        for plot in (self.image_plot, self.curve_plot):
            set_placeholder(plot, None)
        self.curve_plot.clear()
        self.curves = []
        for k, label in enumerate(labels):
            pen = pg.mkPen(CURVE_COLOURS[k % len(CURVE_COLOURS)], width=1.5)
            self.curves.append(self.curve_plot.plot([], [], pen=pen, name=label))
        self.show_box.blockSignals(True)
        self.show_box.clear()
        self.show_box.addItems(list(labels))
        self.show_box.blockSignals(False)
        self.band_axis.set_freqs(freqs_hz)
        self.dt_ms = float(dt_ms)
        self.image.clear()
        self.progress.setValue(0)

    def show_responses(self, responses: np.ndarray) -> None:
        """``responses (steps, K)``: the response of each dream after each step."""
        steps = np.arange(1, responses.shape[0] + 1)
        for k, curve in enumerate(self.curves):
            if k < responses.shape[1]:
                curve.setData(steps, responses[:, k])

    def show_stimulus(self, stimulus: np.ndarray) -> None:
        """``stimulus (K, 1, F, T)``: draw the dream chosen in ``show_box`` with symmetric levels."""
        k = max(0, min(self.show_box.currentIndex(), stimulus.shape[0] - 1))
        spec = np.asarray(stimulus[k, 0], dtype=np.float32)
        level = float(np.max(np.abs(spec))) or 1.0
        self.image.setImage(spec, autoLevels=False, levels=(-level, level))
        F, T = spec.shape
        dt = getattr(self, "dt_ms", 1.0)
        self.image.setRect(0.0, -0.5, T * dt, float(F))
        self.image_plot.setRange(xRange=(0, T * dt), yRange=(-0.5, F - 0.5), padding=0)
