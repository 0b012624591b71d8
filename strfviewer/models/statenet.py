"""StateNet: a per-frame spectral encoder feeding a recurrent or state-space layer (Rancon et al. 2025)."""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn as nn

from strfviewer.models.activations import ParametricSoftplus
from strfviewer.models.base import AudioEncodingModel
from strfviewer.models.layers import CausalLayerNorm, LocallyConnected1d
from strfviewer.models.readouts import LinearReadout
from strfviewer.models.registry import register
from strfviewer.models.s4 import S4Block
from strfviewer.models.ssm import LMU, MambaBlock, S4DBlock
from strfviewer.models.recurrent_state import run_from, states_along

RNN_TYPES = ("GRU", "LSTM", "RNN", "vanilla", "LMU", "Mamba", "S4", "S4D")
CONNECTIVITIES = ("LC", "FC", "CONV")


def _make_encoder(connectivity: str, F: int, C_in: int, C: int, K: int, S: int, L: int) -> nn.Sequential:
    """Per-frame spectral encoder ``(B', C_in, F) -> (B', C, L)`` followed by LayerNorm over C and a sigmoid."""
    if connectivity == "LC":
        first = [LocallyConnected1d(input_size=F, in_channels=C_in, out_channels=C, kernel_size=K, stride=S)]
    elif connectivity == "FC":
        first = [nn.Flatten(start_dim=-2), nn.Linear(C_in * F, C * L), nn.Unflatten(-1, (C, L))]
    elif connectivity == "CONV":
        first = [nn.Conv1d(C_in, C, kernel_size=K, stride=S)]
    else:
        raise ValueError(f"connectivity must be one of {', '.join(CONNECTIVITIES)}, got {connectivity!r}")
    return nn.Sequential(*first, CausalLayerNorm(C, dim=1), nn.Sigmoid())


def _make_recurrence(rnn_type: str, H: int) -> nn.Module:
    if rnn_type == "GRU":
        return nn.GRU(H, H, num_layers=1, batch_first=True)
    if rnn_type == "LSTM":
        return nn.LSTM(H, H, num_layers=1, batch_first=True)
    if rnn_type in ("RNN", "vanilla"):
        return nn.RNN(H, H, num_layers=1, batch_first=True)
    if rnn_type == "LMU":
        return LMU(H, H, memory_size=128, theta=99)
    if rnn_type == "Mamba":
        return MambaBlock(H)
    if rnn_type == "S4":      # deepSTRF's S4: DPLR, HiPPO-LegS (its checkpoints load)
        return S4Block(H)
    if rnn_type == "S4D":     # strfviewer's compact diagonal S4 (what "S4" meant before; see docs/models.md)
        return S4DBlock(H)
    raise ValueError(f"unknown rnn_type {rnn_type!r}; choose one of {', '.join(RNN_TYPES)}")


@register("model", "StateNet")
class StateNet(AudioEncodingModel):
    """Stateful model with no explicit STRF window: memory lives in the recurrence.

    Each frame ``(C_in, F)`` goes through a stateless spectral encoder (``connectivity`` 'LC' locally
    connected, 'FC' dense or 'CONV' convolutional; ``hidden_channels`` channels, ``kernel_size`` bands,
    ``stride``) giving ``H = hidden_channels * L`` features with ``L = (F - kernel_size) // stride + 1``;
    the sequence of frames runs through ``rnn_type`` (GRU, LSTM, RNN, LMU, Mamba, S4, S4D) of width ``H``; a
    per-frame linear readout and ``output_activation`` (default ParametricSoftplus) give the responses.
    ``temporal_window_size`` is unused by the computation (kept for the gradmap window).
    Input ``(B, 1, F, T)``, output ``(B, N, 1, T)``.
    """

    def __init__(self, n_frequency_bands: int = 34, temporal_window_size: int = 1, kernel_size: int = 7,
                 stride: int = 3, hidden_channels: int = 7, connectivity: str = "LC", rnn_type: str = "GRU",
                 out_neurons: int = 1, output_activation: Optional[nn.Module] = None,
                 prefiltering: Optional[nn.Module] = None, wav2spec: Optional[nn.Module] = None):
        super().__init__(n_frequency_bands, temporal_window_size, out_neurons=out_neurons,
                         prefiltering=prefiltering, wav2spec=wav2spec)
        if rnn_type not in RNN_TYPES:
            raise ValueError(f"unknown rnn_type {rnn_type!r}; choose one of {', '.join(RNN_TYPES)}")
        self.K, self.S, self.C, self.rnn_type, self.connectivity = kernel_size, stride, hidden_channels, rnn_type, connectivity
        self.L = (self.F - kernel_size) // stride + 1
        if kernel_size > self.F or self.L < 1:
            raise ValueError(f"kernel_size={kernel_size} does not fit {self.F} bands")
        self.H = self.L * self.C
        self.encoder_layers = _make_encoder(connectivity, self.F, self.C_in, self.C, kernel_size, stride, self.L)
        self.rnn = _make_recurrence(rnn_type, self.H)
        self.readout = LinearReadout(self.H, self.N, activation=(
            output_activation if output_activation is not None else ParametricSoftplus(self.N)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self._features(x))
        return self.readout(out.transpose(1, 2))

    def _features(self, x: torch.Tensor, skip: int = 0) -> torch.Tensor:
        """Per-frame features ``(B, L - skip, H)`` of the input ``(B, 1, F, L)`` (front-end, prefilter,
        encoder), the first ``skip`` frames dropped after the prefilter."""
        y = self.prefiltering(self.wav2spec(x))[..., skip:]          # (B, C_in, F, L - skip)
        B, T = y.shape[0], y.shape[-1]
        frames = y.permute(3, 0, 1, 2).flatten(0, 1)                  # (T*B, C_in, F): frames are independent
        return self.encoder_layers(frames).reshape(T, B, self.H).transpose(0, 1)   # (B, L, H)

    def recurrent_states(self, x: torch.Tensor) -> Optional[Tuple[torch.Tensor, ...]]:
        """The recurrence's state after each frame of the input ``(B, 1, F, L)``: a tuple of ``(B, L, ...)``
        tensors (GRU, RNN: ``h``; LSTM: ``h, c``; LMU: ``h, m``; Mamba: convolution history and scan state;
        S4: modal state), see :func:`~strfviewer.models.recurrent_state.states_along`."""
        return states_along(self.rnn, self._features(x))

    def forward_from(self, x: torch.Tensor, state: Tuple[torch.Tensor, ...], skip: int = 0) -> torch.Tensor:
        """Responses ``(B, N, 1, L - skip)`` to frames ``skip..L-1`` of the input ``(B, 1, F, L)``, the
        recurrence starting from ``state`` (one ``(B, ...)`` tensor per entry of :meth:`recurrent_states`: the
        state after the frame before ``skip``). The first ``skip`` frames only feed the prefilter's past."""
        out, _ = run_from(self.rnn, self._features(x, skip), state)
        return self.readout(out.transpose(1, 2))

    def temporal_reach(self) -> Optional[int]:
        return None

    def core_summary(self) -> str:
        """One line describing the core, for the model panel."""
        return f"{self.connectivity} spectral encoder ({self.C} x {self.L}) -> {self.rnn_type}({self.H})"
