"""Causal FIR gammatone cochleagram (deepSTRF's ``CausalGammatone``): fixed gammatone bank, rectify, pool, compress."""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

from strfviewer.models.options import Option
from strfviewer.models.registry import register
from strfviewer.models.scales import ERB_bandwidth, ERB_to_Hz, Hz_to_ERB
from strfviewer.models.wav2spec._common import (common_options, WaveformFrontend, check_choice, check_count, check_positive,
                                                exponential_smoother, fir_response, frequency_range, pcen,
                                                safe_root, samples)

RECTIFIERS = ("halfwave", "full")
COMPRESSIONS = ("log", "cuberoot", "pcen", "none")
DEFAULT_F_MAX = 22627.0
_PEAK_FFT = 4096  # FFT length deepSTRF measures each kernel's peak gain with


@register("frontend", "Gammatone", aliases=("CausalGammatone",))
class CausalGammatone(WaveformFrontend):
    """Strictly causal gammatone cochleagram; deepSTRF 0.1.0's ``CausalGammatone`` (same arguments, tensors).

    ``n_filters`` centre frequencies equally spaced in ERB-rate from ``f_min`` to ``f_max``; band ``f``'s
    impulse response ``t^(order-1) exp(-2 pi b t) cos(2 pi fc t)`` (``b = b_factor ERB(fc)``, ``kernel_ms``
    long), scaled to a peak gain of 1 and applied by ``conv1d`` over the last ``kernel_ms`` of audio, i.e. reversed
    in time as in deepSTRF (same magnitude response; the band's response peaks about ``kernel_ms`` minus the
    gammatone's rise time after a click). The band signal is rectified
    (``relu`` or ``abs``), averaged over the ``env_window_ms`` (default ``2 hop_ms``) ending at each bin's end,
    and compressed (``'log'`` = ``log(max(env, log_floor))``, ``'cuberoot'``, ``'pcen'``: per-channel energy
    normalisation with a causal smoother at the frame rate, or ``'none'``). Frame ``k`` sees samples
    ``[(k+1) hop - env_window - kernel + 1, (k+1) hop)``. Input ``(B, 1, T_audio)``, output
    ``(B, 1, n_filters, T_audio // hop)``. Buffers ``_fc (F,)`` Hz and ``_kernels (F, 1, K)``; no parameters.
    """

    OPTIONS = common_options("n_filters", 34, 500.0, DEFAULT_F_MAX) + (
        Option("order", "int", 4, tooltip="Order of the gammatone filters.", minimum=1, maximum=16),
        Option("kernel_ms", "float", 20.0, tooltip="Filter length in ms.", minimum=0.1, maximum=1000.0,
               label="Filter length (ms)"),
        Option("rectify", "choice", "halfwave", choices=RECTIFIERS, tooltip="Rectification before the envelope."),
        Option("compression", "choice", "log", choices=COMPRESSIONS, tooltip="Compression of the envelopes."),
    )


    def __init__(self, audio_fs: int, n_filters: int = 34, hop_ms: float = 5.0, f_min: float = 500.0,
                 f_max: Optional[float] = DEFAULT_F_MAX, order: int = 4, b_factor: float = 1.019,
                 kernel_ms: float = 20.0, rectify: str = "halfwave", env_window_ms: Optional[float] = None,
                 compression: str = "log", log_floor: float = 1e-4, pcen_s: float = 0.025,
                 pcen_alpha: float = 0.98, pcen_delta: float = 2.0, pcen_r: float = 0.5, pcen_eps: float = 1e-6,
                 normalize: bool = False):
        super().__init__()
        self._set_timing(audio_fs, hop_ms)
        self.n_filters = self.out_channels = check_count("n_filters", n_filters)
        self._init_band_normalization(normalize, self.out_channels)
        check_choice("rectify", rectify, RECTIFIERS)
        check_choice("compression", compression, COMPRESSIONS)
        if not 0.0 < pcen_s < 1.0:
            raise ValueError(f"pcen_s must lie in (0, 1), got {pcen_s!r}")
        self.order = check_count("order", order)
        self.b_factor = check_positive("b_factor", b_factor)
        self.rectify, self.compression, self.log_floor = rectify, compression, float(log_floor)
        self.pcen_s, self.pcen_alpha, self.pcen_delta = float(pcen_s), float(pcen_alpha), float(pcen_delta)
        self.pcen_r, self.pcen_eps = float(pcen_r), float(pcen_eps)
        self.kernel_size = max(self.hop, samples("kernel_ms", kernel_ms, self.audio_fs))
        self.f_min, self.f_max = frequency_range(f_min, f_max, self.audio_fs, DEFAULT_F_MAX)
        env_ms = 2.0 * self.hop_ms if env_window_ms is None else env_window_ms
        self.env_window = samples("env_window_ms", env_ms, self.audio_fs)
        if self.env_window < self.hop:
            raise ValueError(f"env_window_ms={env_ms:g} must be >= hop_ms={self.hop_ms:g}")
        self.pool_left_pad = self.env_window - self.hop
        self.left_pad = self.kernel_size - 1
        lo, hi = Hz_to_ERB(torch.tensor(self.f_min)), Hz_to_ERB(torch.tensor(self.f_max))
        fc = ERB_to_Hz(torch.linspace(float(lo), float(hi), self.n_filters))
        self.register_buffer("_fc", fc)
        self.register_buffer("_kernels", self._gammatone_kernels(fc))

    def _gammatone_kernels(self, fc: torch.Tensor) -> torch.Tensor:
        """Gammatone impulse responses ``(F, 1, K)``, tap ``j`` at ``t = j / audio_fs``, each divided by its peak
        gain. ``conv1d`` pairs tap 0 with the oldest sample of its ``K``-sample window, so the filter applied is
        the gammatone reversed in time (deepSTRF's arrangement, kept so its checkpoints predict the same)."""
        t = torch.arange(self.kernel_size, dtype=torch.float32) / self.audio_fs             # seconds
        fc = fc.view(-1, 1)
        b = self.b_factor * ERB_bandwidth(fc)
        g = t ** (self.order - 1) * torch.exp(-2.0 * math.pi * b * t) * torch.cos(2.0 * math.pi * fc * t)
        peak = torch.fft.rfft(g, n=_PEAK_FFT, dim=1).abs().amax(dim=1, keepdim=True).clamp(min=1e-12)
        return (g / peak).unsqueeze(1)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = F.pad(self._frames(wav), (self.left_pad, 0))
        y = F.conv1d(x, self._kernels)                                   # (B, F, T_audio)
        y = y.abs() if self.rectify == "full" else F.relu(y)
        y = F.avg_pool1d(F.pad(y, (self.pool_left_pad, 0)), kernel_size=self.env_window, stride=self.hop)
        if self.compression == "log":
            y = torch.log(y.clamp(min=self.log_floor))
        elif self.compression == "cuberoot":
            y = safe_root(y, 1.0 / 3.0)
        elif self.compression == "pcen":
            energy = y.clamp(min=0.0)
            y = pcen(energy, exponential_smoother(energy, torch.tensor(self.pcen_s)), self.pcen_alpha,
                     self.pcen_delta, self.pcen_r, self.pcen_eps)
        return self._band_normalized(y.unsqueeze(1))

    def center_frequencies(self) -> torch.Tensor:
        """Centre frequency (Hz) of each band (the stored ``_fc``), ``(F,)``."""
        return self._fc.detach().clone()

    def bandwidths(self) -> torch.Tensor:
        """``b_factor * ERB(fc)`` (Hz) of each band, ``(F,)``."""
        return self.b_factor * ERB_bandwidth(self._fc.detach())

    def frequency_response(self, freqs_hz: torch.Tensor) -> torch.Tensor:
        """Magnitude ``(F, M)`` of the stored gammatone kernels at ``freqs_hz``."""
        return fir_response(self._kernels[:, 0], freqs_hz, self.audio_fs).float()

    def extra_repr(self) -> str:
        return (f"audio_fs={self.audio_fs}, n_filters={self.n_filters}, hop={self.hop}, "
                f"kernel_size={self.kernel_size}, f_range=({self.f_min:g}, {self.f_max:g}), "
                f"rectify={self.rectify!r}, compression={self.compression!r}")
