"""The kernels' warm starts (``init_from_strf``): what each keeps of a ridge STRF."""

import numpy as np
import pytest
import torch

from strfviewer.models.kernels import FullSTRF, ParametricSTRF, SeparableSTRF, init_from_strf, rank1_factors

F, T, C_in, C_out = 9, 6, 2, 3


def _strf(seed=0):
    return torch.randn(C_out, C_in, F, T, generator=torch.Generator().manual_seed(seed))


def test_full_kernel_takes_the_strf_and_bias():
    k = FullSTRF(F, T, C_in, C_out)
    strf, bias = _strf(), torch.arange(C_out, dtype=torch.float32)
    assert init_from_strf(k, strf, bias) == "ridge"
    assert torch.equal(k.build_kernel().detach(), strf) and torch.equal(k.bias.detach(), bias)


def test_separable_kernel_takes_the_leading_svd_term():
    k = SeparableSTRF(F, T, C_in, C_out)
    strf = _strf()
    assert init_from_strf(k, strf, None) == "ridge (rank-1 part)"
    u, s, vh = np.linalg.svd(strf.numpy().astype(np.float64), full_matrices=False)
    expected = s[..., :1, None] * u[..., :, :1] @ vh[..., :1, :]
    np.testing.assert_allclose(k.build_kernel().detach().numpy(), expected, atol=1e-5)
    f, t = rank1_factors(strf.numpy())
    np.testing.assert_allclose(np.linalg.norm(f, axis=-1), np.linalg.norm(t, axis=-1), rtol=1e-6)


def test_gaussian_kernel_recovers_a_mixture():
    torch.manual_seed(1)
    truth = ParametricSTRF(F + 5, T + 4, 1, 2, num_gaussians=2)
    with torch.no_grad():   # two well separated blobs of opposite sign per STRF
        truth.P[0] = torch.tensor([[[3.0, 10.0]], [[5.0, 11.0]]])
        truth.P[1] = torch.tensor([[[2.0, 6.0]], [[3.0, 7.0]]])
        truth.SIG.fill_(0.8)
        truth.weight.copy_(torch.tensor([[[4.0, -3.0]], [[-2.0, 5.0]]]))
    target = truth.build_kernel().detach()
    fitted = ParametricSTRF(F + 5, T + 4, 1, 2, num_gaussians=2)
    said = init_from_strf(fitted, target, torch.tensor([0.5, -0.5]))
    assert said.startswith("ridge STRF fitted by 2 Gaussian(s)")
    error = float(((fitted.build_kernel().detach() - target) ** 2).sum() / (target ** 2).sum())
    assert error < 0.02, f"{said}: relative squared error {error:.3f}"
    assert torch.allclose(fitted.bias.detach(), torch.tensor([0.5, -0.5]))


def test_a_kernel_without_warm_start_is_left_alone_and_shapes_are_checked():
    class NoWarmStart(torch.nn.Module):
        C_out, C_in, F, T = C_out, C_in, F, T

    assert init_from_strf(NoWarmStart(), _strf()) is None
    with pytest.raises(ValueError, match="a warm start needs STRFs"):
        init_from_strf(FullSTRF(F, T, C_in, C_out), torch.zeros(C_out, C_in, F, T + 1))
