"""Fitting speed and quality: strfviewer's fit vs deepSTRF 0.1.0's own training loop, on the same arrays.

Data: the STRFlab cell (``../shared/data/strflab-auditory``; one neuron, 20 songs, 10 trials), loaded by
strfviewer (F = 34 bands, dt = 5 ms, per-band z-scored), split 1-14 / 15-17 / 18-20. Both libraries get
exactly these arrays (deepSTRF through a temporary ``.npz`` read by a worker that runs under deepSTRF's
interpreter, ``/work/deepstrf-venv/bin/python`` by default), the same seed, AdamW lr 1e-3, the same thread
count, and the same models (Linear T=15, LinearNonlinear T=15, StateNet GRU).

After every epoch each run scores the current weights on the test stimuli (Schoppe cc_norm); that scoring
is not counted in the training time, nor is a warm-up epoch each process runs first. Reported: seconds per epoch, the final test cc_norm, the training time
until test cc_norm first reaches a target, and our/deepSTRF ratios. Ridge (closed form) is timed whole.

    python benchmarks/fit_vs_deepstrf.py [--threads 2] [--statenet-epochs 60] [--skip-deepstrf] [--json F]

Not a test: timings depend on the machine and its load (note it when recording figures).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "strflab-auditory"
DEFAULT_DEEPSTRF_PYTHON = "/work/deepstrf-venv/bin/python"
LR = 1e-3
WEIGHT_DECAY = 1e-4  # deepSTRF Fitter's default AdamW weight decay, used by both


# ------------------------------------------------------------------------------------------------------
# Shared: arrays on disk, test scoring
# ------------------------------------------------------------------------------------------------------


def export_arrays(dataset, path: Path) -> None:
    """Spectrograms, responses and split of a strfviewer dataset -> ``.npz`` both sides read."""
    arrays = {}
    for i, s in enumerate(dataset.stimuli):
        arrays[f"spec_{i}"] = s.spec.astype(np.float32)
        arrays[f"resp_{i}"] = s.responses.astype(np.float32)
    arrays["split"] = np.array([dataset.split[s.name] for s in dataset.stimuli])
    np.savez(path, **arrays)


def read_arrays(path: Path):
    d = np.load(path)
    split = [str(x) for x in d["split"]]
    items = [(d[f"spec_{i}"], d[f"resp_{i}"], split[i]) for i in range(len(split))]
    return items


def first_reach(curve, target):
    """Training seconds at the first epoch whose test cc_norm >= target (None if never)."""
    for row in curve:
        if row["test_cc_norm"] is not None and row["test_cc_norm"] >= target:
            return row["train_s"]
    return None


# ------------------------------------------------------------------------------------------------------
# deepSTRF side (runs under deepSTRF's interpreter; imports nothing from strfviewer)
# ------------------------------------------------------------------------------------------------------


def deepstrf_worker(npz: str, family: str, epochs: int, batch_size: int, seed: int, threads: int) -> dict:
    import torch
    from deepSTRF.models.audio.audio_zoo import Linear, LinearNonlinear, StateNet
    from deepSTRF.training import Fitter, set_random_seed
    from deepSTRF.utils.data import neural_collate

    torch.set_num_threads(threads)
    items = read_arrays(Path(npz))
    F = items[0][0].shape[1]
    N = items[0][1].shape[0]

    class Items(torch.utils.data.Dataset):
        def __init__(self, part):
            self.rows = [(torch.from_numpy(s), [torch.from_numpy(r[n]) for n in range(N)])
                         for s, r, p in items if p == part]

        def __len__(self):
            return len(self.rows)

        def __getitem__(self, i):
            spec, resp = self.rows[i]
            return {"stims": spec, "responses": resp, "valid_mask": torch.ones(N, dtype=torch.bool),
                    "stim_meta": {}}

    def build():
        if family == "Linear":
            return Linear(n_frequency_bands=F, temporal_window_size=15, out_neurons=N)
        if family == "LinearNonlinear":
            return LinearNonlinear(n_frequency_bands=F, temporal_window_size=15, out_neurons=N)
        return StateNet(n_frequency_bands=F, out_neurons=N, rnn_type="GRU")

    val = torch.utils.data.DataLoader(Items("val"), batch_size=1, collate_fn=neural_collate)
    test = torch.utils.data.DataLoader(Items("test"), batch_size=1, collate_fn=neural_collate)
    # warm-up (first-call costs of the process), not timed: one epoch of a throwaway model
    warm = build()
    Fitter(warm, torch.utils.data.DataLoader(Items("train"), batch_size=batch_size, collate_fn=neural_collate),
           val, max_epochs=1, log_fn=lambda d: None).fit()
    set_random_seed(seed)
    model = build()
    g = torch.Generator().manual_seed(seed)
    train = torch.utils.data.DataLoader(Items("train"), batch_size=batch_size, shuffle=True,
                                        collate_fn=neural_collate, generator=g)
    curve = []
    clock = {"start": time.perf_counter(), "excluded": 0.0}

    def log_fn(epoch_dict):
        t_in = time.perf_counter()
        ev = fitter.evaluate(test)
        cc = float(torch.nanmean(ev["cc_norm"]))
        model.train()
        curve.append({"epoch": int(epoch_dict["epoch"]) + 1,
                      "train_s": t_in - clock["start"] - clock["excluded"],
                      "val_cc_norm": float(torch.nanmean(epoch_dict["val_cc_norm"])), "test_cc_norm": cc})
        clock["excluded"] += time.perf_counter() - t_in

    fitter = Fitter(model, train, val, optimizer=torch.optim.AdamW(model.parameters(), lr=LR,
                                                                     weight_decay=WEIGHT_DECAY),
                    max_epochs=epochs, patience=epochs + 1, log_fn=log_fn)
    clock["start"] = time.perf_counter()
    fitter.fit()
    total = curve[-1]["train_s"] if curve else float("nan")
    return {"curve": curve, "seconds": total, "epochs": len(curve)}


def run_deepstrf(python: str, npz: Path, family: str, epochs: int, batch_size: int, seed: int, threads: int):
    cmd = [python, str(Path(__file__).resolve()), "--worker", str(npz), family, str(epochs), str(batch_size),
           str(seed), str(threads)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"deepSTRF worker failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def deepstrf_unavailable(python: str):
    """Why deepSTRF cannot run (None when it can)."""
    if not Path(python).exists():
        return f"no deepSTRF interpreter at {python} (pass --deepstrf-python)"
    proc = subprocess.run([python, "-c", "import deepSTRF.training, deepSTRF.models.audio.audio_zoo"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return f"deepSTRF does not import under {python}: {proc.stderr.strip().splitlines()[-1:]}"
    return None


# ------------------------------------------------------------------------------------------------------
# strfviewer side
# ------------------------------------------------------------------------------------------------------


def run_ours(dataset, family: str, epochs: int, batch_size: int, seed: int, threads: int, warm_start: bool,
             chunk_frames=None, chunk_warmup=0, lr=LR, loss="mse", calibrate=False):
    from strfviewer.fit.fitter import Fitter, set_random_seed
    from strfviewer.fit.metrics import cc_norm_from_trials
    from strfviewer.fit.ridge import fit_ridge_details
    from strfviewer.fit.run import predict
    from strfviewer.models.factory import ModelSpec, build_model

    import torch

    torch.set_num_threads(threads)
    set_random_seed(seed)
    spec = ModelSpec(family, T=15, rnn_type="GRU" if family == "StateNet" else None)
    model = build_model(spec, dataset.n_freqs, dataset.n_neurons)
    test = dataset.stimuli_in("test")
    curve = []
    clock = {"excluded": 0.0}

    def test_cc_norm():
        p = predict(model, dataset, stimuli=test)
        return float(cc_norm_from_trials([s.responses for s in test], [p[s.name] for s in test]).mean_cc_norm)

    t0 = time.perf_counter()
    if warm_start:
        fit_ridge_details(dataset, 15, model=model)
        t_in = time.perf_counter()
        curve.append({"epoch": 0, "train_s": t_in - t0, "val_cc_norm": None, "test_cc_norm": test_cc_norm()})
        clock["excluded"] += time.perf_counter() - t_in

    if calibrate:
        from strfviewer.fit.calibrate import calibrate_output

        calibrate_output(model, dataset.stimuli_in("train"))
        t_in = time.perf_counter()
        curve.append({"epoch": 0, "train_s": t_in - t0, "val_cc_norm": None, "test_cc_norm": test_cc_norm()})
        clock["excluded"] += time.perf_counter() - t_in

    def progress(ev):
        if ev.kind != "epoch":
            return
        t_in = time.perf_counter()
        curve.append({"epoch": ev.epoch, "train_s": t_in - t0 - clock["excluded"], "val_cc_norm": ev.val_cc_norm,
                      "test_cc_norm": test_cc_norm()})
        clock["excluded"] += time.perf_counter() - t_in

    fitter = Fitter(model, dataset.stimuli_in("train"), dataset.stimuli_in("val"), max_epochs=epochs,
                    patience=None, lr=lr, weight_decay=WEIGHT_DECAY, batch_size=batch_size, progress=progress,
                    num_threads=threads, seed=seed, chunk_frames=chunk_frames, chunk_warmup=chunk_warmup,
                    evaluate_initial=False, loss=loss)
    fitter.fit()
    return {"curve": curve, "seconds": curve[-1]["train_s"], "epochs": len(curve) - int(warm_start or calibrate)}


def run_ridge(dataset, threads: int, repeats: int = 5):
    from strfviewer.fit.metrics import cc_norm_from_trials
    from strfviewer.fit.ridge import fit_ridge_details
    from strfviewer.fit.run import predict

    import torch

    torch.set_num_threads(threads)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = fit_ridge_details(dataset, 15)
        times.append(time.perf_counter() - t0)
    test = dataset.stimuli_in("test")
    p = predict(res.model, dataset, stimuli=test)
    cc = cc_norm_from_trials([s.responses for s in test], [p[s.name] for s in test]).mean_cc_norm
    return {"seconds": float(np.median(times)), "test_cc_norm": float(cc)}


# ------------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------------


def fmt(x, spec=".3f"):
    return "n/a" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)


def summarize(name, run, target):
    per_epoch = run["seconds"] / max(run["epochs"], 1)
    final = run["curve"][-1]["test_cc_norm"] if run["curve"] else None
    best = max((r["test_cc_norm"] for r in run["curve"] if r["test_cc_norm"] is not None), default=None)
    reach = first_reach(run["curve"], target)
    print(f"  {name:<44} {run['epochs']:>4} ep  {per_epoch:7.3f} s/ep  total {run['seconds']:7.2f} s  "
          f"test cc_norm final {fmt(final)} best {fmt(best)}  reach {target:.3f}: {fmt(reach, '.2f')} s")
    return {"s_per_epoch": per_epoch, "final": final, "best": best, "reach_s": reach, "seconds": run["seconds"],
            "epochs": run["epochs"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--linear-epochs", type=int, default=50)
    ap.add_argument("--statenet-epochs", type=int, default=60, help="deepSTRF's StateNet epochs")
    ap.add_argument("--ours-statenet-epochs", type=int, default=25)
    ap.add_argument("--statenet-target", type=float, default=0.85)
    ap.add_argument("--deepstrf-python", default=DEFAULT_DEEPSTRF_PYTHON)
    ap.add_argument("--deepstrf-batch-sizes", default="1,4", help="comma-separated batch sizes for deepSTRF")
    ap.add_argument("--skip-deepstrf", action="store_true")
    ap.add_argument("--only", choices=("Linear", "LinearNonlinear", "StateNet"), action="append")
    ap.add_argument("--json", help="write all measurements here")
    args = ap.parse_args(argv)

    from strfviewer.data import load
    from strfviewer.fit.run import AUTO_CHUNK

    data = Path(args.data)
    if not (data / "stim1.wav").is_file():
        print(f"skipped: the STRFlab recording is not at {data} (pass --data)")
        return 0
    dataset = load(data)
    print(f"data: {data} -> {dataset.n_neurons} neuron(s), {len(dataset.stimuli)} stimuli, F={dataset.n_freqs}, "
          f"dt={dataset.dt_ms:g} ms; split train {len(dataset.stimuli_in('train'))} / val "
          f"{len(dataset.stimuli_in('val'))} / test {len(dataset.stimuli_in('test'))}; threads {args.threads}; "
          f"cpu count {os.cpu_count()}")
    reason = None if not args.skip_deepstrf else "--skip-deepstrf"
    reason = reason or deepstrf_unavailable(args.deepstrf_python)
    if reason:
        print(f"deepSTRF skipped: {reason}")
    results = {"threads": args.threads, "seed": args.seed}
    families = args.only or ["Linear", "LinearNonlinear", "StateNet"]
    # warm-up of this process (first-call costs), not timed; deepSTRF's worker does the same
    run_ours(dataset, "LinearNonlinear", 1, 4, args.seed, args.threads, True)
    with tempfile.TemporaryDirectory(prefix="strfviewer-bench-") as tmp:
        npz = Path(tmp) / "arrays.npz"
        export_arrays(dataset, npz)
        ridge = run_ridge(dataset, args.threads)
        results["ridge"] = ridge
        print(f"\nridge Linear T=15 (closed form, penalty on val): {ridge['seconds']:.3f} s, test cc_norm "
              f"{ridge['test_cc_norm']:.3f}")
        ours_configs = {
            "Linear": [("ours Linear defaults (batch 4, ridge start)", dict(batch_size=4, warm_start=True)),
                       ("ours Linear batch 1, cold", dict(batch_size=1, warm_start=False))],
            "LinearNonlinear": [("ours LN defaults (batch 4, ridge start)", dict(batch_size=4, warm_start=True)),
                                ("ours LN batch 1, cold", dict(batch_size=1, warm_start=False))],
            "StateNet": [("ours StateNet defaults (batch 4)", dict(batch_size=4, chunks=True, calibrate=True,
                                                                   loss="poisson")),
                         ("ours StateNet defaults, batch 1", dict(batch_size=1, chunks=True, calibrate=True,
                                                                  loss="poisson")),
                         ("ours StateNet no calibration, batch 1", dict(batch_size=1, chunks=True,
                                                                        loss="poisson"))],
        }
        for family in families:
            epochs = args.statenet_epochs if family == "StateNet" else args.linear_epochs
            print(f"\n{family} ({epochs} epochs)")
            ref = {}
            if not reason:
                for bs in [int(b) for b in args.deepstrf_batch_sizes.split(",")]:
                    run = run_deepstrf(args.deepstrf_python, npz, family, epochs, bs, args.seed, args.threads)
                    ref[f"deepSTRF batch {bs}"] = run
            if family == "StateNet":
                target = args.statenet_target
            elif "deepSTRF batch 1" in ref:
                target = ref["deepSTRF batch 1"]["curve"][-1]["test_cc_norm"]
            else:
                target = 0.5
            out = {}
            for name, run in ref.items():
                out[name] = summarize(name, run, target)
            ours_epochs = args.ours_statenet_epochs if family == "StateNet" else epochs
            for name, cfg in ours_configs[family]:
                chunk = dict(zip(("chunk_frames", "chunk_warmup"), AUTO_CHUNK)) if cfg.get("chunks") else {}
                run = run_ours(dataset, family, ours_epochs, cfg["batch_size"], args.seed, args.threads,
                               cfg.get("warm_start", False), loss=cfg.get("loss", "mse"),
                               calibrate=cfg.get("calibrate", False), **chunk)
                out[name] = summarize(name, run, target)
            base = out.get("deepSTRF batch 1")
            if base:
                for name, o in out.items():
                    if name.startswith("ours"):
                        speed = base["s_per_epoch"] / o["s_per_epoch"]
                        reach = (o["reach_s"] / base["reach_s"]) if (o["reach_s"] is not None and base["reach_s"])\
                            else None
                        print(f"    {name}: {speed:.1f}x faster per epoch; time to reach {target:.3f} = "
                              f"{fmt(reach, '.2f')} x deepSTRF's")
                if family == "Linear":
                    print(f"    ridge: test cc_norm {ridge['test_cc_norm']:.3f} vs deepSTRF SGD "
                          f"{fmt(base['final'])}; time {ridge['seconds'] / base['seconds']:.3f} x deepSTRF's "
                          f"{base['seconds']:.2f} s")
            results[family] = {"target": target, "runs": out}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, npz_path, fam, n_epochs, bsize, seed_, n_threads = sys.argv
        print(json.dumps(deepstrf_worker(npz_path, fam, int(n_epochs), int(bsize), int(seed_), int(n_threads))))
        sys.exit(0)
    sys.exit(main())
