"""Causal log-mel spectrogram (deepSTRF's ``CausalMelSpectrogram``): Hann-windowed STFT ending at each bin's end."""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

from strfviewer.models.options import Option
from strfviewer.models.registry import register
from strfviewer.models.wav2spec._common import (common_options, WaveformFrontend, check_choice, check_count,
                                                frequency_range, safe_root, samples)

MAGNITUDES = ("amplitude", "power")
COMPRESSIONS = ("log", "cubic", "log1p", "none")
MEL_SCALES = ("htk", "slaney")
DEFAULT_F_MAX = 22627.0

_SLANEY_SP = 200.0 / 3.0                   # Hz per mel below 1 kHz
_SLANEY_LOG_STEP = math.log(6.4) / 27.0    # natural-log step per mel above 1 kHz


def hz_to_mel(f: torch.Tensor, mel_scale: str) -> torch.Tensor:
    """Mel value of ``f`` Hz: HTK ``2595 log10(1 + f/700)`` or Slaney (linear below 1 kHz, log above)."""
    if mel_scale == "htk":
        return 2595.0 * torch.log10(1.0 + f / 700.0)
    linear = f / _SLANEY_SP
    logarithmic = 1000.0 / _SLANEY_SP + torch.log(torch.clamp(f, min=1e-10) / 1000.0) / _SLANEY_LOG_STEP
    return torch.where(f >= 1000.0, logarithmic, linear)


def mel_to_hz(m: torch.Tensor, mel_scale: str) -> torch.Tensor:
    """Inverse of :func:`hz_to_mel`."""
    if mel_scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    knee = 1000.0 / _SLANEY_SP
    return torch.where(m >= knee, 1000.0 * torch.exp(_SLANEY_LOG_STEP * (m - knee)), _SLANEY_SP * m)


def mel_band_edges(f_min: float, f_max: float, n_mels: int, mel_scale: str,
                   dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``n_mels + 2`` frequencies (Hz) equally spaced in mel: band ``m`` rises from ``[m]``, peaks at ``[m + 1]``
    and falls to ``[m + 2]``."""
    lo, hi = (float(hz_to_mel(torch.tensor(f, dtype=torch.float64), mel_scale)) for f in (f_min, f_max))
    return mel_to_hz(torch.linspace(lo, hi, n_mels + 2, dtype=dtype), mel_scale)


def mel_filterbank(n_freqs: int, f_min: float, f_max: float, n_mels: int, sample_rate: int,
                   mel_scale: str) -> torch.Tensor:
    """Triangular mel weights ``(n_freqs, n_mels)`` over the STFT bins ``0 .. sample_rate // 2`` Hz, peak 1.

    The same filters as torchaudio's ``melscale_fbanks(norm=None)``, which deepSTRF uses (float32 like it, so
    the weights agree to the last bit or two).
    """
    bins = torch.linspace(0, sample_rate // 2, n_freqs, dtype=torch.float32)
    edges = mel_band_edges(f_min, f_max, n_mels, mel_scale, dtype=torch.float32)
    width = edges[1:] - edges[:-1]                                      # (n_mels + 1,)
    rising = (bins[:, None] - edges[None, :-2]) / width[None, :-1]
    falling = (edges[None, 2:] - bins[:, None]) / width[None, 1:]
    return torch.clamp(torch.minimum(rising, falling), min=0.0)


@register("frontend", "CausalMel", aliases=("CausalMelSpectrogram",))
class CausalMelSpectrogram(WaveformFrontend):
    """Strictly causal log-mel spectrogram; deepSTRF 0.1.0's ``CausalMelSpectrogram`` (same arguments, tensors).

    Frame ``k`` is the ``win``-sample Hann-windowed (symmetric) STFT of samples ``[(k+1) hop - win, (k+1) hop)``
    (zeros before the onset), ``n_fft = win``; its magnitude (``'amplitude'``) or power is weighted by
    ``n_mels`` triangular mel filters from ``f_min`` to ``f_max`` Hz and compressed: ``'log'`` =
    ``log(max(mel, log_floor))`` (or ``log(mel + log_offset)`` when ``log_offset`` is set), ``'cubic'`` =
    ``mel ** (1/3)``, ``'log1p'``, ``'none'``. ``f_max`` at its default (22627 Hz) is lowered to Nyquist.
    Input ``(B, 1, T_audio)``, output ``(B, 1, n_mels, T_audio // hop)``. Buffers: ``_window (win,)``,
    ``_mel_fb (win // 2 + 1, n_mels)``; no parameters (a fixed front-end).
    """

    OPTIONS = common_options("n_mels", 34, 500.0, DEFAULT_F_MAX) + (
        Option("win_ms", "float", 10.0, tooltip="Analysis window length in ms.", minimum=0.1, maximum=1000.0,
               label="Window (ms)"),
        Option("magnitude", "choice", "amplitude", choices=MAGNITUDES, tooltip="Amplitude or power spectrum."),
        Option("compression", "choice", "log", choices=COMPRESSIONS, tooltip="Compression of the band energies."),
        Option("mel_scale", "choice", "htk", choices=MEL_SCALES, tooltip="Mel formula (HTK or Slaney)."),
    )


    def __init__(self, audio_fs: int, n_mels: int = 34, hop_ms: float = 5.0, win_ms: float = 10.0,
                 f_min: float = 500.0, f_max: Optional[float] = DEFAULT_F_MAX, magnitude: str = "amplitude",
                 compression: str = "log", log_floor: float = 1e-4, log_offset: Optional[float] = None,
                 mel_scale: str = "htk", normalize: bool = False):
        super().__init__()
        self._set_timing(audio_fs, hop_ms)
        self.n_mels = self.out_channels = check_count("n_mels", n_mels)
        self._init_band_normalization(normalize, self.out_channels)
        check_choice("magnitude", magnitude, MAGNITUDES)
        check_choice("compression", compression, COMPRESSIONS)
        check_choice("mel_scale", mel_scale, MEL_SCALES)
        self.win = samples("win_ms", win_ms, self.audio_fs)
        if win_ms < hop_ms:
            raise ValueError(f"win_ms={win_ms:g} must be >= hop_ms={hop_ms:g} (each frame covers its whole bin)")
        self.n_fft = self.win
        self.f_min, self.f_max = frequency_range(f_min, f_max, self.audio_fs, DEFAULT_F_MAX)
        self.magnitude, self.compression, self.mel_scale = magnitude, compression, mel_scale
        self.log_floor = float(log_floor)
        self.log_offset = None if log_offset is None else float(log_offset)
        self.left_pad = self.win - self.hop
        self.register_buffer("_window", torch.hann_window(self.win, periodic=False, dtype=torch.float32))
        self.register_buffer("_mel_fb", mel_filterbank(self.n_fft // 2 + 1, self.f_min, self.f_max, self.n_mels,
                                                       self.audio_fs, mel_scale))

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = F.pad(self._frames(wav), (self.left_pad, 0))
        spec = torch.stft(x.flatten(0, 1), n_fft=self.n_fft, hop_length=self.hop, win_length=self.win,
                          window=self._window, center=False, return_complex=True)   # (B, n_fft//2+1, T)
        power = spec.real ** 2 + spec.imag ** 2
        spec = safe_root(power, 0.5) if self.magnitude == "amplitude" else power
        mel = self._mel_fb.transpose(0, 1) @ spec                                  # (B, n_mels, T)
        if self.compression == "log":
            out = torch.log(mel + self.log_offset) if self.log_offset is not None \
                else torch.log(mel.clamp(min=self.log_floor))
        elif self.compression == "cubic":
            out = safe_root(mel, 1.0 / 3.0)
        elif self.compression == "log1p":
            out = torch.log1p(mel.clamp(min=0.0))
        else:
            out = mel
        return self._band_normalized(out.unsqueeze(1))

    def center_frequencies(self) -> torch.Tensor:
        """Peak frequency (Hz) of each mel triangle as the constructor arguments place it, ``(n_mels,)``."""
        return mel_band_edges(self.f_min, self.f_max, self.n_mels, self.mel_scale)[1:-1].float()

    def bandwidths(self) -> torch.Tensor:
        """Half-height width (Hz) of each mel triangle, ``(n_mels,)``."""
        edges = mel_band_edges(self.f_min, self.f_max, self.n_mels, self.mel_scale)
        return ((edges[2:] - edges[:-2]) / 2.0).float()

    def frequency_response(self, freqs_hz: torch.Tensor) -> torch.Tensor:
        """Mel-band magnitude ``(n_mels, M)`` for a unit sine at each frequency: the windowed STFT's bins
        (window leakage included) weighted by the stored ``_mel_fb``; the amplitude path's linear stage."""
        window = self._window.detach().to(torch.float64)
        n = torch.arange(self.win, dtype=torch.float64)
        phase = 2.0 * math.pi * freqs_hz.to(torch.float64)[:, None] * n[None, :] / self.audio_fs   # (M, win)
        tones = window[None, :] * torch.polar(torch.ones_like(phase), phase)
        leak = torch.fft.fft(tones, n=self.n_fft, dim=-1)[:, : self.n_fft // 2 + 1].abs().T / 2.0  # (bins, M)
        return (self._mel_fb.detach().to(torch.float64).T @ leak).float()

    def extra_repr(self) -> str:
        return (f"audio_fs={self.audio_fs}, n_mels={self.n_mels}, hop={self.hop}, win={self.win}, "
                f"f_range=({self.f_min:g}, {self.f_max:g}), magnitude={self.magnitude!r}, "
                f"compression={self.compression!r}")
