"""Spikes of a cell-attached trace (CRCNS AC1 Asari, MGB) as a smoothed spike train, in spikes per sample.

Facts as deepSTRF 0.1.0 applies them (see ``docs/data-formats.md``): the slow baseline is removed
(:func:`strfviewer.data.ac1_cleanup.remove_baseline`), a :data:`HIGHPASS_MS` running median is subtracted
(leaving the ~1 ms action potentials), samples above :data:`THRESHOLD_SIGMA` standard deviations of that
high-passed trace are spike samples, and the result is smoothed by a :data:`SMOOTH_MS` Hann window.

Where deepSTRF sums the window over every supra-threshold sample (arbitrary units), strfviewer counts one spike
per upward threshold crossing and smooths with a window of unit area, so the train integrates to the number of
spikes detected: binned, it is a spike count per bin (fractional where a spike's window straddles bins).
"""

from __future__ import annotations

import numpy as np

from strfviewer.data.ac1_cleanup import _ndimage, _samples, remove_baseline

THRESHOLD_SIGMA = 2.5
HIGHPASS_MS = 10.0
SMOOTH_MS = 21.0


def spike_samples(trace: np.ndarray, sf: float, baseline_median_ms: float = 100.0,
                  baseline_gauss_ms: float = 10.0, where=None) -> np.ndarray:
    """Sample indices ``(n_spikes,)`` of the upward threshold crossings of ``trace (T,)`` (mV at ``sf`` Hz)."""
    x = remove_baseline(trace, sf, baseline_median_ms, baseline_gauss_ms, where)
    if x.size < 2:
        return np.zeros(0, dtype=np.int64)
    high = x - _ndimage(where).median_filter(x, size=_samples(HIGHPASS_MS, sf), mode="reflect")
    above = np.concatenate([[False], high > THRESHOLD_SIGMA * float(np.std(high))])
    return np.flatnonzero(above[1:] & ~above[:-1])


def spike_train(trace: np.ndarray, sf: float, baseline_median_ms: float = 100.0, baseline_gauss_ms: float = 10.0,
                where=None) -> np.ndarray:
    """The detected spikes of ``trace (T,)`` smoothed by a unit-area :data:`SMOOTH_MS` Hann window:
    ``(T,)`` float64 spikes per sample (sums to the number of spikes, less those whose window leaves the trace)."""
    x = np.asarray(trace, dtype=np.float64)
    train = np.zeros(x.size)
    if x.size == 0:
        return train
    train[spike_samples(x, sf, baseline_median_ms, baseline_gauss_ms, where)] = 1.0
    n = max(3, int(round(SMOOTH_MS * sf / 1000.0)))
    window = np.hanning(n)  # symmetric, zero at both ends (as scipy.signal.windows.hann)
    window /= window.sum()
    return np.convolve(train, window, mode="same")[: x.size]
