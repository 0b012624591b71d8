"""Dreams: convergence towards a linear model's kernel, monotone responses, cancel, constraints."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from strfviewer.analysis.dreams import DreamProgress, dream, stimulus_range
from strfviewer.models import Linear, LinearNonlinear

F, T, N = 8, 5, 3


def make_linear(seed=0):
    torch.manual_seed(seed)
    model = Linear(F, T, out_neurons=N)
    model.eval()
    return model


def pearson(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def test_linear_dream_converges_to_the_kernel_direction_under_l2():
    model = make_linear()
    result = dream(model, neurons=None, steps=300, lr=0.05, l2=1.0)
    assert result.stimulus.shape == (N, 1, F, T)
    kernels = model.readout.STRF_weight().detach()[:, 0]             # (N, F, T)
    for n in range(N):
        assert pearson(result.stimulus[n, 0], kernels[n]) >= 0.9
    assert result.responses.shape == (301, N)
    assert (result.final_response > result.responses[0] + 1e-3).all()


def test_response_increases_monotonically_allowing_small_noise():
    model = make_linear(seed=1)
    result = dream(model, neurons=[0, 2], steps=200, lr=0.02, l2=0.5, smooth=0.1)
    for k in range(2):
        curve = result.responses[:, k]
        rise = curve[-1] - curve[0]
        assert rise > 0
        drops = -np.diff(curve)
        assert (drops <= 0.01 * rise).all(), drops.max()


def test_batched_dreams_equal_separate_ones():
    model = make_linear(seed=2)
    start = torch.randn(1, 1, F, T, generator=torch.Generator().manual_seed(5))
    both = dream(model, neurons=[0, 2], steps=50, init=start, l2=0.3)
    for k, n in enumerate([0, 2]):
        alone = dream(model, neurons=n, steps=50, init=start, l2=0.3)
        torch.testing.assert_close(both.stimulus[k], alone.stimulus[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(both.responses[:, k], alone.responses[:, 0], rtol=1e-5, atol=1e-6)


def test_cancel_stops_within_one_step():
    model = make_linear()
    stop = threading.Event()
    seen = []

    def on_step(event: DreamProgress):
        seen.append(event.step)
        if event.step == 7:
            stop.set()

    result = dream(model, steps=1500, progress=on_step, cancel=stop)
    assert result.cancelled and result.steps_done == 7 and seen == list(range(1, 8))
    assert result.responses.shape == (8, N)
    already = dream(model, steps=10, cancel=stop)
    assert already.cancelled and already.steps_done == 0 and already.responses.shape == (1, N)


def test_cancel_from_another_thread():
    model = make_linear()
    stop = threading.Event()
    started = threading.Event()
    out = {}

    def on_step(event):
        started.set()

    worker = threading.Thread(target=lambda: out.setdefault("r", dream(model, steps=100000, progress=on_step,
                                                                      cancel=stop)))
    worker.start()
    assert started.wait(10)
    stop.set()
    worker.join(10)
    assert not worker.is_alive() and out["r"].cancelled and out["r"].steps_done < 100000


def test_progress_snapshots_and_constraints():
    model = make_linear()
    events = []
    result = dream(model, neurons=1, steps=25, lr=0.5, clamp=(-0.2, 0.3), progress=events.append,
                   snapshot_every=10)
    assert [e.step for e in events] == list(range(1, 26))
    assert [e.step for e in events if e.stimulus is not None] == [10, 20, 25]
    assert events[-1].stimulus.shape == (1, 1, F, T)
    assert float(result.stimulus.min()) >= -0.2 - 1e-7 and float(result.stimulus.max()) <= 0.3 + 1e-7
    assert np.isclose(result.stimulus.abs().max(), 0.3) or np.isclose(result.stimulus.abs().max(), 0.2)


def test_population_dream_and_model_left_untouched():
    model = LinearNonlinear(F, T, out_neurons=N)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = dream(model, neurons=[0, 1], population=True, steps=20, T=7, l2=0.1)
    assert result.stimulus.shape == (1, 1, F, 7) and result.responses.shape == (21, 1)
    assert result.population and result.neurons == [0, 1]
    with torch.no_grad():
        r = model.eval()(result.stimulus)[0, [0, 1], 0, -1].mean()
    assert np.isclose(float(r), result.final_response[0], rtol=1e-5)
    model.train()
    assert model.training and all(p.grad is None for p in model.parameters())
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_inits_and_bad_arguments():
    model = make_linear()
    a = dream(model, neurons=0, steps=0, init="noise", seed=3)
    b = dream(model, neurons=0, steps=0, init="noise", seed=3)
    assert torch.equal(a.stimulus, b.stimulus) and a.stimulus.abs().sum() > 0
    given = np.full((F, 9), 0.5, dtype=np.float32)
    c = dream(model, neurons=[0, 1], steps=0, init=given)
    assert c.stimulus.shape == (2, 1, F, 9) and torch.all(c.stimulus == 0.5)
    with pytest.raises(IndexError):
        dream(model, neurons=N, steps=1)
    with pytest.raises(ValueError, match="init"):
        dream(model, steps=1, init="pink")
    with pytest.raises(ValueError, match="init stimulus"):
        dream(model, steps=1, init=np.zeros((F + 1, 4)))
    with pytest.raises(ValueError, match="clamp"):
        dream(model, steps=1, clamp=(1.0, 0.0))
    with pytest.raises(ValueError):
        dream(model, steps=1, lr=0.0)


def test_stimulus_range_of_the_training_split():
    from strfviewer.data.dataset import NeuralDataset, Stimulus

    def stim(name, lo, hi):
        spec = np.linspace(lo, hi, F * 4, dtype=np.float32).reshape(1, F, 4)
        return Stimulus(name=name, spec=spec, responses=np.zeros((1, 1, 4), np.float32))

    data = NeuralDataset(stimuli=[stim("a", -1, 2), stim("b", -5, 9)], neuron_names=["n0"],
                         freqs_hz=np.arange(F) * 100.0 + 500, dt_ms=5.0, split={"a": "train", "b": "test"})
    assert stimulus_range(data) == (-1.0, 2.0)
    assert stimulus_range(data, split=None) == (-5.0, 9.0)


def test_a_dream_copies_the_model_outside_a_running_gradmap():
    from strfviewer.analysis._probe import model_lock, probe_mode

    model = make_linear()
    model.train()
    copied = {}

    def dream_in_thread():
        copied["result"] = dream(model, neurons=0, steps=3)

    with probe_mode(model):                      # a gradmap is in progress: eval mode, lock held
        worker = threading.Thread(target=dream_in_thread)
        worker.start()
        worker.join(0.5)
        assert worker.is_alive()                 # waits for the lock instead of copying mid-probe
    worker.join(10)
    assert not worker.is_alive() and copied["result"].steps_done == 3
    assert model.training and model_lock(model) is model_lock(model)


def test_a_dream_from_silence_leaves_a_rectifying_prefilters_flat_point():
    """AdapTrans rectifies at silence, where every gradient is zero: a silent start is nudged with tiny noise
    (and says so) instead of never moving; a model with a gradient at silence starts from silence exactly."""
    from strfviewer.models import make_prefiltering

    torch.manual_seed(0)
    model = LinearNonlinear(F, T, out_neurons=N, prefiltering=make_prefiltering("AdapTrans", F, kernel_size=3))
    result = dream(model, neurons=[0, 2], steps=20, lr=0.05)
    assert (result.final_response > result.responses[0] + 1e-3).all()
    assert len(result.notes) == 1 and "2 of 2" in result.notes[0]
    plain = dream(make_linear(), neurons=0, steps=1, lr=0.05)
    assert plain.notes == []
    with torch.no_grad():
        silent = float(make_linear()(torch.zeros(1, 1, F, T))[0, 0, 0, -1])
    assert plain.responses[0][0] == pytest.approx(silent)
