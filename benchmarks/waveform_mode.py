"""Models on raw audio: waveform gradmap speed, and a fit on audio against the spectrogram fit.

1. ``gradmap``: the waveform gradmap of one neuron around a 2 s stimulus (white-noise-like synthetic song at
   16 kHz; the map at the neuron's peak predicted response, ``reduce='last'``, as ``strfviewer gradmap
   --waveform`` computes it, without the spectrogram of the map) for (a) Linear + a fixed mel-like front-end
   (``CausalMel`` when registered, else ``GaborFilterbank(learnable=False, scale='mel')``) and (b) StateNet
   GRU + a learnable front-end (``LEAF`` when registered, else ``GaborFilterbank``). 12 neurons, F = 34.
   Median wall and CPU ms over ``--repeats`` calls after two warm-up calls, read out at the neuron's peak (the
   default) and at the last frame (the worst case: every frame reaches the read-out), and, for comparison, the
   one-pass ``waveform_gradmap`` at the last frame (the whole model differentiated over the whole stimulus).
   Goal: < 100 ms on the CPU.
2. ``fit``: 20 epochs (no early stopping, no warm start) of Linear T=15 on the STRFlab cell
   (``../shared/data/strflab-auditory``, 32 kHz audio), once on the spectrogram (the default front-end, 34 mel
   bands) and on the audio through the same fixed mel-like front-end (34 bands, 500 Hz - 16 kHz at 32 kHz), with
   its per-band z-scoring (``normalize=True``, the fit's default, as the spectrogram is z-scored) and without.
   Each fit runs in its own process, so the peak resident memory (``ru_maxrss``) is its own; the time is
   ``run_fit``'s (loading excluded; the audio fit's includes resampling and the one pass of the front-end
   over every stimulus). Goal: the audio fit within 2x the spectrogram fit's time.

    python benchmarks/waveform_mode.py [gradmap|fit|all] [--repeats 20] [--threads 1]

Not a test: timings depend on the machine and its load (note it when recording figures).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "strflab-auditory"


def _frontends():
    from strfviewer.models import registry

    names = registry.names("frontend")
    fixed = ("CausalMel", {}) if "CausalMel" in names else ("GaborFilterbank", {"learnable": False, "scale": "mel"})
    learnable = ("LEAF", {}) if "LEAF" in names else ("GaborFilterbank", {"learnable": True})
    return fixed, learnable


def _model(family: str, frontend, rate: int, **hyper):
    from strfviewer.models.factory import ModelSpec, build_model
    from strfviewer.models.frontend_args import frontend_kwargs

    name, given = frontend
    kwargs = frontend_kwargs(name, given, rate, 5.0)
    spec = ModelSpec(family, T=15, frontend=name, frontend_kwargs=kwargs, hyper=hyper)
    return build_model(spec, None, 12).eval()


def bench_gradmap(repeats: int) -> None:
    import numpy as np
    import torch

    from strfviewer.analysis.gradmaps import waveform_gradmap
    from strfviewer.analysis.waveform_rf import stimulus_waveform_gradmaps
    from strfviewer.data.demo import synth_song

    rng = np.random.default_rng(0)
    song = np.concatenate([synth_song(rng)[0] for _ in range(3)])[:32000]       # 2 s at 16 kHz
    fixed, learnable = _frontends()
    cases = [(f"Linear + {fixed[0]} (fixed)", _seeded(lambda: _model("Linear", fixed, 16000))),
             (f"StateNet GRU + {learnable[0]} (learnable)", _seeded(lambda: _model("StateNet", learnable, 16000)))]
    print(f"waveform gradmap, 1 neuron of 12, 2 s at 16 kHz ({song.size} samples), torch threads "
          f"{torch.get_num_threads()}, median of {repeats}")
    last_ms = 1000.0 * song.size / 16000 - 5.0
    for label, model in cases:
        torch.manual_seed(0)
        runs = [("at its peak", lambda: stimulus_waveform_gradmaps(model, song, [3], spectrograms=False)),
                ("at the last frame", lambda: stimulus_waveform_gradmaps(model, song, [3], at_ms=last_ms,
                                                                          spectrograms=False)),
                ("one pass, last frame", lambda: waveform_gradmap(model, torch.as_tensor(song), neuron=3)),
                ("all 12 at their peaks", lambda: stimulus_waveform_gradmaps(model, song, spectrograms=False))]
        for what, call in runs:
            wall, cpu = _timed(call, repeats)
            result = call()
            maps = result.maps if hasattr(result, "maps") else result.numpy()
            assert np.any(maps) and np.all(np.isfinite(maps))
            at = f"(at {result.at_ms[0]:g} ms)" if hasattr(result, "at_ms") else ""
            print(f"  {label:<38} {what:<21} wall {1000 * wall:7.1f} ms   CPU {1000 * cpu:7.1f} ms   {at}")


def _seeded(build):
    """``build()`` with torch's generator seeded: the same untrained weights (and peak times) every run."""
    import torch

    torch.manual_seed(0)
    return build()


def _timed(call, repeats: int):
    """Median wall and CPU seconds of ``call()`` over ``repeats`` calls after two warm-up calls."""
    import numpy as np

    for _ in range(2):
        call()
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall)), float(np.median(cpu))


def fit_one(mode: str, data: str, threads: int) -> dict:
    from strfviewer.data import load
    from strfviewer.fit.run import FitRequest, run_fit
    from strfviewer.models.factory import ModelSpec

    dataset = load(data)
    split = {s.name: ("train" if i < 14 else "val" if i < 17 else "test") for i, s in enumerate(dataset.stimuli)}
    spec = ModelSpec("Linear", T=15)
    if mode.startswith("audio"):
        name, given = _frontends()[0]
        given = {**given, "normalize": mode == "audio"}
        # the STRFlab songs are quiet: below GaborFilterbank's default floor (1e-4 energy) log1p is linear;
        # 1e-10 (-100 dB, as the spectrogram front-end's log offset) keeps the log compression
        extra = {} if name != "GaborFilterbank" else {"f_max_hz": 16000.0, "n_bands": 34, "floor": 1e-10}
        spec = ModelSpec("Linear", T=15, frontend=name, frontend_kwargs={**given, **extra})
    request = FitRequest(spec=spec, epochs=20, patience=None, warm_start=False, num_threads=threads, split=split,
                         device="cpu")
    t0, c0 = time.perf_counter(), time.process_time()
    outcome = run_fit(dataset, request)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"mode": mode, "seconds": seconds, "cpu_seconds": cpu, "epochs": outcome.history.n_epochs,
            "test_cc_norm": outcome.metrics["test"].mean_cc_norm,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "frontend": spec.frontend}


def bench_fit(data: str, threads: int) -> None:
    if not (Path(data) / "stim1.wav").is_file():
        print(f"fit: the STRFlab cell is not at {data}: skipped")
        return
    rows = []
    for mode in ("spectrogram", "audio", "audio-raw"):
        out = subprocess.run([sys.executable, __file__, "fit-one", "--mode", mode, "--data", data,
                              "--threads", str(threads)], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"20-epoch Linear T=15 fit on the STRFlab cell ({threads} thread(s)); peak RSS of each fit's process")
    for r in rows:
        print(f"  {r['mode']:<12} {r['frontend'] or 'spectrogram front-end':<24} wall {r['seconds']:6.1f} s   "
              f"CPU {r['cpu_seconds']:6.1f} s   test cc_norm {r['test_cc_norm']:.3f}   peak RSS "
              f"{r['peak_rss_mb']:.0f} MB")
    for r in rows[1:]:
        print(f"  {r['mode']} / spectrogram: wall {r['seconds'] / rows[0]['seconds']:.2f}x, CPU "
              f"{r['cpu_seconds'] / rows[0]['cpu_seconds']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", nargs="?", default="all", choices=("gradmap", "fit", "all", "fit-one"))
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--mode", choices=("spectrogram", "audio", "audio-raw"), default="spectrogram")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.part == "fit-one":
        print(json.dumps(fit_one(args.mode, args.data, args.threads)))
        return
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.part in ("gradmap", "all"):
        bench_gradmap(args.repeats)
    if args.part in ("fit", "all"):
        bench_fit(args.data, args.threads)


if __name__ == "__main__":
    main()
