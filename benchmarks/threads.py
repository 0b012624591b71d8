"""Torch threads vs speed for the compute commands: a dream and an SGD fit timed with 1, 2, ... threads.

Each measurement runs in its own Python process (``torch.set_num_threads`` before any work), on the CPU:

* ``dream``: 300 Adam steps of a dream of all 12 neurons of an untrained ConvNet2D (34 bands, 100 frames);
* ``fit``: 3 SGD epochs of a LinearNonlinear model (T = 15 frames, no warm start) on the demo data.

    python benchmarks/threads.py [--threads 1,2] [--rounds 2]

The fastest of ``--rounds`` rounds is kept per thread count (a busy machine slows some rounds). Not a test:
the figures depend on the machine and on what else runs on it; docs/benchmarks.md says which machine and how
busy it was. strfviewer's default thread count (``fit.fitter.default_num_threads``) is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CHILD = r"""
import json, sys, time, torch
torch.set_num_threads(int(sys.argv[2]))
what = sys.argv[1]
if what == "dream":
    from strfviewer.analysis.dreams import dream
    from strfviewer.models.factory import ModelSpec, build_model
    torch.manual_seed(0)
    model = build_model(ModelSpec("ConvNet2D"), 34, 12).eval()
    t0 = time.perf_counter()
    dream(model, steps=300, T=100)
else:
    from strfviewer.data import load
    from strfviewer.fit.run import FitRequest, run_fit
    from strfviewer.models.factory import ModelSpec
    ds = load("demo")
    request = FitRequest(spec=ModelSpec("LinearNonlinear", T=15), method="sgd", epochs=3, patience=0,
                         warm_start=False, device="cpu", num_threads=int(sys.argv[2]))
    t0 = time.perf_counter()
    run_fit(ds, request)
print(json.dumps(time.perf_counter() - t0))
"""


def measure(what: str, threads: int) -> float:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", CHILD, what, str(threads)], capture_output=True, text=True,
                         env=env, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="thread counts to compare (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds; the fastest is kept (default: %(default)s)")
    args = parser.parse_args()
    counts = [int(t) for t in args.threads.split(",")]
    from strfviewer.fit.fitter import default_num_threads, physical_cores

    print(f"{os.cpu_count()} logical CPU(s), {physical_cores()} physical core(s) available; "
          f"load average {os.getloadavg()[0]:.1f}; strfviewer's default: {default_num_threads()} thread(s)")
    for what in ("dream", "fit"):
        best = {n: min(measure(what, n) for _ in range(args.rounds)) for n in counts}
        base = best[counts[0]]
        print(what + ": " + ", ".join(f"{n} thread(s) {s:.2f} s ({base / s:.2f}x)" for n, s in best.items()))


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"({time.perf_counter() - t0:.0f} s in all)")
