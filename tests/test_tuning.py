"""Tuning metrics on STRFs whose answers are known by construction (Gabors, Gaussians, rank-1 maps)."""

import numpy as np
import pytest

from strfviewer.analysis.tuning import (METRICS, modulation_transfer, octave_axis, profiles, tuning, tuning_batch,
                                        tuning_intervals)

DT = 5.0
F_LOW = 500.0
STEP_OCT = 1.0 / 16                     # 64 bands over 4 octaves
F = 64
T = 40
FREQS = F_LOW * 2.0 ** (np.arange(F) * STEP_OCT)
OCT = np.arange(F) * STEP_OCT
LAG = (T - 1 - np.arange(T)) * DT       # column j is lag (T-1-j) dt: oldest first


def gabor(bf_oct=2.0, sigma_oct=0.4, lag_ms=50.0, sigma_ms=25.0, spectral=0.0, temporal=0.0):
    """Gabor in (octave, lag): Gaussian envelope times cos(2 pi (spectral x + temporal t)), centred."""
    x = (OCT - bf_oct)[:, None]
    t = (LAG - lag_ms)[None, :] / 1000.0
    envelope = np.exp(-x ** 2 / (2 * sigma_oct ** 2) - (t * 1000.0) ** 2 / (2 * sigma_ms ** 2))
    return envelope * np.cos(2 * np.pi * (spectral * x + temporal * t))


def test_best_frequency_of_a_gabor_on_a_band_and_between_bands():
    on_band = tuning(gabor(bf_oct=32 * STEP_OCT, temporal=10.0), FREQS, DT)
    assert on_band["best_frequency_hz"] == pytest.approx(FREQS[32], rel=1e-9)
    oblique = tuning(gabor(bf_oct=32 * STEP_OCT, spectral=0.5, temporal=10.0), FREQS, DT)
    assert np.log2(oblique["best_frequency_hz"] / FREQS[32]) == pytest.approx(0.0, abs=STEP_OCT / 4)
    between = 2.0 + STEP_OCT / 2                                     # half-way between two bands
    got = tuning(gabor(bf_oct=between), FREQS, DT)["best_frequency_hz"]
    assert np.log2(got / (F_LOW * 2 ** between)) == pytest.approx(0.0, abs=STEP_OCT / 10)


def test_bandwidth_is_the_full_width_at_half_maximum_in_octaves():
    sigma = 0.3
    got = tuning(gabor(sigma_oct=sigma, temporal=8.0), FREQS, DT)["bandwidth_oct"]
    assert got == pytest.approx(2 * np.sqrt(2 * np.log(2)) * sigma, abs=0.01)


def test_bandwidth_uses_octaves_of_unevenly_spaced_bands():
    freqs = 500 * 2 ** (np.linspace(0, 1, 34) ** 1.3 * 5)           # uneven log spacing
    octaves = octave_axis(freqs)
    sigma = 0.4
    strf = np.exp(-(octaves - 2.5) ** 2 / (2 * sigma ** 2))[:, None] * np.ones(10)[None, :]
    got = tuning(strf, freqs, DT)
    assert got["bandwidth_oct"] == pytest.approx(2 * np.sqrt(2 * np.log(2)) * sigma, abs=0.03)
    assert np.log2(got["best_frequency_hz"] / (500 * 2 ** 2.5)) == pytest.approx(0.0, abs=0.03)


def test_peak_and_onset_latency_of_a_temporal_gaussian():
    lag, sigma = 60.0, 10.0
    strf = np.exp(-(OCT - 2) ** 2 / 0.1)[:, None] * np.exp(-(LAG - lag) ** 2 / (2 * sigma ** 2))[None, :]
    got = tuning(strf, FREQS, DT)
    assert got["peak_latency_ms"] == pytest.approx(lag, abs=0.5)
    assert got["latency_ms"] == pytest.approx(lag - np.sqrt(2 * np.log(2)) * sigma, abs=0.5)


def test_latency_counts_from_the_last_column():
    strf = np.zeros((F, T))
    strf[10, T - 1] = 1.0                                             # lag 0
    strf[10, T - 5] = 0.3
    got = tuning(strf, FREQS, DT)
    assert got["peak_latency_ms"] == 0.0
    assert got["latency_ms"] == 0.0


def test_ei_balance():
    strf = np.zeros((F, T))
    strf[10, 5] = 3.0
    strf[40, 20] = -1.0
    assert tuning(strf, FREQS, DT)["ei_balance"] == pytest.approx((3 - 1) / (3 + 1))
    assert tuning(-np.abs(strf), FREQS, DT)["ei_balance"] == pytest.approx(-1.0)


def test_separability_of_rank_one_and_rank_two_maps():
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=F), rng.normal(size=T)
    assert tuning(np.outer(u, v), FREQS, DT)["separability"] == pytest.approx(1.0)
    q_f, _ = np.linalg.qr(rng.normal(size=(F, 2)))
    q_t, _ = np.linalg.qr(rng.normal(size=(T, 2)))
    two = 3.0 * np.outer(q_f[:, 0], q_t[:, 0]) + 1.0 * np.outer(q_f[:, 1], q_t[:, 1])
    assert tuning(two, FREQS, DT)["separability"] == pytest.approx(9.0 / 10.0)
    oblique = gabor(sigma_oct=0.8, sigma_ms=40.0, lag_ms=95.0, spectral=1.0, temporal=10.0)
    assert tuning(oblique, FREQS, DT)["separability"] < 0.9           # an oblique Gabor is inseparable


@pytest.mark.parametrize("spectral,temporal", [(1.5, 20.0), (0.75, 12.0), (2.0, 30.0)])
def test_best_modulations_of_a_gabor(spectral, temporal):
    got = tuning(gabor(sigma_oct=0.8, sigma_ms=40.0, lag_ms=95.0, spectral=spectral, temporal=temporal), FREQS, DT)
    assert got["best_spectral_modulation_cyc_per_oct"] == pytest.approx(spectral, abs=0.1)
    assert got["best_temporal_modulation_hz"] == pytest.approx(temporal, abs=1.5)


def test_mtf_axes_and_peak():
    mtf = modulation_transfer(gabor(sigma_oct=0.8, sigma_ms=40.0, lag_ms=95.0, spectral=2.0, temporal=25.0),
                              FREQS, DT)
    assert mtf.power.shape == (F, T)
    assert mtf.spectral_cyc_per_oct.max() == pytest.approx(0.5 / STEP_OCT, rel=0.05)   # Nyquist: 8 cyc/oct
    assert mtf.temporal_hz.max() == pytest.approx(100.0, rel=0.05)                      # Nyquist at 5 ms: 100 Hz
    i, j = np.unravel_index(mtf.power.argmax(), mtf.power.shape)
    assert abs(mtf.spectral_cyc_per_oct[i]) == pytest.approx(2.0, abs=1 / (F * STEP_OCT))
    assert abs(mtf.temporal_hz[j]) == pytest.approx(25.0, abs=1000.0 / (T * DT))
    # Parseval: the MTF carries the map's energy (times F T)
    strf = gabor(spectral=1.0, temporal=10.0)
    assert modulation_transfer(strf, FREQS, DT).power.sum() == pytest.approx(F * T * (strf ** 2).sum())


def test_batch_matches_single_maps_and_keeps_leading_axes():
    maps = np.stack([gabor(bf_oct=b, spectral=s, temporal=t) for b, s, t in [(1.0, 0.5, 5.0), (3.0, 1.0, 20.0)]])
    table = tuning_batch(maps[:, None], FREQS, DT)                    # (N=2, C=1, F, T)
    for name in METRICS:
        assert table[name].shape == (2, 1)
        for n in range(2):
            assert table[name][n, 0] == pytest.approx(tuning(maps[n], FREQS, DT)[name], nan_ok=True)
    per_channel = tuning(maps, FREQS, DT)                             # (C, F, T) -> arrays (C,)
    assert per_channel["best_frequency_hz"].shape == (2,)


def test_mask_zeroes_pixels_before_the_metrics():
    strf = np.zeros((F, T))
    strf[10, 30] = 1.0
    strf[50, 30] = 2.0
    mask = np.ones((F, T), bool)
    mask[50] = False
    assert tuning(strf, FREQS, DT, mask=mask)["best_frequency_hz"] == pytest.approx(FREQS[10])
    assert tuning(strf, FREQS, DT)["best_frequency_hz"] == pytest.approx(FREQS[50])


def test_undefined_metrics_are_nan():
    zero = tuning(np.zeros((F, T)), FREQS, DT)
    assert all(np.isnan(v) for v in zero.values())
    inhibitory = tuning(-gabor(), FREQS, DT)
    assert np.isnan(inhibitory["best_frequency_hz"]) and inhibitory["ei_balance"] < 0
    unknown = tuning(gabor(), np.full(F, np.nan), DT)
    assert np.isnan(unknown["best_frequency_hz"]) and np.isnan(unknown["best_spectral_modulation_cyc_per_oct"])
    assert np.isfinite(unknown["peak_latency_ms"])


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="freqs_hz"):
        tuning(np.ones((F, T)), FREQS[:-1], DT)
    with pytest.raises(ValueError, match="dt_ms"):
        tuning(np.ones((F, T)), FREQS, 0.0)


def test_profiles_are_lag_zero_first():
    strf = np.zeros((F, T))
    strf[3, T - 1] = 2.0
    strf[4, 0] = -1.0
    p = profiles(strf, DT)
    assert p["time_excitatory"][0] == 2.0 and p["time_inhibitory"][-1] == 1.0
    assert p["freq_excitatory"][3] == 2.0 and p["lags_ms"][-1] == (T - 1) * DT


def test_intervals_cover_the_truth_and_narrow_with_less_noise():
    rng = np.random.default_rng(1)
    clean = gabor(bf_oct=2.0, sigma_oct=0.3, temporal=8.0)
    widths = []
    for noise in (0.05, 0.01):
        samples = clean + noise * rng.normal(size=(200, F, T))
        ci = tuning_intervals(samples, FREQS, DT)
        low, high = ci["best_frequency_hz"]
        assert low <= F_LOW * 4 <= high
        assert ci["separability"].shape == (2,)
        widths.append(np.diff(ci["bandwidth_oct"])[0])
    assert widths[1] < widths[0]
