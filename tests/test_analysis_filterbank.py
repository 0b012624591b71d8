"""analysis.filterbank: the learned filterbank of waveform models (centre, bandwidth, response, movement)."""

import math

import numpy as np
import pytest
import torch

import strfviewer.models as sm
from strfviewer.analysis.filterbank import half_power_bandwidth, learned_filterbank
from strfviewer.models import registry

FS = 16000
BUILD = {
    "CausalMel": {"audio_fs": FS, "n_mels": 12, "f_min": 300.0, "f_max": 6000.0, "win_ms": 32.0},
    "Gammatone": {"audio_fs": FS, "n_filters": 12, "f_min": 300.0, "f_max": 6000.0},
    "Gammatonegram": {"audio_fs": FS, "n_filters": 12, "f_min": 300.0, "f_max": 6000.0},
    "LEAF": {"audio_fs": FS, "n_filters": 12, "f_min": 300.0, "f_max": 6000.0},
    "SincNet": {"audio_fs": FS, "n_filters": 12, "f_min": 300.0, "f_max": 6000.0},
    "GaborFilterbank": {"sample_rate": FS, "n_bands": 12, "f_min_hz": 300.0, "f_max_hz": 6000.0},
}


def build(name, **changes):
    return registry.get("frontend", name)(**{**BUILD[name], **changes})


@pytest.mark.parametrize("name", sorted(BUILD))
def test_every_band_is_described(name):
    fb = learned_filterbank(build(name))
    assert fb.frontend == name and fb.sample_rate == FS and fb.n_bands == 12
    assert fb.response.shape == (12, 2048) and fb.freqs_hz[0] == 0 and fb.freqs_hz[-1] == FS / 2
    assert np.all(np.diff(fb.center_hz) > 0)                             # bands ordered low to high
    # the measured peak sits where the front-end says its band is centred
    assert np.all(np.abs(fb.peak_hz - fb.center_hz) < 0.5 * fb.bandwidth_hz + 30.0)
    assert np.all(fb.half_power_bandwidth_hz > 0) and np.all(np.isfinite(fb.half_power_bandwidth_hz))
    fixed = not any(True for _ in build(name).parameters())
    assert (fb.movement is None) == fixed


def test_sincnet_half_power_band_is_its_band_edges():
    fb = learned_filterbank(build("SincNet", kernel_size=401))
    wide = fb.bandwidth_hz > 300                                         # narrow bands are smeared by the window
    assert wide.sum() >= 6
    assert np.allclose(fb.half_power_bandwidth_hz[wide], fb.bandwidth_hz[wide], rtol=0.15)


def test_gammatonegram_centres_and_bandwidths_come_from_its_filters():
    fe = build("Gammatonegram")
    fb = learned_filterbank(fe)
    erb = fb.center_hz / 9.26449 + 24.7
    assert np.allclose(fb.bandwidth_hz, erb, rtol=1e-3)
    assert fb.center_hz[0] == pytest.approx(300.0, abs=0.05)
    # a 4th-order gammatone's half-power width is 0.887 of its ERB-scaled b = 1.019 ERB (Patterson 1992)
    assert np.allclose(fb.half_power_bandwidth_hz, 0.887 * erb, rtol=0.05)


def test_a_fresh_learnable_frontend_has_not_moved():
    for name in ("SincNet", "LEAF", "GaborFilterbank"):
        move = learned_filterbank(build(name)).movement
        assert np.allclose(move.center_shift_octaves, 0) and np.allclose(move.bandwidth_log2_ratio, 0)
        assert np.allclose(move.response_change, 0) and all(v == 0 for v in move.parameter_change.values())


def test_sincnet_movement_is_measured_per_band():
    fe = build("SincNet")
    centre = float(fe.center_frequencies()[3])
    with torch.no_grad():
        fe.low_hz_[3] += 100.0                  # both edges up by 100 Hz
        fe.band_hz_[7] *= 2.0                   # band 7 twice as wide (its upper edge moves up)
    move = learned_filterbank(fe).movement
    assert move.center_shift_octaves[3] == pytest.approx(math.log2((centre + 100.0) / centre), rel=1e-4)
    assert move.bandwidth_log2_ratio[7] == pytest.approx(1.0, abs=1e-4)
    untouched = np.setdiff1d(np.arange(12), [3, 7])
    assert np.allclose(move.center_shift_octaves[untouched], 0) and np.allclose(move.response_change[untouched], 0)
    assert move.response_change[3] > 0.1 and move.response_change[7] > 0.1
    assert move.parameter_change["low_hz_"] > 0 and move.parameter_change["band_hz_"] > 0
    assert move.center_shift_octaves[7] > 0
    assert move.summary()["max_abs_center_shift_octaves"] == pytest.approx(move.center_shift_octaves[[3, 7]].max())


def test_leaf_movement_after_a_few_training_steps():
    torch.manual_seed(0)
    model = sm.Linear(n_frequency_bands=12, temporal_window_size=3, out_neurons=1, wav2spec=build("LEAF"))
    optimiser = torch.optim.Adam(model.wav2spec.parameters(), lr=0.05)
    wav, target = 0.1 * torch.randn(2, 1, 3200), torch.randn(2, 1, 1, 40)
    for _ in range(5):
        optimiser.zero_grad()
        ((model(wav) - target) ** 2).mean().backward()
        optimiser.step()
    fb = learned_filterbank(model)                        # a model: its wav2spec is read
    move = fb.movement
    assert np.abs(move.center_shift_octaves).max() > 0.001 and move.response_change.max() > 0.001
    assert set(move.parameter_change) == {n for n, _ in model.wav2spec.named_parameters()}
    assert move.parameter_change["pcen_alpha_raw"] > 0
    assert np.allclose(fb.movement.init_center_hz, learned_filterbank(build("LEAF")).center_hz)


def test_spectrogram_models_and_bad_axes_are_refused():
    with pytest.raises(ValueError, match="Linear has no waveform front-end"):
        learned_filterbank(sm.Linear(n_frequency_bands=4, temporal_window_size=2))
    with pytest.raises(ValueError, match="freqs_hz must be an increasing"):
        learned_filterbank(build("SincNet"), freqs_hz=[1000.0, 500.0])


def test_half_power_bandwidth_of_a_known_shape():
    freqs = np.linspace(0, 1000, 1001)
    triangle = np.clip(1 - np.abs(freqs - 500) / 100, 0, None)[None, :]     # half-power at +-29.3 Hz
    assert half_power_bandwidth(freqs, triangle)[0] == pytest.approx(2 * 100 * (1 - 1 / math.sqrt(2)), abs=0.01)
