"""Gaussian-mixture kernel on the STRFlab cell: test cc_norm of SGD fits started from the ridge STRF (the kernel's
``init_from_strf``: the mixture fitted to it) and from a random initialisation (``--no-warm-start``).

Usage: ``python benchmarks/gaussian_warm_start.py [CELL_FOLDER] [--K 1,3,6,auto] [--seeds 0,1,2]``
(default folder: ``$STRFVIEWER_SHARED_DATA/strflab-auditory`` or ``/work/shared/data/strflab-auditory``).
Prints one line per fit and the mean per setting; the ridge full-kernel fit is the reference.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from strfviewer.data import load
from strfviewer.fit.run import FitRequest, run_fit
from strfviewer.models.factory import ModelSpec


def main() -> None:
    default = Path(os.environ.get("STRFVIEWER_SHARED_DATA", "/work/shared/data")) / "strflab-auditory"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cell", nargs="?", default=str(default))
    ap.add_argument("--K", default="1,3,6,auto", help="numbers of Gaussians ('auto': chosen at the warm start)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    data = load(args.cell)
    t0 = time.perf_counter()
    ridge = run_fit(data, FitRequest(spec=ModelSpec("Linear", T=15), method="ridge", num_threads=args.threads))
    print(f"ridge, full kernel: test cc_norm {ridge.metrics['test'].mean_cc_norm:.3f} "
          f"({time.perf_counter() - t0:.2f} s)")
    for K in (k if k == "auto" else int(k) for k in args.K.split(",")):
        for warm in (True, False):
            scores = []
            for seed in (int(s) for s in args.seeds.split(",")):
                spec = ModelSpec("Linear", kernel="gaussian", kernel_kwargs={"num_gaussians": K}, T=15)
                t0 = time.perf_counter()
                out = run_fit(data, FitRequest(spec=spec, seed=seed, warm_start=warm, device="cpu",
                                               num_threads=args.threads))
                scores.append(out.metrics["test"].mean_cc_norm)
                print(f"K={K} {'warm' if warm else 'cold'} seed {seed}: test cc_norm {scores[-1]:.3f}, "
                      f"{out.history.n_epochs} epochs, {time.perf_counter() - t0:.1f} s; "
                      f"{out.details.get('warm_start', 'random start')}")
            print(f"K={K} {'warm' if warm else 'cold'}: mean test cc_norm {np.mean(scores):.3f} "
                  f"(min {np.min(scores):.3f}, max {np.max(scores):.3f})")


if __name__ == "__main__":
    main()
