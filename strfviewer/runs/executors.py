"""Where sweep trials run: worker processes on this machine, or a Ray cluster.

Both executors share one small interface used by :mod:`strfviewer.runs.sweeper`:
``submit(trial_dict) -> handle``, ``wait(handles, timeout_s) -> (finished [(handle, result, error)], pending)``,
``cancel(handles, force)`` and ``shutdown()``. Scheduling, queues and transport are the standard library's
``concurrent.futures`` or Ray's own; nothing home-made.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

from strfviewer.runs.trial import execute_trial

Finished = List[Tuple[Any, Optional[Dict[str, Any]], Optional[BaseException]]]


def threads_per_worker(workers: int, cores: Optional[int] = None) -> int:
    """torch threads for each of ``workers`` processes so that together they do not oversubscribe."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, workers))


def _init_worker(threads: int) -> None:  # runs in each worker process
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


def _run_in_worker(trial: Dict[str, Any], threads: int) -> Dict[str, Any]:
    return execute_trial(trial, torch_threads=threads)


class LocalExecutor:
    """Trials in ``workers`` spawned processes (default: one per core), torch threads split between them."""

    name = "local"

    def __init__(self, workers: Optional[int] = None, threads: Optional[int] = None) -> None:
        self.workers = max(1, int(workers or os.cpu_count() or 1))
        self.threads = int(threads) if threads else threads_per_worker(self.workers)
        self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_init_worker, initargs=(self.threads,))

    def describe(self) -> str:
        return f"{self.workers} local worker process(es), {self.threads} torch thread(s) each"

    def submit(self, trial: Dict[str, Any]) -> cf.Future:
        return self._pool.submit(_run_in_worker, trial, self.threads)

    def wait(self, handles: Sequence[cf.Future], timeout_s: float) -> Tuple[Finished, List[cf.Future]]:
        done, pending = cf.wait(list(handles), timeout=timeout_s, return_when=cf.FIRST_COMPLETED)
        finished: Finished = []
        for f in done:
            if f.cancelled():
                finished.append((f, None, cf.CancelledError("cancelled before it started")))
                continue
            exc = f.exception()
            finished.append((f, None if exc else f.result(), exc))
        return finished, list(pending)

    def cancel(self, handles: Sequence[cf.Future], force: bool = False) -> None:
        """Cancel trials not yet started; with ``force`` also kill the running worker processes."""
        for f in handles:
            f.cancel()
        if force:
            terminate = getattr(self._pool, "terminate_workers", None)  # Python >= 3.14
            if terminate is not None:
                terminate()
            else:
                for proc in list(getattr(self._pool, "_processes", {}).values()):
                    proc.terminate()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    """Trials as Ray tasks: ``address`` is ``"auto"``, ``"ray://host:10001"`` or ``"local"`` (start one here).

    Each task asks Ray for one CPU, or one GPU when the trial's device is CUDA; Ray schedules them.
    """

    name = "ray"

    def __init__(self, address: str = "auto", num_cpus: Optional[int] = None, threads: Optional[int] = None,
                 **init_kwargs: Any) -> None:
        try:
            import ray
        except ImportError as exc:
            raise RuntimeError("Ray is not installed: pip install 'strfviewer[cluster]' (or pip install ray)") from exc
        self._ray = ray
        if not ray.is_initialized():
            if address == "local":
                ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, **init_kwargs)
            else:
                ray.init(address=address, log_to_driver=False, **init_kwargs)
        self._cpu_task = ray.remote(num_cpus=1)(_run_in_worker)
        self._gpu_task = ray.remote(num_cpus=1, num_gpus=1)(_run_in_worker)
        self._owns_cluster = address == "local"
        self.threads = int(threads) if threads else 1  # torch threads per task (each task holds one CPU)

    def describe(self) -> str:
        res = self._ray.cluster_resources()
        return f"Ray cluster with {res.get('CPU', 0):g} CPU(s), {res.get('GPU', 0):g} GPU(s)"

    def submit(self, trial: Dict[str, Any]):
        wants_gpu = str(trial.get("request", {}).get("device", "")).startswith("cuda")
        task = self._gpu_task if wants_gpu else self._cpu_task
        return task.remote(trial, self.threads)

    def wait(self, handles: Sequence[Any], timeout_s: float) -> Tuple[Finished, List[Any]]:
        if not handles:
            return [], []
        ready, pending = self._ray.wait(list(handles), num_returns=1, timeout=timeout_s)
        finished: Finished = []
        for ref in ready:
            try:
                finished.append((ref, self._ray.get(ref), None))
            except Exception as exc:  # RayTaskError wraps the trial's exception; TaskCancelledError
                cause = getattr(exc, "cause", None)
                finished.append((ref, None, cause if isinstance(cause, BaseException) else exc))
        return finished, list(pending)

    def cancel(self, handles: Sequence[Any], force: bool = False) -> None:
        for ref in handles:
            try:
                self._ray.cancel(ref, force=force)
            except Exception:  # already finished
                pass

    def shutdown(self) -> None:
        if self._owns_cluster and self._ray.is_initialized():
            self._ray.shutdown()


def make_executor(address: Optional[str] = None, workers: Optional[int] = None, threads: Optional[int] = None):
    """``address`` None -> :class:`LocalExecutor`; otherwise a :class:`RayExecutor` on that address.
    ``threads``: torch threads per trial (default: the cores split between the local workers; 1 on Ray)."""
    if address is None:
        return LocalExecutor(workers, threads)
    return RayExecutor(address, num_cpus=workers if address == "local" else None, threads=threads)
