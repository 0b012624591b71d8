"""Qt adapter of the Qt-free :class:`strfviewer.session.Session`: one signal per session event, and
:meth:`QtSession.follow`, the one way views and panels subscribe to what they depend on."""

from __future__ import annotations

from typing import Callable, Dict, Iterable, Tuple

from PySide6.QtCore import QObject, Signal

from strfviewer.session import Session

#: what a view may depend on -> the session events (and so the signals) that change it
DEPENDENCIES: Dict[str, Tuple[str, ...]] = {
    "dataset": ("dataset",),  # another dataset was opened
    "neuron": ("neuron",),  # the selected neuron (index)
    "stimulus": ("stimulus",),  # the selected stimulus (name)
    "run": ("current_run", "compare_run"),  # which model / run is shown (current, compare)
    "results": ("results",),  # a run's model, predictions or metrics arrived
    "runs": ("runs",),  # runs were added, removed or renamed
}


class _Follower(QObject):
    """Calls ``callback(dependency, payload)`` for the signals connected to it, until its parent (the view) is
    destroyed: a bound method of a QObject is disconnected by Qt when that object goes, a lambda is not."""

    def __init__(self, parent: QObject, dependency: str, callback: Callable) -> None:
        super().__init__(parent)
        self._dependency = dependency
        self._callback = callback

    def fire(self, payload=None) -> None:
        self._callback(self._dependency, payload)


class QtSession(QObject):
    """Re-emits every :class:`Session` event as a Qt signal.

    Session methods are called from the GUI thread, so the signals are emitted there too. Views and panels
    subscribe with :meth:`follow` (by dependency name, see :data:`DEPENDENCIES`); ``changed(event, payload)``
    carries every event for generic listeners.
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

    def signal(self, event: str):
        """The signal of session event ``event`` ('dataset', 'current_run', ...)."""
        return self._signals[event]

    def follow(self, owner: QObject, depends: Iterable[str], callback: Callable[[str, object], None]) -> None:
        """Call ``callback(dependency, payload)`` whenever one of ``depends`` (keys of :data:`DEPENDENCIES`)
        changes, for as long as ``owner`` lives. Connections are made in the order given; the signals of one
        dependency are connected in :data:`DEPENDENCIES` order."""
        for dependency in depends:
            events = DEPENDENCIES.get(dependency)
            if events is None:
                raise ValueError(f"unknown dependency {dependency!r}: expected one of {sorted(DEPENDENCIES)}")
            follower = _Follower(owner, dependency, callback)
            for event in events:
                self._signals[event].connect(follower.fire)

    def detach(self) -> None:
        """Stop listening to the session."""
        self._unsubscribe()


def qt_session_of(session, owner: QObject) -> QtSession:
    """``session`` when it is a :class:`QtSession` already, else a new one over the plain :class:`Session`
    (a child of ``owner``): widgets that run on their own (tests, other windows) take either."""
    if isinstance(session, QtSession):
        return session
    return QtSession(session, owner)
