"""The valid STRF convolution ``(B, C_in, F, T_in + T - 1) -> (B, C_out, 1, T_in)`` as one matrix product.

A kernel that spans the whole frequency axis turns the 2-D convolution into a product of the lagged input,
``(B * T_in, C_in * F * T)`` (built by ``unfold`` over time), with the flattened kernel ``(C_in * F * T, C_out)``.
Measured on the CPU (torch 2.13, one thread, 34 bands x 15 frames, forward + backward; docs/benchmarks.md):

- With the input's gradient (a trainable prefilter or waveform front-end in front of the STRF, a gradmap by
  replicated stimuli) ``conv2d``'s backward is erratic: for some input lengths (150, 170, 200, 400, 1600 output
  frames) it takes 3-8x longer than for others (130, 190), and the product is 0.17-0.5x of it there; elsewhere
  0.7-1.3x for a lagged input within :data:`MAX_LAGGED_ELEMENTS`, where it is used, and up to 2.4x beyond.
- Without it (fitting on spectrograms: the weights' gradient only) the product is 0.45-0.9x of ``conv2d`` for up
  to 32 output channels and a lagged input of up to :data:`MAX_LAGGED_WEIGHTS_ONLY` elements (an NRF step with
  20 hidden units over 400 frames 0.42 instead of 0.55 ms), slower beyond: it is used there only.
- Without gradients ``conv2d`` is faster and is kept, as it is on other devices and inside ``torch.func``
  transforms (the factored gradmaps), whose batching rules for ``conv2d`` are faster.

Same function, float rounding aside (tests compare both ways, values and gradients).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from strfviewer.models.plain_tensors import plain_cpu

#: with the input's gradient: the largest lagged input (elements; 4 MB of float32) built for the product. Beyond it
#: the product's copy leaves the cache and it lost to ``conv2d``'s fast cases by up to 2.4x
MAX_LAGGED_ELEMENTS = 1024 * 1024
#: without the input's gradient: the largest lagged input (8 MB of float32) and the most output channels for which
#: the product is faster than ``conv2d``
MAX_LAGGED_WEIGHTS_ONLY = 2 * 1024 * 1024
MAX_CHANNELS_WEIGHTS_ONLY = 32


def use_product(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """True where :func:`strf_product` is the cheaper way (see the module notes): plain CPU tensors, gradients
    to compute, a kernel ``(C_out, C_in, F, T)`` as tall as the input ``(B, C_in, F, T_in + T - 1)``, and a lagged
    input within :data:`MAX_LAGGED_ELEMENTS` (with the input's gradient) or within
    :data:`MAX_LAGGED_WEIGHTS_ONLY` for at most :data:`MAX_CHANNELS_WEIGHTS_ONLY` output channels (without)."""
    if x.dim() != 4 or weight.dim() != 4 or not torch.is_grad_enabled() or not plain_cpu(x, weight):
        return False
    if not (x.requires_grad or weight.requires_grad):
        return False
    B, C, F_in, T_in = x.shape
    _, C_w, F_w, T_w = weight.shape
    if C != C_w or F_in != F_w or T_in < T_w:
        return False
    lagged = B * (T_in - T_w + 1) * C * F_w * T_w
    if x.requires_grad:
        return lagged <= MAX_LAGGED_ELEMENTS
    return lagged <= MAX_LAGGED_WEIGHTS_ONLY and weight.shape[0] <= MAX_CHANNELS_WEIGHTS_ONLY


def strf_product(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``conv2d(x, weight, bias)`` for a kernel as tall as the input: ``x`` ``(B, C_in, F, T_in + T - 1)``,
    ``weight`` ``(C_out, C_in, F, T)``, ``bias`` ``(C_out,)`` or ``None`` -> ``(B, C_out, 1, T_in)``."""
    B, C, F_in, _ = x.shape
    C_out, _, _, T = weight.shape
    lagged = x.unfold(-1, T, 1)                                    # (B, C, F, T_in, T)
    T_out = lagged.shape[3]
    lagged = lagged.permute(0, 3, 1, 2, 4).reshape(B * T_out, C * F_in * T)
    flat = weight.reshape(C_out, -1).t()                           # (C * F * T, C_out)
    out = torch.addmm(bias, lagged, flat) if bias is not None else lagged @ flat
    return out.reshape(B, T_out, C_out).permute(0, 2, 1).unsqueeze(2)


def strf_conv(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
    """The valid STRF convolution, by :func:`strf_product` where :func:`use_product` says so, else ``conv2d``."""
    if use_product(x, weight):
        return strf_product(x, weight, bias)
    return F.conv2d(x, weight, bias)
