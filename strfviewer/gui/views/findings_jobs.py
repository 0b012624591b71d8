"""Background computations the findings views share (tuning, significance, dSTRFs, comparisons), one per
(run, what) at a time.

A view asks :meth:`FindingsJobs.request` for a job; the first request starts a worker (``fn(progress, cancel)``
returning ``{run.cache key: value}``), later ones while it runs are no-ops, a failed job is not retried (its
message is kept for the views to show) until :meth:`forget`. When the job ends its values go into ``run.cache``
and ``session.notify_results(run)`` makes every view that depends on ``results`` redraw. Progress text is kept
per job (:meth:`progress_text`) and announced with ``progressed(run id, what, text)``. One instance per window
(:func:`findings_jobs`), so the neuron table, the tuning panel and the population view share one tuning job.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple

from PySide6.QtCore import QObject, Signal

Token = Tuple[int, object]


class FindingsJobs(QObject):
    """Deduplicated workers keyed by ``(run id, what)``; see the module notes."""

    progressed = Signal(int, object, str)

    def __init__(self, session, start_worker: Callable, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.session = session
        self._start_worker = start_worker
        self.pending: Dict[Token, object] = {}  # token -> worker
        self.errors: Dict[Token, str] = {}
        self._progress: Dict[Token, str] = {}

    def request(self, run, what, fn: Callable, name: str = "findings") -> Optional[str]:
        """Start ``fn`` for ``(run, what)`` unless it runs already or failed; returns the failure message of a
        failed job (``None`` otherwise)."""
        token = (run.id, what)
        if token in self.errors:
            return self.errors[token]
        if token in self.pending:
            return None

        mine = {}

        def current() -> bool:
            """True (and the job forgotten) when this worker is still the job's (not cancelled, not replaced)."""
            if self.pending.get(token) is not mine.get("worker"):
                return False
            self.pending.pop(token, None)
            self._progress.pop(token, None)
            return True

        def finished(values) -> None:
            if current() and values is not None:  # None: cancelled
                run.cache.update(values)
                self.session.notify_results(run)

        def failed(message: str) -> None:
            if current():
                self.errors[token] = message
                self.session.notify_results(run)

        def progress(event) -> None:
            if self.pending.get(token) is not mine.get("worker"):
                return
            text = _progress_text(event)
            self._progress[token] = text
            self.progressed.emit(run.id, what, text)

        mine["worker"] = self.pending[token] = self._start_worker(fn, on_finished=finished, on_failed=failed,
                                                                  on_progress=progress, name=name)
        return None

    def is_pending(self, run, what) -> bool:
        return run is not None and (run.id, what) in self.pending

    def error(self, run, what) -> Optional[str]:
        return None if run is None else self.errors.get((run.id, what))

    def progress_text(self, run, what) -> str:
        return "" if run is None else self._progress.get((run.id, what), "")

    def cancel(self, run, what) -> bool:
        """Ask the job ``(run, what)`` to stop; True when one was running."""
        worker = None if run is None else self.pending.pop((run.id, what), None)
        self._progress.pop((getattr(run, "id", None), what), None)
        if worker is not None:
            worker.cancel()
        return worker is not None

    def forget(self, run, what) -> None:
        """Forget a failure so that the next request tries again."""
        if run is not None:
            self.errors.pop((run.id, what), None)


def _progress_text(event) -> str:
    """``(done, total, message)`` -> ``'message (done/total)'``; any other event as text."""
    if isinstance(event, tuple) and len(event) == 3:
        done, total, message = event
        return f"{message} ({done}/{total})" if message else f"{done}/{total}"
    return str(event)


def findings_jobs(window) -> FindingsJobs:
    """The window's :class:`FindingsJobs` (created on first use)."""
    jobs = getattr(window, "findings_jobs", None)
    if not isinstance(jobs, FindingsJobs):
        jobs = FindingsJobs(window.session, window.start_worker, window)
        window.findings_jobs = jobs
    return jobs
