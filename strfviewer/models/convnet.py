"""ConvNet2D: three causal 2-D convolution blocks and a per-frame MLP readout (Pennington & David 2023)."""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn as nn

from strfviewer.models.activations import ParametricSoftplus
from strfviewer.models.base import AudioEncodingModel
from strfviewer.models.layers import CausalLayerNorm
from strfviewer.models.readouts import LinearReadout
from strfviewer.models.registry import register

N_CONV_BLOCKS = 3


@register("model", "ConvNet2D", aliases=("CNN",))
class ConvNet2D(AudioEncodingModel):
    """Three ``Conv2d(kernel_size=(K_F, K_T))`` -> LayerNorm over channels -> LeakyReLU(0.1) blocks,
    after ``3 (K_T - 1)`` zero frames padded on the left of time (so the stack is causal and keeps the
    length); frequencies shrink to ``F - 3 (K_F - 1)``. The ``c_hidden x F_down`` features of each frame
    go through a one-hidden-layer MLP (``n_hidden`` units) and ``output_activation`` (default
    ParametricSoftplus). ``T = 3 (K_T - 1)``; the receptive field spans ``T + 1`` frames.
    Input ``(B, 1, F, T)``, output ``(B, N, 1, T)``.
    """

    def __init__(self, n_frequency_bands: int = 34, kernel_size: Sequence[int] = (3, 9), c_hidden: int = 10,
                 n_hidden: int = 20, out_neurons: int = 1, output_activation: Optional[nn.Module] = None,
                 prefiltering: Optional[nn.Module] = None, wav2spec: Optional[nn.Module] = None):
        kernel_size = tuple(int(k) for k in kernel_size)
        if len(kernel_size) != 2 or min(kernel_size) < 1:
            raise ValueError(f"kernel_size must be two positive ints (K_F, K_T), got {kernel_size}")
        k_f, k_t = kernel_size
        super().__init__(n_frequency_bands, max(1, N_CONV_BLOCKS * (k_t - 1)), out_neurons=out_neurons,
                         prefiltering=prefiltering, wav2spec=wav2spec)
        self.K, self.C, self.H = kernel_size, c_hidden, n_hidden
        f_down = self.F - N_CONV_BLOCKS * (k_f - 1)
        if f_down < 1:
            raise ValueError(f"kernel_size[0]={k_f} is too tall for {self.F} bands after {N_CONV_BLOCKS} convolutions")
        blocks = [nn.ZeroPad2d((N_CONV_BLOCKS * (k_t - 1), 0, 0, 0))]
        for i in range(N_CONV_BLOCKS):
            blocks += [nn.Conv2d(self.C_in if i == 0 else self.C, self.C, kernel_size=self.K),
                       CausalLayerNorm(self.C, dim=1), nn.LeakyReLU(0.1)]
        blocks.append(nn.Flatten(start_dim=1, end_dim=2))        # (B, C, F_down, T) -> (B, C * F_down, T)
        self.core = nn.Sequential(*blocks)
        self.readout = LinearReadout(self.C * f_down, self.N, hidden=self.H, activation=(
            output_activation if output_activation is not None else ParametricSoftplus(self.N)))

    def forward_valid(self, x: torch.Tensor) -> torch.Tensor:
        """Responses ``(B, N, 1, L - R + 1)`` at the frames of the input ``(B, 1, F, L)`` whose whole reach
        (``R = temporal_reach()`` frames) lies inside it: the same values as :meth:`forward` there, without
        the causal zero padding or the prefilter's padded frames (a short window costs its valid frames only)."""
        y = self.prefiltering(self.wav2spec(x))[..., self.prefilter_reach():]
        return self.readout(self.core[1:](y))                    # core[0]: the causal zero padding

    def temporal_reach(self) -> Optional[int]:
        return N_CONV_BLOCKS * (self.K[1] - 1) + 1 + self.prefilter_reach()
