"""Each neuron's own best epoch, for models whose neurons share no parameter (deepSTRF's ``track_per_cell_best``).

In a population fit one early-stopping epoch serves every neuron: neurons that peak earlier (few spikes, fast
over-fitting) or later than the population mean end with worse weights than they had. When each neuron's
prediction depends only on its own slice of the weights (Linear, LinearNonlinear: one STRF, BatchNorm and
output activation per neuron, no trainable prefilter or core), keeping each slice from the epoch with that
neuron's best validation score is exact: neuron ``n``'s prediction with the combined weights is its prediction
at its best epoch.

:func:`per_neuron_tensors` finds the slices (``None`` when a parameter is shared: hidden units, a trainable
prefilter, a recurrent core); :class:`PerNeuronBest` keeps the best slices while the Fitter runs. A module
whose tensors hold the neurons on another axis than the first says so with ``NEURON_AXIS = {"name": axis}``
(e.g. the Gaussian-mixture kernel's centres ``P (2, C_out, C_in, K)``).
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
import torch
from torch import nn


def per_neuron_tensors(model: nn.Module, n_neurons: int) -> Optional[List[Tuple[str, torch.Tensor, int]]]:
    """``[(name, tensor, neuron axis)]`` of every per-neuron parameter and buffer of ``model.readout``, or
    ``None`` when some trainable parameter is shared across neurons (outside the readout, or without a neuron
    axis of size ``n_neurons``)."""
    readout = getattr(model, "readout", None)
    if readout is None or n_neurons < 1:
        return None
    in_readout = {id(p) for p in readout.parameters()}
    if any(p.requires_grad and id(p) not in in_readout for p in model.parameters()):
        return None
    out = []
    for module_name, module in readout.named_modules():
        axes = getattr(module, "NEURON_AXIS", {})
        for local, tensor in list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False)):
            if tensor is None or tensor.dim() == 0:
                continue  # e.g. BatchNorm's num_batches_tracked
            axis = int(axes.get(local, 0))
            if axis >= tensor.dim() or tensor.shape[axis] != n_neurons:
                if isinstance(tensor, nn.Parameter) and tensor.requires_grad:
                    return None
                continue
            out.append((f"{module_name}.{local}".strip("."), tensor, axis))
    return out or None


class PerNeuronBest:
    """Best validation score and weights of each neuron; ``update`` after each evaluation, ``restore`` at the end.

    ``best_epoch`` ``(N,)`` int: the epoch each neuron's weights come from (0: the starting weights; -1: no
    finite score yet, such a neuron keeps the population's best epoch).
    """

    def __init__(self, tensors: List[Tuple[str, torch.Tensor, int]], n_neurons: int):
        self.tensors = tensors
        self.best = [t.detach().clone() for _, t, _ in tensors]
        self.best_score = np.full(n_neurons, -np.inf)
        self.best_epoch = np.full(n_neurons, -1, dtype=np.int64)

    @classmethod
    def for_model(cls, model: nn.Module, n_neurons: int) -> Optional["PerNeuronBest"]:
        tensors = per_neuron_tensors(model, n_neurons)
        return None if tensors is None else cls(tensors, n_neurons)

    @torch.no_grad()
    def update(self, epoch: int, scores) -> None:
        """Keep the slices of the neurons whose ``scores`` ``(N,)`` (NaN: unknown) beat their best."""
        scores = np.asarray(scores, dtype=float)
        improved = np.isfinite(scores) & (scores > self.best_score)
        if not improved.any():
            return
        idx = torch.from_numpy(np.flatnonzero(improved))
        for best, (_, tensor, axis) in zip(self.best, self.tensors):
            i = idx.to(tensor.device)
            best.index_copy_(axis, i, tensor.detach().index_select(axis, i))
        self.best_score[improved] = scores[improved]
        self.best_epoch[improved] = epoch

    @torch.no_grad()
    def restore(self) -> None:
        """Write each scored neuron's best slices into the model (the others keep what the model holds)."""
        known = np.flatnonzero(self.best_epoch >= 0)
        if not len(known):
            return
        idx = torch.from_numpy(known)
        for best, (_, tensor, axis) in zip(self.best, self.tensors):
            i = idx.to(tensor.device)
            tensor.index_copy_(axis, i, best.index_select(axis, i))

    def epochs(self) -> List[Optional[int]]:
        """``best_epoch`` as a JSON-able list (``None`` for -1)."""
        return [int(e) if e >= 0 else None for e in self.best_epoch]
