"""The sweep driver: skips trials already in the history, feeds an executor, records every result.

The driver is the only writer of the run history during a sweep. It keeps at most ``capacity`` trials in
flight (the executor's worker count, or the Ray cluster's CPUs), so that a first cancel request simply stops
submitting (running trials finish and are recorded) and a second one kills the running trials.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from strfviewer.io.atomic import atomic_dir
from strfviewer.runs.history import RunHistory
from strfviewer.data.identity import dataset_hash
from strfviewer.runs.sweep_spec import SweepSpec
from strfviewer.runs.trial import describe_exception


@dataclass
class SweepProgress:
    """Counts reported after every change; ``eta_s`` from the mean duration of finished trials."""

    total: int
    done: int = 0
    failed: int = 0
    skipped: int = 0
    cancelled: int = 0
    running: int = 0
    eta_s: Optional[float] = None
    last: str = ""  # what just happened, one line

    @property
    def remaining(self) -> int:
        return self.total - self.done - self.failed - self.skipped - self.cancelled - self.running


@dataclass
class SweepReport:
    progress: SweepProgress
    run_ids: List[int] = field(default_factory=list)
    errors: Dict[str, str] = field(default_factory=dict)  # trial label -> error
    #: trials skipped because the history holds them done: (trial label, run id, that run's source)
    matched: List[Tuple[str, int, str]] = field(default_factory=list)

    def describe_matched(self, limit: int = 5) -> str:
        """One line naming the earlier runs the skipped trials matched (``""`` when none was skipped), e.g.
        ``runs 3, 4 (sweep:kernels)``."""
        if not self.matched:
            return ""
        by_source: Dict[str, List[int]] = {}
        for _label, run_id, source in self.matched:
            by_source.setdefault(source or "?", []).append(run_id)
        parts = []
        for source, ids in by_source.items():
            shown = ", ".join(map(str, ids[:limit])) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
            parts.append(f"run{'s' if len(ids) > 1 else ''} {shown} ({source})")
        return "; ".join(parts)


class CancelToken:
    """Two-level cancel: first :meth:`request` stops new trials, a second one kills running trials."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def request(self) -> int:
        with self._lock:
            self._count += 1
            return self._count

    @property
    def level(self) -> int:
        return self._count


def run_sweep(spec: SweepSpec, history: RunHistory, executor, *, checkpoints_dir: Optional[Path] = None,
              capacity: Optional[int] = None, progress: Optional[Callable[[SweepProgress], None]] = None,
              cancel: Optional[CancelToken] = None, poll_s: float = 0.2, force: bool = False) -> SweepReport:
    """Run every trial of ``spec`` not already done; returns the counts and the history ids of new runs.

    A trial is "already done" when the history holds a finished run with the same configuration, seed and
    dataset content hash (whatever sweep, or sweep name, ran it: ``report.matched`` names those runs);
    ``force`` runs every trial again. Checkpoints go to ``checkpoints_dir/<run id>/`` (default: ``runs/``
    beside the history file).
    """
    cancel = cancel or CancelToken()
    checkpoints_dir = Path(checkpoints_dir or history.path.parent / "runs")
    trials = spec.trials()
    prog = SweepProgress(total=len(trials))
    report = SweepReport(progress=prog)
    emit = (lambda: progress(prog)) if progress else (lambda: None)
    hashes: Dict[str, str] = {}
    queue: deque = deque()
    for t in trials:
        if t.data not in hashes:
            try:
                hashes[t.data] = dataset_hash(t.data)
            except FileNotFoundError as exc:
                hashes[t.data] = ""
                report.errors[t.label()] = str(exc)
        key = t.key(hashes[t.data])
        earlier = history.find_done(key) if hashes[t.data] and not force else None
        if earlier is not None:
            prog.skipped += 1
            report.matched.append((t.label(), earlier.id, earlier.source or ""))
            continue
        queue.append((t, key))
    emit()
    capacity = max(1, int(capacity or getattr(executor, "workers", 0) or _ray_cpus(executor) or 1))
    in_flight: Dict[object, tuple] = {}
    durations: List[float] = []
    killed = False
    try:
        while queue or in_flight:
            if cancel.level >= 1 and queue:
                prog.cancelled += len(queue)
                prog.last = f"cancelled {len(queue)} pending trial(s)"
                queue.clear()
                emit()
            if cancel.level >= 2 and in_flight and not killed:
                executor.cancel(list(in_flight), force=True)
                killed = True
            while queue and len(in_flight) < capacity and cancel.level == 0:
                t, key = queue.popleft()
                run_id = history.start_run({"spec": t.spec, "request": t.request}, dataset_path=t.data,
                                           dataset_hash=hashes[t.data], trial_key=key,
                                           source=f"sweep:{spec.name}")
                report.run_ids.append(run_id)
                if not hashes[t.data]:
                    history.fail_run(run_id, report.errors.get(t.label(), "dataset not found"))
                    prog.failed += 1
                    continue
                in_flight[executor.submit({**t.to_dict(), "data_hash": hashes[t.data]})] = (t, run_id, time.monotonic())
                prog.running = len(in_flight)
                emit()
            if not in_flight:
                continue
            finished, _ = executor.wait(list(in_flight), timeout_s=poll_s)
            for handle, result, error in finished:
                t, run_id, started = in_flight.pop(handle)
                elapsed = time.monotonic() - started
                if error is not None:
                    msg = "killed by a second cancel request" if killed else describe_exception(error)
                    history.fail_run(run_id, msg, seconds=elapsed)
                    if killed:
                        prog.cancelled += 1
                    else:
                        prog.failed += 1
                        report.errors[t.label()] = msg
                    prog.last = f"failed: {t.label()}: {msg}"
                else:
                    folder = _write_checkpoint(checkpoints_dir / str(run_id), result.pop("checkpoint_files", {}))
                    history.finish_run(run_id, metrics=result["metrics"], neuron_names=result["neuron_names"],
                                       n_params=result["n_params"], epochs=result["epochs"],
                                       seconds=result["seconds"], device=result["device"], checkpoint=str(folder),
                                       status="cancelled" if result.get("cancelled") else "done")
                    prog.done += 1
                    durations.append(elapsed)
                    mean = (result["metrics"].get("test") or {}).get("mean_cc_norm")
                    prog.last = f"done: {t.label()} test cc_norm {mean if mean is None else round(mean, 3)}"
                prog.running = len(in_flight)
                if durations:
                    per = sum(durations) / len(durations)
                    prog.eta_s = per * (len(queue) + len(in_flight)) / capacity
                emit()
    finally:
        for handle, (t, run_id, _) in in_flight.items():  # only on an exception in the driver itself
            history.fail_run(run_id, "the sweep driver stopped before this trial finished")
    return report


def _write_checkpoint(folder: Path, files: Dict[str, bytes]) -> Path:
    with atomic_dir(folder) as tmp:
        for name, data in files.items():
            (tmp / Path(name).name).write_bytes(data)
    return folder


def _ray_cpus(executor) -> int:
    ray = getattr(executor, "_ray", None)
    if ray is None:
        return 0
    try:
        return int(ray.cluster_resources().get("CPU", 1))
    except Exception:
        return 1
