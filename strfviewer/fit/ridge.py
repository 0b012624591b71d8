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
gradient descent of Linear, LinearNonlinear and similar models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import nn

from strfviewer.fit.metrics import pearson_cc

#: default penalty grid, relative to the mean eigenvalue of the centred ``X'X``
RELATIVE_ALPHAS = tuple(10.0 ** k for k in np.arange(-4.0, 3.01, 0.5))


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


def solve_ridge(designs: Sequence[np.ndarray], targets: Sequence[np.ndarray], alphas: Optional[Sequence[float]],
                gram_dtype: torch.dtype = torch.float32) -> tuple:
    """Weights ``(K, D, N)`` and intercepts ``(K, N)`` for every penalty; absolute ``alphas`` ``(K,)``.

    ``targets`` are ``(T_s, N)`` with NaN on bins to leave out; neurons with the same valid bins share one
    eigendecomposition. ``alphas=None`` uses :data:`RELATIVE_ALPHAS` times the mean eigenvalue of the
    largest group. ``gram_dtype``: precision of the centred ``X'X`` and ``X'y`` products (float32 halves the
    dominant cost; the eigendecomposition and solution are always float64).
    """
    D = designs[0].shape[1]
    N = targets[0].shape[1]
    masks = [np.isfinite(y) for y in targets]
    groups = _group_neurons(masks)
    alpha_abs = None if alphas is None else np.asarray(alphas, dtype=np.float64)
    results = []
    scale_group = max(groups, key=len)
    for group in sorted(groups, key=lambda g: g is not scale_group):
        rows = [m[:, group[0]] for m in masks]
        count = sum(int(r.sum()) for r in rows)
        if count < 2:
            results.append((group, None, None))
            continue
        # linear algebra in torch (float64): its LAPACK runs single-threaded and fast where NumPy's threaded
        # OpenBLAS can be 10-20x slower on a busy machine
        Xv = torch.from_numpy(np.concatenate([X if r.all() else X[r] for X, r in zip(designs, rows)]))
        Yv = torch.from_numpy(np.concatenate([(y if r.all() else y[r])[:, group] for y, r in zip(targets, rows)]))
        mx, my = Xv.mean(dim=0), Yv.mean(dim=0)
        Xc = (Xv - mx).to(gram_dtype)
        evals, evecs = torch.linalg.eigh((Xc.T @ Xc).double())  # centred X'X
        evals = evals.clamp(min=0.0)
        if alpha_abs is None:
            alpha_abs = np.asarray(RELATIVE_ALPHAS) * max(float(evals.mean()), 1e-12)
        proj = evecs.T @ (Xc.T @ (Yv - my).to(gram_dtype)).double()  # (D, n_group)
        alphas_t = torch.as_tensor(alpha_abs, dtype=evals.dtype)
        w = torch.einsum("de,ken->kdn", evecs, proj[None] / (evals[None, :, None] + alphas_t[:, None, None]))
        b = (my[None, :] - torch.einsum("d,kdn->kn", mx, w)).numpy()
        w = w.numpy()  # (K, D, n_group)
        results.append((group, w, b))
    K = len(alpha_abs)
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
    designs = [lagged_design(_features(model, s.spec), T) for s in train]
    targets = [_targets(s.responses) for s in train]
    if designs[0].shape[1] != strf.weight.numel() // strf.weight.shape[0]:
        raise ValueError(f"design has {designs[0].shape[1]} columns, the model's kernel "
                         f"{tuple(strf.weight.shape)} expects {strf.weight[0].numel()}")
    W, B, alpha_abs = solve_ridge(designs, targets, alphas)
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
    _set_linear_weights(model, strf, w, b, designs)
    return RidgeResult(model=model, alphas=alpha_abs, alpha=alpha_abs[best], val_cc=val_cc,
                       weights=w.reshape(strf.weight.shape), bias=b, notes=notes)


def fit_ridge(dataset, T: int, alphas: Optional[Sequence[float]] = None, model: Optional[nn.Module] = None
              ) -> nn.Module:
    """A ``Linear`` model with ridge-regression STRFs (see :func:`fit_ridge_details`)."""
    return fit_ridge_details(dataset, T, alphas, model).model


def _strf_conv(model: nn.Module) -> nn.Conv2d:
    """The model's full STRF convolution (``readout.strf.kernel``), or a clear error."""
    kernel = getattr(getattr(getattr(model, "readout", None), "strf", None), "kernel", None)
    if not isinstance(kernel, nn.Conv2d):
        raise ValueError(f"closed-form ridge needs a model with a full STRF kernel (readout.strf.kernel a Conv2d); "
                         f"{type(model).__name__} has {type(kernel).__name__ if kernel is not None else 'none'}")
    return kernel


@torch.no_grad()
def _set_linear_weights(model: nn.Module, conv: nn.Conv2d, w: np.ndarray, b: np.ndarray,
                        designs: Sequence[np.ndarray]) -> None:
    """Kernel <- ``w`` ``(N, D)``, bias <- ``b``; BatchNorm set to pass the prediction through unchanged."""
    dev, dtype = conv.weight.device, conv.weight.dtype
    conv.weight.copy_(torch.as_tensor(w.reshape(conv.weight.shape), dtype=dtype, device=dev))
    if conv.bias is not None:
        conv.bias.copy_(torch.as_tensor(b, dtype=dtype, device=dev))
    bn = getattr(model.readout, "bn", None)
    if isinstance(bn, nn.modules.batchnorm._BatchNorm):
        total = np.zeros(w.shape[0])
        total_sq = np.zeros(w.shape[0])
        count = 0
        for X in designs:
            p = X @ w.T + b
            total += p.sum(axis=0)
            total_sq += (p * p).sum(axis=0)
            count += len(X)
        mean = total / count
        var = np.maximum(total_sq / count - mean ** 2, 1e-6)
        std = np.sqrt(var + bn.eps)
        bn.running_mean.copy_(torch.as_tensor(mean, dtype=dtype, device=dev))
        bn.running_var.copy_(torch.as_tensor(var, dtype=dtype, device=dev))
        if bn.affine:
            bn.weight.copy_(torch.as_tensor(std, dtype=dtype, device=dev))
            bn.bias.copy_(torch.as_tensor(mean, dtype=dtype, device=dev))
    model.eval()


@torch.no_grad()
def warm_start(model: nn.Module, source: nn.Module) -> List[str]:
    """Copy the STRF kernel (and readout BatchNorm) of a ridge ``source`` into ``model`` where shapes match.

    Returns what was copied (empty when nothing fits, e.g. another kernel type); the rest of ``model``
    keeps its initialisation.
    """
    copied = []
    try:
        dst, src = _strf_conv(model), _strf_conv(source)
    except ValueError:
        return copied
    if dst.weight.shape == src.weight.shape:
        dst.weight.copy_(src.weight)
        if dst.bias is not None and src.bias is not None:
            dst.bias.copy_(src.bias)
        copied.append("readout.strf")
        dbn, sbn = getattr(model.readout, "bn", None), getattr(source.readout, "bn", None)
        if isinstance(dbn, nn.modules.batchnorm._BatchNorm) and isinstance(sbn, nn.modules.batchnorm._BatchNorm) \
                and dbn.num_features == sbn.num_features:
            dbn.load_state_dict(sbn.state_dict())
            copied.append("readout.bn")
    return copied
