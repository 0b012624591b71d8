"""Two-layer STRF networks: the Network Receptive Field (NRF) and the Dynamic Network (DNet)."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

from strfviewer.models.activations import ParametricSoftplus
from strfviewer.models.base import AudioEncodingModel
from strfviewer.models.kernels import CausalSTRFConv
from strfviewer.models.layers import CausalLayerNorm, LearnableExponentialDecay
from strfviewer.models.readouts import LinearReadout, polarity_index
from strfviewer.models.registry import register


class _HiddenSTRFModel(AudioEncodingModel):
    """Shared parts: ``core[0]`` is a :class:`CausalSTRFConv` with ``n_hidden`` output channels."""

    def _hidden_conv(self, kernel: Optional[nn.Module]) -> CausalSTRFConv:
        return CausalSTRFConv(self.F, self.T, self.C_in, self.H, kernel=kernel)

    def STRFs(self, hidden_idx: int = 0, polarity="ON") -> torch.Tensor:
        """STRF ``(F, T)`` of hidden unit ``hidden_idx`` (ON or OFF channel for a 2-channel prefilter)."""
        w = self.core[0].STRF_weight()
        return w[hidden_idx, polarity_index(polarity) if self.C_in == 2 else 0]


@register("model", "NetworkReceptiveField", aliases=("NRF",))
class NetworkReceptiveField(_HiddenSTRFModel):
    """``n_hidden`` STRF units (causal STRF conv -> LayerNorm over units -> tanh) read out per frame by a
    linear map onto ``N`` neurons and ``output_activation`` (default ParametricSoftplus).

    Harper et al. 2016. Input ``(B, 1, F, T)``, output ``(B, N, 1, T)``. ``kernel`` (built for
    ``(F, T, C_in, C_out=n_hidden)``) swaps the hidden STRF parameterisation.
    """

    def __init__(self, n_frequency_bands: int = 34, temporal_window_size: int = 9, n_hidden: int = 20,
                 out_neurons: int = 1, output_activation: Optional[nn.Module] = None,
                 prefiltering: Optional[nn.Module] = None, kernel: Optional[nn.Module] = None,
                 wav2spec: Optional[nn.Module] = None):
        super().__init__(n_frequency_bands, temporal_window_size, out_neurons=out_neurons,
                         prefiltering=prefiltering, wav2spec=wav2spec)
        self.H = n_hidden
        self.core = nn.Sequential(self._hidden_conv(kernel), CausalLayerNorm(self.H, dim=1), nn.Tanh())
        self.readout = LinearReadout(self.H, self.N, activation=(
            output_activation if output_activation is not None else ParametricSoftplus(self.N)))


@register("model", "DNet")
class DNet(_HiddenSTRFModel):
    """NRF-like network whose hidden units (sigmoid) decay exponentially with learnable time constants
    (one per unit, initialised around ``init_tau`` frames), read out linearly (default: no output
    nonlinearity). Rahman et al. 2019. Input ``(B, 1, F, T)``, output ``(B, N, 1, T)``.
    """

    def __init__(self, n_frequency_bands: int = 34, temporal_window_size: int = 9, n_hidden: int = 20,
                 init_tau: float = 2.0, decay_input: bool = True, out_neurons: int = 1,
                 output_activation: Optional[nn.Module] = None, prefiltering: Optional[nn.Module] = None,
                 kernel: Optional[nn.Module] = None, wav2spec: Optional[nn.Module] = None):
        super().__init__(n_frequency_bands, temporal_window_size, out_neurons=out_neurons,
                         prefiltering=prefiltering, wav2spec=wav2spec)
        self.H = n_hidden
        self.decay_kernel_size = round(init_tau * 7)     # frames of memory of the decay filter
        self.core = nn.Sequential(
            self._hidden_conv(kernel), CausalLayerNorm(self.H, dim=1), nn.Sigmoid(),
            LearnableExponentialDecay(self.H, kernel_size=self.decay_kernel_size, init_tau=init_tau,
                                      decay_input=decay_input))
        self.readout = LinearReadout(self.H, self.N, activation=output_activation)

    def temporal_reach(self) -> Optional[int]:
        return self.T + self.decay_kernel_size - 1 + self.prefilter_reach()
