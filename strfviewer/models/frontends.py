"""Learnable waveform front-ends (``wav2spec``): waveform ``(B, 1, T_audio)`` -> spectrogram ``(B, 1, F, T)``.

A model built with one (``wav2spec=...``) takes audio directly, so the front-end is trained with the rest
of the model and waveform gradmaps exist. Every front-end exposes ``out_channels`` (= F), ``sample_rate``
(Hz), ``hop`` (samples per output frame) and ``dt_ms``, and is causal: output frame ``t`` depends on
samples ``< (t + 1) * hop`` only.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from strfviewer.models.capture import CapturesInitKwargs
from strfviewer.models.options import Option
from strfviewer.models.registry import register
from strfviewer.models.scales import _SCALES, ERB_bandwidth, get_CFs
from strfviewer.models.wav2spec._common import BandNormalization, normalize_option, whole_hop


def _subsampling_step(hop: int, min_points: int = 8) -> int:
    """Largest step dividing ``hop`` that still leaves ``>= min_points`` samples per frame (1 for tiny hops)."""
    for d in range(min(min_points, hop), hop + 1):
        if hop % d == 0:
            return hop // d
    return 1


@register("frontend", "GaborFilterbank", aliases=("gabor",),
          description="learnable complex Gabor filterbank: waveform -> log band energies")
class GaborFilterbank(BandNormalization, CapturesInitKwargs, nn.Module):
    """Bank of ``n_bands`` complex Gabor filters with learnable centre frequencies and bandwidths.

    Band ``f``: ``h_f[k] = g_f(k) exp(2 pi i cf_f k / sample_rate)`` over the last ``window`` samples,
    ``g_f`` a Gaussian envelope of standard deviation ``1 / (pi bw_f)`` seconds normalised to unit sum.
    Centre frequencies start evenly spaced on ``scale`` between ``f_min_hz`` and ``f_max_hz``, bandwidths
    at one ERB. The squared magnitude (the band's energy envelope) is averaged over each frame of
    ``dt_ms`` and compressed with ``log(1 + energy / floor)`` (0 for silence, smooth everywhere).
    Input ``(B, 1, T_audio)`` (or ``(B, T_audio)``), output ``(B, 1, n_bands, T_audio // hop)``.
    Parameters: ``log_cf (F,)`` (log Hz) and ``log_bw (F,)`` (log Hz), frozen when ``learnable=False``.
    ``sample_rate * dt_ms / 1000`` must be a whole number of samples; ``normalize`` as in
    :class:`~strfviewer.models.wav2spec._common.BandNormalization`.
    """

    OPTIONS = (
        Option("n_bands", "int", 34, tooltip="Number of frequency bands (F).", minimum=1, maximum=512,
               label="Bands"),
        Option("sample_rate", "int", 16000, tooltip="Sample rate of the waveform in Hz.", minimum=1000,
               maximum=384000, label="Sample rate (Hz)"),
        Option("dt_ms", "float", 5.0, tooltip="Frame step of the output in ms.", minimum=0.1, maximum=1000.0,
               label="Frame step (ms)"),
        Option("f_min_hz", "float", 500.0, tooltip="Lowest band centre in Hz.", minimum=1.0, maximum=192000.0,
               label="Lowest band (Hz)"),
        Option("f_max_hz", "float", 8000.0, tooltip="Highest band centre in Hz (at most half the sample rate).",
               minimum=1.0, maximum=192000.0, label="Highest band (Hz)"),
        Option("scale", "choice", "mel", choices=tuple(_SCALES), tooltip="Spacing of the initial band centres.",
               label="Band scale"),
        Option("window_ms", "float", 0.0, tooltip="Filter length in ms (0: six standard deviations of the widest "
               "envelope).", minimum=0.0, maximum=1000.0, label="Window (ms)"),
        Option("floor", "float", 1e-4, tooltip="Energy floor of the log compression log(1 + energy / floor).",
               minimum=1e-12, maximum=1e6, label="Compression floor"),
        Option("learnable", "bool", True, tooltip="Train the centre frequencies and bandwidths with the model.",
               label="Learnable"),
        normalize_option(),
    )

    def __init__(self, n_bands: int = 34, sample_rate: int = 16000, dt_ms: float = 5.0, f_min_hz: float = 500.0,
                 f_max_hz: float = 8000.0, scale: str = "mel", window_ms: float = 0.0, floor: float = 1e-4,
                 learnable: bool = True, normalize: bool = False):
        super().__init__()
        if not 0 < f_min_hz < f_max_hz <= sample_rate / 2:
            raise ValueError(f"need 0 < f_min_hz < f_max_hz <= sample_rate / 2 = {sample_rate / 2} Hz, "
                             f"got {f_min_hz} and {f_max_hz}")
        self.out_channels, self.sample_rate, self.dt_ms, self.floor = n_bands, int(sample_rate), float(dt_ms), floor
        self.hop = whole_hop("sample_rate", self.sample_rate, "dt_ms", self.dt_ms)
        self.step = _subsampling_step(self.hop)
        cf = get_CFs(f_min_hz, f_max_hz, n_bands, scale).double()
        bw = ERB_bandwidth(cf)
        if window_ms <= 0:                       # +-3 standard deviations of the widest envelope
            window_ms = 6000.0 / (math.pi * float(bw.min()))
        self.window = max(2, int(round(window_ms * sample_rate / 1000.0)))
        self.min_bw_hz = 6.0 * sample_rate / (math.pi * self.window)  # envelope must fit in the window
        self.max_cf_hz = sample_rate / 2.0
        log_cf, log_bw = torch.log(cf).float(), torch.log(bw.clamp(min=self.min_bw_hz)).float()
        if learnable:
            self.log_cf, self.log_bw = nn.Parameter(log_cf), nn.Parameter(log_bw)
        else:
            self.register_buffer("log_cf", log_cf)
            self.register_buffer("log_bw", log_bw)
        self._init_band_normalization(normalize, n_bands)

    def center_frequencies(self) -> torch.Tensor:
        """Current centre frequencies in Hz, ``(F,)``."""
        return torch.exp(self.log_cf).clamp(max=self.max_cf_hz)

    def bandwidths(self) -> torch.Tensor:
        """Current bandwidths in Hz, ``(F,)``."""
        return torch.exp(self.log_bw).clamp(min=self.min_bw_hz)

    def filters(self) -> torch.Tensor:
        """Real conv1d weights ``(2F, 1, window)``: real parts then imaginary parts, oldest sample first."""
        lag = torch.arange(self.window, device=self.log_cf.device, dtype=self.log_cf.dtype)
        t = (lag - (self.window - 1) / 2.0) / self.sample_rate                       # seconds from the centre
        sigma = 1.0 / (math.pi * self.bandwidths())[:, None]
        env = torch.exp(-0.5 * (t[None, :] / sigma) ** 2)
        env = env / env.sum(dim=1, keepdim=True)
        phase = 2.0 * math.pi * self.center_frequencies()[:, None] * lag[None, :] / self.sample_rate
        kernel = torch.cat([env * torch.cos(phase), env * torch.sin(phase)], dim=0)
        return kernel.flip(-1).unsqueeze(1)

    def frequency_response(self, freqs_hz: torch.Tensor) -> torch.Tensor:
        """Magnitude ``(F, M)`` of the complex filters at ``freqs_hz`` (1 at the centre frequency)."""
        from strfviewer.models.wav2spec._common import fir_response

        with torch.no_grad():
            taps = self.filters()[:, 0].flip(-1)                            # (2F, window), oldest sample last
            complex_taps = torch.complex(taps[: self.out_channels], taps[self.out_channels:])
            return fir_response(complex_taps, freqs_hz, self.sample_rate).float()

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.dim() == 2:
            wav = wav.unsqueeze(1)
        if wav.dim() != 3 or wav.shape[1] != 1:
            raise ValueError(f"GaborFilterbank expects a waveform (B, 1, T_audio), got {tuple(wav.shape)}")
        n_frames = wav.shape[-1] // self.hop
        if n_frames < 1:
            raise ValueError(f"waveform of {wav.shape[-1]} samples is shorter than one {self.dt_ms} ms frame")
        wav = wav[..., : n_frames * self.hop]
        # output j sees samples <= j * step; frame t pools j in [t * hop/step, (t+1) * hop/step)
        out = F.conv1d(F.pad(wav, (self.window - 1, 0)), self.filters(), stride=self.step)
        energy = out[:, : self.out_channels] ** 2 + out[:, self.out_channels:] ** 2
        energy = F.avg_pool1d(energy, self.hop // self.step)
        return self._band_normalized(torch.log1p(energy / self.floor).unsqueeze(1))

    def extra_repr(self) -> str:
        return (f"n_bands={self.out_channels}, sample_rate={self.sample_rate}, dt_ms={self.dt_ms}, "
                f"window={self.window} samples")
