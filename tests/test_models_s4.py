"""deepSTRF's S4 (DPLR) layer, checked against its definition rather than against deepSTRF.

The kernel comes from a Cauchy sum at roots of unity plus a Woodbury correction; here it is compared with the
impulse response of the bilinear-discretised SSM built densely from the same parameters (float64), for a
fresh layer (``l_kernel = 0``), a tuned one and a call longer than the tuned length.
"""

import pytest
import torch

from strfviewer.models.s4 import S4Block, hippo_legs_dplr


def _perturbed(H=3, d_state=8, seed=0):
    torch.manual_seed(seed)
    block = S4Block(H, d_state=d_state)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in block.parameters():
            p.add_(0.15 * torch.randn(p.shape, generator=gen))
    return block


def _impulse_response(kernel, L):
    """``K[l] = C_full dA^l dB_full`` (H, L) in float64 from the layer's parameters and tuned length."""
    k = kernel
    dt = torch.exp(k.inv_dt.double())[..., None]                                     # (H, 1, 1)
    lam = torch.complex(-torch.exp(k.A_real.double()), -k.A_imag.double())
    as_c = lambda t: torch.view_as_complex(t.double().contiguous())                  # noqa: E731
    B, P, C = as_c(k.B)[0], as_c(k.P)[0], as_c(k.C)[0]
    full = lambda v: torch.cat([v, v.conj()], -1)                                    # noqa: E731
    A = torch.diag_embed(full(lam)) - full(P)[:, :, None] * full(P).conj()[:, None, :]
    eye = torch.eye(A.shape[-1], dtype=A.dtype)
    dA = torch.linalg.solve(eye - dt / 2 * A, eye + dt / 2 * A)
    dB = torch.linalg.solve(eye - dt / 2 * A, (dt[..., 0] * full(B))[..., None])[..., 0]
    row = full(C)[:, None, :]
    M = int(k.l_kernel)
    if M:  # the saved C is C~ = C (I - dA^M): recover C
        row = torch.linalg.solve((eye - torch.linalg.matrix_power(dA, M)).transpose(-1, -2),
                                 row.transpose(-1, -2)).transpose(-1, -2)
    out, state = [], dB[..., None]
    for _ in range(L):
        out.append((row @ state)[:, 0, 0].real)
        state = dA @ state
    return torch.stack(out, -1)


@pytest.mark.parametrize("L", [1, 7, 16, 33])
def test_kernel_is_the_bilinear_ssm_impulse_response(L):
    kernel = _perturbed().layer.kernel.eval()
    with torch.no_grad():
        got = kernel(L).double()
    torch.testing.assert_close(got, _impulse_response(kernel, L), rtol=0, atol=1e-5)


def test_tuned_and_extended_kernels_match_the_impulse_response():
    block = _perturbed(seed=3)
    block.train()(torch.randn(1, 12, 3))                      # training mode tunes C to 12 frames, as deepSTRF does
    kernel = block.layer.kernel.eval()
    assert int(kernel.l_kernel) == 12
    with torch.no_grad():
        for L in (5, 12, 30):                                 # 30: extended 12 -> 24 -> 48 on the fly
            torch.testing.assert_close(kernel(L).double(), _impulse_response(kernel, L), rtol=0, atol=1e-5)


def test_eval_never_changes_the_model_and_training_keeps_the_function():
    block = _perturbed(seed=5).eval()
    x = torch.randn(2, 20, 3)
    before = {k: v.clone() for k, v in block.state_dict().items()}
    with torch.no_grad():
        y = block(x)[0]
        block(torch.randn(1, 50, 3))
    assert all(torch.equal(before[k], v) for k, v in block.state_dict().items())
    block.train()(x)                                          # rewrites C as C~ for 20 frames ...
    assert int(block.layer.kernel.l_kernel) == 20 and not torch.equal(block.layer.kernel.C, before["layer.kernel.C"])
    with torch.no_grad():
        torch.testing.assert_close(block.eval()(x)[0], y, rtol=0, atol=1e-5)   # ... without changing the output


def test_legs_initialisation_is_the_hippo_matrix():
    """diag(Lambda) - p p^* over both conjugate halves has LegS's eigenvalues -1, -2, ..., -2N."""
    lam, p, _ = hippo_legs_dplr(4, dtype=torch.complex128)
    full = lambda v: torch.cat([v, v.conj()]).to(torch.complex128)   # noqa: E731
    A = torch.diag(full(lam)) - full(p)[:, None] * full(p).conj()[None, :]
    eig = torch.linalg.eigvals(A)
    assert eig.imag.abs().max() < 1e-6
    torch.testing.assert_close(eig.real.sort().values, -torch.arange(8, 0, -1, dtype=torch.float64),
                               rtol=0, atol=1e-6)


def test_kernel_computed_in_blocks_of_nodes_is_the_same(monkeypatch):
    """Long inputs evaluate the roots of unity in blocks (bounded memory): the blocks change nothing."""
    import strfviewer.models.s4 as s4

    kernel = _perturbed(seed=7).layer.kernel.eval()
    with torch.no_grad():
        whole = kernel(40)
        monkeypatch.setattr(s4, "_NODE_BUDGET", 100)           # a few nodes per block
        torch.testing.assert_close(kernel(40), whole, rtol=0, atol=1e-6)
