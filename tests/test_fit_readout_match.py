"""The hidden-unit start's readout fitted to the responses (fit/hidden_start.match_readout_to_responses)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from strfviewer.data import load
from strfviewer.fit.batching import StimulusBatches
from strfviewer.fit.hidden_start import match_readout_offset, match_readout_to_responses
from strfviewer.fit.run import FitRequest, run_fit
from strfviewer.models.factory import ModelSpec, build_model


@pytest.fixture(scope="module")
def demo_train():
    data = load("demo")
    return data, data.stimuli_in("train") if data.split else data.stimuli[:6]


def _predictions_and_targets(model, stimuli):
    p, y = [], []
    model.eval()
    with torch.no_grad():
        for batch in StimulusBatches(stimuli, 4, shuffle=False):
            valid = (batch.valid[:, :, 0, :] & batch.mask[:, None, :]).numpy()
            p.append(model(batch.spec)[:, :, 0, :].numpy().transpose(1, 0, 2)[valid.transpose(1, 0, 2)]
                     .reshape(model.readout.fc.weight.shape[0], -1))
            y.append(batch.target[:, :, 0, :].numpy().transpose(1, 0, 2)[valid.transpose(1, 0, 2)]
                     .reshape(model.readout.fc.weight.shape[0], -1))
    return np.concatenate(p, axis=1), np.concatenate(y, axis=1)


def test_gain_and_offset_are_the_least_squares_ones(demo_train):
    """After matching, each neuron's prediction has the responses' mean and its residual is uncorrelated with it
    (the normal equations of y ~ a p + c), where before the prediction sat far from the responses' scale."""
    data, train = demo_train
    torch.manual_seed(0)
    model = build_model(ModelSpec("DNet", T=9), data.n_freqs, data.n_neurons)
    before_p, y = _predictions_and_targets(model, train)
    assert np.abs(before_p.mean(1) - y.mean(1)).max() > 0.05
    said = match_readout_to_responses(model, train)
    assert said == "readout gain and offset fitted to the responses"
    p, y = _predictions_and_targets(model, train)
    np.testing.assert_allclose(p.mean(1), y.mean(1), atol=1e-4)
    residual = y - p
    np.testing.assert_allclose((residual * (p - p.mean(1, keepdims=True))).mean(1), 0.0, atol=1e-5)
    # the same scale as a least-squares fit of the untouched prediction
    for n in range(len(y)):
        a, c = np.polyfit(before_p[n], y[n], 1)
        np.testing.assert_allclose(p[n], a * before_p[n] + c, atol=1e-4)


def test_readouts_with_an_output_nonlinearity_get_their_offset_only(demo_train):
    """NRF (ParametricSoftplus output): the gain fit leaves it alone; the offset fit puts each neuron's mean
    prediction at its mean response, through the softplus, and leaves the weights as they were."""
    data, train = demo_train
    torch.manual_seed(0)
    model = build_model(ModelSpec("NetworkReceptiveField", T=9), data.n_freqs, data.n_neurons)
    weight = model.readout.fc.weight.detach().clone()
    assert match_readout_to_responses(model, train) is None
    assert torch.equal(model.readout.fc.weight, weight)
    before, y = _predictions_and_targets(model, train)
    assert np.abs(before.mean(1) - y.mean(1)).max() > 0.05
    assert match_readout_offset(model, train) == "readout offset fitted to the responses' mean"
    after, y = _predictions_and_targets(model, train)
    np.testing.assert_allclose(after.mean(1), y.mean(1), atol=1e-4)
    assert torch.equal(model.readout.fc.weight, weight)


def test_offset_fit_leaves_linear_readouts_to_the_gain_fit(demo_train):
    data, train = demo_train
    model = build_model(ModelSpec("DNet", T=9), data.n_freqs, data.n_neurons)
    bias = model.readout.fc.bias.detach().clone()
    assert match_readout_offset(model, train) is None
    assert torch.equal(model.readout.fc.bias, bias)


@pytest.mark.parametrize("family,said", [("DNet", "readout gain and offset fitted to the responses"),
                                         ("NetworkReceptiveField", "readout offset fitted to the responses' mean")])
def test_hidden_unit_fits_say_how_their_readout_started(demo_train, family, said):
    data, _ = demo_train
    out = run_fit(data, FitRequest(spec=ModelSpec(family, T=9), epochs=0, num_threads=1, device="cpu"))
    assert out.details["warm_start"].endswith(said)
    assert out.metrics["val"].mean_cc_norm > 0.5


def test_a_neuron_without_training_responses_keeps_its_readout(demo_train):
    data, train = demo_train
    torch.manual_seed(0)
    model = build_model(ModelSpec("DNet", T=9), data.n_freqs, data.n_neurons)
    import dataclasses

    # responses (N, R, T): neuron 3 has no valid training frame
    silent = [dataclasses.replace(s, responses=np.where(np.arange(s.responses.shape[0])[:, None, None] == 3, np.nan,
                                                        s.responses)) for s in train]
    weight = model.readout.fc.weight.detach().clone()
    bias = model.readout.fc.bias.detach().clone()
    said = match_readout_to_responses(model, silent)
    assert said == f"readout gain and offset fitted to the responses of {data.n_neurons - 1} of {data.n_neurons} neurons"
    assert torch.equal(model.readout.fc.weight[3], weight[3]) and model.readout.fc.bias[3] == bias[3]
    assert not torch.equal(model.readout.fc.weight[0], weight[0])


def test_offset_fit_leaves_a_neuron_it_cannot_reach_alone(demo_train):
    """A silent neuron (mean 0, under the softplus' positive baseline) would be pushed into the flat part of the
    softplus, where it learns nothing: it keeps its offset while the others are fitted."""
    import dataclasses

    data, train = demo_train
    torch.manual_seed(0)
    model = build_model(ModelSpec("NetworkReceptiveField", T=9), data.n_freqs, data.n_neurons)
    silent = [dataclasses.replace(s, responses=np.where(np.arange(s.responses.shape[0])[:, None, None] == 5, 0.0,
                                                        s.responses)) for s in train]
    bias = model.readout.fc.bias.detach().clone()
    said = match_readout_offset(model, silent)
    assert said == f"readout offset fitted to the responses' mean for {data.n_neurons - 1} of {data.n_neurons} neurons"
    assert model.readout.fc.bias[5] == bias[5] and model.readout.fc.bias[0] != bias[0]
