"""``strfviewer runs``: list, filter, summarise, export and delete runs of the run history."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from strfviewer.runs.history import RunHistory, default_history_path
from strfviewer.runs.summary import distinguishing_settings, summarize


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="list and filter past fits (the run history)",
                       description="List, filter, summarise, export or delete runs recorded in the run history "
                                   f"(default {default_history_path()}, or $STRFVIEWER_HISTORY).")
    p.add_argument("--history", help="run history database (SQLite file)")
    p.add_argument("--family", help="only this model family (e.g. Linear, StateNet)")
    p.add_argument("--status", choices=("running", "done", "failed", "cancelled", "warning"), help="only runs with this status")
    p.add_argument("--dataset", help="only runs on this dataset content hash")
    p.add_argument("--sweep", help="only runs of this sweep (by name)")
    p.add_argument("--grep", help="text to match in family, kernel, prefilter or dataset path")
    p.add_argument("--sort", default="id", help="column to sort by (id, mean_test_cc_norm, seconds, ...)")
    p.add_argument("--desc", action="store_true", help="sort descending")
    p.add_argument("--limit", type=int, help="at most this many runs")
    p.add_argument("--summary", action="store_true",
                   help="one line per configuration: mean and spread of test cc_norm over seeds and cells")
    p.add_argument("--csv", metavar="FILE", help="write the (filtered) runs as CSV to FILE instead of printing")
    p.add_argument("--delete", type=int, metavar="ID", help="delete the run with this id")
    p.add_argument("--export-tensorboard", metavar="DIR",
                   help="write the (filtered) runs as TensorBoard event files under DIR (settings, per-epoch "
                        "curves, per-neuron cc_norm scalars and histograms); needs the 'tensorboard' extra")
    p.add_argument("--export-mlflow", metavar="DIR",
                   help="log the (filtered) runs into an MLflow file store at DIR (no server; view with "
                        "mlflow ui --backend-store-uri DIR); needs the 'mlflow' extra")
    p.set_defaults(run=run)


def _export_trackers(args: argparse.Namespace, records) -> None:
    from strfviewer.runs.tracking_export import TrackerMissing, export_mlflow, export_tensorboard

    for folder, export, name in ((args.export_tensorboard, export_tensorboard, "TensorBoard"),
                                 (args.export_mlflow, export_mlflow, "MLflow")):
        if not folder:
            continue
        try:
            written, skipped = export(records, folder)
        except TrackerMissing as exc:
            raise ValueError(str(exc)) from None
        except OSError as exc:
            raise ValueError(f"{folder}: cannot write ({exc.strerror or exc})") from None
        note = f" ({skipped} already there, skipped)" if skipped else ""
        print(f"exported {written} run(s) to {name} at {folder}{note}")


def _check(args: argparse.Namespace) -> None:
    from strfviewer.commands.checkpoint_data import check_output_suffix

    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit {args.limit}: expected at least 1 run")
    if args.csv:
        check_output_suffix(args.csv, "--csv", (".csv",))
    actions = [option for option, given in (("--delete", args.delete is not None), ("--csv", args.csv),
                                            ("--export-tensorboard/--export-mlflow",
                                             args.export_tensorboard or args.export_mlflow),
                                            ("--summary", args.summary)) if given]
    if len(actions) > 1:
        raise ValueError(f"{actions[0]} and {actions[1]} cannot be combined: give one of them per call")
    if args.history and not Path(args.history).expanduser().exists():   # reading must not create a database
        raise ValueError(f"--history {args.history}: no such run history (fit with --history to start one)")


def run(args: argparse.Namespace) -> int:
    _check(args)
    with RunHistory(args.history) as h:
        if args.delete is not None:
            r = h.get(args.delete)
            h.delete_run(args.delete)
            print(f"deleted run {r.id} ({r.label()})")
            return 0
        records = h.runs(family=args.family, status=args.status, dataset_hash=args.dataset,
                         source_prefix=f"sweep:{args.sweep}" if args.sweep else None, text=args.grep,
                         order_by=args.sort, descending=args.desc, limit=args.limit)
        if args.csv:
            h.export_csv(args.csv, records)
            print(f"wrote {len(records)} run(s) to {args.csv}")
            return 0
        if args.export_tensorboard or args.export_mlflow:
            _export_trackers(args, records)
            return 0
    out = sys.stdout
    if args.summary:
        rows = summarize(records)
        labels = [s.label + (f" ({settings})" if settings else "")  # what sets same-named configurations apart
                  for s, settings in zip(rows, distinguishing_settings(rows))]
        width = max([len("configuration")] + [len(label) for label in labels])
        out.write(f"{'configuration':{width}s} {'runs':>5s} {'cells':>5s} {'seeds':>5s} {'mean':>7s} {'sd':>7s}\n")
        for s, label in zip(rows, labels):
            sd = "-" if s.n_runs < 2 or not math.isfinite(s.std) else f"{s.std:.3f}"  # no spread from one run
            out.write(f"{label:{width}s} {s.n_runs:5d} {s.n_datasets:5d} {s.n_seeds:5d} {s.mean:7.3f} "
                      f"{sd:>7s}\n")
        return 0
    width = max([len("model")] + [len(r.label()) for r in records])
    out.write(f"{'id':>5s} {'status':9s} {'model':{width}s} {'cc_norm':>7s} {'epochs':>6s} {'sec':>7s} dataset\n")
    for r in records:
        cc = "" if r.mean_test_cc_norm is None else f"{r.mean_test_cc_norm:.3f}"
        sec = "" if r.seconds is None else f"{r.seconds:.1f}"
        out.write(f"{r.id:5d} {r.status:9s} {r.label():{width}s} {cc:>7s} {r.epochs or '':>6} {sec:>7s} "
                  f"{r.dataset_path or ''}\n")
    return 0
