"""Closed-form ridge of the Linear model: recovers known STRFs, matches a direct solve, forward reproduces it."""

import numpy as np
import pytest
import torch

from strfviewer.data.dataset import NeuralDataset, Stimulus
from strfviewer.fit.ridge import fit_ridge_details, lagged_design, solve_ridge, warm_start


def _linear_dataset(seed=0, F=5, T=4, N=3, R=3, n_stim=10, noise=0.5, missing_neuron=False):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(N, F, T))
    b = rng.normal(size=N)
    stimuli = []
    for i in range(n_stim):
        L = int(rng.integers(80, 140))
        spec = rng.normal(size=(1, F, L)).astype(np.float32)
        clean = lagged_design(spec[0], T) @ w.reshape(N, -1).T + b  # (L, N)
        resp = clean.T[:, None, :] + noise * rng.normal(size=(N, R, L))
        if missing_neuron and i == 0:
            resp[1] = np.nan
        stimuli.append(Stimulus(name=f"stim{i + 1}", spec=spec, responses=resp.astype(np.float32)))
    split = {s.name: ("train" if i < 7 else "val" if i < 9 else "test") for i, s in enumerate(stimuli)}
    ds = NeuralDataset(stimuli=stimuli, neuron_names=[f"n{k}" for k in range(N)], freqs_hz=np.arange(F) * 1000.0,
                       dt_ms=5.0, split=split)
    return ds, w, b


def test_lagged_design_matches_causal_convolution():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 10))  # (C, F, T_s)
    w = rng.normal(size=(4, 2, 3, 5))  # (N, C, F, T)
    X = lagged_design(x, 5)
    conv = torch.nn.functional.conv2d(torch.nn.functional.pad(torch.tensor(x)[None], (4, 0)), torch.tensor(w))
    np.testing.assert_allclose(X @ w.reshape(4, -1).T, conv[0, :, 0].numpy().T, atol=1e-10)


def test_ridge_recovers_true_strfs_and_forward_reproduces_prediction():
    ds, w, b = _linear_dataset()
    res = fit_ridge_details(ds, T=4)
    assert res.weights.shape == (3, 1, 5, 4)
    for n in range(3):
        assert np.corrcoef(res.weights[n].ravel(), w[n].ravel())[0, 1] > 0.99
    np.testing.assert_allclose(res.bias, b, atol=0.1)
    # the strfviewer Linear model's eval forward equals the ridge prediction
    model = res.model.eval()
    s = ds.stimuli_in("test")[0]
    with torch.no_grad():
        out = model(torch.from_numpy(s.spec)[None])[0, :, 0].numpy()
    direct = lagged_design(s.spec[0], 4) @ res.weights.reshape(3, -1).T + res.bias
    np.testing.assert_allclose(out, direct.T, atol=1e-4)
    assert res.val_cc.shape == (len(res.alphas), 3)
    assert np.all(np.isin(res.alpha, res.alphas))


def test_solution_matches_direct_normal_equations():
    rng = np.random.default_rng(2)
    X = [rng.normal(size=(50, 6)), rng.normal(size=(40, 6))]
    Y = [rng.normal(size=(50, 2)), rng.normal(size=(40, 2))]
    W, B, alphas = solve_ridge(X, Y, alphas=[0.0, 3.0], gram_dtype=torch.float64)
    Xa, Ya = np.concatenate(X), np.concatenate(Y)
    Xc, Yc = Xa - Xa.mean(0), Ya - Ya.mean(0)
    direct = np.linalg.solve(Xc.T @ Xc + 3.0 * np.eye(6), Xc.T @ Yc)
    np.testing.assert_allclose(W[1], direct, atol=1e-8)
    np.testing.assert_allclose(B[1], Ya.mean(0) - Xa.mean(0) @ direct, atol=1e-8)
    ols = np.linalg.lstsq(np.c_[Xa, np.ones(90)], Ya, rcond=None)[0]
    np.testing.assert_allclose(W[0], ols[:6], atol=1e-8)
    W32, _, _ = solve_ridge(X, Y, alphas=[3.0])  # default float32 products: close to the float64 solution
    np.testing.assert_allclose(W32[0], direct, atol=1e-5)


def test_penalty_grows_with_noise():
    quiet, _, _ = _linear_dataset(noise=0.1, seed=3)
    noisy, _, _ = _linear_dataset(noise=20.0, seed=3)
    assert np.median(fit_ridge_details(noisy, T=4).alpha) > np.median(fit_ridge_details(quiet, T=4).alpha)


def test_missing_neuron_data_is_left_out():
    ds, w, _ = _linear_dataset(missing_neuron=True)
    res = fit_ridge_details(ds, T=4)
    assert np.isfinite(res.weights).all()
    assert np.corrcoef(res.weights[1].ravel(), w[1].ravel())[0, 1] > 0.99


def test_warm_start_copies_kernel_into_ln_and_errors():
    from strfviewer.models import Linear, LinearNonlinear

    ds, _, _ = _linear_dataset()
    res = fit_ridge_details(ds, T=4)
    ln = LinearNonlinear(n_frequency_bands=5, temporal_window_size=4, out_neurons=3)
    assert warm_start(ln, res.model) == ["readout.strf", "readout.bn"]
    assert torch.equal(ln.readout.strf.kernel.weight, res.model.readout.strf.kernel.weight)
    with pytest.raises(ValueError, match="temporal window"):
        fit_ridge_details(ds, T=5, model=Linear(n_frequency_bands=5, temporal_window_size=4, out_neurons=3))
    no_train = ds.with_split({s.name: "val" for s in ds.stimuli})
    with pytest.raises(ValueError, match="no training"):
        fit_ridge_details(no_train, T=4)


def test_lagged_moments_equal_explicit_design_products():
    from strfviewer.fit.ridge import lagged_moments

    rng = np.random.default_rng(5)
    T = 4
    feats = [rng.normal(size=(6, L)) for L in (9, 3, 15)]  # K = 6 rows (e.g. C=2 x F=3); one shorter than T
    ys = [rng.normal(size=(f.shape[1], 2)) for f in feats]
    count, mx, my, gram, cross = lagged_moments(feats, ys, T)
    X = np.concatenate([lagged_design(f.reshape(2, 3, -1), T) for f in feats])
    Y = np.concatenate(ys)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    assert count == len(X)
    np.testing.assert_allclose(mx.numpy(), X.mean(0), atol=1e-12)
    np.testing.assert_allclose(gram.numpy(), Xc.T @ Xc, atol=1e-9)
    np.testing.assert_allclose(cross.numpy(), Xc.T @ Yc, atol=1e-9)


def test_ridge_refuses_a_design_too_large_for_memory(monkeypatch):
    from strfviewer.data import load
    from strfviewer.fit import ridge
    from strfviewer.fit.run import FitRequest, run_fit
    from strfviewer.models.factory import ModelSpec

    ds = load("demo")
    monkeypatch.setattr(ridge, "available_memory_bytes", lambda: 20 * 1024 ** 2)  # 20 MB free
    with pytest.raises(ridge.RidgeMemoryError) as info:  # 34 * 40 = 1360 columns: 4 x 15 MB of Gram matrices
        fit_ridge_details(ds, T=40)
    message = str(info.value)
    assert "1360 x 1360" in message and "-T" in message and "sgd" in message
    fit_ridge_details(ds, T=4)  # 136 columns still fit
    # an SGD fit whose ridge warm start would not fit starts cold and says so
    out = run_fit(ds, FitRequest(spec=ModelSpec(family="LinearNonlinear", T=40), epochs=0, device="cpu"))
    assert out.details["warm_start"].startswith("skipped") and "no ridge warm start" in out.message
    monkeypatch.setattr(ridge, "available_memory_bytes", lambda: None)  # unknown: a fixed cap
    assert ridge.ridge_memory_bytes(1360) < ridge.FALLBACK_MEMORY_LIMIT
    with pytest.raises(ridge.RidgeMemoryError, match="cap"):
        ridge.check_ridge_memory(20000)
