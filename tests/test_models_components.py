"""Kernels, prefilters, activations, scales, readouts and layers of the model zoo."""

import math

import pytest
import torch
import torch.nn.functional as F

import strfviewer.models as sm
from strfviewer.models import activations, layers, scales
from strfviewer.models.kernels import ParametricSTRF, SeparableSTRF, make_kernel


# ---- kernels ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["full", "separable", "gaussian"])
def test_kernel_conv_equals_conv2d_with_its_strf_weight(name):
    torch.manual_seed(0)
    conv = sm.CausalSTRFConv(10, 7, 2, 3, kernel=make_kernel(name, 10, 7, 2, 3))
    x = torch.randn(2, 2, 10, 30)
    w = conv.STRF_weight()
    assert w.shape == (3, 2, 10, 7)
    bias = conv.kernel.bias.detach()
    expected = F.conv2d(F.pad(x, (6, 0)), w, bias)
    assert torch.allclose(conv(x), expected, atol=1e-5)
    assert conv(x).shape == (2, 3, 1, 30)


def test_separable_kernel_is_rank_one():
    k = SeparableSTRF(34, 9, 1, 2).build_kernel().detach()
    for o in range(2):
        s = torch.linalg.svdvals(k[o, 0])
        assert s[1] < 1e-5 * s[0]


def test_parametric_strf_places_gaussians_across_a_non_square_grid():
    """Absolute grid coordinates on (34, 9): a Gaussian placed at (f, t) peaks exactly at (f, t), for
    corners and centre alike (the DCLS asymmetric-kernel bug would swap/shift the axes)."""
    F_, T_ = 34, 9
    targets = [(0, 0), (33, 8), (0, 8), (33, 0), (17, 4), (30, 2), (5, 7)]
    k = ParametricSTRF(F_, T_, 1, len(targets), num_gaussians=1)
    with torch.no_grad():
        k.SIG.zero_()                    # sigma = floor (0.27 cell): a sharp peak
        k.weight.fill_(1.0)
        for o, (f, t) in enumerate(targets):
            k.P[0, o, 0, 0] = f
            k.P[1, o, 0, 0] = t
    w = k.build_kernel().detach()
    assert w.shape == (len(targets), 1, F_, T_)
    for o, (f, t) in enumerate(targets):
        flat = int(w[o, 0].argmax())
        assert divmod(flat, T_) == (f, t)
        assert w[o, 0].sum().item() == pytest.approx(1.0, abs=1e-4)    # unit mass on the grid


def test_parametric_strf_initial_centres_cover_the_whole_grid():
    torch.manual_seed(0)
    k = ParametricSTRF(34, 9, 1, 50, num_gaussians=4)
    pf, pt = k.P[0].detach().flatten(), k.P[1].detach().flatten()
    assert 0 <= pf.min() < 5 and 28 < pf.max() <= 33
    assert 0 <= pt.min() < 1.5 and 6.5 < pt.max() <= 8


def test_parametric_strf_sums_weighted_gaussians():
    torch.manual_seed(0)
    k = ParametricSTRF(12, 5, 2, 3, num_gaussians=3)
    g = k.gaussians().detach()                                     # (O, I, K, F, T)
    manual = (g * k.weight.detach()[..., None, None]).sum(2)
    assert torch.allclose(k.build_kernel().detach(), manual, atol=1e-6)


def test_kernel_with_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="shape"):
        sm.CausalSTRFConv(34, 9, 1, 3, kernel=make_kernel("separable", 34, 8, 1, 3))


# ---- prefilters ------------------------------------------------------------------------------------

def test_icadaptation_removes_a_steady_level_and_keeps_onsets():
    pre = sm.make_prefiltering("ICAdaptation", 4, dt=5.0, kernel_size=30)
    x = torch.zeros(1, 1, 4, 60)
    x[..., 20:] = 1.0
    y = pre(x)
    assert y.shape == (1, 1, 4, 60)
    assert torch.all(y >= 0)
    assert torch.allclose(y[..., :20], torch.zeros(1, 1, 4, 20))     # constant input -> nothing
    assert torch.allclose(y[..., 20], torch.ones(4))                  # onset passes
    assert torch.all(y[..., 21] < y[..., 20])                         # then adapts
    assert sum(p.numel() for p in pre.parameters()) == 0              # frozen


def test_adaptrans_on_and_off_channels():
    pre = sm.make_prefiltering("AdapTrans", 4, dt=5.0, kernel_size=10, init_w=1.0)
    assert pre.out_channels == 2 and sum(p.numel() for p in pre.parameters()) == 12
    x = torch.zeros(1, 1, 4, 60)
    x[..., 20:40] = 1.0
    y = pre(x).detach()
    assert y.shape == (1, 2, 4, 60) and torch.all(y >= 0)
    on, off = y[0, 0, 0], y[0, 1, 0]
    assert on[20] == pytest.approx(1.0) and off[20] == 0
    assert off[40] == pytest.approx(1.0) and on[40] == 0              # offset: only the OFF channel
    assert on[35] < 1e-6 and off[35] < 1e-6                           # sustained: adapted away


def test_adaptrans_frozen_has_buffers():
    pre = sm.make_prefiltering("adaptrans", 6, learnable=False, kernel_size=4)
    assert sum(p.numel() for p in pre.parameters()) == 0
    assert set(dict(pre.named_buffers())) == {"d_on", "d_off", "p"}


def test_make_prefiltering_time_constants_follow_frequency():
    pre = sm.make_prefiltering("ICAdaptation", 8, dt=5.0, min_freq=500, max_freq=16000)
    tau = scales.a_to_tau(pre.a, dt=5.0)
    expected = scales.freq_to_tau(scales.get_CFs(500, 16000, 8, "mel"))
    assert torch.allclose(tau, expected, rtol=1e-4)
    assert torch.all(tau[1:] < tau[:-1])                              # higher bands adapt faster
    with pytest.raises(ValueError, match="unknown prefilter"):
        sm.make_prefiltering("nope", 8)


def test_prefilter_rejects_wrong_band_count():
    pre = sm.make_prefiltering("ICAdaptation", 8, kernel_size=4)
    with pytest.raises(ValueError, match="8"):
        pre(torch.zeros(1, 1, 9, 10))
    with pytest.raises(ValueError, match="bands"):
        sm.Linear(9, 5, 2, prefiltering=pre)


# ---- activations -----------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [activations.ParametricSigmoid, activations.ParametricDoubleExponential,
                                 activations.ParametricSoftplus])
def test_non_negative_reparameterisation(cls):
    torch.manual_seed(0)
    act = cls(5)
    with torch.no_grad():
        for p in act.parameters():
            p.normal_(0, 5)                         # any raw parameter values
    x = torch.randn(7, 5) * 10
    assert torch.all(act(x) >= 0)
    signed = cls(5, non_negative_output=False)
    with torch.no_grad():
        for name, p in signed.named_parameters():
            if name in ("_raw_b", "_raw_a"):
                p.fill_(-3.0)
    assert (signed(x) < 0).any()


def test_parametric_softplus_formula():
    act = activations.ParametricSoftplus(3)
    x = torch.randn(4, 3)
    beta = F.softplus(act._raw_beta)
    assert torch.allclose(act(x), F.softplus(beta * x) / beta + F.softplus(act._raw_b))
    assert torch.all(act.beta > 0)


# ---- scales ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("fwd,inv", [(scales.Hz_to_mel, scales.mel_to_Hz), (scales.Hz_to_ERB, scales.ERB_to_Hz),
                                     (scales.Hz_to_octaves, scales.octaves_to_Hz),
                                     (scales.inverse_Greenwood, scales.Greenwood)])
def test_scales_invert(fwd, inv):
    f = torch.tensor([100.0, 500.0, 1000.0, 8000.0, 16000.0], dtype=torch.float64)
    assert torch.allclose(inv(fwd(f)), f, rtol=1e-9)
    assert inv(fwd(1234.0)) == pytest.approx(1234.0)


def test_scale_reference_values():
    assert scales.Hz_to_mel(1000.0) == pytest.approx(1000.0, abs=0.5)   # mel scale anchor
    assert scales.ERB_bandwidth(1000.0) == pytest.approx(132.639, abs=1e-3)
    assert scales.Greenwood(1.0) == pytest.approx(165.4 * (10 ** 2.1 - 0.88))
    assert scales.Greenwood(0.0, "mouse") == pytest.approx(712.6 * 1.4)


@pytest.mark.parametrize("scale", ["mel", "erb", "log", "greenwood"])
def test_get_cfs_spans_the_range_monotonically(scale):
    cf = scales.get_CFs(500, 16000, 34, scale)
    assert cf.shape == (34,)
    assert cf[0].item() == pytest.approx(500, rel=1e-4) and cf[-1].item() == pytest.approx(16000, rel=1e-4)
    assert torch.all(cf[1:] > cf[:-1])


def test_tau_a_round_trip():
    tau = torch.tensor([10.0, 50.0, 200.0])
    assert torch.allclose(scales.a_to_tau(scales.tau_to_a(tau, dt=5.0), dt=5.0), tau)
    assert scales.tau_to_a(5.0, dt=5.0) == pytest.approx(math.exp(-1))


# ---- layers and readouts ---------------------------------------------------------------------------

def test_causal_layer_norm_normalises_one_axis_per_position():
    ln = layers.CausalLayerNorm(6, dim=1, elementwise_affine=False)
    x = torch.randn(2, 6, 5, 11) * 3 + 2
    y = ln(x)
    assert torch.allclose(y.mean(1), torch.zeros(2, 5, 11), atol=1e-5)
    assert torch.allclose(y.var(1, unbiased=False), torch.ones(2, 5, 11), atol=1e-3)


def test_locally_connected_matches_per_position_linear():
    torch.manual_seed(0)
    lc = layers.LocallyConnected1d(input_size=20, in_channels=2, out_channels=3, kernel_size=5, stride=3)
    assert lc.L == (20 - 5) // 3 + 1
    x = torch.randn(4, 2, 20)
    y = lc(x)
    for pos in range(lc.L):
        patch = x[:, :, pos * 3: pos * 3 + 5].reshape(4, -1)              # channel-major
        expected = patch @ lc.weights[:, :, pos].T + lc.biases[:, pos]
        assert torch.allclose(y[:, :, pos], expected, atol=1e-5)


@pytest.mark.parametrize("padding,dilation", [(0, 1), (2, 1), (1, 2)])
def test_locally_connected_with_padding_and_dilation_matches_unfold(padding, dilation):
    """The strided-view patches equal nn.Unfold's (the layer's definition) with padding and dilation too."""
    torch.manual_seed(1)
    lc = layers.LocallyConnected1d(input_size=17, in_channels=2, out_channels=3, kernel_size=4, stride=2,
                                   padding=padding, dilation=dilation)
    x = torch.randn(3, 2, 17)
    patches = torch.nn.functional.unfold(x.unsqueeze(-1), (4, 1), dilation=(dilation, 1), padding=(padding, 0),
                                         stride=(2, 1))
    expected = torch.einsum("bml,oml->bol", patches, lc.weights) + lc.biases
    assert lc(x).shape == expected.shape == (3, 3, lc.L)
    assert torch.allclose(lc(x), expected, atol=1e-6)


def test_exponential_decay_kernel_and_time_constant():
    dec = layers.LearnableExponentialDecay(3, kernel_size=20, init_tau=3.0, decay_input=True)
    with torch.no_grad():
        dec.d.fill_(2.0)                                              # tau = 5 frames
    k = dec.build_kernel()[0, 0].flip(0)                              # lag 0 first
    assert torch.allclose(dec.tau(), torch.full((3,), 5.0))
    assert k[0].item() == pytest.approx(1 / 5)
    assert (k[1] / k[0]).item() == pytest.approx(1 - 1 / 5)
    x = torch.ones(1, 3, 1, 30)
    assert dec(x).shape == (1, 3, 1, 30)


def test_causal_window_mask():
    m = layers.build_causal_window_mask(5, window=2)
    allowed = ~m
    assert allowed[3, 3] and allowed[3, 2] and not allowed[3, 1] and not allowed[3, 4]
    assert (~layers.build_causal_window_mask(4)).sum() == 10           # lower triangle


def test_sinusoidal_encoding_values():
    pe = layers.SinusoidalPositionalEncoding(6)
    y = pe(torch.zeros(1, 4, 6))
    assert torch.allclose(y[0, :, 0], torch.sin(torch.arange(4.0)))
    assert torch.allclose(y[0, :, 1], torch.cos(torch.arange(4.0)))
    assert torch.allclose(y[0, 2, 4], torch.sin(torch.tensor(2.0 * 10000 ** (-4 / 6))))
    with pytest.raises(ValueError):
        layers.SinusoidalPositionalEncoding(5)


def test_linear_readout_shapes():
    ro = sm.readouts.LinearReadout(8, 3, hidden=5)
    assert ro(torch.randn(2, 8, 10)).shape == (2, 3, 1, 10)
    assert ro(torch.randn(2, 8, 1, 10)).shape == (2, 3, 1, 10)
    with pytest.raises(ValueError):
        ro(torch.randn(2, 8, 2, 10))


def test_linear_recurrence_scan_matches_the_loop():
    from strfviewer.models.ssm import linear_recurrence_scan

    torch.manual_seed(0)
    a, b = torch.rand(2, 37, 3, 4), torch.randn(2, 37, 3, 4)
    h, states = torch.zeros(2, 3, 4), []
    for t in range(37):
        h = a[:, t] * h + b[:, t]
        states.append(h)
    want = torch.stack(states, 1)
    for block in (16, 4, 64):  # blocks with a carried state, and one scan over the whole sequence
        assert torch.allclose(linear_recurrence_scan(a, b, block=block), want, atol=1e-5)


def test_both_scans_match_the_loop():
    """The step-by-step scan (the CPU's) and the blocked parallel scan (other devices, functorch transforms) each
    give the loop's states, for an expanded decay and one step too."""
    from strfviewer.models.ssm import _blocked_scan, _sequential_scan

    torch.manual_seed(1)
    a, b = torch.rand(3, 41, 5), torch.randn(3, 41, 5)
    h, states = torch.zeros(3, 5), []
    for t in range(41):
        h = a[:, t] * h + b[:, t]
        states.append(h)
    want = torch.stack(states, 1)
    assert torch.allclose(_sequential_scan(a, b), want, atol=1e-5)
    for block in (16, 4, 64):
        assert torch.allclose(_blocked_scan(a, b, block), want, atol=1e-5)
    decay = torch.rand(1, 1, 5).expand(3, 41, 5)
    assert torch.allclose(_sequential_scan(decay, b), _blocked_scan(decay, b, 8), atol=1e-5)
    assert torch.equal(_sequential_scan(a[:, :1], b[:, :1]), b[:, :1])


def test_linear_recurrence_scan_gradients_are_the_loops():
    """The scan's own backward (the adjoint recurrence) gives autograd-through-the-loop's gradients, for a decay
    broadcast over a channel axis too (PCEN's smoother), and works under batched vector-Jacobian products."""
    from strfviewer.models.ssm import linear_recurrence_scan

    def loop(a, b):
        h, states = torch.zeros_like(b[:, 0]), []
        for t in range(b.shape[1]):
            h = a[:, t] * h + b[:, t]
            states.append(h)
        return torch.stack(states, 1)

    torch.manual_seed(0)
    a = torch.rand(2, 37, 3, 4, dtype=torch.double, requires_grad=True)
    b = torch.randn(2, 37, 3, 4, dtype=torch.double, requires_grad=True)
    g = torch.randn(2, 37, 3, 4, dtype=torch.double)
    for block in (16, 4, 64):
        got = torch.autograd.grad(linear_recurrence_scan(a, b, block=block), (a, b), g)
        want = torch.autograd.grad(loop(a, b), (a, b), g)
        for x, y in zip(got, want):
            assert torch.allclose(x, y, atol=1e-10)
    assert torch.autograd.gradcheck(lambda a, b: linear_recurrence_scan(a, b, block=8), (a[:1, :20], b[:1, :20]))
    s = torch.rand(1, 1, 4, dtype=torch.double, requires_grad=True)      # one decay per channel, expanded
    got = torch.autograd.grad(linear_recurrence_scan(s.expand(2, 37, 4), b[..., 0, :]), s, g[..., 0, :])[0]
    want = torch.autograd.grad(loop(s.expand(2, 37, 4), b[..., 0, :]), s, g[..., 0, :])[0]
    assert got.shape == s.shape and torch.allclose(got, want, atol=1e-10)
    grads = torch.randn(5, 2, 37, 3, 4, dtype=torch.double)
    batched = torch.autograd.grad(linear_recurrence_scan(a, b), b, grads, is_grads_batched=True)[0]
    for i in range(5):
        assert torch.allclose(batched[i], torch.autograd.grad(loop(a, b), b, grads[i])[0], atol=1e-10)


def test_lmu_layer_matches_its_cell_step_by_step():
    from strfviewer.models.ssm import LMU

    torch.manual_seed(0)
    lmu = LMU(5, 6, memory_size=8, theta=10, learn_a=True)
    with torch.no_grad():
        lmu.cell.e_m.normal_(0, 0.5)        # zero at init: the layer's rearranged step must not rely on it
    x = torch.randn(2, 9, 5)
    out, (h_last, m_last) = lmu(x)
    h, m = torch.zeros(2, 6), torch.zeros(2, 8)
    stepped = []
    for t in range(9):
        h, m = lmu.cell(x[:, t], (h, m))
        stepped.append(h)
        assert torch.allclose(out[:, t], h, atol=1e-5)
    assert torch.allclose(m_last, m, atol=1e-5) and torch.allclose(h_last, h, atol=1e-5)
    params = list(lmu.parameters())
    assert any(p is lmu.cell.A for p in params)
    weights = torch.randn(2, 9, 6)
    layer_grads = torch.autograd.grad((out * weights).sum(), params)
    cell_grads = torch.autograd.grad((torch.stack(stepped, 1) * weights).sum(), params)
    for p, a, b in zip(params, layer_grads, cell_grads):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4), p.shape


def test_legendre_discretisation_is_zero_order_hold():
    """A_d = expm(A) and B_d = A^-1 (A_d - I) B for the continuous Legendre system."""
    from strfviewer.models.ssm import legendre_state_space

    Ad, Bd = legendre_state_space(6, theta=5.0)
    q = torch.arange(6, dtype=torch.float64)
    r = ((2 * q + 1) / 5.0)[:, None]
    i, j = torch.meshgrid(q, q, indexing="ij")
    A = r * torch.where(i < j, -torch.ones_like(i), (-1.0) ** (i - j + 1))
    B = r * ((-1.0) ** q)[:, None]
    expected_A = torch.linalg.matrix_exp(A)
    expected_B = torch.linalg.solve(A, (expected_A - torch.eye(6, dtype=torch.float64)) @ B)
    assert torch.allclose(Ad.double(), expected_A, atol=1e-5)
    assert torch.allclose(Bd.double(), expected_B, atol=1e-5)


def test_selective_scan_gradients_are_autograd_through_the_loop():
    """Mamba's selective scan with its hand-written backward: the values and the gradients of every input equal
    autograd through the step-by-step recurrence, through y alone or y and the states, and under vmap'd VJPs."""
    from strfviewer.models.ssm import selective_scan

    torch.manual_seed(0)
    B, L, E, N = 2, 23, 5, 4
    delta = torch.rand(B, L, E, dtype=torch.double, requires_grad=True)
    A = -torch.rand(E, N, dtype=torch.double, requires_grad=True)
    Bm, Cm = (torch.randn(B, L, N, dtype=torch.double, requires_grad=True) for _ in range(2))
    u = torch.randn(B, L, E, dtype=torch.double, requires_grad=True)
    inputs = (delta, A, Bm, Cm, u)

    def loop(delta, A, Bm, Cm, u):
        decay, drive = torch.exp(delta.unsqueeze(-1) * A), (delta * u).unsqueeze(-1) * Bm.unsqueeze(2)
        h, states = torch.zeros_like(drive[:, 0]), []
        for t in range(L):
            h = decay[:, t] * h + drive[:, t]
            states.append(h)
        hs = torch.stack(states, 1)
        return torch.einsum("blen,bln->ble", hs, Cm), hs

    gy, gh = torch.randn(B, L, E, dtype=torch.double), torch.randn(B, L, E, N, dtype=torch.double)
    for with_states in (False, True):
        got, want = [], []
        for f, out in ((selective_scan, got), (loop, want)):
            y, hs = f(*inputs)
            out.append(y.detach())
            out.extend(torch.autograd.grad((y * gy).sum() + ((hs * gh).sum() if with_states else 0), inputs))
        for x, w in zip(got, want):
            assert torch.allclose(x, w, atol=1e-10)
    assert torch.autograd.gradcheck(lambda *a: selective_scan(*a)[0], tuple(t[:1, :9] if t.dim() == 3 else t
                                                                             for t in inputs))
    cotangents = torch.randn(3, B, L, E, dtype=torch.double)                 # batched VJPs (gradmaps)
    y = selective_scan(*inputs)[0]
    batched = torch.autograd.grad(y, u, cotangents, is_grads_batched=True)[0]
    for k in range(3):
        assert torch.allclose(batched[k], torch.autograd.grad(loop(*inputs)[0], u, cotangents[k])[0], atol=1e-10)
