"""Fitting quality and speed at defaults: strfviewer's ``run_fit`` vs deepSTRF 0.1.0's ``Fitter``, same arrays.

Rows: every family (Linear, LinearNonlinear, NetworkReceptiveField, DNet, ConvNet2D, Transformer, StateNet with
GRU, LSTM, RNN (an Elman RNN), LMU and Mamba) and Linear with each of the three kernels (full, separable, Gaussian mixture with 8
Gaussians as deepSTRF's STRF-parameterisation notebook uses, and at each side's default count: strfviewer's
``"auto"``, deepSTRF's 1), on two datasets: the STRFlab cell
(``../shared/data/strflab-auditory``: one neuron, 20 songs, 10 trials) and the demo population (12 LN neurons
with known STRFs). Both loaded by strfviewer (F = 34 bands, dt = 5 ms, per-band z-scored, split 14 / 3 / 3);
deepSTRF reads exactly these arrays from a temporary ``.npz`` in a worker under its own interpreter
(``/work/deepstrf-venv/bin/python``).

Each side runs at its defaults for the same epoch budget (``--epochs``, ``--recurrent-epochs`` for StateNet):

* deepSTRF: ``Fitter(model, DataLoader(train, batch_size=1, shuffle=True), val)`` -- AdamW lr 1e-3, weight decay
  1e-4, MSE, batch 1 (the DataLoader's default, as its notebooks run it), no early stop within the budget, the
  last epoch's weights (its Fitter restores a best epoch only with a ``ckpt_path``); the same constructor
  arguments as strfviewer's defaults (``T`` = 15 for STRF families).
* strfviewer: ``run_fit(dataset, FitRequest(spec, epochs=E))`` -- whatever its defaults are (automatic batch size,
  warm starts, chunks, Poisson loss and calibration for recurrent models, early stopping with patience 10, best
  validation weights, each neuron's own best epoch where neurons share no parameter).

Both score the current weights on the test stimuli after every epoch (and strfviewer once before its first
epoch, after its warm start); that scoring is left out of the times, as is one warm-up epoch each process runs
first. Reported per row: the final test cc_norm of each side (strfviewer: the weights ``run_fit`` returns), and the
time strfviewer needs to reach deepSTRF's final test cc_norm (from the start of ``run_fit``, warm starts
included) over the time deepSTRF needs to reach it (its first epoch at or above its own final score).

    python benchmarks/fit_vs_deepstrf.py [--data strflab,demo] [--only NAME ...] [--epochs 40]
        [--recurrent-epochs 20] [--threads 1] [--seed 0 | --seeds 0,1,2] [--json F]

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
DEFAULT_STRFLAB = Path(os.environ.get("STRFVIEWER_SHARED_DATA", HERE.parent.parent / "shared" / "data")) / \
    "strflab-auditory"
DEFAULT_DEEPSTRF_PYTHON = "/work/deepstrf-venv/bin/python"
STRF_T = 15  # strfviewer's default temporal window for the STRF families, given to deepSTRF too

#: row name -> the model on both sides: ``family``, and optionally ``kernel``, ``K`` (Gaussians), ``rnn_type``
ROWS = {
    "Linear (full)": {"family": "Linear"},
    "Linear (separable)": {"family": "Linear", "kernel": "separable"},
    "Linear (gaussian K=8)": {"family": "Linear", "kernel": "gaussian", "K": 8},
    "Linear (gaussian auto)": {"family": "Linear", "kernel": "gaussian"},  # deepSTRF: its default, 1 Gaussian
    "LinearNonlinear": {"family": "LinearNonlinear"},
    "NetworkReceptiveField": {"family": "NetworkReceptiveField"},
    "DNet": {"family": "DNet"},
    "ConvNet2D": {"family": "ConvNet2D"},
    "Transformer": {"family": "Transformer"},
    "StateNet GRU": {"family": "StateNet", "rnn_type": "GRU"},
    "StateNet LSTM": {"family": "StateNet", "rnn_type": "LSTM"},
    "StateNet RNN": {"family": "StateNet", "rnn_type": "RNN"},
    "StateNet LMU": {"family": "StateNet", "rnn_type": "LMU"},
    "StateNet Mamba": {"family": "StateNet", "rnn_type": "Mamba"},
    "StateNet S4": {"family": "StateNet", "rnn_type": "S4"},
}


# ------------------------------------------------------------------------------------------------------
# Shared: arrays on disk, curves
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
    return [(d[f"spec_{i}"], d[f"resp_{i}"], split[i]) for i in range(len(split))]


def first_reach(curve, target):
    """Training seconds at the first point whose test cc_norm >= target (None if never)."""
    if target is None:
        return None
    for row in curve:
        if row["test_cc_norm"] is not None and row["test_cc_norm"] >= target - 1e-9:
            return row["train_s"]
    return None


# ------------------------------------------------------------------------------------------------------
# deepSTRF side (runs under deepSTRF's interpreter; imports nothing from strfviewer)
# ------------------------------------------------------------------------------------------------------


def deepstrf_worker(npz: str, row: dict, epochs: int, seed: int, threads: int) -> dict:
    import torch
    from deepSTRF.models.audio import audio_zoo
    from deepSTRF.models.layers import ParametricSTRF, SeparableSTRF
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
        family = row["family"]
        cls = getattr(audio_zoo, family)
        kwargs = {"n_frequency_bands": F, "out_neurons": N}
        if family in ("Linear", "LinearNonlinear", "NetworkReceptiveField", "DNet"):
            kwargs["temporal_window_size"] = STRF_T
            c_out = N if family in ("Linear", "LinearNonlinear") else 20
            if row.get("kernel") == "separable":
                kwargs["kernel"] = SeparableSTRF(F, STRF_T, 1, c_out)
            elif row.get("kernel") == "gaussian":
                kwargs["kernel"] = ParametricSTRF(F, STRF_T, 1, c_out, num_gaussians=int(row.get("K", 1)))
        if family == "StateNet":
            kwargs["rnn_type"] = row.get("rnn_type", "GRU")
        return cls(**kwargs)

    def loader(part, shuffle=False, generator=None):
        return torch.utils.data.DataLoader(Items(part), batch_size=1, shuffle=shuffle, collate_fn=neural_collate,
                                           generator=generator)

    val, test = loader("val"), loader("test")
    warm = build()  # warm-up of the process (first-call costs), not timed
    Fitter(warm, loader("train"), val, max_epochs=1, log_fn=lambda d: None).fit()
    set_random_seed(seed)
    model = build()
    train = loader("train", shuffle=True, generator=torch.Generator().manual_seed(seed))
    curve = []
    clock = {"start": time.perf_counter(), "excluded": 0.0}

    def log_fn(epoch_dict):
        t_in = time.perf_counter()
        ev = fitter.evaluate(test)
        cc = float(torch.nanmean(ev["cc_norm"]))
        model.train()
        curve.append({"epoch": int(epoch_dict["epoch"]) + 1,
                      "train_s": t_in - clock["start"] - clock["excluded"],
                      "val_cc_norm": float(torch.nanmean(epoch_dict["val_cc_norm"])),
                      "test_cc_norm": cc if np.isfinite(cc) else None})
        clock["excluded"] += time.perf_counter() - t_in

    fitter = Fitter(model, train, val, max_epochs=epochs, patience=epochs + 1, log_fn=log_fn)
    clock["start"] = time.perf_counter()
    fitter.fit()
    return {"curve": curve, "seconds": curve[-1]["train_s"] if curve else float("nan"), "epochs": len(curve),
            "final": curve[-1]["test_cc_norm"] if curve else None}


def private_torchaudio() -> str:
    """A copy of deepSTRF's torchaudio package without its compiled libraries (which do not load next to the
    venv's CPU torch), so torchaudio falls back to pure Python, as tests/fixtures/make_deepstrf_fixtures.py
    describes; the shared venv is left as it is. Returns the folder to put first on ``PYTHONPATH``."""
    import shutil

    folder = Path(tempfile.gettempdir()) / "strfviewer-bench-torchaudio"
    target = folder / "torchaudio"
    if not target.is_dir():
        proc = subprocess.run([DEFAULT_DEEPSTRF_PYTHON, "-c", "import importlib.util as u; "
                               "print(u.find_spec('torchaudio').submodule_search_locations[0])"],
                              capture_output=True, text=True)
        source = Path(proc.stdout.strip())
        if not source.is_dir():
            return ""
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    return str(folder)


def run_deepstrf(python: str, npz: Path, row: dict, epochs: int, seed: int, threads: int):
    cmd = [python, str(Path(__file__).resolve()), "--worker", str(npz), json.dumps(row), str(epochs), str(seed),
           str(threads)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    extra = private_torchaudio() if python == DEFAULT_DEEPSTRF_PYTHON else ""
    if extra:
        env["PYTHONPATH"] = extra + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"deepSTRF worker failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def deepstrf_unavailable(python: str):
    """Why deepSTRF cannot run (None when it can)."""
    if not Path(python).exists():
        return f"no deepSTRF interpreter at {python} (pass --deepstrf-python)"
    env = dict(os.environ)
    extra = private_torchaudio() if python == DEFAULT_DEEPSTRF_PYTHON else ""
    if extra:
        env["PYTHONPATH"] = extra + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([python, "-c", "import deepSTRF.training, deepSTRF.models.audio.audio_zoo"],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return f"deepSTRF does not import under {python}: {proc.stderr.strip().splitlines()[-1:]}"
    return None


# ------------------------------------------------------------------------------------------------------
# strfviewer side: run_fit at its defaults, with the test scored after every epoch (untimed)
# ------------------------------------------------------------------------------------------------------


def run_ours(dataset, row: dict, epochs: int, seed: int, threads: int) -> dict:
    import strfviewer.fit.run as fit_run
    from strfviewer.fit.metrics import cc_norm_from_trials
    from strfviewer.models.factory import ModelSpec

    test = dataset.stimuli_in("test")
    curve = []
    clock = {"start": 0.0, "excluded": 0.0}
    holder = {}

    def record(epoch):
        t_in = time.perf_counter()
        model = holder["model"]
        p = fit_run.predict(model, dataset, stimuli=test)
        cc = cc_norm_from_trials([s.responses for s in test], [p[s.name] for s in test]).mean_cc_norm
        curve.append({"epoch": epoch, "train_s": t_in - clock["start"] - clock["excluded"],
                      "test_cc_norm": float(cc) if np.isfinite(cc) else None})
        clock["excluded"] += time.perf_counter() - t_in

    class ScoredFitter(fit_run.Fitter):
        def fit(self):
            holder["model"] = self.model
            record(0)  # the start (after any warm start / calibration)
            return super().fit()

    def progress(ev):
        if ev.kind == "epoch":
            record(ev.epoch)

    spec = ModelSpec(row["family"], kernel=row.get("kernel"), rnn_type=row.get("rnn_type"),
                     kernel_kwargs={"num_gaussians": int(row["K"])} if "K" in row else {})
    request = fit_run.FitRequest(spec=spec, epochs=epochs, seed=seed, num_threads=threads, device="cpu")
    original = fit_run.Fitter
    fit_run.Fitter = ScoredFitter
    try:
        clock["start"] = time.perf_counter()
        outcome = fit_run.run_fit(dataset, request, progress=progress)
    finally:
        fit_run.Fitter = original
    final = outcome.metrics["test"].mean_cc_norm
    return {"curve": curve, "seconds": time.perf_counter() - clock["start"] - clock["excluded"],
            "epochs": outcome.history.n_epochs, "final": float(final) if np.isfinite(final) else None,
            "batch_size": outcome.details.get("batch_size"), "warm_start": outcome.details.get("warm_start"),
            "stopped": outcome.history.stopped, "warnings": outcome.warnings,
            "kernel_chosen": outcome.details.get("kernel_chosen")}


# ------------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------------


def fmt(x, spec=".3f"):
    return "n/a" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)


def compare(name, theirs, ours) -> dict:
    target = theirs["final"] if theirs else None
    their_reach = first_reach(theirs["curve"], target) if theirs else None
    our_reach = first_reach(ours["curve"], target)
    ratio = (our_reach / their_reach) if (our_reach is not None and their_reach) else None
    out = {"row": name, "deepstrf_final": target, "ours_final": ours["final"],
           "deepstrf_seconds": theirs["seconds"] if theirs else None, "ours_seconds": ours["seconds"],
           "deepstrf_reach_s": their_reach, "ours_reach_s": our_reach, "reach_ratio": ratio,
           "ours_epochs": ours["epochs"], "deepstrf_epochs": theirs["epochs"] if theirs else None,
           "batch_size": ours["batch_size"], "warm_start": ours["warm_start"], "warnings": ours["warnings"],
           "kernel_chosen": ours.get("kernel_chosen"),
           "deepstrf_curve": theirs["curve"] if theirs else None, "ours_curve": ours["curve"]}
    print(f"  {name:<24} deepSTRF {fmt(target)} ({fmt(out['deepstrf_seconds'], '.1f')} s, "
          f"{out['deepstrf_epochs']} ep) | ours {fmt(ours['final'])} ({ours['seconds']:.1f} s, {ours['epochs']} ep, "
          f"batch {ours['batch_size']}) | reach {fmt(target)}: ours {fmt(our_reach, '.2f')} s vs "
          f"{fmt(their_reach, '.2f')} s = {fmt(ratio, '.2f')}x"
          + (f" | chosen: {ours['kernel_chosen']}" if ours.get("kernel_chosen") else ""), flush=True)
    return out


def markdown(results) -> str:
    lines = ["| data | model | epochs (deepSTRF / ours) | deepSTRF test cc_norm | ours | ours - deepSTRF | "
             "time to deepSTRF's final: ours / deepSTRF |", "|---|---|---|---|---|---|---|"]
    for data, rows in results.items():
        for r in rows:
            diff = (r["ours_final"] - r["deepstrf_final"]) if (r["ours_final"] is not None
                                                                and r["deepstrf_final"] is not None) else None
            reach = (f"{fmt(r['ours_reach_s'], '.2f')} / {fmt(r['deepstrf_reach_s'], '.2f')} s = "
                     f"{fmt(r['reach_ratio'], '.2f')}x" if r["ours_reach_s"] is not None else
                     f"not reached / {fmt(r['deepstrf_reach_s'], '.2f')} s")
            seed = f" (seed {r['seed']})" if several_seeds(results) else ""
            lines.append(f"| {data} | {r['row']}{seed} | {r['deepstrf_epochs']} / {r['ours_epochs']} | "
                         f"{fmt(r['deepstrf_final'])} | {fmt(r['ours_final'])} | {fmt(diff, '+.3f')} | {reach} |")
    return "\n".join(lines)


def several_seeds(results) -> bool:
    return len({r.get("seed") for rows in results.values() for r in rows}) > 1


def runs_by_row(results):
    """``(data, row, runs)`` for every data set and row, rows in the order they first appear, runs in theirs."""
    for data, rows in results.items():
        for name in dict.fromkeys(r["row"] for r in rows):
            yield data, name, [r for r in rows if r["row"] == name]


def median_ratio(runs) -> float:
    """Median time ratio of ``runs``, a run that never reached deepSTRF's final counting as the worst (inf)."""
    return float(np.median([np.inf if r["reach_ratio"] is None else r["reach_ratio"] for r in runs]))


def ratio_text(ratio) -> str:
    """``"0.45x"``, or ``"n.r."`` for a ratio that is None or infinite (deepSTRF's final not reached)."""
    return "n.r." if ratio is None or not np.isfinite(ratio) else f"{ratio:.2f}x"


def seeds_markdown(results) -> str:
    """One line per data set and row over its seeds: both finals per seed, the difference of their means, and the
    time ratio per seed with its median ("n.r.": deepSTRF's final not reached; counted as worst in the median)."""
    lines = ["| data | model | seeds | deepSTRF test cc_norm | ours | ours - deepSTRF (mean) | "
             "time ratio (median) |", "|---|---|---|---|---|---|---|"]
    for data, name, runs in runs_by_row(results):
        theirs = [r["deepstrf_final"] for r in runs]
        ours = [r["ours_final"] for r in runs]
        diff = (float(np.mean(ours)) - float(np.mean(theirs))) if None not in theirs + ours else None
        lines.append(f"| {data} | {name} | {' / '.join(str(r['seed']) for r in runs)} | "
                     f"{' / '.join(fmt(x) for x in theirs)} | {' / '.join(fmt(x) for x in ours)} | "
                     f"{fmt(diff, '+.3f')} | {' / '.join(ratio_text(r['reach_ratio']) for r in runs)} "
                     f"({ratio_text(median_ratio(runs))}) |")
    return "\n".join(lines)


def summary_markdown(results) -> str:
    """One line per data set and row over all its seeds: the two means and their difference, the runs where ours
    ends below deepSTRF, the median time ratio and the runs above 1/2, and whether both targets of the row hold
    (mean difference >= 0, median ratio <= 0.5)."""
    lines = ["| data | model | seeds | deepSTRF mean | ours mean | ours - deepSTRF | runs below deepSTRF | "
             "time ratio median | runs above 0.5x | both targets |", "|---|---|---|---|---|---|---|---|---|---|"]
    for data, name, runs in runs_by_row(results):
        pairs = [(r["deepstrf_final"], r["ours_final"]) for r in runs]
        if any(t is None or o is None for t, o in pairs):
            continue
        theirs, ours = float(np.mean([t for t, _ in pairs])), float(np.mean([o for _, o in pairs]))
        median = median_ratio(runs)
        above = sum(r["reach_ratio"] is None or r["reach_ratio"] > 0.5 for r in runs)
        seeds = sorted(r["seed"] for r in runs)
        span = f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else \
            ", ".join(map(str, seeds))
        met = "yes" if ours >= theirs and median <= 0.5 else "no"
        lines.append(f"| {data} | {name} | {span} | {theirs:.3f} | {ours:.3f} | {ours - theirs:+.3f} | "
                     f"{sum(o < t for t, o in pairs)} of {len(pairs)} | "
                     f"{ratio_text(median)} | {above} of {len(runs)} | {met} |")
    return "\n".join(lines)


def merge_runs(paths) -> dict:
    """The measurements of several ``--json`` files, one per data set, row and seed (a later file's run of the
    same row and seed replaces an earlier one's), in the order rows first appear; a clear error for a file that
    is not such a measurement."""
    merged = {}
    for path in paths:
        try:
            results = json.loads(Path(path).read_text())
            items = [(data, r["row"], int(r["seed"]), r) for data, rows in results.items() for r in rows]
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise SystemExit(f"--merge: {path} is not a file written by --json ({type(exc).__name__}: {exc})")
        for data, row, seed, r in items:
            merged.setdefault(data, {})[(row, seed)] = r
    out = {}
    for data, runs in merged.items():
        order = list(dict.fromkeys(row for row, _ in runs))
        out[data] = [runs[key] for row in order for key in sorted(k for k in runs if k[0] == row)]
    return out


def parse_seeds(text: str) -> list:
    """``"0,1,2"`` -> ``[0, 1, 2]``; a clear error for anything else."""
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SystemExit(f"--seeds: expected comma-separated integers such as 0,1,2, not {text!r}")
    if not seeds:
        raise SystemExit("--seeds: give at least one seed, e.g. 0,1,2")
    return seeds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="strflab,demo", help="comma-separated: strflab, demo")
    ap.add_argument("--strflab", default=str(DEFAULT_STRFLAB), help="the STRFlab cell folder")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", help="comma-separated seeds (e.g. 0,1,2; overrides --seed): every row runs once per "
                    "seed, and a second table gives each row's per-seed finals, mean difference and median time ratio")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--recurrent-epochs", type=int, default=20, help="epoch budget of the StateNet rows")
    ap.add_argument("--deepstrf-python", default=DEFAULT_DEEPSTRF_PYTHON)
    ap.add_argument("--only", choices=list(ROWS), action="append", help="rows to run (repeatable; default all)")
    ap.add_argument("--skip-deepstrf", action="store_true")
    ap.add_argument("--json", help="write all measurements here")
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="run nothing: print the per-seed and summary tables "
                    "of the measurements in these --json files together (a later file's run of a row and seed "
                    "replaces an earlier one's)")
    args = ap.parse_args(argv)
    if args.merge:
        results = merge_runs(args.merge)
        print(seeds_markdown(results) + "\n\n" + summary_markdown(results))
        return 0
    seeds = parse_seeds(args.seeds) if args.seeds else [args.seed]

    import torch

    from strfviewer.data import load

    torch.set_num_threads(args.threads)
    reason = "--skip-deepstrf" if args.skip_deepstrf else deepstrf_unavailable(args.deepstrf_python)
    if reason:
        print(f"deepSTRF skipped: {reason}")
    print(f"threads {args.threads}, cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, epochs "
          f"{args.epochs} (StateNet {args.recurrent_epochs}), seed(s) {', '.join(map(str, seeds))}")
    results = {}
    rows = args.only or list(ROWS)
    for data in [d.strip() for d in args.data.split(",") if d.strip()]:
        if data == "strflab":
            if not (Path(args.strflab) / "stim1.wav").is_file():
                print(f"skipped: the STRFlab recording is not at {args.strflab} (pass --strflab)")
                continue
            dataset, label = load(args.strflab), "STRFlab cell"
        elif data == "demo":
            dataset, label = load("demo"), "demo population"
        else:
            raise SystemExit(f"--data: unknown dataset {data!r} (strflab, demo)")
        print(f"\n{label}: {dataset.n_neurons} neuron(s), {len(dataset.stimuli)} stimuli, split train "
              f"{len(dataset.stimuli_in('train'))} / val {len(dataset.stimuli_in('val'))} / test "
              f"{len(dataset.stimuli_in('test'))}")
        run_ours(dataset, ROWS["Linear (full)"], 1, seeds[0], args.threads)  # warm-up of this process, untimed
        results[label] = []
        with tempfile.TemporaryDirectory(prefix="strfviewer-bench-") as tmp:
            npz = Path(tmp) / "arrays.npz"
            export_arrays(dataset, npz)
            for name in rows:
                row = ROWS[name]
                epochs = args.recurrent_epochs if row["family"] == "StateNet" else args.epochs
                for seed in seeds:  # the seeds of a row back to back: the same load on the VM
                    theirs = None
                    if not reason:
                        try:
                            theirs = run_deepstrf(args.deepstrf_python, npz, row, epochs, seed, args.threads)
                        except RuntimeError as exc:
                            print(f"  {name}: deepSTRF failed ({exc})")
                    ours = run_ours(dataset, row, epochs, seed, args.threads)
                    label_seed = name if len(seeds) == 1 else f"{name} (seed {seed})"
                    results[label].append({**compare(label_seed, theirs, ours), "row": name, "seed": seed})
    print("\n" + markdown(results))
    if len(seeds) > 1:
        print("\n" + seeds_markdown(results) + "\n\n" + summary_markdown(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, npz_path, row_json, n_epochs, seed_, n_threads = sys.argv
        print(json.dumps(deepstrf_worker(npz_path, json.loads(row_json), int(n_epochs), int(seed_), int(n_threads))))
        sys.exit(0)
    sys.exit(main())
