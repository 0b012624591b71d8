"""SincNet (Ravanelli & Bengio 2018; deepSTRF's ``SincNet``): band-pass filters with learnable band edges."""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from strfviewer.models.options import Option
from strfviewer.models.registry import register
from strfviewer.models.scales import Hz_to_mel, mel_to_Hz
from strfviewer.models.wav2spec._common import (common_options, WaveformFrontend, check_choice, check_count, fir_response,
                                                frequency_range, samples)

INITS = ("mel", "linear")
ACTIVATIONS = ("symlog", "logabs", "none")


@register("frontend", "SincNet")
class SincNet(WaveformFrontend):
    """Strictly causal SincNet; deepSTRF 0.1.0's ``SincNet`` (same arguments, tensors).

    Band ``f`` is the Hamming-windowed ideal band-pass ``sin(2 pi f2 n/fs)/(pi n) - sin(2 pi f1 n/fs)/(pi n)``
    over ``kernel_size`` taps (``n`` centred on the kernel), with learnable edges ``f1 = clamp(|low_hz_|, 1,
    fs/2 - 1)`` and ``f2 = min(f1 + |band_hz_|, fs/2)`` Hz (``init``: mel- or linearly spaced edges from
    ``f_min`` to ``f_max``, default Nyquist). Without ``envelope`` the bank is applied once per frame, over the
    ``kernel_size`` samples ending at the bin's end (``[(k+1) hop - K, (k+1) hop)``; for ``K < hop``,
    ``[k hop, k hop + K)`` at the bin's start, as in deepSTRF). With ``envelope`` the band signal is computed at
    every sample, rectified and averaged over the ``env_window_ms`` (default ``hop_ms``) ending at the bin's end.
    Output ``activation``: ``'logabs'`` = ``log(1 + |y|)``, ``'symlog'`` = ``sign(y) log(1 + |y|)``, ``'none'``.
    Input ``(B, 1, T_audio)``, output ``(B, 1, n_filters, T_audio // hop)``. Parameters ``low_hz_, band_hz_
    (F,)`` Hz; buffers ``_n, _window (1, K)``.
    """

    OPTIONS = common_options("n_filters", 34, 300.0, None) + (
        Option("kernel_size", "int", 251, tooltip="Sinc filter length in samples.", minimum=3, maximum=100000,
               label="Filter length (samples)"),
        Option("init", "choice", "mel", choices=INITS, tooltip="Initial spacing of the band edges."),
        Option("activation", "choice", "logabs", choices=ACTIVATIONS, tooltip="Compression of the filter outputs."),
        Option("envelope", "bool", False, tooltip="Smooth the outputs into an envelope before framing."),
    )


    def __init__(self, audio_fs: int, n_filters: int = 34, kernel_size: int = 251, hop_ms: float = 5.0,
                 f_min: float = 300.0, f_max: Optional[float] = None, init: str = "mel",
                 activation: str = "logabs", envelope: bool = False, env_window_ms: Optional[float] = None,
                 normalize: bool = False):
        super().__init__()
        self._set_timing(audio_fs, hop_ms)
        self.n_filters = self.out_channels = check_count("n_filters", n_filters)
        self._init_band_normalization(normalize, self.out_channels)
        self.kernel_size = check_count("kernel_size", kernel_size)
        if self.kernel_size < 2:
            raise ValueError(f"kernel_size must be at least 2 taps (a Hamming window), got {kernel_size!r}")
        check_choice("init", init, INITS)
        check_choice("activation", activation, ACTIVATIONS)
        self.f_min, self.f_max = frequency_range(f_min, f_max, self.audio_fs, None)
        self.activation, self.envelope = activation, bool(envelope)
        env_ms = self.hop_ms if env_window_ms is None else env_window_ms
        self.env_window = samples("env_window_ms", env_ms, self.audio_fs)
        if self.env_window < self.hop:
            raise ValueError(f"env_window_ms={env_ms:g} must be >= hop_ms={self.hop_ms:g}")
        self.pool_left_pad = self.env_window - self.hop
        self.left_pad = self.kernel_size - 1 if self.envelope else max(0, self.kernel_size - self.hop)

        if init == "mel":
            edges = mel_to_Hz(torch.linspace(float(Hz_to_mel(torch.tensor(self.f_min))),
                                             float(Hz_to_mel(torch.tensor(self.f_max))), self.n_filters + 1))
        else:
            edges = torch.linspace(self.f_min, self.f_max, self.n_filters + 1)
        self.low_hz_ = nn.Parameter(edges[:-1].clone())
        self.band_hz_ = nn.Parameter(edges[1:] - edges[:-1])
        taps = torch.arange(self.kernel_size, dtype=torch.float32)
        self.register_buffer("_n", (taps - (self.kernel_size - 1) / 2.0).view(1, -1))
        window = 0.54 - 0.46 * torch.cos(2.0 * math.pi * taps / (self.kernel_size - 1))
        self.register_buffer("_window", window.view(1, -1))

    @property
    def f1(self) -> torch.Tensor:
        """Lower band edges (Hz), ``(F,)``."""
        return torch.clamp(self.low_hz_.abs(), min=1.0, max=self.audio_fs / 2.0 - 1.0)

    @property
    def f2(self) -> torch.Tensor:
        """Upper band edges (Hz), ``(F,)``."""
        return torch.clamp(self.f1 + self.band_hz_.abs(), max=self.audio_fs / 2.0)

    def filters(self) -> torch.Tensor:
        """Windowed band-pass taps ``(F, K)``."""
        f1, f2, n = self.f1.view(-1, 1), self.f2.view(-1, 1), self._n
        centre = n.abs() < 0.5
        denominator = torch.where(centre, torch.ones_like(n), math.pi * n)
        step = 2.0 * math.pi / self.audio_fs
        h = (torch.sin(step * f2 * n) - torch.sin(step * f1 * n)) / denominator
        h = torch.where(centre, (2.0 * (f2 - f1) / self.audio_fs).expand_as(h), h)
        return h * self._window

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = F.pad(self._frames(wav), (self.left_pad, 0))
        kernels = self.filters().unsqueeze(1)
        if self.envelope:
            y = F.conv1d(x, kernels).abs()
            y = F.avg_pool1d(F.pad(y, (self.pool_left_pad, 0)), kernel_size=self.env_window, stride=self.hop)
        else:
            y = F.conv1d(x, kernels, stride=self.hop)
        if self.activation == "symlog":
            y = torch.sign(y) * torch.log1p(y.abs())
        elif self.activation == "logabs":
            y = torch.log1p(y.abs())
        return self._band_normalized(y.unsqueeze(1))

    def center_frequencies(self) -> torch.Tensor:
        """Band centres ``(f1 + f2) / 2`` (Hz), ``(F,)``."""
        return ((self.f1 + self.f2) / 2.0).detach().float()

    def bandwidths(self) -> torch.Tensor:
        """Band widths ``f2 - f1`` (Hz), ``(F,)``."""
        return (self.f2 - self.f1).detach().float()

    def frequency_response(self, freqs_hz: torch.Tensor) -> torch.Tensor:
        """Magnitude ``(F, M)`` of the windowed band-pass taps at ``freqs_hz``."""
        with torch.no_grad():
            return fir_response(self.filters(), freqs_hz, self.audio_fs).float()

    def extra_repr(self) -> str:
        return (f"audio_fs={self.audio_fs}, n_filters={self.n_filters}, kernel_size={self.kernel_size}, "
                f"hop={self.hop}, f_range=({self.f_min:g}, {self.f_max:g}), activation={self.activation!r}, "
                f"envelope={self.envelope}")
