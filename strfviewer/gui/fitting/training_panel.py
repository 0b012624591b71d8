"""The training dock: live curves of the running fit, a progress bar with ETA, and Cancel.

The worker running ``run_fit`` reports ``ProgressEvent(epoch, step, n_steps, train_loss, val_loss, val_cc_norm,
eta_s, message)`` objects. :class:`TrainingCurves` (Qt-free) accumulates them: one point per finished epoch for
train loss, val loss and val cc_norm, plus the running train loss inside the current epoch so long epochs still
move the curve. :class:`TrainingPanel` redraws from that store on a short timer (at most every
``REFRESH_MS`` ms, only when something changed), so a fit reporting every step never floods the GUI thread.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QVBoxLayout, QWidget)

from strfviewer.gui.views.axes import set_placeholder
from strfviewer.gui.window.model_io import progress_value

REFRESH_MS = 500  # redraw the curves at most this often (2 Hz: each redraw of the two plots costs ~10-25 ms)
CLOCK_MS = 1000  # the elapsed/ETA label ticks once per second


def _finite(x) -> bool:
    return x is not None and isinstance(x, (int, float, np.floating)) and math.isfinite(float(x))


def format_duration(seconds: Optional[float]) -> str:
    """``75.2`` -> ``'1 min 15 s'``; ``None``/NaN -> ``'?'``."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass
class TrainingCurves:
    """Per-epoch history of one fit, built from progress events (no Qt).

    ``epoch_x`` are 1-based epoch numbers of finished epochs; ``step_x``/``step_loss`` the running train loss
    inside epochs at fractional epoch positions (``epoch - 1 + step / n_steps``).
    """

    epoch_x: List[float] = field(default_factory=list)
    train_loss: List[float] = field(default_factory=list)
    val_loss: List[float] = field(default_factory=list)
    val_cc_norm: List[float] = field(default_factory=list)
    step_x: List[float] = field(default_factory=list)
    step_loss: List[float] = field(default_factory=list)
    n_events: int = 0
    last_event: object = None
    #: the epoch whose weights the fit keeps, as the engine reports it (0: the starting weights); ``None``
    #: until an event says
    engine_best: Optional[int] = None

    def add(self, event) -> bool:
        """Record one progress event; returns True when a curve gained a point."""
        self.n_events += 1
        self.last_event = event
        best = getattr(event, "best_epoch", None)
        if isinstance(best, (int, np.integer)) and not isinstance(best, bool):
            self.engine_best = int(best)
        epoch = getattr(event, "epoch", None)
        if epoch is None:
            return False
        step, n_steps = getattr(event, "step", None), getattr(event, "n_steps", None)
        kind = getattr(event, "kind", None)
        if kind == "done":
            return False
        if kind is not None:
            end_of_epoch = kind == "epoch"
        else:  # an event without a kind: validation figures mark the end of an epoch
            end_of_epoch = _finite(getattr(event, "val_loss", None)) or _finite(getattr(event, "val_cc_norm", None))
        if end_of_epoch:  # epoch 0: the starting weights' validation score (no train loss)
            x = float(epoch)
            if self.epoch_x and x <= self.epoch_x[-1]:
                return False  # a repeated end-of-epoch report
            self.epoch_x.append(x)
            self.train_loss.append(_nan_if_missing(event.train_loss))
            self.val_loss.append(_nan_if_missing(event.val_loss))
            self.val_cc_norm.append(_nan_if_missing(event.val_cc_norm))
            return True
        if _finite(getattr(event, "train_loss", None)) and step is not None and n_steps:
            x = float(epoch) - 1.0 + float(step) / float(n_steps)
            self.step_x.append(x)
            self.step_loss.append(float(event.train_loss))
            return True
        return False

    def best_epoch(self) -> Optional[int]:
        """The epoch whose weights a cancelled or finished fit keeps: the engine's ``best_epoch`` when its events
        carry one (0 = the starting weights; it monitors val cc_norm, falling back to val cc or loss), else the
        epoch with the highest val cc_norm."""
        if self.engine_best is not None:
            return self.engine_best
        vals = np.asarray(self.val_cc_norm, dtype=float)
        if vals.size == 0 or np.all(np.isnan(vals)):
            return None
        return int(self.epoch_x[int(np.nanargmax(vals))])


def _drawable(x: np.ndarray, y: np.ndarray) -> tuple:
    """``(x, y)`` of an epoch curve, or empty arrays when no ``y`` is finite (epoch 0 has no train loss; a flat
    start no val cc_norm): pyqtgraph's symbols warn 'All-NaN slice' on every repaint of an all-NaN curve."""
    if not np.isfinite(y).any():
        return np.empty(0), np.empty(0)
    return x, y


def _nan_if_missing(x) -> float:
    return float(x) if _finite(x) else float("nan")


def fraction_done(event, max_epochs: Optional[int]) -> Optional[float]:
    """Overall progress in [0, 1] from an event and the epoch budget (None when unknown)."""
    if not max_epochs or getattr(event, "epoch", None) is None:
        return None
    step, n_steps = getattr(event, "step", None), getattr(event, "n_steps", None)
    within = (float(step) / float(n_steps)) if (step is not None and n_steps) else 1.0
    return float(min(1.0, max(0.0, (float(event.epoch) - 1.0 + within) / float(max_epochs))))


class TrainingPanel(QWidget):
    """Live view of the running fit. Feed it with :meth:`begin`, :meth:`add_progress` and :meth:`end`.

    ``cancel_requested`` is emitted when the user presses Cancel. ``refresh_times`` (monotonic seconds of each
    curve redraw) lets tests and the responsiveness benchmark check the refresh rate.
    """

    cancel_requested = Signal()

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("training_panel")
        self.curves = TrainingCurves()
        self.max_epochs: Optional[int] = None
        self.run_name = ""
        self.running = False
        self.refresh_times: List[float] = []
        self._dirty = False
        self._started_at: Optional[float] = None
        self._eta_s: Optional[float] = None
        self._eta_at: Optional[float] = None

        self.title = QLabel("No fit running")
        self.title.setObjectName("training_title")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label = QLabel("")
        self.status_label.setObjectName("training_status")
        self.status_label.setWordWrap(True)
        self.queue_label = QLabel("")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("")
        self.eta_label = QLabel("")
        self.eta_label.setObjectName("training_eta")
        self.eta_label.setMinimumWidth(self.eta_label.fontMetrics().horizontalAdvance("00 min 00 s elapsed, "
                                                                                      "ETA 00 min 00 s"))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("training_cancel")
        self.cancel_button.setToolTip("Stop after the current step and keep the best weights so far.")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)

        self.loss_plot = pg.PlotWidget()
        self.loss_plot.setObjectName("training_loss_plot")
        self.loss_plot.setLabel("bottom", "epoch")
        self.loss_plot.setLabel("left", "loss")
        self.loss_plot.addLegend(offset=(-10, 10))
        self.step_curve = self.loss_plot.plot([], [], pen=pg.mkPen((150, 150, 150), width=1),
                                              name="train (running)")
        self.train_curve = self.loss_plot.plot([], [], pen=pg.mkPen((31, 119, 180), width=2), symbol="o",
                                               symbolSize=5, symbolBrush=(31, 119, 180), name="train")
        self.val_curve = self.loss_plot.plot([], [], pen=pg.mkPen((255, 127, 14), width=2), symbol="o",
                                             symbolSize=5, symbolBrush=(255, 127, 14), name="val")
        self.cc_plot = pg.PlotWidget()
        self.cc_plot.setObjectName("training_cc_plot")
        self.cc_plot.setLabel("bottom", "epoch")
        self.cc_plot.setLabel("left", "val cc_norm")
        self.cc_curve = self.cc_plot.plot([], [], pen=pg.mkPen((44, 160, 44), width=2), symbol="o",
                                          symbolSize=5, symbolBrush=(44, 160, 44))
        self.best_line = pg.InfiniteLine(angle=90, pen=pg.mkPen((44, 160, 44), style=Qt.PenStyle.DashLine))
        self.best_line.setVisible(False)
        self.cc_plot.addItem(self.best_line)
        self.cc_plot.setXLink(self.loss_plot)
        for plot in (self.loss_plot, self.cc_plot):  # no grid: blending it doubled the cost of every redraw
            plot.getAxis("left").enableAutoSIPrefix(False)

        top = QHBoxLayout()  # one row of controls keeps the dock short
        top.addWidget(self.title, 2)
        top.addWidget(self.queue_label)
        top.addWidget(self.progress_bar, 3)
        top.addWidget(self.eta_label)
        top.addWidget(self.cancel_button)
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.cc_plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.status_label)
        layout.addLayout(plots, 1)
        for w in (self.loss_plot, self.cc_plot):
            w.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            w.setMinimumHeight(80)

        self.empty_text = "no fit yet: Fit > New fit…"  # what the empty plots say
        for plot in (self.loss_plot, self.cc_plot):
            set_placeholder(plot, self.empty_text)

        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._refresh)
        self._clock = QTimer(self)
        self._clock.setInterval(CLOCK_MS)
        self._clock.timeout.connect(self._update_clock)

    # -- feeding ---------------------------------------------------------------------------------------------------
    def begin(self, run_name: str, max_epochs: Optional[int] = None) -> None:
        """Clear the curves and show a new fit as running."""
        self.curves = TrainingCurves()
        self.max_epochs = int(max_epochs) if max_epochs else None
        self.run_name = run_name
        self.running = True
        self._started_at = time.monotonic()
        self._eta_s = None
        self._eta_at = None
        self.title.setText(f"Fitting {run_name}")
        self.status_label.setText("Starting...")
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("starting")
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.best_line.setVisible(False)
        self.empty_text = "waiting for the first epoch…"
        self._dirty = True
        self._refresh()
        self._update_clock()
        self._timer.start()
        self._clock.start()

    @Slot(object)
    def add_progress(self, event) -> None:
        """Take one ``ProgressEvent`` (GUI thread). Cheap: the curves are redrawn by the refresh timer."""
        if not self.running:
            return
        if self.curves.add(event):
            self._dirty = True
        if not self.max_epochs and getattr(event, "max_epochs", 0):
            self.max_epochs = int(event.max_epochs)
        done = fraction_done(event, self.max_epochs)
        if done is not None:
            self.progress_bar.setValue(progress_value(done))
            # %p: Qt's percentage of the value, the same figure the status bar's bar shows for it
            self.progress_bar.setFormat(f"epoch {max(1, int(event.epoch))}"
                                        + (f" / {self.max_epochs}" if self.max_epochs else "") + "  (%p%)")
        eta = getattr(event, "eta_s", None)
        if _finite(eta):
            self._eta_s, self._eta_at = float(eta), time.monotonic()
            self._update_clock()
        message = getattr(event, "message", None)
        if message and message != self.status_label.text():
            self.status_label.setText(str(message))

    def end(self, status: str, message: str = "") -> None:
        """Show how the fit ended: ``status`` is 'done', 'warning' (done, but the message says what is wrong),
        'cancelled' or 'failed'; ``message`` says why/what."""
        self.running = False
        self._timer.stop()
        self._clock.stop()
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancel")  # the cancel (if any) has finished
        self.empty_text = ("closed-form fit (ridge): no epochs to plot" if status == "done"
                           else f"{status}: no epoch finished")
        self._dirty = True
        self._refresh()
        verb = {"done": "Finished", "cancelled": "Cancelled", "failed": "Failed",
                "warning": "Finished with a warning"}.get(status, status)
        self.title.setText(f"{verb}: {self.run_name}")
        if status in ("done", "warning"):
            self.progress_bar.setValue(1000)
            self.progress_bar.setFormat(status)
        elif status == "cancelled":
            self.progress_bar.setFormat("cancelled")
        else:
            self.progress_bar.setFormat("failed")
        self.eta_label.setText("")
        self.status_label.setText(message)
        self.status_label.setStyleSheet({"failed": "color: #b00020;", "warning": "color: #a05a00;"}.get(status, ""))

    def set_queue_length(self, n_waiting: int) -> None:
        self.queue_label.setText(f"{n_waiting} queued" if n_waiting else "")

    # -- internals ---------------------------------------------------------------------------------------------
    @Slot()
    def _on_cancel_clicked(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling...")
        self.status_label.setText("Cancelling: stops after the current step and keeps the best weights so far.")
        self.cancel_requested.emit()

    @Slot()
    def _update_clock(self) -> None:
        """Elapsed time and ETA (counted down between progress reports)."""
        if not self.running or self._started_at is None:
            return
        elapsed = time.monotonic() - self._started_at
        eta = None
        if self._eta_s is not None:
            eta = max(0.0, self._eta_s - (time.monotonic() - self._eta_at))
        self.eta_label.setText(f"{format_duration(elapsed)} elapsed"
                               + (f", ETA {format_duration(eta)}" if eta is not None else ""))

    @Slot()
    def _refresh(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        c = self.curves
        self.step_curve.setData(np.asarray(c.step_x, float), np.asarray(c.step_loss, float))
        x = np.asarray(c.epoch_x, float)
        for curve, values in ((self.train_curve, c.train_loss), (self.val_curve, c.val_loss),
                              (self.cc_curve, c.val_cc_norm)):
            curve.setData(*_drawable(x, np.asarray(values, float)), connect="finite")
        # no curve (before a fit, a ridge fit): say so rather than keep the last fit's axes
        set_placeholder(self.loss_plot, None if len(c.step_x) or len(x) else self.empty_text)
        set_placeholder(self.cc_plot, None if len(x) else self.empty_text)
        best = c.best_epoch()
        if best is not None:
            self.best_line.setValue(best)
            self.best_line.setVisible(True)
        self.refresh_times.append(time.monotonic())

    def plot_widgets(self) -> list:
        """The pyqtgraph widgets to export."""
        return [self.loss_plot, self.cc_plot]
