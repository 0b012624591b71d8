"""Each neuron's own best epoch (deepSTRF's track_per_cell_best) for models whose neurons share no parameter,
and the automatic batch size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from strfviewer.data import load
from strfviewer.fit.per_neuron import PerNeuronBest, per_neuron_tensors
from strfviewer.fit.run import FitRequest, auto_batch_size, batch_size_for, run_fit, score
from strfviewer.io.fit_output import metrics_json
from strfviewer.models.factory import ModelSpec, build_model


@pytest.fixture(scope="module")
def demo():
    return load("demo")


@pytest.mark.parametrize("family,kernel", [("Linear", "full"), ("Linear", "separable"), ("Linear", "gaussian"),
                                           ("LinearNonlinear", "full"), ("LinearNonlinear", "gaussian")])
def test_models_without_shared_parameters_have_per_neuron_slices(family, kernel):
    model = build_model(ModelSpec(family, kernel=kernel, T=5), 8, 3)
    tensors = per_neuron_tensors(model, 3)
    assert tensors is not None
    names = {name for name, _, _ in tensors}
    trainable = {n[len("readout."):] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable <= names  # every trainable tensor is sliced per neuron
    for name, tensor, axis in tensors:
        assert tensor.shape[axis] == 3, name


@pytest.mark.parametrize("spec", [ModelSpec("NetworkReceptiveField", T=5), ModelSpec("DNet", T=5),
                                  ModelSpec("StateNet", rnn_type="GRU"),
                                  ModelSpec("Linear", T=5, prefilter="AdapTrans")])
def test_shared_parameters_rule_it_out(spec):
    assert per_neuron_tensors(build_model(spec, 8, 3), 3) is None


def test_each_neuron_gets_the_slices_of_its_best_epoch():
    model = build_model(ModelSpec("Linear", kernel="gaussian", T=5), 8, 3)
    weight = model.readout.strf.kernel.P  # (2, C_out=3, 1, K): neurons on axis 1
    tracker = PerNeuronBest.for_model(model, 3)
    states = {}
    for epoch, scores in enumerate([[0.1, 0.5, np.nan], [0.3, 0.2, np.nan], [0.2, 0.4, 0.1]]):
        with torch.no_grad():
            weight.fill_(float(epoch))
        states[epoch] = weight.detach().clone()
        tracker.update(epoch, scores)
    with torch.no_grad():
        weight.fill_(-1.0)
    tracker.restore()
    assert tracker.epochs() == [1, 0, 2]
    for n, epoch in enumerate([1, 0, 2]):
        assert torch.equal(weight[:, n], states[epoch][:, n])


def test_a_population_linear_fit_keeps_each_neurons_best_epoch(demo):
    base = dict(spec=ModelSpec("LinearNonlinear", T=8), epochs=6, patience=None, seed=0, num_threads=1,
                warm_start=False, device="cpu")
    own = run_fit(demo, FitRequest(per_neuron_best=True, **base))
    shared = run_fit(demo, FitRequest(per_neuron_best=False, **base))
    epochs = own.history.best_epoch_per_neuron
    assert epochs is not None and len(epochs) == demo.n_neurons
    assert len(set(epochs)) > 1, epochs  # neurons peak at different epochs on the demo
    assert shared.history.best_epoch_per_neuron is None
    # the same training run, but each neuron's validation score is its best: never below the shared epoch's
    val_own = score(demo.with_split(own.split), own.predictions)["val"].cc_norm
    val_shared = score(demo.with_split(shared.split), shared.predictions)["val"].cc_norm
    assert np.all(val_own >= val_shared - 1e-5)
    assert np.any(val_own > val_shared + 1e-4)
    assert metrics_json(own)["best_epoch_per_neuron"] == epochs
    assert "own best epoch" in own.message


def test_automatic_batch_size_aims_at_32_steps_per_epoch(demo):
    assert [auto_batch_size(n) for n in (1, 14, 32, 33, 110)] == [1, 1, 1, 2, 4]
    train = demo.stimuli_in("train")
    assert batch_size_for(build_model(ModelSpec("Linear", T=8), demo.n_freqs, demo.n_neurons), train,
                          FitRequest()) == 1
    statenet = build_model(ModelSpec("StateNet", rnn_type="GRU"), demo.n_freqs, demo.n_neurons)
    chunks = sum(-(-s.spec.shape[-1] // 50) for s in train)  # the recurrent model trains on 50-frame chunks
    assert batch_size_for(statenet, train, FitRequest()) == auto_batch_size(chunks) > 1
    assert batch_size_for(statenet, train, FitRequest(batch_size=2)) == 2
    assert FitRequest(batch_size=0).problems() and not FitRequest(batch_size=None).problems()


@pytest.mark.parametrize("family", ["NetworkReceptiveField", "DNet"])
def test_hidden_units_start_from_the_ridge_components(demo, family):
    base = dict(spec=ModelSpec(family, T=9), epochs=1, patience=None, seed=0, num_threads=1, device="cpu")
    warm = run_fit(demo, FitRequest(**base))
    cold = run_fit(demo, FitRequest(warm_start=False, **base))
    assert warm.details["warm_start"].startswith(f"ridge components: {min(20, demo.n_neurons)} of 20")
    assert "warm_start" not in cold.details
    # the starting weights already predict (measured 0.78 vs 0.24 for NRF, 0.69 vs -0.18 for DNet on the demo)
    assert warm.history.initial.val_cc_norm > cold.history.initial.val_cc_norm + 0.2
    assert warm.history.epochs[0].val_cc_norm > cold.history.epochs[0].val_cc_norm


def test_the_learning_rate_left_to_the_family(demo):
    from strfviewer.fit.run import learning_rate_for

    assert learning_rate_for(FitRequest(spec=ModelSpec("Transformer"))) == 2e-3
    assert learning_rate_for(FitRequest(spec=ModelSpec("ConvNet2D"))) == 2e-3
    assert learning_rate_for(FitRequest(spec=ModelSpec("Linear"))) == 1e-3
    assert learning_rate_for(FitRequest(spec=ModelSpec("Transformer"), lr=5e-4)) == 5e-4
    assert FitRequest(lr=0).problems() and not FitRequest(lr=None).problems()
    outcome = run_fit(demo, FitRequest(spec=ModelSpec("Transformer"), epochs=1, num_threads=1, device="cpu"))
    assert outcome.details["lr"] == 2e-3


def test_linear_after_its_exact_ridge_start_fine_tunes_at_the_ridge_start_rate(demo):
    """A full-kernel Linear under MSE starts SGD at the ridge solution and descends at RIDGE_START_LR; a start that
    is not the optimum of what SGD descends (the separable kernel's rank-1 part, a trainable prefilter the ridge saw
    untrained, the Poisson loss) keeps the family's rate, and an explicit rate wins over both."""
    from strfviewer.fit.learning_rates import DEFAULT_LR, RIDGE_START_LR, default_learning_rates
    from strfviewer.fit.run import learning_rate_for

    assert RIDGE_START_LR < DEFAULT_LR and f"{RIDGE_START_LR:g} for Linear" in default_learning_rates()
    assert learning_rate_for(FitRequest(spec=ModelSpec("Linear")), exact_start=True) == RIDGE_START_LR
    assert learning_rate_for(FitRequest(spec=ModelSpec("Linear"), lr=2e-3), exact_start=True) == 2e-3

    def fitted_lr(**kw):
        request = FitRequest(epochs=1, num_threads=1, device="cpu", **kw)
        outcome = run_fit(demo, request)
        return outcome.details["lr"], outcome.details.get("warm_start")

    assert fitted_lr(spec=ModelSpec("Linear")) == (RIDGE_START_LR, "ridge")
    assert fitted_lr(spec=ModelSpec("Linear"), lr=1e-3) == (1e-3, "ridge")
    assert fitted_lr(spec=ModelSpec("Linear", kernel="separable"))[0] == DEFAULT_LR
    assert fitted_lr(spec=ModelSpec("Linear"), loss="poisson")[0] == DEFAULT_LR
    assert fitted_lr(spec=ModelSpec("Linear", prefilter="AdapTrans")) == (DEFAULT_LR, "ridge")
    assert fitted_lr(spec=ModelSpec("LinearNonlinear"))[0] == DEFAULT_LR
