"""``strfviewer dstrf CHECKPOINT --data DATA --stimulus NAME --out dstrf.npz``: locally linear STRFs.

For each neuron (or ``--neuron``), the gradient of its response at every frame of the stimulus with respect
to the spectrogram over the ``T`` frames before (:mod:`strfviewer.analysis.dstrf`; excitation positive) and
their principal components across time. NPZ arrays (no pickle needed): ``dstrf (K, L, 1, F, T)`` float32,
``response (K, L)``, ``pca_mean (K, 1, F, T)``, ``pca_components (K, P, 1, F, T)``,
``pca_explained_variance_ratio (K, P)``, ``pca_projections (K, L, P)``, ``neuron_names (K,)``, ``times_ms
(L,)``, ``lags_ms (T,)`` (oldest first), ``freqs_hz (F,)``, ``dt_ms``, ``stimulus``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from strfviewer.commands.data_options import add_data_option, data_source
from strfviewer.commands.options import add_compute_options
from strfviewer.commands.gradmap import add_model_arg_option

#: largest dSTRF array written without --neuron (bytes)
MAX_BYTES = 1 << 30


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dstrf", help="locally linear STRFs of neurons along a stimulus, with their PCA",
                       description="The gradient of each neuron's response at every frame of a stimulus (its "
                                   "effective STRF at that moment, excitation positive) and the principal "
                                   "components of those maps across time.")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint folder (or Hugging Face repo id)")
    add_data_option(p, "data folder, NWB file, sorter folder, NPZ file or 'demo'", required=True)
    p.add_argument("--stimulus", required=True, metavar="NAME", help="stimulus to run the model on")
    p.add_argument("--out", required=True, metavar="FILE.npz", help="output NPZ")
    p.add_argument("--neuron", action="append", metavar="I|NAME",
                   help="neuron (index or name); repeatable (default: every neuron)")
    p.add_argument("-T", "--frames", type=int, metavar="FRAMES",
                   help="lags per map (default: the model's temporal reach; 100 ms for recurrent models)")
    p.add_argument("--components", type=int, default=5, metavar="P",
                   help="principal components kept (default: %(default)s)")
    add_compute_options(p)
    add_model_arg_option(p)
    p.set_defaults(run=run)


def _check(args: argparse.Namespace) -> None:
    from strfviewer.commands.checkpoint_data import check_data_option, check_output_suffix

    check_output_suffix(args.out, "--out", (".npz",))
    if args.frames is not None and args.frames < 1:
        raise ValueError(f"-T {args.frames}: needs at least one frame")
    if args.components < 1:
        raise ValueError(f"--components {args.components}: expected at least 1")
    check_data_option(args.data)


def run(args: argparse.Namespace) -> int:
    from strfviewer.analysis._probe import default_gradmap_T
    from strfviewer.analysis.dstrf import dstrf
    from strfviewer.commands.checkpoint_data import find_stimulus, model_with_data
    from strfviewer.commands.export import pick_neuron
    from strfviewer.io.exports import write_npz

    _check(args)
    args.data = data_source(args)
    model, _axes, _meta, dataset, notes = model_with_data(args.checkpoint, args.data, args.device,
                                                          args.model_args)
    stimulus = find_stimulus(dataset, args.stimulus, args.data)
    texts = args.neuron or [str(i) for i in range(dataset.n_neurons)]
    neurons = [pick_neuron(t, dataset.neuron_names, None) for t in texts]
    T = args.frames or default_gradmap_T(model, dt_ms=dataset.dt_ms)
    L, F = stimulus.n_frames, dataset.n_freqs
    size = 4 * len(neurons) * L * F * T
    if size > MAX_BYTES:
        raise ValueError(f"--stimulus {args.stimulus}: {len(neurons)} neuron(s) x {L} frames x {F} bands x {T} lags "
                         f"is {size / 1e9:.1f} GB; choose neurons with --neuron or fewer lags with -T")
    maps, responses, means, comps, ratios, projections = [], [], [], [], [], []
    for n in neurons:
        d = dstrf(model, stimulus.spec, n, T=T, dt_ms=dataset.dt_ms)
        pcs = d.pca(n_components=args.components)
        maps.append(d.maps)
        responses.append(d.response)
        means.append(pcs.mean)
        comps.append(pcs.components)
        ratios.append(pcs.explained_variance_ratio)
        projections.append(pcs.projections)
    P = min(c.shape[0] for c in comps)
    arrays = {
        "dstrf": np.stack(maps).astype(np.float32), "response": np.stack(responses).astype(np.float32),
        "pca_mean": np.stack(means).astype(np.float32),
        "pca_components": np.stack([c[:P] for c in comps]).astype(np.float32),
        "pca_explained_variance_ratio": np.stack([r[:P] for r in ratios]),
        "pca_projections": np.stack([p[:, :P] for p in projections]).astype(np.float32),
        "neuron_names": np.asarray([dataset.neuron_names[n] for n in neurons]),
        "times_ms": np.arange(L) * float(dataset.dt_ms), "lags_ms": dataset.lags_ms(T),
        "freqs_hz": np.asarray(dataset.freqs_hz, dtype=np.float64), "dt_ms": np.asarray(float(dataset.dt_ms)),
        "stimulus": np.asarray(stimulus.name),
    }
    out = write_npz(args.out, arrays)
    if not args.quiet:
        for note in notes:
            print(f"warning: {note}", file=sys.stderr)
        first = arrays["pca_explained_variance_ratio"][:, 0]
        share = f"{np.nanmedian(first):.0%}" if np.isfinite(first).any() else "n/a (the maps do not vary)"
        print(f"{type(model).__name__}: dSTRFs of {len(neurons)} neuron(s) along {stimulus.name} ({L} frames x {F} "
              f"bands x {T} lags); first component explains {share} (median) -> {out}", file=sys.stderr)
    return 0
