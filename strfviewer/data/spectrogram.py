"""The spectrogram front-end: waveform -> (F, T) log-compressed filterbank energies, causal frames.

Framing: frame ``i`` (``i = 0 .. T-1``, ``T = ceil(duration / dt)``) stands for the time bin
``[i*dt, (i+1)*dt)`` ms, the same bin the spike counts of response ``i`` use. With ``causal=True`` (the
default) its analysis window *ends* at ``(i+1)*dt``: the frame sees only audio up to the end of its bin,
never later (zero padding before the stimulus onset). With ``causal=False`` the window is centred on the
bin centre ``(i+0.5)*dt`` (as centred STFT front-ends do), so it also sees up to half a window ahead.

Filterbank: ``n_bands`` triangular filters whose centre frequencies are equally spaced on the chosen
scale (``mel``: HTK mel, ``erb``: Glasberg & Moore ERB-rate, ``log``: octaves) from ``f_min_hz`` to
``min(f_max_hz, Nyquist)`` inclusive; each filter's edges are its neighbours' centres and its peak
weight is 1. A band value is the RMS amplitude of the audio within that band (Parseval on the windowed
frame): a sine of amplitude ``A`` at a band's centre reads about ``A / sqrt(2)`` at any sample rate,
window length or FFT size. It is then compressed as ``log(amplitude + log_offset)``
(``compression='log'``) or left linear (``'none'``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch

from strfviewer.data import limits

SCALES = ("mel", "erb", "log")
COMPRESSIONS = ("log", "none")


@dataclass(frozen=True)
class SpectrogramConfig:
    """Front-end parameters. ``f_max_hz`` is capped at the Nyquist frequency of the audio."""

    n_bands: int = 34
    dt_ms: float = 5.0
    f_min_hz: float = 500.0
    f_max_hz: float = 16000.0
    scale: str = "mel"
    compression: str = "log"
    causal: bool = True
    window_ms: float = 10.0  # analysis window length (Hann)
    log_offset: float = 1e-5  # added to the band amplitude before the log (-100 dB re full scale, about the
    # noise floor of 16-bit audio; at 1e-3 the quieter bands of real recordings were flattened)

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("invalid spectrogram settings: " + "; ".join(problems))

    def problems(self) -> list:
        out = []
        if int(self.n_bands) != self.n_bands or not 1 <= self.n_bands <= limits.MAX_BANDS:
            out.append(f"n_bands must be a whole number from 1 to {limits.MAX_BANDS}, not {self.n_bands!r}")
        if not limits.MIN_DT_MS <= self.dt_ms <= limits.MAX_DT_MS:
            out.append(f"dt_ms must be from {limits.MIN_DT_MS:g} to {limits.MAX_DT_MS:g} ms, not {self.dt_ms!r}")
        if not 0 < self.f_min_hz < self.f_max_hz:
            out.append(f"need 0 < f_min_hz < f_max_hz, got {self.f_min_hz!r} and {self.f_max_hz!r}")
        if self.scale not in SCALES:
            out.append(f"scale must be one of {SCALES}, not {self.scale!r}")
        if self.compression not in COMPRESSIONS:
            out.append(f"compression must be one of {COMPRESSIONS}, not {self.compression!r}")
        if not 0 < self.window_ms <= limits.MAX_WINDOW_MS:
            out.append(f"window_ms must be > 0 and <= {limits.MAX_WINDOW_MS:g}, not {self.window_ms!r}")
        if not self.log_offset > 0:
            out.append(f"log_offset must be > 0, not {self.log_offset!r}")
        return out

    def to_dict(self) -> Dict[str, object]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, object]) -> "SpectrogramConfig":
        """Build from a dict, ignoring keys that are not settings (e.g. a stored ``normalization``)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in dict(data).items() if k in names})

    def replace(self, **changes) -> "SpectrogramConfig":
        return dataclasses.replace(self, **changes)


# --- frequency scales --------------------------------------------------------------------------------
def hz_to_scale(f_hz: np.ndarray, scale: str) -> np.ndarray:
    f = np.asarray(f_hz, dtype=np.float64)
    if scale == "mel":
        return 2595.0 * np.log10(1.0 + f / 700.0)
    if scale == "erb":
        return 21.4 * np.log10(1.0 + 0.00437 * f)
    if scale == "log":
        return np.log2(f)
    raise ValueError(f"scale must be one of {SCALES}, not {scale!r}")


def scale_to_hz(v: np.ndarray, scale: str) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    if scale == "mel":
        return 700.0 * (10.0 ** (v / 2595.0) - 1.0)
    if scale == "erb":
        return (10.0 ** (v / 21.4) - 1.0) / 0.00437
    if scale == "log":
        return 2.0 ** v
    raise ValueError(f"scale must be one of {SCALES}, not {scale!r}")


def effective_f_max(cfg: SpectrogramConfig, sample_rate: float) -> float:
    return float(min(cfg.f_max_hz, sample_rate / 2.0))


def band_frequencies(cfg: SpectrogramConfig, sample_rate: float) -> np.ndarray:
    """Band centre frequencies ``(F,)`` in Hz for audio at ``sample_rate``."""
    f_max = effective_f_max(cfg, sample_rate)
    if not cfg.f_min_hz < f_max:
        raise ValueError(f"f_min_hz {cfg.f_min_hz} Hz is not below the Nyquist frequency {sample_rate / 2} Hz")
    lo, hi = hz_to_scale(np.array([cfg.f_min_hz, f_max]), cfg.scale)
    if cfg.n_bands == 1:
        return scale_to_hz(np.array([(lo + hi) / 2.0]), cfg.scale)
    return scale_to_hz(np.linspace(lo, hi, int(cfg.n_bands)), cfg.scale)


def _band_edges(centres_scale: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    if len(centres_scale) == 1:
        half = abs(centres_scale[0]) * 0.1 + 1e-6
        return centres_scale - half, centres_scale + half
    step = np.diff(centres_scale)
    lower = np.concatenate([[centres_scale[0] - step[0]], centres_scale[:-1]])
    upper = np.concatenate([centres_scale[1:], [centres_scale[-1] + step[-1]]])
    return lower, upper


def filterbank_range_hz(cfg: SpectrogramConfig, sample_rate: float) -> Tuple[float, float]:
    """``(low, high)`` Hz: the frequencies some band's triangular filter sees (outside them the front-end's
    output does not change, whatever the audio holds)."""
    centres = hz_to_scale(band_frequencies(cfg, sample_rate), cfg.scale)
    lower, upper = _band_edges(centres)
    low, high = scale_to_hz(np.array([lower[0], upper[-1]]), cfg.scale)
    return max(0.0, float(low)), min(float(high), sample_rate / 2.0)


def fft_size(cfg: SpectrogramConfig, sample_rate: float) -> Tuple[int, int]:
    """``(window_samples, n_fft)``: n_fft zero-pads the window so FFT bins are finer than half the
    narrowest band spacing."""
    win = max(4, int(round(cfg.window_ms * sample_rate / 1000.0)))
    centres = band_frequencies(cfg, sample_rate)
    spacing = float(np.min(np.diff(centres))) if len(centres) > 1 else float(centres[0])
    need = int(math.ceil(2.0 * sample_rate / max(spacing, 1e-6)))
    n_fft = 1 << int(math.ceil(math.log2(max(win, min(need, 1 << 16)))))
    return win, n_fft


@functools.lru_cache(maxsize=32)
def filterbank(cfg: SpectrogramConfig, sample_rate: float, n_fft: int) -> Tuple[np.ndarray, np.ndarray]:
    """``(weights (F, n_fft//2+1) float64, centres_hz (F,))``: triangular filters on the chosen scale with
    peak weight 1. A filter narrower than the FFT bin spacing gets its nearest bin (weight 1)."""
    centres_hz = band_frequencies(cfg, sample_rate)
    centres = hz_to_scale(centres_hz, cfg.scale)
    lower, upper = _band_edges(centres)
    bins_hz = np.arange(n_fft // 2 + 1) * (sample_rate / n_fft)
    with np.errstate(divide="ignore", invalid="ignore"):
        bins = hz_to_scale(np.maximum(bins_hz, 1e-3), cfg.scale)
    rising = (bins[None, :] - lower[:, None]) / (centres - lower)[:, None]
    falling = (upper[:, None] - bins[None, :]) / (upper - centres)[:, None]
    weights = np.clip(np.minimum(rising, falling), 0.0, None)
    weights[:, bins_hz > sample_rate / 2.0] = 0.0
    for band in range(len(centres_hz)):
        if weights[band].sum() <= 0:
            weights[band, int(np.argmin(np.abs(bins_hz - centres_hz[band])))] = 1.0
    return weights, centres_hz


def n_frames_for(n_samples: int, sample_rate: float, dt_ms: float) -> int:
    """Number of frames ``ceil(duration / dt)`` (at least 1) for ``n_samples`` of audio."""
    duration_ms = 1000.0 * n_samples / float(sample_rate)
    return max(1, int(math.ceil(duration_ms / float(dt_ms) - 1e-9)))


def _frame_starts(cfg: SpectrogramConfig, sample_rate: float, n_frames: int, win: int) -> np.ndarray:
    """First audio sample of each frame's analysis window (may be negative: zero padding)."""
    hop = cfg.dt_ms * sample_rate / 1000.0
    if cfg.causal:
        return np.round((np.arange(n_frames) + 1) * hop).astype(np.int64) - win  # window ends at bin end
    return np.round((np.arange(n_frames) + 0.5) * hop).astype(np.int64) - win // 2  # centred on bin centre


def spectrogram_bytes(n_samples: int, sample_rate: float, cfg: SpectrogramConfig) -> float:
    """Estimated working memory (bytes) of :func:`spectrogram_tensor` on ``n_samples`` of audio: the framed
    windows, their spectrum and its power (float32 / complex64)."""
    win, n_fft = fft_size(cfg, sample_rate)
    frames = n_frames_for(n_samples, sample_rate, cfg.dt_ms)
    return float(frames) * (win * 4 * 2 + (n_fft // 2 + 1) * (8 + 4) + cfg.n_bands * 4)


def check_spectrogram_size(n_samples: int, sample_rate: float, cfg: SpectrogramConfig) -> None:
    """``ValueError`` with the sizes when the spectrogram would have more than :data:`limits.MAX_FRAMES`
    frames or need more than :data:`limits.MAX_SPECTROGRAM_BYTES` of working memory."""
    frames = n_frames_for(n_samples, sample_rate, cfg.dt_ms)
    need = spectrogram_bytes(n_samples, sample_rate, cfg)
    if frames > limits.MAX_FRAMES or need > limits.MAX_SPECTROGRAM_BYTES:
        raise ValueError(f"the spectrogram would have {frames} frames of {cfg.dt_ms:g} ms and need about "
                         f"{limits.size_text(need)} (limits: {limits.MAX_FRAMES} frames, "
                         f"{limits.size_text(limits.MAX_SPECTROGRAM_BYTES)}); use a larger dt_ms or a shorter "
                         "stimulus")


def spectrogram_tensor(x: torch.Tensor, sample_rate: float, cfg: Optional[SpectrogramConfig] = None) -> torch.Tensor:
    """Differentiable torch front-end: ``x (T_audio,)`` or ``(B, T_audio)`` -> ``(F, T)`` or ``(B, F, T)``.

    Runs on ``x``'s device and keeps the autograd graph (used by :func:`compute_spectrogram` and by
    anything that optimises audio through the front-end). Band power is floored at 1e-12 before the
    square root so gradients stay finite in silence.
    """
    cfg = cfg or SpectrogramConfig()
    sr = float(sample_rate)
    check_spectrogram_size(int(x.shape[-1]), sr, cfg)
    win, n_fft = fft_size(cfg, sr)
    weights, _ = filterbank(cfg, sr, n_fft)  # cached: do not modify in place
    n_frames = n_frames_for(int(x.shape[-1]), sr, cfg.dt_ms)
    starts = _frame_starts(cfg, sr, n_frames, win)
    pad_left = int(max(0, -starts.min()))
    pad_right = int(max(0, starts.max() + win - x.shape[-1]))
    padded = torch.nn.functional.pad(x, (pad_left, pad_right))
    index = torch.as_tensor(starts + pad_left, device=x.device)[:, None] + torch.arange(win, device=x.device)
    window = torch.hann_window(win, periodic=False, dtype=x.dtype, device=x.device)
    spectrum = torch.fft.rfft(padded[..., index] * window, n=n_fft)  # (..., T, n_fft//2+1)
    # one-sided power per bin, scaled so that it sums over bins to the frame's (window-weighted) mean
    # square (Parseval): independent of the sample rate, window length and zero padding
    power = (spectrum.real ** 2 + spectrum.imag ** 2) * (2.0 / (n_fft * float(window.pow(2).sum())))
    band_power = power @ torch.as_tensor(weights, dtype=x.dtype, device=x.device).T  # (..., T, F)
    amplitude = torch.sqrt(torch.clamp(band_power, min=1e-12))
    out = torch.log(amplitude + cfg.log_offset) if cfg.compression == "log" else amplitude
    return out.transpose(-1, -2)


def compute_spectrogram(waveform: Union[np.ndarray, torch.Tensor], sample_rate: float,
                        cfg: Optional[SpectrogramConfig] = None,
                        device: Union[str, torch.device, None] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Spectrogram of a mono waveform ``(T_audio,)`` at ``sample_rate`` Hz.

    Returns ``(spec (F, T) float32, freqs_hz (F,) float64)`` with ``T = ceil(duration / cfg.dt_ms)``.
    Runs with torch on ``device`` (e.g. ``"cuda"``) when given, else on the CPU; output is numpy.
    """
    cfg = cfg or SpectrogramConfig()
    x = waveform if torch.is_tensor(waveform) else torch.as_tensor(np.asarray(waveform, dtype=np.float32))
    x = x.detach().to(device=device or "cpu", dtype=torch.float32).reshape(-1)
    with torch.no_grad():
        spec = spectrogram_tensor(x, sample_rate, cfg)
    return spec.cpu().numpy().astype(np.float32), band_frequencies(cfg, float(sample_rate))
