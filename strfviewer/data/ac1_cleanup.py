"""Clean-up of whole-cell membrane-potential repeats before they are binned (CRCNS AC1; parameters and defaults
as deepSTRF 0.1.0 exposes them, see ``docs/data-formats.md``).

Each repeat ``(T_samples,)`` in mV at ``sf`` Hz:

1. **baseline removal**: the slow baseline (a ``baseline_median_ms`` running median, then smoothed by a Gaussian
   of sigma ``baseline_gauss_ms``) is subtracted, which removes the resting potential and slow drift and leaves
   the stimulus-driven fluctuations (signed, mV about 0);
2. **repeat rejection**, first failing test named: ``saturated`` (some ``|V| > max_abs_mv`` after step 1),
   ``baseline step`` (more than ``max_step_fraction`` of the samples, after a 5 ms running median, lie
   farther than ``step_mv`` from the trace's median) and, with 3 repeats or more, ``disagrees`` (Pearson r
   below ``min_repeat_r`` against the median of the other repeats, over their common length).

``scipy.ndimage`` is imported when a clean-up runs (scipy is the ``benchmarks`` extra).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np

from strfviewer.data.errors import DataError

#: running median (ms) before the baseline-step test; not an option in deepSTRF either
STEP_MEDIAN_MS = 5.0
#: the reader options (``PATH?name=value``) that set a :class:`ResponseCleanup` field, by field name
CLEANUP_OPTIONS = ("cleanup", "baseline_median_ms", "baseline_gauss_ms", "max_abs_mv", "step_mv",
                   "max_step_fraction", "min_repeat_r")
REJECTION_REASONS = ("saturated", "baseline step", "disagrees", "too short")


@dataclass(frozen=True)
class ResponseCleanup:
    """What is done to each repeat (module docstring); ``enabled=False`` keeps the raw traces (resting
    potential included) and every repeat."""

    enabled: bool = True
    baseline_median_ms: float = 100.0
    baseline_gauss_ms: float = 10.0
    max_abs_mv: float = 150.0
    step_mv: float = 30.0
    max_step_fraction: float = 0.005
    min_repeat_r: float = 0.05

    @classmethod
    def from_options(cls, options: Mapping[str, str], where) -> "ResponseCleanup":
        """From reader options (``cleanup=on|off`` and the numeric fields by name); :class:`DataError` naming
        ``where`` and the option for a bad value."""
        changes: Dict[str, object] = {}
        switch = options.get("cleanup")
        if switch is not None:
            if switch.strip().lower() not in ("on", "off"):
                raise DataError(where, None, f"option cleanup={switch!r}: expected on or off")
            changes["enabled"] = switch.strip().lower() == "on"
        for name in CLEANUP_OPTIONS[1:]:
            if name not in options:
                continue
            try:
                value = float(options[name])
            except ValueError:
                value = math.nan
            if not math.isfinite(value) or value < 0 or (name.startswith("baseline") and value == 0):
                raise DataError(where, None, f"option {name}={options[name]!r}: expected a number "
                                             f"{'> 0' if name.startswith('baseline') else '>= 0'}")
            changes[name] = value
        return dataclasses.replace(cls(), **changes)

    def to_dict(self) -> Dict[str, object]:
        return dataclasses.asdict(self)


def _ndimage(where):
    try:
        from scipy import ndimage
    except ImportError:
        raise DataError(where, None, "cleaning CRCNS AC1 traces needs scipy: pip install 'strfviewer[benchmarks]'") \
            from None
    return ndimage


def _samples(ms: float, sf: float) -> int:
    return max(1, int(round(ms * sf / 1000.0)))


def remove_baseline(trace: np.ndarray, sf: float, median_ms: float, gauss_ms: float, where=None) -> np.ndarray:
    """``trace (T,)`` mV minus its slow baseline (running median of ``median_ms``, then a Gaussian of sigma
    ``gauss_ms``), float64."""
    x = np.asarray(trace, dtype=np.float64)
    if x.size == 0:
        return x
    nd = _ndimage(where)
    slow = nd.median_filter(x, size=_samples(median_ms, sf), mode="reflect")
    slow = nd.gaussian_filter1d(slow, sigma=max(gauss_ms * sf / 1000.0, 1e-3), mode="reflect")
    return x - slow


def step_fraction(trace: np.ndarray, sf: float, step_mv: float, where=None) -> float:
    """Share of samples that, after a :data:`STEP_MEDIAN_MS` running median, lie farther than ``step_mv`` from
    the trace's median (a sustained baseline jump; spikes are too brief to survive the median)."""
    x = np.asarray(trace, dtype=np.float64)
    if x.size < 3:
        return 0.0
    size = _samples(STEP_MEDIAN_MS, sf)
    smooth = _ndimage(where).median_filter(x, size=size, mode="reflect") if 1 < size <= x.size else x
    return float(np.mean(np.abs(smooth - np.median(smooth)) > step_mv))


def agreement(traces: Sequence[np.ndarray]) -> np.ndarray:
    """Pearson r ``(R,)`` of each repeat against the median of the others, over the common length; ones when
    fewer than 3 repeats (one other repeat makes the test meaningless)."""
    R = len(traces)
    if R < 3:
        return np.ones(R)
    L = min(len(t) for t in traces)
    stack = np.stack([np.asarray(t[:L], dtype=np.float64) for t in traces])
    out = np.empty(R)
    for i in range(R):
        a = stack[i] - stack[i].mean()
        ref = np.median(np.delete(stack, i, axis=0), axis=0)
        b = ref - ref.mean()
        out[i] = float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-12))
    return out


def clean_repeats(raw: Sequence[np.ndarray], sf: float, cleanup: ResponseCleanup,
                  where=None) -> Tuple[List[np.ndarray], List[str]]:
    """``(kept traces, verdict per input repeat)``: baseline removed and bad repeats dropped as ``cleanup``
    says; a verdict is ``"kept"`` or one of :data:`REJECTION_REASONS`. Empty repeats are ``"too short"``."""
    verdicts = ["kept" if len(r) else "too short" for r in raw]
    if not cleanup.enabled:
        return [np.asarray(r, dtype=np.float64) for r, v in zip(raw, verdicts) if v == "kept"], verdicts
    traces = [remove_baseline(r, sf, cleanup.baseline_median_ms, cleanup.baseline_gauss_ms, where) for r in raw]
    present = [i for i, v in enumerate(verdicts) if v == "kept"]
    r = agreement([traces[i] for i in present]) if cleanup.min_repeat_r > 0 else np.ones(len(present))
    for k, i in enumerate(present):
        if np.max(np.abs(traces[i])) > cleanup.max_abs_mv:
            verdicts[i] = "saturated"
        elif step_fraction(traces[i], sf, cleanup.step_mv, where) > cleanup.max_step_fraction:
            verdicts[i] = "baseline step"
        elif r[k] < cleanup.min_repeat_r:
            verdicts[i] = "disagrees"
    return [traces[i] for i in present if verdicts[i] == "kept"], verdicts


def bin_mean(trace: np.ndarray, sf: float, dt_ms: float) -> np.ndarray:
    """Mean of ``trace (T_samples,)`` in each whole ``dt_ms`` bin from its first sample: ``(n_bins,)``
    float64 (a last, incomplete bin is left out)."""
    x = np.asarray(trace, dtype=np.float64)
    n_bins = int(math.floor(x.size * 1000.0 / (sf * dt_ms) + 1e-9))
    if n_bins <= 0:
        return np.zeros(0)
    frame = np.minimum((np.arange(x.size) * 1000.0 / (sf * dt_ms) + 1e-9).astype(np.int64), n_bins)
    keep = frame < n_bins
    sums = np.bincount(frame[keep], weights=x[keep], minlength=n_bins)
    counts = np.bincount(frame[keep], minlength=n_bins)
    return sums / np.maximum(counts, 1)
