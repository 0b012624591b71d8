"""Gradmaps: sign convention, the LN closed form, modes and determinism, readouts, per-channel maps,
waveform gradmaps. Small stand-in models with the four-slot structure exercise the machinery on its own;
the real model families are checked where they are importable."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from strfviewer.analysis.gradmaps import (
    METHODS,
    default_gradmap_T,
    population_gradmap,
    strf_gradmap,
    waveform_gradmap,
)

N_NEURONS, N_FREQS = 6, 8


# ---------------------------------------------------------------------------------------------- stand-ins


class CausalSTRF(nn.Module):
    """Readout: per-neuron causal STRF (N, C, F, T), per-neuron BatchNorm, output nonlinearity."""

    def __init__(self, F, T, C_in, N, activation=None):
        super().__init__()
        self.T = T
        self.conv = nn.Conv2d(C_in, N, kernel_size=(F, T))
        self.bn = nn.BatchNorm1d(N)
        self.activation = activation or nn.Identity()

    def forward(self, x):                                     # (B, C, F, T) -> (B, N, 1, T)
        y = self.conv(nn.functional.pad(x, (self.T - 1, 0)))[:, :, 0, :]
        return self.activation(self.bn(y)).unsqueeze(2)


class OnOff(nn.Module):
    """A tiny ON/OFF prefilter: deviation from a causal running mean, rectified both ways (softly)."""

    out_channels = 2

    def __init__(self, decay=0.6):
        super().__init__()
        self.decay = nn.Parameter(torch.tensor(decay))

    def forward(self, x):                                     # (B, 1, F, T) -> (B, 2, F, T)
        mean, means = torch.zeros_like(x[..., 0]), []
        for t in range(x.shape[-1]):
            mean = self.decay * mean + (1 - self.decay) * x[..., t]
            means.append(mean)
        change = x - torch.stack(means, dim=-1)
        return torch.cat([nn.functional.softplus(change), nn.functional.softplus(-change)], dim=1)


class Slotted(nn.Module):
    """The four-slot template: wav2spec -> prefiltering -> core -> readout."""

    def __init__(self, F, T, N, readout, prefiltering=None, core=None):
        super().__init__()
        self.F, self.T, self.N = F, T, N
        self.wav2spec = nn.Identity()
        self.prefiltering = prefiltering or nn.Identity()
        self.C_in = getattr(self.prefiltering, "out_channels", 1)
        self.core = core or nn.Identity()
        self.readout = readout

    def forward(self, x):
        return self.readout(self.core(self.prefiltering(self.wav2spec(x))))


def make_ln(T=5, N=N_NEURONS, F=N_FREQS, prefilter=False, seed=0):
    torch.manual_seed(seed)
    pre = OnOff() if prefilter else None
    C_in = 2 if prefilter else 1
    model = Slotted(F, T, N, CausalSTRF(F, T, C_in, N, activation=nn.Sigmoid()), prefiltering=pre)
    bn = model.readout.bn
    bn.running_mean.uniform_(-0.5, 0.5)
    bn.running_var.uniform_(0.5, 2.0)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-1, 1)
    return model


class FrameReadout(nn.Module):
    """Per-time-step readout (B, H, T) -> (B, N, 1, T) through a narrow hidden layer."""

    def __init__(self, H, N, hidden=None):
        super().__init__()
        layers = [nn.Linear(H, N)] if hidden is None else [nn.Linear(H, hidden), nn.Tanh(), nn.Linear(hidden, N)]
        self.net = nn.Sequential(*layers, nn.Softplus())

    def forward(self, h):
        return self.net(h.transpose(1, 2)).transpose(1, 2).unsqueeze(2)


class TinyGRU(nn.Module):
    """StateNet-like: per-frame spectral encoder, GRU, per-frame readout; a custom forward."""

    def __init__(self, F=N_FREQS, N=N_NEURONS, H=5, hidden=3, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.F, self.T, self.N, self.C_in = F, 1, N, 1
        self.wav2spec, self.prefiltering, self.core = nn.Identity(), nn.Identity(), nn.Identity()
        self.encoder = nn.Sequential(nn.Linear(F, H), nn.Sigmoid())
        self.rnn = nn.GRU(H, H, batch_first=True)
        self.readout = FrameReadout(H, N, hidden)

    def forward(self, x):
        y = self.prefiltering(self.wav2spec(x))[:, 0].transpose(1, 2)     # (B, T, F)
        y, _ = self.rnn(self.encoder(y))
        return self.readout(y.transpose(1, 2))


class TinyTransformer(nn.Module):
    """Attention model with heavy dropout: gradmaps must not see it."""

    def __init__(self, F=N_FREQS, N=N_NEURONS, D=8, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.F, self.T, self.N, self.C_in = F, 3, N, 1
        self.wav2spec, self.prefiltering, self.core = nn.Identity(), nn.Identity(), nn.Identity()
        self.embed = nn.Linear(F, D)
        self.layer = nn.TransformerEncoderLayer(D, nhead=2, dim_feedforward=16, dropout=0.5, batch_first=True)
        self.readout = FrameReadout(D, N)

    def forward(self, x):
        y = self.embed(self.prefiltering(self.wav2spec(x))[:, 0].transpose(1, 2))     # (B, T, D)
        L = y.shape[1]
        mask = torch.triu(torch.full((L, L), float("-inf")), diagonal=1)
        return self.readout(self.layer(y, src_mask=mask).transpose(1, 2))


class FrameFrontEnd(nn.Module):
    """Learnable waveform front-end: strided 1-D conv -> log(1 + power): (B, 1, T_audio) -> (B, 1, F, T)."""

    sample_rate = 1000

    def __init__(self, F=N_FREQS, hop=10, win=20):
        super().__init__()
        self.out_channels, self.hop, self.win = F, hop, win
        self.filters = nn.Conv1d(1, F, kernel_size=win, stride=hop, bias=False)

    def forward(self, wave):
        frames = self.filters(nn.functional.pad(wave, (self.win - self.hop, 0)))
        return torch.log1p(frames ** 2).unsqueeze(1)


def pearson(a, b):
    a, b = np.ravel(np.asarray(a, float)), np.ravel(np.asarray(b, float))
    return float(np.corrcoef(a, b)[0, 1])


def direct_gradients(model, T, objective):
    """Reference: one backward per neuron, the slow obvious way, in eval mode."""
    model.eval()
    maps = []
    for n in range(model.N):
        x = torch.zeros(1, 1, model.F, T, dtype=next(model.parameters()).dtype, requires_grad=True)
        (g,) = torch.autograd.grad(objective(model(x)[0, :, 0, :])[n], x)
        maps.append(g[0])
    return torch.stack(maps)


ALL_STANDINS = {
    "ln": lambda: make_ln(),
    "ln_onoff": lambda: make_ln(prefilter=True),
    "gru": lambda: TinyGRU(),
    "gru_wide": lambda: TinyGRU(H=9, hidden=None),
    "transformer": lambda: TinyTransformer(),
}


# ---------------------------------------------------------------------------------------------- the maths


def test_ln_gradmap_is_minus_slope_times_kernel():
    model = make_ln()
    maps = strf_gradmap(model)
    assert maps.shape == (N_NEURONS, 1, N_FREQS, 5)
    bn = model.readout.bn
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)                            # BatchNorm affine
    pre = bn.bias + scale * (model.readout.conv.bias - bn.running_mean)                # value at x0 = 0
    slope = torch.sigmoid(pre) * (1 - torch.sigmoid(pre))
    expected = -(slope * scale)[:, None, None, None] * model.readout.conv.weight
    torch.testing.assert_close(maps, expected.detach(), rtol=1e-5, atol=1e-7)
    for n in range(N_NEURONS):
        assert pearson(-maps[n], model.readout.conv.weight[n].detach()) >= 0.999


@pytest.mark.parametrize("name", sorted(ALL_STANDINS))
def test_every_method_matches_one_backward_per_neuron(name):
    model = ALL_STANDINS[name]()
    T = 7
    reference = direct_gradients(model, T, lambda r: -r[:, -1])
    for method in METHODS:
        torch.testing.assert_close(strf_gradmap(model, T=T, method=method), reference, rtol=1e-4, atol=1e-6,
                                   msg=f"{name} / {method}")


def test_population_gradmap_is_the_mean_and_the_gradient_of_the_mean_response():
    model = TinyGRU()
    maps = strf_gradmap(model, T=9)
    torch.testing.assert_close(population_gradmap(model, T=9), maps.mean(0))
    torch.testing.assert_close(population_gradmap(model, neurons=[1, 4], T=9), maps[[1, 4]].mean(0))
    x = torch.zeros(1, 1, N_FREQS, 9, requires_grad=True)
    (g,) = torch.autograd.grad(-model(x)[0, :, 0, -1].mean(), x)
    torch.testing.assert_close(population_gradmap(model, T=9), g[0], rtol=1e-4, atol=1e-7)
    with pytest.raises(ValueError):
        population_gradmap(model, neurons=[])
    with pytest.raises(IndexError):
        population_gradmap(model, neurons=[N_NEURONS])
    onoff = make_ln(prefilter=True)
    torch.testing.assert_close(population_gradmap(onoff, T=7, readout="mean", per_channel=True),
                               strf_gradmap(onoff, T=7, readout="mean", per_channel=True).mean(0))
    assert all(p.grad is None for p in onoff.parameters()) and onoff.training


# ---------------------------------------------------------------------------------------------- modes


def test_eval_mode_is_used_and_each_module_mode_restored():
    model = make_ln(prefilter=True)
    model.train()
    model.prefiltering.eval()                  # a frozen part kept in eval inside a training model
    before = {name: m.training for name, m in model.named_modules()}
    running = model.readout.bn.running_mean.clone()
    train_maps = strf_gradmap(model)
    assert {name: m.training for name, m in model.named_modules()} == before
    torch.testing.assert_close(model.readout.bn.running_mean, running)   # no batch statistics touched
    model.eval()
    torch.testing.assert_close(train_maps, strf_gradmap(model))


def test_no_parameter_gradients_and_deterministic():
    for name, build in ALL_STANDINS.items():
        model = build()
        first = strf_gradmap(model, T=6)
        assert all(p.grad is None for p in model.parameters()), name
        assert torch.equal(first, strf_gradmap(model, T=6)), name


def test_transformer_with_dropout_gives_the_same_gradmap_in_train_mode():
    model = TinyTransformer().train()
    a, b = strf_gradmap(model, T=6), strf_gradmap(model, T=6)
    assert torch.equal(a, b)
    assert model.training and model.layer.dropout.training
    assert a.abs().sum() > 0


def test_default_T_is_the_models_reach():
    assert default_gradmap_T(make_ln(T=5)) == 5
    assert strf_gradmap(make_ln(T=5)).shape[-1] == 5
    assert default_gradmap_T(TinyGRU()) == 20                  # 100 ms at 5 ms per frame
    assert default_gradmap_T(TinyGRU(), dt_ms=10.0) == 10
    assert default_gradmap_T(TinyTransformer()) == 20
    assert strf_gradmap(TinyGRU()).shape == (N_NEURONS, 1, N_FREQS, 20)
    stated = TinyGRU()
    stated.gradmap_T = 13
    assert default_gradmap_T(stated) == 13


def test_memory_shows_in_a_recurrent_gradmap_beyond_a_convolutional_window():
    maps = strf_gradmap(TinyGRU(), T=20)
    assert maps[..., :10].abs().amax() > 0        # frames 10..19 back still matter


def test_bad_arguments_are_refused():
    model = make_ln()
    with pytest.raises(ValueError, match="readout"):
        strf_gradmap(model, readout="max")
    with pytest.raises(ValueError, match="method"):
        strf_gradmap(model, method="magic")
    with pytest.raises(ValueError, match="T"):
        strf_gradmap(model, T=0)
    with pytest.raises(TypeError, match="F"):
        strf_gradmap(nn.Linear(3, 3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_gradmap_on_cuda_matches_cpu():
    model = TinyGRU()
    cpu = strf_gradmap(model, T=8)
    gpu = strf_gradmap(model.cuda(), T=8)
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------------------------- readouts


def test_last_readout_is_bit_for_bit_the_default():
    for build in ALL_STANDINS.values():
        model = build()
        assert torch.equal(strf_gradmap(model, T=6, readout="last"), strf_gradmap(model, T=6))


@pytest.mark.parametrize("name", ["ln", "gru", "transformer"])
def test_mean_peak_and_callable_readouts(name):
    model = ALL_STANDINS[name]()
    T = 6
    mean_ref = direct_gradients(model, T, lambda r: -r.mean(-1))
    torch.testing.assert_close(strf_gradmap(model, T=T, readout="mean"), mean_ref, rtol=1e-4, atol=1e-6)
    with torch.no_grad():
        null_response = model(torch.zeros(1, 1, N_FREQS, T))[0, :, 0, :]
    spread = null_response.max(-1).values - null_response.min(-1).values
    if name == "gru":     # a transient: each neuron's peak is a clear maximum
        assert (spread > 1e-4).all()
        peak_at = null_response.argmax(-1)
    else:                 # a flat response to silence: the peak is taken at the last step
        assert (spread < 1e-5).all()
        peak_at = torch.full((model.N,), T - 1)
    peak_ref = direct_gradients(model, T, lambda r: -r[torch.arange(r.shape[0]), peak_at])
    torch.testing.assert_close(strf_gradmap(model, T=T, readout="peak"), peak_ref, rtol=1e-4, atol=1e-6)
    weights = torch.linspace(0, 1, T)
    custom = strf_gradmap(model, T=T, readout=lambda r: (r * weights).sum(-1))
    custom_ref = direct_gradients(model, T, lambda r: -(r * weights).sum(-1))
    torch.testing.assert_close(custom, custom_ref, rtol=1e-4, atol=1e-6)


def test_a_readout_callable_must_keep_one_value_per_neuron():
    with pytest.raises(ValueError, match="readout callable"):
        strf_gradmap(make_ln(), readout=lambda r: r.sum())


# ---------------------------------------------------------------------------------------------- per channel


def _with_prefilter_output_shifted(model, delta):
    handle = model.prefiltering.register_forward_hook(lambda m, a, out: out + delta)
    return handle


def test_per_channel_maps_match_finite_differences_at_the_prefilter_output():
    model = make_ln(T=4, prefilter=True).double().eval()
    T = 6
    maps = strf_gradmap(model, T=T, per_channel=True)
    assert maps.shape == (N_NEURONS, 2, N_FREQS, T)
    x0 = torch.zeros(1, 1, N_FREQS, T, dtype=torch.float64)
    eps = 1e-6
    rng = np.random.default_rng(0)
    positions = [(c, int(rng.integers(N_FREQS)), t) for c in (0, 1) for t in (T - 1, T - 2, T - 4)]
    for c, f, t in positions:
        delta = torch.zeros(1, 2, N_FREQS, T, dtype=torch.float64)
        delta[0, c, f, t] = eps
        with torch.no_grad():
            handle = _with_prefilter_output_shifted(model, delta)
            up = model(x0)[0, :, 0, -1]
            handle.remove()
            handle = _with_prefilter_output_shifted(model, -delta)
            down = model(x0)[0, :, 0, -1]
            handle.remove()
        finite = -(up - down) / (2 * eps)
        torch.testing.assert_close(maps[:, c, f, t], finite, rtol=1e-6, atol=1e-9)


def test_raw_gradmap_is_the_chain_rule_through_the_prefilter():
    model = make_ln(T=4, prefilter=True).double()
    T = 6
    per_channel = strf_gradmap(model, T=T, per_channel=True)
    raw = strf_gradmap(model, T=T)
    x0 = torch.zeros(1, 1, N_FREQS, T, dtype=torch.float64, requires_grad=True)
    channels = model.prefiltering(x0)
    chained = torch.stack([torch.autograd.grad(channels, x0, per_channel[n:n + 1], retain_graph=True)[0][0]
                           for n in range(N_NEURONS)])
    torch.testing.assert_close(raw, chained, rtol=1e-9, atol=1e-12)
    assert not torch.allclose(per_channel[:, 0], per_channel[:, 1])     # ON and OFF differ


def test_per_channel_without_prefilter_is_the_raw_map():
    model = TinyGRU()
    torch.testing.assert_close(strf_gradmap(model, T=5, per_channel=True), strf_gradmap(model, T=5))


# ---------------------------------------------------------------------------------------------- waveform


def make_wav_model(seed=0):
    torch.manual_seed(seed)
    model = TinyGRU(seed=seed)
    model.wav2spec = FrameFrontEnd()
    return model


def test_waveform_gradmap_shapes_and_agreement_with_single_neurons():
    model = make_wav_model()
    wave = 0.1 * torch.randn(400, generator=torch.Generator().manual_seed(1))
    all_maps = waveform_gradmap(model, wave)
    assert all_maps.shape == (N_NEURONS, 400)
    one = waveform_gradmap(model, wave.numpy(), neuron=2)
    assert one.shape == (400,)
    torch.testing.assert_close(one, all_maps[2])
    torch.testing.assert_close(waveform_gradmap(model, wave, neuron=[0, 3]), all_maps[[0, 3]])
    x = wave.reshape(1, 1, -1).clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model.eval()(x)[0, 2, 0, -1], x)
    torch.testing.assert_close(one, g.reshape(-1), rtol=1e-4, atol=1e-8)
    assert all(p.grad is None for p in model.parameters())


def test_waveform_gradmap_reduces_and_silence():
    model = make_wav_model()
    silent = waveform_gradmap(model, None, duration_ms=300)          # near-silence at 1 kHz
    assert silent.shape == (N_NEURONS, 300)
    assert torch.isfinite(silent).all() and silent.abs().sum() > 0
    for reduce in ("last", "peak", "sum"):
        assert waveform_gradmap(model, None, reduce=reduce, duration_ms=200).shape == (N_NEURONS, 200)
    with pytest.raises(ValueError, match="reduce"):
        waveform_gradmap(model, None, reduce="mean")
    with pytest.raises(IndexError):
        waveform_gradmap(model, None, neuron=N_NEURONS)


def test_waveform_gradmap_of_a_convolutional_model_is_zero_before_its_reach():
    torch.manual_seed(0)
    model = make_ln(T=3)
    model.wav2spec = FrameFrontEnd(hop=10, win=20)
    wave = 0.1 * torch.randn(400, generator=torch.Generator().manual_seed(2))
    maps = waveform_gradmap(model, wave, reduce="last")
    # the last frame sees 3 frames of 20 samples hopping by 10: the last 40 samples
    assert maps[:, :-40].abs().max() == 0
    assert maps[:, -40:].abs().max() > 0


def test_waveform_gradmap_refuses_a_spectrogram_model():
    with pytest.raises(TypeError, match="wav-native"):
        waveform_gradmap(make_ln(), torch.zeros(100))


def test_per_channel_maps_agree_across_methods_and_wav_models_get_spectrogram_maps():
    model = make_ln(prefilter=True)
    maps = [strf_gradmap(model, T=6, per_channel=True, method=m) for m in METHODS]
    for other in maps[1:]:
        torch.testing.assert_close(other, maps[0], rtol=1e-4, atol=1e-7)
    wav_model = make_wav_model()
    spectro = TinyGRU()                              # same seed: the same weights without the front-end
    torch.testing.assert_close(strf_gradmap(wav_model, T=8), strf_gradmap(spectro, T=8))
    assert isinstance(wav_model.wav2spec, FrameFrontEnd)          # the front-end is put back


class _CubePlusIdentity(torch.autograd.Function):
    """A hand-written autograd Function (as some state-space layers use): x^3 + x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3 + x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (3 * x ** 2 + 1)


class CustomFunctionCore(nn.Module):
    def __init__(self, F, H):
        super().__init__()
        self.lin = nn.Linear(F, H)

    def forward(self, x):                                      # (B, 1, F, T) -> (B, H, T)
        return _CubePlusIdentity.apply(torch.tanh(self.lin(x[:, 0].transpose(1, 2)))).transpose(1, 2)


def test_custom_autograd_functions_in_the_core():
    torch.manual_seed(0)
    model = Slotted(N_FREQS, 3, N_NEURONS, FrameReadout(5, N_NEURONS, hidden=2), core=CustomFunctionCore(N_FREQS, 5))
    reference = direct_gradients(model, 7, lambda r: -r[:, -1])
    for method in METHODS:
        torch.testing.assert_close(strf_gradmap(model, T=7, method=method), reference, rtol=1e-4, atol=1e-7)


def test_operators_refusing_batching_fall_back_to_replicated_stimuli(monkeypatch):
    import strfviewer.analysis.gradmaps as gradmaps

    def refuse(*args, **kwargs):
        raise RuntimeError("vmap: this operator has no batching rule")

    model = TinyGRU()
    expected = strf_gradmap(model, T=6, method="replicate")
    monkeypatch.setattr(gradmaps, "_one_forward", refuse)
    torch.testing.assert_close(strf_gradmap(model, T=6), expected)
    monkeypatch.setattr(gradmaps, "_one_forward", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("other")))
    with pytest.raises(RuntimeError, match="other"):
        strf_gradmap(model, T=6)
