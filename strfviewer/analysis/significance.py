"""Which parts of an STRF are real: jackknife over stimuli (per-pixel standard errors, z-scores and a
significance mask) and bootstrap resamples of STRFs for confidence intervals of the tuning metrics.

* :func:`ridge_jackknife`: leave-one-stimulus-out ridge STRFs of a ``Linear`` model in closed form. The
  cross-products ``X'X`` and ``X'y`` of each stimulus' lagged design are computed once
  (:func:`strfviewer.fit.ridge.lagged_moments`); a fold subtracts one stimulus' moments from the total and
  solves ``(X'X + alpha I) w = X'y`` (a Cholesky factorisation per distinct penalty) with the penalty of the
  full fit held fixed, so 20 folds cost about 20 small solves.
* :func:`gradmap_jackknife`: the same for any model family, refitting it per fold with
  :func:`strfviewer.fit.run.run_fit` (as slow as that many fits; progress and cancel like ``run_fit``).
* :func:`ridge_bootstrap`: ridge STRFs refitted on stimuli drawn with replacement (weighted sums of the same
  per-stimulus moments); :func:`pixel_bootstrap`: maps drawn from the estimate and its jackknife standard
  errors (any model). Either feeds :func:`strfviewer.analysis.tuning.tuning_intervals`.

Standard errors follow the jackknife (Efron & Tibshirani 1993, ch. 11; STRFPAK's jackknifed STRFs, Theunissen
lab, ``theunissenlab/strfPy`` ``df_cal_Strf``): ``se = sqrt((K - 1) / K * sum_k (w_(k) - mean_k w_(k))^2)`` over
the ``K`` folds a neuron has data in. Shapes: maps ``(N, C, F, T)``; replicates ``(K, N, C, F, T)``.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch

#: default |z| above which a pixel counts as significant (two-sided p < 0.05 per pixel, uncorrected)
DEFAULT_THRESHOLD = 2.0
#: the per-stimulus moments may use at most this fraction of the available memory
_MEMORY_FRACTION = 0.5
#: a stimulus whose lagged design has at most this many cells gets its moments from the explicit design
_EXPLICIT_DESIGN_CELLS = 4_000_000

Progress = Callable[[int, int, str], None]


@dataclass
class Jackknife:
    """Leave-one-stimulus-out estimates of maps.

    ``estimate`` ``(N, C, F, T)``: the map fitted on all stimuli; ``replicates`` ``(K, N, C, F, T)``: fold
    ``k`` leaves out stimulus ``left_out[k]`` (NaN for neurons without data in that stimulus: the fold is
    theirs to skip); ``notes``: what the caller should know.
    """

    estimate: np.ndarray
    replicates: np.ndarray
    left_out: List[str]
    notes: List[str] = field(default_factory=list)

    @property
    def n_folds(self) -> np.ndarray:
        """Folds per neuron ``(N,)`` (stimuli the neuron has data in)."""
        return np.isfinite(self.replicates).any(axis=tuple(range(2, self.replicates.ndim))).sum(axis=0)

    @property
    def se(self) -> np.ndarray:
        """Jackknife standard error per pixel ``(N, C, F, T)``; NaN for a neuron with fewer than 2 folds."""
        K = np.isfinite(self.replicates).sum(axis=0).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nanmean(self.replicates, axis=0) if self.replicates.size else self.estimate * np.nan
            ss = np.nansum((self.replicates - mean) ** 2, axis=0)
            return np.where(K >= 2, np.sqrt((K - 1) / np.maximum(K, 1) * ss), np.nan)

    def z(self) -> np.ndarray:
        """``estimate / se`` per pixel (0 where both are 0, NaN where the error is unknown)."""
        se = self.se
        with np.errstate(invalid="ignore", divide="ignore"):
            z = self.estimate / se
        return np.where((se == 0) & (self.estimate == 0), 0.0, z)

    def mask(self, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
        """Significant pixels ``(N, C, F, T)``: ``|z| > threshold``."""
        if not threshold >= 0:
            raise ValueError(f"significance threshold must be >= 0, got {threshold}")
        with np.errstate(invalid="ignore"):
            return np.abs(self.z()) > float(threshold)


# --------------------------------------------------------------------------------------------------------
# ridge: per-stimulus moments


@dataclass
class StimulusMoments:
    """Uncentred sums of one stimulus' lagged design ``X (L, D)`` and targets ``Y (L, N)`` (NaN-free):
    ``count`` L, ``sx (D,)``, ``sy (N,)``, ``xtx (D, D)``, ``xty (D, N)``; ``valid (N,)`` neurons with data."""

    name: str
    count: int
    sx: torch.Tensor
    sy: torch.Tensor
    xtx: torch.Tensor
    xty: torch.Tensor
    valid: np.ndarray


def _stimulus_targets(stimulus) -> tuple:
    """Trial means ``(L, N)`` (zeros where absent) and the neurons with data ``(N,)``; a neuron with data in
    only part of a stimulus' bins cannot be jackknifed by whole stimuli (``ValueError`` naming it)."""
    from strfviewer.fit.ridge import _targets

    y = _targets(stimulus.responses)
    finite = np.isfinite(y)
    valid = finite.all(axis=0)
    partial = finite.any(axis=0) & ~valid
    if partial.any():
        raise ValueError(f"stimulus {stimulus.name!r}: neuron(s) {np.flatnonzero(partial)[:5].tolist()} have "
                         "masked bins inside the stimulus; the jackknife leaves out whole stimuli and needs each "
                         "neuron's bins complete or absent per stimulus")
    return np.where(finite, y, 0.0), valid


def stimulus_moments(features: np.ndarray, y: np.ndarray, T: int, name: str = "", valid=None) -> StimulusMoments:
    """:class:`StimulusMoments` of one stimulus from its features ``(K, L)`` and targets ``(L, N)``: from the
    explicit lagged design when it is small, else without building it (:func:`~strfviewer.fit.ridge.lagged_moments`)."""
    from strfviewer.fit.ridge import lagged_design, lagged_moments

    valid = np.ones(y.shape[1], bool) if valid is None else np.asarray(valid, bool)
    K, L = features.shape
    if L * K * int(T) <= _EXPLICIT_DESIGN_CELLS:
        X = torch.from_numpy(lagged_design(features, int(T)))                        # (L, D)
        Y = torch.from_numpy(np.asarray(y, dtype=np.float64))
        return StimulusMoments(name=name, count=L, sx=X.sum(0), sy=Y.sum(0), xtx=X.T @ X, xty=X.T @ Y,
                               valid=valid)
    count, mx, my, gram, cross = lagged_moments([features], [y], int(T))
    return StimulusMoments(name=name, count=int(count), sx=count * mx, sy=count * my,
                           xtx=gram + count * torch.outer(mx, mx), xty=cross + count * torch.outer(mx, my),
                           valid=valid)


def _check_memory(n_stimuli: int, D: int) -> None:
    from strfviewer.fit.ridge import FALLBACK_MEMORY_LIMIT, available_memory_bytes

    needed = 8 * (n_stimuli + 4) * D * D
    available = available_memory_bytes()
    limit = _MEMORY_FRACTION * available if available else FALLBACK_MEMORY_LIMIT
    if needed > limit:
        raise ValueError(f"the jackknife needs {n_stimuli} {D} x {D} cross-product matrices "
                         f"({needed / 1e9:.1f} GB, more than {limit / 1e9:.1f} GB allowed); use a shorter temporal "
                         "window or fewer bands")


def _select_stimuli(dataset, stimuli) -> list:
    if isinstance(stimuli, str):
        if stimuli == "all":
            chosen = list(dataset.stimuli)
        else:
            chosen = dataset.stimuli_in(stimuli)
    else:
        chosen = [dataset.stimulus(str(name)) for name in stimuli]
    if len(chosen) < 2:
        raise ValueError(f"the jackknife needs at least 2 stimuli, {len(chosen)} selected ({stimuli!r})")
    return chosen


def _pattern_sums(moments: Sequence[StimulusMoments], weights: np.ndarray):
    """``{neurons: [count, sx, sy, xtx, xty]}``: moments summed with ``weights (S,)`` over the stimuli each
    group of neurons (same stimuli with data) has data in; ``sy``/``xty`` for those neurons only."""
    valid = np.stack([m.valid for m in moments])                                    # (S, N)
    groups: Dict[bytes, List[int]] = {}
    for n in range(valid.shape[1]):
        groups.setdefault((valid[:, n] & (weights != 0)).tobytes(), []).append(n)
    out = {}
    for key, neurons in groups.items():
        use = np.flatnonzero(np.frombuffer(key, dtype=bool))
        if not len(use):
            continue
        idx = torch.as_tensor(neurons)
        total = None
        for s in use:
            m, w = moments[s], float(weights[s])
            part = [w * m.count, w * m.sx, w * m.sy[idx], w * m.xtx, w * m.xty[:, idx]]
            total = part if total is None else [a + b for a, b in zip(total, part)]
        out[tuple(neurons)] = total
    return out


def _solve_sums(sums, alpha: np.ndarray) -> np.ndarray:
    """Ridge weights ``(n, D)`` from uncentred sums ``[count, sx, sy, xtx, xty]`` of ``n`` neurons with
    penalties ``alpha (n,)`` (intercept unpenalised: the moments are centred); NaN with fewer than 2 bins."""
    count, sx, sy, xtx, xty = sums
    D = xtx.shape[0]
    n = len(alpha)
    if count < 2:
        return np.full((n, D), np.nan)
    mx, my = sx / count, sy / count
    gram = xtx - count * torch.outer(mx, mx)
    cross = xty - count * torch.outer(mx, my)
    distinct = np.unique(alpha)
    out = np.empty((n, D))
    if len(distinct) <= 6:          # a Cholesky factorisation per penalty
        eye = torch.eye(D, dtype=gram.dtype)
        for value in distinct:
            cols = np.flatnonzero(alpha == value)
            factor = torch.linalg.cholesky(gram + float(value) * eye)
            out[cols] = torch.cholesky_solve(cross[:, cols], factor).T.numpy()
    else:                           # one eigendecomposition for every penalty
        evals, evecs = torch.linalg.eigh(gram)
        shrunk = (evecs.T @ cross) / (evals.clamp(min=0)[:, None] + torch.as_tensor(alpha)[None, :])
        out[:] = (evecs @ shrunk).T.numpy()
    return out


def _ridge_solve(moments: Sequence[StimulusMoments], weights: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Ridge weights ``(N, D)`` from stimulus moments combined with ``weights (S,)`` (1 = in, 0 = out; counts
    for a bootstrap draw), each neuron with its own penalty ``alpha (N,)``; NaN for a neuron without data."""
    out = np.full((len(alpha), moments[0].xtx.shape[0]), np.nan)
    for neurons, sums in _pattern_sums(moments, weights).items():
        out[list(neurons)] = _solve_sums(sums, alpha[list(neurons)])
    return out


def _ridge_setup(dataset, T: int, alpha, model, stimuli):
    """``(moments, alpha (N,), kernel shape, notes)`` shared by the ridge jackknife and bootstrap."""
    from strfviewer.fit.ridge import _features, fit_ridge_details

    chosen = _select_stimuli(dataset, stimuli)
    notes: List[str] = []
    N = dataset.n_neurons
    if alpha is None:
        result = fit_ridge_details(dataset, int(T), model=model)
        alpha = result.alpha
        notes.append("penalties chosen on the validation stimuli as the ridge fit does")
    alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (N,)).copy()
    if not np.all(np.isfinite(alpha)) or np.any(alpha <= 0):
        raise ValueError(f"ridge penalties must be finite and > 0, got {alpha[:5].tolist()}")
    features = [_features(model, s.spec) for s in chosen]                        # (C, F, L) each
    C, F = features[0].shape[:2]
    _check_memory(len(chosen), C * F * int(T))
    moments = []
    for s, feat in zip(chosen, features):
        y, valid = _stimulus_targets(s)
        moments.append(stimulus_moments(feat.reshape(C * F, -1), y, int(T), s.name, valid))
    return moments, alpha, (N, C, F, int(T)), notes


def ridge_jackknife(dataset, T: int, alpha=None, model=None, stimuli: Union[str, Sequence[str]] = "train",
                    progress: Optional[Progress] = None, cancel: Optional[threading.Event] = None
                    ) -> Optional[Jackknife]:
    """Leave-one-stimulus-out ridge STRFs of every neuron (closed form, see the module notes).

    ``T``: frames of the STRF window; ``alpha``: the penalty per neuron ``(N,)`` or one for all (``None``:
    chosen on the validation stimuli as :func:`strfviewer.fit.ridge.fit_ridge_details` does); ``model``: a
    ``Linear`` model whose prefilter (if any) makes the features (default: the spectrogram itself);
    ``stimuli``: ``"train"`` (default), ``"all"`` or a list of stimulus names: the stimuli the fit uses and
    the jackknife leaves out one at a time. ``progress(done, total, message)`` after each fold; a set
    ``cancel`` event returns ``None``.
    """
    moments, alpha, shape, notes = _ridge_setup(dataset, T, alpha, model, stimuli)
    S = len(moments)
    if cancel is not None and cancel.is_set():
        return None
    N = len(alpha)
    estimate = np.full((N, int(np.prod(shape[1:]))), np.nan)
    replicates = np.full((S,) + estimate.shape, np.nan)
    totals = _pattern_sums(moments, np.ones(S))
    for neurons, total in totals.items():
        estimate[list(neurons)] = _solve_sums(total, alpha[list(neurons)])
    for k in range(S):
        if cancel is not None and cancel.is_set():
            return None
        m = moments[k]
        for neurons, total in totals.items():
            idx = list(neurons)
            if not m.valid[idx[0]]:
                continue                    # these neurons have no data in stimulus k: not their fold
            cols = torch.as_tensor(idx)
            fold = [total[0] - m.count, total[1] - m.sx, total[2] - m.sy[cols], total[3] - m.xtx,
                    total[4] - m.xty[:, cols]]
            replicates[k, idx] = _solve_sums(fold, alpha[idx])
        if progress is not None:
            progress(k + 1, S, f"fold {k + 1}/{S}: without {m.name}")
    estimate, replicates = estimate.reshape(shape), replicates.reshape((S,) + shape)
    return Jackknife(estimate=estimate, replicates=replicates, left_out=[m.name for m in moments], notes=notes)


def ridge_bootstrap(dataset, T: int, alpha=None, model=None, stimuli: Union[str, Sequence[str]] = "train",
                    n_samples: int = 200, seed: int = 0) -> np.ndarray:
    """Ridge STRFs ``(n_samples, N, C, F, T)`` refitted on stimuli drawn with replacement (same arguments as
    :func:`ridge_jackknife`; fixed ``seed``)."""
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    moments, alpha, shape, _ = _ridge_setup(dataset, T, alpha, model, stimuli)
    rng = np.random.default_rng(seed)
    S = len(moments)
    return np.stack([_ridge_solve(moments, np.bincount(rng.integers(0, S, S), minlength=S).astype(np.float64),
                                  alpha).reshape(shape) for _ in range(int(n_samples))])


def pixel_bootstrap(estimate, se, n_samples: int = 200, seed: int = 0) -> np.ndarray:
    """Maps ``(n_samples, *estimate.shape)`` drawn as ``estimate + se * normal`` (independent pixels; NaN
    errors count as 0): a parametric bootstrap for models whose refits are too slow to resample."""
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    estimate = np.asarray(estimate, dtype=np.float64)
    se = np.nan_to_num(np.asarray(se, dtype=np.float64), nan=0.0)
    rng = np.random.default_rng(seed)
    return estimate[None] + se[None] * rng.standard_normal((int(n_samples),) + estimate.shape)


# --------------------------------------------------------------------------------------------------------
# any model: refit per fold


def gradmap_jackknife(dataset, request, T: Optional[int] = None, readout: str = "last", per_channel: bool = False,
                      stimuli: Union[str, Sequence[str]] = "train", estimate=None,
                      progress: Optional[Progress] = None, cancel: Optional[threading.Event] = None
                      ) -> Optional[Jackknife]:
    """Leave-one-stimulus-out gradmaps of any model: the model of ``request`` (a
    :class:`~strfviewer.fit.run.FitRequest`) is refitted without each stimulus in turn (the other stimuli keep
    their parts of the split) and its gradmaps ``(N, C, F, T)`` are taken (``T``, ``readout``,
    ``per_channel`` as :func:`strfviewer.analysis.gradmaps.strf_gradmap`). ``estimate``: the gradmaps of the
    fit on all stimuli when already known (else fitted here too). Gradmap sign as in ``strf_gradmap``.
    ``progress(done, total, message)`` after each fit; a set ``cancel`` returns ``None``.
    """
    from strfviewer.analysis.gradmaps import strf_gradmap
    from strfviewer.fit.run import _apply_split, run_fit

    dataset = _apply_split(dataset, request.split)
    chosen = _select_stimuli(dataset, stimuli)
    cancel = cancel or threading.Event()
    total = len(chosen) + (estimate is None)

    def fit_maps(data):
        fold_request = type(request).from_dict({**request.to_dict(), "split": dict(data.split)})
        outcome = run_fit(data, fold_request, cancel=cancel)
        if outcome.cancelled or cancel.is_set():
            return None
        return strf_gradmap(outcome.model, T=T, readout=readout, per_channel=per_channel).cpu().numpy()

    done = 0
    if estimate is None:
        estimate = fit_maps(dataset)
        if estimate is None:
            return None
        done += 1
        if progress is not None:
            progress(done, total, "fit on all stimuli")
    estimate = np.asarray(estimate, dtype=np.float64)
    replicates = np.full((len(chosen),) + estimate.shape, np.nan)
    for k, left in enumerate(chosen):
        rest = [s for s in dataset.stimuli if s.name != left.name]
        fold_data = dataclasses.replace(dataset, stimuli=rest, split={s.name: dataset.split[s.name] for s in rest})
        maps = fit_maps(fold_data)
        if maps is None:
            return None
        if maps.shape != estimate.shape:
            raise ValueError(f"fold without {left.name!r}: gradmaps {maps.shape}, the estimate has {estimate.shape}")
        has_data = np.isfinite(left.responses).any(axis=(1, 2))
        replicates[k, has_data] = maps[has_data]
        done += 1
        if progress is not None:
            progress(done, total, f"fold {k + 1}/{len(chosen)}: without {left.name}")
    return Jackknife(estimate=estimate, replicates=replicates, left_out=[s.name for s in chosen])
