"""Sonification: the synthesised sound's spectrogram (through the app's front-end) matches the target."""

import threading

import numpy as np
import pytest
import torch

from strfviewer.analysis import sonify
from strfviewer.data.spectrogram import SpectrogramConfig, band_frequencies, compute_spectrogram

CFG = SpectrogramConfig(n_bands=16, dt_ms=5.0, f_min_hz=300.0, f_max_hz=6000.0)


def blob_strf(F=16, T=12):
    f = np.arange(F)[:, None]
    t = np.arange(T)[None, :]
    excit = np.exp(-((f - 10) ** 2) / 4.0 - ((t - 9) ** 2) / 3.0)
    inhib = np.exp(-((f - 4) ** 2) / 4.0 - ((t - 5) ** 2) / 3.0)
    return excit - 0.6 * inhib


def test_differentiable_frontend_equals_compute_spectrogram():
    rate = 16000
    x = np.random.default_rng(0).normal(size=3000).astype(np.float32) * 0.1
    fn = sonify.spectrogram_fn(CFG, rate)
    xt = torch.tensor(x, requires_grad=True)
    spec = fn(xt)
    np.testing.assert_allclose(spec.detach().numpy(), compute_spectrogram(x, rate, CFG)[0], atol=1e-4)
    spec.sum().backward()
    assert xt.grad is not None and torch.isfinite(xt.grad).all() and xt.grad.abs().sum() > 0


def test_sonified_strf_has_the_strf_excitatory_pattern():
    strf = blob_strf()
    res = sonify.sonify_strf(strf, CFG, repeats=2, gap_ms=50, lead_ms=20, steps=120)
    assert res.sample_rate == 16000  # smallest standard rate above 2 x 6 kHz
    assert res.relative_error < 0.25
    # measured independently: the numpy front-end on the final (faded, normalised) sound
    spec, _ = compute_spectrogram(res.waveform, res.sample_rate, CFG)
    assert spec.shape == res.target.shape
    corr = np.corrcoef(spec.ravel(), res.target.ravel())[0, 1]
    assert corr > 0.9
    # the loudest band over the sound is the STRF's excitatory band, the inhibitory band stays quiet
    per_band = spec.max(axis=1)
    assert int(np.argmax(per_band)) in (9, 10, 11)
    assert per_band[4] < per_band[10] - 2.0  # > 2 nats (~17 dB) quieter


def test_optimisation_improves_on_the_vocoder_start():
    strf = blob_strf()
    start = sonify.sonify_strf(strf, CFG, repeats=1, steps=0)
    refined = sonify.sonify_strf(strf, CFG, repeats=1, steps=80)
    assert refined.relative_error < 0.6 * start.relative_error


def test_output_is_safe_faded_and_normalised():
    res = sonify.sonify_strf(blob_strf(), CFG, repeats=1, steps=10, peak=0.4, fade_ms=10.0)
    w = res.waveform
    assert w.dtype == np.float32 and np.all(np.isfinite(w))
    assert np.max(np.abs(w)) == pytest.approx(0.4, rel=1e-5)
    n_fade = int(0.010 * res.sample_rate)
    assert abs(w[0]) < 1e-3 * 0.4 + 1e-4 and abs(w[-1]) < 1e-3 * 0.4 + 1e-4
    assert np.max(np.abs(w[: n_fade // 4])) < 0.4 * 0.2


def test_fade_and_normalise_keeps_silence_silent_and_rejects_bad_peak():
    assert np.all(sonify.fade_and_normalise(np.zeros(100), 8000) == 0)
    with pytest.raises(ValueError):
        sonify.fade_and_normalise(np.ones(100), 8000, peak=2.0)


def test_sonify_spectrogram_recovers_a_real_sound_pattern():
    rate = 16000
    t = np.arange(int(0.3 * rate)) / rate
    # a tone sweeping up: a diagonal in the spectrogram
    x = 0.2 * np.sin(2 * np.pi * (500 * t + 0.5 * 8000 * t ** 2))
    spec, _ = compute_spectrogram(x, rate, CFG)
    res = sonify.sonify_spectrogram(spec, CFG, sample_rate=rate, steps=150)
    got, _ = compute_spectrogram(res.waveform, rate, CFG)
    # compare band-of-maximum per frame (level-free): the sweep is reproduced
    inside = slice(4, spec.shape[1] - 4)
    agree = np.abs(np.argmax(got[:, inside], 0) - np.argmax(spec[:, inside], 0)) <= 1
    assert agree.mean() > 0.8


def test_cancel_stops_the_refinement_and_keeps_a_sound():
    cancel = threading.Event()
    steps = []

    def progress(step, n, loss):
        steps.append(step)
        if step == 3:
            cancel.set()

    res = sonify.sonify_strf(blob_strf(), CFG, repeats=1, steps=100, progress=progress, cancel=cancel)
    assert res.cancelled and res.steps_done == 3 and steps == [1, 2, 3]
    assert np.max(np.abs(res.waveform)) > 0


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="frequency bands"):
        sonify.sonify_strf(np.ones((5, 4)), CFG)
    with pytest.raises(ValueError, match="part"):
        sonify.strf_weights(np.ones((2, 2)), part="sideways")
    assert np.all(sonify.strf_weights(np.zeros((3, 3))) == 0)


def test_frontend_for_bands_reproduces_dataset_band_centres():
    freqs = band_frequencies(SpectrogramConfig(n_bands=20, f_min_hz=400, f_max_hz=12000), 48000)
    cfg = sonify.frontend_for_bands(freqs, 5.0)
    rate = sonify.choose_sample_rate(cfg)
    np.testing.assert_allclose(band_frequencies(cfg, rate), freqs, rtol=1e-9)
    assert rate / 2 > freqs[-1]


def test_dataset_frontend_and_normalisation_round_trip():
    freqs = band_frequencies(CFG, 16000)
    frontend = dict(CFG.to_dict(), sample_rate=16000)
    cfg, rate = sonify.dataset_frontend(frontend, freqs, 5.0)
    assert rate == 16000
    np.testing.assert_allclose(band_frequencies(cfg, rate), freqs, rtol=1e-9)
    # a z-scored spectrogram goes back to the front-end's values
    x = 0.1 * np.random.default_rng(1).normal(size=8000)
    spec, _ = compute_spectrogram(x, rate, CFG)
    mean, std = spec.mean(axis=1), spec.std(axis=1)
    frontend["normalization"] = {"kind": "zscore", "mean": mean.tolist(), "std": std.tolist()}
    z = (spec - mean[:, None]) / std[:, None]
    np.testing.assert_allclose(sonify.to_frontend_domain(z, frontend), spec, atol=1e-4)
    np.testing.assert_array_equal(sonify.to_frontend_domain(spec, {}), spec)
    # an empty front-end description still gives a usable config
    cfg2, rate2 = sonify.dataset_frontend({}, freqs, 5.0)
    assert rate2 / 2 >= freqs[-1]


def test_frame_counts_match_when_a_frame_is_not_a_whole_number_of_samples():
    cfg = SpectrogramConfig(n_bands=8, dt_ms=5.0, f_min_hz=500.0, f_max_hz=8000.0)
    for frames in (1, 7, 95, 401):
        n = sonify.samples_for_frames(frames, cfg, 22050)  # 110.25 samples per frame
        assert compute_spectrogram(np.zeros(n), 22050, cfg)[0].shape[1] == frames
    res = sonify.sonify_strf(np.ones((8, 3)), cfg, 22050, repeats=1, steps=2)
    assert res.target.shape == res.achieved.shape
