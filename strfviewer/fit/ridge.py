"""Closed-form ridge regression of the Linear STRF model, all neurons at once.

The design matrix holds, for every frame ``t`` of every training stimulus, the causal window of the last
``T`` frames of the (prefiltered) spectrogram, ``C * F * T`` columns laid out like the convolution kernel
``(N, C, F, T)`` (column ``j`` of the lag axis is frame ``t - (T - 1) + j``; frames before the stimulus
start are zeros, as in the model's causal padding). The target is the trial mean. The intercept is not
penalised (columns and targets are centred). One eigendecomposition of ``X'X`` gives the solution for the
whole grid of penalties; each neuron takes the penalty with the best correlation on the validation stimuli
(maximising ``cc`` maximises ``cc_norm``: the ceiling of a neuron does not depend on the prediction).

The weights go into a :class:`strfviewer.models.Linear` so that its eval-mode forward reproduces the ridge
prediction: the kernel holds ``W`` and the bias ``b``; the readout's BatchNorm is set to the mean and
standard deviation of the ridge prediction on the training frames with matching affine parameters (an
identity map in eval mode, close to one in train mode), which also makes the model a good warm start for
gradient descent of Linear, LinearNonlinear and similar models: :func:`seed_kernel` hands the ridge STRFs to
any kernel that implements ``init_from_strf`` (the kernel contract, :mod:`strfviewer.models.kernels`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import nn

from strfviewer.fit.metrics import pearson_cc
from strfviewer.models.kernels import init_from_strf, is_unconstrained, strf_kernel_of

#: default penalty grid, relative to the mean eigenvalue of the centred ``X'X``
RELATIVE_ALPHAS = tuple(10.0 ** k for k in np.arange(-4.0, 3.01, 0.5))
#: the ridge fit may use at most this fraction of the memory available when it starts
MEMORY_FRACTION = 0.5
#: the limit when the available memory cannot be read (bytes)
FALLBACK_MEMORY_LIMIT = 2 * 1024 ** 3
#: float64 ``D x D`` arrays alive at once at the peak (the Gram blocks, their reordered copy and the
#: eigenvectors; the eigendecomposition's workspace is of the same order)
_GRAM_COPIES = 4


class RidgeMemoryError(ValueError):
    """The ridge fit would need more memory than is safe to ask for (the message gives the sizes)."""

    def __init__(self, message: str, needed_bytes: int) -> None:
        super().__init__(message)
        self.needed_bytes = needed_bytes


def available_memory_bytes() -> Optional[int]:
    """Memory the system can give without swapping (``MemAvailable`` of ``/proc/meminfo``, else the free
    physical pages), ``None`` when neither can be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def ridge_memory_bytes(n_columns: int, design_rows: int = 0) -> int:
    """Estimated peak bytes of a ridge fit with ``n_columns`` design columns (``C * F * T``) that also
    builds ``design_rows`` rows of explicit float64 design matrices."""
    return int(_GRAM_COPIES * 8 * n_columns ** 2 + 8 * n_columns * design_rows)


def _format_bytes(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def check_ridge_memory(n_columns: int, design_rows: int = 0, T: Optional[int] = None) -> None:
    """Raise :class:`RidgeMemoryError` when the estimated peak memory of the fit exceeds
    :data:`MEMORY_FRACTION` of the available memory (:data:`FALLBACK_MEMORY_LIMIT` when unknown)."""
    needed = ridge_memory_bytes(n_columns, design_rows)
    available = available_memory_bytes()
    limit = MEMORY_FRACTION * available if available else FALLBACK_MEMORY_LIMIT
    if needed <= limit:
        return
    where = (f"{_format_bytes(available)} available" if available
             else f"a {_format_bytes(limit)} cap (available memory unknown)")
    window = f"a smaller -T (now {T} frames)" if T is not None else "a smaller temporal window"
    raise RidgeMemoryError(
        f"ridge needs a {n_columns} x {n_columns} matrix ({_format_bytes(8 * n_columns ** 2)}; about "
        f"{_format_bytes(needed)} in all, {where}); use {window}, fewer bands or --method sgd", needed)


def lagged_design(features: np.ndarray, T: int) -> np.ndarray:
    """Design matrix ``(T_s, C * F * T)`` of a stimulus ``(C, F, T_s)`` (or ``(F, T_s)``): causal windows."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim == 2:
        x = x[None]
    C, F, L = x.shape
    padded = np.concatenate([np.zeros((C, F, T - 1)), x], axis=-1)
    windows = np.lib.stride_tricks.sliding_window_view(padded, T, axis=-1)  # (C, F, L, T)
    return np.ascontiguousarray(windows.transpose(2, 0, 1, 3).reshape(L, C * F * T))


@dataclass
class RidgeResult:
    """The fitted model and what the choice of penalty saw.

    ``alphas`` ``(K,)`` absolute penalties tried; ``alpha`` ``(N,)`` the one chosen per neuron;
    ``val_cc`` ``(K, N)`` validation correlation per penalty (NaN without validation stimuli);
    ``weights`` ``(N, C, F, T)``; ``bias`` ``(N,)``.
    """

    model: nn.Module
    alphas: np.ndarray
    alpha: np.ndarray
    val_cc: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    notes: List[str] = field(default_factory=list)


def _features(model: Optional[nn.Module], spec: np.ndarray) -> np.ndarray:
    """What the readout's STRF sees: the prefiltered spectrogram ``(C, F, T_s)`` (the spectrogram itself
    without a prefilter)."""
    pre = getattr(model, "prefiltering", None) if model is not None else None
    if pre is None or isinstance(pre, nn.Identity):
        return np.asarray(spec, dtype=np.float64).reshape(-1, spec.shape[-2], spec.shape[-1])
    with torch.no_grad():
        was_training = pre.training
        pre.eval()
        param = next(pre.parameters(), None)
        x = torch.as_tensor(np.asarray(spec, dtype=np.float32))[None]
        if param is not None:
            x = x.to(param.device)
        out = pre(x)[0].cpu().numpy().astype(np.float64)
        pre.train(was_training)
    return out


def _targets(responses: np.ndarray) -> np.ndarray:
    """Trial mean ``(T_s, N)``, NaN where no trial exists."""
    r = np.asarray(responses, dtype=np.float64)
    finite = np.isfinite(r)
    count = finite.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.where(count > 0, np.where(finite, r, 0.0).sum(axis=1) / np.maximum(count, 1), np.nan)
    return y.T


def _group_neurons(masks: List[np.ndarray]) -> List[np.ndarray]:
    """Neurons that share the same valid training bins (each mask ``(T_s, N)``) solve together."""
    if not masks:
        return []
    stacked = np.concatenate(masks, axis=0)  # (sum T, N)
    keys: Dict[bytes, List[int]] = {}
    for n in range(stacked.shape[1]):
        keys.setdefault(np.packbits(stacked[:, n]).tobytes(), []).append(n)
    return [np.array(v) for v in keys.values()]


def _centred_moments_explicit(designs, targets, rows, group, gram_dtype):
    """``count, mean_x (D,), mean_y (n,), X'X (D, D), X'y (D, n)`` (centred, float64) from design matrices."""
    Xv = torch.from_numpy(np.concatenate([X if r.all() else X[r] for X, r in zip(designs, rows)]))
    Yv = torch.from_numpy(np.concatenate([(y if r.all() else y[r])[:, group] for y, r in zip(targets, rows)]))
    mx, my = Xv.mean(dim=0), Yv.mean(dim=0)
    Xc = (Xv - mx).to(gram_dtype)
    return Xv.shape[0], mx, my, (Xc.T @ Xc).double(), (Xc.T @ (Yv - my).to(gram_dtype)).double()


def lagged_moments(features: Sequence[np.ndarray], targets: Sequence[np.ndarray], T: int):
    """Centred ``X'X`` and ``X'y`` of the lagged designs without building them (all bins valid).

    ``features``: per stimulus ``(K, L)`` (``K = C * F`` rows); ``targets``: ``(L, n)``. Column ``k * T + j``
    of the design is row ``k`` of the features delayed by ``T - 1 - j`` frames (zeros before the start). The
    stimuli are laid end to end, each after ``T - 1`` zero frames, in one sequence ``Z`` ``(K, M)``: a block
    ``(j1, j2)`` of ``X'X`` is then the full cross-product of ``Z`` at lag ``j2 - j1`` (the zeros keep stimuli
    apart) minus the few products that run past a stimulus' end, and column ``j`` of ``X'y`` is ``Z`` from
    frame ``j`` on times the targets placed at their rows. The cost is ``2T`` products of size ``K x M x K``
    instead of one of ``KT x M x KT``, whatever the number of stimuli. Returns ``count, mean_x, mean_y, X'X,
    X'y`` (float64).
    """
    K = features[0].shape[0]
    D = K * T
    pad = T - 1
    lengths = [int(f.shape[1]) for f in features]
    starts = np.cumsum([0] + [L + pad for L in lengths[:-1]])            # each stimulus' first row in Z
    rows = sum(L + pad for L in lengths)                                # design rows (incl. the gaps)
    Z = torch.zeros(K, rows + pad, dtype=torch.float64)
    Y = torch.zeros(rows, targets[0].shape[1] + 1, dtype=torch.float64)  # targets, then 1 on design rows
    for feat, y, start, L in zip(features, targets, starts, lengths):
        Z[:, start + pad:start + pad + L] = torch.from_numpy(np.asarray(feat, dtype=np.float64))
        Y[start:start + L, :-1] = torch.from_numpy(np.asarray(y, dtype=np.float64))
        Y[start:start + L, -1] = 1.0
    count = int(sum(lengths))
    # design column (k, j) at row u is Z[k, u + j]
    xty_sx = torch.stack([Z[:, j:j + rows] @ Y for j in range(T)], dim=1)   # (K, T, n + 1)
    xty, sx = xty_sx[..., :-1], xty_sx[..., -1]
    sy = Y[:, :-1].sum(dim=0)
    full = torch.stack([Z[:, :Z.shape[1] - d] @ Z[:, d:].T for d in range(T)])  # [d]: cross-products at lag d
    # products with u >= L + m (past the end for column m of a stimulus): the last T - 1 frames of each
    ends = torch.stack([Z[:, start + L:start + L + pad] for start, L in zip(starts, lengths)])  # (S, K, T - 1)
    xtx = torch.zeros(T, T, K, K, dtype=torch.float64)  # [j1, j2] blocks
    for d in range(T):
        n_tail = pad - d
        tail = torch.zeros(T, K, K, dtype=torch.float64)
        if n_tail > 0:
            prods = torch.einsum("sku,slu->ukl", ends[:, :, :n_tail], ends[:, :, d:d + n_tail])
            tail[:n_tail] = prods.flip(0).cumsum(0).flip(0)  # [m]: sum over u >= L + m
        for j1 in range(T - d):
            block = full[d] - tail[j1]
            xtx[j1, j1 + d] = block
            if d:
                xtx[j1 + d, j1] = block.T
    mx = (sx / count).reshape(D)
    my = sy / count
    gram = xtx.permute(2, 0, 3, 1).reshape(D, D)  # rows (k1, j1), columns (k2, j2)
    gram = gram - count * torch.outer(mx, mx)
    cross = xty.reshape(D, -1) - count * torch.outer(mx, my)
    return count, mx, my, gram, cross


def _solve_from_moments(moments, alpha_abs):
    """Weights ``(K, D, n)`` and intercepts ``(K, n)`` for every penalty from centred moments."""
    count, mx, my, gram, cross = moments
    evals, evecs = torch.linalg.eigh(gram)
    evals = evals.clamp(min=0.0)
    if alpha_abs is None:
        alpha_abs = np.asarray(RELATIVE_ALPHAS) * max(float(evals.mean()), 1e-12)
    proj = evecs.T @ cross  # (D, n)
    alphas_t = torch.as_tensor(alpha_abs, dtype=evals.dtype)
    w = torch.einsum("de,ken->kdn", evecs, proj[None] / (evals[None, :, None] + alphas_t[:, None, None]))
    b = my[None, :] - torch.einsum("d,kdn->kn", mx, w)
    return w.numpy(), b.numpy(), alpha_abs


def solve_ridge(designs: Sequence[np.ndarray], targets: Sequence[np.ndarray], alphas: Optional[Sequence[float]],
                gram_dtype: torch.dtype = torch.float32, features: Optional[Sequence[np.ndarray]] = None,
                T: Optional[int] = None) -> tuple:
    """Weights ``(K, D, N)`` and intercepts ``(K, N)`` for every penalty; absolute ``alphas`` ``(K,)``.

    ``targets`` are ``(T_s, N)`` with NaN on bins to leave out; neurons with the same valid bins share one
    eigendecomposition. ``alphas=None`` uses :data:`RELATIVE_ALPHAS` times the mean eigenvalue of the
    largest group. ``designs``: the lagged design matrices, or a callable returning them (built only when
    needed); with ``features`` ``(K, L)`` per stimulus and ``T``, neurons valid on every bin use
    :func:`lagged_moments` (no design matrix at all). ``gram_dtype``: precision of the explicit ``X'X``
    products (the eigendecomposition and solution are always float64). Linear algebra runs in torch: its
    LAPACK is single-threaded and fast where NumPy's threaded OpenBLAS can be 10-20x slower on a busy machine.
    """
    N = targets[0].shape[1]
    masks = [np.isfinite(y) for y in targets]
    groups = _group_neurons(masks)
    alpha_abs = None if alphas is None else np.asarray(alphas, dtype=np.float64)
    results = []
    scale_group = max(groups, key=len)
    built = {}

    def get_designs():
        if "d" not in built:
            built["d"] = designs() if callable(designs) else designs
        return built["d"]

    for group in sorted(groups, key=lambda g: g is not scale_group):
        rows = [m[:, group[0]] for m in masks]
        count = sum(int(r.sum()) for r in rows)
        if count < 2:
            results.append((group, None, None))
            continue
        if features is not None and T is not None and all(r.all() for r in rows):
            moments = lagged_moments(features, [y[:, group] for y in targets], T)
        else:
            moments = _centred_moments_explicit(get_designs(), targets, rows, group, gram_dtype)
        w, b, alpha_abs = _solve_from_moments(moments, alpha_abs)
        results.append((group, w, b))
    K = len(alpha_abs)
    D = next(w.shape[1] for _, w, _ in results if w is not None) if any(w is not None for _, w, _ in results) \
        else get_designs()[0].shape[1]
    W = np.zeros((K, D, N))
    B = np.zeros((K, N))
    for group, w, b in results:
        if w is not None:
            W[:, :, group] = w
            B[:, group] = b
    return W, B, alpha_abs


def _correlation_per_alpha(designs, targets, W, B) -> np.ndarray:
    """Pearson correlation ``(K, N)`` of the prediction for every penalty against the targets ``(T_s, N)``."""
    ys = [y.T for y in targets]
    return np.stack([pearson_cc(ys, [(X @ W[k] + B[k]).T for X in designs]) for k in range(W.shape[0])])


def fit_ridge_details(dataset, T: int, alphas: Optional[Sequence[float]] = None,
                      model: Optional[nn.Module] = None) -> RidgeResult:
    """Ridge STRFs of every neuron of ``dataset`` (a :class:`NeuralDataset` with a split) for a ``T``-frame
    window. ``model``: a ``Linear``-type model to fill (default: a new ``Linear(F, T, N)``); its prefilter, if
    any, is applied as it is and not trained. ``alphas``: absolute penalties (default: a relative grid).
    """
    train = dataset.stimuli_in("train")
    val = dataset.stimuli_in("val")
    if not train:
        raise ValueError(f"dataset {dataset.name or dataset.source!r}: no training stimuli for the ridge fit")
    if model is None:
        from strfviewer.models import Linear

        model = Linear(n_frequency_bands=int(dataset.n_freqs), temporal_window_size=int(T),
                       out_neurons=int(dataset.n_neurons))
    strf = _strf_conv(model)
    if int(model.T) != int(T):
        raise ValueError(f"the model's temporal window is {model.T} frames, the ridge fit asked for {T}")
    targets = [_targets(s.responses) for s in train]
    explicit_rows = 2 * sum(len(y) for y in targets) if any(not np.isfinite(y).all() for y in targets) else 0
    check_ridge_memory(int(strf.weight[0].numel()), explicit_rows + sum(s.spec.shape[-1] for s in val), int(T))
    features = [_features(model, s.spec) for s in train]  # (C, F, L) each
    D = features[0].shape[0] * features[0].shape[1] * int(T)
    if D != strf.weight[0].numel():
        raise ValueError(f"design has {D} columns, the model's kernel {tuple(strf.weight.shape)} expects "
                         f"{strf.weight[0].numel()}")
    flat = [f.reshape(-1, f.shape[-1]) for f in features]
    W, B, alpha_abs = solve_ridge(lambda: [lagged_design(f, T) for f in features], targets, alphas,
                                  features=flat, T=int(T))
    notes = []
    if val:
        val_cc = _correlation_per_alpha([lagged_design(_features(model, s.spec), T) for s in val],
                                        [_targets(s.responses) for s in val], W, B)
        filled = np.where(np.isfinite(val_cc), val_cc, -np.inf)
        best = filled.argmax(axis=0)
        no_val = ~np.isfinite(val_cc).any(axis=0)
    else:
        val_cc = np.full(W.shape[::2], np.nan)
        best = np.zeros(W.shape[2], dtype=int)
        no_val = np.ones(W.shape[2], dtype=bool)
    if no_val.any():
        best[no_val] = len(alpha_abs) // 2
        notes.append(f"{int(no_val.sum())} neuron(s) without validation data: the middle penalty of the grid "
                     f"({alpha_abs[len(alpha_abs) // 2]:.3g}) was used")
    N = W.shape[2]
    w = W[best, :, np.arange(N)]  # (N, D)
    b = B[best, np.arange(N)]
    _set_linear_weights(model, strf, w, b, [_lagged_predict(f, w, b, int(T)) for f in flat])
    return RidgeResult(model=model, alphas=alpha_abs, alpha=alpha_abs[best], val_cc=val_cc,
                       weights=w.reshape(strf.weight.shape), bias=b, notes=notes)


def fit_ridge(dataset, T: int, alphas: Optional[Sequence[float]] = None, model: Optional[nn.Module] = None
              ) -> nn.Module:
    """A ``Linear`` model with ridge-regression STRFs (see :func:`fit_ridge_details`)."""
    return fit_ridge_details(dataset, T, alphas, model).model


def _strf_conv(model: nn.Module) -> nn.Conv2d:
    """The model's full STRF convolution (``readout.strf.kernel``), or a clear error."""
    kernel = strf_kernel_of(model)
    if not is_unconstrained(kernel):
        raise ValueError(f"closed-form ridge needs a model with a full STRF kernel (readout.strf.kernel a Conv2d); "
                         f"{type(model).__name__} has {type(kernel).__name__ if kernel is not None else 'none'}")
    return kernel


def _lagged_predict(features: np.ndarray, w: np.ndarray, b: np.ndarray, T: int) -> np.ndarray:
    """Prediction ``(L, N)`` of weights ``w`` ``(N, K * T)`` and bias ``b`` on features ``(K, L)`` (causal)."""
    x = torch.from_numpy(np.asarray(features, dtype=np.float64))[None]
    weight = torch.from_numpy(np.ascontiguousarray(w)).reshape(w.shape[0], x.shape[1], T)
    out = torch.nn.functional.conv1d(torch.nn.functional.pad(x, (T - 1, 0)), weight)[0]  # (N, L)
    return (out.T + torch.from_numpy(np.asarray(b))).numpy()


@torch.no_grad()
def _set_linear_weights(model: nn.Module, conv: nn.Conv2d, w: np.ndarray, b: np.ndarray,
                        predictions: Sequence[np.ndarray]) -> None:
    """Kernel <- ``w`` ``(N, D)``, bias <- ``b``; BatchNorm set to pass the prediction (training stimuli,
    ``(L, N)`` each) through unchanged."""
    dev, dtype = conv.weight.device, conv.weight.dtype
    conv.weight.copy_(torch.as_tensor(w.reshape(conv.weight.shape), dtype=dtype, device=dev))
    if conv.bias is not None:
        conv.bias.copy_(torch.as_tensor(b, dtype=dtype, device=dev))
    bn = getattr(model.readout, "bn", None)
    if isinstance(bn, nn.modules.batchnorm._BatchNorm):
        total = np.zeros(w.shape[0])
        total_sq = np.zeros(w.shape[0])
        count = 0
        for p in predictions:
            total += p.sum(axis=0)
            total_sq += (p * p).sum(axis=0)
            count += len(p)
        mean = total / count
        var = np.maximum(total_sq / count - mean ** 2, 1e-6)
        std = np.sqrt(var + bn.eps)
        bn.running_mean.copy_(torch.as_tensor(mean, dtype=dtype, device=dev))
        bn.running_var.copy_(torch.as_tensor(var, dtype=dtype, device=dev))
        if bn.affine:
            bn.weight.copy_(torch.as_tensor(std, dtype=dtype, device=dev))
            bn.bias.copy_(torch.as_tensor(mean, dtype=dtype, device=dev))
    model.eval()


def _copy_readout_bn(model: nn.Module, source: nn.Module) -> bool:
    """Copy ``source``'s readout BatchNorm state into ``model``'s when both have one of the same size."""
    dbn, sbn = getattr(model.readout, "bn", None), getattr(source.readout, "bn", None)
    if isinstance(dbn, nn.modules.batchnorm._BatchNorm) and isinstance(sbn, nn.modules.batchnorm._BatchNorm) \
            and dbn.num_features == sbn.num_features:
        dbn.load_state_dict(sbn.state_dict())
        return True
    return False


@torch.no_grad()
def seed_kernel(model: nn.Module, source: nn.Module) -> Optional[str]:
    """Warm-start ``model``'s STRF kernel from the ridge STRFs of ``source`` (a full-kernel model, e.g. filled by
    :func:`fit_ridge_details`) through the kernel's ``init_from_strf`` (see :mod:`strfviewer.models.kernels`),
    and its readout BatchNorm from ``source``'s (it then passes the ridge prediction through).

    Returns what the kernel says it kept (e.g. ``"ridge (rank-1 part)"``), ``None`` when the kernel has no warm
    start (``model`` is left as it is). ``ValueError`` when the STRF shapes differ."""
    kernel = strf_kernel_of(model)
    if kernel is None:
        raise ValueError(f"{type(model).__name__} has no STRF readout to warm-start")
    conv = _strf_conv(source)
    said = init_from_strf(kernel, conv.weight.detach(), None if conv.bias is None else conv.bias.detach())
    if said is not None:
        _copy_readout_bn(model, source)
    return said


def warm_start(model: nn.Module, source: nn.Module) -> List[str]:
    """Copy the STRF kernel (and readout BatchNorm) of a ridge ``source`` into ``model`` where shapes match and
    the kernel has a warm start (:func:`seed_kernel`).

    Returns what was copied (empty when nothing fits); the rest of ``model`` keeps its initialisation.
    """
    try:
        said = seed_kernel(model, source)
    except ValueError:
        return []
    if said is None:
        return []
    bn = getattr(model.readout, "bn", None)
    return ["readout.strf"] + (["readout.bn"] if isinstance(bn, nn.modules.batchnorm._BatchNorm) else [])
