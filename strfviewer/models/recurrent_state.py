"""The state of a recurrence after each step, and a run restarted from a saved state.

Used by locally linear STRFs (``analysis/dstrf.py``): the response at frame ``t`` depends on the inputs
before a window only through the state at the window's start, so a window can be re-run alone from that
state. Covers ``nn.GRU``, ``nn.RNN``, ``nn.LSTM`` (one layer, batch first) and the layers of
:mod:`strfviewer.models.ssm` (LMU, Mamba, S4D); other sequence layers have no restartable state here (``None``).
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn

from strfviewer.models.ssm import LMU, MambaBlock, S4DBlock

States = Tuple[torch.Tensor, ...]


def states_along(rnn: nn.Module, feats: torch.Tensor) -> Optional[States]:
    """The state after each step of ``feats`` ``(B, L, H_in)``: a tuple of ``(B, L, ...)`` tensors (GRU, RNN:
    ``(h,)``; LSTM: ``(h, c)``; LMU: ``(h, m)``; Mamba: ``(conv history, h)``; S4D: ``(modal h,)``), or ``None`` where ``rnn`` has no restartable state."""
    if isinstance(rnn, (nn.GRU, nn.RNN)) and _plain(rnn):
        out, _ = rnn(feats)
        return (out,)
    if isinstance(rnn, nn.LSTM) and _plain(rnn):
        hs, cs, state = [], [], None
        for t in range(feats.shape[1]):
            _, state = rnn(feats[:, t:t + 1], state)
            hs.append(state[0][0])
            cs.append(state[1][0])
        return torch.stack(hs, dim=1), torch.stack(cs, dim=1)
    if isinstance(rnn, LMU):
        B = feats.shape[0]
        state = (feats.new_zeros(B, rnn.hidden_size), feats.new_zeros(B, rnn.memory_size))
        hs, ms = [], []
        for t in range(feats.shape[1]):
            state = rnn.cell(feats[:, t], state)
            hs.append(state[0])
            ms.append(state[1])
        return torch.stack(hs, dim=1), torch.stack(ms, dim=1)
    if isinstance(rnn, (MambaBlock, S4DBlock)):
        return rnn.states(feats)
    return None


def run_from(rnn: nn.Module, feats: torch.Tensor, state: States):
    """``rnn`` over ``feats`` ``(B, L, H_in)`` from ``state`` (one ``(B, ...)`` tensor per entry of
    :func:`states_along`): ``(output (B, L, H), final state)`` as the layer returns them."""
    if isinstance(rnn, (nn.GRU, nn.RNN)):
        return rnn(feats, state[0].unsqueeze(0).contiguous())
    if isinstance(rnn, nn.LSTM):
        return rnn(feats, (state[0].unsqueeze(0).contiguous(), state[1].unsqueeze(0).contiguous()))
    if isinstance(rnn, (LMU, MambaBlock, S4DBlock)):
        return rnn(feats, tuple(state))
    raise TypeError(f"{type(rnn).__name__} cannot be restarted from a saved state")


def _plain(rnn: nn.RNNBase) -> bool:
    """One layer, one direction, batch first, no projection: the case whose output is the state."""
    return (rnn.num_layers == 1 and not rnn.bidirectional and rnn.batch_first
            and getattr(rnn, "proj_size", 0) == 0)
