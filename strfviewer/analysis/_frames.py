"""A shortcut for models that encode every frame on its own before a recurrence (StateNet).

Such a model runs one stateless module on a batch of frames ``(R, ...)`` (R = T x B frames). At the null
stimulus every frame is the same, so that module has one Jacobian ``E`` shared by all frames. Pulling K
directions back through it then costs one small Jacobian (a single frame) and one matrix product, instead
of K backward passes over all R frames; the recurrence in between is differentiated as a function
(``torch.func``, vectorised over the K directions).

A model names such a module with an attribute ``frame_encoder``; StateNet's ``encoder_layers`` is
recognised too. The shortcut is taken only when the module ran exactly once and its input rows are
identical; otherwise the caller's general path is used.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor, nn


def frame_encoder(model: nn.Module) -> Optional[nn.Module]:
    """The model's per-frame, stateless encoder (rows of its input batch are independent), if known."""
    named = getattr(model, "frame_encoder", None)
    if isinstance(named, nn.Module):
        return named
    if type(model).__name__ == "StateNet" and isinstance(getattr(model, "encoder_layers", None), nn.Module):
        return model.encoder_layers
    return None


class FrameRecorder:
    """Forward hook that records a module's input and output (without changing them) and the call count."""

    def __init__(self, module: nn.Module):
        self.module, self.calls = module, 0
        self.input: Optional[Tensor] = None
        self.output: Optional[Tensor] = None
        self._handle = module.register_forward_hook(self._record)

    def _record(self, module, args, output):
        self.calls += 1
        self.input = args[0] if args and isinstance(args[0], Tensor) else None
        self.output = output if isinstance(output, Tensor) else None

    def remove(self) -> None:
        self._handle.remove()

    def usable(self) -> bool:
        """Ran once on a batch of identical rows attached to the graph."""
        v = self.input
        return (self.calls == 1 and v is not None and self.output is not None and v.dim() >= 2
                and v.shape[0] > 1 and v.requires_grad and self.output.shape[0] == v.shape[0]
                and torch.equal(v, v[:1].expand_as(v)))


def frame_pull(model: nn.Module, x0: Tensor, recorder: FrameRecorder, readout_module: nn.Module,
               source: Tensor, batched_vjp: Callable[[Tensor, Tensor, Tensor], Tensor]
               ) -> Callable[[Tensor], Tensor]:
    """A function pulling cotangents ``(K, *z.shape)`` at the readout input back to ``source``:
    ``(K, source.numel())``, through the recurrence (as a function), the shared frame Jacobian, then the
    recorded graph from the frame encoder's input to ``source``."""
    frames_in, frames_out = recorder.input, recorder.output.detach()
    encoder = recorder.module

    def readout_input_of(encoded: Tensor) -> Tensor:
        captured = []
        replace = encoder.register_forward_hook(lambda m, a, out: encoded)
        capture = readout_module.register_forward_pre_hook(lambda m, a: captured.append(a[0]))
        try:
            model(x0)
        finally:
            replace.remove()
            capture.remove()
        return captured[0]

    def pull(cotangents: Tensor) -> Tensor:
        K, R = cotangents.shape[0], frames_in.shape[0]
        with torch.no_grad():        # the transforms differentiate anyway; no graph to the parameters
            _, vjp = torch.func.vjp(readout_input_of, frames_out)
            at_encoded = torch.func.vmap(vjp)(cotangents)[0]                      # (K, R, *out)
            jacobian = torch.func.jacrev(encoder)(frames_in[:1].detach())          # (1, *out, 1, *in)
        shared = jacobian.reshape(frames_out[:1].numel(), frames_in[:1].numel())   # (out, in)
        at_frames = (at_encoded.reshape(K * R, -1) @ shared).reshape(K, *frames_in.shape)
        return batched_vjp(frames_in, source, at_frames).reshape(K, -1)

    return pull
