"""``fit --frontend NAME [--frontend-arg KEY=VALUE ...] [--frontend-lr LR]``: fit on the stimuli's raw audio.

The front-end is any registered ``frontend`` (``strfviewer.models.registry``), looked up by name or alias;
its arguments default to the data's (sample rate, frame step) and, with ``--bands F``, F bands.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The waveform front-end options of ``fit``."""
    from strfviewer.models import registry

    g = p.add_argument_group("waveform front-end (fit on the stimuli's raw audio)")
    g.add_argument("--frontend", metavar="NAME",
                   help="waveform front-end in the model's wav2spec slot: " + ", ".join(registry.names("frontend"))
                        + "; the model then takes audio (the demo or data whose stimuli are audio)")
    g.add_argument("--frontend-arg", action="append", default=[], dest="frontend_args", metavar="KEY=VALUE",
                   help="front-end constructor argument (VALUE parsed as JSON when it can be); the sample rate "
                        "and frame step default to the data's; repeatable")
    g.add_argument("--frontend-lr", type=float, metavar="LR",
                   help="learning rate of a learnable front-end's parameters (default: --lr)")


def spec_fields(args: argparse.Namespace) -> dict:
    """``ModelSpec`` fields of the options (``ValueError`` when front-end options come without --frontend)."""
    from strfviewer.commands.options import parse_assignments

    kwargs = parse_assignments(getattr(args, "frontend_args", None) or [], "--frontend-arg")
    if not getattr(args, "frontend", None):
        if kwargs or getattr(args, "frontend_lr", None) is not None:
            raise ValueError("--frontend-arg and --frontend-lr need --frontend NAME")
        return {}
    return {"frontend": args.frontend, "frontend_kwargs": kwargs}


def resolve(args: argparse.Namespace, spec, dataset):
    """``spec`` with its front-end's arguments completed from ``dataset`` (``--bands`` is the band count);
    ``ValueError`` naming the value for data without audio, a band count other than ``--bands``, a sample
    rate below twice ``f_max``."""
    from strfviewer.data.waveforms import require_audio
    from strfviewer.fit.waveform_mode import resolve_spec

    require_audio(dataset, f"--frontend {args.frontend}")
    return resolve_spec(spec, dataset, n_bands=getattr(args, "bands", None))
