"""Warm start of a two-layer STRF network's hidden units from the ridge STRFs' leading components.

NetworkReceptiveField and DNet compute ``n_hidden`` STRF units (``core[0]``, a :class:`CausalSTRFConv` with
``C_out = H``) and read every neuron out of them. The population's ridge STRFs ``(N, C_in, F, T)`` span what a
linear stage can see; their leading right singular vectors (principal STRF shapes, with the singular values as
relative strengths) are the hidden STRFs a trained network starts to resemble. :func:`seed_hidden_units` puts
the first ``k = min(H, N)`` of them into hidden units ``0..k-1`` through the kernel's ``init_from_strf`` (so a
separable or Gaussian-mixture kernel keeps what it can), each scaled to the norm of the randomly initialised
units times the square root of its relative singular value (the LayerNorm across units then sees them at the
scale it was built for), and sets the per-frame readout ``fc.weight (N, H)`` to each neuron's loadings on those
components (``U sqrt(s / s_0)``) plus a tenth of its random initialisation; the other units keep theirs.

Measured on the demo (12 neurons, 20 epochs, one seed): validation cc_norm after the first epoch 0.77 (NRF) and
0.70 (DNet) against 0.62 and 0.45 from a cold start; seeding the hidden units alone, with a random readout, was
no better than cold (0.47 / 0.28 after one epoch). See docs/models.md, "Training defaults".

A readout without an output nonlinearity (DNet's) then gets each neuron's gain and offset by least squares on the
training responses (:func:`match_readout_to_responses`): the loadings alone put DNet's start at several times the
responses' mean, and its first epochs went into pulling it down (on the STRFlab cell the test score fell from
0.45 to 0.33 before climbing, and a cold start climbed faster). With it, DNet at lr 2e-3 over six seeds of the
STRFlab cell: test cc_norm 0.625 on average against 0.607 before and deepSTRF's 0.601. A readout with an output
nonlinearity (NRF's ParametricSoftplus) gets its offset only (:func:`match_readout_offset`: the mean prediction at
the mean response): NRF on the STRFlab cell starts at 0.64-0.68 instead of 0.52 and reaches deepSTRF's final in
0.29x of its time instead of 0.59x (six seeds), at the same quality (mean 0.752 against 0.755; on the demo 0.938
against 0.943, deepSTRF 0.937). Fitting the gain too, through the softplus, gave a better start that the first
epochs undid (docs/models.md).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn

from strfviewer.fit.readout_frames import gather_readout_frames, iter_readout_frames

#: families whose core starts with a hidden STRF convolution (``core[0]``)
HIDDEN_STRF_FAMILIES = ("NetworkReceptiveField", "DNet")


def hidden_strf_conv(model: nn.Module):
    """The hidden :class:`CausalSTRFConv` of a two-layer STRF network, or ``None``."""
    from strfviewer.models.kernels import CausalSTRFConv

    core = getattr(model, "core", None)
    first = core[0] if isinstance(core, nn.Sequential) and len(core) else None
    return first if isinstance(first, CausalSTRFConv) else None


@torch.no_grad()
def seed_hidden_units(model: nn.Module, ridge_strfs) -> Optional[str]:
    """Hidden units ``0..k-1`` of ``model`` from the leading components of ``ridge_strfs`` ``(N, C_in, F, T)``.

    Returns what was done (``"ridge components: 3 of 20 hidden units"``), or ``None`` when the model has no
    hidden STRF layer, its kernel has no warm start, or the STRFs are all zero.
    """
    from strfviewer.models.kernels import init_from_strf

    conv = hidden_strf_conv(model)
    if conv is None:
        return None
    current = conv.STRF_weight().detach().to("cpu", torch.float64)  # (H, C_in, F, T)
    H = current.shape[0]
    strfs = torch.as_tensor(np.asarray(ridge_strfs), dtype=torch.float64)
    if strfs.dim() != 4 or strfs.shape[1:] != current.shape[1:]:
        raise ValueError(f"ridge STRFs {tuple(strfs.shape)} do not match the hidden units {tuple(current.shape)}")
    flat = strfs.reshape(strfs.shape[0], -1)
    if not len(flat) or not bool(torch.isfinite(flat).all()):
        return None
    u, s, vt = torch.linalg.svd(flat, full_matrices=False)
    keep = int(min(H, int((s > s[0] * 1e-6).sum()) if s[0] > 0 else 0))
    if keep == 0:
        return None
    unit_norm = float(current.reshape(H, -1).norm(dim=1).mean())
    seeded = current.clone()
    scale = unit_norm * (s[:keep] / s[0]).sqrt()
    seeded[:keep] = (vt[:keep] * scale[:, None]).reshape((keep,) + tuple(current.shape[1:]))
    kernel = conv.kernel
    ref = next(kernel.parameters())
    bias = getattr(kernel, "bias", None)
    said = init_from_strf(kernel, seeded.to(ref.dtype), None if bias is None else bias.detach().clone())
    if said is None:
        return None
    fc = getattr(getattr(model, "readout", None), "fc", None)
    if isinstance(fc, nn.Linear) and fc.weight.shape == (u.shape[0], H) and u.shape[0] == strfs.shape[0]:
        loadings = torch.zeros(fc.weight.shape, dtype=torch.float64)
        loadings[:, :keep] = u[:, :keep] * (s[:keep] / s[0]).sqrt()
        fc.weight.copy_((loadings.to(fc.weight) + 0.1 * fc.weight).to(fc.weight))
        return f"ridge components: {keep} of {H} hidden units and the readout"
    return f"ridge components: {keep} of {H} hidden units"


def _linear_readout(model: nn.Module):
    """``(fc, activation)`` of a model whose ``readout`` is a per-frame ``fc`` (``nn.Linear`` with a bias) followed by
    an output activation (``nn.Identity`` or ``None`` for none), else ``None``."""
    readout = getattr(model, "readout", None)
    fc = getattr(readout, "fc", None)
    if not isinstance(fc, nn.Linear) or fc.bias is None:
        return None
    return fc, getattr(readout, "activation", None)


@torch.no_grad()
def match_readout_to_responses(model: nn.Module, stimuli) -> Optional[str]:
    """Gain and offset of each neuron's linear readout fitted by least squares to its training responses.

    For a model whose ``readout`` is a per-frame ``fc`` (``nn.Linear``, ``(N, H)``) with no output activation (DNet
    by default): neuron ``n``'s prediction ``p`` on the training stimuli ``stimuli`` is regressed on its trial-mean
    response ``y`` over the valid frames (``y ~ a p + c``), and ``fc`` becomes ``a W, a b + c`` for that neuron.
    The seeded readout (loadings of about 1) otherwise starts several times above the responses' mean (DNet on the
    STRFlab cell: mean prediction 0.44 against 0.07 spikes per bin), and the first epochs of squared-error descent
    spend themselves pulling it down (docs/models.md). A neuron without valid training frames, or whose prediction
    is constant, keeps its readout. Returns what was done, or ``None`` when the model has another readout or no
    neuron could be fitted.
    """
    readout = _linear_readout(model)
    if readout is None or not isinstance(readout[1], (nn.Identity, type(None))):
        return None
    fc = readout[0]
    sums = torch.zeros(5, fc.weight.shape[0], dtype=torch.float64)  # per neuron: frames, p, y, p p, p y
    for frames in iter_readout_frames(model, fc, stimuli):
        if frames is None:
            return None
        p = torch.where(frames.valid, frames.z.double(), 0.0)
        y = torch.where(frames.valid, frames.target.double(), 0.0)
        sums += torch.stack([frames.valid.sum(dim=(0, 1)).double(), p.sum(dim=(0, 1)), y.sum(dim=(0, 1)),
                             (p * p).sum(dim=(0, 1)), (p * y).sum(dim=(0, 1))]).cpu()
    count, sp, sy, spp, spy = sums
    count = count.clamp(min=1)
    var = spp - sp * sp / count
    fitted = (var > 1e-12 * count) & (count >= 2)   # a neuron without valid frames or a flat prediction keeps its own
    if not bool(fitted.any()):
        return None
    gain = torch.where(fitted, (spy - sp * sy / count) / var.clamp(min=1e-300), 1.0)
    offset = torch.where(fitted, (sy - gain * sp) / count, 0.0)
    fc.weight.mul_(gain[:, None].to(fc.weight))
    fc.bias.copy_((gain * fc.bias.double().cpu() + offset).to(fc.bias))
    if bool(fitted.all()):
        return "readout gain and offset fitted to the responses"
    return f"readout gain and offset fitted to the responses of {int(fitted.sum())} of {len(fitted)} neurons"


@torch.no_grad()
def match_readout_offset(model: nn.Module, stimuli, iterations: int = 60) -> Optional[str]:
    """Each neuron's readout bias shifted so that its mean prediction on the training stimuli equals its mean
    response, through the output activation (a monotone per-neuron nonlinearity such as ParametricSoftplus).

    For a model whose ``readout`` is a per-frame ``fc`` (``nn.Linear``, ``(N, H)``) followed by ``activation``: with
    ``z`` neuron ``n``'s pre-activation on the valid training frames and ``y`` its trial-mean response, the shift
    ``d`` solving ``mean(activation(z + d)) = mean(y)`` is found by bisection (``iterations`` halvings of
    ``[-20, 20]`` plus the pre-activation's spread) and added to ``fc.bias[n]``; the gain is left alone. A neuron
    whose mean response the activation cannot reach within that range (silent under the softplus' baseline, a
    negative mean) keeps its offset. Returns what was done, or ``None`` when the model has another readout or no
    neuron could be fitted.
    """
    readout = _linear_readout(model)
    if readout is None or isinstance(readout[1], (nn.Identity, type(None))):
        return None
    fc, activation = readout
    frames = gather_readout_frames(model, fc, stimuli)
    if frames is None:
        return None
    z, valid, y = frames
    N = z.shape[1]
    count = valid.sum(0)
    goal = torch.where(valid, y, 0.0).sum(0) / count.clamp(min=1)                       # (N,)
    spread = float(torch.where(valid, z, 0.0).abs().max())
    lo = torch.full((N,), -20.0 - spread, dtype=z.dtype, device=z.device)
    hi = torch.full((N,), 20.0 + spread, dtype=z.dtype, device=z.device)

    def mean_at(shift):
        return torch.where(valid, activation((z + shift)[None])[0], 0.0).sum(0) / count.clamp(min=1)

    # a goal the activation cannot reach (a silent neuron under the softplus' baseline, a negative mean in mV) would
    # push the neuron into the flat part, where it gets no gradient: such neurons keep their offset
    fitted = (count > 0) & (mean_at(lo) < goal) & (goal < mean_at(hi))
    if not bool(fitted.any()):
        return None
    for _ in range(iterations):
        mid = (lo + hi) / 2
        below = mean_at(mid) < goal
        lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
    shift = torch.where(fitted, (lo + hi) / 2, 0.0)
    fc.bias.add_(shift.to(fc.bias))
    if bool(fitted.all()):
        return "readout offset fitted to the responses' mean"
    return f"readout offset fitted to the responses' mean for {int(fitted.sum())} of {N} neurons"
