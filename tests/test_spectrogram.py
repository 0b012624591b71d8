"""The spectrogram front-end: shapes, band frequencies, causality, scales, compression, cache."""

import numpy as np
import pytest

from strfviewer.data.spectrogram import (SpectrogramConfig, band_frequencies, compute_spectrogram,
                                         filterbank, fft_size, hz_to_scale, scale_to_hz)

SR = 32000


def tone(freq_hz, seconds=0.5, sr=SR, amplitude=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def test_default_shape_frames_and_band_range():
    cfg = SpectrogramConfig()
    spec, freqs = compute_spectrogram(tone(1000, 0.5025), SR, cfg)  # 502.5 ms -> ceil(100.5) = 101 frames
    assert spec.shape == (34, 101) and spec.dtype == np.float32
    assert freqs.shape == (34,)
    assert freqs[0] == pytest.approx(500.0) and freqs[-1] == pytest.approx(16000.0)
    assert np.all(np.diff(freqs) > 0)


def test_f_max_is_capped_at_nyquist():
    freqs = band_frequencies(SpectrogramConfig(), 16000)
    assert freqs[-1] == pytest.approx(8000.0)


@pytest.mark.parametrize("scale", ["mel", "erb", "log"])
def test_a_tone_peaks_in_the_band_nearest_its_frequency(scale):
    cfg = SpectrogramConfig(scale=scale)
    for f in (800.0, 2500.0, 9000.0):
        spec, freqs = compute_spectrogram(tone(f), SR, cfg)
        peak = freqs[np.argmax(spec[:, 50])]
        assert abs(np.log2(peak / f)) < 0.25, (scale, f, peak)


@pytest.mark.parametrize("scale", ["mel", "erb", "log"])
def test_scale_round_trip_and_equal_spacing(scale):
    f = np.array([500.0, 1234.0, 16000.0])
    assert np.allclose(scale_to_hz(hz_to_scale(f, scale), scale), f)
    centres = hz_to_scale(band_frequencies(SpectrogramConfig(scale=scale), SR), scale)
    assert np.allclose(np.diff(centres), np.diff(centres)[0])


def test_a_centred_tone_reads_its_rms_and_noise_scales_with_bandwidth():
    cfg = SpectrogramConfig(compression="none")
    freqs = band_frequencies(cfg, SR)
    spec, _ = compute_spectrogram(tone(freqs[20], amplitude=0.5), SR, cfg)
    assert spec[20, 50] == pytest.approx(0.5 / np.sqrt(2), rel=0.1)
    _, n_fft = fft_size(cfg, SR)
    weights, _ = filterbank(cfg, SR, n_fft)
    assert np.all((weights.max(axis=1) > 0.85) & (weights.max(axis=1) <= 1.0))  # peaks sampled on FFT bins
    bandwidth_hz = weights.sum(axis=1) * SR / n_fft
    noise = (0.1 * np.random.default_rng(0).standard_normal(SR)).astype(np.float32)
    spec, _ = compute_spectrogram(noise, SR, cfg)
    # white noise of RMS 0.1 spread over 0..Nyquist: RMS in a band = 0.1 * sqrt(bandwidth / Nyquist)
    expected = 0.1 * np.sqrt(bandwidth_hz / (SR / 2))
    assert np.allclose(np.sqrt((spec ** 2).mean(axis=1)), expected, rtol=0.1)


def test_causal_frames_see_no_audio_after_their_bin_end():
    cfg = SpectrogramConfig()
    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal(SR // 2)).astype(np.float32)
    y = x.copy()
    cut_ms = 200.0
    cut = int(cut_ms * SR / 1000)
    y[cut:] = 0.5 * rng.standard_normal(len(y) - cut)  # change everything from 200 ms on
    sx, _ = compute_spectrogram(x, SR, cfg)
    sy, _ = compute_spectrogram(y, SR, cfg)
    ends_ms = (np.arange(sx.shape[1]) + 1) * cfg.dt_ms
    seen_before = ends_ms <= cut_ms
    assert np.array_equal(sx[:, seen_before], sy[:, seen_before])
    assert not np.allclose(sx[:, ends_ms == cut_ms + cfg.dt_ms], sy[:, ends_ms == cut_ms + cfg.dt_ms])


def test_centred_frames_look_ahead():
    cfg = SpectrogramConfig(causal=False)
    x = np.zeros(SR // 2, dtype=np.float32)
    y = x.copy()
    y[int(0.2 * SR):] = 0.5  # a step at 200 ms
    sx, _ = compute_spectrogram(x, SR, cfg)
    sy, _ = compute_spectrogram(y, SR, cfg)
    frame_before = int(200 / cfg.dt_ms) - 1  # bin [195, 200) ms, centred window reaches past 200 ms
    assert not np.array_equal(sx[:, frame_before], sy[:, frame_before])


def test_log_compression_uses_the_offset():
    silent = np.zeros(SR // 10, dtype=np.float32)
    spec, _ = compute_spectrogram(silent, SR, SpectrogramConfig(log_offset=1e-2))
    assert np.allclose(spec, np.log(1e-2), atol=1e-3)  # silence reads log(offset) (+ the 1e-6 floor)
    lin, _ = compute_spectrogram(silent, SR, SpectrogramConfig(compression="none"))
    assert np.allclose(lin, 0.0, atol=1e-5)  # band power floored at 1e-12 (amplitude 1e-6)


def test_sample_rate_does_not_change_the_picture_much():
    x32 = tone(3000, 0.3, 32000)
    x16 = tone(3000, 0.3, 16000)
    cfg = SpectrogramConfig(f_max_hz=7000)
    s32, f32 = compute_spectrogram(x32, 32000, cfg)
    s16, f16 = compute_spectrogram(x16, 16000, cfg)
    assert np.allclose(f32, f16)
    assert np.abs(s32[:, 10:-10] - s16[:, 10:-10]).max() < 0.2


def test_config_round_trip_and_validation():
    cfg = SpectrogramConfig(n_bands=20, scale="erb", dt_ms=2.0)
    data = dict(cfg.to_dict(), normalization={"kind": "zscore"})
    assert SpectrogramConfig.from_dict(data) == cfg
    for bad in ({"n_bands": 0}, {"scale": "bark"}, {"compression": "cube"}, {"f_min_hz": 20000.0},
                {"dt_ms": 0}):
        with pytest.raises(ValueError):
            SpectrogramConfig(**bad)


def test_torch_input_and_device_argument():
    import torch

    x = tone(1000, 0.1)
    a, _ = compute_spectrogram(x, SR)
    b, _ = compute_spectrogram(torch.from_numpy(x), SR, device="cpu")
    assert np.allclose(a, b)


def test_tensor_front_end_is_batched_and_differentiable():
    import torch

    from strfviewer.data.spectrogram import spectrogram_tensor

    x = torch.from_numpy(np.stack([tone(1000, 0.1), tone(3000, 0.1)]))
    x.requires_grad_(True)
    spec = spectrogram_tensor(x, SR, SpectrogramConfig())
    assert spec.shape == (2, 34, 20)
    single, _ = compute_spectrogram(tone(3000, 0.1), SR)
    assert np.allclose(spec[1].detach().numpy(), single, atol=1e-5)
    spec.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    silent = torch.zeros(1600, requires_grad=True)
    spectrogram_tensor(silent, SR).sum().backward()
    assert torch.isfinite(silent.grad).all()
