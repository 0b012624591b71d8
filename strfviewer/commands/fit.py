"""``strfviewer fit DATA --model NAME --out DIR``: fit a model headless and write its checkpoint and metrics.

``DIR`` receives the checkpoint (``config.json``, ``model.safetensors``, ``metadata.json`` with the front-end
parameters, band frequencies in Hz, dt in ms, the model spec, the fit request, the metrics and the neuron
names, ``README.md``) and ``metrics.json``::

    {"test": {"cc": [...], "cc_max": [...], "cc_norm": [...], "mean_cc_norm": x, ...}, "val": {...},
     "train": {...}, "epochs": n, "seconds": s, ...}

with NaN written as ``null``. The folder is written atomically (built beside it, swapped in when complete).
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, List, Optional

from strfviewer.commands.data_options import add_reader_options, data_source
from strfviewer.commands.options import add_threads_option
from strfviewer.fit.chunks import default_chunking
from strfviewer.fit.learning_rates import default_learning_rates
from strfviewer.fit.loss_choice import LOSS_CHOICES, default_loss_text
from strfviewer.fit.step_budget import STEPS_PER_EPOCH, default_step_budget
from strfviewer.io.fit_output import metrics_json, os_reason, write_output


def add_parser(sub: argparse._SubParsersAction) -> None:
    from strfviewer.commands.options import RegistryHelpFormatter

    p = sub.add_parser(
        "fit", help="fit a model to a dataset and save its checkpoint and metrics",
        formatter_class=RegistryHelpFormatter,
        description="Fit an encoding model to DATA and write the checkpoint and metrics.json to --out. "
                    "DATA is a cell folder (stimK.wav + spikeK), a population folder, a CRCNS AA1/AA2 "
                    "download, an NWB file, a phy/Kilosort folder (with --events), a deepSTRF benchmark "
                    "download (NS1, NAT4), a CRCNS AC1 download (Wehr or Asari: --experimenter, --site), an NPZ "
                    "file or 'demo'. Spectrograms are z-scored per band.")
    p.add_argument("data", metavar="DATA", help="cell / population folder, NWB file, sorter folder, NPZ file or 'demo'")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (checkpoint + metrics.json)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the checkpoint already in --out (refused otherwise)")
    f = p.add_argument_group("front-end (spectrogram settings; default: 34 mel bands 500 Hz - 16 kHz, 5 ms frames, "
                             "log amplitude)")
    f.add_argument("--bands", type=int, metavar="F", help="number of frequency bands")
    f.add_argument("--dt-ms", type=float, metavar="MS", help="frame (time bin) length in ms")
    f.add_argument("--fmin-hz", type=float, metavar="HZ", help="lowest band centre in Hz")
    f.add_argument("--fmax-hz", type=float, metavar="HZ", help="highest band centre in Hz (capped at Nyquist)")
    f.add_argument("--scale", metavar="S", help="band spacing: mel, erb or log")
    f.add_argument("--compression", metavar="C", help="amplitude compression: log or none")
    f.add_argument("--smoothing-ms", type=float, metavar="MS",
                   help="smooth the responses with a unit-gain Hanning window this wide (e.g. 21)")
    m = p.add_argument_group("model")
    m.add_argument("--model", default="Linear", metavar="NAME",
                   help="model family: {names:model} (registry names or aliases) (default: %(default)s)")
    m.add_argument("--kernel", metavar="K", help="STRF kernel: {names:kernel} (families with a STRF)")
    m.add_argument("--kernel-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="option of the kernel, repeatable: {options:kernel}")
    m.add_argument("--prefilter", metavar="P", help="prefilter: {names:prefilter} (default: none)")
    m.add_argument("--prefilter-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="option of the prefilter, repeatable: {options:prefilter}")
    m.add_argument("--activation", metavar="A", help="output activation: {names:activation} (default: the "
                                                      "family's)")
    m.add_argument("--activation-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="option of the activation, repeatable: {options:activation}")
    m.add_argument("--rnn-type", metavar="R", help="StateNet recurrence: {choices:StateNet.rnn_type}")
    m.add_argument("-T", "--window", type=int, default=15, metavar="FRAMES",
                   help="temporal window of the STRF in frames (default: %(default)s)")
    m.add_argument("--hyper", action="append", default=[], metavar="KEY=VALUE",
                   help="other model constructor argument (VALUE parsed as JSON when it can be); repeatable")
    from strfviewer.commands import frontend_options

    frontend_options.add_arguments(p)
    t = p.add_argument_group("training")
    t.add_argument("--method", choices=("sgd", "ridge"), default="sgd",
                   help="gradient descent (AdamW) or closed-form ridge (Linear with a full kernel) (default: %(default)s)")
    t.add_argument("--epochs", type=int, default=100, help="maximum number of epochs (default: %(default)s)")
    t.add_argument("--patience", type=int, default=10,
                   help="stop after this many epochs without a better validation cc_norm (0: never) (default: %(default)s)")
    t.add_argument("--lr", type=float, default=None,
                   help=f"AdamW learning rate (default: the family's: {default_learning_rates()})")
    t.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay (default: %(default)s)")
    t.add_argument("--batch-size", type=_batch_size, default=None, metavar="N|auto",
                   help=f"stimuli (or chunks) per optimisation step; auto: {default_step_budget()}, i.e. 1 stimulus "
                        f"per step on datasets of up to {STEPS_PER_EPOCH} training stimuli (default: auto)")
    t.add_argument("--loss", choices=LOSS_CHOICES, default="auto",
                   help=f"loss on the trial mean; auto: {default_loss_text()} (default: %(default)s)")
    t.add_argument("--metric", choices=("sp", "split_half"), default="sp",
                   help="noise ceiling: signal power (Schoppe 2016) or split-half (Hsu 2004) (default: %(default)s)")
    t.add_argument("--split", metavar="TRAIN,VAL,TEST",
                   help="stimulus split fractions in natural name order (default: the dataset's, 70/15/15)")
    t.add_argument("--no-warm-start", action="store_true",
                   help="start from the random initialisation: not Linear/LinearNonlinear from the ridge STRFs "
                        "(each kernel with a warm start keeps what it can of them; the fit's message says when a "
                        "kernel starts cold), NRF/DNet's hidden units from their leading components, or "
                        "ConvNet2D's deeper convolutions with identity taps")
    t.add_argument("--no-calibrate", action="store_true",
                   help="do not place the output nonlinearity at each neuron's mean rate before SGD")
    t.add_argument("--chunk-frames", type=int, metavar="N",
                   help="train on chunks of N scored frames (truncated back-propagation through time); "
                        f"default: {default_chunking()}, none otherwise; 0 turns it off")
    t.add_argument("--chunk-warmup", type=int, metavar="N",
                   help="unscored context frames before each chunk (default: the model's reach, or 25)")
    t.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 or mps (default: %(default)s)")
    t.add_argument("--seed", type=int, default=0, help="random seed (same seed, same fit on CPU) (default: %(default)s)")
    add_threads_option(t)
    add_reader_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--history", metavar="DB", help="run history to record this fit in (default: $STRFVIEWER_HISTORY "
                                                  "or runs.sqlite in the user data folder)")
    p.add_argument("--no-history", action="store_true", help="do not record this fit in the run history")
    p.set_defaults(run=run)


def _parse_hyper(items: List[str], option: str = "--hyper") -> Dict[str, Any]:
    from strfviewer.commands.options import parse_assignments

    return parse_assignments(items, option)


def _batch_size(text: str):
    """``--batch-size``: an integer or ``auto`` (``None``); the range is the request's to check."""
    if str(text).strip().lower() == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', not {text!r}") from None


def _parse_split(text: Optional[str]):
    if not text:
        return None
    try:
        fractions = [float(x) for x in text.split(",")]
    except ValueError:
        raise ValueError(f"--split {text!r}: expected three fractions such as 0.7,0.15,0.15") from None
    if len(fractions) != 3:
        raise ValueError(f"--split {text!r}: expected three fractions such as 0.7,0.15,0.15")
    return fractions


#: command-line option (argparse dest) -> SpectrogramConfig field
FRONTEND_OPTIONS = {"bands": "n_bands", "dt_ms": "dt_ms", "fmin_hz": "f_min_hz", "fmax_hz": "f_max_hz",
                    "scale": "scale", "compression": "compression"}


def frontend_config(args: argparse.Namespace):
    """The :class:`SpectrogramConfig` the front-end options describe (``None`` when none is given: the
    loader's default); ``ValueError`` naming the bad setting."""
    from strfviewer.data.spectrogram import SpectrogramConfig

    given = {field: getattr(args, dest) for dest, field in FRONTEND_OPTIONS.items()
             if getattr(args, dest, None) is not None}
    for field in ("scale", "compression"):  # names in any case: --scale MEL, --compression Log
        if isinstance(given.get(field), str):
            given[field] = given[field].strip().lower()
    if not given:
        return None
    if str(args.data).strip().lower() == "demo":
        from strfviewer.data.demo import DEMO_LOG_OFFSET

        base = SpectrogramConfig(log_offset=DEMO_LOG_OFFSET)  # the demo's own default floor
    else:
        base = SpectrogramConfig()
    for dest, field in FRONTEND_OPTIONS.items():  # name the option a refused value came from
        if field in given:
            try:
                base.replace(**{field: given[field]})
            except ValueError as exc:
                if field in str(exc) and not (field in ("f_min_hz", "f_max_hz") and len(given) > 1):
                    raise ValueError(f"--{dest.replace('_', '-')} {given[field]}: {exc}") from None
    return base.replace(**given)


def _smoothing_ms(args: argparse.Namespace) -> Optional[float]:
    value = getattr(args, "smoothing_ms", None)
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ValueError(f"--smoothing-ms must be > 0, not {value:g}")
    return value


#: the most CPU threads --threads may ask for
MAX_THREADS = 1024


def build_request(args: argparse.Namespace):
    """The :class:`FitRequest` the command line describes (``ValueError`` on bad values)."""
    from strfviewer.commands import frontend_options
    from strfviewer.commands.options import check_device, check_number
    from strfviewer.fit.run import FitRequest
    from strfviewer.models import registry
    from strfviewer.models.factory import ModelSpec, check_spec, normalized_spec

    check_number(args.threads, "--threads", low=1, high=MAX_THREADS)
    check_device(args.device)
    spec = normalized_spec(ModelSpec(
        family=registry.canonical("model", args.model), kernel=args.kernel, prefilter=args.prefilter,
        activation=args.activation, rnn_type=args.rnn_type, T=int(args.window), hyper=_parse_hyper(args.hyper),
        **frontend_options.spec_fields(args),
        **{f"{part}_kwargs": _parse_hyper(getattr(args, f"{part}_arg"), f"--{part}-arg")
           for part in ("kernel", "prefilter", "activation")}))
    reasons = check_spec(spec)
    if reasons:
        raise ValueError("invalid model: " + "; ".join(reasons))
    request = FitRequest(spec=spec, method=args.method, epochs=args.epochs, patience=args.patience,
                         lr=args.lr, weight_decay=args.weight_decay, batch_size=args.batch_size, seed=args.seed,
                         device=args.device, split=_parse_split(args.split), loss=args.loss,
                         metric_method=args.metric, warm_start=not args.no_warm_start, num_threads=args.threads,
                         chunk_frames=args.chunk_frames, chunk_warmup=args.chunk_warmup,
                         calibrate=not args.no_calibrate, frontend_lr=getattr(args, "frontend_lr", None))
    problems = request.problems()
    if problems:
        raise ValueError("; ".join(problems))
    return request


class _ProgressBar:
    """One updating line on a terminal; nothing when piped or quiet."""

    def __init__(self, stream, enabled: bool):
        self.stream = stream
        self.enabled = enabled and hasattr(stream, "isatty") and stream.isatty()

    def __call__(self, ev) -> None:
        if not self.enabled:
            return
        total = max(ev.max_epochs, 1)
        done = (ev.epoch - 1 + ev.step / max(ev.n_steps, 1)) if ev.kind == "step" else ev.epoch
        width = 24
        filled = int(width * min(done / total, 1.0))
        bar = "#" * filled + "-" * (width - filled)
        val = f" val cc_norm {ev.val_cc_norm:.3f}" if ev.val_cc_norm is not None else ""
        eta = f" eta {ev.eta_s:.0f}s" if ev.eta_s else ""
        loss = f" loss {ev.train_loss:.4g}" if ev.train_loss is not None and math.isfinite(ev.train_loss) else ""
        self.stream.write(f"\r\033[K[{bar}] epoch {ev.epoch}/{ev.max_epochs}{loss}{val}{eta}")
        if ev.kind == "done":
            self.stream.write("\n")
        self.stream.flush()


def refuse_existing_output(out: Path, overwrite: bool) -> None:
    """``ValueError`` (one line) when ``out`` already holds a fit's output and ``overwrite`` is not set:
    an earlier fit is never replaced by accident."""
    from strfviewer.io.fit_output import METRICS_FILE

    out = Path(out).expanduser()
    if not overwrite and out.is_dir() and any((out / name).exists() for name in
                                              ("config.json", "model.safetensors", METRICS_FILE)):
        raise ValueError(f"--out {out}: already holds a checkpoint; give --overwrite to replace it "
                         f"or choose another folder")


def check_writable(out: Path) -> None:
    """``ValueError`` (one readable line) when the output folder ``out`` cannot be created beside its
    parent; checked before a fit so that hours of fitting are not lost at the end."""
    import tempfile

    out = Path(out).expanduser()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".probe", dir=out.parent)).rmdir()
    except OSError as exc:
        raise ValueError(f"--out {out}: cannot create the folder ({os_reason(exc)})") from None


def run(args: argparse.Namespace) -> int:
    from strfviewer.data import load
    from strfviewer.fit.run import run_fit
    from strfviewer.data.identity import dataset_hash

    args.data = data_source(args)
    request = build_request(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder")
    refuse_existing_output(out, overwrite=args.overwrite)
    check_writable(out)
    frontend, smoothing_ms = frontend_config(args), _smoothing_ms(args)
    history = None if args.no_history else _open_history(args.history)  # before loading: a bad file fails fast
    t0 = time.perf_counter()
    try:
        dataset = load(args.data, frontend=frontend, smoothing_ms=smoothing_ms)
    except BaseException:
        if history is not None:
            history.close()
        raise
    if request.spec.frontend:
        from strfviewer.commands import frontend_options

        request.spec = frontend_options.resolve(args, request.spec, dataset)
    if frontend is not None and (str(args.data).lower().endswith(".npz") or dataset.frontend.get("precomputed")):
        print(f"warning: {args.data}: the spectrograms are precomputed in the data; the front-end options were "
              f"ignored", file=sys.stderr)
    quiet = args.quiet
    if not quiet:
        print(f"{dataset.name or dataset.source}: {dataset.n_neurons} neuron(s), {len(dataset.stimuli)} stimuli, "
              f"F={dataset.n_freqs}, dt={dataset.dt_ms:g} ms, responses in {dataset.response_label} "
              f"(loaded in {time.perf_counter() - t0:.1f} s)",
              file=sys.stderr)
        for w in dataset.warnings:
            print(f"warning: {w}", file=sys.stderr)
    data_hash = dataset_hash(str(args.data))
    recorder = None if history is None else _HistoryRecorder(history, args.data, request, data_hash)
    cancel = threading.Event()
    try:
        with _first_interrupt_cancels(cancel):
            outcome = run_fit(dataset, request, progress=_ProgressBar(sys.stderr, not quiet), cancel=cancel)
            write_output(out, outcome, dataset, request, data_hash)
    except BaseException as exc:
        if recorder is not None:
            recorder.failed(exc)
        raise
    if recorder is not None:
        recorder.done(outcome, dataset, out)
    for reason in outcome.warnings:  # usable but worse than it looks: said even with --quiet
        print(f"warning: {reason}", file=sys.stderr)
    if not quiet:
        parts = ", ".join(f"{part} cc_norm {m.mean_cc_norm:.3f}" for part, m in outcome.metrics.items())
        print(f"{request.spec.family} ({request.method}): {outcome.message}", file=sys.stderr)
        print(f"{parts}; {outcome.history.n_epochs} epoch(s) in {outcome.seconds:.1f} s -> {out}", file=sys.stderr)
        for warning in outcome.details.get("data_warnings", []):
            print(f"warning: {warning}", file=sys.stderr)
        for part, m in outcome.metrics.items():  # e.g. single-trial neurons: their cc_norm is the plain cc
            for note in m.notes:
                print(f"note ({part}): {note}", file=sys.stderr)
    return 0


@contextmanager
def _first_interrupt_cancels(cancel: threading.Event):
    """While inside: the first Ctrl-C (SIGINT) sets ``cancel`` (the fit stops after its current step and the
    best weights so far are written), a second one raises ``KeyboardInterrupt`` (abort, exit code 130).
    Outside the main thread (no signal handlers there) nothing changes."""
    from strfviewer.commands.interrupts import sigint_calls

    def on_sigint(signum, frame):
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\ncancelling: stopping after this step and writing the best weights so far "
              "(Ctrl-C again aborts without writing)", file=sys.stderr, flush=True)

    with sigint_calls(on_sigint):
        yield


def _open_history(path):
    """The run history at ``path`` (default: the user's), checked writable; ``ValueError`` naming it."""
    from strfviewer.runs.history import HistoryError, RunHistory

    try:
        history = RunHistory(path)
        history.check_writable()
    except (HistoryError, OSError) as exc:
        raise ValueError(f"--history: {exc} (or give --no-history)") from None
    return history


class _HistoryRecorder:
    """Records one CLI fit in the run history: a 'running' row now, its result (or failure) at the end."""

    def __init__(self, history, data: str, request, data_hash: str) -> None:
        self.history = history
        self.run_id = self.history.start_run({"spec": request.spec.to_dict(), "request": request.to_dict()},
                                             dataset_path=str(data), dataset_hash=data_hash,
                                             source="cli")
        self.t0 = time.perf_counter()

    def done(self, outcome, dataset, out: Path) -> None:
        from strfviewer.models.factory import n_trainable_params

        n_params = n_trainable_params(outcome.model)
        self.history.finish_run(self.run_id, metrics=metrics_json(outcome),
                                neuron_names=list(dataset.neuron_names), n_params=int(n_params),
                                epochs=outcome.history.n_epochs, seconds=float(outcome.seconds),
                                device=str(outcome.device), checkpoint=str(Path(out).resolve()),
                                status="cancelled" if outcome.cancelled else ("warning" if outcome.warnings
                                                                               else "done"),
                                error="; ".join(outcome.warnings) or None)
        self.history.close()

    def failed(self, exc: BaseException) -> None:
        from strfviewer.runs.trial import describe_exception

        self.history.fail_run(self.run_id, describe_exception(exc), seconds=time.perf_counter() - self.t0)
        self.history.close()

