"""Readouts: map a core's features to the canonical per-neuron output ``(B, N, 1, T)``."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

from strfviewer.models.kernels import CausalSTRFConv
from strfviewer.models.options import Option
from strfviewer.models.registry import register


def _apply_per_neuron(activation: nn.Module, y: torch.Tensor) -> torch.Tensor:
    """Apply ``activation`` to ``(B, N, T)`` with N as the last axis (parametric activations broadcast
    over it) and return ``(B, N, 1, T)``."""
    return activation(y.transpose(-1, -2)).transpose(-1, -2).unsqueeze(-2)


@register("readout", "STRFReadout")
class STRFReadout(nn.Module):
    """One causal STRF per neuron, then a per-neuron ``BatchNorm1d(N)``, then the output activation.

    Input ``(B, C_in, F, T)``, output ``(B, N, 1, T)``. Submodules: ``strf`` (a :class:`CausalSTRFConv`
    with ``C_out = N``), ``bn``, ``activation``. Every parameter has the neuron as leading axis, so
    neurons share nothing. In eval mode the BatchNorm is a fixed per-neuron affine map: causal.
    """

    OPTIONS = ()  # built by the families from their own arguments: nothing for a user to set here

    def __init__(self, F: int, T: int, C_in: int, out_neurons: int, kernel: Optional[nn.Module] = None,
                 activation: Optional[nn.Module] = None, bias: bool = True):
        super().__init__()
        self.strf = CausalSTRFConv(F, T, C_in, out_neurons, kernel=kernel, bias=bias)
        self.bn = nn.BatchNorm1d(out_neurons)
        self.activation = activation if activation is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn(self.strf(x).squeeze(-2))                # (B, N, T)
        return _apply_per_neuron(self.activation, y)

    def STRF_weight(self, polarity=None) -> torch.Tensor:
        """STRFs ``(N, C_in, F, T)``; ``polarity`` 'ON'/0 or 'OFF'/1 selects one input channel ``(N, F, T)``."""
        w = self.strf.STRF_weight()
        if polarity is None:
            return w
        return w[:, polarity_index(polarity)]


def polarity_index(polarity) -> int:
    """Channel index of an AdapTrans polarity: 'ON' (or 0) -> 0, 'OFF' (or 1) -> 1."""
    if polarity in ("ON", "On", "on", 0):
        return 0
    if polarity in ("OFF", "Off", "off", 1):
        return 1
    raise ValueError(f"polarity must be 'ON' or 'OFF' (or None), got {polarity!r}")


@register("readout", "LinearReadout")
class LinearReadout(nn.Module):
    """Per-time-step projection of ``in_features`` features onto ``N`` neurons (optionally through one
    hidden layer with LeakyReLU(0.1)), then the output activation.

    Input ``(B, in_features, T)`` or ``(B, in_features, 1, T)``, output ``(B, N, 1, T)``. Submodule
    ``fc`` is an ``nn.Linear`` or, with ``hidden``, ``nn.Sequential(Linear, LeakyReLU, Linear)``.
    """

    OPTIONS = (Option("hidden", "int", None, tooltip="Width of a hidden layer (LeakyReLU) before the projection "
                      "(none: a direct projection).", minimum=1, maximum=4096, label="Hidden units"),)

    def __init__(self, in_features: int, out_neurons: int, hidden: Optional[int] = None,
                 activation: Optional[nn.Module] = None, bias: bool = True):
        super().__init__()
        self.in_features, self.N = in_features, out_neurons
        if hidden is None:
            self.fc = nn.Linear(in_features, out_neurons, bias=bias)
        else:
            self.fc = nn.Sequential(nn.Linear(in_features, hidden, bias=bias), nn.LeakyReLU(0.1),
                                    nn.Linear(hidden, out_neurons, bias=bias))
        self.activation = activation if activation is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            if x.shape[-2] != 1:
                raise ValueError(f"LinearReadout: a 4-D input must be (B, C, 1, T), got {tuple(x.shape)}")
            x = x.squeeze(-2)
        elif x.dim() != 3:
            raise ValueError(f"LinearReadout expects (B, C, T) or (B, C, 1, T), got {tuple(x.shape)}")
        y = self.activation(self.fc(x.transpose(-1, -2)))     # (B, T, N)
        return y.transpose(-1, -2).unsqueeze(-2)
