"""Fitting sums of 2-D Gaussians to STRFs: the Gaussian-mixture kernel's warm start and its automatic count.

A mixture of ``K`` Gaussians per ``(F, T)`` map has centres ``P (2, ..., K)`` (frequency row, time column, in
grid cells), widths ``|SIG| + floor`` cells per axis and weights ``(..., K)``; each Gaussian has unit sum over
the grid before weighting (:func:`unit_gaussians`).

:func:`fit_mixture` places the Gaussians greedily, each at the largest remaining value of the STRF (width one
cell), then refines centres, widths and weights together by Adam on the squared error. :func:`auto_mixture`
chooses the size from the energy each explains (fitting several sizes at once, :func:`fit_mixtures`): the
smallest ``K`` after which one more Gaussian adds less than :data:`AUTO_MIN_GAIN` of the STRFs' energy
(docs/models.md, "Gaussian-mixture kernel: automatic K").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import torch

#: sizes the automatic choice tries (``num_gaussians="auto"``)
AUTO_COUNTS = tuple(range(1, 9))
#: one more Gaussian is kept only when it explains at least this share of the ridge STRFs' energy. Measured on
#: ridge STRFs (whose noise caps the share any mixture reaches at 64% on the STRFlab cell, 74% on the demo): the
#: cell's second Gaussian adds 14% and its third 1%; the demo's third adds 3% and its fourth 2%
AUTO_MIN_GAIN = 0.025
#: sizes fitted together in one vectorised loop by the automatic choice (the cell and the demo chose 2 and 3)
AUTO_GROUP = 4


@dataclass
class Mixture:
    """One fitted mixture: ``P (2, O, I, K)``, ``SIG (2, O, I, K)``, ``weight (O, I, K)`` and the share of the
    target's energy it explains (``explained``, 0..1)."""

    K: int
    P: torch.Tensor
    SIG: torch.Tensor
    weight: torch.Tensor
    explained: float


def unit_gaussians(P: torch.Tensor, SIG: torch.Tensor, F: int, T: int, floor: float) -> torch.Tensor:
    """Unit-sum Gaussians ``(..., K, F, T)`` with centres ``P (2, ..., K)`` and widths ``|SIG| + floor``."""
    f = torch.arange(F, device=P.device, dtype=P.dtype)
    t = torch.arange(T, device=P.device, dtype=P.dtype)
    sig = SIG.abs() + floor
    zf = (f - P[0][..., None]) / sig[0][..., None]       # (..., K, F)
    zt = (t - P[1][..., None]) / sig[1][..., None]       # (..., K, T)
    g = torch.exp(-0.5 * (zf[..., :, None] ** 2 + zt[..., None, :] ** 2))
    return g / (g.sum(dim=(-2, -1), keepdim=True) + 1e-7)


def mixture_maps(P: torch.Tensor, SIG: torch.Tensor, weight: torch.Tensor, F: int, T: int,
                 floor: float) -> torch.Tensor:
    """The weighted sums ``(..., F, T)`` of the Gaussians (``weight (..., K)``): :func:`unit_gaussians` summed
    with ``weight``, computed from each Gaussian's two 1-D factors (a Gaussian with axis-aligned widths is the
    outer product of one over frequency and one over time, and so is its sum over the grid), so no
    ``(K, F, T)`` tensor is formed."""
    f = torch.arange(F, device=P.device, dtype=P.dtype)
    t = torch.arange(T, device=P.device, dtype=P.dtype)
    sig = SIG.abs() + floor
    gf = torch.exp(-0.5 * ((f - P[0][..., None]) / sig[0][..., None]) ** 2)     # (..., K, F)
    gt = torch.exp(-0.5 * ((t - P[1][..., None]) / sig[1][..., None]) ** 2)     # (..., K, T)
    scale = weight / (gf.sum(-1) * gt.sum(-1) + 1e-7)                           # (..., K)
    return torch.einsum("...kf,...kt->...ft", gf * scale[..., None], gt)


def fit_mixture(target: torch.Tensor, K: int, floor: float, steps: int = 300, lr: float = 0.05) -> Mixture:
    """A mixture of ``K`` Gaussians per map fitted to ``target`` ``(O, I, F, T)`` (see the module docstring)."""
    return fit_mixtures(target, [K], floor, steps=steps, lr=lr)[0]


def fit_mixtures(target: torch.Tensor, counts: Sequence[int], floor: float, steps: int = 300,
                 lr: float = 0.05) -> List[Mixture]:
    """Mixtures of each size in ``counts`` fitted to ``target`` ``(O, I, F, T)``, all in one vectorised loop.

    Each size is fitted as :func:`fit_mixture` describes, independently of the others: the sizes share the
    greedy placement (size ``K`` takes the first ``K`` of the largest size's Gaussians) and the sum of their
    losses is minimised, whose gradient for one size's parameters is that size's own (Adam acts per element),
    with the unused Gaussians of the smaller sizes masked out. The tensors are small, so one step over four
    sizes costs about what one over a single size does: choosing ``K`` among 1..4 takes the time of one fit."""
    target = target.detach()
    O, I, F, T = target.shape
    counts = [int(k) for k in counts]
    S, K = len(counts), max(counts)
    like = dict(dtype=target.dtype, device=target.device)
    P = torch.zeros(2, O, I, K, **like)
    SIG = torch.ones(2, O, I, K, **like)
    weight = torch.zeros(O, I, K, **like)
    peak_mass = 1.0 / float(unit_gaussians(torch.full((2, 1), 5.0, **like), SIG[:, :1, 0, 0], 11, 11,
                                           floor).max())  # a unit-sum Gaussian's peak value, inside the grid
    residual = target.clone()
    for g in range(K):  # Gaussian g at the largest remaining value, width one cell
        flat = residual.abs().reshape(O, I, -1).argmax(dim=-1)
        P[0, ..., g], P[1, ..., g] = (flat // T).to(P.dtype), (flat % T).to(P.dtype)
        weight[..., g] = residual.reshape(O, I, -1).gather(-1, flat[..., None])[..., 0] * peak_mass
        residual = target - mixture_maps(P[..., :g + 1], SIG[..., :g + 1], weight[..., :g + 1], F, T, floor)
    used = (torch.arange(K, device=target.device)[None, :] < torch.tensor(counts, device=target.device)[:, None])
    used = used.to(target.dtype)[:, None, None, :]                          # (S, 1, 1, K)
    P = P[:, None].repeat(1, S, 1, 1, 1)                                    # (2, S, O, I, K)
    SIG = SIG[:, None].repeat(1, S, 1, 1, 1)
    weight = weight[None].repeat(S, 1, 1, 1) * used                         # (S, O, I, K)
    params = [P.requires_grad_(True), SIG.requires_grad_(True), weight.requires_grad_(True)]
    energy = float((target ** 2).sum()) or 1.0
    with torch.enable_grad():
        opt = torch.optim.Adam(params, lr=lr)
        for _ in range(int(steps)):
            opt.zero_grad()
            loss = ((mixture_maps(P, SIG, weight * used, F, T, floor) - target) ** 2).sum() / energy
            loss.backward()
            opt.step()
    with torch.no_grad():
        error = ((mixture_maps(P, SIG, weight * used, F, T, floor) - target) ** 2).sum(dim=(1, 2, 3, 4))
    return [Mixture(k, P[:, i, ..., :k].detach().clone(), SIG[:, i, ..., :k].detach().clone(),
                    weight[i, ..., :k].detach().clone(), 1.0 - float(error[i]) / energy)
            for i, k in enumerate(counts)]


def auto_mixture(target: torch.Tensor, floor: float, counts: Sequence[int] = AUTO_COUNTS,
                 min_gain: float = AUTO_MIN_GAIN, steps: int = 300,
                 group: int = AUTO_GROUP) -> Tuple[Mixture, List[Mixture]]:
    """``(chosen, tried)``: mixtures of the sizes in ``counts`` (ascending), fitted ``group`` sizes at a time
    (:func:`fit_mixtures`) until one more Gaussian explains less than ``min_gain`` more of the energy; the one
    before it is chosen (the largest when every step gains that much). ``tried`` lists the sizes up to the
    first that gained too little."""
    counts = [int(k) for k in counts]
    group = max(1, int(group))
    tried: List[Mixture] = []
    for start in range(0, len(counts), group):
        for mixture in fit_mixtures(target, counts[start:start + group], floor, steps=steps):
            tried.append(mixture)
            if len(tried) > 1 and tried[-1].explained - tried[-2].explained < min_gain:
                return tried[-2], tried
    return tried[-1], tried
