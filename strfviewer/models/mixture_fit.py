"""Fitting sums of 2-D Gaussians to STRFs: the Gaussian-mixture kernel's warm start and its automatic count.

A mixture of ``K`` Gaussians per ``(F, T)`` map has centres ``P (2, ..., K)`` (frequency row, time column, in
grid cells), widths ``|SIG| + floor`` cells per axis and weights ``(..., K)``; each Gaussian has unit sum over
the grid before weighting (:func:`unit_gaussians`).

:func:`fit_mixture` places the Gaussians greedily, each at the largest remaining value of the STRF (width one
cell), then refines centres, widths and weights together by Adam on the squared error. :func:`auto_mixture`
chooses the size from the energy each explains: the smallest ``K`` after which one more Gaussian adds less than
:data:`AUTO_MIN_GAIN` of the STRFs' energy (docs/models.md, "Gaussian-mixture kernel: automatic K").
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
    """The weighted sums ``(..., F, T)`` of the Gaussians (``weight (..., K)``)."""
    return torch.einsum("...kft,...k->...ft", unit_gaussians(P, SIG, F, T, floor), weight)


def fit_mixture(target: torch.Tensor, K: int, floor: float, steps: int = 300, lr: float = 0.05) -> Mixture:
    """A mixture of ``K`` Gaussians per map fitted to ``target`` ``(O, I, F, T)`` (see the module docstring)."""
    target = target.detach()
    O, I, F, T = target.shape
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
    params = [P.requires_grad_(True), SIG.requires_grad_(True), weight.requires_grad_(True)]
    energy = float((target ** 2).sum()) or 1.0
    with torch.enable_grad():
        opt = torch.optim.Adam(params, lr=lr)
        for _ in range(int(steps)):
            opt.zero_grad()
            loss = ((mixture_maps(P, SIG, weight, F, T, floor) - target) ** 2).sum() / energy
            loss.backward()
            opt.step()
    with torch.no_grad():
        error = float(((mixture_maps(P, SIG, weight, F, T, floor) - target) ** 2).sum())
    return Mixture(K, P.detach(), SIG.detach(), weight.detach(), 1.0 - error / energy)


def auto_mixture(target: torch.Tensor, floor: float, counts: Sequence[int] = AUTO_COUNTS,
                 min_gain: float = AUTO_MIN_GAIN, steps: int = 300) -> Tuple[Mixture, List[Mixture]]:
    """``(chosen, tried)``: mixtures of the sizes in ``counts`` (ascending) fitted to ``target`` one after the
    other until one more Gaussian explains less than ``min_gain`` more of the energy; the one before it is
    chosen (the largest when every step gains that much)."""
    tried: List[Mixture] = []
    for K in counts:
        tried.append(fit_mixture(target, K, floor, steps=steps))
        if len(tried) > 1 and tried[-1].explained - tried[-2].explained < min_gain:
            return tried[-2], tried
    return tried[-1], tried
