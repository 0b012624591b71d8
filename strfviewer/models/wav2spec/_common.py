"""What every deepSTRF-compatible waveform front-end shares: framing, argument checks, causal helpers.

A front-end maps a waveform ``(B, 1, T_audio)`` (or ``(B, T_audio)``) at ``audio_fs`` Hz to a spectrogram
``(B, 1, F, T)`` with one frame per ``hop = audio_fs * hop_ms / 1000`` samples; frame ``k`` stands for the
response bin ``[k * hop_ms, (k + 1) * hop_ms)`` ms and depends on samples ``< (k + 1) * hop`` only.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn as nn

from strfviewer.models.capture import CapturesInitKwargs
from strfviewer.models.ssm import linear_recurrence_scan


def check_choice(option: str, value, choices: Sequence) -> None:
    """One-line ``ValueError`` naming ``option`` when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{option} must be one of {', '.join(repr(c) for c in choices)}, got {value!r}")


def check_count(option: str, value) -> int:
    """A positive integer (``ValueError`` naming ``option`` otherwise)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 1:
        raise ValueError(f"{option} must be a positive integer, got {value!r}")
    return int(value)


def check_positive(option: str, value) -> float:
    """A finite number > 0 (``ValueError`` naming ``option`` otherwise)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{option} must be a positive number, got {value!r}")
    return float(value)


def samples(option: str, ms: float, audio_fs: int) -> int:
    """``round(audio_fs * ms / 1000)`` samples, at least 1 (deepSTRF's rounding), ``ms`` checked > 0."""
    return max(1, int(round(audio_fs * check_positive(option, ms) / 1000.0)))


def whole_hop(rate_option: str, audio_fs: int, hop_option: str, hop_ms: float) -> int:
    """Samples per frame, ``audio_fs * hop_ms / 1000``, which must be a whole number (``ValueError`` naming both
    values otherwise: a rounded hop would let frame ``k`` drift away from response bin ``k``)."""
    exact = int(audio_fs) * float(hop_ms) / 1000.0
    if abs(exact - round(exact)) > 1e-6 * max(1.0, exact) or round(exact) < 1:
        raise ValueError(f"{hop_option}={hop_ms:g} is {exact:g} samples at {rate_option}={int(audio_fs)}; a frame must "
                         f"be a whole number of samples (choose a sample rate or {hop_option} that fit, e.g. "
                         f"{rate_option}={frame_aligned_rate(audio_fs, hop_ms)})")
    return int(round(exact))


def frame_aligned_rate(sample_rate: int, hop_ms: float) -> int:
    """The lowest sample rate (Hz) ``>= sample_rate`` at which a frame of ``hop_ms`` is a whole number of
    samples (``sample_rate`` itself when it already is): 22050 Hz with 5 ms frames gives 22200 Hz.

    A rate is frame-aligned when it is a multiple of ``1000 / hop_ms`` Hz in lowest terms (200 Hz for 5 ms,
    1000 Hz for 1 ms, 10000 Hz for 3.3 ms); going up, never down, keeps every frequency the audio holds.
    """
    from fractions import Fraction

    step_ms = Fraction(float(hop_ms)).limit_denominator(10000)
    per_hz = Fraction(1000) / step_ms                    # rate step: rate * hop_ms / 1000 is whole
    unit = per_hz.numerator                              # smallest whole rate that is a multiple of per_hz
    return int(-(-int(sample_rate) // unit) * unit)


def frequency_range(f_min, f_max, audio_fs: int, default_f_max: Optional[float]) -> tuple:
    """``(f_min, f_max)`` in Hz, checked against the Nyquist frequency ``audio_fs / 2``.

    ``f_max=None`` means Nyquist. deepSTRF lowers a too-high ``f_max`` to Nyquist silently; here only the
    default value (``default_f_max``, e.g. 22627 Hz) is lowered that way, an ``f_max`` chosen above Nyquist is
    an error (the bands it asks for cannot exist at this sample rate).
    """
    nyquist = audio_fs / 2.0
    if isinstance(f_min, bool) or not isinstance(f_min, (int, float)) or not math.isfinite(f_min) or f_min < 0:
        raise ValueError(f"f_min must be a frequency >= 0 Hz, got {f_min!r}")
    if f_max is None or (default_f_max is not None and f_max == default_f_max):
        f_max = nyquist if f_max is None else min(float(f_max), nyquist)
    elif isinstance(f_max, bool) or not isinstance(f_max, (int, float)) or not math.isfinite(f_max):
        raise ValueError(f"f_max must be a frequency in Hz, got {f_max!r}")
    elif f_max > nyquist:
        raise ValueError(f"f_max={f_max:g} Hz needs a sample rate of at least {2 * f_max:g} Hz, got "
                         f"audio_fs={audio_fs} (Nyquist {nyquist:g} Hz)")
    if not f_min < f_max:
        raise ValueError(f"f_min={f_min:g} Hz must be below f_max={f_max:g} Hz (audio_fs={audio_fs}: Nyquist "
                         f"{nyquist:g} Hz)")
    return float(f_min), float(f_max)


class BandNormalization:
    """Optional per-band z-scoring of a front-end's output ``(B, 1, F, T)`` with stored statistics.

    With ``normalize=True`` the front-end holds buffers ``band_mean (F,)`` and ``band_std (F,)`` (saved in its
    checkpoint) and returns ``(spec - band_mean) / band_std`` per band: the spectrogram front-end z-scores its
    bands with the training stimuli's statistics, and a model fitted on raw audio gets the same input scale
    (:func:`strfviewer.fit.waveform_mode.prepare` sets them from the training stimuli). Until set they are 0
    and 1 (no change). ``normalize=False`` (the default) registers nothing: the front-end's tensors are
    deepSTRF's.
    """

    def _init_band_normalization(self, normalize, n_bands: int) -> None:
        if not isinstance(normalize, bool):
            raise ValueError(f"normalize must be true or false, got {normalize!r}")
        self.normalize = normalize
        if normalize:
            self.register_buffer("band_mean", torch.zeros(int(n_bands)))
            self.register_buffer("band_std", torch.ones(int(n_bands)))

    def _band_normalized(self, spec: torch.Tensor) -> torch.Tensor:
        """``spec (B, 1, F, T)`` z-scored per band when ``normalize`` is on, unchanged otherwise."""
        if not getattr(self, "normalize", False):
            return spec
        return (spec - self.band_mean.view(1, 1, -1, 1)) / self.band_std.view(1, 1, -1, 1)

    @torch.no_grad()
    def set_band_statistics(self, mean, std) -> None:
        """Store the per-band ``mean`` and ``std`` ``(F,)`` the output is z-scored with (``normalize`` must be on;
        a std that is not positive and finite is stored as 1: a constant band is centred, not blown up)."""
        if not getattr(self, "normalize", False):
            raise ValueError(f"{type(self).__name__} was built with normalize=False: it has no band statistics")
        mean = torch.as_tensor(mean, dtype=self.band_mean.dtype).reshape(-1)
        std = torch.as_tensor(std, dtype=self.band_std.dtype).reshape(-1)
        if mean.numel() != self.band_mean.numel() or std.numel() != self.band_std.numel():
            raise ValueError(f"band statistics for {mean.numel()} bands, the front-end has {self.band_mean.numel()}")
        if not bool(torch.isfinite(mean).all()):
            raise ValueError("band means must be finite")
        std = torch.where(torch.isfinite(std) & (std > 1e-8), std, torch.ones_like(std))
        self.band_mean.copy_(mean)
        self.band_std.copy_(std)


def normalize_option():
    """The ``normalize`` user option every front-end shares (see :class:`BandNormalization`)."""
    from strfviewer.models.options import Option

    return Option("normalize", "bool", False, label="Z-score bands",
                  tooltip="Z-score each band with the training stimuli's mean and standard deviation, stored with "
                          "the model (as the spectrogram front-end does); 'strfviewer fit' turns it on.")


class WaveformFrontend(BandNormalization, CapturesInitKwargs, nn.Module):
    """Base of the deepSTRF ``wav2spec`` front-ends: timing attributes, input framing and the filter description.

    Attributes: ``audio_fs`` = ``sample_rate`` (Hz, int), ``hop`` (samples per frame), ``hop_ms`` = ``dt_ms``
    (ms per frame = response bin), ``out_channels`` (= F). Subclasses implement ``center_frequencies()`` and
    ``bandwidths()`` (Hz, ``(F,)``) and ``frequency_response(freqs_hz)`` (``(F, K)`` magnitude of each band's
    linear filtering stage for a unit sine at each frequency).
    """

    def _set_timing(self, audio_fs, hop_ms) -> None:
        if isinstance(audio_fs, bool) or not isinstance(audio_fs, (int, float)) or audio_fs != int(audio_fs) \
                or audio_fs <= 0:
            raise ValueError(f"audio_fs must be a positive whole number of Hz, got {audio_fs!r}")
        self.audio_fs = self.sample_rate = int(audio_fs)
        self.hop_ms = self.dt_ms = check_positive("hop_ms", hop_ms)
        self.hop = whole_hop("audio_fs", self.audio_fs, "hop_ms", self.hop_ms)

    def _frames(self, wav: torch.Tensor) -> torch.Tensor:
        """``(B, 1, n * hop)``: the input as a mono batch cut to whole frames."""
        if wav.dim() == 2:
            wav = wav.unsqueeze(1)
        if wav.dim() != 3 or wav.shape[1] != 1:
            raise ValueError(f"{type(self).__name__} expects a waveform (B, 1, T_audio) or (B, T_audio), got "
                             f"shape {tuple(wav.shape)}")
        n_frames = wav.shape[-1] // self.hop
        if n_frames < 1:
            raise ValueError(f"waveform of {wav.shape[-1]} samples is shorter than one frame ({self.hop} samples "
                             f"= hop_ms {self.hop_ms:g} ms at audio_fs={self.audio_fs})")
        return wav[..., : n_frames * self.hop]

    def center_frequencies(self) -> torch.Tensor:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def bandwidths(self) -> torch.Tensor:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def frequency_response(self, freqs_hz: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


def fir_response(kernels: torch.Tensor, freqs_hz: torch.Tensor, audio_fs: int) -> torch.Tensor:
    """``|sum_n h[n] exp(-2 pi i f n / fs)|`` of real or complex FIR taps ``(F, K)`` at ``freqs_hz (M,)`` -> ``(F, M)``."""
    n = torch.arange(kernels.shape[-1], dtype=torch.float64)
    phase = -2.0 * math.pi * freqs_hz.to(torch.float64)[:, None] * n[None, :] / audio_fs     # (M, K)
    basis = torch.polar(torch.ones_like(phase), phase)
    return (kernels.detach().to(torch.complex128) @ basis.T).abs()


def safe_root(x: torch.Tensor, power: float) -> torch.Tensor:
    """``max(x, 0) ** power`` for ``0 < power < 1`` with a zero (not infinite) gradient where ``x <= 0``.

    Same values as ``x.clamp(min=0) ** power``; silent frames no longer turn a waveform gradient into NaN.
    """
    positive = x > 0
    return torch.where(positive, torch.where(positive, x, torch.ones_like(x)) ** power, torch.zeros_like(x))


def exponential_smoother(energy: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """``M[t] = (1 - s) M[t-1] + s E[t]`` from ``M[-1] = 0`` along the last axis of ``energy (B, F, T)``.

    ``s`` is a scalar or per-channel ``(F,)`` in ``(0, 1)``; causal (a scan over past frames only).
    """
    s = torch.as_tensor(s, dtype=energy.dtype, device=energy.device)
    s = s.view(1, -1, 1) if s.dim() == 1 else s
    drive = (s * energy).transpose(1, 2)                                # (B, T, F)
    decay = (1.0 - s).transpose(1, 2).expand_as(drive) if s.dim() == 3 else (1.0 - s).expand_as(drive)
    return linear_recurrence_scan(decay, drive).transpose(1, 2)


def pcen(energy: torch.Tensor, smoothed: torch.Tensor, alpha, delta, root, eps: float) -> torch.Tensor:
    """Per-channel energy normalisation ``(E / (eps + M) ** alpha + delta) ** root - delta ** root``."""
    return (energy / (eps + smoothed) ** alpha + delta) ** root - delta ** root


def common_options(bands: str, n_bands: int, f_min: float, f_max: Optional[float]) -> tuple:
    """The user options every deepSTRF front-end shares: sample rate (Hz), band count (named ``bands``, e.g.
    ``n_mels``), frame step (ms) and the band range (Hz); ``f_max`` ``None``: up to the Nyquist frequency."""
    from strfviewer.models.options import Option

    return (
        Option("audio_fs", "int", 16000, tooltip="Sample rate of the audio in Hz (the data's audio is resampled to it).",
               minimum=1000, maximum=384000, label="Sample rate (Hz)"),
        Option(bands, "int", n_bands, tooltip="Number of frequency bands (F).", minimum=1, maximum=1024,
               label="Bands"),
        Option("hop_ms", "float", 5.0, tooltip="Frame step in ms (one frame per response bin; a whole number of "
               "samples).", minimum=0.1, maximum=1000.0, label="Frame step (ms)"),
        Option("f_min", "float", f_min, tooltip="Lowest band edge or centre in Hz.", minimum=1.0, maximum=192000.0,
               label="Lowest frequency (Hz)"),
        Option("f_max", "float", f_max, tooltip="Highest band edge or centre in Hz (at most half the sample rate).",
               minimum=1.0, maximum=192000.0, label="Highest frequency (Hz)"),
        normalize_option(),
    )
