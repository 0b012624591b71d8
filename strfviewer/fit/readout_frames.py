"""The readout's pre-activation on the training frames, batch by batch, for the fits that start SGD from data.

Both the output calibration (:mod:`strfviewer.fit.calibrate`: StateNet, ConvNet2D, Transformer) and the readout
fits of the hidden-unit start (:mod:`strfviewer.fit.hidden_start`: NRF, DNet) need, per neuron, the output of the
readout's last linear layer (the output activation's input) on every frame of the training stimuli next to the
response there. :func:`iter_readout_frames` runs the model once over the stimuli and yields them per batch, so a
caller can sum them (memory bounded by one batch) or keep them.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import nn

#: stimuli per forward pass
BATCH_STIMULI = 8


class ReadoutFrames(NamedTuple):
    """One batch, each ``(B, T, N)`` (``T`` frames of the batch's longest stimulus, padding included)."""

    z: torch.Tensor  # pre-activation: the output of the readout's last linear layer
    frame: torch.Tensor  # bool: a frame of the stimulus (not padding), the same for every neuron
    valid: torch.Tensor  # bool: a frame of the stimulus with a response of that neuron
    target: torch.Tensor  # trial-mean response (undefined where not valid)
    names: Sequence[str]  # the stimuli, in the batch's order


@torch.no_grad()
def iter_readout_frames(model: nn.Module, fc: nn.Linear, stimuli: Sequence,
                        batch_size: int = BATCH_STIMULI) -> Iterator[Optional[ReadoutFrames]]:
    """Run ``model`` (in eval mode; its mode restored after) over ``stimuli`` and yield a :class:`ReadoutFrames`
    per batch, with ``fc``'s output as ``z``. Yields ``None`` once and stops when ``fc`` does not map each
    frame to the stimuli's ``N`` neurons (an output that is not ``(B, T, N)``)."""
    from strfviewer.fit.batching import StimulusBatches

    N = fc.weight.shape[0]
    captured = []
    hook = fc.register_forward_hook(lambda mod, inp, out: captured.append(out.detach()))
    was_training = model.training
    model.eval()
    try:
        for batch in StimulusBatches(list(stimuli), batch_size, shuffle=False):
            batch = batch.to(fc.weight.device)
            captured.clear()
            model(batch.spec)
            z = captured[-1] if captured else None
            if z is None or z.dim() != 3 or z.shape[1:] != (batch.mask.shape[1], N) or batch.target.shape[1] != N:
                yield None
                return
            frame = batch.mask[:, :, None].expand(z.shape)
            valid = batch.valid[:, :, 0, :].transpose(1, 2) & frame
            yield ReadoutFrames(z, frame, valid, batch.target[:, :, 0, :].transpose(1, 2), list(batch.names))
    finally:
        hook.remove()
        model.train(was_training)


def gather_readout_frames(model: nn.Module, fc: nn.Linear,
                          stimuli: Sequence) -> Optional[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """All frames of :func:`iter_readout_frames` at once: pre-activation, validity and trial-mean response, each
    ``(M, N)`` (``M`` frames of all batches, padding included), or ``None`` when ``fc`` does not fit."""
    zs, valids, targets = [], [], []
    for frames in iter_readout_frames(model, fc, stimuli):
        if frames is None:
            return None
        N = frames.z.shape[-1]
        zs.append(frames.z.reshape(-1, N))
        valids.append(frames.valid.reshape(-1, N))
        targets.append(frames.target.reshape(-1, N))
    if not zs:
        return None
    return torch.cat(zs), torch.cat(valids), torch.cat(targets)
