"""Gradmaps on the real model families: the LN closed form, every family against one backward per
neuron, AdapTrans per-channel maps, train-mode models, waveform gradmaps through the Gabor front-end."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from strfviewer.analysis.gradmaps import METHODS, default_gradmap_T, strf_gradmap, waveform_gradmap
from strfviewer.models import (
    ConvNet2D,
    DNet,
    Linear,
    LinearNonlinear,
    NetworkReceptiveField,
    StateNet,
    Transformer,
    make_prefiltering,
)
from strfviewer.models.frontends import GaborFilterbank

F, N = 12, 5


def randomise_batchnorm(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
            m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
            with torch.no_grad():
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.bias.copy_(torch.rand(m.num_features, generator=g) - 0.5)
    return model


def reference_maps(model, T):
    """One backward per neuron at the null stimulus, in eval mode: ``(N, 1, F, T)``."""
    model.eval()
    maps = []
    for n in range(model.N):
        x = torch.zeros(1, 1, model.F, T, requires_grad=True)
        (g,) = torch.autograd.grad(-model(x)[0, n, 0, -1], x)
        maps.append(g[0])
    return torch.stack(maps)


FAMILIES = {
    "Linear": lambda: Linear(F, 6, out_neurons=N),
    "LinearNonlinear": lambda: LinearNonlinear(F, 6, out_neurons=N),
    "NetworkReceptiveField": lambda: NetworkReceptiveField(F, 6, n_hidden=4, out_neurons=N),
    "DNet": lambda: DNet(F, 6, n_hidden=4, out_neurons=N),
    "ConvNet2D": lambda: ConvNet2D(F, kernel_size=(3, 3), c_hidden=3, n_hidden=4, out_neurons=N),
    "Transformer": lambda: Transformer(F, embedding_dim=4, n_heads=2, out_neurons=N),
    "StateNet-GRU": lambda: StateNet(F, kernel_size=4, stride=4, hidden_channels=2, out_neurons=N),
    "StateNet-LSTM": lambda: StateNet(F, kernel_size=4, stride=4, hidden_channels=2, rnn_type="LSTM", out_neurons=N),
    "StateNet-LMU": lambda: StateNet(F, kernel_size=4, stride=4, hidden_channels=2, rnn_type="LMU", out_neurons=N),
    "StateNet-Mamba": lambda: StateNet(F, kernel_size=4, stride=4, hidden_channels=2, rnn_type="Mamba", out_neurons=N),
    "StateNet-S4": lambda: StateNet(F, kernel_size=4, stride=4, hidden_channels=2, rnn_type="S4", out_neurons=N),
}


def test_linear_nonlinear_gradmap_is_the_kernel_up_to_slope_and_batchnorm():
    torch.manual_seed(0)
    model = randomise_batchnorm(LinearNonlinear(34, 9, out_neurons=7))
    maps = strf_gradmap(model)
    assert maps.shape == (7, 1, 34, 9)
    kernel = model.readout.STRF_weight().detach()                       # (N, 1, F, T)
    for n in range(7):
        corr = np.corrcoef(-maps[n].ravel().numpy(), kernel[n].ravel().numpy())[0, 1]
        assert corr >= 0.999, (n, corr)
    # the scale is sigma'(b) times the BatchNorm gain: -g / W is one positive constant per neuron
    ratio = (-maps / kernel).reshape(7, -1)
    assert (ratio > 0).all()
    torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio), rtol=1e-4, atol=0)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_matches_one_backward_per_neuron(name):
    torch.manual_seed(0)
    model = randomise_batchnorm(FAMILIES[name]())
    T = default_gradmap_T(model)
    assert T >= (20 if name.startswith(("StateNet", "Transformer")) else model.T)
    reference = reference_maps(model, T)
    assert reference.abs().amax() > 0
    model.train()
    for method in METHODS:
        maps = strf_gradmap(model, method=method)
        assert maps.shape == (N, 1, F, T)
        torch.testing.assert_close(maps, reference, rtol=1e-4, atol=1e-6, msg=f"{name} / {method}")
    assert model.training
    assert all(p.grad is None for p in model.parameters())


def test_the_model_method_delegates_and_is_deterministic():
    torch.manual_seed(1)
    model = StateNet(F, kernel_size=4, stride=4, hidden_channels=2, out_neurons=N)
    a = model.STRF_gradmap()
    assert torch.equal(a, strf_gradmap(model))
    assert torch.equal(model.STRF_gradmap(T=9, readout="mean"), strf_gradmap(model, T=9, readout="mean"))


def test_transformer_with_dropout_gives_the_same_gradmap_twice():
    torch.manual_seed(2)
    model = Transformer(F, embedding_dim=4, n_heads=2, out_neurons=N).train()
    a, b = strf_gradmap(model), strf_gradmap(model)
    assert torch.equal(a, b) and a.abs().amax() > 0
    torch.testing.assert_close(a, reference_maps(model, a.shape[-1]), rtol=1e-4, atol=1e-6)


def test_linear_in_train_mode_is_not_inflated_by_batch_statistics():
    torch.manual_seed(3)
    model = randomise_batchnorm(Linear(F, 6, out_neurons=N)).train()
    in_train = strf_gradmap(model)
    torch.testing.assert_close(in_train, strf_gradmap(model.eval()))
    scale = (model.readout.bn.weight / torch.sqrt(model.readout.bn.running_var + model.readout.bn.eps)).detach()
    torch.testing.assert_close(-in_train, scale[:, None, None, None] * model.readout.STRF_weight().detach())


def _adaptrans_model(seed=0):
    torch.manual_seed(seed)
    pre = make_prefiltering("AdapTrans", F, kernel_size=4)
    return randomise_batchnorm(LinearNonlinear(F, 5, out_neurons=N, prefiltering=pre)).double()


def test_adaptrans_per_channel_maps_match_finite_differences():
    model = _adaptrans_model().eval()
    T = default_gradmap_T(model)
    assert T == 5 + 3                                     # STRF window plus the prefilter's reach
    assert default_gradmap_T(model, per_channel=True) == 5   # at the prefilter output: the STRF's alone
    assert strf_gradmap(model, per_channel=True).shape == (N, 2, F, 5)
    maps = strf_gradmap(model, T=T, per_channel=True)
    assert maps.shape == (N, 2, F, T)
    x0 = torch.zeros(1, 1, F, T, dtype=torch.float64)
    eps = 1e-6
    for c, f, t in [(0, 3, T - 1), (1, 3, T - 1), (0, 7, T - 3), (1, 0, T - 5), (1, 11, T - 2)]:
        delta = torch.zeros(1, 2, F, T, dtype=torch.float64)
        delta[0, c, f, t] = eps
        shifted = []
        for sign in (1, -1):
            handle = model.prefiltering.register_forward_hook(lambda m, a, out, d=sign * delta: out + d)
            with torch.no_grad():
                shifted.append(model(x0)[0, :, 0, -1])
            handle.remove()
        torch.testing.assert_close(maps[:, c, f, t], -(shifted[0] - shifted[1]) / (2 * eps), rtol=1e-6, atol=1e-10)
    assert maps[:, 0].abs().amax() > 0 and maps[:, 1].abs().amax() > 0
    assert maps[..., : T - 5].abs().amax() == 0          # at the prefilter output the reach is the STRF's


def test_adaptrans_raw_map_is_the_chain_rule_through_the_prefilter():
    model = _adaptrans_model(seed=1)
    T = default_gradmap_T(model)
    per_channel = strf_gradmap(model, T=T, per_channel=True)
    raw = strf_gradmap(model)
    x0 = torch.zeros(1, 1, F, T, dtype=torch.float64, requires_grad=True)
    channels = model.eval().prefiltering(x0)
    chained = torch.stack([torch.autograd.grad(channels, x0, per_channel[n:n + 1], retain_graph=True)[0][0]
                           for n in range(N)])
    torch.testing.assert_close(raw, chained, rtol=1e-9, atol=1e-12)
    # AdapTrans rectifies its outputs and silence sits on the kink, where ReLU's derivative is 0: the raw
    # map at the null stimulus is zero, and only the per-channel maps show the ON / OFF structure.
    assert raw.abs().amax() == 0


def test_waveform_gradmap_through_the_gabor_front_end():
    torch.manual_seed(4)
    front = GaborFilterbank(n_bands=F, sample_rate=8000, dt_ms=5.0, f_min_hz=300, f_max_hz=3500)
    model = LinearNonlinear(F, 4, out_neurons=N, wav2spec=front)
    maps = waveform_gradmap(model)                       # near-silence, 500 ms at 8 kHz
    assert maps.shape == (N, 4000) and torch.isfinite(maps).all() and maps.abs().amax() > 0
    # 'last' sees the last 4 frames of 40 samples plus the filter window: nothing earlier
    reach = 4 * front.hop + front.window
    assert maps[:, : 4000 - reach].abs().amax() == 0
    wave = torch.randn(1600, generator=torch.Generator().manual_seed(0)) * 0.1
    one = model.waveform_gradmap(wave, neuron=1, reduce="peak")
    assert one.shape == (1600,)
    x = wave.reshape(1, 1, -1).clone().requires_grad_(True)
    r = model.eval()(x)[0, 1, 0]
    (g,) = torch.autograd.grad(r[int(r.argmax())], x)
    torch.testing.assert_close(one, g.reshape(-1), rtol=1e-4, atol=1e-9)
    with pytest.raises(TypeError, match="wav-native"):
        waveform_gradmap(LinearNonlinear(F, 4, out_neurons=N))


def test_statenet_frame_shortcut_is_taken_and_exact(monkeypatch):
    import strfviewer.analysis.gradmaps as gradmaps

    calls = []
    real = gradmaps.frame_pull

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(gradmaps, "frame_pull", spy)
    torch.manual_seed(5)
    pre = make_prefiltering("ICAdaptation", F, kernel_size=3)
    model = StateNet(F, kernel_size=4, stride=4, hidden_channels=2, out_neurons=N, prefiltering=pre)
    for per_channel in (False, True):
        fast = strf_gradmap(model, T=12, per_channel=per_channel)
        slow = strf_gradmap(model, T=12, per_channel=per_channel, method="replicate")
        torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-7)
    assert len(calls) == 2
