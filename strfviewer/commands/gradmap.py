"""``strfviewer gradmap CHECKPOINT --out FILE.npz``: the gradmaps of every neuron of a saved model.

The NPZ holds ``gradmaps`` ``(N, C, F, T)`` float32 (``g_n = dL_n/dx`` at the null stimulus with
``L_n = -readout(r_n)``: plot ``-gradmaps`` to show excitatory regions as positive), ``freqs_hz (F,)``,
``lags_ms (T,)`` (oldest first, ``-(T-1) dt .. 0``), ``neuron_names (N,)``, ``dt_ms``, ``channels (C,)``
(``spectrogram``, or the prefilter's channels such as ``ON``, ``OFF`` with ``--per-channel``) and
``readout``. Written atomically; loading needs no pickle.

Maps at the raw spectrogram are the default, except for a prefiltered model (AdapTrans, ICAdaptation) whose
raw map is identically zero (its rectifying prefilter sits on the kink at silence, where the derivative is
0): it gets the per-channel maps instead, said on stderr. ``--raw`` and ``--per-channel`` choose
explicitly. Per-channel maps default to the readout's STRF window (``model.T`` frames): at the prefilter's
output nothing older reaches the response.

``--waveform --data DATA --stimulus NAME``: the waveform gradmaps of a model fitted on raw audio instead
(:mod:`strfviewer.commands.waveform_gradmap`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from strfviewer.commands.options import add_compute_options

READOUT_CHOICES = ("last", "mean", "peak")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gradmap", help="compute the gradmaps (effective STRFs) of a saved model",
        description="Compute one gradmap per neuron at the null stimulus (deepSTRF sign convention: "
                    "L = -r[T-1], so -gradmap shows excitation as positive) and write them to an NPZ.")
    add_model_arguments(p, "frames of the null stimulus")
    add_map_choice(p)
    from strfviewer.commands import waveform_gradmap

    waveform_gradmap.add_arguments(p)
    p.set_defaults(run=run)


def add_map_choice(p: argparse.ArgumentParser) -> None:
    """``--per-channel`` / ``--raw`` (``args.per_channel`` True / False; None: see :func:`compute_maps`)."""
    where = p.add_mutually_exclusive_group()
    where.add_argument("--per-channel", dest="per_channel", action="store_const", const=True, default=None,
                       help="gradmaps at the prefilter's output, one per channel (AdapTrans: ON, OFF); the "
                            "default for a prefiltered model whose raw map is zero")
    where.add_argument("--raw", dest="per_channel", action="store_const", const=False,
                       help="gradmaps at the raw spectrogram, even when they are zero")


def add_model_arguments(p: argparse.ArgumentParser, frames_help: str) -> None:
    """Arguments shared by the commands that probe a saved model (gradmap, dream)."""
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint folder (or Hugging Face repo id)")
    p.add_argument("--out", required=True, metavar="FILE.npz", help="output NPZ file")
    p.add_argument("-T", "--frames", type=int, metavar="FRAMES",
                   help=f"{frames_help} (default: the model's temporal reach; 100 ms for recurrent and "
                        "attention models)")
    p.add_argument("--readout", choices=READOUT_CHOICES, default="last",
                   help="response value maximised: last frame, mean over time, or peak (default: %(default)s)")
    add_compute_options(p, quiet_help="no progress or summary on stderr")
    add_model_arg_option(p)


def add_model_arg_option(p: argparse.ArgumentParser) -> None:
    """``--model-arg KEY=VALUE`` (repeatable) -> ``args.model_args``: see :func:`open_checkpoint`."""
    p.add_argument("--model-arg", action="append", default=[], dest="model_args", metavar="KEY=VALUE",
                   help="constructor argument the checkpoint does not store, e.g. prefiltering.kernel_size=651 "
                        "for a deepSTRF checkpoint with a prefilter (dotted keys reach a module's arguments; "
                        "VALUE parsed as JSON when it can be); repeatable")


def _cli_hint(message: str) -> str:
    """A loader message asking for ``extra_kwargs={'slot': {'key': ...}}`` completed with the option."""
    import re

    found = re.search(r"extra_kwargs=\{'(\w+)': \{([^}]*)\}\}", message)
    if not found:
        return message
    keys = re.findall(r"'(\w+)': \.\.\.", found.group(2)) or ["KEY"]
    options = " ".join(f"--model-arg {found.group(1)}.{k}=VALUE" for k in keys)
    return f"{message} (on the command line: {options})"


def open_checkpoint(checkpoint: str, model_args=()):
    """``(model, metadata)`` of a checkpoint; ``model_args`` ``KEY=VALUE`` items (dotted keys nest) go to
    :func:`strfviewer.io.checkpoints.load_checkpoint` as ``extra_kwargs``."""
    from strfviewer.commands.options import parse_assignments
    from strfviewer.io.checkpoints import CheckpointError, load_checkpoint

    extra = parse_assignments(model_args or (), "--model-arg", dotted=True)
    try:
        return load_checkpoint(checkpoint, extra_kwargs=extra or None)
    except CheckpointError as exc:
        hinted = _cli_hint(str(exc))
        if hinted == str(exc):
            raise
        raise ValueError(hinted) from None


def load_model(checkpoint: str, device: str, model_args=()):
    """``(model, axes, metadata)`` of a checkpoint, the model on ``device`` in eval mode (``model_args``: see
    :func:`open_checkpoint`)."""
    import torch

    from strfviewer.analysis.model_axes import ModelAxes

    model, metadata = open_checkpoint(checkpoint, model_args)
    try:
        model = model.to(torch.device(device))
    except (RuntimeError, AssertionError) as exc:
        raise ValueError(f"--device {device}: {exc}") from None
    axes = ModelAxes.from_metadata(metadata, int(model.F), int(model.N))
    return model, axes, metadata


def channel_names(model, per_channel: bool):
    if not per_channel:
        return ["spectrogram"]
    C = int(getattr(model, "C_in", 1) or 1)
    if C == 2 and type(getattr(model, "prefiltering", None)).__name__ == "AdapTrans":
        return ["ON", "OFF"]
    return [f"channel {c}" for c in range(C)] if C > 1 else ["prefiltered"]


def has_prefilter(model) -> bool:
    """Whether the model filters its input before the STRF (AdapTrans, ICAdaptation)."""
    import torch.nn as nn

    prefilter = getattr(model, "prefiltering", None)
    return isinstance(prefilter, nn.Module) and not isinstance(prefilter, nn.Identity)


def compute_maps(model, frames, readout: str, per_channel, dt_ms: float):
    """``(maps (N, C, F, T), per_channel, notes)``. ``per_channel`` None picks: raw maps, or per-channel maps
    for a prefiltered model whose raw maps are all zero. ``frames`` None: each kind's default window."""
    from strfviewer.analysis.gradmaps import default_gradmap_T, strf_gradmap

    def maps_of(at_channels: bool):
        T = frames if frames is not None else default_gradmap_T(model, dt_ms=dt_ms, per_channel=at_channels)
        return strf_gradmap(model, T=T, readout=readout, per_channel=at_channels)

    notes = []
    maps = maps_of(bool(per_channel))
    if not bool(maps.isfinite().all()):
        raise ValueError("the gradmaps hold NaN or infinite values: the model's response is not finite "
                         "(check the checkpoint's weights and --model-arg values)")
    zero = not bool(maps.abs().max() > 0)
    if per_channel is None and zero and has_prefilter(model):
        maps, per_channel = maps_of(True), True
        notes.append(f"the raw-spectrogram gradmaps of this {type(model.prefiltering).__name__} model are zero "
                     "(its rectifying prefilter has zero slope at silence): wrote the per-channel maps at the prefilter's output "
                     "instead (--raw keeps the raw ones)")
    elif zero:
        notes.append("every gradmap is zero" + (" (try --per-channel)" if has_prefilter(model) and not per_channel
                                                else ""))
    return maps, bool(per_channel), notes


def run(args: argparse.Namespace) -> int:
    from strfviewer.commands import waveform_gradmap
    from strfviewer.io.exports import results_arrays, write_npz

    from strfviewer.commands.checkpoint_data import check_output_suffix
    from strfviewer.commands.options import check_device, check_number
    from strfviewer.data.limits import MAX_ANALYSIS_FRAMES

    check_device(args.device)
    check_output_suffix(args.out, "--out", (".npz",))
    waveform_gradmap.check_arguments(args)
    if args.waveform:
        return waveform_gradmap.run(args)
    if args.frames is not None and args.frames < 1:
        raise ValueError(f"-T {args.frames}: needs at least one frame")
    check_number(args.frames, "-T", low=1, high=MAX_ANALYSIS_FRAMES)
    model, axes, _metadata = load_model(args.checkpoint, args.device, args.model_args)
    maps, per_channel, notes = compute_maps(model, args.frames, args.readout, args.per_channel, axes.dt_ms)
    T = int(maps.shape[-1])
    arrays = results_arrays(axes.neuron_names, axes.freqs_hz, axes.dt_ms, gradmaps=maps.cpu().numpy(),
                            lags_ms=axes.lags_ms(T),
                            extra={"channels": channel_names(model, per_channel), "readout": args.readout})
    out = write_npz(Path(args.out).expanduser(), arrays)
    if not args.quiet:
        for note in axes.notes + notes:
            print(f"warning: {note}", file=sys.stderr)
        N, C, F, T = arrays["gradmaps"].shape
        print(f"{type(model).__name__}: {N} gradmap(s), {C} channel(s) x {F} bands x {T} frames "
              f"({T * axes.dt_ms:g} ms, readout {args.readout}) -> {out}", file=sys.stderr)
    return 0
