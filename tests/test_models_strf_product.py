"""The STRF convolution as one matrix product (models/strf_product.py) against conv2d: values and gradients."""

import pytest
import torch
import torch.nn.functional as F

from strfviewer.models import strf_product
from strfviewer.models.kernels import CausalSTRFConv, make_kernel
from strfviewer.models.strf_product import strf_conv, strf_product as product, use_product


@pytest.mark.parametrize("B,C,F_,T,H,T_in", [(1, 1, 34, 15, 20, 50), (3, 2, 8, 5, 4, 30), (2, 1, 6, 1, 3, 9)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_product_equals_conv2d_in_values_and_gradients(B, C, F_, T, H, T_in, with_bias):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(B, C, F_, T_in + T - 1, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(H, C, F_, T, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(H, generator=gen, dtype=torch.float64, requires_grad=True) if with_bias else None
    g = torch.randn(B, H, 1, T_in, generator=gen, dtype=torch.float64)
    grads = []
    for f in (F.conv2d, product):
        out = f(x, w, b)
        assert out.shape == (B, H, 1, T_in)
        inputs = [x, w] + ([b] if with_bias else [])
        grads.append((out.detach(),) + torch.autograd.grad(out, inputs, g))
    for a, c in zip(*grads):
        torch.testing.assert_close(a, c, rtol=1e-10, atol=1e-10)


def test_product_is_used_only_where_gradients_flow_on_the_cpu_within_the_size_bound(monkeypatch):
    x = torch.randn(1, 1, 34, 60)
    w = torch.randn(20, 1, 34, 15, requires_grad=True)
    assert use_product(x, w)
    assert not use_product(x, w.detach())                       # nothing to differentiate: conv2d
    assert use_product(x.requires_grad_(), w.detach())          # a gradmap: the input's gradient
    with torch.no_grad():
        assert not use_product(x, w)
    assert not use_product(torch.randn(1, 1, 40, 60), w)        # taller input: a 2-D output, conv2d
    x = torch.randn(1, 1, 34, 60)
    many = torch.randn(119, 1, 34, 15, requires_grad=True)
    assert not use_product(x, many)                             # weights only, 119 channels: conv2d is faster
    assert use_product(x.clone().requires_grad_(), many)        # with the input's gradient: the product
    monkeypatch.setattr(strf_product, "MAX_LAGGED_WEIGHTS_ONLY", 46 * 510 - 1)
    assert not use_product(x, w)                                # 46 frames x 510 lags is over the bound
    assert use_product(x.clone().requires_grad_(), w)
    monkeypatch.setattr(strf_product, "MAX_LAGGED_ELEMENTS", 46 * 510 - 1)
    assert not use_product(x.clone().requires_grad_(), w)


@pytest.mark.parametrize("kernel", ["full", "separable", "gaussian"])
def test_every_kernel_gives_the_same_gradients_by_either_path(kernel, monkeypatch):
    """A training step's gradients through CausalSTRFConv with the product and with conv2d forced."""
    torch.manual_seed(0)
    conv = CausalSTRFConv(12, 7, 1, 5, kernel=make_kernel(kernel, 12, 7, 1, 5)).double()
    x = torch.randn(2, 1, 12, 40, dtype=torch.float64, requires_grad=True)
    results = []
    for bound in (strf_product.MAX_LAGGED_ELEMENTS, 0):         # 0: every input over the bounds, conv2d
        monkeypatch.setattr(strf_product, "MAX_LAGGED_ELEMENTS", bound)
        monkeypatch.setattr(strf_product, "MAX_LAGGED_WEIGHTS_ONLY", bound)
        calls = []
        monkeypatch.setattr(strf_product, "strf_product", lambda *a: calls.append(1) or product(*a))
        conv.zero_grad()
        out = conv(x)
        gx, = torch.autograd.grad(out.pow(2).sum(), x, retain_graph=True)
        out.pow(2).sum().backward()
        results.append([out.detach(), gx] + [p.grad.clone() for p in conv.parameters()])
        assert bool(calls) == bool(bound)
    for a, c in zip(*results):
        torch.testing.assert_close(a, c, rtol=1e-9, atol=1e-9)


def test_strf_conv_falls_back_to_conv2d_without_gradients():
    x = torch.randn(2, 1, 10, 20)
    w = torch.randn(3, 1, 10, 4)
    with torch.no_grad():
        torch.testing.assert_close(strf_conv(x, w, None), F.conv2d(x, w))


def test_not_used_inside_torch_func_transforms():
    """The factored gradmaps differentiate through ``torch.func``: conv2d's batching rules are faster there."""
    w = torch.randn(3, 1, 10, 4)
    seen = []

    def f(x):
        seen.append(use_product(x, w))
        return strf_conv(x, w, None).sum()

    torch.func.grad(f)(torch.randn(1, 1, 10, 20))
    assert seen == [False]
