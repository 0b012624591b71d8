"""BatchNorm statistics over real frames only, for padded batches.

In training mode a BatchNorm layer normalises with the mean and variance of the whole batch, padding
included, and folds them into its running statistics. With right-padded batches of variable-length stimuli
that lets the padded frames shift the statistics (deepSTRF 0.1.0 has this leak for batch sizes above one).

:func:`masked_batchnorm` temporarily gives every BatchNorm layer of a model a forward that takes the
statistics over the frames marked valid in ``mask (B, T)``: any BatchNorm input whose first axis is ``B``
and last axis is ``T`` (``(B, C, T)``, ``(B, C, F, T)``, ...) is masked along those two axes; other inputs
use the stock BatchNorm. The model's code, parameters and state dict are untouched; in eval mode (running
statistics) nothing changes at all.
"""

from __future__ import annotations

import contextlib
import types
from typing import Iterator, List, Optional

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def batchnorm_layers(model: nn.Module) -> List[_BatchNorm]:
    return [m for m in model.modules() if isinstance(m, _BatchNorm)]


class _MaskHolder:
    """The mask of the batch being processed, shared by the patched layers."""

    def __init__(self) -> None:
        self.mask: Optional[torch.Tensor] = None


def _masked_forward(holder: _MaskHolder, stock_forward):
    def forward(self: _BatchNorm, x: torch.Tensor) -> torch.Tensor:
        mask = holder.mask
        use_batch_stats = self.training or not self.track_running_stats
        if (mask is None or not use_batch_stats or x.dim() < 3 or x.shape[0] != mask.shape[0]
                or x.shape[-1] != mask.shape[-1] or bool(mask.all())):
            return stock_forward(x)
        m = mask.view(x.shape[0], *([1] * (x.dim() - 2)), x.shape[-1]).to(x.dtype)  # (B, 1, ..., T)
        dims = [d for d in range(x.dim()) if d != 1]
        per_frame = 1
        for d in range(2, x.dim() - 1):
            per_frame *= x.shape[d]
        count = m.sum() * per_frame
        mean = (x * m).sum(dim=dims) / count.clamp(min=1)
        centred = x - mean.view(1, -1, *([1] * (x.dim() - 2)))
        var = (centred * centred * m).sum(dim=dims) / count.clamp(min=1)
        if self.training and self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                factor = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                          else self.momentum)
                unbiased = var * count / (count - 1).clamp(min=1)
                self.running_mean.mul_(1 - factor).add_(factor * mean.detach())
                self.running_var.mul_(1 - factor).add_(factor * unbiased.detach())
        shape_c = (1, -1) + (1,) * (x.dim() - 2)
        y = centred / torch.sqrt(var.view(shape_c) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape_c) + self.bias.view(shape_c)
        return y

    return forward


class MaskedBatchNorm:
    """Handle returned by :func:`masked_batchnorm`: ``set_mask(mask (B, T))`` before each forward."""

    def __init__(self, holder: _MaskHolder, layers: List[_BatchNorm]):
        self._holder = holder
        self.layers = layers

    def set_mask(self, mask: Optional[torch.Tensor]) -> None:
        self._holder.mask = mask


@contextlib.contextmanager
def masked_batchnorm(model: nn.Module) -> Iterator[MaskedBatchNorm]:
    """Within the block, the model's BatchNorm layers use only frames marked in the current mask."""
    holder = _MaskHolder()
    layers = batchnorm_layers(model)
    patched = []
    try:
        for layer in layers:
            stock = type(layer).forward.__get__(layer, type(layer))
            layer.forward = types.MethodType(_masked_forward(holder, stock), layer)
            patched.append(layer)
        yield MaskedBatchNorm(holder, layers)
    finally:
        for layer in patched:
            layer.__dict__.pop("forward", None)
