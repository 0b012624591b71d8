"""Waveform front-ends and wav-native models: shapes, tuning, causality, checks, rebuild from JSON."""

import json
import math

import pytest
import torch

import strfviewer.models as sm
from strfviewer.models.capture import rebuild_kwargs
from strfviewer.models.factory import ModelSpec, build_model, describe, spec_of

SR, DT, F = 8000, 5.0, 8            # 40 samples per frame


def _frontend(**kw):
    return sm.GaborFilterbank(n_bands=F, sample_rate=SR, dt_ms=DT, f_min_hz=300, f_max_hz=3000, **kw)


def test_output_shape_and_frame_count():
    fe = _frontend()
    assert fe.out_channels == F and fe.hop == 40
    y = fe(torch.randn(2, 1, 40 * 25 + 17))
    assert y.shape == (2, 1, F, 25)
    assert torch.all(y >= 0)
    assert torch.equal(fe(torch.zeros(1, 1, 400)), torch.zeros(1, 1, F, 10))   # silence -> 0


def test_a_tone_excites_the_band_tuned_to_it():
    fe = _frontend(learnable=False)
    cfs = fe.center_frequencies()
    t = torch.arange(SR // 2) / SR
    for band in (1, 4, 6):
        tone = torch.sin(2 * math.pi * cfs[band] * t).reshape(1, 1, -1)
        y = fe(tone)[0, 0, :, 20:].mean(-1)
        assert int(y.argmax()) == band


def test_frontend_parameters_learn():
    fe = _frontend()
    assert {n for n, _ in fe.named_parameters()} == {"log_cf", "log_bw"}
    fe(torch.randn(1, 1, 800)).sum().backward()
    assert fe.log_cf.grad.abs().sum() > 0 and fe.log_bw.grad.abs().sum() > 0
    assert sum(p.numel() for p in _frontend(learnable=False).parameters()) == 0


@pytest.mark.parametrize("family,hyper", [
    ("LinearNonlinear", {}),
    ("StateNet", {"kernel_size": 3, "stride": 2, "hidden_channels": 2}),
    ("Transformer", {"embedding_dim": 4}),
])
def test_wav_native_models_are_causal(family, hyper):
    torch.manual_seed(0)
    model = getattr(sm, family)(n_frequency_bands=F, out_neurons=2, wav2spec=_frontend(), **hyper).eval()
    assert model.is_wav_native
    hop, n_frames, cut = 40, 30, 17
    wav = 0.01 * torch.randn(1, 1, hop * n_frames)
    wav2 = wav.clone()
    wav2[..., (cut + 1) * hop:] = 0.05 * torch.randn(1, 1, (n_frames - cut - 1) * hop)
    with torch.no_grad():
        y1, y2 = model(wav), model(wav2)
    assert y1.shape == (1, 2, 1, n_frames)
    assert (y1[..., : cut + 1] - y2[..., : cut + 1]).abs().max() < 1e-6
    assert (y1[..., cut + 1:] - y2[..., cut + 1:]).abs().max() > 1e-6


def test_frontend_band_count_must_match_the_model():
    with pytest.raises(ValueError, match="out_channels"):
        sm.Linear(n_frequency_bands=F + 1, temporal_window_size=3, wav2spec=_frontend())


def test_wav_native_model_rebuilds_from_json_and_factory():
    model = sm.LinearNonlinear(n_frequency_bands=F, temporal_window_size=4, out_neurons=2, wav2spec=_frontend())
    cfg = json.loads(json.dumps(model.init_kwargs))
    assert cfg["wav2spec"]["_registry"] == "frontend" and cfg["wav2spec"]["name"] == "GaborFilterbank"
    clone = sm.LinearNonlinear(**rebuild_kwargs(cfg))
    clone.load_state_dict(model.state_dict(), strict=True)
    wav = torch.randn(1, 1, 800)
    assert torch.equal(clone.eval()(wav), model.eval()(wav))
    spec = spec_of(model)
    assert spec.family == "LinearNonlinear" and spec.frontend == "GaborFilterbank" and "wav2spec" not in spec.hyper
    built = build_model(spec, F, 2)
    assert built.is_wav_native and built(wav).shape == (1, 2, 1, 20)
    assert describe(built)[0].class_name == "GaborFilterbank" and describe(built)[0].n_params == 2 * F
