"""Operations on binned responses ``(N, R, T)``: unit-gain smoothing along time."""

from __future__ import annotations

import numpy as np


def hanning_kernel(window_ms: float, dt_ms: float) -> np.ndarray:
    """A Hanning window spanning about ``window_ms`` (odd length in bins, >= 1) normalised to unit sum."""
    n = max(1, int(round(float(window_ms) / float(dt_ms))))
    if n % 2 == 0:
        n += 1
    kernel = np.hanning(n + 2)[1:-1]  # drop the two zero end points
    return kernel / kernel.sum()


def smooth_responses(responses: np.ndarray, window_ms: float, dt_ms: float) -> np.ndarray:
    """Smooth ``(..., T)`` along the last axis with a centred unit-gain Hanning window of ``window_ms``.

    Unit gain: the total count of every trial is preserved exactly (what would spill past either end of
    the stimulus is folded back in, mirrored). NaN entries stay NaN and count as zero for their
    neighbours. Returns float32 of the same shape.
    """
    x = np.asarray(responses, dtype=np.float64)
    kernel = hanning_kernel(window_ms, dt_ms)
    half = len(kernel) // 2
    if half == 0:
        return x.astype(np.float32)
    nan = np.isnan(x)
    flat = np.where(nan, 0.0, x).reshape(-1, x.shape[-1])
    T = flat.shape[-1]
    out = np.empty_like(flat)
    for row in range(flat.shape[0]):
        full = np.convolve(flat[row], kernel)  # length T + 2*half, centre of sample t at t + half
        body = full[half:half + T].copy()
        left = full[:half][::-1]  # spill before bin 0, mirrored back
        right = full[half + T:][::-1]  # spill after the last bin, mirrored back
        k = min(half, T)
        body[:k] += left[:k]
        body[T - k:] += right[half - k:] if k < half else right
        if k < half:  # stimulus shorter than the window: put the rest where it fits
            body[0] += left[k:].sum()
            body[-1] += right[: half - k].sum()
        out[row] = body
    out = out.reshape(x.shape)
    out[nan] = np.nan
    return out.astype(np.float32)
