"""Sweep throughput: the same small sweep with 1 and 2 local worker processes, and on a local Ray instance.

The sweep: ``--trials`` (default 8) Linear models (T = 10 frames, full kernel) fitted by SGD for ``--epochs``
(default 3) epochs on the demo data, one trial per seed (a multi-seed fit), on the CPU. Each executor gets a fresh
run history (a temporary folder), so no trial is skipped. Reported per executor:

* ``start s``: creating the executor (``ray.init``; a local process pool starts its processes lazily, so their
  start-up falls into the sweep time);
* ``sweep s``: ``run_sweep`` from the first submission to the last result recorded (includes each worker
  process's first import of torch and the demo generation, which every fresh worker pays once);
* ``trials/min``: trials divided by the sweep time, and ``incl. start`` with the executor's start counted;
* ``mean trial s``: the mean duration the trials themselves report.

    python benchmarks/sweep_scaling.py [--workers 1,2] [--trials 8] [--epochs 3] [--rounds 1] [--no-ray]

With ``--rounds R`` the executors are measured in turn R times and each one's fastest round is kept (a busy
machine slows some rounds down; the best one is the closest to what the executor can do).

Ray is skipped with the reason when it is not installed or cannot start. Not a test: figures depend on the
machine and its load (say which machine and how busy it was when recording them in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

from strfviewer.runs.history import RunHistory
from strfviewer.runs.sweep_spec import SweepSpec
from strfviewer.runs.sweeper import run_sweep


def make_sweep(n_trials: int, epochs: int) -> SweepSpec:
    return SweepSpec.from_dict({
        "name": "scaling", "data": ["demo"], "seeds": list(range(n_trials)),
        "model": [{"family": "Linear", "T": 10, "kernel": "full"}],
        "fit": {"method": "sgd", "epochs": epochs, "patience": epochs, "device": "cpu"},
    })


def measure(label: str, make_executor, spec: SweepSpec) -> Dict[str, object]:
    """Run ``spec`` on a fresh history with the executor ``make_executor()`` builds; returns the figures."""
    t0 = time.perf_counter()
    executor = make_executor()
    started = time.perf_counter() - t0
    described = executor.describe()
    try:
        with tempfile.TemporaryDirectory(prefix="strfviewer-sweep-bench-") as tmp:
            with RunHistory(Path(tmp) / "runs.sqlite") as history:
                t1 = time.perf_counter()
                report = run_sweep(spec, history, executor)
                swept = time.perf_counter() - t1
                runs = history.runs()
    finally:
        executor.shutdown()
    p = report.progress
    seconds = [r.seconds for r in runs if r.status == "done" and r.seconds is not None]
    n = p.done
    return {"label": label, "describe": described,
            "start_s": started, "sweep_s": swept, "done": n, "failed": p.failed,
            "per_min": 60.0 * n / swept if swept > 0 else float("nan"),
            "per_min_with_start": 60.0 * n / (swept + started) if swept + started > 0 else float("nan"),
            "mean_trial_s": sum(seconds) / len(seconds) if seconds else float("nan"),
            "errors": dict(report.errors)}


def local(workers: int):
    from strfviewer.runs.executors import LocalExecutor

    return lambda: LocalExecutor(workers)


def ray_local(num_cpus: int):
    from strfviewer.runs.executors import RayExecutor

    return lambda: RayExecutor("local", num_cpus=num_cpus)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", default="1,2", help="comma-separated local worker counts (default: %(default)s)")
    ap.add_argument("--trials", type=int, default=8, help="trials (seeds) in the sweep (default: %(default)s)")
    ap.add_argument("--epochs", type=int, default=3, help="SGD epochs per trial (default: %(default)s)")
    ap.add_argument("--ray-cpus", type=int, default=2, help="CPUs of the local Ray instance (default: %(default)s)")
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray measurement")
    ap.add_argument("--rounds", type=int, default=1, help="measure every executor this many times, keep the "
                                                          "fastest (default: %(default)s)")
    args = ap.parse_args(argv)

    spec = make_sweep(args.trials, args.epochs)
    load = f"; load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU(s), Python {platform.python_version()}{load}")
    print(f"sweep: {len(spec.trials())} Linear SGD trials x {args.epochs} epoch(s) on the demo data")
    executors = [(f"local, {w} worker(s)", local(w)) for w in [int(x) for x in args.workers.split(",") if x.strip()]]
    if args.no_ray:
        print("ray: skipped (--no-ray)")
    else:
        try:
            import ray  # noqa: F401
        except ImportError as exc:
            print(f"ray: skipped: Ray is not installed ({exc}); pip install 'strfviewer[cluster]'")
        else:
            executors.append((f"ray local, {args.ray_cpus} CPU(s)", ray_local(args.ray_cpus)))
    best: Dict[str, Dict[str, object]] = {}
    for _ in range(max(1, args.rounds)):
        for label, make in executors:
            try:
                result = measure(label, make, spec)
            except Exception as exc:  # noqa: BLE001 - e.g. Ray cannot start here: say why, measure the others
                print(f"{label}: skipped: could not start ({type(exc).__name__}: {exc})")
                continue
            print(_line(result), flush=True)
            if label not in best or result["sweep_s"] < best[label]["sweep_s"]:
                best[label] = result
    results = [best[label] for label, _ in executors if label in best]
    load = f" (load average now {os.getloadavg()[0]:.1f})" if hasattr(os, "getloadavg") else ""
    print(f"\nfastest of {max(1, args.rounds)} round(s){load}:")
    print(f"{'executor':28s} {'start s':>8s} {'sweep s':>8s} {'trials/min':>11s} {'incl. start':>12s} "
          f"{'mean trial s':>13s} {'done':>5s} {'failed':>7s}")
    for r in results:
        print(f"{r['label']:28s} {r['start_s']:8.1f} {r['sweep_s']:8.1f} {r['per_min']:11.1f} "
              f"{r['per_min_with_start']:12.1f} {r['mean_trial_s']:13.2f} {r['done']:5d} {r['failed']:7d}")
    return 0 if all(r["failed"] == 0 for r in results) else 1


def _line(r: Dict[str, object]) -> str:
    errors = "; ".join(f"{k}: {v}" for k, v in list(r["errors"].items())[:2])
    return (f"{r['label']}: {r['done']} done, {r['failed']} failed in {r['sweep_s']:.1f} s (+{r['start_s']:.1f} s "
            f"start) -> {r['per_min']:.1f} trials/min ({r['describe']})" + (f" errors: {errors}" if errors else ""))


if __name__ == "__main__":
    sys.exit(main())
