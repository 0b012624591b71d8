"""Qt adapter of the Qt-free :class:`strfviewer.session.Session`: one signal per session event."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from strfviewer.session import Session


class QtSession(QObject):
    """Re-emits every :class:`Session` event as a Qt signal.

    Session methods are called from the GUI thread, so the signals are emitted there too; views connect
    to them directly. ``changed(event, payload)`` carries every event for generic listeners.
    """

    datasetChanged = Signal(object)
    runsChanged = Signal(object)
    currentRunChanged = Signal(object)
    compareRunChanged = Signal(object)
    neuronChanged = Signal(int)
    stimulusChanged = Signal(str)
    resultsChanged = Signal(object)
    changed = Signal(str, object)

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._signals = {
            "dataset": self.datasetChanged,
            "runs": self.runsChanged,
            "current_run": self.currentRunChanged,
            "compare_run": self.compareRunChanged,
            "neuron": self.neuronChanged,
            "stimulus": self.stimulusChanged,
            "results": self.resultsChanged,
        }
        self._unsubscribe = unsubscribe = session.subscribe(self._relay)
        self.destroyed.connect(lambda *_: unsubscribe())  # no reference to self: it is being destroyed

    def _relay(self, event: str, payload) -> None:
        signal = self._signals.get(event)
        if signal is not None:
            signal.emit(payload)
        self.changed.emit(event, payload)

    def detach(self) -> None:
        """Stop listening to the session."""
        self._unsubscribe()
