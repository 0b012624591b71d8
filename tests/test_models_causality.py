"""Strict causality of every model, kernel, prefilter and StateNet recurrence (eval mode): changing the
stimulus after frame t never changes the output at or before t."""

import pytest
import torch

import strfviewer.models as sm
from strfviewer.models import registry
from strfviewer.models.factory import ModelSpec, build_model

F, N, T_STIM, T_CUT = 12, 3, 40, 23


def _assert_causal(model, x, cut, frames_per_input=1):
    """Output frames <= cut must not change when the input after frame ``cut`` changes."""
    model.eval()
    torch.manual_seed(1)
    with torch.no_grad():
        y1 = model(x)
        x2 = x.clone()
        start = (cut + 1) * frames_per_input
        x2[..., start:] = torch.rand_like(x2[..., start:]) * 3.0
        y2 = model(x2)
    assert y1.shape == y2.shape
    assert y1.shape[-1] >= cut + 2
    past = (y1[..., : cut + 1] - y2[..., : cut + 1]).abs().max().item()
    future = (y1[..., cut + 1:] - y2[..., cut + 1:]).abs().max().item()
    assert past < 1e-6, f"output at or before frame {cut} changed by {past} ({type(model).__name__})"
    assert future > 1e-6, "the change after the cut should reach the output (else the test proves nothing)"


def _spec_input(seed=0):
    torch.manual_seed(seed)
    return torch.rand(2, 1, F, T_STIM)


SPECS = [
    ModelSpec("Linear", T=5),
    ModelSpec("LinearNonlinear", T=5),
    *[ModelSpec("LinearNonlinear", T=5, kernel=k) for k in registry.names("kernel")],
    *[ModelSpec("Linear", T=5, prefilter=p, prefilter_kwargs={"kernel_size": 6}) for p in ("AdapTrans", "ICAdaptation")],
    *[ModelSpec("Linear", T=5, activation=a) for a in ("ParametricSigmoid", "ParametricDoubleExponential")],
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.family}-{s.kernel}-{s.prefilter}-{s.activation}-{s.rnn_type}")
def test_model_is_causal(spec):
    if spec.family not in registry.names("model"):
        pytest.skip(f"{spec.family} not registered")
    torch.manual_seed(0)
    model = build_model(spec, F, N)
    _assert_causal(model, _spec_input(), T_CUT)


@pytest.mark.parametrize("kernel", registry.names("kernel"))  # every registered kernel, a new one included
def test_causal_strf_conv_is_causal(kernel):
    conv = sm.CausalSTRFConv(F, 6, 2, 4, kernel=sm.kernels.make_kernel(kernel, F, 6, 2, 4))
    x = torch.rand(2, 2, F, T_STIM)
    _assert_causal(conv, x, T_CUT)


@pytest.mark.parametrize("kind", registry.names("prefilter"))  # every registered prefilter, a new one included
def test_prefilters_are_causal(kind):
    from strfviewer.models.factory import make_prefilter
    from strfviewer.models.options import options_of

    declared = {o.name for o in options_of("prefilter", kind)}
    pre = make_prefilter(kind, F, **{k: v for k, v in (("dt", 5.0), ("kernel_size", 8)) if k in declared})
    _assert_causal(pre, _spec_input(), T_CUT)


RECURRENT = [ModelSpec("StateNet", rnn_type=r, hyper={"kernel_size": 4, "stride": 2, "hidden_channels": 2})
             for r in ("GRU", "LSTM", "RNN", "LMU", "Mamba", "S4", "S4D")]
OTHERS = [
    ModelSpec("NetworkReceptiveField", T=5, hyper={"n_hidden": 4}),
    ModelSpec("NetworkReceptiveField", T=5, kernel="gaussian", hyper={"n_hidden": 4}),
    ModelSpec("DNet", T=5, hyper={"n_hidden": 4}),
    ModelSpec("DNet", T=5, kernel="separable", prefilter="AdapTrans", prefilter_kwargs={"kernel_size": 5},
              hyper={"n_hidden": 4}),
    ModelSpec("ConvNet2D", hyper={"kernel_size": [3, 4], "c_hidden": 3, "n_hidden": 5}),
    ModelSpec("Transformer", hyper={"embedding_dim": 8, "n_heads": 2}),
    ModelSpec("Transformer", hyper={"embedding_dim": 4, "freq_patch_size": 6, "time_patch_size": 3,
                                    "context_window": 5}),
    ModelSpec("StateNet", rnn_type="GRU", prefilter="ICAdaptation", prefilter_kwargs={"kernel_size": 5},
              hyper={"kernel_size": 4, "stride": 2, "hidden_channels": 2, "connectivity": "FC"}),
    ModelSpec("StateNet", rnn_type="LSTM", hyper={"kernel_size": 4, "stride": 2, "hidden_channels": 2,
                                                  "connectivity": "CONV"}),
]


@pytest.mark.parametrize("spec", RECURRENT + OTHERS,
                         ids=lambda s: f"{s.family}-{s.kernel}-{s.prefilter}-{s.rnn_type}")
def test_other_families_are_causal(spec):
    torch.manual_seed(0)
    model = build_model(spec, F, N)
    _assert_causal(model, _spec_input(), T_CUT)


def test_transformer_context_window_limits_memory():
    """With context_window=w, output frame t ignores input frames <= t - w (for time_patch_size 1)."""
    torch.manual_seed(0)
    model = build_model(ModelSpec("Transformer", hyper={"embedding_dim": 8, "context_window": 4}), F, N).eval()
    x = _spec_input()
    x2 = x.clone()
    x2[..., :10] = torch.rand_like(x2[..., :10])
    with torch.no_grad():
        y1, y2 = model(x), model(x2)
    assert torch.allclose(y1[..., 13:], y2[..., 13:], atol=1e-5)     # frames >= 13 only see >= 10
    assert not torch.allclose(y1[..., 10:13], y2[..., 10:13], atol=1e-5)


def test_s4_fft_path_is_causal_to_rounding():
    """Above fft_threshold the S4D layer convolves by FFT: past outputs may move by float rounding only."""
    from strfviewer.models.ssm import S4DBlock

    torch.manual_seed(0)
    block = S4DBlock(6, d_state=8, fft_threshold=8)
    x = torch.randn(1, 40, 6)
    x2 = x.clone()
    x2[:, 25:] = torch.randn(1, 15, 6)
    with torch.no_grad():
        y1, y2 = block(x)[0], block(x2)[0]
        direct = S4DBlock(6, d_state=8)
        direct.load_state_dict(block.state_dict())
        y3 = direct(x)[0]
    assert (y1[:, :25] - y2[:, :25]).abs().max() < 1e-5
    assert torch.allclose(y1, y3, atol=1e-5)                         # FFT and direct paths agree


# ---- waveform front-ends: output frame k depends on audio samples < (k + 1) * hop only ------------------

WAV_FS, WAV_FRAMES, WAV_CUT = 16000, 30, 17
WAV_FRONTENDS = {  # small but otherwise default settings of every registered front-end
    "GaborFilterbank": {"n_bands": 8, "sample_rate": WAV_FS, "f_min_hz": 300.0, "f_max_hz": 6000.0},
    "CausalMel": {"audio_fs": WAV_FS, "n_mels": 8},
    "Gammatone": {"audio_fs": WAV_FS, "n_filters": 8},
    "Gammatonegram": {"audio_fs": WAV_FS, "n_filters": 8},
    "LEAF": {"audio_fs": WAV_FS, "n_filters": 8},
    "SincNet": {"audio_fs": WAV_FS, "n_filters": 8},
}
WAV_VARIANTS = [  # options that change the framing
    ("Gammatone", {"compression": "pcen", "env_window_ms": 12.0}),
    ("Gammatonegram", {"window_ms": 5.0}),
    ("SincNet", {"envelope": True, "env_window_ms": 12.0}),
    ("SincNet", {"kernel_size": 40}),                 # kernel shorter than a hop: read at the bin's start
    ("LEAF", {"pool_ms": 7.0, "kernel_ms": 30.0}),
    ("CausalMel", {"win_ms": 32.0, "compression": "cubic"}),
]


def _wav_frontend(name, **changes):
    kwargs = {**WAV_FRONTENDS[name], **changes}
    return registry.get("frontend", name)(**kwargs)


def test_every_registered_frontend_is_covered():
    assert set(registry.names("frontend")) == set(WAV_FRONTENDS)


@pytest.mark.parametrize("name,changes", [(n, {}) for n in WAV_FRONTENDS] + WAV_VARIANTS,
                         ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}={x}" for k, x in v.items()))
def test_waveform_frontends_are_causal(name, changes):
    frontend = _wav_frontend(name, **changes)
    hop = frontend.hop
    torch.manual_seed(0)
    wav = 0.1 * torch.randn(2, 1, hop * WAV_FRAMES)
    _assert_causal(frontend, wav, WAV_CUT, frames_per_input=hop)


@pytest.mark.parametrize("name", sorted(WAV_FRONTENDS))
def test_wav_native_models_are_causal_with_every_frontend(name):
    torch.manual_seed(0)
    frontend = _wav_frontend(name)
    model = sm.LinearNonlinear(n_frequency_bands=8, temporal_window_size=4, out_neurons=2, wav2spec=frontend)
    wav = 0.1 * torch.randn(1, 1, frontend.hop * WAV_FRAMES)
    _assert_causal(model, wav, WAV_CUT, frames_per_input=frontend.hop)
