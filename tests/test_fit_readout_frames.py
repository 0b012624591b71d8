"""The readout's pre-activation per training frame (fit/readout_frames), shared by the output calibration and the
hidden-unit start's readout fits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from strfviewer.data import load
from strfviewer.fit.readout_frames import gather_readout_frames, iter_readout_frames
from strfviewer.models.factory import ModelSpec, build_model


@pytest.fixture(scope="module")
def demo_train():
    data = load("demo")
    return data, data.stimuli_in("train") if data.split else data.stimuli[:6]


def _model(data, family="NetworkReceptiveField"):
    torch.manual_seed(0)
    spec = ModelSpec(family) if family == "ConvNet2D" else ModelSpec(family, T=9)
    return build_model(spec, data.n_freqs, data.n_neurons)


def test_frames_are_the_readouts_input_to_its_activation_stimulus_by_stimulus(demo_train):
    """Batch by batch (3 stimuli each), ``z`` is what the output activation receives on each stimulus's own frames;
    padding frames are neither frames nor valid; targets are the trial means where valid."""
    data, train = demo_train
    model = _model(data)
    model.train()
    batches = list(iter_readout_frames(model, model.readout.fc, train, batch_size=3))
    assert model.training                                   # the mode is restored
    assert len(batches) == -(-len(train) // 3)
    by_name = {s.name: s for s in train}
    assert sorted(n for frames in batches for n in frames.names) == sorted(by_name)
    for frames in batches:
        assert frames.z.shape == frames.frame.shape == frames.valid.shape == frames.target.shape
        assert not bool((frames.valid & ~frames.frame).any())
        for b in range(frames.z.shape[0]):
            stimulus = by_name[frames.names[b]]
            T = stimulus.n_frames
            assert int(frames.frame[b, :, 0].sum()) == T
            model.eval()
            with torch.no_grad():
                x = torch.as_tensor(stimulus.spec[None])
                pre = model.readout.fc(model.core(model.prefiltering(model.wav2spec(x))).squeeze(-2).transpose(-1, -2))
            np.testing.assert_allclose(frames.z[b, :T].numpy(), pre[0].numpy(), atol=1e-5)
            psth = stimulus.psth().T                          # (T, N)
            ok = np.isfinite(psth)
            np.testing.assert_array_equal(frames.valid[b, :T].numpy(), ok)
            np.testing.assert_allclose(frames.target[b, :T].numpy()[ok], psth[ok], atol=1e-6)


def test_gather_is_every_batch_laid_end_to_end(demo_train):
    data, train = demo_train
    model = _model(data, "DNet")
    z, valid, target = gather_readout_frames(model, model.readout.fc, train)
    parts = list(iter_readout_frames(model, model.readout.fc, train))
    N = data.n_neurons
    np.testing.assert_array_equal(z.numpy(), torch.cat([p.z.reshape(-1, N) for p in parts]).numpy())
    np.testing.assert_array_equal(valid.numpy(), torch.cat([p.valid.reshape(-1, N) for p in parts]).numpy())
    assert int(valid.sum()) == sum(int(np.isfinite(s.psth()).sum()) for s in train)


def test_a_layer_that_does_not_map_frames_to_neurons_gives_none(demo_train):
    """A hooked layer whose output is not (B, T, N) (ConvNet2D's hidden readout layer, 20 units for the demo's
    neurons) yields None once and stops; the model keeps its mode and no hook is left behind."""
    data, train = demo_train
    model = _model(data, "ConvNet2D")
    hidden = model.readout.fc[0]
    assert hidden.out_features != data.n_neurons
    model.train()
    assert list(iter_readout_frames(model, hidden, train)) == [None]
    assert gather_readout_frames(model, hidden, train) is None
    assert model.training and not hidden._forward_hooks
