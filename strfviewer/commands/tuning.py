"""``strfviewer tuning CHECKPOINT [--data DATA] [--jackknife] --out tuning.csv``: tuning of every neuron.

One row per neuron (per neuron and prefilter channel for per-channel maps) with the metrics of
:mod:`strfviewer.analysis.tuning` (``best_frequency_hz``, ``bandwidth_oct``, ``latency_ms``,
``peak_latency_ms``, ``separability``, ``ei_balance``, ``best_temporal_modulation_hz``,
``best_spectral_modulation_cyc_per_oct``) of the neuron's gradmap with excitation positive (``-gradmap``).
With ``--data``, the neuron's ``cc_norm`` on the test stimuli. With ``--jackknife`` (needs ``--data``): the
maps are jackknifed over the training stimuli (closed form for a ridge-fitted ``Linear`` model, a refit per
fold otherwise, with the checkpoint's fit settings), the metrics are taken on the pixels with
``|z| > --threshold``, and each metric gets a bootstrap interval (``_ci_low``, ``_ci_high``; stimuli resampled
for ridge, pixels drawn from the jackknife errors otherwise) and ``n_significant_pixels``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from strfviewer.commands.data_options import add_data_option, data_source
from strfviewer.commands.options import add_compute_options
from strfviewer.commands.gradmap import READOUT_CHOICES, add_map_choice, add_model_arg_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tuning", help="tuning metrics (BF, bandwidth, latency, modulation...) of every neuron",
                       description="Best frequency, bandwidth, latencies, E/I balance, separability and best "
                                   "modulations of every neuron's gradmap, one CSV row per neuron.")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint folder (or Hugging Face repo id)")
    p.add_argument("--out", required=True, metavar="FILE.csv", help="output CSV")
    add_data_option(p, "data folder, NWB file, sorter folder, NPZ file or 'demo': adds cc_norm (test stimuli)")
    p.add_argument("--jackknife", action="store_true",
                   help="significance by jackknife over the training stimuli (needs --data): metrics on the "
                        "significant pixels, bootstrap intervals")
    p.add_argument("--threshold", type=float, default=2.0, metavar="Z",
                   help="|z| above which a pixel is significant (default: %(default)s)")
    p.add_argument("--bootstrap", type=int, default=200, metavar="N",
                   help="bootstrap samples for the intervals with --jackknife (default: %(default)s)")
    p.add_argument("--readout", choices=READOUT_CHOICES, default="last", help="gradmap readout (default: %(default)s)")
    add_map_choice(p)
    add_compute_options(p)
    add_model_arg_option(p)
    p.set_defaults(run=run)


def _check(args: argparse.Namespace) -> None:
    from strfviewer.commands.checkpoint_data import check_data_option, check_output_suffix

    check_output_suffix(args.out, "--out", (".csv",))
    if args.jackknife and not args.data:
        raise ValueError("--jackknife needs --data (the stimuli to leave out)")
    if not (np.isfinite(args.threshold) and args.threshold >= 0):
        raise ValueError(f"--threshold {args.threshold}: expected a number >= 0")
    if args.bootstrap < 10:
        raise ValueError(f"--bootstrap {args.bootstrap}: expected at least 10 samples")
    check_data_option(args.data)


def is_ridge_linear(model, metadata) -> bool:
    """Whether the checkpoint is a ``Linear`` model with a full kernel fitted by closed-form ridge."""
    from strfviewer.fit.run import _full_kernel

    fit = (metadata or {}).get("fit") or {}
    return type(model).__name__ == "Linear" and _full_kernel(model) and fit.get("method") == "ridge"


def jackknife_maps(model, metadata, dataset, maps, per_channel: bool, readout: str, n_boot: int, log,
                   progress=None, cancel=None):
    """``(jackknife, bootstrap samples (S, N, C, F, T) with excitation positive, how)`` for the gradmaps
    ``maps`` (gradmap sign) of a checkpoint's model on ``dataset``. ``progress(done, total, message)`` after
    each fold (default: ``log`` for the refits); a set ``cancel`` event returns ``None`` (the app's workers)."""
    from strfviewer.analysis.significance import (gradmap_jackknife, pixel_bootstrap, ridge_bootstrap,
                                                  ridge_jackknife)
    from strfviewer.fit.ridge import fit_ridge_details
    from strfviewer.fit.run import FitRequest

    fit = (metadata or {}).get("fit")
    if is_ridge_linear(model, metadata) and not per_channel and maps.shape[-1] == int(model.T):
        
        from strfviewer.models.capture import private_copy

        twin = private_copy(model)                           # the ridge refit must not touch the model
        alpha = fit_ridge_details(dataset, int(model.T), fit.get("ridge_alphas"), model=twin).alpha
        jk = ridge_jackknife(dataset, int(model.T), alpha=alpha, model=twin, progress=progress, cancel=cancel)
        if jk is None:
            return None
        jk.estimate = -maps                                   # the checkpoint's map; its errors from the folds
        samples = ridge_bootstrap(dataset, int(model.T), alpha=alpha, model=twin, n_samples=n_boot)
        return jk, samples, "closed-form ridge jackknife, stimulus bootstrap"
    if not isinstance(fit, dict):
        raise ValueError("the checkpoint records no fit settings (metadata 'fit'): --jackknife needs them to "
                         "refit the model without each stimulus")
    request = FitRequest.from_dict({**fit, "device": "cpu"})
    folds = len(dataset.stimuli_in("train"))
    log(f"jackknife: refitting {type(model).__name__} {folds} times (once without each training stimulus)")
    jk = gradmap_jackknife(dataset, request, T=int(maps.shape[-1]), readout=readout, per_channel=per_channel,
                           estimate=maps, cancel=cancel,
                           progress=progress or (lambda done, total, msg: log(f"  {done}/{total} {msg}")))
    if jk is None:
        return None
    jk.estimate, jk.replicates = -jk.estimate, -jk.replicates
    return jk, pixel_bootstrap(jk.estimate, jk.se, n_samples=n_boot), "refit jackknife, pixel bootstrap"


def run(args: argparse.Namespace) -> int:
    from strfviewer.analysis.tuning import METRICS, tuning_batch, tuning_intervals
    from strfviewer.commands.gradmap import channel_names, compute_maps, load_model
    from strfviewer.io.exports import write_table_csv

    _check(args)
    args.data = data_source(args)
    notes = []
    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    if args.data:
        from strfviewer.commands.checkpoint_data import model_with_data

        model, axes, metadata, dataset, notes = model_with_data(args.checkpoint, args.data, args.device,
                                                                args.model_args)
        freqs, dt = np.asarray(dataset.freqs_hz, dtype=np.float64), float(dataset.dt_ms)
    else:
        model, axes, metadata = load_model(args.checkpoint, args.device, args.model_args)
        dataset, freqs, dt = None, axes.freqs_hz, axes.dt_ms
        notes += axes.notes
    maps, per_channel, map_notes = compute_maps(model, None, args.readout, args.per_channel, dt)
    notes += map_notes
    maps = maps.detach().cpu().numpy().astype(np.float64)                          # (N, C, F, T), gradmap sign
    strf = -maps
    columns = {}
    mask = None
    if args.jackknife:
        jk, samples, how = jackknife_maps(model, metadata, dataset, maps, per_channel, args.readout,
                                          args.bootstrap, log)
        mask = jk.mask(args.threshold)
        intervals = tuning_intervals(np.where(mask[None], samples, 0.0), freqs, dt)
        for name in METRICS:
            columns[f"{name}_ci_low"], columns[f"{name}_ci_high"] = intervals[name][..., 0], intervals[name][..., 1]
        columns["n_significant_pixels"] = mask.sum(axis=(-2, -1))
        notes.append(f"significance: {how}, |z| > {args.threshold:g}")
    table = tuning_batch(strf, freqs, dt, mask=mask)                                  # {name: (N, C)}
    if dataset is not None:
        from strfviewer.fit.run import predict, score

        part = "test" if dataset.stimuli_in("test") else None
        if part is None:
            notes.append(f"{args.data}: no test stimuli: cc_norm is left empty")
        else:
            cc = np.asarray(score(dataset, predict(model, dataset, args.device))[part].cc_norm)
            columns["cc_norm"] = np.broadcast_to(cc[:, None], maps.shape[:2])
    names = axes.neuron_names if dataset is None else dataset.neuron_names
    channels = channel_names(model, per_channel)
    header = ["neuron", "channel", *METRICS, *columns]
    rows = [[names[n], channels[c], *(table[m][n, c] for m in METRICS), *(v[n, c] for v in columns.values())]
            for n in range(maps.shape[0]) for c in range(maps.shape[1])]
    out = write_table_csv(args.out, header, rows)
    for note in notes:
        log(f"warning: {note}" if not note.startswith("significance") else note)
    bf = table["best_frequency_hz"]
    log(f"{type(model).__name__}: tuning of {maps.shape[0]} neuron(s) x {maps.shape[1]} channel(s) -> {out} "
        f"(median best frequency {np.nanmedian(bf) if np.isfinite(bf).any() else float('nan'):.0f} Hz)")
    return 0
