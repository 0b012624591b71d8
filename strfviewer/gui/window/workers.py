"""Background work on ``QThread``s: a :class:`Worker` runs ``fn(progress, cancel) -> result``.

``fn`` runs in the worker's own thread. It reports with ``progress(event)`` (any object, e.g. a
``ProgressEvent``), sends partial results with ``progress.partial(obj)`` and checks ``cancel.is_set()``
(a ``threading.Event``) between steps. Its return value arrives through ``finished(object)``, an exception
through ``failed(str)`` as a readable message (``worker.error`` keeps the exception).

Callbacks given to :func:`start_worker` / :meth:`WorkerPool.start` run in the GUI thread: the worker's
signals are connected to ``@Slot`` methods of a relay object that lives there (a lambda connected to a
cross-thread signal would run in the worker thread in PySide6).

On close, :meth:`WorkerPool.shutdown` cancels every worker, asks its thread to quit and waits for it, so no
``QThread`` is destroyed while running.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from typing import Any, Callable, List, Optional

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from strfviewer.gui.window import main_thread_gc

log = logging.getLogger(__name__)

#: threads torch may use in a worker: leave one core for drawing
WORKER_TORCH_THREADS = max(1, (os.cpu_count() or 2) - 1)


def readable_error(exc: BaseException) -> str:
    """A message for a dialog: the text of engine errors (``ValueError`` subclasses name the file and the
    problem), the exception type for anything else."""
    text = str(exc).strip()
    if isinstance(exc, (ValueError, FileNotFoundError, KeyError, NotADirectoryError, PermissionError)) and text:
        return text.strip("'\"") if isinstance(exc, KeyError) else text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Progress:
    """The ``progress`` callable handed to a worker function."""

    def __init__(self, worker: "Worker") -> None:
        self._worker = worker

    def __call__(self, event: Any) -> None:
        self._worker.progress.emit(event)

    def partial(self, obj: Any) -> None:
        self._worker.partial.emit(obj)


class Worker(QObject):
    """Runs ``fn(progress, cancel)`` once in the thread it was moved to (see :meth:`WorkerPool.start`)."""

    progress = Signal(object)
    partial = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    done = Signal()  # after finished or failed, always

    def __init__(self, fn: Callable[[Callable, threading.Event], Any], name: str = "") -> None:
        super().__init__()
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "work")
        self.cancel_event = threading.Event()
        self.error: Optional[BaseException] = None
        self.result: Any = None
        self.thread: Optional[QThread] = None

    def cancel(self) -> None:
        """Ask the function to stop at its next check of ``cancel``."""
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    @Slot()
    def run(self) -> None:
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.set_num_threads(WORKER_TORCH_THREADS)
        try:
            self.result = self.fn(_Progress(self), self.cancel_event)
        except BaseException as exc:  # noqa: BLE001 - reported to the GUI, never lost
            self.error = exc
            log.error("worker %s failed:\n%s", self.name, "".join(traceback.format_exception(exc)))
            self.failed.emit(readable_error(exc))
        else:
            self.finished.emit(self.result)
        finally:
            self.done.emit()


class _Relay(QObject):
    """Lives in the GUI thread and calls the plain-Python callbacks of one worker."""

    def __init__(self, parent: QObject, on_finished=None, on_failed=None, on_progress=None, on_partial=None,
                 on_done=None) -> None:
        super().__init__(parent)
        self._cbs = dict(finished=on_finished, failed=on_failed, progress=on_progress, partial=on_partial,
                         done=on_done)

    def _call(self, key: str, *args) -> None:
        cb = self._cbs.get(key)
        if cb is not None:
            cb(*args)

    @Slot(object)
    def finished(self, result) -> None:
        self._call("finished", result)

    @Slot(str)
    def failed(self, message: str) -> None:
        self._call("failed", message)

    @Slot(object)
    def progress(self, event) -> None:
        self._call("progress", event)

    @Slot(object)
    def partial(self, obj) -> None:
        self._call("partial", obj)

    @Slot()
    def done(self) -> None:
        self._call("done")


class WorkerPool(QObject):
    """Starts workers on their own threads and keeps them alive until their thread ended."""

    countChanged = Signal(int)

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._active: List[tuple] = []  # (worker, thread, relay)
        self.closed = False  # after shutdown(): nothing more is started (its window is closing)
        app = QCoreApplication.instance()
        if app is not None:  # last line of defence: never let Qt destroy a running QThread at exit
            app.aboutToQuit.connect(self._on_quit)

    @Slot()
    def _on_quit(self) -> None:
        if self._active:
            self.shutdown()

    @property
    def workers(self) -> List[Worker]:
        return [w for w, _, _ in self._active]

    def start(self, fn: Callable, on_finished: Optional[Callable] = None, on_failed: Optional[Callable] = None,
              on_progress: Optional[Callable] = None, on_partial: Optional[Callable] = None,
              on_done: Optional[Callable] = None, name: str = "") -> Worker:
        """Run ``fn(progress, cancel)`` on a new thread; callbacks run in the GUI thread. After
        :meth:`shutdown` (the window closed) the worker is returned cancelled and never runs: a thread started
        then would outlive the window and Qt aborts when a running ``QThread`` is destroyed."""
        main_thread_gc.ensure_installed()  # no Qt object may be garbage-collected in the worker thread
        worker = Worker(fn, name=name)
        if self.closed:
            worker.cancel()
            return worker
        thread = QThread()
        thread.setObjectName(f"worker-{worker.name}")
        worker.thread = thread
        worker.moveToThread(thread)
        relay = _Relay(self, on_finished, on_failed, on_progress, on_partial, on_done)
        worker.finished.connect(relay.finished)
        worker.failed.connect(relay.failed)
        worker.progress.connect(relay.progress)
        worker.partial.connect(relay.partial)
        worker.done.connect(relay.done)
        worker.done.connect(thread.quit)
        thread.started.connect(worker.run)
        entry = (worker, thread, relay)
        self._active.append(entry)
        thread.finished.connect(self._reap)
        thread.start()
        self.countChanged.emit(len(self._active))
        return worker

    @Slot()
    def _reap(self) -> None:
        """Forget workers whose thread has ended (called in the GUI thread)."""
        still = []
        for worker, thread, relay in self._active:
            if thread.isFinished():
                relay.deleteLater()
            else:
                still.append((worker, thread, relay))
        self._active = still
        self.countChanged.emit(len(self._active))

    def cancel_all(self) -> None:
        for worker in self.workers:
            worker.cancel()

    def wait_all(self, timeout_ms: int = 30000) -> bool:
        """Wait for every thread to end; True when all did."""
        ok = True
        for _, thread, _ in list(self._active):
            ok = thread.wait(timeout_ms) and ok
        self._reap()
        return ok

    def shutdown(self, timeout_ms: int = 30000) -> None:
        """Cancel, quit and wait for every worker (app close); later :meth:`start` calls run nothing."""
        self.closed = True
        self.cancel_all()
        for _, thread, _ in list(self._active):
            thread.quit()
        if not self.wait_all(timeout_ms):
            for worker, thread, _ in list(self._active):
                log.warning("worker %s did not stop within %d ms; terminating it", worker.name, timeout_ms)
                thread.terminate()
                thread.wait()
            self._reap()


def start_worker(parent: QObject, fn: Callable, **callbacks) -> Worker:
    """Start ``fn`` through the :class:`WorkerPool` attached to ``parent`` (created on first use)."""
    pool = getattr(parent, "worker_pool", None)
    if not isinstance(pool, WorkerPool):
        pool = WorkerPool(parent)
        parent.worker_pool = pool
    return pool.start(fn, **callbacks)
