"""The Linear (L) and Linear-Nonlinear (LN) STRF models."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

from strfviewer.models.activations import ParametricSoftplus
from strfviewer.models.base import AudioEncodingModel
from strfviewer.models.readouts import STRFReadout, polarity_index
from strfviewer.models.registry import register


@register("model", "Linear")
class Linear(AudioEncodingModel):
    """One STRF per neuron applied causally to the (optionally prefiltered) spectrogram.

    ``core`` is the identity; the readout (:class:`STRFReadout`) holds the kernel ``(N, C_in, F, T)``,
    a per-neuron BatchNorm and ``output_activation`` (identity by default: a linear-affine model in eval
    mode). ``kernel`` swaps the STRF parameterisation (see :mod:`strfviewer.models.kernels`); it must be
    built for ``(F, T, C_in, C_out=N)``. Input ``(B, 1, F, T)`` (or a waveform with ``wav2spec``),
    output ``(B, N, 1, T)``. Theunissen et al. 2000; Sahani & Linden 2003.
    """

    def __init__(self, n_frequency_bands: int = 34, temporal_window_size: int = 9, out_neurons: int = 1,
                 output_activation: Optional[nn.Module] = None, prefiltering: Optional[nn.Module] = None,
                 kernel: Optional[nn.Module] = None, wav2spec: Optional[nn.Module] = None):
        super().__init__(n_frequency_bands, temporal_window_size, out_neurons=out_neurons,
                         prefiltering=prefiltering, wav2spec=wav2spec)
        self.readout = STRFReadout(self.F, self.T, self.C_in, self.N, kernel=kernel,
                                   activation=output_activation)

    def STRF_weight(self, polarity="ON") -> torch.Tensor:
        """The kernel as ``(N, F, T)``: the ON (or, with ``polarity='OFF'``, OFF) channel for a 2-channel
        prefilter, channel 0 otherwise."""
        w = self.readout.STRF_weight()
        return w[:, polarity_index(polarity)] if self.C_in == 2 else w[:, 0]


@register("model", "LinearNonlinear", aliases=("LN",))
class LinearNonlinear(Linear):
    """The :class:`Linear` model followed by a per-neuron output nonlinearity (default
    :class:`~strfviewer.models.activations.ParametricSoftplus`, non-negative and unbounded above)."""

    def __init__(self, n_frequency_bands: int = 34, temporal_window_size: int = 9, out_neurons: int = 1,
                 output_activation: Optional[nn.Module] = None, prefiltering: Optional[nn.Module] = None,
                 kernel: Optional[nn.Module] = None, wav2spec: Optional[nn.Module] = None):
        if output_activation is None:
            output_activation = ParametricSoftplus(out_neurons)
        super().__init__(n_frequency_bands, temporal_window_size, out_neurons=out_neurons,
                         output_activation=output_activation, prefiltering=prefiltering, kernel=kernel,
                         wav2spec=wav2spec)
