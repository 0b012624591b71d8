"""Tuning metrics of an STRF or gradmap: best frequency, bandwidth, latencies, E/I balance, separability and
the modulation transfer function (MTF) with its best temporal and spectral modulations.

Input maps are ``(..., F, T)`` with excitation positive (pass ``-gradmap`` for a gradmap: gradmaps follow
deepSTRF's sign, ``L = -r``), frequency rows at ``freqs_hz (F,)`` Hz (ascending) and lag columns oldest first
as everywhere in strfviewer: column ``j`` is the lag ``(T - 1 - j) * dt_ms`` ms (the last column is the
current frame). Everything is vectorised over the leading axes (100 neurons in a few ms). Definitions, with
their references, are in ``docs/analysis.md``; in short, with ``E = max(strf, 0)`` and ``I = max(-strf, 0)``:

* excitatory frequency profile ``p(f) = sum_t E(f, t)``; best frequency: its maximum, refined by a parabola
  through the peak and its neighbours on the octave axis; bandwidth: the octaves between the half-maximum
  crossings either side of that peak (linear interpolation, clipped at the edges of the map);
* excitatory time profile ``q(lag) = sum_f E(f, lag)`` over the bands of the excitatory band (those above
  half maximum); peak latency: its maximum (parabolic refinement), onset latency: the first half-maximum
  crossing on the way up to the peak;
* E/I balance ``(sum E - sum I) / (sum E + sum I)`` in [-1, 1];
* separability ``s_1^2 / sum_k s_k^2`` of the singular values (1 for a rank-1 map);
* MTF ``|FFT2|^2`` of the map on a uniform octave grid with lags ascending; best temporal (spectral)
  modulation: the maximum of the MTF summed over spectral (temporal) modulation and folded over the sign,
  read on a 4x zero-padded transform.

A metric that is undefined for a map (no excitation, a flat map, unknown band frequencies) is NaN.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

#: the per-map metrics, in table order (names carry their units)
METRICS = ("best_frequency_hz", "bandwidth_oct", "latency_ms", "peak_latency_ms", "separability", "ei_balance",
           "best_temporal_modulation_hz", "best_spectral_modulation_cyc_per_oct")
#: zero-padding factor of the transform the best modulations are read from
MTF_PADDING = 4
_TINY = 1e-30


@dataclass
class MTF:
    """Modulation transfer function of one or more maps.

    ``power`` ``(..., F_u, T)`` ``|FFT2|^2`` with both axes centred (``fftshift``); ``spectral_cyc_per_oct``
    ``(F_u,)`` and ``temporal_hz`` ``(T,)`` its axes (ascending; NaN spectral axis when the band frequencies
    are unknown). The transform is numpy's ``fft2`` of the map with octaves and lags ascending; the power
    of a real map is point-symmetric, so two quadrants carry everything.
    """

    power: np.ndarray
    spectral_cyc_per_oct: np.ndarray
    temporal_hz: np.ndarray


def octave_axis(freqs_hz) -> Optional[np.ndarray]:
    """Octaves above the lowest band ``(F,)``, or ``None`` when the frequencies are not all positive, finite
    and strictly ascending."""
    f = np.asarray(freqs_hz, dtype=np.float64).reshape(-1)
    if f.size == 0 or not np.all(np.isfinite(f)) or np.any(f <= 0) or np.any(np.diff(f) <= 0):
        return None
    return np.log2(f / f[0])


def _as_maps(strf) -> np.ndarray:
    x = np.asarray(strf.detach().cpu().numpy() if hasattr(strf, "detach") else strf, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"an STRF must be (..., F, T), got shape {x.shape}")
    return x


def _parabola_vertex(x0, x1, x2, y0, y1, y2):
    """Abscissa of the vertex of the parabola through three points (any spacing); ``x1`` when degenerate."""
    num = (x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)
    den = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = np.where(np.abs(den) > _TINY, 0.5 * num / np.where(np.abs(den) > _TINY, den, 1.0), 0.0)
    return np.clip(x1 - shift, np.minimum(x0, x2), np.maximum(x0, x2))


def _refined_peak(profile: np.ndarray, x: np.ndarray):
    """``(index (B,), position (B,))`` of each row's maximum, the position refined by a parabola on ``x``."""
    B, n = profile.shape
    k = profile.argmax(axis=1)
    inner = (k > 0) & (k < n - 1)
    km, kp = np.clip(k - 1, 0, n - 1), np.clip(k + 1, 0, n - 1)
    rows = np.arange(B)
    vertex = _parabola_vertex(x[km], x[k], x[kp], profile[rows, km], profile[rows, k], profile[rows, kp])
    return k, np.where(inner, vertex, x[k])


def _half_max_edges(profile: np.ndarray, k: np.ndarray, x: np.ndarray):
    """Half-maximum crossings ``(low (B,), high (B,))`` on ``x`` either side of each row's peak ``k`` and the
    mask ``(B, n)`` of the points above half maximum between them; clipped at the ends."""
    B, n = profile.shape
    rows = np.arange(B)
    half = 0.5 * profile[rows, k]
    idx = np.arange(n)[None, :]
    below = profile < half[:, None]
    left_below = below & (idx < k[:, None])
    right_below = below & (idx > k[:, None])
    has_left, has_right = left_below.any(axis=1), right_below.any(axis=1)
    jl = np.where(has_left, n - 1 - np.argmax(left_below[:, ::-1], axis=1), 0)          # last below, left
    jr = np.where(has_right, np.argmax(right_below, axis=1), n - 1)                     # first below, right

    def cross(i0, i1):
        y0, y1 = profile[rows, i0], profile[rows, i1]
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(np.abs(y1 - y0) > _TINY, (half - y0) / np.where(np.abs(y1 - y0) > _TINY, y1 - y0, 1), 0)
        return x[i0] + np.clip(frac, 0.0, 1.0) * (x[i1] - x[i0])

    low = np.where(has_left, cross(jl, np.minimum(jl + 1, n - 1)), x[0])
    high = np.where(has_right, cross(jr, np.maximum(jr - 1, 0)), x[n - 1])
    band = (idx > np.where(has_left, jl, -1)[:, None]) & (idx < np.where(has_right, jr, n)[:, None])
    return low, high, band


def _uniform_octave_matrix(octaves: np.ndarray):
    """``(M (F_u, F), step)``: linear interpolation of rows at ``octaves`` onto a uniform grid whose step is
    the smallest band spacing (``M`` None when the bands are already uniform)."""
    steps = np.diff(octaves)
    F = len(octaves)
    if F < 2:
        return None, float("nan")
    if np.allclose(steps, steps.mean(), rtol=1e-3):
        return None, float(steps.mean())
    step = float(steps.min())
    n = int(np.floor(octaves[-1] / step + 1e-9)) + 1
    grid = np.arange(n) * step
    M = np.zeros((n, F))
    j = np.clip(np.searchsorted(octaves, grid, side="right") - 1, 0, F - 2)
    w = (grid - octaves[j]) / (octaves[j + 1] - octaves[j])
    M[np.arange(n), j] = 1.0 - w
    M[np.arange(n), j + 1] = w
    return M, step


def _mtf_input(maps: np.ndarray, freqs_hz):
    """Maps ``(B, F_u, T)`` on a uniform octave grid with lags ascending, and the octave step (NaN when the
    frequencies are unknown: then the bands are taken as they are)."""
    octaves = octave_axis(freqs_hz)
    lag_first = maps[..., ::-1]
    if octaves is None:
        return lag_first, float("nan")
    M, step = _uniform_octave_matrix(octaves)
    return (lag_first if M is None else M @ lag_first), step


def modulation_transfer(strf, freqs_hz, dt_ms: float) -> MTF:
    """The MTF of ``strf`` ``(..., F, T)``: see :class:`MTF` (uniform octave grid, lags ascending)."""
    maps = _as_maps(strf)
    lead = maps.shape[:-2]
    flat = maps.reshape(-1, *maps.shape[-2:])
    x, step = _mtf_input(flat, freqs_hz)
    power = np.abs(np.fft.fftshift(np.fft.fft2(x), axes=(-2, -1))) ** 2
    spectral = np.fft.fftshift(np.fft.fftfreq(x.shape[-2], d=step)) if np.isfinite(step) \
        else np.full(x.shape[-2], np.nan)
    temporal = np.fft.fftshift(np.fft.fftfreq(x.shape[-1], d=float(dt_ms) / 1000.0))
    return MTF(power=power.reshape(*lead, *power.shape[-2:]), spectral_cyc_per_oct=spectral, temporal_hz=temporal)


def _power(z: np.ndarray) -> np.ndarray:
    return z.real ** 2 + z.imag ** 2


def best_modulations(maps: np.ndarray, freqs_hz, dt_ms: float):
    """``(best temporal modulation Hz (B,), best spectral modulation cyc/oct (B,))`` of maps ``(B, F, T)``."""
    x, step = _mtf_input(maps, freqs_hz)
    Fu, T = x.shape[-2:]
    nf, nt = MTF_PADDING * Fu, MTF_PADDING * T
    # Parseval along the other axis: the MTF summed over spectral modulation is the temporal power spectrum
    # summed over bands (and vice versa), so each marginal needs a 1-D transform only
    temporal = _power(np.fft.rfft(x, n=nt, axis=-1)).sum(axis=1)                  # (B, nt//2+1)
    temporal[:, 1:(nt + 1) // 2] *= 2.0                                 # +k and -k (not DC, not Nyquist)
    best_t = np.argmax(temporal, axis=1) / (nt * float(dt_ms) / 1000.0)
    if not np.isfinite(step):
        return best_t, np.full(len(maps), np.nan)
    spectral = _power(np.fft.rfft(x, n=nf, axis=-2)).sum(axis=2)                  # (B, nf//2+1)
    spectral[:, 1:(nf + 1) // 2] *= 2.0
    best_s = np.argmax(spectral, axis=1) / (nf * step)
    return best_t, best_s


def tuning_batch(strf, freqs_hz, dt_ms: float, mask=None) -> Dict[str, np.ndarray]:
    """Every metric of :data:`METRICS` for maps ``(..., F, T)``: ``{name: array (...)}``.

    ``mask`` (broadcastable to the maps, bool): pixels to keep (e.g. a jackknife significance mask); the
    rest are set to zero before any metric is computed.
    """
    maps = _as_maps(strf)
    if mask is not None:
        maps = np.where(np.broadcast_to(np.asarray(mask, dtype=bool), maps.shape), maps, 0.0)
    lead = maps.shape[:-2]
    F, T = maps.shape[-2:]
    x = maps.reshape(-1, F, T)
    B = x.shape[0]
    dt = float(dt_ms)
    if not dt > 0:
        raise ValueError(f"dt_ms must be > 0, got {dt_ms}")
    if len(np.asarray(freqs_hz).reshape(-1)) != F:
        raise ValueError(f"freqs_hz has {len(np.asarray(freqs_hz).reshape(-1))} values for maps with {F} bands")
    octaves = octave_axis(freqs_hz)
    f_axis = octaves if octaves is not None else np.arange(F, dtype=np.float64)
    E, I = np.maximum(x, 0.0), np.maximum(-x, 0.0)
    sum_e, sum_i = E.sum(axis=(1, 2)), I.sum(axis=(1, 2))
    excited = sum_e > _TINY
    nonzero = (sum_e + sum_i) > _TINY

    freq_profile = E.sum(axis=2)                                                   # (B, F)
    k, bf_pos = _refined_peak(freq_profile, f_axis)
    low, high, band = _half_max_edges(freq_profile, k, f_axis)
    time_profile = np.einsum("bf,bft->bt", band.astype(np.float64), E)[:, ::-1]   # (B, T), lag 0 first
    lags = np.arange(T) * dt
    kt, peak_lat = _refined_peak(time_profile, lags)
    rows = np.arange(B)
    half = 0.5 * time_profile[rows, kt]
    idx = np.arange(T)[None, :]
    rising = (time_profile >= half[:, None]) & (idx <= kt[:, None])
    first = np.argmax(rising, axis=1)
    prev = np.maximum(first - 1, 0)
    y0, y1 = time_profile[rows, prev], time_profile[rows, first]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(np.abs(y1 - y0) > _TINY, (half - y0) / np.where(np.abs(y1 - y0) > _TINY, y1 - y0, 1), 1)
    onset = np.where(first > 0, lags[prev] + np.clip(frac, 0, 1) * dt, 0.0)

    singular = np.linalg.svd(x, compute_uv=False)
    power = (singular ** 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        separability = np.where(power > _TINY, singular[:, 0] ** 2 / np.where(power > _TINY, power, 1), np.nan)
        balance = np.where(nonzero, (sum_e - sum_i) / np.where(nonzero, sum_e + sum_i, 1), np.nan)
    best_t, best_s = best_modulations(x, freqs_hz, dt)

    nan = np.full(B, np.nan)
    known = octaves is not None
    f0 = float(np.asarray(freqs_hz, dtype=np.float64).reshape(-1)[0]) if known else np.nan
    out = {
        "best_frequency_hz": np.where(excited, f0 * 2.0 ** bf_pos, np.nan) if known else nan.copy(),
        "bandwidth_oct": np.where(excited, high - low, np.nan) if known else nan.copy(),
        "latency_ms": np.where(excited, onset, np.nan),
        "peak_latency_ms": np.where(excited, peak_lat, np.nan),
        "separability": separability,
        "ei_balance": balance,
        "best_temporal_modulation_hz": np.where(nonzero, best_t, np.nan),
        "best_spectral_modulation_cyc_per_oct": np.where(nonzero, best_s, np.nan),
    }
    return {name: out[name].reshape(lead) for name in METRICS}


def tuning(strf, freqs_hz, dt_ms: float, mask=None):
    """Tuning of one map ``(F, T)``: ``{metric: float}``; of per-channel maps ``(C, F, T)`` (a prefilter's ON
    and OFF): ``{metric: array (C,)}``. See :func:`tuning_batch` and the module notes."""
    maps = _as_maps(strf)
    if maps.ndim not in (2, 3):
        raise ValueError(f"tuning takes one map (F, T) or per-channel maps (C, F, T), got shape {maps.shape}")
    table = tuning_batch(maps, freqs_hz, dt_ms, mask)
    return {k: float(v) for k, v in table.items()} if maps.ndim == 2 else table


def profiles(strf, dt_ms: float):
    """Excitatory and inhibitory profiles of one map ``(F, T)`` for display: ``{'freq_excitatory' (F,),
    'freq_inhibitory' (F,), 'time_excitatory' (T,), 'time_inhibitory' (T,), 'lags_ms' (T,)}`` (time profiles
    lag 0 first, summed over all bands)."""
    x = _as_maps(strf)
    if x.ndim != 2:
        raise ValueError(f"profiles take one map (F, T), got shape {x.shape}")
    E, I = np.maximum(x, 0.0), np.maximum(-x, 0.0)
    return {"freq_excitatory": E.sum(axis=1), "freq_inhibitory": I.sum(axis=1),
            "time_excitatory": E.sum(axis=0)[::-1], "time_inhibitory": I.sum(axis=0)[::-1],
            "lags_ms": np.arange(x.shape[1]) * float(dt_ms)}


def tuning_intervals(samples, freqs_hz, dt_ms: float, level: float = 0.95) -> Dict[str, np.ndarray]:
    """Percentile confidence intervals of every metric from resampled maps ``(S, ..., F, T)`` (``S`` bootstrap
    samples, see :mod:`strfviewer.analysis.significance`): ``{metric: array (..., 2)}`` (low, high); NaN where
    fewer than half the samples define the metric."""
    if not 0 < level < 1:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")
    table = tuning_batch(samples, freqs_hz, dt_ms)
    tail = 100.0 * (1.0 - level) / 2.0
    out = {}
    for name, values in table.items():
        finite = np.isfinite(values)
        enough = finite.sum(axis=0) >= max(1, values.shape[0] / 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)          # all-NaN columns: handled below
            bounds = np.nanpercentile(values, [tail, 100.0 - tail], axis=0)          # (2, ...)
        out[name] = np.where(enough[None], bounds, np.nan).transpose(*range(1, bounds.ndim), 0)
    return out
