"""run_fit / predict / devices on the demo population (small subsets, few epochs)."""

import threading

import numpy as np
import pytest
import torch

from strfviewer.data import load
from strfviewer.fit.run import FitRequest, available_devices, predict, resolve_device, run_fit
from strfviewer.models.factory import ModelSpec


@pytest.fixture(scope="module")
def demo():
    return load("demo").subset_neurons([0, 1, 2, 3])


def test_ridge_fit_outcome_has_metrics_and_predictions(demo):
    out = run_fit(demo, FitRequest(spec=ModelSpec("Linear", T=15), method="ridge", device="cpu"))
    assert set(out.metrics) == {"train", "val", "test"}
    assert out.metrics["test"].cc_norm.shape == (4,)
    assert out.metrics["test"].mean_cc_norm > 0.7  # the demo neurons are LN cells with known STRFs
    assert set(out.predictions) == {s.name for s in demo.stimuli}
    s = demo.stimuli[0]
    assert out.predictions[s.name].shape == (4, s.n_frames)
    assert out.history.n_epochs == 0 and "ridge" in out.message and not out.cancelled
    assert len(out.details["ridge_alpha"]) == 4
    # predict() gives the same predictions again
    again = predict(out.model, demo, "cpu")
    np.testing.assert_allclose(again[s.name], out.predictions[s.name], atol=1e-5)


def test_sgd_fit_is_reproducible_and_warm_started(demo):
    req = FitRequest(spec=ModelSpec("LinearNonlinear", T=10), epochs=2, batch_size=4, device="cpu", seed=5)
    a, b = run_fit(demo, req), run_fit(demo, req)
    assert a.details.get("warm_start") == "ridge"
    assert a.history.n_epochs == 2
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k
    cold = run_fit(demo, FitRequest(spec=ModelSpec("LinearNonlinear", T=10), epochs=2, device="cpu",
                                    warm_start=False))
    assert "warm_start" not in cold.details
    assert a.metrics["val"].mean_cc_norm > cold.metrics["val"].mean_cc_norm


def test_split_override_and_cancel(demo):
    names = [s.name for s in demo.stimuli]
    split = {n: ("train" if i < 10 else "test") for i, n in enumerate(names)}
    ev = threading.Event()
    ev.set()
    out = run_fit(demo, FitRequest(spec=ModelSpec("Linear", T=5), epochs=5, split=split, device="cpu",
                                   warm_start=False), cancel=ev)
    assert out.cancelled and out.history.n_epochs == 0
    assert set(out.metrics) == {"train", "test"} and out.split == split


def test_bad_requests_say_why(demo):
    with pytest.raises(ValueError, match="ridge fits the Linear family"):
        run_fit(demo, FitRequest(spec=ModelSpec("LinearNonlinear"), method="ridge"))
    with pytest.raises(ValueError, match="batch_size"):
        run_fit(demo, FitRequest(spec=ModelSpec("Linear"), batch_size=0))
    with pytest.raises(ValueError, match="no training"):
        run_fit(demo, FitRequest(spec=ModelSpec("Linear"), split={s.name: "test" for s in demo.stimuli}))


def test_request_round_trip():
    req = FitRequest(spec=ModelSpec("StateNet", rnn_type="GRU"), epochs=3, split=(0.6, 0.2, 0.2))
    back = FitRequest.from_dict(req.to_dict())
    assert back.spec == req.spec and back.epochs == 3 and list(back.split) == [0.6, 0.2, 0.2]
    with pytest.raises(ValueError, match="unknown fit request"):
        FitRequest.from_dict({"epochz": 3})


def test_devices():
    devices = available_devices()
    assert devices["cpu"] is None and devices["auto"] is None and "cuda" in devices and "mps" in devices
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")
    if devices["cuda"] is not None:
        with pytest.raises(ValueError, match="unavailable"):
            resolve_device("cuda")


def test_chunking_policy():
    from strfviewer.fit.run import AUTO_CHUNK, chunking
    from strfviewer.models.factory import build_model

    gru = build_model(ModelSpec("StateNet", rnn_type="GRU"), 34, 2)
    lin = build_model(ModelSpec("Linear", T=7), 34, 2)
    assert chunking(gru, FitRequest()) == {"chunk_frames": AUTO_CHUNK[0], "chunk_warmup": AUTO_CHUNK[1]}
    assert chunking(lin, FitRequest()) == {"chunk_frames": None, "chunk_warmup": 0}
    assert chunking(gru, FitRequest(chunk_frames=0))["chunk_frames"] is None
    assert chunking(lin, FitRequest(chunk_frames=40)) == {"chunk_frames": 40, "chunk_warmup": 6}


def test_the_cli_help_names_the_automatic_chunks_from_their_constants(monkeypatch):
    import strfviewer.fit.chunks as chunks

    assert chunks.default_chunking() == "50 for recurrent models (StateNet S4: 100; Mamba and LMU: whole stimuli)"
    monkeypatch.setattr(chunks, "CORE_CHUNK", {"S4": (80, 25), "GRU": (60, 25)})
    assert chunks.default_chunking() == ("50 for recurrent models (StateNet GRU: 60; StateNet S4: 80; Mamba and LMU: "
                                         "whole stimuli)")


def test_statenet_fit_runs_with_auto_chunks(demo):
    small = demo.with_split({s.name: ("train" if i < 4 else "val" if i < 6 else "test")
                             for i, s in enumerate(demo.stimuli[:8])})
    small.stimuli = small.stimuli[:8]
    out = run_fit(small, FitRequest(spec=ModelSpec("StateNet", rnn_type="GRU"), epochs=1, device="cpu"))
    assert out.history.n_epochs == 1 and np.isfinite(out.history.epochs[0].train_loss)
    assert out.predictions[small.stimuli[0].name].shape == (4, small.stimuli[0].n_frames)


def test_auto_loss_and_calibration_follow_the_model():
    from strfviewer.fit.run import effective_loss
    from strfviewer.models.factory import build_model

    gru = build_model(ModelSpec("StateNet", rnn_type="GRU"), 34, 2)
    lin = build_model(ModelSpec("Linear", T=7), 34, 2)
    assert effective_loss(gru, FitRequest()) == "poisson"
    assert effective_loss(lin, FitRequest()) == "mse"
    assert effective_loss(gru, FitRequest(loss="mse")) == "mse"
    assert "loss must be" in FitRequest(loss="l1").problems()[0]


def test_separable_kernel_starts_from_the_rank1_ridge_strf():
    import numpy as np

    from strfviewer.data import load
    from strfviewer.models.kernels import rank1_factors
    from strfviewer.fit.run import FitRequest, run_fit
    from strfviewer.models.factory import ModelSpec

    ds = load("demo")
    ridge = run_fit(ds, FitRequest(spec=ModelSpec(family="Linear", T=8), method="ridge", device="cpu"))
    for family in ("Linear", "LinearNonlinear"):
        sep = run_fit(ds, FitRequest(spec=ModelSpec(family=family, kernel="separable", T=8), epochs=0,
                                     device="cpu", loss="mse"))  # no epoch: the warm start itself
        assert sep.details["warm_start"] == "ridge (rank-1 part)"
        for name in [s.name for s in ds.stimuli_in("test")]:
            a, b = ridge.predictions[name], sep.predictions[name]
            cc = [np.corrcoef(a[n], b[n])[0, 1] for n in range(a.shape[0])]
            assert np.median(cc) > 0.9, (family, name, cc)
    # the factors are the leading SVD term, split evenly
    w = np.random.default_rng(0).normal(size=(2, 1, 5, 4))
    f, t = rank1_factors(w)
    u, s, vh = np.linalg.svd(w[1, 0])
    assert np.allclose(np.outer(f[1, 0], t[1, 0]), s[0] * np.outer(u[:, 0], vh[0]))
    assert np.isclose(np.linalg.norm(f[1, 0]), np.linalg.norm(t[1, 0]))
