"""``strfviewer sweep SWEEP.toml``: fit a grid of models x seeds x cells locally or on a Ray cluster."""

from __future__ import annotations

import argparse
import sys
import time

from strfviewer.commands.interrupts import sigint_calls
from strfviewer.commands.options import add_threads_option
from strfviewer.runs.history import RunHistory, default_history_path
from strfviewer.runs.sweep_spec import SweepSpec
from strfviewer.runs.sweeper import CancelToken, SweepProgress, run_sweep


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="run a sweep of fits described in a TOML file",
                       description="Fit every (model configuration x seed x dataset) of a sweep file, skipping "
                                   "trials already in the run history. Ctrl-C once stops pending trials and "
                                   "lets running ones finish; twice kills them. See docs/sweeps.md.")
    p.add_argument("sweep_file", help="the sweep description (TOML)")
    p.add_argument("--workers", type=int, help="local worker processes (default: one per core)")
    add_threads_option(p, help="torch threads per trial (default: the cores split between the local workers; "
                               "1 per Ray task)", in_this_process=False)
    p.add_argument("--address", help="run on a Ray cluster: 'auto', 'ray://host:10001', or 'local' to start one here")
    p.add_argument("--history", help=f"run history database (default {default_history_path()}, or "
                                     "$STRFVIEWER_HISTORY)")
    p.add_argument("--checkpoints", help="folder for the trials' checkpoints (default: runs/ beside the history)")
    p.add_argument("--dry-run", action="store_true", help="list the trials and exit")
    p.add_argument("--force", action="store_true",
                   help="run every trial, even those already done in the run history (same configuration, "
                        "seed and data, under any sweep name)")
    p.set_defaults(run=run)


def _printer(stream):
    tty = stream.isatty()
    last = [0.0]

    def show(p: SweepProgress) -> None:
        eta = "" if p.eta_s is None else f" eta {p.eta_s:.0f}s"
        line = (f"done {p.done} running {p.running} failed {p.failed} skipped {p.skipped} "
                f"cancelled {p.cancelled} remaining {p.remaining} / {p.total}{eta}")
        if tty:
            stream.write("\r\033[K" + line)
            if p.last:
                stream.write("\n" + p.last + "\n")
        elif p.last or time.monotonic() - last[0] > 5:
            stream.write(line + (f" | {p.last}" if p.last else "") + "\n")
            last[0] = time.monotonic()
        p.last = ""
        stream.flush()

    return show


def run(args: argparse.Namespace) -> int:
    from strfviewer.runs.executors import make_executor

    from strfviewer.commands.options import check_number

    check_number(args.workers, "--workers", low=1, high=1024)
    spec = SweepSpec.from_toml(args.sweep_file)
    trials = spec.trials()
    if args.dry_run:
        invalid = 0
        for t in trials:
            problems = t.problems()
            invalid += bool(problems)
            print(t.label() + (f"  <- invalid: {'; '.join(problems)}" if problems else ""))
        print(f"{len(trials)} trial(s)" + (f", {invalid} invalid" if invalid else ""))
        return 2 if invalid else 0
    cancel = CancelToken()

    def on_sigint(signum, frame):
        level = cancel.request()
        msg = ("cancel requested: pending trials will not start; running ones finish (Ctrl-C again kills them)"
               if level == 1 else "killing running trials")
        print(f"\n{msg}", file=sys.stderr)

    with sigint_calls(on_sigint):
        if args.threads is not None and args.threads < 1:
            raise ValueError(f"--threads {args.threads}: needs at least 1 thread")
        executor = make_executor(args.address, args.workers, args.threads)
        print(f"sweep {spec.name!r}: {len(trials)} trial(s) on {executor.describe()}", file=sys.stderr)
        try:
            with RunHistory(args.history) as history:
                report = run_sweep(spec, history, executor, checkpoints_dir=args.checkpoints,
                                   progress=_printer(sys.stderr), cancel=cancel, force=args.force)
        finally:
            executor.shutdown()
    p = report.progress
    print(f"sweep {spec.name!r} finished: {p.done} done, {p.failed} failed, {p.skipped} skipped (already in the "
          f"history), {p.cancelled} cancelled")
    if report.matched:
        print(f"  skipped trials match finished {report.describe_matched()} (same configuration, seed and data; "
              f"the sweep's name does not count); --force runs them again")
    for label, err in report.errors.items():
        print(f"  failed: {label}: {err}")
    return 1 if p.failed else 0
