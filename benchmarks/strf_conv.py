"""The STRF convolution by ``conv2d`` and as one matrix product (``models/strf_product.py``), forward + backward.

For each batch B, output length T (frames), output channels H and gradient mode (``w``: the weights' gradient
only, as when fitting on spectrograms; ``x``: the input's only, as a gradmap by replicated stimuli; ``xw``: both,
as with a trainable prefilter or waveform front-end), the median time of ``--repeats`` forward + backward passes
of each way (34 bands x 15 frames, one input channel, float32, CPU), their ratio, and which way
``strf_product.use_product`` picks.

    python benchmarks/strf_conv.py [--threads 1] [--repeats 30]

Not a test: timings depend on the machine and its load (note it when recording figures).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    import torch
    import torch.nn.functional as F

    from strfviewer.models.strf_product import strf_product, use_product

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), load average {os.getloadavg()[0]:.2f}; "
          f"34 bands x 15 frames; median of {args.repeats}")
    print(f"{'B':>3} {'T':>5} {'H':>4} {'grad':>4} {'conv2d ms':>10} {'product ms':>11} {'ratio':>6}  picked")
    for B, T, H, mode in itertools.product((1, 4, 16), (50, 150, 190, 400, 1600), (1, 20, 119), ("w", "x", "xw")):
        x = torch.randn(B, 1, 34, T + 14, requires_grad="x" in mode)
        w = torch.randn(H, 1, 34, 15, requires_grad="w" in mode)
        b = torch.randn(H)
        g = torch.randn(B, H, 1, T)
        times = []
        for way in (F.conv2d, strf_product):
            for _ in range(2):
                way(x, w, b).backward(g)
            samples = []
            for _ in range(max(3, min(args.repeats, int(4000 / (B * T)) + 3))):
                t0 = time.perf_counter()
                way(x, w, b).backward(g)
                samples.append(time.perf_counter() - t0)
            times.append(statistics.median(samples) * 1e3)
        picked = "product" if use_product(x, w) else "conv2d"
        print(f"{B:>3} {T:>5} {H:>4} {mode:>4} {times[0]:>10.3f} {times[1]:>11.3f} {times[1] / times[0]:>6.2f}  {picked}")


if __name__ == "__main__":
    main()
