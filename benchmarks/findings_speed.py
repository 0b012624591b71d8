"""Speed of the findings engine on the CPU: tuning metrics, the ridge jackknife and dSTRFs.

Cases (targets from issue 16):
* tuning of 100 neurons' maps (34 bands x 15 lags, and 64 x 40 with two prefilter channels): target < 0.5 s;
* closed-form jackknife of a ridge Linear fit of the STRFlab cell (/work/shared/data, every one of its 20
  stimuli left out in turn, T = 15 frames, penalty fixed): target < 2 s;
* dSTRF of one neuron along a 2 s stimulus (400 frames at 5 ms, 34 bands, default window T): target < 1 s,
  for every family with its defaults (Linear, LinearNonlinear, ConvNet2D, NRF, DNet, Transformer with and
  without a context window, StateNet with each recurrence, StateNet GRU after AdapTrans), models of 10 neurons
  (untrained weights: the cost does not depend on them). ``--families`` picks some.

Prints the median wall time and the process CPU time (all threads) over ``--repeats`` calls after one
warm-up call. Not a test: timings depend on the machine and its load.

    python benchmarks/findings_speed.py [--threads 1] [--repeats 5] [--data /work/shared/data/strflab-auditory]
                                        [--families "StateNet (GRU)" ConvNet2D ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch


DSTRF_CASES = {
    "Linear": dict(family="Linear"),
    "LinearNonlinear": dict(family="LinearNonlinear"),
    "ConvNet2D": dict(family="ConvNet2D"),
    "NRF": dict(family="NetworkReceptiveField"),
    "DNet": dict(family="DNet"),
    "Transformer (context 20)": dict(family="Transformer", hyper={"context_window": 20}),
    "Transformer": dict(family="Transformer"),
    "StateNet (GRU)": dict(family="StateNet"),
    "StateNet (LSTM)": dict(family="StateNet", rnn_type="LSTM"),
    "StateNet (RNN)": dict(family="StateNet", rnn_type="RNN"),
    "StateNet (LMU)": dict(family="StateNet", rnn_type="LMU"),
    "StateNet (Mamba)": dict(family="StateNet", rnn_type="Mamba"),
    "StateNet (S4)": dict(family="StateNet", rnn_type="S4"),
    "StateNet (GRU) + AdapTrans": dict(family="StateNet", prefilter="AdapTrans"),
}


def timed(fn, repeats: int):
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def report(name: str, target: float, result) -> None:
    wall, cpu = result
    verdict = "meets" if wall < target else "MISSES"
    print(f"| {name} | {wall:.3f} s | {cpu:.3f} s | < {target:g} s ({verdict}) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", default=os.environ.get("STRFVIEWER_SHARED_DATA",
                                                         "/work/shared/data") + "/strflab-auditory")
    parser.add_argument("--families", nargs="*", default=None,
                        help=f"dSTRF cases to time (default all): {', '.join(DSTRF_CASES)}")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from strfviewer.analysis.dstrf import dstrf
    from strfviewer.analysis.significance import ridge_jackknife
    from strfviewer.analysis.tuning import tuning_batch
    from strfviewer.models.factory import ModelSpec, build_model

    print(f"torch threads {args.threads}, median of {args.repeats} calls")
    print("| case | wall | CPU | target |\n|---|---|---|---|")
    rng = np.random.default_rng(0)
    freqs = 500.0 * 2.0 ** (np.linspace(0, 5, 34) ** 1.1)
    maps = rng.normal(size=(100, 1, 34, 15))
    report("tuning, 100 neurons, 34 x 15", 0.5, timed(lambda: tuning_batch(maps, freqs, 5.0), args.repeats))
    wide = rng.normal(size=(100, 2, 64, 40))
    freqs64 = 500.0 * 2.0 ** np.linspace(0, 5, 64)
    report("tuning, 100 neurons x 2 channels, 64 x 40", 0.5,
           timed(lambda: tuning_batch(wide, freqs64, 5.0), args.repeats))

    if os.path.isdir(args.data):
        from strfviewer.data import load

        cell = load(args.data)
        report(f"ridge jackknife, STRFlab cell, {len(cell.stimuli)} folds, T=15", 2.0,
               timed(lambda: ridge_jackknife(cell, 15, alpha=100.0, stimuli="all"), args.repeats))
    else:
        print(f"| ridge jackknife | skipped: {args.data} not found | | |")

    spec = rng.normal(size=(34, 400)).astype(np.float32)
    for name, spec_kw in DSTRF_CASES.items():
        if args.families and name not in args.families:
            continue
        torch.manual_seed(0)
        model = build_model(ModelSpec(**spec_kw), 34, 10).eval()
        report(f"dSTRF, {name}, 1 neuron, 2 s", 1.0,
               timed(lambda: dstrf(model, spec, 0, dt_ms=5.0), args.repeats))


if __name__ == "__main__":
    main()
