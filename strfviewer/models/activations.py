"""Per-neuron parametric output nonlinearities.

Each holds ``(N,)`` parameters that broadcast against the **last** axis of the input, so readouts apply
them to ``(B, T, N)`` tensors. With ``non_negative_output=True`` the amplitude/baseline parameters are
stored raw (``_raw_*``) and passed through ``softplus`` on every forward, so the output is >= 0 for any
input and any parameter value (suits spike counts and Poisson losses).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from strfviewer.models.capture import CapturesInitKwargs
from strfviewer.models.options import Option
from strfviewer.models.registry import register

register("activation", "Identity", aliases=("identity", "linear", "none"), options=(),
         description="none: the readout's output as it is")(nn.Identity)
register("activation", "Sigmoid", aliases=("sigmoid",), options=(), description="logistic sigmoid")(nn.Sigmoid)
register("activation", "Tanh", aliases=("tanh",), options=(), description="hyperbolic tangent")(nn.Tanh)
register("activation", "ReLU", aliases=("relu",), options=(), description="half-wave rectification")(nn.ReLU)

_NON_NEGATIVE = Option("non_negative_output", "bool", True, label="Non-negative output",
                       tooltip="Keep the output >= 0 for any input (suits spike counts and the Poisson loss).")
_BASELINE = Option("bias", "bool", True, label="Baseline", tooltip="Add a learnable per-neuron baseline rate.")


def _positive(raw: torch.Tensor, enabled: bool) -> torch.Tensor:
    return F.softplus(raw) if enabled else raw


def _add_amplitude_and_baseline(module: nn.Module, amplitude: str, baseline: str) -> None:
    """Create the raw ``(N,)`` amplitude parameter and, with ``module.bias``, the raw baseline, initialised
    so that the (softplus-mapped, when non-negative) values start near 1 and near 0.4 respectively."""
    n, non_negative = module.N, module.non_negative_output
    lo, hi = (-0.43, 1.40) if non_negative else (0.5, 1.5)
    setattr(module, amplitude, nn.Parameter(torch.empty(n).uniform_(lo, hi)))
    if module.bias:
        lo, hi = (-1.43, 0.43) if non_negative else (0.0, 1.0)
        setattr(module, baseline, nn.Parameter(torch.empty(n).uniform_(lo, hi)))


@register("activation", "ParametricSigmoid", aliases=("psigmoid",),
          description="per-neuron sigmoid with range, threshold, gain and baseline (Willmore et al. 2016)")
class ParametricSigmoid(CapturesInitKwargs, nn.Module):
    """``f(x) = b * sigmoid((x - c) / d) + a`` per neuron (Willmore et al. 2016).

    ``b``: dynamic range, ``a``: baseline (only with ``bias``), ``c``: inflection point, ``d``: inverse
    gain. Parameters ``c, d, _raw_b`` and (with ``bias``) ``_raw_a``, each ``(N,)``.
    """

    OPTIONS = (_BASELINE, _NON_NEGATIVE)

    def __init__(self, num_features: int, bias: bool = True, non_negative_output: bool = True):
        super().__init__()
        self.N, self.bias, self.non_negative_output = num_features, bias, non_negative_output
        self.c = nn.Parameter(torch.empty(num_features).uniform_(-0.5, 0.5))
        self.d = nn.Parameter(torch.empty(num_features).uniform_(0.5, 1.5))
        _add_amplitude_and_baseline(self, "_raw_b", "_raw_a")

    @property
    def b(self) -> torch.Tensor:
        return _positive(self._raw_b, self.non_negative_output)

    @property
    def a(self):
        return _positive(self._raw_a, self.non_negative_output) if self.bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.b * torch.sigmoid((x - self.c) / self.d)
        return y + self.a if self.bias else y

    def extra_repr(self) -> str:
        return f"N={self.N}, bias={self.bias}, non_negative_output={self.non_negative_output}"


@register("activation", "ParametricDoubleExponential", aliases=("doubleexp",),
          description="per-neuron double exponential (Thorson et al. 2015)")
class ParametricDoubleExponential(CapturesInitKwargs, nn.Module):
    """``f(x) = a * exp(-exp(k x - s)) + b`` per neuron (Thorson et al. 2015).

    ``a``: saturation rate, ``b``: baseline (only with ``bias``), ``k``: gain, ``s``: threshold.
    Parameters ``k, s, _raw_a`` and (with ``bias``) ``_raw_b``, each ``(N,)``.
    """

    OPTIONS = (_BASELINE, _NON_NEGATIVE)

    def __init__(self, num_features: int, bias: bool = True, non_negative_output: bool = True):
        super().__init__()
        self.N, self.bias, self.non_negative_output = num_features, bias, non_negative_output
        self.k = nn.Parameter(torch.empty(num_features).uniform_(-0.5, 0.5))
        self.s = nn.Parameter(torch.empty(num_features).uniform_(0.5, 1.5))
        _add_amplitude_and_baseline(self, "_raw_a", "_raw_b")

    @property
    def a(self) -> torch.Tensor:
        return _positive(self._raw_a, self.non_negative_output)

    @property
    def b(self):
        return _positive(self._raw_b, self.non_negative_output) if self.bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a * torch.exp(-torch.exp(self.k * x - self.s))
        return y + self.b if self.bias else y

    def extra_repr(self) -> str:
        return f"N={self.N}, bias={self.bias}, non_negative_output={self.non_negative_output}"


@register("activation", "ParametricSoftplus", aliases=("softplus", "psoftplus"),
          description="per-neuron softplus with gain and baseline: non-saturating")
class ParametricSoftplus(CapturesInitKwargs, nn.Module):
    """``f(x) = softplus(beta x) / beta + b`` per neuron: non-saturating and >= b.

    ``beta = softplus(_raw_beta) > 0`` always; ``b = softplus(_raw_b)`` when ``non_negative_output``
    (initialised near 0.02 so the baseline does not impose a floor), else ``b = _raw_b``.
    Parameters ``_raw_beta, _raw_b``, each ``(N,)``.
    """

    OPTIONS = (_NON_NEGATIVE,)

    def __init__(self, num_features: int, non_negative_output: bool = True):
        super().__init__()
        self.N, self.non_negative_output = num_features, non_negative_output
        self._raw_beta = nn.Parameter(torch.empty(num_features).uniform_(5.0, 6.0))
        lo, hi = (-5.0, -3.0) if non_negative_output else (-0.1, 0.1)
        self._raw_b = nn.Parameter(torch.empty(num_features).uniform_(lo, hi))

    @property
    def beta(self) -> torch.Tensor:
        return F.softplus(self._raw_beta)

    @property
    def b(self) -> torch.Tensor:
        return _positive(self._raw_b, self.non_negative_output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = self.beta
        return F.softplus(beta * x) / beta + self.b

    def extra_repr(self) -> str:
        return f"N={self.N}, non_negative_output={self.non_negative_output}"


def make_activation(name, n_neurons: int, **options) -> nn.Module:
    """Build the registered activation ``name`` with its ``options``; one taking ``num_features`` (a per-neuron
    activation) gets ``n_neurons`` parameter sets."""
    import inspect

    from strfviewer.models import registry

    cls = registry.get("activation", name)
    try:
        per_neuron = "num_features" in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        per_neuron = False
    return cls(n_neurons, **options) if per_neuron else cls(**options)
