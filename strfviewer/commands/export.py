"""``strfviewer export CHECKPOINT DATA --figure FILE --csv FILE --npz FILE``: batch exports of a saved model.

* ``--figure FILE.png|svg|pdf``: the one-neuron figure (stimulus spectrogram, PSTH recorded vs predicted,
  gradmap) as the app draws it; Qt is imported only for this option (offscreen when there is no display).
* ``--csv FILE``: per-neuron metrics (cc, cc_max, cc_norm per split, spike counts ``n_spikes``;
  ``mean_<unit>`` for continuous responses such as mV), one row per neuron.
* ``--npz FILE``: predictions and recorded PSTHs of every stimulus and the gradmaps of every neuron, with
  ``freqs_hz``, ``lags_ms``, ``dt_ms``, ``neuron_names``, ``channels`` (layout in ``docs/exports.md``).

Gradmaps are taken at the raw spectrogram, or at the prefilter's output for a prefiltered model whose raw
maps are zero, as ``strfviewer gradmap`` does (``--raw`` / ``--per-channel`` choose).

DATA is loaded with the checkpoint's front-end (spectrogram settings and the z-score statistics of its fit)
and, when its stimuli are those the model was fitted on, the checkpoint's train/val/test split: the metrics of
a fitted folder on its own data are those of its ``metrics.json``. Every file is written atomically. The model
must match the data (neurons and frequency bands).
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

import numpy as np

from strfviewer.commands.data_options import add_reader_options, data_source
from strfviewer.commands.options import add_compute_options
from strfviewer.commands.gradmap import (READOUT_CHOICES, add_map_choice, add_model_arg_option, channel_names,
                                         compute_maps)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export figures, metrics and predictions of a saved model on a dataset",
        description="Evaluate a saved model on a dataset and write a figure (PNG/SVG/PDF), per-neuron "
                    "metrics (CSV) and/or predictions and gradmaps (NPZ).")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint folder (or Hugging Face repo id)")
    p.add_argument("data", metavar="DATA", help="data folder, NWB file, NPZ file or 'demo'")
    add_reader_options(p)
    p.add_argument("--figure", metavar="FILE", help="one-neuron figure: .png, .svg or .pdf")
    p.add_argument("--csv", metavar="FILE", help="per-neuron metrics table (CSV)")
    p.add_argument("--npz", metavar="FILE", help="predictions, recorded PSTHs and gradmaps (NPZ)")
    p.add_argument("--neuron", metavar="I|NAME",
                   help="neuron of the figure: index or name (default: the best by test cc_norm)")
    p.add_argument("--stimulus", metavar="NAME", help="stimulus of the figure (default: the first test stimulus)")
    p.add_argument("--readout", choices=READOUT_CHOICES, default="last", help="gradmap readout (default: %(default)s)")
    add_map_choice(p)
    p.add_argument("--dpi", type=float, default=300.0, help="PNG resolution (default: %(default)s)")
    p.add_argument("--size", metavar="W,H", default="9,5.5", help="figure size in inches (default: %(default)s)")
    add_compute_options(p)
    add_model_arg_option(p)
    p.set_defaults(run=run)


def _parse_size(text: str):
    try:
        w, h = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--size {text!r}: expected W,H in inches such as 9,5.5") from None
    if not (1.0 <= w <= 40.0 and 1.0 <= h <= 40.0):
        raise ValueError(f"--size {text!r}: width and height must be between 1 and 40 inches")
    return w, h


#: the most pixels a PNG figure may have (--size times --dpi squared): 4 bytes each, 400 MB
MAX_FIGURE_PIXELS = 100_000_000


def pick_neuron(text: Optional[str], names, cc_norm: Optional[np.ndarray]) -> int:
    """Index of ``text`` (an index or a name); without it, the neuron with the highest test cc_norm."""
    n = len(names)
    if text is None:
        if cc_norm is not None and np.any(np.isfinite(cc_norm)):
            return int(np.nanargmax(cc_norm))
        return 0
    if text in list(names):
        return list(names).index(text)
    try:
        index = int(text)
    except ValueError:
        raise ValueError(f"--neuron {text!r}: no neuron of that name (names: {', '.join(map(str, names[:8]))}"
                         f"{', ...' if n > 8 else ''})") from None
    if not 0 <= index < n:
        raise ValueError(f"--neuron {index}: out of range (the dataset has {n} neurons)")
    return index


def _gradmap_bands(model, metadata: dict, dataset) -> np.ndarray:
    """Band centres (Hz) of the model's gradmaps: a waveform-native model's own front-end bands (from the
    front-end, else the checkpoint's ``freqs_hz``), a spectrogram model's the dataset's."""
    if not getattr(model, "is_wav_native", False):
        return np.asarray(dataset.freqs_hz, dtype=float)
    from strfviewer.models.frontend_args import model_band_centres_hz

    centres = model_band_centres_hz(model)
    if centres is None and metadata.get("freqs_hz") is not None:
        centres = np.asarray(metadata["freqs_hz"], dtype=float)
    return centres if centres is not None else np.full(int(model.front_end().out_channels), np.nan)


def run(args: argparse.Namespace) -> int:
    from strfviewer.commands.checkpoint_data import check_output_suffix, find_stimulus, model_with_data
    from strfviewer.fit.run import predict, score
    from strfviewer.io import exports

    if not (args.figure or args.csv or args.npz):
        raise ValueError("nothing to export: give --figure, --csv and/or --npz")
    from strfviewer.commands.options import check_device, check_number

    size = _parse_size(args.size)
    check_number(args.dpi, "--dpi", low=10, high=2400)
    if args.figure and size[0] * size[1] * args.dpi ** 2 > MAX_FIGURE_PIXELS:
        raise ValueError(f"--dpi {args.dpi:g} with --size {args.size}: {size[0] * args.dpi:.0f} x "
                         f"{size[1] * args.dpi:.0f} pixels is more than {MAX_FIGURE_PIXELS // 10**6} M; "
                         "lower one of them")
    check_device(args.device)
    for option, path, suffixes in (("--figure", args.figure, (".png", ".svg", ".pdf")), ("--csv", args.csv, (".csv",)),
                                   ("--npz", args.npz, (".npz",))):
        if path:  # the format and folder before any slow work
            check_output_suffix(path, option, suffixes)
    args.data = data_source(args)
    model, _axes, metadata, dataset, notes = model_with_data(args.checkpoint, args.data, args.device,
                                                             args.model_args)
    gradmap_bands = _gradmap_bands(model, metadata, dataset)
    predictions = predict(model, dataset, args.device)
    metrics = score(dataset, predictions)
    written = []

    gradmaps, per_channel = None, False
    if args.npz or args.figure:
        maps, per_channel, map_notes = compute_maps(model, None, args.readout, args.per_channel, dataset.dt_ms)
        gradmaps = maps.detach().cpu().numpy().astype(np.float32)
        notes += map_notes

    if args.csv:
        written.append(exports.write_metrics_csv(args.csv, dataset.neuron_names, metrics,
                                                 extra=exports.response_extra(dataset)))
    if args.npz:
        recorded = {s.name: s.psth() for s in dataset.stimuli}
        written.append(exports.write_results_npz(
            args.npz, dataset.neuron_names, gradmap_bands,
            dataset.dt_ms, gradmaps=gradmaps,
            predictions=predictions, recorded=recorded,
            extra={"readout": np.asarray(args.readout), "channels": np.asarray(channel_names(model, per_channel))}))
    if args.figure:
        test = metrics.get("test")
        neuron = pick_neuron(args.neuron, dataset.neuron_names, None if test is None else np.asarray(test.cc_norm))
        stimulus = args.stimulus or next((s.name for s in dataset.stimuli_in("test")), dataset.stimuli[0].name)
        find_stimulus(dataset, stimulus, args.data)
        from strfviewer.gui.exporting import figures  # Qt only for figures

        figures.ensure_app()
        where = ", prefilter output" if per_channel and gradmaps.shape[1] == 1 else ""  # else ON/OFF say it
        panels = figures.panels_for(dataset, neuron, stimulus, {"model": predictions}, -gradmaps,
                                    f"gradmap ({args.readout}{where})", gradmap_bands)
        written.append(figures.save_figure(panels, args.figure, dpi=args.dpi, width_in=size[0], height_in=size[1]))
    if not args.quiet:
        for note in notes:
            print(f"warning: {note}", file=sys.stderr)
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
    return 0
