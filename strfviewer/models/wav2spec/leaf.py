"""Causal LEAF (Zeghidour et al. 2021; deepSTRF's ``CausalLEAF``): learnable Gabor filters, Gaussian pooling, sPCEN."""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from strfviewer.models.options import Option
from strfviewer.models.registry import register
from strfviewer.models.scales import ERB_bandwidth, Hz_to_mel, mel_to_Hz
from strfviewer.models.wav2spec._common import (common_options, WaveformFrontend, check_count, exponential_smoother,
                                                fir_response, frequency_range, pcen, samples)

DEFAULT_F_MAX = 22627.0


def inverse_softplus(y: float) -> float:
    """The ``x`` with ``softplus(x) = y`` (``y > 0``)."""
    return math.log(math.expm1(y))


@register("frontend", "LEAF", aliases=("CausalLEAF",))
class CausalLEAF(WaveformFrontend):
    """Strictly causal learnable front-end; deepSTRF 0.1.0's ``CausalLEAF`` (same arguments, tensors).

    1. ``n_filters`` complex Gabor filters over the last ``kernel`` samples (``kernel_ms``, made odd): centre
       ``center_freq_`` (rad/sample, mel-spaced from ``f_min`` to ``f_max`` at init) and Gaussian envelope
       standard deviation ``softplus(gabor_sigma_raw)`` samples (>= 1; ``audio_fs / (2 pi ERB(fc))`` at init);
       the envelope is the complex output's magnitude.
    2. Gaussian low-pass pooling over the last ``pool_ms`` (default ``4 hop_ms``) of the envelope, weighted
       towards the most recent sample (std ``softplus(pool_sigma_raw)`` samples), one output per ``hop``.
    3. Per-channel sPCEN with learnable ``alpha, delta, root`` (softplus) and smoother coefficient
       ``sigmoid(pcen_s_logit)``, a causal recursion at the frame rate from a zero state.

    Frame ``k`` sees samples ``[(k+1) hop - pool - kernel + 1, (k+1) hop)`` (earlier ones through sPCEN's
    smoother). ``learn_filters``, ``learn_pooling``, ``learn_pcen`` freeze a stage (its tensors stay parameters
    with ``requires_grad=False``, as in deepSTRF). Input ``(B, 1, T_audio)``, output
    ``(B, 1, n_filters, T_audio // hop)``.
    """

    OPTIONS = common_options("n_filters", 34, 60.0, DEFAULT_F_MAX) + (
        Option("kernel_ms", "float", 15.0, tooltip="Gabor filter length in ms.", minimum=0.1, maximum=1000.0,
               label="Filter length (ms)"),
        Option("learn_filters", "bool", True, tooltip="Learn the Gabor filters' centre frequencies and bandwidths."),
        Option("learn_pooling", "bool", True, tooltip="Learn the Gaussian low-pass pooling widths."),
        Option("learn_pcen", "bool", True, tooltip="Learn the PCEN compression parameters."),
    )


    def __init__(self, audio_fs: int, n_filters: int = 34, hop_ms: float = 5.0, f_min: float = 60.0,
                 f_max: Optional[float] = DEFAULT_F_MAX, kernel_ms: float = 15.0, pool_ms: Optional[float] = None,
                 learn_filters: bool = True, learn_pooling: bool = True, learn_pcen: bool = True,
                 normalize: bool = False):
        super().__init__()
        self._set_timing(audio_fs, hop_ms)
        self.n_filters = self.out_channels = check_count("n_filters", n_filters)
        self._init_band_normalization(normalize, self.out_channels)
        self.kernel_size = max(self.hop, samples("kernel_ms", kernel_ms, self.audio_fs))
        self.kernel_size += 1 - self.kernel_size % 2                    # odd: a centre tap
        pool_ms = 4.0 * self.hop_ms if pool_ms is None else pool_ms
        self.pool_size = max(self.hop, samples("pool_ms", pool_ms, self.audio_fs))
        self.left_pad, self.pool_left_pad = self.kernel_size - 1, self.pool_size - self.hop
        self.eps = 1e-6
        self.f_min, self.f_max = frequency_range(f_min, f_max, self.audio_fs, DEFAULT_F_MAX)

        fc = mel_to_Hz(torch.linspace(float(Hz_to_mel(torch.tensor(self.f_min))),
                                      float(Hz_to_mel(torch.tensor(self.f_max))), self.n_filters))
        sigma = self.audio_fs / (2.0 * math.pi * ERB_bandwidth(fc))                  # samples
        n = self.n_filters

        def full(value: float, learn: bool) -> nn.Parameter:
            return nn.Parameter(torch.full((n,), value), requires_grad=bool(learn))

        self.center_freq_ = nn.Parameter(2.0 * math.pi * fc / self.audio_fs, requires_grad=bool(learn_filters))
        self.gabor_sigma_raw = nn.Parameter(torch.tensor([inverse_softplus(float(s)) for s in sigma]),
                                            requires_grad=bool(learn_filters))
        self.pool_sigma_raw = full(inverse_softplus(self.pool_size / 4.0), learn_pooling)
        self.pcen_alpha_raw = full(inverse_softplus(0.96), learn_pcen)
        self.pcen_delta_raw = full(inverse_softplus(2.0), learn_pcen)
        self.pcen_root_raw = full(inverse_softplus(0.5), learn_pcen)
        self.pcen_s_logit = full(math.log(0.04 / 0.96), learn_pcen)
        taps = torch.arange(self.kernel_size, dtype=torch.float32) - (self.kernel_size - 1) / 2.0
        self.register_buffer("_n", taps.view(1, -1))
        self.register_buffer("_pool_j", torch.arange(self.pool_size, dtype=torch.float32).view(1, -1))

    @property
    def gabor_sigma(self) -> torch.Tensor:
        """Gabor envelope standard deviation (samples), ``(F, 1)``."""
        return F.softplus(self.gabor_sigma_raw).clamp(min=1.0).view(-1, 1)

    @property
    def pool_sigma(self) -> torch.Tensor:
        """Pooling window standard deviation (samples), ``(F, 1)``."""
        return F.softplus(self.pool_sigma_raw).clamp(min=0.5).view(-1, 1)

    def gabor_filters(self) -> torch.Tensor:
        """Complex Gabor taps ``(F, K)``, tap 0 applied to the oldest sample; envelope normalised to unit sum."""
        envelope = torch.exp(-0.5 * (self._n / self.gabor_sigma) ** 2)
        envelope = envelope / envelope.sum(dim=1, keepdim=True).clamp(min=1e-8)
        omega = self.center_freq_.clamp(0.01, math.pi).view(-1, 1)
        return torch.complex(torch.cos(omega * self._n) * envelope, torch.sin(omega * self._n) * envelope)

    def pooling_window(self) -> torch.Tensor:
        """Pooling weights ``(F, L)`` summing to 1, the most recent sample (last tap) weighted most."""
        age = (self.pool_size - 1) - self._pool_j
        w = torch.exp(-0.5 * (age / self.pool_sigma) ** 2)
        return w / w.sum(dim=1, keepdim=True).clamp(min=1e-8)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = F.pad(self._frames(wav), (self.left_pad, 0))
        gabor = self.gabor_filters()
        both = F.conv1d(x, torch.cat([gabor.real, gabor.imag]).unsqueeze(1))          # one pass: (B, 2F, T_audio)
        real, imag = both[:, : self.n_filters], both[:, self.n_filters:]
        envelope = torch.sqrt(real * real + imag * imag + 1e-9)                      # (B, F, T_audio)
        pooled = F.conv1d(F.pad(envelope, (self.pool_left_pad, 0)), self.pooling_window().unsqueeze(1),
                          stride=self.hop, groups=self.n_filters)                    # (B, F, T)
        energy = pooled.clamp(min=0.0)
        smoothed = exponential_smoother(energy, torch.sigmoid(self.pcen_s_logit))
        alpha = F.softplus(self.pcen_alpha_raw).view(1, -1, 1)
        delta = F.softplus(self.pcen_delta_raw).view(1, -1, 1)
        root = F.softplus(self.pcen_root_raw).view(1, -1, 1).clamp(min=1e-3)
        return self._band_normalized(pcen(energy, smoothed, alpha, delta, root, self.eps).unsqueeze(1))

    def center_frequencies(self) -> torch.Tensor:
        """Gabor centre frequencies (Hz), ``(F,)``."""
        return (self.center_freq_.detach().clamp(0.01, math.pi) * self.audio_fs / (2.0 * math.pi)).float()

    def bandwidths(self) -> torch.Tensor:
        """Standard deviation (Hz) of each Gabor filter's Gaussian frequency response, ``audio_fs / (2 pi
        sigma)``: one ERB at initialisation, ``(F,)``."""
        return (self.audio_fs / (2.0 * math.pi * self.gabor_sigma.detach().view(-1))).float()

    def frequency_response(self, freqs_hz: torch.Tensor) -> torch.Tensor:
        """Magnitude ``(F, M)`` of the complex Gabor filters at ``freqs_hz`` (1 at the centre frequency)."""
        with torch.no_grad():
            return fir_response(self.gabor_filters(), freqs_hz, self.audio_fs).float()

    def extra_repr(self) -> str:
        return (f"audio_fs={self.audio_fs}, n_filters={self.n_filters}, hop={self.hop}, "
                f"kernel_size={self.kernel_size}, pool_size={self.pool_size}")
