"""``strfviewer compare CKPT_A CKPT_B --data DATA --out comparison.csv [--figure comparison.pdf]``.

Paired comparison of two saved models of the same neurons (:mod:`strfviewer.analysis.compare`): each model
predicts the stimuli of the test split (of model A's checkpoint, or ``--split``) with its own front-end; the
CSV has one row per neuron (``cc_norm_a``, ``cc_norm_b``, ``difference`` = B - A, ``noise_sd``, ``z``,
``differs``); the summary (mean difference with its bootstrap interval, Wilcoxon signed-rank p, neurons
beyond their own noise) is printed and drawn in the figure (scatter A vs B, histogram of differences).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from strfviewer.commands.data_options import add_data_option, data_source
from strfviewer.commands.gradmap import add_model_arg_option
from strfviewer.commands.options import add_compute_options
from strfviewer.analysis.compare import DEFAULT_Z


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare two saved models on the same neurons (paired statistics)",
                       description="Per-neuron cc_norm of two models, the mean difference with a bootstrap "
                                   "interval, a Wilcoxon signed-rank test and the neurons that differ beyond "
                                   "their own trial noise.")
    p.add_argument("checkpoint_a", metavar="CKPT_A", help="checkpoint folder of run A")
    p.add_argument("checkpoint_b", metavar="CKPT_B", help="checkpoint folder of run B")
    add_data_option(p, "data folder, NWB file, sorter folder, NPZ file or 'demo'", required=True)
    p.add_argument("--out", required=True, metavar="FILE.csv", help="per-neuron table (CSV)")
    p.add_argument("--figure", metavar="FILE", help="figure: .png, .svg or .pdf")
    p.add_argument("--split", choices=("test", "val", "train"), default="test",
                   help="stimuli scored (default: %(default)s)")
    p.add_argument("--splits", type=int, default=50, metavar="N",
                   help="random half-splits of the trials for the per-neuron noise (default: %(default)s)")
    p.add_argument("--threshold", type=float, default=DEFAULT_Z, metavar="Z",
                   help="|z| above which a neuron differs beyond its noise (default: %(default)s)")
    add_compute_options(p)
    add_model_arg_option(p)
    p.set_defaults(run=run)


def _check(args: argparse.Namespace) -> None:
    from strfviewer.commands.checkpoint_data import check_data_option, check_output_suffix

    check_output_suffix(args.out, "--out", (".csv",))
    if args.figure:
        check_output_suffix(args.figure, "--figure", (".png", ".svg", ".pdf"))
    if args.splits < 2:
        raise ValueError(f"--splits {args.splits}: expected at least 2")
    if not (np.isfinite(args.threshold) and args.threshold > 0):
        raise ValueError(f"--threshold {args.threshold}: expected a number > 0")
    for option, path in (("CKPT_A", args.checkpoint_a), ("CKPT_B", args.checkpoint_b)):
        if not Path(path).expanduser().exists() and "/" not in path:
            raise ValueError(f"{option} {path}: no such checkpoint folder")
    check_data_option(args.data)


def run_name(checkpoint: str) -> str:
    """A short label for a checkpoint folder."""
    return Path(checkpoint).expanduser().name or str(checkpoint)


def run(args: argparse.Namespace) -> int:
    from strfviewer.analysis.compare import compare_runs
    from strfviewer.commands.checkpoint_data import model_with_data
    from strfviewer.fit.run import predict
    from strfviewer.io.exports import write_table_csv

    _check(args)
    args.data = data_source(args)
    model_a, _, _, data_a, notes = model_with_data(args.checkpoint_a, args.data, args.device, args.model_args)
    model_b, _, _, data_b, notes_b = model_with_data(args.checkpoint_b, args.data, args.device, args.model_args)
    notes += [n for n in notes_b if n not in notes]
    if list(data_a.neuron_names) != list(data_b.neuron_names):
        raise ValueError(f"{args.checkpoint_a} and {args.checkpoint_b}: the data load with different neurons")
    stimuli = data_a.stimuli_in(args.split)
    if not stimuli:
        raise ValueError(f"{args.data}: no {args.split} stimuli in the split of {args.checkpoint_a}")
    names = [s.name for s in stimuli]
    pred_a = predict(model_a, data_a, args.device, stimuli=stimuli)
    pred_b = predict(model_b, data_b, args.device, stimuli=[data_b.stimulus(n) for n in names])
    if any(not np.array_equal(s.responses, data_b.stimulus(s.name).responses, equal_nan=True) for s in stimuli):
        notes.append("the two checkpoints load the responses differently (smoothing): both are scored against "
                     "run A's")
    result = compare_runs([s.responses for s in stimuli], [pred_a[n] for n in names], [pred_b[n] for n in names],
                          n_splits=args.splits, z_threshold=args.threshold)
    header = ["neuron", "cc_norm_a", "cc_norm_b", "difference", "noise_sd", "z", "differs"]
    rows = [[name, result.cc_norm_a[i], result.cc_norm_b[i], result.difference[i], result.noise_sd[i],
             result.z[i], int(result.differs[i])] for i, name in enumerate(data_a.neuron_names)]
    written = [write_table_csv(args.out, header, rows)]
    name_a, name_b = run_name(args.checkpoint_a), run_name(args.checkpoint_b)
    if name_a == name_b:
        name_a, name_b = "A", "B"
    if args.figure:
        from strfviewer.gui.exporting.figures import save_widgets  # Qt only for figures
        from strfviewer.gui.findings.compare_figure import build_compare_figure

        widget = build_compare_figure(result, name_a, name_b, title=f"{name_b} vs {name_a} ({len(names)} "
                                                                      f"{args.split} stimuli)")
        written.append(save_widgets([widget], args.figure, dpi=300.0, title="strfviewer comparison"))
    if not args.quiet:
        for note in notes:
            print(f"warning: {note}", file=sys.stderr)
        print("\n".join(result.summary_lines(name_a, name_b)))
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
    return 0
