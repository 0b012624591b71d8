"""Paired comparison of two runs (models) on the same neurons: is model B better than model A?

Per neuron, ``cc_norm`` of each run's predictions against the recorded trials (:mod:`strfviewer.fit.metrics`)
and the difference ``B - A``. Across the population: the mean difference with a bootstrap confidence interval
over neurons (percentile, Efron & Tibshirani 1993) and the two-sided Wilcoxon signed-rank test (exact null
distribution for up to 50 non-zero differences without ties, else the normal approximation with the tie
correction; zero differences dropped: Wilcoxon's convention, as ``scipy.stats.wilcoxon``'s defaults). Per
neuron, whether the difference exceeds that neuron's own trial-to-trial noise: the trials of each stimulus
are split at random into halves, both runs are scored on each half, and the spread of the two halves'
differences gives the noise of the full-data difference (``sd = rms(d_1 - d_2) / 2``: each half has twice the
variance of the whole, and two halves differ by twice that again), ``z = difference / sd``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

from strfviewer.fit.metrics import metrics_with_ceiling, noise_ceiling

#: |z| above which a neuron's difference counts as beyond its noise (two-sided 5 %)
DEFAULT_Z = 1.96
#: non-zero differences up to which the Wilcoxon p-value is exact (when there are no ties)
EXACT_WILCOXON_MAX_N = 50


@dataclass
class PairedComparison:
    """Per neuron ``(N,)``: ``cc_norm_a``, ``cc_norm_b``, ``difference`` (B - A), ``noise_sd`` (split-half noise
    of the difference), ``z``, ``differs`` (``|z| > z_threshold``); population: ``mean_difference``, ``ci``
    (low, high) at ``level``, ``p_wilcoxon``, ``n_pairs`` (neurons with both scores)."""

    cc_norm_a: np.ndarray
    cc_norm_b: np.ndarray
    difference: np.ndarray
    noise_sd: np.ndarray
    z: np.ndarray
    differs: np.ndarray
    mean_difference: float
    ci: Tuple[float, float]
    p_wilcoxon: float
    n_pairs: int
    level: float = 0.95
    z_threshold: float = DEFAULT_Z
    notes: List[str] = field(default_factory=list)

    def summary_lines(self, name_a: str = "A", name_b: str = "B") -> List[str]:
        """Human-readable statistics, one per line."""
        better = int(np.sum(self.differs & (self.difference > 0)))
        worse = int(np.sum(self.differs & (self.difference < 0)))
        return [
            f"{self.n_pairs} neurons scored by both runs",
            f"mean cc_norm: {name_a} {np.nanmean(self.cc_norm_a):.3f}, {name_b} {np.nanmean(self.cc_norm_b):.3f}",
            f"mean difference {name_b} - {name_a}: {self.mean_difference:+.4f} "
            f"({100 * self.level:g}% bootstrap CI {self.ci[0]:+.4f} to {self.ci[1]:+.4f})",
            f"Wilcoxon signed-rank p = {self.p_wilcoxon:.3g}",
            f"beyond their own noise (|z| > {self.z_threshold:g}): {better} better with {name_b}, "
            f"{worse} better with {name_a}",
        ] + [f"note: {n}" for n in self.notes]


def wilcoxon_signed_rank(differences) -> Tuple[float, float]:
    """``(statistic, two-sided p)`` of the Wilcoxon signed-rank test of paired ``differences`` (NaN ignored;
    zeros dropped). ``statistic = min(T+, T-)``; p exact for up to :data:`EXACT_WILCOXON_MAX_N` non-zero
    differences without ties, else the normal approximation with tie correction (no continuity correction).
    All differences zero: ``(0, 1.0)``."""
    d = np.asarray(differences, dtype=np.float64).reshape(-1)
    d = d[np.isfinite(d) & (d != 0)]
    n = len(d)
    if n == 0:
        return 0.0, 1.0
    ranks = _average_ranks(np.abs(d))
    t_plus = float(ranks[d > 0].sum())
    total = n * (n + 1) / 2.0
    statistic = min(t_plus, total - t_plus)
    ties = len(np.unique(np.abs(d))) < n
    if n <= EXACT_WILCOXON_MAX_N and not ties:
        counts = _signed_rank_counts(n)                    # counts[w]: subsets of 1..n with rank sum w
        w = int(round(statistic))
        p = 2.0 * counts[:w + 1].sum() / 2.0 ** n
        return statistic, float(min(1.0, p))
    _, tie_counts = np.unique(np.abs(d), return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24.0 - (tie_counts ** 3 - tie_counts).sum() / 48.0
    if var <= 0:
        return statistic, 1.0
    z = (statistic - total / 2.0) / math.sqrt(var)
    return statistic, float(min(1.0, math.erfc(abs(z) / math.sqrt(2.0))))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x`` with ties sharing their average rank."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    sorted_x = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def _signed_rank_counts(n: int) -> np.ndarray:
    """Number of subsets of ``{1..n}`` with each rank sum ``0..n(n+1)/2`` (the exact null distribution of T+
    times ``2^n``), by dynamic programming."""
    top = n * (n + 1) // 2
    counts = np.zeros(top + 1)
    counts[0] = 1.0
    for k in range(1, n + 1):
        counts[k:] = counts[k:] + counts[:-k].copy()
    return counts


def bootstrap_mean_ci(values, n_boot: int = 10000, level: float = 0.95, seed: int = 0) -> Tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (NaN ignored; fixed ``seed``)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        raise ValueError("no finite values to bootstrap")
    if not 0 < level < 1:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    means = np.empty(int(n_boot))
    block = max(1, 2_000_000 // len(v))
    for start in range(0, int(n_boot), block):
        size = min(block, int(n_boot) - start)
        means[start:start + size] = v[rng.integers(0, len(v), (size, len(v)))].mean(axis=1)
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


def _half_split(responses: Sequence[np.ndarray], rng: np.random.Generator):
    """Two complementary halves of each stimulus' trials ``(N, R, T)`` (one trial left out when R is odd)."""
    first, second = [], []
    for r in responses:
        order = rng.permutation(r.shape[1])
        half = r.shape[1] // 2
        first.append(r[:, order[:half]])
        second.append(r[:, order[half:2 * half]])
    return first, second


def split_half_noise(responses, predictions_a, predictions_b, method: str = "sp", n_splits: int = 50,
                     seed: int = 0) -> np.ndarray:
    """Noise SD ``(N,)`` of each neuron's ``cc_norm`` difference (B - A) from ``n_splits`` random half-splits
    of the trials (see the module notes); NaN where a half has too few trials to score."""
    rng = np.random.default_rng(seed)
    squares = []
    for _ in range(int(n_splits)):
        diffs = []
        for half in _half_split(responses, rng):
            ceiling = noise_ceiling(half, method)
            a = metrics_with_ceiling(ceiling, predictions_a)
            b = metrics_with_ceiling(ceiling, predictions_b)
            usable = ~ceiling.single_trial & ~ceiling.no_data
            diffs.append(np.where(usable, b.cc_norm - a.cc_norm, np.nan))
        squares.append((diffs[0] - diffs[1]) ** 2)
    with np.errstate(invalid="ignore"):
        stacked = np.stack(squares)
        count = np.isfinite(stacked).sum(axis=0)
        mean_sq = np.where(count > 0, np.nansum(stacked, axis=0) / np.maximum(count, 1), np.nan)
    return np.sqrt(mean_sq) / 2.0


def compare_runs(responses, predictions_a, predictions_b, method: str = "sp", n_splits: int = 50,
                 n_boot: int = 10000, level: float = 0.95, z_threshold: float = DEFAULT_Z, seed: int = 0
                 ) -> PairedComparison:
    """Paired comparison of two runs' predictions of the same neurons (module notes).

    ``responses``: per stimulus ``(N, R, T_s)``; ``predictions_a`` / ``predictions_b``: per stimulus
    ``(N, T_s)`` (same stimuli, same order); ``method``: the ``cc_norm`` ceiling (``"sp"`` or
    ``"split_half"``).
    """
    responses = [np.asarray(r, dtype=np.float64) for r in responses]
    if not responses:
        raise ValueError("no stimuli to compare the runs on")
    if len(predictions_a) != len(responses) or len(predictions_b) != len(responses):
        raise ValueError(f"{len(responses)} stimuli but {len(predictions_a)} and {len(predictions_b)} predictions")
    ceiling = noise_ceiling(responses, method)
    a = metrics_with_ceiling(ceiling, predictions_a).cc_norm
    b = metrics_with_ceiling(ceiling, predictions_b).cc_norm
    difference = b - a
    paired = np.isfinite(difference)
    if not paired.any():
        raise ValueError("no neuron has a cc_norm under both runs (no signal, or no recorded responses)")
    notes = []
    mean_difference = float(np.mean(difference[paired]))
    ci = bootstrap_mean_ci(difference[paired], n_boot=n_boot, level=level, seed=seed)
    _, p = wilcoxon_signed_rank(difference[paired])
    if paired.sum() < 6:
        notes.append(f"only {int(paired.sum())} neurons: the Wilcoxon test cannot reach p < 0.05 below 6")
    if not np.any(difference[paired] != 0):
        notes.append("the runs score every neuron identically")
    noise_sd = split_half_noise(responses, predictions_a, predictions_b, method, n_splits, seed)
    if not np.isfinite(noise_sd[paired]).any():
        notes.append("too few trials to split in halves (each half needs 2 trials per stimulus): no per-neuron "
                     "noise test")
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(noise_sd > 0, difference / np.where(noise_sd > 0, noise_sd, 1.0),
                     np.where(difference == 0, 0.0, np.nan))
    differs = np.abs(np.nan_to_num(z, nan=0.0)) > float(z_threshold)
    return PairedComparison(cc_norm_a=a, cc_norm_b=b, difference=difference, noise_sd=noise_sd, z=z,
                            differs=differs, mean_difference=mean_difference, ci=ci, p_wilcoxon=p,
                            n_pairs=int(paired.sum()), level=level, z_threshold=float(z_threshold), notes=notes)
