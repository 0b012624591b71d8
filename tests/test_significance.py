"""Jackknife over stimuli (closed-form ridge and refit-per-fold gradmaps) and bootstrap resamples."""

import dataclasses
import threading

import numpy as np
import pytest
import torch

from findings_data import linear_dataset
from strfviewer.analysis.significance import (Jackknife, gradmap_jackknife, pixel_bootstrap, ridge_bootstrap,
                                              ridge_jackknife)
from strfviewer.analysis.tuning import tuning_intervals
from strfviewer.fit.ridge import _targets, fit_ridge_details, lagged_design, solve_ridge

T = 6


@pytest.fixture(scope="module")
def data():
    return linear_dataset(n_neurons=3, F=8, T=T, n_stimuli=10, noise=1.0)


def test_each_fold_is_the_ridge_fit_without_that_stimulus(data):
    dataset, _ = data
    alpha = np.array([3.0, 30.0, 300.0])
    jk = ridge_jackknife(dataset, T, alpha=alpha)
    train = dataset.stimuli_in("train")
    assert jk.left_out == [s.name for s in train]
    for k in (0, len(train) - 1):
        rest = [s for i, s in enumerate(train) if i != k]
        designs = [lagged_design(s.spec[0], T) for s in rest]
        targets = [_targets(s.responses) for s in rest]
        for n, a in enumerate(alpha):
            W, _, _ = solve_ridge(designs, targets, [a], gram_dtype=torch.float64)
            np.testing.assert_allclose(jk.replicates[k, n].reshape(-1), W[0, :, n], rtol=1e-6, atol=1e-9)


def test_the_estimate_is_the_ridge_fit_on_every_training_stimulus(data):
    dataset, _ = data
    fit = fit_ridge_details(dataset, T)
    jk = ridge_jackknife(dataset, T, alpha=fit.alpha)
    np.testing.assert_allclose(jk.estimate, fit.weights, rtol=1e-5, atol=1e-7)
    chosen = ridge_jackknife(dataset, T)                       # alpha=None: chosen on val like the fit
    np.testing.assert_allclose(chosen.estimate, fit.weights, rtol=1e-5, atol=1e-7)


def test_standard_error_z_and_mask_follow_the_jackknife_formula():
    rng = np.random.default_rng(0)
    reps = rng.normal(size=(5, 2, 1, 3, 4))
    est = rng.normal(size=(2, 1, 3, 4))
    jk = Jackknife(estimate=est, replicates=reps, left_out=list("abcde"))
    expected = np.sqrt(4 / 5 * ((reps - reps.mean(0)) ** 2).sum(0))
    np.testing.assert_allclose(jk.se, expected)
    np.testing.assert_allclose(jk.z(), est / expected)
    assert (jk.mask(1.0) == (np.abs(est / expected) > 1.0)).all()
    reps[0, 1] = np.nan                                          # neuron 1 has no data in stimulus 'a'
    jk = Jackknife(estimate=est, replicates=reps, left_out=list("abcde"))
    assert jk.n_folds.tolist() == [5, 4]
    np.testing.assert_allclose(jk.se[1], np.sqrt(3 / 4 * ((reps[1:, 1] - reps[1:, 1].mean(0)) ** 2).sum(0)))
    with pytest.raises(ValueError, match="threshold"):
        jk.mask(-1.0)


def test_mask_finds_the_real_pixels(data):
    dataset, strfs = data
    jk = ridge_jackknife(dataset, T, alpha=1.0, stimuli="all")
    mask = jk.mask(3.0)[:, 0]
    real = strfs != 0
    assert mask[real].mean() > 0.9                               # the blobs are significant
    assert mask[~real].mean() < 0.1                              # the empty pixels mostly are not


def test_progress_cancel_and_stimulus_choice(data):
    dataset, _ = data
    calls = []
    jk = ridge_jackknife(dataset, T, alpha=1.0, stimuli=["stim00", "stim01", "stim02"],
                         progress=lambda done, total, msg: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)] and jk.replicates.shape[0] == 3
    stop = threading.Event()
    stop.set()
    assert ridge_jackknife(dataset, T, alpha=1.0, cancel=stop) is None
    with pytest.raises(ValueError, match="at least 2 stimuli"):
        ridge_jackknife(dataset, T, alpha=1.0, stimuli=["stim00"])
    with pytest.raises(ValueError, match="penalties"):
        ridge_jackknife(dataset, T, alpha=-1.0)


def test_neurons_missing_a_stimulus_skip_that_fold_and_partial_masks_are_refused(data):
    dataset, _ = data
    stimuli = [dataclasses.replace(s, responses=s.responses.copy()) for s in dataset.stimuli]
    stimuli[0].responses[1] = np.nan                              # neuron 1 not recorded in stim00
    missing = dataclasses.replace(dataset, stimuli=stimuli)
    jk = ridge_jackknife(missing, T, alpha=1.0)
    assert np.isnan(jk.replicates[0, 1]).all() and np.isfinite(jk.replicates[0, 0]).all()
    assert jk.n_folds.tolist() == [8, 7, 8]
    stimuli[1].responses[0, :, :5] = np.nan                       # part of a stimulus masked
    with pytest.raises(ValueError, match="stim01"):
        ridge_jackknife(dataclasses.replace(dataset, stimuli=stimuli), T, alpha=1.0)


def test_gradmap_jackknife_of_a_ridge_request_matches_the_closed_form(data):
    from strfviewer.fit.run import FitRequest
    from strfviewer.models.factory import ModelSpec

    dataset, _ = data
    request = FitRequest(spec=ModelSpec(family="Linear", T=T), method="ridge", ridge_alphas=[10.0], device="cpu")
    steps = []
    jk = gradmap_jackknife(dataset, request, T=T, stimuli=["stim00", "stim03", "stim05"],
                           progress=lambda done, total, msg: steps.append(done))
    closed = ridge_jackknife(dataset, T, alpha=10.0, stimuli=["stim00", "stim03", "stim05"])
    # a Linear model's gradmap is -W (deepSTRF sign); the fold fits use all other training stimuli
    assert steps == [1, 2, 3, 4]
    np.testing.assert_allclose(-jk.estimate, ridge_jackknife(dataset, T, alpha=10.0).estimate, atol=2e-4)
    rest_closed = []
    for name in ["stim00", "stim03", "stim05"]:
        others = [s.name for s in dataset.stimuli_in("train") if s.name != name]
        rest_closed.append(ridge_jackknife(dataset, T, alpha=10.0, stimuli=others).estimate)
    np.testing.assert_allclose(-jk.replicates, np.stack(rest_closed), atol=2e-4)
    assert closed.replicates.shape == jk.replicates.shape


def test_ridge_bootstrap_resamples_stimuli_and_feeds_tuning_intervals(data):
    dataset, strfs = data
    samples = ridge_bootstrap(dataset, T, alpha=1.0, n_samples=40, seed=1)
    assert samples.shape == (40, 3, 1, 8, T)
    again = ridge_bootstrap(dataset, T, alpha=1.0, n_samples=40, seed=1)
    np.testing.assert_array_equal(samples, again)
    assert samples.std(axis=0).max() > 0
    ci = tuning_intervals(samples[:, :, 0], dataset.freqs_hz, dataset.dt_ms)
    assert ci["best_frequency_hz"].shape == (3, 2)
    true_bf = dataset.freqs_hz[np.argmax(np.maximum(strfs, 0).sum(axis=2), axis=1)]
    low, high = ci["best_frequency_hz"][:, 0], ci["best_frequency_hz"][:, 1]
    assert np.all((low <= true_bf * 1.2) & (true_bf <= high * 1.2))


def test_pixel_bootstrap_draws_around_the_estimate():
    est = np.ones((2, 3))
    se = np.full((2, 3), 0.1)
    draws = pixel_bootstrap(est, se, n_samples=2000, seed=0)
    assert draws.shape == (2000, 2, 3)
    np.testing.assert_allclose(draws.mean(0), est, atol=0.01)
    np.testing.assert_allclose(draws.std(0), se, rtol=0.1)
