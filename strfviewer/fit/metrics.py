"""Prediction quality per neuron with a noise ceiling: ``cc``, ``cc_max`` and ``cc_norm``.

Inputs are per-stimulus arrays: responses ``(N, R, T_s)`` (spike counts per bin and trial; ``NaN`` where a
neuron was not recorded, a trial does not exist or a bin is masked/padded) and predictions ``(N, T_s)``
(``NaN`` bins are ignored too). All statistics are taken over the valid (stimulus, time) bins concatenated.

Two ceilings:

* ``method="sp"`` (default) -- Schoppe et al. (2016): ``cc_norm = Cov(y, p) / sqrt(SP * Var(p))`` with ``y``
  the trial mean and ``SP`` the Sahani & Linden (2003) signal power
  ``SP = (R * Var(y) - mean_r Var(r_r)) / (R - 1)``, computed per stimulus and combined across stimuli
  weighted by their number of valid bins. ``cc_max = sqrt(SP / Var(y))`` so that ``cc_norm = cc / cc_max``.
  ``SP <= 0`` (no measurable signal) gives ``NaN``.
* ``method="split_half"`` -- Hsu, Borst & Theunissen (2004): ``rho`` is the mean correlation between the
  trial means of complementary halves of the trials, ``cc_max = sqrt(2 rho / (1 + rho))`` per stimulus
  (stimuli with ``rho <= 0`` dropped), combined weighted by valid bins; ``cc_norm = cc / cc_max``.

With a single trial (``R = 1`` for every stimulus of a neuron) no ceiling can be estimated: ``cc_norm`` falls
back to the plain ``cc``, ``cc_max`` is ``NaN`` and ``NeuronMetrics.single_trial`` flags the neuron. A neuron
with no recorded response at all in the stimuli scored (e.g. a cell not played the test stimuli) gets ``NaN``
scores and is flagged by ``NeuronMetrics.no_data`` (not as single-trial).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

METHODS = ("sp", "split_half")
_EPS = 1e-12
#: most complementary half-splits averaged per stimulus (C(10, 5) / 2 = 126 covers 10 trials exactly)
MAX_SPLITS = 126

ArrayLike = Union[np.ndarray, "torch.Tensor"]  # noqa: F821 - torch only for the annotation


def _as_numpy(x) -> np.ndarray:
    """float64 numpy copy of an array or a torch tensor."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _as_list(arrays, ndim: int, what: str) -> List[np.ndarray]:
    """A list of per-stimulus arrays with ``ndim`` dimensions from a list or from one stacked array.

    A stacked (padded) array has one more leading stimulus axis, e.g. responses ``(S, N, R, T)``.
    """
    if isinstance(arrays, (list, tuple)):
        out = [_as_numpy(a) for a in arrays]
    else:
        stacked = _as_numpy(arrays)
        if stacked.ndim == ndim:
            stacked = stacked[None]
        if stacked.ndim != ndim + 1:
            raise ValueError(f"{what}: expected per-stimulus arrays with {ndim} dims or a stack with "
                             f"{ndim + 1}, got shape {stacked.shape}")
        out = list(stacked)
    for i, a in enumerate(out):
        if a.ndim != ndim:
            raise ValueError(f"{what}[{i}]: expected {ndim} dims, got shape {a.shape}")
    return out


def _predictions_list(predictions) -> List[np.ndarray]:
    """Per-stimulus predictions ``(N, T)``; accepts ``(N, 1, T)`` items and ``(S, N, 1, T)`` stacks."""
    if isinstance(predictions, (list, tuple)):
        items = [_as_numpy(p) for p in predictions]
    else:
        stacked = _as_numpy(predictions)
        if stacked.ndim == 4:
            stacked = stacked[:, :, 0, :]
        if stacked.ndim == 2:
            stacked = stacked[None]
        if stacked.ndim != 3:
            raise ValueError(f"predictions: expected (S, N, T) or (S, N, 1, T), got shape {stacked.shape}")
        items = list(stacked)
    out = []
    for i, p in enumerate(items):
        if p.ndim == 3 and p.shape[1] == 1:
            p = p[:, 0, :]
        if p.ndim != 2:
            raise ValueError(f"predictions[{i}]: expected (N, T), got shape {p.shape}")
        out.append(p)
    return out


# --------------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------------


#: why a cc_norm can exceed 1 (shown beside such values: tooltips, notes, docs/usage.md)
CC_NORM_ABOVE_ONE = ("the noise ceiling is estimated from a finite number of trials, so it is itself noisy and "
                     "can come out below the model's correlation; read a value above 1 as 'at the noise ceiling'")


def cc_norm_note(value) -> str:
    """:data:`CC_NORM_ABOVE_ONE` for a cc_norm above 1, else ``""`` (NaN, ``None`` and values <= 1)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return ""
    return f"cc_norm {v:.3f} > 1: {CC_NORM_ABOVE_ONE}" if np.isfinite(v) and v > 1.0 else ""


@dataclass
class NeuronMetrics:
    """Per-neuron scores ``(N,)``; ``NaN`` where undefined (no signal, no valid bins, flat prediction)."""

    cc: np.ndarray
    cc_max: np.ndarray
    cc_norm: np.ndarray
    method: str = "sp"
    single_trial: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    n_bins: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    notes: List[str] = field(default_factory=list)
    no_data: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def n_neurons(self) -> int:
        return int(len(self.cc))

    @property
    def mean_cc(self) -> float:
        return _nanmean(self.cc)

    @property
    def mean_cc_max(self) -> float:
        return _nanmean(self.cc_max)

    @property
    def mean_cc_norm(self) -> float:
        return _nanmean(self.cc_norm)

    def to_dict(self) -> Dict[str, object]:
        """JSON-able dict (``NaN`` written as ``None``) with per-neuron lists and ``nanmean`` summaries."""
        return {
            "cc": _json_list(self.cc),
            "cc_max": _json_list(self.cc_max),
            "cc_norm": _json_list(self.cc_norm),
            "mean_cc": _json_float(self.mean_cc),
            "mean_cc_max": _json_float(self.mean_cc_max),
            "mean_cc_norm": _json_float(self.mean_cc_norm),
            "method": self.method,
            "single_trial": [bool(x) for x in self.single_trial],
            "no_data": [bool(x) for x in self.no_data],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: Dict[str, object]) -> "NeuronMetrics":
        def arr(key):
            return np.array([np.nan if v is None else v for v in d.get(key, [])], dtype=np.float64)

        cc = arr("cc")
        return cls(cc=cc, cc_max=arr("cc_max"), cc_norm=arr("cc_norm"), method=str(d.get("method", "sp")),
                   single_trial=np.array(d.get("single_trial", [False] * len(cc)), dtype=bool),
                   n_bins=np.zeros(len(cc), dtype=np.int64), notes=list(d.get("notes", [])),
                   no_data=np.array(d.get("no_data", [False] * len(cc)), dtype=bool))


def _nanmean(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x)
    return float(x[finite].mean()) if finite.any() else float("nan")


def _json_float(x: float) -> Optional[float]:
    x = float(x)
    return x if math.isfinite(x) else None


def _json_list(a: np.ndarray) -> List[Optional[float]]:
    return [_json_float(v) for v in np.asarray(a, dtype=np.float64)]


# --------------------------------------------------------------------------------------------------
# Signal power (Sahani & Linden 2003), per stimulus, vectorised over neurons
# --------------------------------------------------------------------------------------------------


def _complete_block(resp: np.ndarray):
    """Valid trials ``(N, R)`` and complete bins ``(N, T)`` of one stimulus ``(N, R, T)``.

    A trial is valid when it has any finite bin; a bin is complete when every valid trial has it.
    """
    finite = np.isfinite(resp)
    trials = finite.any(axis=2)
    bins = np.all(finite | ~trials[:, :, None], axis=1) & finite.any(axis=1)
    return trials, bins


def _stimulus_signal_power(resp: np.ndarray):
    """Signal power ``(N,)`` of one stimulus and its weight (complete bins, 0 when it cannot count).

    Needs >= 2 valid trials and >= 2 complete bins; variances are unbiased (ddof = 1).
    """
    trials, bins = _complete_block(resp)
    n_trials = trials.sum(axis=1).astype(np.float64)  # (N,)
    n_bins = bins.sum(axis=1).astype(np.float64)  # (N,)
    block = trials[:, :, None] & bins[:, None, :]  # (N, R, T)
    x = np.where(block, resp, 0.0)
    safe_bins = np.maximum(n_bins, 1.0)
    # per-trial variance over the complete bins
    trial_mean = x.sum(axis=2) / safe_bins[:, None]  # (N, R)
    dev = np.where(block, x - trial_mean[:, :, None], 0.0)
    trial_var = (dev ** 2).sum(axis=2) / np.maximum(n_bins - 1.0, 1.0)[:, None]  # (N, R)
    mean_trial_var = np.where(trials, trial_var, 0.0).sum(axis=1) / np.maximum(n_trials, 1.0)
    # variance of the trial mean
    psth = x.sum(axis=1) / np.maximum(n_trials, 1.0)[:, None]  # (N, T)
    psth_mean = np.where(bins, psth, 0.0).sum(axis=1) / safe_bins
    psth_var = (np.where(bins, psth - psth_mean[:, None], 0.0) ** 2).sum(axis=1) / np.maximum(n_bins - 1.0, 1.0)
    ok = (n_trials >= 2) & (n_bins >= 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        sp = (n_trials * psth_var - mean_trial_var) / (n_trials - 1.0)
    sp = np.where(ok, sp, np.nan)
    return sp, np.where(ok, n_bins, 0.0)


def signal_power(responses) -> np.ndarray:
    """Sahani-Linden signal power per neuron ``(N,)`` from per-stimulus responses ``(N, R, T_s)``.

    ``responses``: a list of ``(N, R, T_s)`` arrays or a NaN-padded stack ``(S, N, R, T)``. Per-stimulus
    values are averaged weighted by their number of complete bins. ``NaN`` for a neuron with no stimulus
    that has >= 2 trials and >= 2 bins. The value may be <= 0 (no measurable signal); callers decide.
    """
    resp = _as_list(responses, 3, "responses")
    n_neurons = resp[0].shape[0]
    total = np.zeros(n_neurons)
    weight = np.zeros(n_neurons)
    for r in resp:
        sp, w = _stimulus_signal_power(r)
        total += np.where(w > 0, sp * w, 0.0)
        weight += w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / np.maximum(weight, 1.0), np.nan)


# --------------------------------------------------------------------------------------------------
# Split-half ceiling (Hsu, Borst & Theunissen 2004)
# --------------------------------------------------------------------------------------------------


def _half_splits(n_trials: int, max_splits: int = MAX_SPLITS) -> List[np.ndarray]:
    """Index sets of one half for complementary splits of ``n_trials`` (even) trials, each split once.

    Fixing trial 0 in the first half enumerates every unordered split exactly once; when there are
    more than ``max_splits``, a fixed-seed sample of them is used (deterministic results).
    """
    half = n_trials // 2
    rest = range(1, n_trials)
    n_total = math.comb(n_trials - 1, half - 1)
    if n_total <= max_splits:
        return [np.array((0,) + c) for c in itertools.combinations(rest, half - 1)]
    rng = np.random.default_rng(0)
    seen = set()
    out = []
    while len(out) < max_splits:
        c = tuple(sorted(rng.choice(np.arange(1, n_trials), size=half - 1, replace=False).tolist()))
        if c not in seen:
            seen.add(c)
            out.append(np.array((0,) + c))
    return out


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of matching rows of ``a`` and ``b`` ``(K, T)``; NaN for a flat row."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > _EPS, (a * b).sum(axis=-1) / np.maximum(den, _EPS), np.nan)


def _stimulus_split_half(resp: np.ndarray, max_splits: int = MAX_SPLITS):
    """Split-half ``cc_max`` ``(N,)`` of one stimulus ``(N, R, T)`` and its weight (bins, or 0)."""
    trials, bins = _complete_block(resp)
    n_neurons = resp.shape[0]
    cc_max = np.full(n_neurons, np.nan)
    weight = np.zeros(n_neurons)
    for n in range(n_neurons):
        idx_t = np.flatnonzero(trials[n])
        idx_b = np.flatnonzero(bins[n])
        n_even = len(idx_t) - len(idx_t) % 2
        if n_even < 2 or len(idx_b) < 2:
            continue
        block = resp[n][np.ix_(idx_t[:n_even], idx_b)]  # (R_even, T_v)
        splits = _half_splits(n_even, max_splits)
        in_first = np.zeros((len(splits), n_even), dtype=bool)
        for k, s in enumerate(splits):
            in_first[k, s] = True
        half = n_even // 2
        first = (in_first.astype(np.float64) @ block) / half  # (K, T_v)
        second = ((~in_first).astype(np.float64) @ block) / half
        rho = np.nanmean(_pearson_rows(first, second)) if len(splits) else np.nan
        if np.isfinite(rho) and rho > 0:
            cc_max[n] = math.sqrt(2.0 * rho / (1.0 + rho))
            weight[n] = len(idx_b)
    return cc_max, weight


def split_half_ceiling(responses, max_splits: int = MAX_SPLITS) -> np.ndarray:
    """Split-half ``cc_max`` per neuron ``(N,)``: per stimulus, averaged weighted by valid bins.

    Odd trial counts drop the last trial; stimuli whose half-split correlation is <= 0 are left out;
    ``NaN`` when no stimulus qualifies.
    """
    resp = _as_list(responses, 3, "responses")
    n_neurons = resp[0].shape[0]
    total = np.zeros(n_neurons)
    weight = np.zeros(n_neurons)
    for r in resp:
        c, w = _stimulus_split_half(r, max_splits)
        total += np.where(w > 0, c * w, 0.0)
        weight += w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / np.maximum(weight, 1.0), np.nan)


# --------------------------------------------------------------------------------------------------
# Prediction vs trial mean
# --------------------------------------------------------------------------------------------------


def trial_mean(resp: np.ndarray) -> np.ndarray:
    """Trial mean ``(N, T)`` of ``(N, R, T)`` ignoring NaN trials; NaN where no trial exists."""
    finite = np.isfinite(resp)
    count = finite.sum(axis=1)
    total = np.where(finite, resp, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


@dataclass
class _Moments:
    """Sums over concatenated valid bins, per neuron, for covariances with ddof = 1."""

    n: np.ndarray
    sy: np.ndarray
    sp: np.ndarray
    syy: np.ndarray
    spp: np.ndarray
    syp: np.ndarray

    def cov_var(self):
        n = self.n
        d = np.maximum(n - 1.0, 1.0)
        safe = np.maximum(n, 1.0)
        cov = (self.syp - self.sy * self.sp / safe) / d
        var_y = (self.syy - self.sy ** 2 / safe) / d
        var_p = (self.spp - self.sp ** 2 / safe) / d
        return cov, np.maximum(var_y, 0.0), np.maximum(var_p, 0.0)


def _moments(psths: Sequence[np.ndarray], predictions: Sequence[np.ndarray]) -> _Moments:
    n_neurons = psths[0].shape[0]
    acc = [np.zeros(n_neurons) for _ in range(6)]
    for i, (y, p) in enumerate(zip(psths, predictions)):
        if y.shape != p.shape:
            raise ValueError(f"stimulus {i}: prediction shape {p.shape} does not match responses {y.shape}")
        valid = np.isfinite(y) & np.isfinite(p)
        y0 = np.where(valid, y, 0.0)
        p0 = np.where(valid, p, 0.0)
        acc[0] += valid.sum(axis=1)
        acc[1] += y0.sum(axis=1)
        acc[2] += p0.sum(axis=1)
        acc[3] += (y0 * y0).sum(axis=1)
        acc[4] += (p0 * p0).sum(axis=1)
        acc[5] += (y0 * p0).sum(axis=1)
    return _Moments(*acc)


@dataclass
class NoiseCeiling:
    """What the ceiling needs from the responses alone, computed once and reused every epoch.

    ``psths``: per-stimulus trial means ``(N, T_s)``; ``sp``: signal power ``(N,)``; ``split_half``:
    split-half ``cc_max`` ``(N,)`` (only for that method); ``single_trial``: ``(N,)`` neurons with data where
    no stimulus has 2 trials; ``no_data``: ``(N,)`` neurons without a single recorded bin in these stimuli.
    """

    psths: List[np.ndarray]
    method: str
    sp: np.ndarray
    split_half: Optional[np.ndarray]
    single_trial: np.ndarray
    no_data: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        if self.no_data is None:
            self.no_data = np.zeros(len(self.single_trial), dtype=bool)


def noise_ceiling(responses, method: str = "sp", max_splits: int = MAX_SPLITS) -> NoiseCeiling:
    """Pre-compute trial means and the ceiling of per-stimulus responses ``(N, R, T_s)`` for ``method``."""
    if method not in METHODS:
        raise ValueError(f"metric method {method!r} is not one of {METHODS}")
    resp = _as_list(responses, 3, "responses")
    n_neurons = resp[0].shape[0]
    for i, r in enumerate(resp):
        if r.shape[0] != n_neurons:
            raise ValueError(f"responses[{i}]: {r.shape[0]} neurons, expected {n_neurons}")
    multi = np.zeros(n_neurons, dtype=bool)
    has_data = np.zeros(n_neurons, dtype=bool)
    for r in resp:
        trials_with_data = np.isfinite(r).any(axis=2).sum(axis=1)
        multi |= trials_with_data >= 2
        has_data |= trials_with_data >= 1
    return NoiseCeiling(
        psths=[trial_mean(r) for r in resp],
        method=method,
        sp=signal_power(resp),
        split_half=split_half_ceiling(resp, max_splits) if method == "split_half" else None,
        single_trial=has_data & ~multi,
        no_data=~has_data,
    )


def metrics_with_ceiling(ceiling: NoiseCeiling, predictions) -> NeuronMetrics:
    """``cc``, ``cc_max``, ``cc_norm`` of per-stimulus predictions ``(N, T_s)`` against a pre-computed ceiling."""
    preds = _predictions_list(predictions)
    if len(preds) != len(ceiling.psths):
        raise ValueError(f"{len(preds)} predictions for {len(ceiling.psths)} stimuli")
    mom = _moments(ceiling.psths, preds)
    cov, var_y, var_p = mom.cov_var()
    enough = mom.n >= 2
    with np.errstate(invalid="ignore", divide="ignore"):
        cc = np.where(enough & (var_y > _EPS) & (var_p > _EPS), cov / np.sqrt(var_y * var_p), np.nan)
        if ceiling.method == "sp":
            sp = ceiling.sp
            has_signal = np.isfinite(sp) & (sp > 0)
            cc_norm = np.where(enough & has_signal & (var_p > _EPS), cov / np.sqrt(sp * var_p), np.nan)
            cc_max = np.where(enough & has_signal & (var_y > _EPS), np.sqrt(sp / var_y), np.nan)
        else:
            cc_max = ceiling.split_half.copy()
            cc_norm = cc / cc_max
    notes = []
    single = ceiling.single_trial
    if single.any():
        cc_norm = np.where(single, cc, cc_norm)
        cc_max = np.where(single, np.nan, cc_max)
        notes.append(f"{int(single.sum())} neuron(s) have a single trial per stimulus: cc_norm is the plain cc "
                     f"(no noise ceiling can be estimated)")
    no_data = ceiling.no_data
    if no_data.any():
        notes.append(f"{int(no_data.sum())} neuron(s) have no recorded responses in these stimuli (none in this "
                     f"split): no scores")
    no_signal = ~single & ~no_data & ~np.isfinite(cc_max)
    if no_signal.any():
        notes.append(f"{int(no_signal.sum())} neuron(s) have no measurable signal power: cc_norm is NaN")
    with np.errstate(invalid="ignore"):
        above = np.isfinite(cc_norm) & (cc_norm > 1.0)
    if above.any():
        notes.append(f"{int(above.sum())} neuron(s) have cc_norm above 1: " + CC_NORM_ABOVE_ONE)
    return NeuronMetrics(cc=cc, cc_max=cc_max, cc_norm=cc_norm, method=ceiling.method, single_trial=single.copy(),
                         n_bins=mom.n.astype(np.int64), notes=notes, no_data=no_data.copy())


def cc_norm_from_trials(responses, predictions, method: str = "sp", max_splits: int = MAX_SPLITS) -> NeuronMetrics:
    """Per-neuron ``cc``, ``cc_max``, ``cc_norm`` of predictions against trial responses.

    ``responses``: list of ``(N, R, T_s)`` (or a NaN-padded ``(S, N, R, T)`` stack); ``predictions``: list of
    ``(N, T_s)`` (or ``(N, 1, T_s)``, or a stack). ``method``: ``"sp"`` (Schoppe et al. 2016, default) or
    ``"split_half"`` (Hsu et al. 2004). NaN-aware; see the module docstring for the formulas.
    """
    return metrics_with_ceiling(noise_ceiling(responses, method, max_splits), predictions)


def pearson_cc(targets, predictions) -> np.ndarray:
    """Plain Pearson ``cc`` per neuron ``(N,)`` between per-stimulus targets and predictions ``(N, T_s)``."""
    ys = _predictions_list(targets)
    ps = _predictions_list(predictions)
    cov, var_y, var_p = _moments(ys, ps).cov_var()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((var_y > _EPS) & (var_p > _EPS), cov / np.sqrt(var_y * var_p), np.nan)
