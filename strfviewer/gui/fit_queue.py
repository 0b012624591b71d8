"""A queue of fits run one after the other in a worker thread, each becoming a run of the session.

:meth:`FitQueue.enqueue` takes a ``FitRequest``; when the previous fit has ended, the next one starts: a
:class:`strfviewer.session.Run` with status ``running`` is added to the session, ``run_fit`` runs in a
:class:`strfviewer.gui.workers.Worker` and reports ``ProgressEvent``s; at the end the run gets its model and
outcome and the status ``done`` or ``cancelled`` (best weights kept), or ``failed`` with a readable message
(NaN loss, CUDA out of memory, ...). The app keeps running in every case.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

from PySide6.QtCore import QObject, Signal, Slot

from strfviewer.session import Run, Session

log = logging.getLogger(__name__)


@dataclass
class PendingFit:
    """A fit waiting in the queue: its request, the dataset to fit on and the run name to use."""

    key: int
    request: Any
    dataset: Any
    name: str
    compare_with: Optional[int] = None  # run id to compare the new run with once done (kernel swaps)


class FitFailure(RuntimeError):
    """A fit ended with an error; the message says what happened and what to try."""


def describe_fit_error(exc: BaseException, request=None) -> str:
    """A readable explanation of why a fit failed, with a suggestion where one helps."""
    text = str(exc).strip()
    low = text.lower()
    batch = getattr(request, "batch_size", None)
    lr = getattr(request, "lr", None)
    if "out of memory" in low or type(exc).__name__ == "OutOfMemoryError":
        return ("The GPU ran out of memory. Choose CPU as the device, or a smaller batch size"
                + (f" (now {batch})" if batch else "") + ".")
    if "nan" in low.split() or "non-finite" in low or "not finite" in low or isinstance(exc, FloatingPointError):
        return ("The loss became NaN or infinite: the fit diverged. Try a lower learning rate"
                + (f" (now {lr:g})" if isinstance(lr, (int, float)) else "") + " or another seed."
                + (f" ({text})" if text else ""))
    if isinstance(exc, (ValueError, KeyError)) and text:
        return text.strip("'\"")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_label(request) -> str:
    """Short name for a fit: ``LinearNonlinear / separable / AdapTrans``."""
    spec = request.spec
    parts = [spec.family]
    if getattr(spec, "rnn_type", None) and spec.family == "StateNet":
        parts[0] = f"{spec.family}({spec.rnn_type})"
    if spec.kernel:
        k = spec.kernel
        if spec.kernel_kwargs:
            k += "(" + ",".join(f"{v}" for v in spec.kernel_kwargs.values()) + ")"
        parts.append(k)
    if spec.prefilter:
        parts.append(spec.prefilter)
    if getattr(request, "method", "sgd") == "ridge":
        parts.append("ridge")
    return " / ".join(parts)


def outcome_summary(outcome) -> str:
    """One line: how the fit ended (the engine's message: epochs, best epoch, test cc_norm), time and device."""
    text = (getattr(outcome, "message", "") or "").strip()
    seconds = getattr(outcome, "seconds", None)
    if isinstance(seconds, (int, float)) and math.isfinite(seconds):
        device = getattr(outcome, "device", None)
        text += f" ({seconds:.1f} s on {getattr(device, 'type', device) or '?'})"
    if getattr(outcome, "cancelled", False):
        text = "Cancelled: kept the best weights so far. " + text
    return text.strip()


def diverged(outcome) -> bool:
    """True when the fit stopped because the loss became NaN or infinite."""
    return getattr(getattr(outcome, "history", None), "stopped", "") == "non_finite_loss"


def _fit_function(dataset, request) -> Callable:
    """The worker body: ``run_fit`` with its failures turned into readable :class:`FitFailure`s."""

    def fit(progress, cancel):
        from strfviewer.fit.run import run_fit

        try:
            return run_fit(dataset, request, progress=progress, cancel=cancel)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message; the app keeps running
            raise FitFailure(describe_fit_error(exc, request)) from exc

    return fit


class FitQueue(QObject):
    """Runs queued fits one at a time; every fit becomes a run of ``session``.

    ``start_worker(fn, **callbacks)`` starts a worker (the main window's ``start_worker``). Signals (GUI thread):
    ``fit_started(run)``, ``fit_progress(event)``, ``fit_ended(run)``, ``queue_changed(n_waiting)``.
    """

    fit_started = Signal(object)
    fit_progress = Signal(object)
    fit_ended = Signal(object)
    queue_changed = Signal(int)

    def __init__(self, session: Session, start_worker: Callable, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.session = session
        self._start_worker = start_worker
        self.pending: List[PendingFit] = []
        self.current: Optional[PendingFit] = None
        self.current_run: Optional[Run] = None
        self.worker = None
        self._keys = itertools.count(1)
        self._unsubscribe = session.subscribe(self._on_session_event)
        self.destroyed.connect(lambda *_, u=self._unsubscribe: u())

    def _on_session_event(self, event: str, payload) -> None:
        if event == "dataset":  # fits of the previous data are of no use on the new one
            self.cancel_all()

    # -- queueing ------------------------------------------------------------------------------------------------
    def enqueue(self, request, dataset=None, name: Optional[str] = None, compare_with: Optional[Run] = None) \
            -> PendingFit:
        """Queue a fit of ``request`` on ``dataset`` (default: the session's dataset at this moment)."""
        dataset = dataset if dataset is not None else self.session.dataset
        if dataset is None:
            raise ValueError("open a dataset before fitting a model")
        item = PendingFit(next(self._keys), request, dataset, name or run_label(request),
                          compare_with.id if compare_with is not None else None)
        self.pending.append(item)
        self.queue_changed.emit(len(self.pending))
        self._start_next()
        return item

    def remove_pending(self, key: int) -> bool:
        """Drop a queued (not yet started) fit; True when it was there."""
        before = len(self.pending)
        self.pending = [p for p in self.pending if p.key != key]
        if len(self.pending) != before:
            self.queue_changed.emit(len(self.pending))
            return True
        return False

    @property
    def busy(self) -> bool:
        return self.current is not None

    def cancel_current(self) -> None:
        """Ask the running fit to stop after its current step (its best weights are kept)."""
        if self.worker is not None:
            self.worker.cancel()

    def cancel_all(self) -> None:
        """Empty the queue and cancel the running fit."""
        self.pending.clear()
        self.queue_changed.emit(0)
        self.cancel_current()

    # -- running -------------------------------------------------------------------------------------------------
    def _start_next(self) -> None:
        if self.current is not None or not self.pending:
            return
        item = self.pending.pop(0)
        self.queue_changed.emit(len(self.pending))
        self.current = item
        run = Run(name=item.name, spec=item.request.spec, request=item.request, status="running",
                  message="fitting...")
        self.current_run = self.session.add_run(run, make_current=False)
        self.worker = self._start_worker(_fit_function(item.dataset, item.request),
                                         on_finished=self._on_finished, on_failed=self._on_failed,
                                         on_progress=self._on_progress, name=f"fit-{run.id}")
        self.fit_started.emit(run)

    def _on_progress(self, event) -> None:
        self.fit_progress.emit(event)

    def _on_finished(self, outcome) -> None:
        run, item = self.current_run, self.current
        if run not in self.session.runs:  # another dataset was opened meanwhile: drop the result
            run.status, run.message = "cancelled", "Dropped: another dataset was opened during the fit."
            self._end()
            return
        if diverged(outcome):
            # the loss became NaN/inf: the fit ended early; the weights kept are not a trained model
            lr = getattr(item.request, "lr", None)
            message = (f"Fit diverged: {getattr(outcome.history, 'message', '') or 'the loss became NaN'}. "
                       + (f"Try a learning rate below {lr:g}." if isinstance(lr, (int, float)) else ""))
            self.session.update_run(run, model=outcome.model, outcome=outcome, status="failed", message=message)
            self._end()
            return
        status = "cancelled" if getattr(outcome, "cancelled", False) else "done"
        self.session.update_run(run, model=outcome.model, outcome=outcome, status=status,
                                message=outcome_summary(outcome))
        if outcome.model is not None:
            self.session.set_current_run(run)
            if item.compare_with is not None:
                try:
                    self.session.set_compare_run(item.compare_with)
                except KeyError:
                    pass  # the run it was swapped from was deleted meanwhile
        self._end()

    def _on_failed(self, message: str) -> None:
        error = getattr(self.worker, "error", None)
        if isinstance(error, FitFailure):
            message = str(error)
        elif error is not None:
            message = describe_fit_error(error, self.current.request)
        if self.current_run in self.session.runs:
            self.session.update_run(self.current_run, status="failed", message=message)
        else:
            self.current_run.status, self.current_run.message = "failed", message
        self._end()

    def _end(self) -> None:
        run = self.current_run
        self.current, self.current_run, self.worker = None, None, None
        self.fit_ended.emit(run)
        self._start_next()
