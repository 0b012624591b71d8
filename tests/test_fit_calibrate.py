"""Output calibration: the readout starts at each neuron's mean rate, with a bounded softplus sharpness."""

import math

import numpy as np
import torch

from strfviewer.data import load
from strfviewer.fit.batching import pad_batch
from strfviewer.fit.calibrate import calibrate_output
from strfviewer.fit.fitter import set_random_seed
from strfviewer.models.factory import ModelSpec, build_model


def test_calibration_centres_pre_activation_and_matches_mean_rate():
    ds = load("demo").subset_neurons([0, 1, 2])
    train = ds.stimuli_in("train")[:4]
    set_random_seed(0)
    model = build_model(ModelSpec("StateNet", rnn_type="GRU"), ds.n_freqs, 3)
    changed = calibrate_output(model, train, max_beta=1000.0)
    assert changed == ["readout.fc.bias", "activation.beta", "activation.b"]
    act = model.readout.activation
    batch = pad_batch(train)
    rate = torch.stack([batch.target[:, n, 0][batch.valid[:, n, 0]].mean() for n in range(3)])
    seen = []
    hook = act.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    with torch.no_grad():
        model.eval()(batch.spec)
    hook.remove()
    pre = seen[0][batch.mask]  # (frames, N)
    np.testing.assert_allclose(pre.mean(0).numpy(), 0.0, atol=1e-4)
    np.testing.assert_allclose(act.b.detach().numpy(), rate.numpy() / 2, rtol=1e-4)
    # output at a centred frame: log(2)/beta + b = mean rate
    np.testing.assert_allclose((math.log(2) / act.beta + act.b).detach().numpy(), rate.numpy(), rtol=1e-4)


def test_calibration_caps_sharpness_and_skips_other_readouts():
    ds = load("demo").subset_neurons([0])
    train = ds.stimuli_in("train")[:3]
    model = build_model(ModelSpec("StateNet", rnn_type="GRU"), ds.n_freqs, 1)
    calibrate_output(model, train, max_beta=2.0)
    assert float(model.readout.activation.beta.detach()) <= 2.0 + 1e-5
    ln = build_model(ModelSpec("LinearNonlinear", T=5), ds.n_freqs, 1)  # STRF readout with BatchNorm
    before = {k: v.clone() for k, v in ln.state_dict().items()}
    assert calibrate_output(ln, train) == []
    assert all(torch.equal(before[k], v) for k, v in ln.state_dict().items())
