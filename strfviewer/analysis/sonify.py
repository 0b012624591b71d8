"""Make spectrogram-domain things audible: STRFs, gradmaps, dreams -> waveforms.

Method (details and rationale in ``docs/sonification.md``):

1. **Target.** A spectrogram already in the front-end's output domain (a stimulus, a dream mapped back to
   it) is used as it is. A signed STRF / gradmap ``(F, T)`` is first turned into one: its excitatory part
   (or the chosen part) is scaled to ``w`` in [0, 1] and placed between the front-end's *silence* level and
   its level for white noise at ``reference_rms`` — both measured through the front-end itself, band by
   band, so the mapping is right for any compression. The pattern is repeated a few times with gaps so a
   100 ms receptive field becomes a sound one can hear.
2. **Initial waveform (noise vocoder).** White noise is split into frequency regions, one per band (each FFT
   bin goes to its nearest band centre on the filterbank's scale), and each region is multiplied by the
   band's target amplitude envelope, interpolated from frames to samples at each frame's window centre.
3. **Refinement through the app's own front-end.** The waveform is optimised with Adam so that
   ``spectrogram_tensor(waveform)`` — the same differentiable front-end that made the training data
   (:mod:`strfviewer.data.spectrogram`) — matches the target in the least-squares sense.
4. **Only what the front-end sees.** The optimiser is blind to sound outside the filterbank's frequency range
   and to sound in frames that must be silent only through their (log-floored) level, so energy drifted there
   (about 20-40 dB below the bursts, mostly under the lowest band); the result is band-limited to the
   filterbank's range and gated to zero wherever every analysis window that sees a sample must be silent (the
   gaps between copies, the lead-in and -out), with 2 ms raised-cosine edges.
5. **Safe output.** Raised-cosine fade in/out and peak normalisation (default peak 0.5, about -6 dBFS).

Everything here is Qt-free and runs on the CPU in well under a second for a few seconds of sound.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from strfviewer.data import spectrogram as frontend_module
from strfviewer.data.spectrogram import SpectrogramConfig

#: sample rates tried, in order, when none is imposed (the first one whose Nyquist covers the top band)
STANDARD_RATES = (16000, 22050, 32000, 44100, 48000, 96000)

ProgressFn = Callable[[int, int, float], None]  # (step, n_steps, loss)


@dataclass
class Sonification:
    """A synthesised sound and how well its spectrogram matches the target.

    ``waveform (T_audio,)`` float32 in [-1, 1] at ``sample_rate`` Hz; ``target`` and ``achieved`` are
    ``(F, T)`` in the front-end's output domain (``achieved`` is the spectrogram of the *un-normalised*
    optimised waveform); ``relative_error`` = ||achieved - target|| / ||target - mean(target)||;
    ``cancelled`` is True when a cancel request cut the refinement short.
    """

    waveform: np.ndarray
    sample_rate: int
    target: np.ndarray
    achieved: np.ndarray
    relative_error: float
    config: SpectrogramConfig
    steps_done: int
    cancelled: bool = False


# ----------------------------------------------------------------------------------------------------
# front-end access
# ----------------------------------------------------------------------------------------------------
def frontend_for_bands(freqs_hz: Sequence[float], dt_ms: float, base: Optional[SpectrogramConfig] = None
                       ) -> SpectrogramConfig:
    """A front-end config whose bands are exactly ``freqs_hz`` (first and last centre become f_min/f_max).

    ``base`` supplies the other settings (scale, compression, window); without it the default config is used.
    """
    freqs = np.asarray(freqs_hz, dtype=float).reshape(-1)
    if freqs.size == 0 or not np.all(np.isfinite(freqs)) or np.any(freqs <= 0):
        raise ValueError(f"freqs_hz must be positive finite band centres, got {freqs!r}")
    base = base or SpectrogramConfig()
    f_lo, f_hi = float(freqs[0]), float(freqs[-1])
    if freqs.size == 1:
        f_lo, f_hi = f_lo / 1.5, f_lo * 1.5
    return base.replace(n_bands=int(freqs.size), dt_ms=float(dt_ms), f_min_hz=f_lo, f_max_hz=f_hi)


def choose_sample_rate(cfg: SpectrogramConfig) -> int:
    """The smallest standard rate whose Nyquist frequency is above the top band (with 5% margin)."""
    for rate in STANDARD_RATES:
        if rate / 2.0 >= cfg.f_max_hz * 1.05:
            return rate
    return int(math.ceil(cfg.f_max_hz * 2.1))


def spectrogram_fn(cfg: SpectrogramConfig, sample_rate: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """The front-end's differentiable ``waveform (T_audio,) -> spectrogram (F, T)`` for ``cfg`` at
    ``sample_rate`` (:func:`strfviewer.data.spectrogram.spectrogram_tensor`)."""
    return lambda x: frontend_module.spectrogram_tensor(x, sample_rate, cfg)


def _window_centre_ms(cfg: SpectrogramConfig, n_frames: int) -> np.ndarray:
    """Time (ms) of each frame's analysis-window centre."""
    i = np.arange(n_frames)
    if cfg.causal:
        return (i + 1) * cfg.dt_ms - cfg.window_ms / 2.0
    return (i + 0.5) * cfg.dt_ms


def band_levels(cfg: SpectrogramConfig, sample_rate: int, reference_rms: float = 0.1,
                seed: int = 0) -> tuple:
    """``(silence (F,), reference (F,))``: the front-end's output for silence and for white noise of RMS
    ``reference_rms``, averaged over frames (half a second of audio)."""
    fn = spectrogram_fn(cfg, sample_rate)
    n = int(sample_rate // 2)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        silence = fn(torch.zeros(n)).mean(dim=1)
        noise = torch.randn(n, generator=gen) * reference_rms
        reference = fn(noise)[:, 4:].mean(dim=1)  # skip the frames that still see the zero padding
    return silence.numpy().astype(np.float64), reference.numpy().astype(np.float64)


# ----------------------------------------------------------------------------------------------------
# targets
# ----------------------------------------------------------------------------------------------------
def strf_weights(strf: np.ndarray, part: str = "positive") -> np.ndarray:
    """Map a signed STRF / gradmap ``(F, T)`` (or ``(C, F, T)``, channels summed) to weights in [0, 1].

    ``part``: 'positive' (excitatory part, positive = excitatory), 'negative' (inhibitory part) or 'abs'.
    An all-zero map gives all-zero weights.
    """
    a = np.asarray(strf, dtype=np.float64)
    if a.ndim == 3:
        a = a.sum(axis=0)
    if a.ndim != 2:
        raise ValueError(f"STRF must be (F, T) or (C, F, T), got shape {np.shape(strf)}")
    if part == "positive":
        a = np.clip(a, 0.0, None)
    elif part == "negative":
        a = np.clip(-a, 0.0, None)
    elif part == "abs":
        a = np.abs(a)
    else:
        raise ValueError(f"part must be 'positive', 'negative' or 'abs', not {part!r}")
    top = float(np.nanmax(a)) if a.size else 0.0
    if not np.isfinite(top) or top <= 0:
        return np.zeros_like(a)
    return np.nan_to_num(a / top)


def weights_to_target(weights: np.ndarray, silence: np.ndarray, reference: np.ndarray,
                      dynamic_range_db: float = 40.0, compression: str = "log") -> np.ndarray:
    """Front-end-domain target ``(F, T)`` for weights in [0, 1]: 1 -> reference level, 0 -> silence.

    With log compression, weights in (0, 1] span ``dynamic_range_db`` of amplitude below the reference
    (a perceptually even scale); with linear compression they scale the amplitude linearly.
    """
    w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, 1.0)
    sil, ref = silence[:, None], reference[:, None]
    if compression == "log":
        # log-amplitude domain: reference - (1 - w) * range, floored at silence
        span = dynamic_range_db / 20.0 * math.log(10.0)
        level = ref - (1.0 - w) * span
        return np.where(w > 0, np.maximum(level, sil), sil).astype(np.float32)
    return (sil + w * (ref - sil)).astype(np.float32)


def repeat_pattern(weights: np.ndarray, repeats: int, gap_frames: int, lead_frames: int) -> np.ndarray:
    """``lead`` silent frames, then ``repeats`` copies of ``weights (F, T)`` separated by ``gap`` silent frames."""
    F = weights.shape[0]
    parts = [np.zeros((F, lead_frames))]
    for k in range(max(1, int(repeats))):
        if k:
            parts.append(np.zeros((F, gap_frames)))
        parts.append(weights)
    parts.append(np.zeros((F, lead_frames)))
    return np.concatenate(parts, axis=1)


# ----------------------------------------------------------------------------------------------------
# synthesis
# ----------------------------------------------------------------------------------------------------
def fade_and_normalise(x: np.ndarray, sample_rate: int, fade_ms: float = 10.0, peak: float = 0.5) -> np.ndarray:
    """Raised-cosine fade in/out of ``fade_ms`` and scale so that max |x| = ``peak`` (silence stays silent).

    Returns float32 ``(T_audio,)``; ``peak`` must be in (0, 1].
    """
    if not 0 < peak <= 1:
        raise ValueError(f"peak must be in (0, 1], not {peak!r}")
    y = np.nan_to_num(np.asarray(x, dtype=np.float64).reshape(-1))
    n_fade = min(int(round(fade_ms * sample_rate / 1000.0)), y.size // 2)
    if n_fade > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n_fade) + 0.5) / n_fade)
        y[:n_fade] *= ramp
        y[-n_fade:] *= ramp[::-1]
    top = float(np.max(np.abs(y))) if y.size else 0.0
    if top > 0:
        y *= peak / top
    return y.astype(np.float32)


def vocoder_init(target_weights: np.ndarray, cfg: SpectrogramConfig, sample_rate: int, n_samples: int,
                 reference_rms: float = 0.1, dynamic_range_db: float = 40.0, seed: int = 0) -> np.ndarray:
    """Noise-vocoder waveform ``(n_samples,)``: band-region noise shaped by each band's amplitude envelope.

    ``target_weights (F, T)`` in [0, 1] as in :func:`weights_to_target`.
    """
    F, T = target_weights.shape
    centres = frontend_module.band_frequencies(cfg, sample_rate)
    gen = np.random.default_rng(seed)
    noise_spectrum = np.fft.rfft(gen.standard_normal(n_samples) * reference_rms)
    bins_hz = np.fft.rfftfreq(n_samples, 1.0 / sample_rate)
    scale_bins = frontend_module.hz_to_scale(np.maximum(bins_hz, 1e-3), cfg.scale)
    scale_centres = frontend_module.hz_to_scale(centres, cfg.scale)
    owner = np.argmin(np.abs(scale_bins[:, None] - scale_centres[None, :]), axis=1)  # (n_bins,)
    w = np.clip(target_weights, 0.0, 1.0)
    gain = np.where(w > 0, 10.0 ** ((w - 1.0) * dynamic_range_db / 20.0), 0.0)  # (F, T) amplitude
    t_samples_ms = np.arange(n_samples) * 1000.0 / sample_rate
    t_frames_ms = _window_centre_ms(cfg, T)
    out = np.zeros(n_samples)
    for band in range(F):
        if not np.any(gain[band] > 0):
            continue
        region = np.where(owner == band, noise_spectrum, 0.0)
        envelope = np.interp(t_samples_ms, t_frames_ms, gain[band], left=gain[band, 0], right=gain[band, -1])
        out += np.fft.irfft(region, n=n_samples) * envelope
    return out


def samples_for_frames(n_frames: int, cfg: SpectrogramConfig, sample_rate: int) -> int:
    """The number of samples whose spectrogram has exactly ``n_frames`` frames (``T = ceil(duration / dt)``),
    also when a frame is not a whole number of samples."""
    n = int(math.floor(n_frames * cfg.dt_ms * sample_rate / 1000.0 + 1e-6))
    while frontend_module.n_frames_for(n, sample_rate, cfg.dt_ms) > n_frames:
        n -= 1
    return max(1, n)


GATE_RAMP_MS = 2.0  # edges of the silence gate (no clicks)


def silence_gate(silent_frames: np.ndarray, cfg: SpectrogramConfig, sample_rate: int, n_samples: int,
                 ramp_ms: float = GATE_RAMP_MS) -> np.ndarray:
    """``(n_samples,)`` gain in [0, 1]: 1 for every sample some non-silent frame's analysis window sees, 0 where
    only silent frames (``silent_frames (T,)`` bool) see it, with raised-cosine ramps of ``ramp_ms`` into the
    silence (the sounding part is untouched)."""
    silent = np.asarray(silent_frames, dtype=bool)
    keep = np.zeros(n_samples, dtype=bool)
    centres = _window_centre_ms(cfg, silent.size)
    half = cfg.window_ms / 2.0
    for k in np.flatnonzero(~silent):
        a = int(math.floor((centres[k] - half) * sample_rate / 1000.0))
        b = int(math.ceil((centres[k] + half) * sample_rate / 1000.0))
        keep[max(0, a):max(0, min(n_samples, b))] = True
    if not keep.any():
        return np.zeros(n_samples)
    index = np.arange(n_samples, dtype=np.float64)
    before = np.maximum.accumulate(np.where(keep, index, -np.inf))
    after = np.minimum.accumulate(np.where(keep, index, np.inf)[::-1])[::-1]
    distance = np.minimum(index - before, after - index)  # samples to the nearest kept one
    ramp = max(1.0, ramp_ms * sample_rate / 1000.0)
    return np.where(keep, 1.0, np.where(distance < ramp, 0.5 + 0.5 * np.cos(np.pi * distance / ramp), 0.0))


def band_limit(x: np.ndarray, cfg: SpectrogramConfig, sample_rate: int) -> np.ndarray:
    """``x`` without the frequencies outside the filterbank's range (:func:`filterbank_range_hz`)."""
    low, high = frontend_module.filterbank_range_hz(cfg, sample_rate)
    spectrum = np.fft.rfft(np.asarray(x, dtype=np.float64))
    f = np.fft.rfftfreq(len(x), 1.0 / sample_rate)
    spectrum[(f < low) | (f > high)] = 0.0
    return np.fft.irfft(spectrum, n=len(x))


def _relative_error(achieved: np.ndarray, target: np.ndarray) -> float:
    spread = float(np.linalg.norm(target - target.mean()))
    return float(np.linalg.norm(achieved - target) / max(spread, 1e-12))


def synthesise(target: np.ndarray, cfg: SpectrogramConfig, sample_rate: int, init: np.ndarray,
               steps: int = 150, lr: float = 2e-3, progress: Optional[ProgressFn] = None,
               cancel: Optional[threading.Event] = None, fade_ms: float = 10.0, peak: float = 0.5,
               silent_frames: Optional[np.ndarray] = None) -> Sonification:
    """Refine ``init (T_audio,)`` so that the front-end's spectrogram of it matches ``target (F, T)``.

    Minimises the mean squared difference with Adam for ``steps`` steps, the learning rate decaying from
    ``lr`` (in sample units) to zero on a cosine schedule; ``cancel`` stops early and the best waveform so
    far is kept. The result is band-limited to the filterbank's range (:func:`band_limit`), gated to zero
    where only ``silent_frames (T,)`` (bool; frames whose target is silence) see it (:func:`silence_gate`),
    faded and normalised (see :func:`fade_and_normalise`).
    """
    fn = spectrogram_fn(cfg, sample_rate)
    tgt = torch.as_tensor(np.asarray(target, dtype=np.float32))
    x = torch.nn.Parameter(torch.as_tensor(np.asarray(init, dtype=np.float32)).clone())
    with torch.no_grad():
        if fn(x).shape != tgt.shape:
            raise ValueError(f"a waveform of {x.shape[0]} samples gives a spectrogram of shape "
                             f"{tuple(fn(x).shape)}, the target has shape {tuple(tgt.shape)}")
    optimiser = torch.optim.Adam([x], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max(1, int(steps)))
    best, best_loss = x.detach().clone(), math.inf
    done, cancelled = 0, False
    for step in range(int(steps)):
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        optimiser.zero_grad(set_to_none=True)
        loss = torch.mean((fn(x) - tgt) ** 2)
        value = float(loss.detach())
        if value < best_loss:  # the loss belongs to the waveform before this step
            best_loss, best = value, x.detach().clone()
        loss.backward()
        optimiser.step()
        schedule.step()
        with torch.no_grad():
            x.clamp_(-1.0, 1.0)
        done = step + 1
        if progress is not None:
            progress(done, int(steps), value)
    with torch.no_grad():
        if float(torch.mean((fn(x) - tgt) ** 2)) <= best_loss:
            best = x.detach().clone()
    samples = band_limit(best.numpy(), cfg, sample_rate)
    if silent_frames is not None:
        samples = samples * silence_gate(silent_frames, cfg, sample_rate, samples.size)
    with torch.no_grad():
        achieved = fn(torch.as_tensor(samples, dtype=torch.float32)).numpy()
    wave = fade_and_normalise(samples, sample_rate, fade_ms=fade_ms, peak=peak)
    return Sonification(wave, int(sample_rate), np.asarray(target, dtype=np.float32), achieved,
                        _relative_error(achieved, np.asarray(target, dtype=np.float64)), cfg, done, cancelled)


def sonify_spectrogram(spec: np.ndarray, cfg: SpectrogramConfig, sample_rate: Optional[int] = None,
                       steps: int = 150, seed: int = 0, progress: Optional[ProgressFn] = None,
                       cancel: Optional[threading.Event] = None, fade_ms: float = 10.0,
                       peak: float = 0.5, reference_rms: float = 0.1, repeats: int = 1,
                       gap_ms: float = 0.0, lead_ms: float = 0.0) -> Sonification:
    """A waveform whose spectrogram (front-end ``cfg``) matches ``spec (F, T)``, given in the front-end's
    output domain (e.g. a stimulus spectrogram before any dataset normalisation).

    ``repeats`` copies separated by ``gap_ms`` of silence, with ``lead_ms`` of silence before and after (for
    short patterns such as dreams). The vocoder start uses each band's level relative to the front-end's
    silence and reference levels.
    """
    spec = np.asarray(spec, dtype=np.float64)
    if spec.ndim == 3 and spec.shape[0] == 1:
        spec = spec[0]
    if spec.ndim != 2 or spec.shape[0] != cfg.n_bands:
        raise ValueError(f"spectrogram must be ({cfg.n_bands}, T), got shape {spec.shape}")
    sr = int(sample_rate or choose_sample_rate(cfg))
    silence, reference = band_levels(cfg, sr, reference_rms, seed)
    if repeats > 1 or gap_ms > 0 or lead_ms > 0:
        frames = lambda ms: int(round(ms / cfg.dt_ms))  # noqa: E731 - tiny local helper
        quiet = (spec - silence[:, None])  # silence frames become 0 here, and silence again below
        spec = repeat_pattern(quiet, repeats, frames(gap_ms), frames(lead_ms)) + silence[:, None]
    span = reference - silence
    if cfg.compression == "log":
        dyn = 40.0
        weights = 1.0 + (spec - reference[:, None]) / (dyn / 20.0 * math.log(10.0))
        weights = np.where(spec > silence[:, None] + 1e-6, np.clip(weights, 1e-3, 1.0), 0.0)
    else:
        dyn = 40.0
        weights = np.clip((spec - silence[:, None]) / np.where(span == 0, 1.0, span)[:, None], 0.0, 1.0)
    n_samples = samples_for_frames(spec.shape[1], cfg, sr)
    init = vocoder_init(weights, cfg, sr, n_samples, reference_rms, dyn, seed)
    return synthesise(spec, cfg, sr, init, steps=steps, progress=progress, cancel=cancel, fade_ms=fade_ms,
                      peak=peak, silent_frames=~np.any(weights > 0, axis=0))


def sonify_strf(strf: np.ndarray, cfg: SpectrogramConfig, sample_rate: Optional[int] = None,
                part: str = "positive", repeats: int = 3, gap_ms: float = 150.0, lead_ms: float = 50.0,
                dynamic_range_db: float = 40.0, steps: int = 150, seed: int = 0,
                progress: Optional[ProgressFn] = None, cancel: Optional[threading.Event] = None,
                fade_ms: float = 10.0, peak: float = 0.5, reference_rms: float = 0.1) -> Sonification:
    """Sound of a signed STRF / gradmap ``(F, T)`` (or ``(C, F, T)``), lags oldest first, positive = excitatory.

    The chosen ``part`` is mapped to a spectrogram (see :func:`weights_to_target`), played ``repeats`` times
    with ``gap_ms`` of silence between copies and ``lead_ms`` before and after, then synthesised.
    """
    w = strf_weights(strf, part)
    if w.shape[0] != cfg.n_bands:
        raise ValueError(f"STRF has {w.shape[0]} frequency bands, the front-end has {cfg.n_bands}")
    sr = int(sample_rate or choose_sample_rate(cfg))
    frames = lambda ms: int(round(ms / cfg.dt_ms))  # noqa: E731 - tiny local helper
    pattern = repeat_pattern(w, repeats, frames(gap_ms), frames(lead_ms))
    silence, reference = band_levels(cfg, sr, reference_rms, seed)
    target = weights_to_target(pattern, silence, reference, dynamic_range_db, cfg.compression)
    n_samples = samples_for_frames(pattern.shape[1], cfg, sr)
    init = vocoder_init(pattern, cfg, sr, n_samples, reference_rms, dynamic_range_db, seed)
    return synthesise(target, cfg, sr, init, steps=steps, progress=progress, cancel=cancel, fade_ms=fade_ms,
                      peak=peak, silent_frames=~np.any(pattern > 0, axis=0))


# ----------------------------------------------------------------------------------------------------
# datasets: their front-end, and model-domain spectrograms back in the front-end's domain
# ----------------------------------------------------------------------------------------------------
def dataset_frontend(frontend: Optional[dict], freqs_hz: Sequence[float], dt_ms: float) -> tuple:
    """``(SpectrogramConfig, sample_rate)`` reproducing a dataset's bands ``freqs_hz`` and frames ``dt_ms``.

    ``frontend`` is ``NeuralDataset.frontend`` (may be empty or partial): its scale, compression, window and
    ``sample_rate`` are used when valid; the sample rate falls back to :func:`choose_sample_rate`.
    """
    frontend = dict(frontend or {})
    try:
        base = SpectrogramConfig.from_dict(frontend)
    except (TypeError, ValueError):
        base = SpectrogramConfig()
    cfg = frontend_for_bands(freqs_hz, dt_ms, base)
    rate = frontend.get("sample_rate")
    try:
        rate = int(rate) if rate else None
    except (TypeError, ValueError):
        rate = None
    if rate is None or rate / 2.0 < cfg.f_max_hz:
        rate = choose_sample_rate(cfg)
    return cfg, rate


def to_frontend_domain(spec: np.ndarray, frontend: Optional[dict]) -> np.ndarray:
    """Undo a dataset's per-band normalisation (``frontend['normalization']`` with ``kind='zscore'``,
    ``mean`` and ``std`` ``(F,)``) so a model-domain spectrogram ``(F, T)`` (a stimulus, a dream) is in the
    front-end's output domain again. Without a normalisation it is returned unchanged."""
    out = np.asarray(spec, dtype=np.float64)
    norm = (frontend or {}).get("normalization") or {}
    if norm.get("kind") == "zscore" and norm.get("mean") is not None and norm.get("std") is not None:
        mean = np.asarray(norm["mean"], dtype=np.float64).reshape(-1, 1)
        std = np.asarray(norm["std"], dtype=np.float64).reshape(-1, 1)
        if mean.shape[0] != out.shape[0] or std.shape[0] != out.shape[0]:
            raise ValueError(f"normalisation has {mean.shape[0]} bands, the spectrogram {out.shape[0]}")
        out = out * std + mean
    return out.astype(np.float32)
