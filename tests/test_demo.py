"""The built-in demo population: deterministic, well-formed, and its STRFs recoverable by ridge."""

import numpy as np
import pytest

from strfviewer.data import load
from strfviewer.data.demo import causal_drive, make_demo


@pytest.fixture(scope="module")
def demo():
    return make_demo()


def test_shapes_and_contents(demo):
    ds = demo.dataset
    assert ds.n_neurons == 12 and len(ds.stimuli) == 20
    assert demo.true_strfs.shape == (12, ds.n_freqs, demo.T)
    assert ds.n_freqs == 34 and ds.dt_ms == 5.0
    assert ds.freqs_hz[-1] == pytest.approx(8000.0)  # 16 kHz audio: Nyquist caps the top band
    for s in ds.stimuli:
        assert s.sample_rate == 16000 and s.waveform.ndim == 1
        assert 1.0 <= len(s.waveform) / 16000 <= 2.0
        assert s.responses.shape == (12, 10, s.n_frames)
        assert np.all(s.responses >= 0) and np.all(s.responses == np.round(s.responses))
        assert s.n_frames == int(np.ceil(len(s.waveform) / 16000 * 1000 / 5))
    assert sorted(set(ds.split.values())) == ["test", "train", "val"]
    assert ds.frontend["normalization"]["kind"] == "zscore"
    train = np.concatenate([s.spec[0] for s in ds.stimuli_in("train")], axis=1)
    assert np.allclose(train.mean(axis=1), 0, atol=1e-4) and np.allclose(train.std(axis=1), 1, atol=1e-3)


def test_deterministic_and_seeded():
    a, b, c = make_demo(seed=3, n_neurons=3, n_stimuli=4), make_demo(seed=3, n_neurons=3, n_stimuli=4), \
        make_demo(seed=4, n_neurons=3, n_stimuli=4)
    assert all(np.array_equal(x.responses, y.responses) for x, y in zip(a.dataset.stimuli, b.dataset.stimuli))
    assert np.array_equal(a.true_strfs, b.true_strfs)
    assert not np.array_equal(a.true_strfs, c.true_strfs)


def test_responses_follow_the_true_rates(demo):
    ds = demo.dataset
    mean_counts = np.array([np.concatenate([s.psth()[n] for s in ds.stimuli]).mean() for n in range(12)])
    mean_rates = np.array([np.concatenate([demo.true_rates[s.name][n] for s in ds.stimuli]).mean()
                           for n in range(12)])
    assert np.allclose(mean_counts, mean_rates, rtol=0.15)
    declared = np.array([m["mean_rate_hz"] for m in ds.neuron_metadata]) * ds.dt_ms / 1000
    assert np.allclose(mean_rates, declared, rtol=1e-6)
    assert mean_rates.max() / mean_rates.min() > 3  # rates (hence noise ceilings) differ across neurons
    # the rates are an LN function of the drive of the true STRFs
    s = ds.stimuli[0]
    drive = causal_drive(s.spec[0].astype(np.float64), demo.true_strfs.astype(np.float64))
    for n in range(12):
        order = np.argsort(drive[n])
        assert np.all(np.diff(demo.true_rates[s.name][n][order]) >= -1e-6)  # monotonic in the drive


def test_load_demo_is_the_demo_dataset():
    ds = load("demo")
    assert ds.source == "demo" and ds.n_neurons == 12 and len(ds.stimuli) == 20


def _lagged(spec, T):
    F = spec.shape[0]
    padded = np.concatenate([np.zeros((F, T - 1)), spec], axis=1)
    windows = np.lib.stride_tricks.sliding_window_view(padded, T, axis=1)  # (F, T_s, T)
    return windows.transpose(1, 0, 2).reshape(spec.shape[1], F * T)


def _design(stimuli, T):
    X = np.concatenate([_lagged(s.spec[0].astype(np.float64), T) for s in stimuli])
    Y = np.concatenate([s.psth().T for s in stimuli]).astype(np.float64)
    return np.hstack([X, np.ones((len(X), 1))]), Y


def test_closed_form_ridge_recovers_the_true_strfs(demo):
    ds, T, F = demo.dataset, demo.T, demo.dataset.n_freqs
    Xtr, Ytr = _design(ds.stimuli_in("train"), T)
    Xva, Yva = _design(ds.stimuli_in("val"), T)
    best, best_score = None, -np.inf
    for alpha in (10.0, 100.0, 1e3, 1e4):  # regularisation chosen on the validation stimuli
        penalty = alpha * np.eye(Xtr.shape[1])
        penalty[-1, -1] = 0.0  # do not shrink the bias
        W = np.linalg.solve(Xtr.T @ Xtr + penalty, Xtr.T @ Ytr)
        pred = Xva @ W
        score = np.mean([np.corrcoef(pred[:, n], Yva[:, n])[0, 1] for n in range(ds.n_neurons)])
        if score > best_score:
            best, best_score = W, score
    fitted = best[:-1].T.reshape(ds.n_neurons, F, T)
    cc = np.array([np.corrcoef(fitted[n].ravel(), demo.true_strfs[n].ravel())[0, 1] for n in range(ds.n_neurons)])
    assert np.mean(cc > 0.5) >= 0.75, cc
    assert best_score > 0.3
