"""STRF kernel parameterisations and the causal STRF convolution that holds one.

A kernel module maps ``(B, C_in, F, T_in + T - 1)`` to ``(B, C_out, 1, T_in)`` (valid convolution over
the full frequency axis) and exposes ``build_kernel()`` -> the effective weight ``(C_out, C_in, F, T)``.
Registered kernel names: ``full`` (one free weight per cell), ``separable`` (rank-1 frequency x time)
and ``gaussian`` (a sum of K 2-D Gaussians). :class:`CausalSTRFConv` left-pads time with ``T - 1``
zeros so that output frame ``t`` only sees input frames ``t - T + 1 .. t``.

The kernel contract (docs/contracts.md): a kernel class takes ``(F, T, C_in, C_out)`` (and may take ``bias``),
declares its user options in ``OPTIONS`` (:mod:`strfviewer.models.options`), exposes ``build_kernel()`` and
may implement ``init_from_strf(strf (C_out, C_in, F, T), bias (C_out,) or None) -> str``, its warm start from
a ridge STRF: it sets its parameters so that ``build_kernel()`` approximates ``strf`` and returns a short
phrase saying what it kept. :func:`init_from_strf` calls it (``None`` when the kernel has none).
"""

from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np
import torch
import torch.nn as nn

from strfviewer.models.capture import CapturesInitKwargs
from strfviewer.models.mixture_fit import auto_mixture, fit_mixture, mixture_maps, unit_gaussians
from strfviewer.models.options import Option
from strfviewer.models.registry import register
from strfviewer.models.strf_product import strf_conv


def _init_bias(bias: Optional[nn.Parameter]) -> None:
    if bias is not None:
        nn.init.uniform_(bias, -1.0, 1.0)


def _copy_bias(kernel: nn.Module, bias: Optional[torch.Tensor]) -> None:
    if bias is not None and getattr(kernel, "bias", None) is not None:
        kernel.bias.copy_(bias.reshape(kernel.bias.shape))


@register("kernel", "full", aliases=("FullSTRF", "Conv2d"),
          description="one free weight per frequency band x lag (C_out*C_in*F*T weights)")
class FullSTRF(CapturesInitKwargs, nn.Conv2d):
    """Unconstrained STRF: an ``nn.Conv2d(C_in, C_out, kernel_size=(F, T))`` (``C_out*C_in*F*T`` weights).

    State-dict names are those of ``nn.Conv2d`` (``weight (C_out, C_in, F, T)``, ``bias (C_out,)``).
    """

    OPTIONS = ()

    def __init__(self, F: int, T: int, C_in: int, C_out: int, bias: bool = True):
        nn.Conv2d.__init__(self, C_in, C_out, kernel_size=(F, T), bias=bias)
        self.F, self.T, self.C_in, self.C_out = F, T, C_in, C_out

    def build_kernel(self, device=None) -> torch.Tensor:
        """The weight itself, ``(C_out, C_in, F, T)``."""
        return self.weight if device is None else self.weight.to(device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, F_in, T_in + T - 1) -> (B, C_out, F_in - F + 1, T_in)``: ``nn.Conv2d``'s function, as one
        matrix product where that is cheaper (:mod:`strfviewer.models.strf_product`)."""
        if self.padding_mode != "zeros" or self.stride != (1, 1) or self.dilation != (1, 1) or self.groups != 1 \
                or self.padding != (0, 0):
            return super().forward(x)
        return strf_conv(x, self.weight, self.bias)

    @torch.no_grad()
    def init_from_strf(self, strf: torch.Tensor, bias: Optional[torch.Tensor]) -> str:
        """Warm start: the weight becomes ``strf`` ``(C_out, C_in, F, T)``, the bias ``bias`` ``(C_out,)``."""
        self.weight.copy_(strf)
        _copy_bias(self, bias)
        return "ridge"


def rank1_factors(weights) -> tuple:
    """Best rank-1 approximation of each ``(F, T)`` kernel of ``weights`` ``(N, C, F, T)``: ``(f (N, C, F),
    t (N, C, T))`` (numpy) with ``f[n, c] outer t[n, c]`` the leading SVD term ``s u v'`` (``f = sqrt(s) u``,
    ``t = sqrt(s) v``: both factors get the same norm)."""
    w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
    u, s, vh = torch.linalg.svd(w, full_matrices=False)  # batched over (N, C)
    root = s[..., 0].sqrt()
    return (u[..., :, 0] * root[..., None]).numpy(), (vh[..., 0, :] * root[..., None]).numpy()


@register("kernel", "separable", aliases=("SeparableSTRF",),
          description="rank 1: a frequency profile times a temporal profile (C_out*C_in*(F+T) weights)")
class SeparableSTRF(CapturesInitKwargs, nn.Module):
    """Rank-1 STRF: the outer product of a spectral profile and a temporal profile per (C_out, C_in).

    Parameters ``weight_f (C_out, C_in, F, 1)``, ``weight_t (C_out, C_in, 1, T)`` and ``bias (C_out,)``:
    ``C_out*C_in*(F+T)`` weights instead of ``C_out*C_in*F*T``.
    """

    OPTIONS = ()

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
        return strf_conv(x, self.build_kernel(), self.bias)

    @torch.no_grad()
    def init_from_strf(self, strf: torch.Tensor, bias: Optional[torch.Tensor]) -> str:
        """Warm start: the rank-1 part (leading SVD term) of each ``(F, T)`` STRF of ``strf``
        ``(C_out, C_in, F, T)``; the bias becomes ``bias`` ``(C_out,)``."""
        f, t = rank1_factors(strf.detach().cpu().double().numpy())
        like = dict(dtype=self.weight_f.dtype, device=self.weight_f.device)
        self.weight_f.copy_(torch.as_tensor(f, **like).reshape(self.weight_f.shape))
        self.weight_t.copy_(torch.as_tensor(t, **like).reshape(self.weight_t.shape))
        _copy_bias(self, bias)
        return "ridge (rank-1 part)"


@register("kernel", "gaussian", aliases=("ParametricSTRF", "dcls"),
          description="a mixture of K 2-D Gaussians per STRF (4K+K weights each: centre, widths, weight)")
class ParametricSTRF(CapturesInitKwargs, nn.Module):
    """STRF made of ``num_gaussians`` weighted 2-D Gaussians per (C_out, C_in) on the ``(F, T)`` grid.

    Gaussian ``g`` has its centre ``P[:, o, i, g] = (f, t)`` in *absolute* grid coordinates (frequency
    row ``0..F-1``, time column ``0..T-1``; the two axes are never mixed, so non-square grids such as
    ``(34, 9)`` are covered everywhere), standard deviations ``|SIG| + 0.27`` cells per axis and a weight
    ``weight[o, i, g]``. Each Gaussian is normalised to unit sum over the grid before weighting.
    Parameters: ``P (2, C_out, C_in, K)``, ``SIG (2, C_out, C_in, K)``, ``weight (C_out, C_in, K)``,
    ``bias (C_out,)``.

    ``num_gaussians="auto"`` (the default) starts with one Gaussian and lets the warm start choose ``K``
    (:meth:`init_from_strf`: 1 to 8, see :mod:`strfviewer.models.mixture_fit`); the choice then replaces
    ``"auto"`` in ``init_kwargs`` (:meth:`resolved_options`), so a saved model rebuilds with it.
    """

    SIGMA_FLOOR = 0.27
    AUTO = "auto"
    NEURON_AXIS = {"P": 1, "SIG": 1}  # the output-channel axis (strfviewer.fit.per_neuron)
    OPTIONS = (Option("num_gaussians", "int", "auto", tooltip="Number of 2-D Gaussians that make up each STRF; "
                      "auto: the fewest (1 to 8) after which one more would add under 2.5% of the ridge STRFs' "
                      "energy, chosen at the warm start.", minimum=1, maximum=64, label="K (Gaussians)",
                      auto=True),)

    def __init__(self, F: int, T: int, C_in: int, C_out: int, num_gaussians: Union[int, str] = "auto",
                 bias: bool = True):
        super().__init__()
        self.auto = num_gaussians == self.AUTO
        if not self.auto and (isinstance(num_gaussians, (str, bool)) or int(num_gaussians) < 1):
            raise ValueError(f"num_gaussians must be >= 1 or 'auto', got {num_gaussians!r}")
        K = 1 if self.auto else int(num_gaussians)
        self.F, self.T, self.C_in, self.C_out, self.G = F, T, C_in, C_out, K
        self.P = nn.Parameter(torch.empty(2, C_out, C_in, K))
        self.SIG = nn.Parameter(torch.ones(2, C_out, C_in, K))
        self.weight = nn.Parameter(torch.empty(C_out, C_in, K))
        with torch.no_grad():
            self.P[0].uniform_(0.0, float(F - 1))
            self.P[1].uniform_(0.0, float(T - 1))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.bias = nn.Parameter(torch.empty(C_out)) if bias else None
        _init_bias(self.bias)

    def gaussians(self) -> torch.Tensor:
        """Unit-mass Gaussians ``(C_out, C_in, K, F, T)``."""
        return unit_gaussians(self.P, self.SIG, self.F, self.T, self.SIGMA_FLOOR)

    def build_kernel(self, device=None) -> torch.Tensor:
        """Effective weight ``(C_out, C_in, F, T)``: the weighted sum of the Gaussians."""
        k = mixture_maps(self.P, self.SIG, self.weight, self.F, self.T, self.SIGMA_FLOOR)
        return k if device is None else k.to(device)

    def init_from_strf(self, strf: torch.Tensor, bias: Optional[torch.Tensor], steps: int = 300) -> str:
        """Warm start: the mixture fitted to each STRF of ``strf`` ``(C_out, C_in, F, T)``, the bias set to
        ``bias`` ``(C_out,)``.

        Gaussians are placed greedily, each at the largest remaining value of the STRF (weight = that value
        times the Gaussian's mass at its peak, width one cell), then centres, widths and weights are refined
        together by ``steps`` Adam steps on the squared error (:func:`~strfviewer.models.mixture_fit.fit_mixture`).
        With ``num_gaussians="auto"`` mixtures of 1, 2, ... (at most 8) Gaussians are fitted until one more adds
        under 2.5% of the energy; the one before is kept (:func:`~strfviewer.models.mixture_fit.auto_mixture`): the
        parameters are replaced by ones of that size. Returns the count and the share of the STRFs' energy the
        mixture explains."""
        target = strf.detach().to(self.P.dtype)
        if self.auto:
            chosen, tried = auto_mixture(target, self.SIGMA_FLOOR, steps=steps)
        else:
            chosen = tried = fit_mixture(target, self.G, self.SIGMA_FLOOR, steps=steps)
        with torch.no_grad():
            if chosen.K != self.G:
                self.G = chosen.K
                self.P = nn.Parameter(chosen.P.clone())
                self.SIG = nn.Parameter(chosen.SIG.clone())
                self.weight = nn.Parameter(chosen.weight.clone())
            else:
                self.P.copy_(chosen.P)
                self.SIG.copy_(chosen.SIG)
                self.weight.copy_(chosen.weight)
            _copy_bias(self, bias)
        said = f"ridge STRF fitted by {chosen.K} Gaussian(s) ({100 * chosen.explained:.0f}% of its energy)"
        if self.auto:
            shares = ", ".join(f"{100 * m.explained:.0f}" for m in tried)
            said += f", K={chosen.K} chosen automatically (% of the energy for K=1..{len(tried)}: {shares})"
            self.init_kwargs["num_gaussians"] = chosen.K
        return said

    def resolved_options(self) -> dict:
        """The options this kernel settled itself: ``{"num_gaussians": K}`` when built with ``"auto"`` (before a
        warm start: the 1 Gaussian it starts with), else ``{}``. Records ``K`` in ``init_kwargs``."""
        if not self.auto:
            return {}
        self.init_kwargs["num_gaussians"] = self.G
        return {"num_gaussians": self.G}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return strf_conv(x, self.build_kernel(), self.bias)


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


def strf_kernel_of(model: nn.Module) -> Optional[nn.Module]:
    """The kernel module of a model's STRF readout (``model.readout.strf.kernel``), ``None`` without one."""
    return getattr(getattr(getattr(model, "readout", None), "strf", None), "kernel", None)


def is_unconstrained(kernel: Optional[nn.Module]) -> bool:
    """True for a kernel with one free weight per cell held in ``weight (C_out, C_in, F, T)`` (a convolution):
    what closed-form ridge regression fills directly."""
    return isinstance(kernel, nn.Conv2d)


def init_from_strf(kernel: nn.Module, strf, bias=None) -> Optional[str]:
    """Warm-start ``kernel`` from STRFs ``strf`` ``(C_out, C_in, F, T)`` (tensor or array) and ``bias``
    ``(C_out,)`` through its ``init_from_strf`` method; returns what it says it kept, or ``None`` when the
    kernel has no warm start (it is left as it is). ``ValueError`` when the shapes do not match the kernel."""
    method = getattr(kernel, "init_from_strf", None)
    if method is None:
        return None
    ref = next(kernel.parameters(), None)
    like = dict(dtype=ref.dtype, device=ref.device) if ref is not None else {}
    strf = torch.as_tensor(np.asarray(strf) if not isinstance(strf, torch.Tensor) else strf, **like)
    declared = tuple(getattr(kernel, a, None) for a in ("C_out", "C_in", "F", "T"))
    if None not in declared and tuple(strf.shape) != declared:
        raise ValueError(f"{type(kernel).__name__}: a warm start needs STRFs (C_out, C_in, F, T)={declared}, "
                         f"got {tuple(strf.shape)}")
    if bias is not None:
        bias = torch.as_tensor(np.asarray(bias) if not isinstance(bias, torch.Tensor) else bias, **like)
    with torch.no_grad():
        said = method(strf, bias)
    return str(said) if said else "ridge"


def make_kernel(name: str, F: int, T: int, C_in: int, C_out: int, **kwargs) -> nn.Module:
    """Build the registered kernel ``name`` ('full', 'separable', 'gaussian') for an ``(F, T)`` STRF."""
    from strfviewer.models import registry

    return registry.get("kernel", name)(F=F, T=T, C_in=C_in, C_out=C_out, **kwargs)
