"""Noise-ceiling metrics on synthetic data whose ceiling is known analytically."""

import math

import numpy as np
import pytest

from strfviewer.fit.metrics import (
    NeuronMetrics,
    cc_norm_from_trials,
    pearson_cc,
    signal_power,
    split_half_ceiling,
)


def _population(rng, n_stim=6, n_neurons=3, n_trials=10, length=2000, sig_sd=1.0, noise_sd=(1.0, 2.0, 3.0)):
    """Trials = signal + Gaussian noise of known variance (per neuron)."""
    signals, responses = [], []
    for _ in range(n_stim):
        s = rng.normal(0.0, sig_sd, size=(n_neurons, length))
        noise = rng.normal(0.0, 1.0, size=(n_neurons, n_trials, length)) * np.asarray(noise_sd)[:, None, None]
        signals.append(s)
        responses.append(s[:, None, :] + noise)
    return signals, responses


def _true_ceiling(sig_sd, noise_sd, n_trials):
    """cc between the true signal and the R-trial mean: sqrt(Var s / (Var s + Var n / R))."""
    return np.sqrt(sig_sd ** 2 / (sig_sd ** 2 + np.asarray(noise_sd) ** 2 / n_trials))


def test_signal_power_recovers_signal_variance():
    rng = np.random.default_rng(0)
    _, responses = _population(rng)
    np.testing.assert_allclose(signal_power(responses), 1.0, atol=0.05)


@pytest.mark.parametrize("method", ["sp", "split_half"])
def test_perfect_prediction_has_cc_norm_one_and_known_ceiling(method):
    rng = np.random.default_rng(1)
    noise_sd = (1.0, 2.0, 3.0)
    signals, responses = _population(rng, noise_sd=noise_sd)
    m = cc_norm_from_trials(responses, signals, method=method)
    expected_ceiling = _true_ceiling(1.0, noise_sd, 10)
    np.testing.assert_allclose(m.cc_max, expected_ceiling, atol=0.02)
    np.testing.assert_allclose(m.cc, expected_ceiling, atol=0.02)
    np.testing.assert_allclose(m.cc_norm, 1.0, atol=0.04)
    assert not m.single_trial.any()


def test_noisy_prediction_cc_norm_matches_analytic_value():
    """Prediction = signal + independent error of sd 1: cc_norm = 1 / sqrt(2) whatever the trial noise."""
    rng = np.random.default_rng(2)
    signals, responses = _population(rng)
    preds = [s + rng.normal(0.0, 1.0, size=s.shape) for s in signals]
    for method in ("sp", "split_half"):
        m = cc_norm_from_trials(responses, preds, method=method)
        np.testing.assert_allclose(m.cc_norm, 1 / math.sqrt(2), atol=0.03)
    # the two ceilings agree closely on well-behaved data
    sp = cc_norm_from_trials(responses, preds, method="sp")
    sh = cc_norm_from_trials(responses, preds, method="split_half")
    np.testing.assert_allclose(sp.cc_max, sh.cc_max, atol=0.02)


def test_cc_norm_is_scale_and_offset_invariant_in_prediction():
    rng = np.random.default_rng(3)
    signals, responses = _population(rng, n_stim=3, length=500)
    preds = [s + rng.normal(0, 0.5, size=s.shape) for s in signals]
    a = cc_norm_from_trials(responses, preds)
    b = cc_norm_from_trials(responses, [3.0 * p + 7.0 for p in preds])
    np.testing.assert_allclose(a.cc_norm, b.cc_norm, rtol=1e-9)
    c = cc_norm_from_trials(responses, [-p for p in preds])
    np.testing.assert_allclose(c.cc_norm, -a.cc_norm, rtol=1e-9)


def test_no_signal_power_gives_nan_not_crash():
    # two trials that are mirror images: the trial mean is flat, SP < 0
    x = np.random.default_rng(4).normal(size=200)
    resp = np.stack([x, -x])[None]  # (1, 2, 200)
    pred = np.random.default_rng(5).normal(size=(1, 200))
    m = cc_norm_from_trials([resp], [pred])
    assert np.isnan(m.cc_norm[0]) and np.isnan(m.cc_max[0])
    assert any("no measurable signal" in n for n in m.notes)
    assert math.isnan(m.mean_cc_norm)
    assert math.isnan(split_half_ceiling([resp])[0])


def test_single_trial_falls_back_to_plain_cc_with_flag():
    rng = np.random.default_rng(6)
    signals, responses = _population(rng, n_trials=1, length=300)
    preds = [s + rng.normal(0, 1.0, size=s.shape) for s in signals]
    m = cc_norm_from_trials(responses, preds)
    assert m.single_trial.all()
    np.testing.assert_allclose(m.cc_norm, m.cc)
    assert np.isnan(m.cc_max).all()
    assert any("single trial" in n for n in m.notes)


def test_nan_entries_are_ignored():
    rng = np.random.default_rng(7)
    signals, responses = _population(rng, n_stim=4, length=800)
    preds = [s + rng.normal(0, 1.0, size=s.shape) for s in signals]
    ref = cc_norm_from_trials(responses, preds)
    # neuron 1 was not recorded on stimulus 0: drop it entirely, and compare with the metric computed
    # on stimuli 1..3 for that neuron
    masked = [r.copy() for r in responses]
    masked[0][1] = np.nan
    m = cc_norm_from_trials(masked, preds)
    sub = cc_norm_from_trials([r[1:2] for r in responses[1:]], [p[1:2] for p in preds[1:]])
    np.testing.assert_allclose(m.cc_norm[1], sub.cc_norm[0], rtol=1e-12)
    np.testing.assert_allclose(m.cc_norm[[0, 2]], ref.cc_norm[[0, 2]], rtol=1e-12)
    # a missing trial (ragged trial counts) changes nothing structurally and stays finite
    masked[2][0, 3] = np.nan
    assert np.isfinite(cc_norm_from_trials(masked, preds).cc_norm).all()


def test_padded_stack_equals_list_of_stimuli():
    rng = np.random.default_rng(8)
    signals, responses = _population(rng, n_stim=3, length=400)
    lengths = [400, 250, 320]
    responses = [r[..., :L] for r, L in zip(responses, lengths)]
    preds = [s[..., :L] + rng.normal(0, 1, size=(3, L)) for s, L in zip(signals, lengths)]
    T = max(lengths)
    stack_r = np.full((3, 3, 10, T), np.nan)
    stack_p = np.full((3, 3, 1, T), 123.0)  # padded prediction bins hold junk: masked by NaN responses
    for i, (r, p) in enumerate(zip(responses, preds)):
        stack_r[i, ..., : r.shape[-1]] = r
        stack_p[i, :, 0, : p.shape[-1]] = p
    for method in ("sp", "split_half"):
        a = cc_norm_from_trials(responses, preds, method=method)
        b = cc_norm_from_trials(stack_r, stack_p, method=method)
        np.testing.assert_allclose(a.cc_norm, b.cc_norm, rtol=1e-10)
        np.testing.assert_allclose(a.cc_max, b.cc_max, rtol=1e-10)


def test_torch_inputs_and_json_round_trip():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    signals, responses = _population(rng, n_stim=2, length=300)
    m = cc_norm_from_trials([torch.tensor(r) for r in responses], [torch.tensor(s) for s in signals])
    d = m.to_dict()
    assert len(d["cc_norm"]) == 3 and d["mean_cc_norm"] == pytest.approx(np.nanmean(m.cc_norm))
    m.cc_norm[0] = np.nan
    assert m.to_dict()["cc_norm"][0] is None
    back = NeuronMetrics.from_dict(m.to_dict())
    assert np.isnan(back.cc_norm[0])
    np.testing.assert_allclose(back.cc_norm[1:], m.cc_norm[1:])


def test_pearson_and_bad_shapes():
    y = [np.array([[1.0, 2.0, 3.0, 4.0]])]
    assert pearson_cc(y, [np.array([[2.0, 4.0, 6.0, 8.0]])])[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="does not match"):
        cc_norm_from_trials([np.ones((1, 2, 4))], [np.ones((1, 5))])
    with pytest.raises(ValueError, match="not one of"):
        cc_norm_from_trials([np.ones((1, 2, 4))], [np.ones((1, 4))], method="hsu2")
    # a flat prediction: cc undefined -> NaN
    rng = np.random.default_rng(10)
    _, responses = _population(rng, n_stim=1, n_neurons=1, length=100, noise_sd=(1.0,))
    m = cc_norm_from_trials(responses, [np.zeros((1, 100))])
    assert np.isnan(m.cc[0]) and np.isnan(m.cc_norm[0])


def test_neuron_without_data_is_not_called_single_trial():
    rng = np.random.default_rng(0)
    resp = rng.poisson(2.0, size=(3, 5, 200)).astype(float)  # 3 neurons, 5 trials
    resp[1, 1:] = np.nan  # neuron 1: a single trial
    resp[2] = np.nan  # neuron 2: not recorded on these stimuli at all
    pred = resp[:, :1].mean(axis=1) + rng.normal(size=(3, 200))
    m = cc_norm_from_trials([resp], [np.nan_to_num(pred)])
    assert list(m.single_trial) == [False, True, False]
    assert list(m.no_data) == [False, False, True]
    assert np.isnan(m.cc_norm[2]) and np.isfinite(m.cc_norm[1])
    notes = " ".join(m.notes)
    assert "1 neuron(s) have a single trial" in notes and "1 neuron(s) have no recorded responses" in notes
    assert "no measurable signal" not in notes
    d = m.to_dict()
    assert d["no_data"] == [False, False, True]
    assert list(type(m).from_dict(d).no_data) == [False, False, True]


def test_cc_norm_above_one_is_explained():
    from strfviewer.fit.metrics import CC_NORM_ABOVE_ONE, cc_norm_note

    assert cc_norm_note(1.016).startswith("cc_norm 1.016 > 1: the noise ceiling is estimated from a finite number")
    assert cc_norm_note(0.99) == cc_norm_note(float("nan")) == cc_norm_note(None) == ""
    assert "finite number of trials" in CC_NORM_ABOVE_ONE


def test_metrics_note_neurons_whose_cc_norm_exceeds_one():
    """Predicting the trial mean itself (noise included) overshoots the estimated ceiling: cc_norm > 1, and the
    metrics say why."""
    rng = np.random.default_rng(5)
    _, responses = _population(rng, n_trials=4, length=300, noise_sd=(2.0, 2.0, 2.0))
    m = cc_norm_from_trials(responses, [r.mean(axis=1) for r in responses], method="sp")
    assert (m.cc_norm > 1).all()
    assert any(note.startswith("3 neuron(s) have cc_norm above 1: the noise ceiling is estimated") for note in m.notes)

