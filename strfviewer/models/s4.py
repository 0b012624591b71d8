"""S4 as deepSTRF 0.1.0's StateNet builds it (``rnn_type="S4"``): a DPLR state space layer (Gu, Goel & Re 2022).

deepSTRF bundles the standalone S4 reference block with its defaults: ``S4Block(d_model=H, transposed=False)``,
i.e. per channel ``h`` an SSM of ``d_state = 64`` (32 stored complex-conjugate pairs) whose state matrix is
diagonal plus rank one, ``A = diag(Lambda) - p p^*``, HiPPO-LegS initialisation, bilinear discretisation with a
step ``dt = exp(inv_dt)`` (log-uniform in [0.001, 0.1] at init), a ``D`` skip, GELU, then a ``Linear(H, 2H)`` and
a GLU. :class:`S4Block` has the same tensor names and shapes, so deepSTRF's StateNet(S4) checkpoints load:

======================== ============== ======================================================================
``layer.D``              (1, H)         skip gain
``layer.kernel.inv_dt``  (H, 1)         ``log dt``
``layer.kernel.A_real``  (H, N)         ``log(-Re Lambda)``
``layer.kernel.A_imag``  (H, N)         ``-Im Lambda``
``layer.kernel.B``       (1, H, N, 2)   ``B`` (real and imaginary parts)
``layer.kernel.P``       (1, H, N, 2)   ``p`` (rank 1)
``layer.kernel.C``       (1, H, N, 2)   ``C~`` (see below)
``layer.kernel.l_kernel`` ()            length ``M`` that ``C~`` is tuned to (int64; 0 = ``C~`` is ``C``)
``output_linear.0.*``    (2H, H), (2H,) output projection before the GLU
======================== ============== ======================================================================

(``N = d_state / 2``.) The reference code stores ``C~ = C (I - dA^M)`` instead of ``C``: its first call
replaces ``C`` by ``C~`` for the call's length and sets ``l_kernel``, and a longer call doubles ``M``
(``C~ <- C~ (I + dA^M)``). Here the same happens in training mode (so a fit trains ``C~`` as deepSTRF
does), but in eval mode a call never changes the model: the kernel for a length ``L > M`` is computed from the
saved ``C~`` and ``M``, extended the same way on the fly. Either way the kernel is the
impulse response of the bilinear-discretised SSM, ``K[l] = 2 Re(C dA^l dB)``.

The kernel is evaluated as a truncated generating function at the ``M``-th roots of unity ``w`` with a Cauchy
sum over the diagonal and a Woodbury correction for the rank-one part, written as
``C ((1 - w) I - (1 + w)/2 dt A)^{-1} dt B`` (no pole at ``w = -1``), then an inverse real FFT.
"""

from __future__ import annotations

import math
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from strfviewer.models.ssm import causal_depthwise_conv


def hippo_legs_dplr(n_modes: int, dtype: torch.dtype = torch.complex64
                    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Diagonal-plus-low-rank form of the HiPPO-LegS matrices with ``2 * n_modes`` states.

    LegS: ``A[n, k] = -sqrt((2n+1)(2k+1))`` below the diagonal, ``-(n+1)`` on it, 0 above; ``B[n] = sqrt(2n+1)``;
    ``A + q q^T`` (``q[n] = sqrt(n + 1/2)``) is ``-I/2`` plus a skew-symmetric matrix, so it diagonalises
    unitarily as ``V diag(Lambda) V^*``. Returns the ``n_modes`` eigenvalues with negative imaginary part
    ``Lambda (n_modes,)`` and ``p = V^* q``, ``B~ = V^* B`` (imaginary part clipped to [-2, 2]) on those modes,
    as ``dtype`` (computed in complex128).
    """
    N = 2 * n_modes
    n = torch.arange(N, dtype=torch.float64)
    r = torch.sqrt(2 * n + 1)
    A = -torch.where(n[:, None] > n[None, :], r[:, None] * r[None, :], torch.diag(n + 1))
    q = torch.sqrt(n + 0.5)
    normal = A + q[:, None] * q[None, :]
    real = torch.diagonal(normal).mean()
    skew = normal - real * torch.eye(N, dtype=torch.float64)
    imag, V = torch.linalg.eigh(-1j * skew.to(torch.complex128))         # -i * (skew part) is Hermitian
    order = torch.argsort(imag)[:n_modes]                                 # negative imaginary parts first
    lam = real + 1j * imag[order]
    V = V[:, order]
    p = V.conj().T @ q.to(torch.complex128)
    b = V.conj().T @ r.to(torch.complex128)
    b = torch.complex(b.real, b.imag.clamp(-2.0, 2.0))
    return lam.to(dtype), p.to(dtype), b.to(dtype)


class DPLRKernel(nn.Module):
    """The convolution kernels ``(H, L)`` of ``H`` DPLR state space models (rank 1, one output channel).

    Parameter names and shapes are those of the reference S4 kernel (module docstring); ``d_state`` counts the
    real state size, ``N = d_state // 2`` complex-conjugate pairs are stored.
    """

    def __init__(self, d_model: int, d_state: int = 64, dt_min: float = 0.001, dt_max: float = 0.1):
        super().__init__()
        if d_state % 2:
            raise ValueError(f"d_state must be even (complex-conjugate pairs), got {d_state}")
        H, N = d_model, d_state // 2
        self.H, self.N = H, N
        lam, p, b = hippo_legs_dplr(N)
        self.inv_dt = nn.Parameter(torch.rand(H, 1) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        self.A_real = nn.Parameter(torch.log((-lam.real).clamp(min=1e-4)).repeat(H, 1))
        self.A_imag = nn.Parameter((-lam.imag).clamp(min=1e-4).repeat(H, 1))
        self.B = nn.Parameter(torch.view_as_real(b.repeat(1, H, 1)).clone())
        self.P = nn.Parameter(torch.view_as_real(p.repeat(1, H, 1)).clone())
        self.C = nn.Parameter(torch.view_as_real(torch.randn(1, H, N, dtype=torch.complex64)).clone())
        self.register_buffer("l_kernel", torch.tensor(0))

    def _parts(self):
        dt = torch.exp(self.inv_dt)                                          # (H, 1)
        A = torch.complex(-torch.exp(self.A_real), -self.A_imag)             # (H, N) diagonal part
        B = torch.view_as_complex(self.B.contiguous())[0]                    # (H, N)
        P = torch.view_as_complex(self.P.contiguous())                       # (R, H, N)
        C = torch.view_as_complex(self.C.contiguous())[0]                    # (H, N): C~ for M = l_kernel
        return dt, A, B, P, C

    def transition(self) -> torch.Tensor:
        """The discrete state matrix ``dA = (I - dt/2 A)^{-1} (I + dt/2 A)`` over all ``2N`` states (H, 2N, 2N)."""
        dt, A, _, P, _ = self._parts()
        full_A = torch.diag_embed(torch.cat([A, A.conj()], -1))
        full_P = torch.cat([P, P.conj()], -1)                                # (R, H, 2N)
        full_A = full_A - torch.einsum("rhm,rhn->hmn", full_P, full_P.conj())
        eye = torch.eye(2 * self.N, dtype=full_A.dtype, device=full_A.device)
        half = (dt[..., None] / 2) * full_A
        return torch.linalg.solve(eye - half, eye + half)

    def tuned_C(self, L: int) -> Tuple[torch.Tensor, int]:
        """``(C~ (H, N), M)`` with ``M >= L``: ``C~ = C (I - dA^M)`` from the saved ``C`` and ``l_kernel``, ``M``
        the saved length doubled as often as ``L`` needs (or ``L`` when nothing was tuned yet).

        In training mode the result is written back to ``C`` and ``l_kernel`` as the reference code does (the
        step after pays nothing, and the optimiser trains ``C~`` like deepSTRF's); in eval mode nothing is
        written (predictions never change the model) and the factor ``(I - dA^M)`` is cached until a parameter
        changes. Gradients reach ``C`` through that factor, not ``dA`` (as in the reference)."""
        C = self._parts()[-1]
        saved = int(self.l_kernel.item())
        if 0 < L <= saved:
            return C, saved
        factor, M = self._tuning_factor(L, saved)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.training):
            tuned = (torch.cat([C, C.conj()], -1)[:, None, :] @ factor)[:, 0, : self.N]   # row vectors C G
        if not self.training:
            return tuned, M
        with torch.no_grad():
            self.C.copy_(torch.view_as_real(tuned)[None])
            self.l_kernel.fill_(M)
        return self._parts()[-1], M

    def _tuning_factor(self, L: int, saved: int) -> Tuple[torch.Tensor, int]:
        """``(G (H, 2N, 2N), M)`` with ``C~ = C G``: ``I - dA^L`` from scratch, else ``prod (I + dA^m)`` over the
        doublings ``m = saved, 2 saved, ...`` below ``L``. Computed without gradient; cached in eval mode."""
        key = (L, saved, tuple(p._version for p in (self.inv_dt, self.A_real, self.A_imag, self.P)),
               tuple(p.data_ptr() for p in (self.inv_dt, self.A_real, self.A_imag, self.P)))
        cached = getattr(self, "_factor_cache", None)
        if not self.training and cached is not None and cached[0] == key:
            return cached[1]
        with torch.no_grad():
            dA = self.transition()
            eye = torch.eye(2 * self.N, dtype=dA.dtype, device=dA.device).expand_as(dA)
            if saved == 0:
                factor, M = eye - torch.linalg.matrix_power(dA, L), L
            else:
                factor, M, power = eye, saved, torch.linalg.matrix_power(dA, saved)
                while M < L:
                    factor = factor @ (eye + power)
                    power, M = power @ power, 2 * M
        if not self.training:
            self._factor_cache = (key, (factor, M))
        return factor, M

    def forward(self, L: int) -> torch.Tensor:
        """Kernel ``(H, L)``, lag 0 first."""
        dt, A, B, P, _ = self._parts()
        C, M = self.tuned_C(L)
        nodes = torch.exp(-2j * math.pi * torch.arange(M // 2 + 1, device=A.device, dtype=torch.float64) / M)
        nodes = nodes.to(torch.complex64)
        v = torch.cat([C[None], P.conj()], 0)[:, None] * torch.cat([B[None], P], 0)[None] * dt  # (2, 2, H, N)
        block = max(1, _NODE_BUDGET // v.numel())            # bounds memory on long inputs (~64 MB a block)
        spectrum = torch.cat([_dplr_spectrum(v, (A * dt)[..., None], w) for w in nodes.split(block)], -1)
        return torch.fft.irfft(spectrum, n=M)[..., :L]


#: Complex values per block of roots of unity in :meth:`DPLRKernel.forward` (4 Mi: 32 MB, twice for the conjugates).
_NODE_BUDGET = 1 << 22


def _dplr_spectrum(v: torch.Tensor, dtA: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``C ((1 - w) I - (1 + w)/2 dt A)^{-1} dt B`` at the nodes ``w (K,)``, for ``A = diag(Lambda) - p q``.

    ``v[i, j] = left_i * right_j * dt`` over the stored modes ``(2, 2, H, N)`` with ``left = (C, q = conj p)``,
    ``right = (B, p)``; ``dtA = dt Lambda (H, N, 1)``. Returns ``(H, K)``.
    """
    a, b = 1 - w, (1 + w) / 2
    # sum over all 2N states: the stored modes and their conjugates (a and b are complex: no conj of the denominator)
    r = (v[..., None] / (a - b * dtA)).sum(-2) + (v.conj()[..., None] / (a - b * dtA.conj())).sum(-2)
    # Woodbury, rank 1: C R0 B - b (C R0 p)(q R0 B) / (1 + b q R0 p), R0 = (a I - b dt Lambda)^{-1}
    return r[0, 0] - b * r[0, 1] * r[1, 0] / (1 + b * r[1, 1])


class FFTConvLayer(nn.Module):
    """``y = GELU(K * u + D u)`` per channel, with the kernel of :class:`DPLRKernel` (reference name ``layer``)."""

    def __init__(self, d_model: int, d_state: int = 64, fft_threshold: int = 2048):
        super().__init__()
        self.fft_threshold = fft_threshold
        self.D = nn.Parameter(torch.randn(1, d_model))
        self.kernel = DPLRKernel(d_model, d_state)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """``u (B, H, L)`` -> ``(B, H, L)``."""
        y = causal_depthwise_conv(u, self.kernel(u.shape[-1]), self.fft_threshold)
        return F.gelu(y + self.D[0][:, None] * u)


class S4Block(nn.Module):
    """deepSTRF's StateNet S4 core: :class:`FFTConvLayer` then ``Linear(H, 2H)`` and a GLU.

    Input ``(B, L, d_model)``; returns ``(output (B, L, d_model), None)`` like the reference block. Strictly
    causal: the convolution is direct up to ``fft_threshold`` steps, FFT-based (zero-padded) beyond.
    """

    CARRIES_STATE = True  # a sequence layer: strfviewer.fit.run trains it like an RNN (chunks, Poisson)

    def __init__(self, d_model: int, d_state: int = 64, fft_threshold: int = 2048):
        super().__init__()
        self.d_model = d_model
        self.layer = FFTConvLayer(d_model, d_state, fft_threshold)
        self.output_linear = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GLU(dim=-1))

    def forward(self, x: torch.Tensor):
        y = self.layer(x.transpose(1, 2)).transpose(1, 2)
        return self.output_linear(y), None
