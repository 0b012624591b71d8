"""``strfviewer dream CHECKPOINT --neurons 0,3 --steps 1500 --out FILE.npz``: synthesise the spectrograms
that drive neurons of a saved model hardest (see :mod:`strfviewer.analysis.dreams`).

The NPZ holds ``stimulus`` ``(K, 1, F, T)`` float32 (one dream per neuron, or one for the population),
``responses`` ``(steps_done + 1, K)`` (row ``s``: the response after ``s`` steps), ``losses (steps_done,)``,
``neurons (K or n,)`` indices, ``neuron_names``, ``freqs_hz (F,)``, ``lags_ms (T,)`` (oldest first),
``dt_ms``, ``population`` and ``settings`` (JSON text). Written atomically; loading needs no pickle.
Ctrl-C stops the dream and still writes what it reached.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import List, Optional

from strfviewer.commands.gradmap import add_model_arguments, load_model


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dream", help="synthesise the stimuli that drive neurons of a saved model hardest",
        description="Gradient ascent (Adam) on the input spectrogram to maximise each chosen neuron's "
                    "response (or the population's mean), from silence, noise or a given spectrogram.")
    add_model_arguments(p, "frames of the dream")
    p.add_argument("--neurons", metavar="I,J,...", help="neuron indices (default: all)")
    p.add_argument("--population", action="store_true", help="one dream for the mean response of --neurons")
    p.add_argument("--steps", type=int, default=1500, help="Adam steps (default: %(default)s)")
    p.add_argument("--lr", type=float, default=0.05, help="Adam learning rate (default: %(default)s)")
    p.add_argument("--init", default="silence", metavar="silence|noise|FILE.npy",
                   help="starting stimulus: silence, noise, or an (F, T) spectrogram in a .npy file "
                        "(default: %(default)s)")
    c = p.add_argument_group("constraints")
    c.add_argument("--clamp", nargs=2, type=float, metavar=("LOW", "HIGH"),
                   help="keep every value of the stimulus within these bounds")
    c.add_argument("--clamp-data", metavar="DATA",
                   help="clamp to the range of DATA's training spectrograms (as strfviewer fit loads them)")
    c.add_argument("--l2", type=float, default=0.0, help="weight of the mean squared value (default: %(default)s)")
    c.add_argument("--smooth", type=float, default=0.0,
                   help="weight of the squared differences between neighbouring frames and bands "
                        "(default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise init (default: %(default)s)")
    p.set_defaults(run=run)


def parse_neurons(text: Optional[str], n_neurons: int) -> Optional[List[int]]:
    if not text:
        return None
    try:
        index = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise ValueError(f"--neurons {text!r}: expected indices such as 0,3,7") from None
    bad = [i for i in index if not 0 <= i < n_neurons]
    if bad or not index:
        raise ValueError(f"--neurons {text!r}: indices must lie in 0..{n_neurons - 1}")
    return index


def check_clamp(args: argparse.Namespace) -> None:
    """``ValueError`` for contradictory or empty clamp options (checked before any slow work)."""
    if args.clamp and args.clamp_data:
        raise ValueError("give --clamp or --clamp-data, not both")
    if args.clamp and not args.clamp[0] < args.clamp[1]:
        raise ValueError(f"--clamp {args.clamp[0]:g} {args.clamp[1]:g}: LOW must be below HIGH")


def parse_clamp(args: argparse.Namespace, metadata=None, notes: Optional[List[str]] = None):
    """``(low, high)`` from ``--clamp``, or the range of ``--clamp-data``'s training spectrograms in the
    model's input domain (loaded with the checkpoint ``metadata``'s front-end and split), or None;
    what could not be matched to the checkpoint is appended to ``notes``."""
    check_clamp(args)
    if args.clamp:
        return tuple(args.clamp)
    if args.clamp_data:
        from strfviewer.analysis.dreams import stimulus_range
        from strfviewer.commands.checkpoint_data import load_for_checkpoint

        dataset, data_notes = load_for_checkpoint(args.clamp_data, metadata)
        if notes is not None:
            notes.extend(data_notes)
        return stimulus_range(dataset)
    return None


#: the most Adam steps a dream may take
MAX_STEPS = 10_000_000
#: the largest --init spectrogram read (values); 16 M float32 values are 64 MiB
MAX_INIT_VALUES = 16 * 1024 * 1024


def parse_init(text: str):
    """``'silence'``, ``'noise'`` or the array of an ``.npy`` file: numbers, finite, ``(F, T)`` or
    ``(K, 1, F, T)``, at most :data:`MAX_INIT_VALUES` values (its header is read before the data)."""
    if text in ("silence", "noise"):
        return text
    path = Path(text).expanduser()
    if path.suffix.lower() != ".npy" or not path.is_file():
        raise ValueError(f"--init {text!r}: expected silence, noise or an existing .npy file")
    import numpy as np

    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _fortran, dtype = read_header(fh)
            if dtype.kind not in "biuf":
                raise ValueError(f"it holds {dtype} values, expected numbers")
            if len(shape) not in (2, 4):
                raise ValueError(f"its shape is {shape}, expected (F, T) or (K, 1, F, T)")
            if int(np.prod(shape, dtype=np.float64)) > MAX_INIT_VALUES:
                raise ValueError(f"its shape {shape} holds more than {MAX_INIT_VALUES} values")
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"--init {path}: not a usable spectrogram .npy ({exc})") from None
    if array.size == 0:
        raise ValueError(f"--init {path}: the array is empty (shape {array.shape})")
    if not np.isfinite(array).all():
        raise ValueError(f"--init {path}: holds {int((~np.isfinite(array)).sum())} NaN or infinite value(s); "
                         "the starting spectrogram must be finite")
    return array


def check_init_fits(init, n_freqs: int, init_text: str) -> None:
    """``ValueError`` naming ``--init`` when its band count is not the model's ``n_freqs``."""
    if isinstance(init, str):
        return
    shape = tuple(init.shape)
    if shape[-2] != n_freqs or (len(shape) == 4 and shape[1] != 1):
        raise ValueError(f"--init {init_text}: shape {shape} does not fit this model: expected (F={n_freqs}, T) "
                         f"or (K, 1, {n_freqs}, T)")


class _Progress:
    """A line on stderr every few percent; nothing when quiet or not a terminal."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()

    def __call__(self, event) -> None:
        if self.enabled and (event.step % max(1, event.steps // 50) == 0 or event.step == event.steps):
            best = float(event.response.max()) if event.response.size else float("nan")
            sys.stderr.write(f"\r\033[Kstep {event.step}/{event.steps}  max response {best:.4g}")
            if event.step == event.steps:
                sys.stderr.write("\n")
            sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from strfviewer.analysis.dreams import dream
    from strfviewer.io.exports import dream_arrays, write_npz

    from strfviewer.commands.checkpoint_data import check_output_suffix
    from strfviewer.commands.options import check_device, check_number
    from strfviewer.data.limits import MAX_ANALYSIS_FRAMES

    check_number(args.steps, "--steps", low=0, high=MAX_STEPS)
    check_number(args.lr, "--lr", low=0)
    if not args.lr > 0:
        raise ValueError(f"--lr {args.lr:g}: must be > 0")
    check_number(args.l2, "--l2", low=0)
    check_number(args.smooth, "--smooth", low=0)
    for bound in args.clamp or ():
        check_number(bound, "--clamp")
    check_device(args.device)
    check_output_suffix(args.out, "--out", (".npz",))
    check_number(args.frames, "-T", low=1, high=MAX_ANALYSIS_FRAMES)
    if args.frames is not None and args.frames < 1:
        raise ValueError(f"-T {args.frames}: needs at least one frame")
    check_clamp(args)
    init = parse_init(args.init)
    if args.frames is not None and not isinstance(init, str):
        raise ValueError(f"-T {args.frames}: the dream takes its length from --init {args.init}; give one of them")
    model, axes, metadata = load_model(args.checkpoint, args.device, args.model_args)
    notes = list(axes.notes)
    clamp = parse_clamp(args, metadata, notes)
    neurons = parse_neurons(args.neurons, int(model.N))
    check_init_fits(init, int(model.F), args.init)
    if args.frames is None and isinstance(init, str):
        from strfviewer.analysis.gradmaps import default_gradmap_T

        T = default_gradmap_T(model, dt_ms=axes.dt_ms)
    else:
        T = args.frames
    stop = threading.Event()
    with _interrupt_sets(stop):
        result = dream(model, neurons=neurons, steps=args.steps, lr=args.lr, init=init, T=T,
                       readout=args.readout, population=args.population, clamp=clamp, l2=args.l2,
                       smooth=args.smooth, seed=args.seed, progress=_Progress(not args.quiet), cancel=stop)
    if not (np.isfinite(result.stimulus.numpy()).all() and np.isfinite(result.responses).all()):
        raise ValueError(f"{args.checkpoint}: the dream diverged (NaN or infinite stimulus or response); "
                         "try a lower --lr or --clamp")
    notes += result.notes
    arrays = dream_arrays(result, axes.neuron_names, axes.freqs_hz, axes.dt_ms)
    out = write_npz(Path(args.out).expanduser(), arrays)
    if not args.quiet:
        for note in notes:
            print(f"warning: {note}", file=sys.stderr)
        what = "population" if result.population else f"{len(result.neurons)} neuron(s)"
        stopped = " (interrupted)" if result.cancelled else ""
        print(f"dreamt {what} for {result.steps_done} step(s){stopped}: mean response "
              f"{result.responses[0].mean():.4g} -> {result.final_response.mean():.4g} -> {out}", file=sys.stderr)
    return 130 if result.cancelled else 0


def _interrupt_sets(stop: threading.Event):
    """While the block runs, Ctrl-C sets ``stop`` (the dream ends after its current step, results kept)
    instead of raising; outside the main thread signals cannot be caught and nothing changes."""
    from strfviewer.commands.interrupts import sigint_calls

    return sigint_calls(lambda signum, frame: stop.set())
