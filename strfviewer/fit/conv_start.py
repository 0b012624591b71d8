"""ConvNet2D's start: its deeper convolutions also pass their input straight through.

A freshly initialised ConvNet2D (three ``Conv2d -> LayerNorm over channels -> LeakyReLU`` blocks, PyTorch's
random weights) sits for 3-13 epochs on a plateau before its convolutions learn features worth reading out: on
the STRFlab cell its test cc_norm stays at 0.35-0.45, below a linear STRF's 0.56, for the first 4-6 epochs of
strfviewer's fit and 4-13 of deepSTRF's (through three random layers the readout sees little of the spectrogram
it could use; deep linear networks started small plateau alike). :func:`add_identity_taps` adds ``scale`` to
each channel's own weight at the middle frequency tap and the current frame (the last time tap: the stack is
causally padded) of every convolution after the first, on top of the random weights: each deeper layer starts
as its input plus random features (the "delta" initialisation of deep convolutional networks), so at the start
the readout sees the first layer's 3 x 9 features nearly as they are: after two epochs on the cell, test cc_norm
0.51-0.72 over seeds 0-5 against 0.34-0.40 from the random weights alone.

Measured (docs/models.md, docs/benchmarks.md) against deepSTRF 0.1.0 on the same arrays, seeds 0-11: on the
STRFlab cell the median time to deepSTRF's final score is 0.43x instead of 0.66x and the mean test cc_norm
+0.044 ahead instead of +0.035; on the demo population the test cc_norm is 0.972 instead of 0.976 (deepSTRF
0.942) at about the same time (0.47x against 0.49x): the demo neurons' longer STRFs are built more slowly by
deeper layers that start near the identity. Scale 1 was as fast on the cell but lower on the demo (0.967 over
seeds 0-5); 0.3 was slower on the cell (0.48x over seeds 0-5).

The fit's ``warm_start`` option turns it off (``--no-warm-start``), like the ridge starts of other families.
"""

from __future__ import annotations

from typing import List

import torch
import torch.nn as nn

#: The weight added at each deeper convolution's identity tap (the layers' random weights are kept).
IDENTITY_TAP_SCALE = 0.5

#: Families whose fit starts with :func:`add_identity_taps`.
IDENTITY_START_FAMILIES = ("ConvNet2D",)


def add_identity_taps(model: nn.Module, scale: float = IDENTITY_TAP_SCALE) -> str:
    """Adds ``scale`` to ``weight[c, c, K_F // 2, K_T - 1]`` (channel ``c`` to itself, middle frequency tap,
    current frame) of every ``Conv2d`` in ``model.core`` after the first whose input and output channels are
    the same, in place. Returns what it did (``details["warm_start"]``), ``""`` when the model has no such
    convolution (nothing changed)."""
    core = getattr(model, "core", None)
    convs = [m for m in core.modules() if isinstance(m, nn.Conv2d)] if isinstance(core, nn.Module) else []
    seeded: List[int] = []
    with torch.no_grad():
        for index, conv in enumerate(convs[1:], start=2):
            if conv.in_channels != conv.out_channels or conv.groups != 1:
                continue
            k_f, k_t = conv.kernel_size
            channels = torch.arange(conv.out_channels)
            conv.weight[channels, channels, k_f // 2, k_t - 1] += scale
            seeded.append(index)
    if not seeded:
        return ""
    which = " and ".join(str(i) for i in seeded) if len(seeded) <= 2 else ", ".join(str(i) for i in seeded)
    return f"identity taps on convolution{'s' if len(seeded) > 1 else ''} {which} (+{scale:g})"
