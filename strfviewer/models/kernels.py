"""STRF kernel parameterisations and the causal STRF convolution that holds one.

A kernel module maps ``(B, C_in, F, T_in + T - 1)`` to ``(B, C_out, 1, T_in)`` (valid convolution over
the full frequency axis) and exposes ``build_kernel()`` -> the effective weight ``(C_out, C_in, F, T)``.
Registered kernel names: ``full`` (one free weight per cell), ``separable`` (rank-1 frequency x time)
and ``gaussian`` (a sum of K 2-D Gaussians). :class:`CausalSTRFConv` left-pads time with ``T - 1``
zeros so that output frame ``t`` only sees input frames ``t - T + 1 .. t``.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from strfviewer.models.capture import CapturesInitKwargs
from strfviewer.models.registry import register


def _init_bias(bias: Optional[nn.Parameter]) -> None:
    if bias is not None:
        nn.init.uniform_(bias, -1.0, 1.0)


@register("kernel", "full", aliases=("FullSTRF", "Conv2d"))
class FullSTRF(CapturesInitKwargs, nn.Conv2d):
    """Unconstrained STRF: an ``nn.Conv2d(C_in, C_out, kernel_size=(F, T))`` (``C_out*C_in*F*T`` weights).

    State-dict names are those of ``nn.Conv2d`` (``weight (C_out, C_in, F, T)``, ``bias (C_out,)``).
    """

    def __init__(self, F: int, T: int, C_in: int, C_out: int, bias: bool = True):
        nn.Conv2d.__init__(self, C_in, C_out, kernel_size=(F, T), bias=bias)
        self.F, self.T, self.C_in, self.C_out = F, T, C_in, C_out

    def build_kernel(self, device=None) -> torch.Tensor:
        """The weight itself, ``(C_out, C_in, F, T)``."""
        return self.weight if device is None else self.weight.to(device)


@register("kernel", "separable", aliases=("SeparableSTRF",))
class SeparableSTRF(CapturesInitKwargs, nn.Module):
    """Rank-1 STRF: the outer product of a spectral profile and a temporal profile per (C_out, C_in).

    Parameters ``weight_f (C_out, C_in, F, 1)``, ``weight_t (C_out, C_in, 1, T)`` and ``bias (C_out,)``:
    ``C_out*C_in*(F+T)`` weights instead of ``C_out*C_in*F*T``.
    """

    def __init__(self, F: int, T: int, C_in: int, C_out: int, bias: bool = True):
        super().__init__()
        self.F, self.T, self.C_in, self.C_out = F, T, C_in, C_out
        self.weight_f = nn.Parameter(torch.empty(C_out, C_in, F, 1))
        self.weight_t = nn.Parameter(torch.empty(C_out, C_in, 1, T))
        nn.init.kaiming_uniform_(self.weight_f)
        nn.init.kaiming_uniform_(self.weight_t)
        self.bias = nn.Parameter(torch.empty(C_out)) if bias else None
        _init_bias(self.bias)

    def build_kernel(self, device=None) -> torch.Tensor:
        """Effective weight ``weight_f * weight_t``, ``(C_out, C_in, F, T)``."""
        k = self.weight_f * self.weight_t
        return k if device is None else k.to(device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.build_kernel(), self.bias)


@register("kernel", "gaussian", aliases=("ParametricSTRF", "dcls"))
class ParametricSTRF(CapturesInitKwargs, nn.Module):
    """STRF made of ``num_gaussians`` weighted 2-D Gaussians per (C_out, C_in) on the ``(F, T)`` grid.

    Gaussian ``g`` has its centre ``P[:, o, i, g] = (f, t)`` in *absolute* grid coordinates (frequency
    row ``0..F-1``, time column ``0..T-1``; the two axes are never mixed, so non-square grids such as
    ``(34, 9)`` are covered everywhere), standard deviations ``|SIG| + 0.27`` cells per axis and a weight
    ``weight[o, i, g]``. Each Gaussian is normalised to unit sum over the grid before weighting.
    Parameters: ``P (2, C_out, C_in, K)``, ``SIG (2, C_out, C_in, K)``, ``weight (C_out, C_in, K)``,
    ``bias (C_out,)``.
    """

    SIGMA_FLOOR = 0.27

    def __init__(self, F: int, T: int, C_in: int, C_out: int, num_gaussians: int = 1, bias: bool = True):
        super().__init__()
        if num_gaussians < 1:
            raise ValueError(f"num_gaussians must be >= 1, got {num_gaussians}")
        self.F, self.T, self.C_in, self.C_out, self.G = F, T, C_in, C_out, num_gaussians
        self.P = nn.Parameter(torch.empty(2, C_out, C_in, num_gaussians))
        self.SIG = nn.Parameter(torch.ones(2, C_out, C_in, num_gaussians))
        self.weight = nn.Parameter(torch.empty(C_out, C_in, num_gaussians))
        with torch.no_grad():
            self.P[0].uniform_(0.0, float(F - 1))
            self.P[1].uniform_(0.0, float(T - 1))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.bias = nn.Parameter(torch.empty(C_out)) if bias else None
        _init_bias(self.bias)

    def gaussians(self) -> torch.Tensor:
        """Unit-mass Gaussians ``(C_out, C_in, K, F, T)``."""
        dev, dt = self.P.device, self.P.dtype
        f = torch.arange(self.F, device=dev, dtype=dt)
        t = torch.arange(self.T, device=dev, dtype=dt)
        sig = self.SIG.abs() + self.SIGMA_FLOOR
        zf = (f[None, None, None, :] - self.P[0][..., None]) / sig[0][..., None]   # (O, I, K, F)
        zt = (t[None, None, None, :] - self.P[1][..., None]) / sig[1][..., None]   # (O, I, K, T)
        g = torch.exp(-0.5 * (zf[..., :, None] ** 2 + zt[..., None, :] ** 2))     # (O, I, K, F, T)
        return g / (g.sum(dim=(-2, -1), keepdim=True) + 1e-7)

    def build_kernel(self, device=None) -> torch.Tensor:
        """Effective weight ``(C_out, C_in, F, T)``: the weighted sum of the Gaussians."""
        k = torch.einsum("oikft,oik->oift", self.gaussians(), self.weight)
        return k if device is None else k.to(device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.build_kernel(), self.bias)


class CausalSTRFConv(nn.Module):
    """Causal STRF convolution ``(B, C_in, F, T_in) -> (B, C_out, 1, T_in)``.

    Pads ``T - 1`` zero frames on the left of time and applies ``kernel`` (default: a :class:`FullSTRF`,
    i.e. an ``nn.Conv2d`` with ``kernel_size=(F, T)``). The kernel module lives in ``self.kernel``.
    """

    def __init__(self, F: int, T: int, C_in: int, C_out: int, kernel: Optional[nn.Module] = None,
                 bias: bool = True):
        super().__init__()
        self.F, self.T, self.C_in, self.C_out = F, T, C_in, C_out
        self.pad = nn.ZeroPad2d((T - 1, 0, 0, 0))
        self.kernel = kernel if kernel is not None else FullSTRF(F, T, C_in, C_out, bias=bias)
        check_kernel_shape(self.kernel, F, T, C_in, C_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.kernel(self.pad(x))

    def STRF_weight(self) -> torch.Tensor:
        """Effective kernel ``(C_out, C_in, F, T)`` for any kernel type, detached, on the CPU."""
        if hasattr(self.kernel, "build_kernel"):
            return self.kernel.build_kernel().detach().cpu()
        if isinstance(self.kernel, nn.Conv2d):
            return self.kernel.weight.detach().cpu()
        if isinstance(self.kernel, nn.Sequential) and len(self.kernel) == 2:
            # frequency conv (C_out, C_in, F, 1) followed by a depthwise time conv (C_out, 1, 1, T)
            return (self.kernel[0].weight * self.kernel[1].weight).detach().cpu()
        raise TypeError(f"cannot read an STRF from a kernel of type {type(self.kernel).__name__}")


def check_kernel_shape(kernel: nn.Module, F: int, T: int, C_in: int, C_out: int) -> None:
    """Raise ``ValueError`` when a kernel module declares a shape other than ``(C_out, C_in, F, T)``."""
    declared = tuple(getattr(kernel, a, None) for a in ("C_out", "C_in", "F", "T"))
    if None in declared:
        return
    if declared != (C_out, C_in, F, T):
        raise ValueError(f"{type(kernel).__name__} has shape (C_out, C_in, F, T)={declared}, "
                         f"the layer needs {(C_out, C_in, F, T)}")


def make_kernel(name: str, F: int, T: int, C_in: int, C_out: int, **kwargs) -> nn.Module:
    """Build the registered kernel ``name`` ('full', 'separable', 'gaussian') for an ``(F, T)`` STRF."""
    from strfviewer.models import registry

    return registry.get("kernel", name)(F=F, T=T, C_in=C_in, C_out=C_out, **kwargs)
