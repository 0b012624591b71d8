"""Causal gammatone-gram of Slaney's ERB filterbank (deepSTRF's ``Gammatonegram``): IIR gammatones, windowed RMS.

The filter coefficients follow Slaney's "An efficient implementation of the Patterson-Holdsworth auditory
filter bank" (Apple TR #35, 1993): four cascaded second-order sections per channel sharing one pole pair,
computed here directly (no dependency on the ``gammatone`` package deepSTRF uses for them).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

from strfviewer.models.options import Option
from strfviewer.models.registry import register
from strfviewer.models.wav2spec._common import (common_options, WaveformFrontend, check_choice, check_count, frequency_range,
                                                safe_root, samples)

COMPRESSIONS = ("log1p", "log", "none")
EAR_Q, MIN_BW = 9.26449, 24.7       # Glasberg & Moore: ERB(f) = f / EAR_Q + MIN_BW
_TAIL_DECAYS = 40.0                 # impulse response kept until n * (-ln r) = 40: tail below 1e-12 of its peak


def erb_space_frequencies(f_min: float, f_max: float, n: int) -> torch.Tensor:
    """``n`` centre frequencies (Hz, ascending) equally spaced in ERB-rate, the lowest exactly ``f_min`` and
    the highest one step below ``f_max`` (Slaney's ERBSpace)."""
    c = EAR_Q * MIN_BW
    fraction = torch.arange(n, 0, -1, dtype=torch.float64) / n                       # 1 ... 1/n
    return -c + torch.exp(fraction * (math.log(f_min + c) - math.log(f_max + c))) * (f_max + c)


def slaney_coefficients(audio_fs: int, cf: torch.Tensor) -> torch.Tensor:
    """Per channel ``(F, 10)`` float64: numerators ``A0, A11, A12, A13, A14, A2``, denominator ``B0, B1, B2``
    and the gain that makes the cascade's response 1 at ``cf``."""
    cf = cf.to(torch.float64)
    T = 1.0 / audio_fs
    bT = 1.019 * 2.0 * math.pi * (cf / EAR_Q + MIN_BW) * T
    arg = 2.0 * math.pi * cf * T
    cos, sin, decay = torch.cos(arg), torch.sin(arg), torch.exp(-bT)
    ones = torch.ones_like(cf)
    ks = [cos + sign * root * sin for root in (math.sqrt(3 + 2 ** 1.5), math.sqrt(3 - 2 ** 1.5))
          for sign in (1.0, -1.0)]                                                   # k11, k12, k13, k14
    zeros = [-T * decay * k for k in ks]
    z2 = torch.polar(ones, 2.0 * arg)                                               # exp(2 i arg)
    pole = torch.polar(decay, arg)                                                  # exp(i arg - bT)
    section = T / decay / (1.0 - decay + z2 * (1.0 - 1.0 / decay))
    gain = torch.ones_like(z2)
    for k in ks:
        gain = gain * (z2 - pole * k)
    gain = (gain * section ** 4).abs()
    return torch.stack([T * ones, *zeros, 0.0 * ones, ones, -2.0 * cos * decay, decay ** 2, gain], dim=1)


@register("frontend", "Gammatonegram")
class Gammatonegram(WaveformFrontend):
    """Causal gammatone-gram; deepSTRF 0.1.0's ``Gammatonegram`` (same arguments, tensors), no ``gammatone`` needed.

    ``n_filters`` Slaney ERB gammatone channels from ``f_min`` to ``f_max`` (ascending), each four cascaded
    causal second-order IIR sections (``a_coeffs`` shared, numerators ``b1 .. b4``) divided by ``gain``. Frame
    ``k`` is the RMS of the band signal over samples ``[k hop, k hop + nwin)``, ``nwin = window_ms`` (<= hop):
    the *start* of bin ``k`` (deepSTRF's framing; the last ``hop - nwin`` samples of each bin are read only by
    later frames through the filters' memory). Compression ``'log1p'`` (``log(1 + rms)``), ``'log'``
    (``log(max(rms, log_floor))``) or ``'none'``. Input ``(B, 1, T_audio)``, output
    ``(B, 1, n_filters, T_audio // hop)``. Buffers ``a_coeffs, b1, b2, b3, b4 (F, 3)``, ``gain (F,)``.

    The IIR filters are applied exactly, by multiplying spectra: the signal's FFT (zero-padded past the
    impulse responses' decay to 1e-12 of their peak) times the cascade's transfer function from the buffers.
    """

    OPTIONS = common_options("n_filters", 50, 1000.0, 8000.0) + (
        Option("window_ms", "float", 2.5, tooltip="Energy window length in ms.", minimum=0.1, maximum=1000.0,
               label="Window (ms)"),
        Option("compression", "choice", "log1p", choices=COMPRESSIONS, tooltip="Compression of the band energies."),
    )


    def __init__(self, audio_fs: int, n_filters: int = 50, hop_ms: float = 5.0, window_ms: float = 2.5,
                 f_min: float = 1000.0, f_max: Optional[float] = 8000.0, compression: str = "log1p",
                 log_floor: float = 1e-8, normalize: bool = False):
        super().__init__()
        self._set_timing(audio_fs, hop_ms)
        self.n_filters = self.out_channels = check_count("n_filters", n_filters)
        self._init_band_normalization(normalize, self.out_channels)
        check_choice("compression", compression, COMPRESSIONS)
        self.nwin = samples("window_ms", window_ms, self.audio_fs)
        if self.nwin > self.hop:
            raise ValueError(f"window_ms={window_ms:g} must be <= hop_ms={self.hop_ms:g} (a frame may not read "
                             f"past its bin: {self.nwin} > {self.hop} samples)")
        self.f_min, self.f_max = frequency_range(f_min, f_max, self.audio_fs, None)
        if self.f_min <= 0:
            raise ValueError(f"f_min must be above 0 Hz for ERB spacing, got {f_min!r}")
        self.compression, self.log_floor = compression, float(log_floor)
        coefs = slaney_coefficients(self.audio_fs, erb_space_frequencies(self.f_min, self.f_max, self.n_filters))
        self.register_buffer("a_coeffs", coefs[:, 6:9].float())
        for i in range(4):
            self.register_buffer(f"b{i + 1}", coefs[:, [0, 1 + i, 5]].float())
        self.register_buffer("gain", coefs[:, 9].float())

    def _cascade(self, w: torch.Tensor) -> torch.Tensor:
        """The cascade's complex response ``(F, M)`` (gain included) at angular frequencies ``w`` (rad/sample)."""
        z1 = torch.polar(torch.ones_like(w), -w)                         # z^-1 on the unit circle
        powers = torch.stack([torch.ones_like(z1), z1, z1 * z1])         # (3, M)

        def poly(c):
            return c.detach().to(torch.float64).to(torch.complex128) @ powers

        H = poly(self.b1) * poly(self.b2) * poly(self.b3) * poly(self.b4) / poly(self.a_coeffs) ** 4
        return H / self.gain.detach().to(torch.float64)[:, None]

    def transfer_function(self, n_fft: int) -> torch.Tensor:
        """The cascade's response ``(F, n_fft // 2 + 1)`` (complex128) at the rfft frequencies of ``n_fft``."""
        return self._cascade(torch.arange(n_fft // 2 + 1, dtype=torch.float64, device=self.gain.device)
                             * (2.0 * math.pi / n_fft))

    def decay_length(self) -> int:
        """Samples after which every channel's impulse response is below 1e-12 of its peak."""
        a = self.a_coeffs.detach().to(torch.float64)
        rate = -0.5 * torch.log(torch.clamp(a[:, 2] / a[:, 0], min=1e-300, max=1.0 - 1e-15))   # -ln |pole|
        return int(math.ceil(_TAIL_DECAYS / float(rate.min())))

    def filtered(self, wav: torch.Tensor) -> torch.Tensor:
        """Band signals ``(B, F, T_audio)`` (float64) of a waveform ``(B, 1, T_audio)``."""
        n = wav.shape[-1]
        n_fft = 1 << max(1, (n + self.decay_length()) - 1).bit_length()
        spectrum = torch.fft.rfft(wav.to(torch.float64), n=n_fft)        # (B, 1, K)
        return torch.fft.irfft(spectrum * self.transfer_function(n_fft), n=n_fft)[..., :n]

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = self._frames(wav)
        power = self.filtered(x) ** 2
        rms = safe_root(F.avg_pool1d(power, kernel_size=self.nwin, stride=self.hop), 0.5).to(x.dtype)
        if self.compression == "log1p":
            rms = torch.log1p(rms)
        elif self.compression == "log":
            rms = torch.log(rms.clamp(min=self.log_floor))
        return self._band_normalized(rms.unsqueeze(1))

    def center_frequencies(self) -> torch.Tensor:
        """Centre frequency (Hz) of each channel, from the pole angle of the stored ``a_coeffs``, ``(F,)``."""
        a = self.a_coeffs.detach().to(torch.float64)
        radius = torch.sqrt(a[:, 2])
        cos = torch.clamp(-a[:, 1] / (2.0 * radius), -1.0, 1.0)
        return (torch.acos(cos) * self.audio_fs / (2.0 * math.pi)).float()

    def bandwidths(self) -> torch.Tensor:
        """Equivalent rectangular bandwidth (Hz) of each channel, from the stored pole radius, ``(F,)``."""
        a = self.a_coeffs.detach().to(torch.float64)
        bT = -0.5 * torch.log(a[:, 2])
        return (bT * self.audio_fs / (1.019 * 2.0 * math.pi)).float()

    def frequency_response(self, freqs_hz: torch.Tensor) -> torch.Tensor:
        """Magnitude ``(F, M)`` of each channel's cascade (gain included) at ``freqs_hz``."""
        w = 2.0 * math.pi * freqs_hz.to(torch.float64, copy=True).to(self.gain.device) / self.audio_fs
        return self._cascade(w).abs().float()

    def extra_repr(self) -> str:
        return (f"audio_fs={self.audio_fs}, n_filters={self.n_filters}, hop={self.hop}, nwin={self.nwin}, "
                f"f_range=({self.f_min:g}, {self.f_max:g}), compression={self.compression!r}")
