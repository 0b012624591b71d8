"""A queue of fits run one after the other, each becoming a run of the session.

:meth:`FitQueue.enqueue` takes a ``FitRequest``; when the previous fit has ended, the next one starts: a
:class:`strfviewer.session.Run` with status ``running`` is added to the session, a
:class:`strfviewer.gui.window.workers.Worker` thread drives the fit and relays its ``ProgressEvent``s; at the end the run
gets its model and outcome and the status ``done`` or ``cancelled`` (best weights kept), or ``failed`` with a
readable message (NaN loss, CUDA out of memory, ...). The app keeps running in every case.

Where ``run_fit`` itself runs (``FitQueue.isolation``):

* ``"process"`` (the app's default): in a child process started with ``spawn``, so the training loop never
  competes with the GUI thread for Python's GIL (in one process, the first calls of a model's kernels and the
  Python parts of each step held the GUI thread up to hundreds of ms). The worker thread passes the progress
  events on, forwards Cancel through a ``multiprocessing.Event`` (checked by the fitter every step), and rebuilds
  the fitted model in the app from its spec and weights (no pickled modules). Costs the child's start-up
  (importing torch, about a second or two).
* ``"thread"``: ``run_fit`` in the worker thread itself (no start-up cost; tests use it where they replace
  ``run_fit``).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import queue
import threading
import traceback
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

from PySide6.QtCore import QObject, Signal

from strfviewer.gui.window.qt_session import qt_session_of
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
    return describe_failure(type(exc).__name__, str(exc), isinstance(exc, (ValueError, KeyError)), request)


def describe_failure(type_name: str, text: str, input_error: bool, request=None) -> str:
    """:func:`describe_fit_error` from the parts of an exception (``input_error``: a ``ValueError`` or
    ``KeyError``, whose message already says what is wrong); also used for errors raised in the fit process."""
    text = text.strip()
    low = text.lower()
    batch = getattr(request, "batch_size", None)
    lr = getattr(request, "lr", None)
    if "out of memory" in low or type_name == "OutOfMemoryError":
        return ("The GPU ran out of memory. Choose CPU as the device, or a smaller batch size"
                + (f" (now {batch})" if batch else "") + ".")
    if "nan" in low.split() or "non-finite" in low or "not finite" in low or type_name == "FloatingPointError":
        return ("The loss became NaN or infinite: the fit diverged. Try a lower learning rate"
                + (f" (now {lr:g})" if isinstance(lr, (int, float)) else "") + " or another seed."
                + (f" ({text})" if text else ""))
    if input_error and text:
        return text.strip("'\"")
    return f"{type_name}: {text}" if text else type_name


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


def _fit_function(dataset, request, isolation: str = "process") -> Callable:
    """The worker body: the fit (in a child process or in this thread) with its failures turned into readable
    :class:`FitFailure`s."""

    def fit(progress, cancel):
        if isolation == "process":
            return fit_in_process(dataset, request, progress, cancel)
        from strfviewer.fit.run import run_fit

        try:
            return run_fit(dataset, request, progress=progress, cancel=cancel)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message; the app keeps running
            raise FitFailure(describe_fit_error(exc, request)) from exc

    return fit


# ---- fits in a child process ---------------------------------------------------------------------------------------
#: seconds the fit process gets to end a cancelled fit and answer before it is terminated
CHILD_EXIT_GRACE_S = 15.0


def _without_audio(dataset):
    """The dataset minus the waveforms (a spectrogram fit only reads spectrograms and responses): less to send."""
    stimuli = [dataclasses.replace(s, waveform=None) for s in dataset.stimuli]
    return dataclasses.replace(dataset, stimuli=stimuli)


def _needs_audio(request) -> bool:
    """A fit on raw audio (the spec names a waveform front-end) reads the stimuli's waveforms."""
    from strfviewer.gui.fitting.frontend_slot import has_frontend

    return has_frontend(request.spec)


def _portable_outcome(outcome) -> dict:
    """A ``FitOutcome`` as plain picklable data: the model becomes its weights (NumPy arrays) and the spec it was
    built from (a waveform front-end's arguments completed from the data: sample rate, frame step)."""
    from strfviewer.models.factory import spec_of

    state = {k: v.detach().cpu().numpy() for k, v in outcome.model.state_dict().items()}
    fields = {f.name: getattr(outcome, f.name) for f in dataclasses.fields(outcome) if f.name != "model"}
    fields["device"] = str(outcome.device)
    spec = spec_of(outcome.model)
    return {"state_dict": state, "fields": fields, "spec": spec.to_dict() if spec is not None else None}


def _serve_fits(requests, events, stop) -> None:  # the fit process's main loop
    """Take ``("fit", dataset or None, request)`` messages (``None`` dataset = the previous one) until ``None``;
    report each fit through ``events``: ``("progress", ProgressEvent)`` ..., then ``("done", portable
    outcome)`` or ``("error", type name, message, input error?, traceback)``."""
    from strfviewer.fit.run import run_fit

    events.put(("ready",))
    dataset = None
    while True:
        message = requests.get()
        if message is None:
            return
        _, new_dataset, request = message
        dataset = new_dataset if new_dataset is not None else dataset
        try:
            outcome = run_fit(dataset, request, progress=lambda event: events.put(("progress", event)),
                              cancel=stop)
            events.put(("done", _portable_outcome(outcome)))
        except BaseException as exc:  # noqa: BLE001 - reported to the app, which stays up
            events.put(("error", type(exc).__name__, str(exc), isinstance(exc, (ValueError, KeyError)),
                        traceback.format_exc()))


def _rebuild_outcome(payload: dict, request, dataset):
    """The ``FitOutcome`` in this process: the model rebuilt from the spec the child built it from (the
    request's, a waveform front-end's arguments completed) and loaded with the fitted weights (on the CPU;
    ``outcome.device`` still says where it was fitted). A waveform model takes its bands from its front-end."""
    import torch

    from strfviewer.fit.run import FitOutcome
    from strfviewer.gui.fitting.frontend_slot import has_frontend
    from strfviewer.models.factory import ModelSpec, build_model

    spec = ModelSpec.from_dict(payload["spec"]) if payload.get("spec") else request.spec
    model = build_model(spec, None if has_frontend(spec) else dataset.n_freqs, dataset.n_neurons)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in payload["state_dict"].items()})
    model.eval()
    fields = dict(payload["fields"])
    fields["device"] = torch.device(fields["device"])
    return FitOutcome(model=model, **fields)


class FitServer:
    """One long-lived child process (``spawn``) that runs fits one at a time for this app.

    Started on first use (or by :func:`warm_up_fit_server` while the user fills the fit dialog) and kept, so only
    the first fit pays for the child's start-up (importing torch). The dataset is sent again only when it changes.
    A dead child (killed, out of memory) is replaced on the next fit.
    """

    def __init__(self) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._requests = ctx.Queue()
        self._events = ctx.Queue()
        self._stop = ctx.Event()
        self._lock = threading.Lock()
        self._dataset_ref = None
        self._sent_audio = False  # whether the dataset in the child has its waveforms (fits on raw audio)
        self.process = ctx.Process(target=_serve_fits, args=(self._requests, self._events, self._stop),
                                   name="strfviewer-fits", daemon=True)
        self.process.start()

    def alive(self) -> bool:
        return self.process.is_alive()

    def fit(self, dataset, request, progress, cancel):
        """Run ``run_fit(dataset, request)`` in the child; called in a worker thread.

        ``progress(event)`` receives the child's events; setting ``cancel`` (a ``threading.Event``) asks the child
        to stop after its current step (it then returns the best weights, as an in-process fit does). Raises
        :class:`FitFailure` with a readable message when the fit fails or the child dies.
        """
        import weakref

        with self._lock:
            self._stop.clear()
            audio = _needs_audio(request)
            same = (self._dataset_ref is not None and self._dataset_ref() is dataset
                    and (self._sent_audio or not audio))
            self._requests.put(("fit", None if same else (dataset if audio else _without_audio(dataset)), request))
            if not same:
                self._sent_audio = audio
            self._dataset_ref = weakref.ref(dataset)
            ended = False
            try:
                while True:
                    if cancel.is_set():
                        self._stop.set()
                    message = self._next_event()
                    if message is None or message[0] == "ready":
                        continue
                    if message[0] == "progress":
                        progress(message[1])
                        continue
                    ended = True
                    if message[0] == "done":
                        return _rebuild_outcome(message[1], request, dataset)
                    _, type_name, text, input_error, trace = message
                    log.error("fit process failed:\n%s", trace)
                    raise FitFailure(describe_failure(type_name, text, input_error, request))
            finally:
                if not ended:  # left early (e.g. an error here): stop the child's fit and drop its events
                    self._discard_rest()

    def wait_ready(self, timeout_s: float = 120.0) -> bool:
        """Block until the child has imported the engine (call before its first fit); True when it has."""
        import time

        deadline = time.monotonic() + timeout_s
        with self._lock:
            while time.monotonic() < deadline:
                message = self._next_event()
                if message is not None and message[0] == "ready":
                    return True
        return False

    def _next_event(self):
        """The child's next message, ``None`` after 0.1 s without one; :class:`FitFailure` if the child died."""
        try:
            return self._events.get(timeout=0.1)
        except queue.Empty:
            if not self.process.is_alive():
                code = self.process.exitcode
                hint = " (killed: the machine may have run out of memory)" if code is not None and code < 0 else ""
                raise FitFailure(f"The fit process ended unexpectedly with exit code {code}{hint}; the app started "
                                 "a new one for the next fit.") from None
            return None

    def _discard_rest(self) -> None:
        """Cancel the child's current fit and read its messages up to the end of that fit, so the next fit does
        not receive them; a child that does not answer in time is terminated (and replaced on the next fit)."""
        import time

        self._stop.set()
        deadline = time.monotonic() + CHILD_EXIT_GRACE_S
        while self.process.is_alive() and time.monotonic() < deadline:
            try:
                if self._events.get(timeout=0.1)[0] in ("done", "error"):
                    return
            except queue.Empty:
                continue
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()

    def close(self) -> None:
        """Stop the child: asked to leave, then terminated if it is still tearing down after a moment (it holds
        nothing worth waiting for; a running fit was cancelled by the app's close before)."""
        self._stop.set()
        if self.process.is_alive():
            self._requests.put(None)
            self.process.join(1.0)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
        self._requests.cancel_join_thread()


_server: Optional[FitServer] = None
_server_lock = threading.Lock()


def fit_server() -> FitServer:
    """The app's fit process, started (again) when needed (from any thread)."""
    global _server
    with _server_lock:
        if _server is None or not _server.alive():
            if _server is None:
                import atexit

                atexit.register(close_fit_server)
            _server = FitServer()
        return _server


def warm_up_fit_server() -> None:
    """Start the fit process now (it imports torch meanwhile), so the next fit starts at once."""
    fit_server()


def close_fit_server() -> None:
    global _server
    if _server is not None:
        _server.close()
        _server = None


def fit_in_process(dataset, request, progress, cancel):
    """``run_fit`` in the app's fit process (see :class:`FitServer`)."""
    return fit_server().fit(dataset, request, progress, cancel)


class FitQueue(QObject):
    """Runs queued fits one at a time; every fit becomes a run of ``session``.

    ``start_worker(fn, **callbacks)`` starts a worker (the main window's ``start_worker``). Signals (GUI thread):
    ``fit_started(run)``, ``fit_progress(event)``, ``fit_ended(run)``, ``queue_changed(n_waiting)``.
    """

    fit_started = Signal(object)
    fit_progress = Signal(object)
    fit_ended = Signal(object)
    queue_changed = Signal(int)

    def __init__(self, session: Session, start_worker: Callable, parent: Optional[QObject] = None,
                 isolation: str = "process") -> None:
        super().__init__(parent)
        if isolation not in ("process", "thread"):
            raise ValueError(f"isolation must be 'process' or 'thread', not {isolation!r}")
        self.isolation = isolation
        qt_session = qt_session_of(session, self)  # a Session or the window's QtSession
        self.session = qt_session.session
        self._start_worker = start_worker
        self.pending: List[PendingFit] = []
        self.current: Optional[PendingFit] = None
        self.current_run: Optional[Run] = None
        self.worker = None
        self.closed = False
        self._keys = itertools.count(1)
        qt_session.follow(self, ("dataset",), self._on_dataset)

    def _on_dataset(self, _dependency: str, _dataset) -> None:
        """Fits of the previous data are of no use on the new one."""
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

    def close(self) -> None:
        """The app is closing: cancel everything; a fit ending now is recorded but not shown (showing a run
        starts the views' own work, which would outlive the window)."""
        self.closed = True
        self.cancel_all()

    # -- running -------------------------------------------------------------------------------------------------
    def _start_next(self) -> None:
        if self.current is not None or not self.pending or self.closed:
            return
        item = self.pending.pop(0)
        self.queue_changed.emit(len(self.pending))
        self.current = item
        run = Run(name=item.name, spec=item.request.spec, request=item.request, status="running",
                  message="fitting...")
        self.current_run = self.session.add_run(run, make_current=False)
        self.worker = self._start_worker(_fit_function(item.dataset, item.request, self.isolation),
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
            lr = (getattr(outcome, "details", None) or {}).get("lr", getattr(item.request, "lr", None))
            message = (f"Fit diverged: {getattr(outcome.history, 'message', '') or 'the loss became NaN'}. "
                       + (f"Try a learning rate below {lr:g}." if isinstance(lr, (int, float)) else ""))
            self.session.update_run(run, model=outcome.model, outcome=outcome, status="failed", message=message)
            self._end()
            return
        status = "cancelled" if getattr(outcome, "cancelled", False) else (
            "warning" if getattr(outcome, "warnings", None) else "done")
        self.session.update_run(run, model=outcome.model, outcome=outcome, status=status,
                                message=outcome_summary(outcome))
        if outcome.model is not None and not self.closed:
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
