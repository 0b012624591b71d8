"""deepSTRF's five waveform front-ends in strfviewer: interface, tuning, gradients, bad input, rebuild from JSON.

(Equality with deepSTRF itself: tests/test_wav2spec_deepstrf_parity.py and the committed fixtures in
tests/test_deepstrf_wav2spec_fixtures.py; causality: tests/test_models_causality.py.)
"""

import json
import math

import pytest
import torch

import strfviewer.models as sm
from strfviewer.models import registry
from strfviewer.models.capture import rebuild_kwargs

FS = 16000
SMALL = {  # 8-12 bands between 300 Hz and 6 kHz
    "CausalMel": {"n_mels": 10, "f_min": 300.0, "f_max": 6000.0, "win_ms": 16.0},
    "Gammatone": {"n_filters": 10, "f_min": 300.0, "f_max": 6000.0},
    "Gammatonegram": {"n_filters": 10, "f_min": 300.0, "f_max": 6000.0},
    "LEAF": {"n_filters": 10, "f_min": 300.0, "f_max": 6000.0},
    "SincNet": {"n_filters": 10, "f_min": 300.0, "f_max": 6000.0},
}
FIXED = {"CausalMel", "Gammatone", "Gammatonegram"}
DEEPSTRF_NAMES = {"CausalMelSpectrogram": "CausalMel", "CausalGammatone": "Gammatone", "CausalLEAF": "LEAF",
                  "Gammatonegram": "Gammatonegram", "SincNet": "SincNet"}


def build(name, **changes):
    return registry.get("frontend", name)(audio_fs=FS, **{**SMALL[name], **changes})


def test_registry_names_and_deepstrf_aliases():
    assert {"CausalMel", "Gammatone", "Gammatonegram", "LEAF", "SincNet", "GaborFilterbank"} <= \
        set(registry.names("frontend"))
    for alias, name in DEEPSTRF_NAMES.items():
        assert registry.entry("frontend", alias).name == name
        assert registry.get("frontend", alias).__name__ == alias


@pytest.mark.parametrize("name", sorted(SMALL))
def test_interface_shapes_and_attributes(name):
    fe = build(name)
    assert fe.out_channels == 10 and fe.sample_rate == fe.audio_fs == FS
    assert fe.hop == 80 and fe.dt_ms == fe.hop_ms == 5.0
    wav = 0.1 * torch.randn(3, 1, 80 * 12 + 31)                   # a partial last frame is dropped
    y = fe(wav)
    assert y.shape == (3, 1, 10, 12) and torch.isfinite(y).all()
    torch.testing.assert_close(fe(wav[:, 0]), y)                   # (B, T_audio) accepted too
    torch.testing.assert_close(fe(wav[1:2]), y[1:2], rtol=1e-5, atol=1e-5)   # batch items independent
    assert fe.center_frequencies().shape == fe.bandwidths().shape == (10,)
    assert torch.all(fe.bandwidths() > 0)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_fixed_frontends_have_no_trainable_parameters(name):
    fe = build(name)
    trainable = [n for n, p in fe.named_parameters() if p.requires_grad]
    if name in FIXED:
        assert trainable == []
    else:
        assert trainable
        fe(0.1 * torch.randn(1, 1, 1600)).sum().backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in fe.parameters() if p.requires_grad)


def test_leaf_stages_can_be_frozen_as_in_deepstrf():
    fe = build("LEAF", learn_filters=False, learn_pooling=False, learn_pcen=False)
    assert not any(p.requires_grad for p in fe.parameters())
    assert len(list(fe.parameters())) == 7                          # still parameters: the same state dict


@pytest.mark.parametrize("name", sorted(SMALL))
def test_a_tone_drives_the_band_tuned_to_it_hardest(name):
    fe = build(name).eval()
    cfs = fe.center_frequencies()
    t = torch.arange(FS // 2) / FS
    for band in (2, 5, 8):
        tone = 0.3 * torch.sin(2 * math.pi * float(cfs[band]) * t).reshape(1, 1, -1)
        with torch.no_grad():
            y = fe(tone)[0, 0, :, 20:].mean(-1)
        assert abs(int(y.argmax()) - band) <= (1 if name == "SincNet" else 0), (name, band, y)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_frequency_response_peaks_at_the_centre_frequency(name):
    fe = build(name)
    freqs = torch.linspace(50, FS / 2 - 50, 2000)
    response = fe.frequency_response(freqs)
    assert response.shape == (10, 2000) and torch.all(response >= 0)
    peaks = freqs[response.argmax(dim=1)]
    cfs = fe.center_frequencies()
    assert torch.all((peaks - cfs).abs() < 0.5 * fe.bandwidths() + 30.0), (peaks, cfs)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_waveform_gradient_is_finite_through_silence(name):
    """A stimulus that starts with digital silence must not give a NaN waveform gradient (sqrt/cube roots)."""
    changes = {"compression": "cubic"} if name == "CausalMel" else {}
    fe = build(name, **changes)
    wav = torch.cat([torch.zeros(1, 1, 800), 0.1 * torch.randn(1, 1, 800)], dim=-1).requires_grad_(True)
    fe(wav).sum().backward()
    assert torch.isfinite(wav.grad).all() and wav.grad.abs().sum() > 0


@pytest.mark.parametrize("name,changes,match", [
    ("CausalMel", {"f_max": 9000.0}, r"f_max=9000 Hz needs a sample rate of at least 18000 Hz.*audio_fs=16000"),
    ("Gammatone", {"f_max": 12000.0}, r"f_max=12000 Hz needs a sample rate"),
    ("Gammatonegram", {"f_max": 8000.5}, r"f_max=8000.5 Hz needs a sample rate"),
    ("LEAF", {"f_max": 20000.0}, r"f_max=20000 Hz"),
    ("SincNet", {"f_max": 8001.0}, r"f_max=8001 Hz"),
    ("CausalMel", {"f_min": 7000.0, "f_max": 6000.0}, r"f_min=7000 Hz must be below f_max=6000 Hz"),
    ("CausalMel", {"n_mels": 0}, r"n_mels must be a positive integer, got 0"),
    ("Gammatone", {"n_filters": 2.5}, r"n_filters must be a positive integer, got 2.5"),
    ("LEAF", {"n_filters": -4}, r"n_filters must be a positive integer, got -4"),
    ("SincNet", {"kernel_size": 1}, r"kernel_size must be at least 2"),
    ("CausalMel", {"hop_ms": 0.0}, r"hop_ms must be a positive number, got 0.0"),
    ("CausalMel", {"hop_ms": 5.03}, r"hop_ms=5.03 is 80.48 samples at audio_fs=16000"),
    ("CausalMel", {"win_ms": 2.0}, r"win_ms=2 must be >= hop_ms=5"),
    ("Gammatonegram", {"window_ms": 6.0}, r"window_ms=6 must be <= hop_ms=5"),
    ("Gammatone", {"env_window_ms": 3.0}, r"env_window_ms=3 must be >= hop_ms=5"),
    ("Gammatone", {"compression": "sqrt"}, r"compression must be one of 'log', 'cuberoot', 'pcen', 'none', got 'sqrt'"),
    ("SincNet", {"activation": "relu"}, r"activation must be one of"),
    ("Gammatone", {"pcen_s": 1.5}, r"pcen_s must lie in \(0, 1\), got 1.5"),
])
def test_bad_settings_are_one_line_errors_naming_the_option(name, changes, match):
    with pytest.raises(ValueError, match=match) as err:
        build(name, **changes)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("fs", [0, -16000, 16000.5, "16k"])
def test_bad_sample_rate(fs):
    with pytest.raises(ValueError, match=r"audio_fs must be a positive whole number of Hz"):
        registry.get("frontend", "CausalMel")(audio_fs=fs)


def test_default_f_max_is_lowered_to_nyquist_as_in_deepstrf():
    fe = registry.get("frontend", "CausalMel")(audio_fs=16000)          # default f_max 22627 Hz
    assert fe.f_max == 8000.0 and fe.init_kwargs["f_max"] == 22627.0
    assert registry.get("frontend", "SincNet")(audio_fs=8000).f_max == 4000.0


@pytest.mark.parametrize("name", sorted(SMALL))
def test_a_stimulus_shorter_than_one_frame_is_refused(name):
    fe = build(name)
    with pytest.raises(ValueError, match=r"waveform of 79 samples is shorter than one frame \(80 samples = "
                                         r"hop_ms 5 ms at audio_fs=16000\)"):
        fe(torch.zeros(1, 1, 79))
    with pytest.raises(ValueError, match=r"expects a waveform \(B, 1, T_audio\)"):
        fe(torch.zeros(1, 2, 800))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_model_with_frontend_rebuilds_from_json(name):
    torch.manual_seed(0)
    model = sm.LinearNonlinear(n_frequency_bands=10, temporal_window_size=3, out_neurons=2, wav2spec=build(name))
    config = json.loads(json.dumps(model.init_kwargs))
    assert config["wav2spec"]["_registry"] == "frontend" and config["wav2spec"]["name"] == name
    clone = sm.LinearNonlinear(**rebuild_kwargs(config))
    clone.load_state_dict(model.state_dict(), strict=True)
    wav = 0.1 * torch.randn(1, 1, 1600)
    torch.testing.assert_close(clone.eval()(wav), model.eval()(wav))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_waveform_gradmap_through_every_frontend(name):
    """Per-neuron waveform gradmaps (batched over neurons) through each front-end: finite, neuron-specific,
    zero after the read-out frame (causality seen from the gradient)."""
    from strfviewer.analysis.gradmaps import waveform_gradmap

    torch.manual_seed(0)
    model = sm.Linear(n_frequency_bands=10, temporal_window_size=4, out_neurons=3, wav2spec=build(name))
    wav = 0.1 * torch.randn(80 * 20)
    maps = waveform_gradmap(model, wav, neuron=[0, 2], reduce="sum")
    assert maps.shape == (2, 1600) and torch.isfinite(maps).all()
    assert maps.abs().sum(dim=1).min() > 0 and not torch.allclose(maps[0], maps[1])
    last = waveform_gradmap(model, wav[:1000], neuron=1, reduce="last")  # 12 whole frames, 40 samples cut
    assert torch.all(last[960:] == 0) and last[:960].abs().sum() > 0
