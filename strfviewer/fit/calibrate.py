"""Data-driven initialisation of a model's output stage before gradient descent.

A freshly initialised model whose readout is a per-frame linear map followed by a
``ParametricSoftplus`` (``f(x) = softplus(beta x) / beta + b``; StateNet, ConvNet2D, Transformer) starts far
from the data: its mean output is several times the neuron's mean rate (a few hundredths of a spike per
5 ms bin), so the first hundreds of steps only pull every frame down into the flat part of the softplus
(the "mean-collapse" plateau) before any structure is learnt. :func:`calibrate_output` removes that
detour: per neuron it sets the baseline ``b = y/2`` and the sharpness ``beta = log(2) / (y/2)`` capped at
``max_beta``, and shifts the last linear layer's bias so that the mean pre-activation on the training stimuli
sits where the output equals the mean rate ``y`` (the kink when ``beta`` is not capped, its tail when it is).

The cap is 1 by default. A sharp kink (it was 10) lets a unit die: Adam's first steps move every readout weight
by about the learning rate in the same direction, so a wide readout (StateNet with 32 hidden channels: 320
inputs) shifted the pre-activation by several kink widths within three steps, into the part of the softplus
that is flat to float precision; every prediction was then the baseline, and the validation cc_norm NaN at
every epoch (issue #13). With ``beta = 1`` the same shift stays on the exponential tail, where the gradient
still pulls the unit back. On the STRFlab cell StateNet GRU (7 channels) leaves its plateau in the first
epochs either way.
"""

from __future__ import annotations

import math
from typing import List, Sequence

import torch
from torch import nn

from strfviewer.fit.readout_frames import iter_readout_frames


def _last_linear(module: nn.Module):
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


def _inverse_softplus(y: torch.Tensor) -> torch.Tensor:
    return torch.where(y > 20, y, torch.log(torch.expm1(y.clamp(min=1e-6))))


@torch.no_grad()
def calibrate_output(model: nn.Module, stimuli: Sequence, batch_size: int = 8, min_beta: float = 1.0,
                     max_beta: float = 1.0) -> List[str]:
    """Centre the readout's pre-activation and put a ParametricSoftplus kink at each neuron's mean rate.

    Applies to models whose ``readout`` has an ``fc`` made of ``nn.Linear`` layers and a ParametricSoftplus
    ``activation`` (parameters ``_raw_beta``, ``_raw_b``, ``(N,)``). Returns what was changed (empty when the
    model does not have that shape, e.g. STRF readouts with a BatchNorm, which need no calibration).
    """
    readout = getattr(model, "readout", None)
    act = getattr(readout, "activation", None)
    fc = _last_linear(getattr(readout, "fc", nn.Identity()))
    if fc is None or fc.bias is None or not all(hasattr(act, a) for a in ("_raw_beta", "_raw_b")):
        return []
    non_negative = bool(getattr(act, "non_negative_output", True))
    n = act._raw_beta.numel()
    if fc.weight.shape[0] != n:
        return []
    sums = torch.zeros(4, n, dtype=torch.float64)  # per neuron: frames, pre-activation, valid frames, responses
    for frames in iter_readout_frames(model, fc, stimuli, batch_size):
        if frames is None:  # the activation does not see (B, T, N)
            return []
        sums += torch.stack([frames.frame.sum(dim=(0, 1)).double(),
                             torch.where(frames.frame, frames.z, 0.0).sum(dim=(0, 1)).double(),
                             frames.valid.sum(dim=(0, 1)).double(),
                             torch.where(frames.valid, frames.target, 0.0).sum(dim=(0, 1)).double()]).cpu()
    pre_count, pre_sum, rate_count, rate_sum = sums
    has = (pre_count > 0) & (rate_count > 0)
    if not bool(has.any()):
        return []
    pre_mean = torch.where(has, pre_sum / pre_count.clamp(min=1), torch.zeros(n, dtype=torch.float64))
    rate = torch.where(has, rate_sum / rate_count.clamp(min=1), torch.zeros(n, dtype=torch.float64))
    half = (rate / 2).clamp(min=1e-4)
    beta = (math.log(2.0) / half).clamp(min_beta, max_beta)
    # the pre-activation x0 where softplus(beta x0) / beta = half (0 when beta was not capped)
    centre = _inverse_softplus(beta * half) / beta
    fc.bias.sub_((pre_mean - torch.where(has, centre, torch.zeros_like(centre))).to(fc.bias))
    raw_beta = _inverse_softplus(beta)
    act._raw_beta.copy_(torch.where(has, raw_beta, act._raw_beta.double().cpu()).to(act._raw_beta))
    raw_b = _inverse_softplus(half) if non_negative else half
    act._raw_b.copy_(torch.where(has, raw_b, act._raw_b.double().cpu()).to(act._raw_b))
    return ["readout.fc.bias", "activation.beta", "activation.b"]

