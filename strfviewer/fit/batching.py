"""Batches of variable-length stimuli: right-padding plus a mask, grouped by length, and masked losses.

A batch holds ``spec (B, 1, F, T)`` (padded with ``pad_value``, 0 by default) or, in waveform mode
(:mod:`strfviewer.data.waveforms`), the audio ``(B, 1, T * hop)`` padded with zeros, ``responses (B, N, R, T)``
(padded with ``NaN`` along trials and time) and ``mask (B, T)`` (``True`` on real frames). Padding goes at the
end of each stimulus, so a causal model's outputs at real frames never depend on it; only statistics taken
across the batch could see it (losses and metrics here are masked; see :mod:`strfviewer.fit.masked_norm` for
BatchNorm).

Stimuli are grouped by length ("sortish" batching): each epoch the stimuli are shuffled, cut into pools of a
few batches, sorted by length inside a pool and split into batches, so little padding is needed while batch
composition still changes from epoch to epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence

import numpy as np
import torch

from strfviewer.fit.metrics import trial_mean

LOSSES = ("mse", "poisson")


@dataclass
class Batch:
    """One padded batch.

    ``spec`` the model's input: ``(B, 1, F, T)`` or a waveform ``(B, 1, T * hop)``; ``responses`` ``(B, N, R, T)`` with ``NaN`` padding; ``mask`` ``(B, T)`` bool;
    ``target`` ``(B, N, 1, T)`` trial mean with 0 where undefined and ``valid`` ``(B, N, 1, T)`` bool where the
    trial mean exists on a real frame; ``names`` and ``lengths`` (frames) per stimulus.
    """

    spec: torch.Tensor
    responses: torch.Tensor
    mask: torch.Tensor
    target: torch.Tensor
    valid: torch.Tensor
    names: List[str]
    lengths: List[int]

    def to(self, device) -> "Batch":
        if self.spec.device == torch.device(device):
            return self
        return Batch(self.spec.to(device), self.responses.to(device), self.mask.to(device),
                     self.target.to(device), self.valid.to(device), self.names, self.lengths)

    @property
    def n_frames(self) -> int:
        return int(self.mask.shape[-1])


def frames_of(stimulus) -> int:
    """Response bins of a stimulus (its input has that many frames, or ``hop`` times as many samples)."""
    return int(stimulus.responses.shape[-1])


def target_of(responses: np.ndarray):
    """``(target (N, 1, L) float32, has (N, 1, L) bool)``: :func:`~strfviewer.fit.metrics.trial_mean` of
    ``responses`` ``(N, R, L)`` with 0 where no trial is finite, and where one is."""
    mean = trial_mean(responses)[:, None, :]
    has = np.isfinite(mean)
    return np.where(has, mean, 0.0).astype(np.float32), has


def pad_batch(stimuli: Sequence, pad_value: float = 0.0, means: Optional[Sequence] = None) -> Batch:
    """Stack ``stimuli`` (objects with ``name``, ``spec (1, F, T_s)`` or a waveform ``(1, T_s * hop)``,
    ``responses (N, R, T_s)``) into a Batch; ``means`` their :func:`target_of` when already computed."""
    if not stimuli:
        raise ValueError("cannot build a batch from no stimuli")
    lengths = [frames_of(s) for s in stimuli]
    T = max(lengths)
    lead = tuple(stimuli[0].spec.shape[:-1])
    step = int(stimuli[0].spec.shape[-1]) // max(lengths[0], 1)      # 1 for spectrograms, hop for audio
    N = int(stimuli[0].responses.shape[0])
    R = max(int(s.responses.shape[1]) for s in stimuli)
    B = len(stimuli)
    spec = np.full((B, *lead, T * step), pad_value if step == 1 else 0.0, dtype=np.float32)
    resp = np.full((B, N, R, T), np.nan, dtype=np.float32)
    mask = np.zeros((B, T), dtype=bool)
    target = np.zeros((B, N, 1, T), dtype=np.float32)
    valid = np.zeros((B, N, 1, T), dtype=bool)
    for b, (s, L) in enumerate(zip(stimuli, lengths)):
        if tuple(s.spec.shape) != (*lead, L * step) or s.responses.shape[0] != N:
            raise ValueError(f"stimulus {s.name!r}: input {s.spec.shape} / responses {s.responses.shape} do not "
                             f"match the batch (input {(*lead, L * step)}, N={N})")
        spec[b, ..., : L * step] = s.spec
        resp[b, :, : s.responses.shape[1], :L] = s.responses
        mask[b, :L] = True
        mean, has = means[b] if means is not None else target_of(s.responses)
        target[b, :, :, :L] = mean
        valid[b, :, :, :L] = has
    return Batch(torch.from_numpy(spec), torch.from_numpy(resp), torch.from_numpy(mask),
                 torch.from_numpy(target), torch.from_numpy(valid),
                 [s.name for s in stimuli], lengths)


def length_grouped_order(lengths: Sequence[int], batch_size: int, rng: Optional[np.random.Generator],
                         pool_batches: int = 4) -> List[List[int]]:
    """Indices grouped into batches of similar length; shuffled when ``rng`` is given, sorted otherwise."""
    idx = np.arange(len(lengths))
    if rng is None:
        order = sorted(idx, key=lambda i: (lengths[i], i))
        return [list(order[i:i + batch_size]) for i in range(0, len(order), batch_size)]
    idx = rng.permutation(idx)
    pool = max(1, pool_batches) * batch_size
    batches = []
    for start in range(0, len(idx), pool):
        chunk = sorted(idx[start:start + pool], key=lambda i: lengths[i])
        batches.extend([list(chunk[i:i + batch_size]) for i in range(0, len(chunk), batch_size)])
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


class StimulusBatches:
    """Re-iterable batches over a list of stimuli: a new length-grouped shuffle every pass.

    ``shuffle=False`` gives a fixed order sorted by length (used for evaluation). Batches of a fixed grouping
    are cached, so evaluation passes cost nothing to assemble.
    """

    def __init__(self, stimuli: Sequence, batch_size: int = 8, shuffle: bool = True, seed: int = 0,
                 pad_value: float = 0.0, pool_batches: int = 4):
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        self.stimuli = list(stimuli)
        if not self.stimuli:
            raise ValueError("no stimuli to batch")
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.pad_value = pad_value
        self.pool_batches = pool_batches
        self.lengths = [frames_of(s) for s in self.stimuli]
        self._rng = np.random.default_rng(seed) if shuffle else None
        self._cache: Optional[List[Batch]] = None
        self._means: List[Optional[tuple]] = [None] * len(self.stimuli)  # trial means, computed once each

    def __len__(self) -> int:
        return -(-len(self.stimuli) // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        if not self.shuffle:
            if self._cache is None:
                groups = length_grouped_order(self.lengths, self.batch_size, None)
                self._cache = [pad_batch([self.stimuli[i] for i in g], self.pad_value) for g in groups]
            yield from self._cache
            return
        for group in length_grouped_order(self.lengths, self.batch_size, self._rng, self.pool_batches):
            yield pad_batch([self.stimuli[i] for i in group], self.pad_value, [self._mean(i) for i in group])

    def _mean(self, i: int) -> tuple:
        if self._means[i] is None:
            self._means[i] = target_of(self.stimuli[i].responses)
        return self._means[i]

    @property
    def n_frames(self) -> int:
        """Real frames over all stimuli (the work of one pass)."""
        return int(sum(self.lengths))


def masked_loss(pred: torch.Tensor, batch: Batch, kind: str = "mse", eps: float = 1e-8) -> torch.Tensor:
    """Loss of ``pred`` ``(B, N, 1, T)`` against the batch's trial mean over valid bins only.

    ``mse``: squared error; ``poisson``: ``pred - y log(pred)`` (``pred`` clamped to ``>= eps`` inside the
    log; use it with a non-negative output). Averaged per neuron over its valid bins, then over neurons that
    have any. Padding, missing neurons and missing trials never contribute, nor get a gradient.
    """
    if pred.shape != batch.target.shape:
        raise ValueError(f"model output {tuple(pred.shape)} does not match the target {tuple(batch.target.shape)}")
    valid = batch.valid
    target = batch.target
    if kind == "mse":
        elem = (pred - target) ** 2
    elif kind == "poisson":
        elem = pred - target * torch.log(pred.clamp(min=eps))
    else:
        raise ValueError(f"loss {kind!r} is not one of {LOSSES}")
    elem = torch.where(valid, elem, torch.zeros((), dtype=elem.dtype, device=elem.device))
    count = valid.sum(dim=(0, 2, 3))  # (N,)
    per_neuron = elem.sum(dim=(0, 2, 3)) / count.clamp(min=1)
    has = count > 0
    if not bool(has.any()):
        return pred.sum() * 0.0
    return per_neuron[has].mean()


def unpad_predictions(pred: torch.Tensor, batch: Batch) -> dict:
    """Per-stimulus predictions ``{name: (N, T_s) float32 ndarray}`` from a padded ``(B, N, 1, T)`` output."""
    out = pred.detach().to("cpu", torch.float32).numpy()
    return {name: out[b, :, 0, :L].copy() for b, (name, L) in enumerate(zip(batch.names, batch.lengths))}
