"""Gradmap speed: strfviewer's ``strf_gradmap`` vs deepSTRF 0.1.0's ``STRF_gradmap``, N = 119 neurons, CPU.

Cases: Linear T=15, ConvNet2D (kernel (3, 9), T=24, deepSTRF's default window), StateNet GRU at T=15 and
T=100 frames, F = 34 bands. Equivalent models in both libraries: deepSTRF builds each one (fixed seed,
eval mode), saves it with its ``save_pretrained`` and times its ``STRF_gradmap``; strfviewer loads that
very checkpoint (``load_checkpoint`` reads deepSTRF checkpoints) so both differentiate the same weights,
and the table reports the largest difference between the two gradmaps besides the timings. deepSTRF runs
in-process when importable, otherwise under ``--deepstrf-python`` (default ``/work/deepstrf-venv/bin/python``)
in a subprocess; without either the deepSTRF column is skipped with the reason and strfviewer builds the
same architectures itself.

Timings are medians over ``--repeats`` calls after warm-up calls, same thread count on both sides: wall
clock, and in brackets the CPU time of the process (all threads; the steadier figure on a busy machine). The
strfviewer side also times its three computation schemes (``method=``: 'factored', the default;
'batched', one forward and N batched backward products; 'replicate', deepSTRF's N copies of the null
stimulus) to show where the speed comes from.

    python benchmarks/gradmap_speed.py [--threads 1] [--repeats 15] [--rounds 2] [--skip-deepstrf] [--markdown]

Not a test: timings depend on the machine and its load (note it when recording figures).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_DEEPSTRF_PYTHON = "/work/deepstrf-venv/bin/python"
N_NEURONS, N_FREQS, SEED = 119, 34, 0
#: (label, family, constructor kwargs shared by both libraries, gradmap T)
CASES = [
    ("Linear T=15", "Linear", dict(temporal_window_size=15), 15),
    ("ConvNet2D", "ConvNet2D", dict(kernel_size=(3, 9)), 24),
    ("StateNet GRU T=15", "StateNet", dict(rnn_type="GRU"), 15),
    ("StateNet GRU T=100", "StateNet", dict(rnn_type="GRU"), 100),
]
METHODS = ("factored", "batched", "replicate")


def median_ms(fn, repeats: int, warmup: int = 3) -> dict:
    """Median wall-clock and CPU (this process, all threads) milliseconds per call."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return {"wall": 1e3 * statistics.median(wall), "cpu": 1e3 * statistics.median(cpu)}


# ------------------------------------------------------------------------------------------------------
# deepSTRF side (imports nothing from strfviewer; may run under deepSTRF's own interpreter)
# ------------------------------------------------------------------------------------------------------


def deepstrf_worker(folder: str, threads: int, repeats: int) -> dict:
    import torch
    from deepSTRF.models.audio import audio_zoo

    torch.set_num_threads(threads)
    results = {}
    for i, (label, family, kwargs, T) in enumerate(CASES):
        torch.manual_seed(SEED + i)
        model = getattr(audio_zoo, family)(n_frequency_bands=N_FREQS, out_neurons=N_NEURONS, **kwargs).eval()
        ckpt = Path(folder) / f"case{i}"
        model.save_pretrained(ckpt)

        def once():
            maps = model.STRF_gradmap(T=T)
            model.zero_grad(set_to_none=True)
            return maps

        maps = once()
        np.save(Path(folder) / f"case{i}_gradmap.npy", maps.detach().numpy())
        results[label] = {**median_ms(once, repeats), "checkpoint": str(ckpt)}
    return {"results": results, "torch": torch.__version__}


def run_deepstrf(folder: Path, threads: int, repeats: int, python: str):
    """deepSTRF timings (dict) or the reason they are missing (str)."""
    try:
        import deepSTRF  # noqa: F401
        return deepstrf_worker(str(folder), threads, repeats)
    except ImportError:
        pass
    if not Path(python).is_file():
        return f"deepSTRF is not importable here and {python} does not exist"
    cmd = [python, str(Path(__file__).resolve()), "--worker", str(folder), "--threads", str(threads),
           "--repeats", str(repeats)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"the deepSTRF worker failed ({python}): {tail}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------------
# strfviewer side
# ------------------------------------------------------------------------------------------------------


def strfviewer_model(index: int, family: str, kwargs: dict, checkpoint):
    import torch

    from strfviewer import models
    from strfviewer.io.checkpoints import load_checkpoint

    if checkpoint is not None:
        model, _ = load_checkpoint(checkpoint)
        return model.eval()
    torch.manual_seed(SEED + index)
    return getattr(models, family)(n_frequency_bands=N_FREQS, out_neurons=N_NEURONS, **kwargs).eval()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads on both sides (default: 1; several threads on a busy machine "
                             "measure the other processes more than the code)")
    parser.add_argument("--repeats", type=int, default=15, help="timed calls per case (default: 15)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternate deepSTRF and strfviewer this many times, keep each side's best "
                             "(a busy machine slows rounds unevenly) (default: 2)")
    parser.add_argument("--skip-deepstrf", action="store_true", help="time strfviewer only")
    parser.add_argument("--deepstrf-python", default=DEFAULT_DEEPSTRF_PYTHON,
                        help="interpreter with deepSTRF installed (default: %(default)s)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(deepstrf_worker(args.worker, args.threads, args.repeats)))
        return 0

    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="gradmap_speed_") as folder:
        rows, reference = [], None
        for _ in range(max(1, args.rounds)):      # alternate the two sides; keep each one's best round
            ours, reference = one_round(Path(folder), args, reference)
            rows = ours if not rows else [_best(a, b) for a, b in zip(rows, ours)]
        have_ref = isinstance(reference, dict)
        for i, row in enumerate(rows):
            if have_ref:
                ref = reference["results"][row["case"]]
                theirs = np.load(Path(folder) / f"case{i}_gradmap.npy")
                row["deepstrf"] = {"wall": ref["wall"], "cpu": ref["cpu"]}
                row["speedup"] = ref["wall"] / row["factored"]["wall"]
                row["speedup_cpu"] = ref["cpu"] / row["factored"]["cpu"]
                row["max_rel_diff"] = float(np.abs(row.pop("maps") - theirs).max() / max(np.abs(theirs).max(), 1e-30))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} CPU(s), load average "
          f"{load:.2f}; N = {N_NEURONS} neurons, F = {N_FREQS}; median of {args.repeats} calls, best of "
          f"{max(1, args.rounds)} round(s)")
    if not have_ref:
        print(f"deepSTRF: {reference}")
    print_table(rows, have_ref, args.markdown)
    return 0


def one_round(folder: Path, args, previous):
    """One timing round of deepSTRF (unless skipped or unavailable) then strfviewer on the same weights."""
    from strfviewer.analysis.gradmaps import strf_gradmap

    if args.skip_deepstrf:
        reference = "skipped (--skip-deepstrf)"
    elif isinstance(previous, str):
        reference = previous                      # unavailable: do not try again
    else:
        reference = run_deepstrf(folder, args.threads, args.repeats, args.deepstrf_python)
        if isinstance(previous, dict) and isinstance(reference, dict):
            for label, ref in reference["results"].items():
                old = previous["results"][label]
                if old["wall"] < ref["wall"]:
                    ref["wall"] = old["wall"]
                if old["cpu"] < ref["cpu"]:
                    ref["cpu"] = old["cpu"]
    have_ref = isinstance(reference, dict)
    rows = []
    for i, (label, family, kwargs, T) in enumerate(CASES):
        ref = reference["results"][label] if have_ref else None
        model = strfviewer_model(i, family, kwargs, ref["checkpoint"] if ref else None)
        timings = {m: median_ms(lambda m=m: strf_gradmap(model, T=T, method=m), args.repeats) for m in METHODS}
        rows.append(dict(case=label, T=T, maps=strf_gradmap(model, T=T).numpy(), **timings))
    return rows, reference


def _best(a: dict, b: dict) -> dict:
    out = dict(a)
    for m in METHODS:
        out[m] = {k: min(a[m][k], b[m][k]) for k in ("wall", "cpu")}
    return out


def print_table(rows, have_ref: bool, markdown: bool) -> None:
    """Wall-clock ms per call, CPU ms in brackets (less sensitive to other processes on a busy machine)."""
    head = ["case", "T", "strfviewer ms", "batched ms", "replicate ms"]
    if have_ref:
        head += ["deepSTRF ms", "speed-up (wall / CPU)", "max rel. diff"]
    lines = []
    for r in rows:
        cells = [r["case"], str(r["T"])] + [_ms(r[m]) for m in METHODS]
        if have_ref:
            cells += [_ms(r["deepstrf"]), f"{r['speedup']:.1f}x / {r['speedup_cpu']:.1f}x", f"{r['max_rel_diff']:.1e}"]
        lines.append(cells)
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join("---" for _ in head) + "|")
        for cells in lines:
            print("| " + " | ".join(cells) + " |")
        return
    widths = [max(len(h), *(len(c[k]) for c in lines)) for k, h in enumerate(head)]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    for cells in lines:
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths)))


def _ms(t: dict) -> str:
    return f"{t['wall']:.1f} ({t['cpu']:.1f})"


if __name__ == "__main__":
    sys.exit(main())
