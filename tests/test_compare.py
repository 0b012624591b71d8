"""Paired comparison of two runs: Wilcoxon signed-rank, bootstrap CI of the mean difference, split-half noise."""

import numpy as np
import pytest

from findings_data import linear_dataset
from strfviewer.analysis.compare import bootstrap_mean_ci, compare_runs, split_half_noise, wilcoxon_signed_rank


def test_wilcoxon_exact_small_case():
    # all five differences positive: T- = 0, P(T+ = 15) = 1/32, two-sided p = 2/32
    stat, p = wilcoxon_signed_rank([1.0, 2.0, 3.0, 4.0, 5.0])
    assert stat == 0.0 and p == pytest.approx(2 / 32)
    stat, p = wilcoxon_signed_rank([1.0, -2.0, 3.0, 0.0, np.nan])   # zero and NaN dropped: n = 3
    assert stat == 2.0 and p == pytest.approx(2 * 3 / 8)            # rank sums <= 2: {}, {1}, {2}


def test_wilcoxon_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for n in (8, 30, 80):
        d = rng.normal(0.2, 1.0, n)
        ours = wilcoxon_signed_rank(d)
        ref = stats.wilcoxon(d)
        assert ours[0] == pytest.approx(ref.statistic) and ours[1] == pytest.approx(ref.pvalue, rel=1e-6)
    tied = np.round(rng.normal(0.3, 1.0, 40), 1)
    tied = tied[tied != 0]
    ref = stats.wilcoxon(tied)
    assert wilcoxon_signed_rank(tied)[1] == pytest.approx(ref.pvalue, rel=1e-6)
    assert wilcoxon_signed_rank(np.zeros(5)) == (0.0, 1.0)


def test_bootstrap_ci_contains_the_mean_and_narrows_with_more_data():
    rng = np.random.default_rng(1)
    small, large = rng.normal(0.1, 0.2, 20), rng.normal(0.1, 0.2, 500)
    lo_s, hi_s = bootstrap_mean_ci(small, n_boot=2000)
    lo_l, hi_l = bootstrap_mean_ci(large, n_boot=2000)
    assert lo_s < small.mean() < hi_s and lo_l < large.mean() < hi_l
    assert hi_l - lo_l < hi_s - lo_s
    assert (hi_l - lo_l) == pytest.approx(2 * 1.96 * 0.2 / np.sqrt(500), rel=0.2)
    with pytest.raises(ValueError, match="no finite"):
        bootstrap_mean_ci([np.nan])


@pytest.fixture(scope="module")
def recording():
    dataset, strfs = linear_dataset(n_neurons=6, F=6, T=4, n_stimuli=6, frames=150, n_trials=8, noise=2.0, seed=3)
    responses = [s.responses for s in dataset.stimuli]
    truth = []
    for s in dataset.stimuli:
        padded = np.concatenate([np.zeros((6, 3)), s.spec[0]], axis=1)
        windows = np.lib.stride_tricks.sliding_window_view(padded, 4, axis=1)
        truth.append(np.einsum("nft,flt->nl", strfs, windows))
    return responses, truth


def test_a_worse_model_of_one_neuron_is_found_and_the_rest_are_not(recording):
    responses, truth = recording
    rng = np.random.default_rng(5)
    worse = [p.copy() for p in truth]
    for p in worse:
        p[0] += 3.0 * rng.normal(size=p.shape[1])                     # B predicts neuron 0 badly
    result = compare_runs(responses, truth, worse, n_splits=30, n_boot=2000)
    assert result.difference[0] < -0.2
    np.testing.assert_allclose(result.difference[1:], 0.0)
    assert result.differs[0] and not result.differs[1:].any()
    assert result.z[0] < -1.96 and np.all(result.z[1:] == 0)
    assert result.mean_difference == pytest.approx(result.difference.mean())
    assert result.ci[0] <= result.mean_difference <= result.ci[1]
    lines = result.summary_lines("ridge", "sgd")
    assert any("Wilcoxon" in line for line in lines) and any("1 better with ridge" in line for line in lines)


def test_noise_sd_shrinks_with_more_trials():
    sds = []
    for trials in (4, 16):
        dataset, strfs = linear_dataset(n_neurons=4, F=6, T=4, n_stimuli=4, frames=100, n_trials=trials,
                                        noise=3.0, seed=7)
        responses = [s.responses for s in dataset.stimuli]
        rng = np.random.default_rng(0)
        a = [np.nanmean(r, axis=1) * 0 + rng.normal(size=r[:, 0].shape) for r in responses]
        truth = [np.nanmean(r, axis=1) for r in responses]            # a good and a poor "model"
        sds.append(np.nanmean(split_half_noise(responses, a, truth, n_splits=20)))
    assert sds[1] < sds[0]


def test_too_few_trials_and_mismatches(recording):
    responses, truth = recording
    three = [r[:, :3] for r in responses]
    result = compare_runs(three, truth, [p * 0.5 + 1 for p in truth], n_splits=3, n_boot=200)
    assert np.isnan(result.noise_sd).all() and not result.differs.any()
    assert any("too few trials" in n for n in result.notes)
    with pytest.raises(ValueError, match="predictions"):
        compare_runs(responses, truth[:-1], truth)
