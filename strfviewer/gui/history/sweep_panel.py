"""The "Sweep" dock: progress of the running sweep and its two-level Cancel.

Counts (done / running / failed / skipped / cancelled / remaining), a progress bar over the trials that ended,
the ETA from the sweep driver (:class:`strfviewer.runs.sweeper.SweepProgress`), the last thing that happened,
and a Cancel button: the first click stops pending trials (running ones finish and are recorded) and the button
then reads "Kill running trials"; the second click kills them (recorded as cancelled).
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

COUNTS = ("done", "running", "failed", "skipped", "cancelled", "remaining")
CANCEL_TEXT = "Cancel sweep"
KILL_TEXT = "Kill running trials"


def format_eta(seconds: Optional[float]) -> str:
    """``1 h 02 min``, ``3 min 05 s``, ``42 s``; empty when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return ""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


class SweepPanel(QWidget):
    """Shows one sweep at a time; :meth:`begin` with the sweep's :class:`CancelToken`, then
    :meth:`update_progress` with every :class:`SweepProgress`, then :meth:`end` or :meth:`fail`."""

    cancel_requested = Signal(int)  # the token's level after the click: 1 stop pending, 2 kill running

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("sweep_panel")
        self.token = None
        self.name = ""
        self.progress = None
        self.running = False
        self.last_message = ""
        self.title = QLabel("No sweep")
        self.title.setObjectName("sweep_title")
        self.executor_label = QLabel()
        self.executor_label.setStyleSheet("color: gray")
        self.count_labels = {}
        counts = QHBoxLayout()
        for key in COUNTS:
            label = QLabel("0")
            label.setObjectName(f"sweep_{key}")
            label.setStyleSheet("font-weight: bold")
            self.count_labels[key] = label
            counts.addWidget(QLabel(key.capitalize()))
            counts.addWidget(label)
            counts.addSpacing(12)
        counts.addStretch(1)
        self.bar = QProgressBar()
        self.bar.setObjectName("sweep_bar")
        self.bar.setFormat("%v / %m trials ended")
        self.bar.setMinimumWidth(160)
        self.eta_label = QLabel()
        self.eta_label.setObjectName("sweep_eta")
        self.last_label = QLabel()
        self.last_label.setObjectName("sweep_last")
        self.last_label.setWordWrap(True)
        self.cancel_button = QPushButton(CANCEL_TEXT)
        self.cancel_button.setObjectName("sweep_cancel")
        self.cancel_button.setToolTip("First click: start no more trials (running ones finish). "
                                      "Second click: kill the running trials.")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.request_cancel)
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.eta_label)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.executor_label)
        layout.addLayout(head)
        layout.addLayout(counts)
        layout.addLayout(row)
        layout.addWidget(self.last_label)
        layout.addStretch(1)

    def begin(self, name: str, total: int, token) -> None:
        self.token = token
        self.name = name
        self.progress = None
        self.running = True
        self.last_message = ""
        self.title.setText(f"Sweep {name!r}: {total} trial(s)")
        self.executor_label.setText("starting the workers...")
        for key, label in self.count_labels.items():
            label.setText(str(total) if key == "remaining" else "0")
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(0)
        self.eta_label.setText("")
        self.last_label.setText("")
        self.cancel_button.setText(CANCEL_TEXT)
        self.cancel_button.setEnabled(True)

    def set_executor(self, description: str) -> None:
        self.executor_label.setText(f"on {description}")

    def update_progress(self, p) -> None:
        """Show a :class:`SweepProgress` (a copy made in the worker)."""
        self.progress = p
        values = {"done": p.done, "running": p.running, "failed": p.failed, "skipped": p.skipped,
                  "cancelled": p.cancelled, "remaining": p.remaining}
        for key, value in values.items():
            self.count_labels[key].setText(str(value))
        self.bar.setRange(0, max(1, p.total))
        self.bar.setValue(p.done + p.failed + p.skipped + p.cancelled)
        eta = format_eta(p.eta_s)
        self.eta_label.setText(f"ETA {eta}" if eta and self.running else "")
        if p.last:
            self.last_message = p.last
            self.last_label.setText(p.last)

    @Slot()
    def request_cancel(self) -> int:
        """First call: stop pending trials; second: kill the running ones. Returns the cancel level."""
        if self.token is None or not self.running:
            return 0
        level = self.token.request()
        if level == 1:
            self.cancel_button.setText(KILL_TEXT)
            self.last_label.setText("Cancelling: no more trials start; running ones finish and are recorded.")
        else:
            self.cancel_button.setText("Killing running trials...")
            self.cancel_button.setEnabled(False)
            self.last_label.setText("Killing the running trials (recorded as cancelled).")
        self.cancel_requested.emit(level)
        return level

    def end(self, p) -> None:
        """The sweep returned (all trials ended, or it was cancelled)."""
        if p is not None:
            self.update_progress(p)
        self.running = False
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText(CANCEL_TEXT)
        self.eta_label.setText("")
        if p is not None:
            self.title.setText(f"Sweep {self.name!r} finished: {p.done} done, {p.failed} failed, "
                               f"{p.skipped} skipped (already in the history), {p.cancelled} cancelled")

    def fail(self, message: str) -> None:
        """The sweep driver itself stopped with an error (e.g. Ray could not start)."""
        self.running = False
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText(CANCEL_TEXT)
        self.eta_label.setText("")
        self.last_label.setText(f"The sweep stopped: {message}")
