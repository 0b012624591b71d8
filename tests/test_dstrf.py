"""dSTRFs along a real stimulus: exact for linear models, one gradient per frame for any model."""

import threading

import numpy as np
import pytest
import torch

from strfviewer.analysis.dstrf import dstrf
from strfviewer.models.factory import ModelSpec, build_model

F, T, N, L = 8, 6, 3, 40


def model_of(family, seed=0, **kw):
    torch.manual_seed(seed)
    return build_model(ModelSpec(family=family, T=T, **kw), F, N).eval()


def stimulus(seed=0):
    return np.random.default_rng(seed).normal(size=(1, F, L)).astype(np.float32)


def test_a_linear_model_has_its_kernel_at_every_frame():
    model = model_of("Linear")
    kernel = model.readout.strf.kernel.weight[1, 0].detach().numpy()                 # (F, T)
    bn = model.readout.bn
    scale = float((bn.weight[1] / torch.sqrt(bn.running_var[1] + bn.eps)).detach())
    d = dstrf(model, stimulus(), neuron=1, dt_ms=5.0)
    assert d.maps.shape == (L, 1, F, T) and d.times_ms[-1] == (L - 1) * 5.0
    np.testing.assert_allclose(d.maps[T - 1:, 0], np.broadcast_to(scale * kernel, (L - T + 1, F, T)), atol=1e-5)
    np.testing.assert_allclose(d.maps[0, 0, :, :T - 1], 0.0)                        # before the stimulus start
    np.testing.assert_allclose(d.maps[0, 0, :, -1], scale * kernel[:, -1], atol=1e-5)
    assert np.isnan(d.pca().explained_variance_ratio).all()                           # no variance across time


@pytest.mark.parametrize("family,kw", [("ConvNet2D", {}), ("StateNet", {}),
                                       ("LinearNonlinear", {"prefilter": "AdapTrans"})])
def test_each_frame_is_the_gradient_of_that_frame(family, kw):
    model = model_of(family, **kw)
    spec = stimulus(1)
    d = dstrf(model, spec, neuron=2, T=T, chunk=7)
    x = torch.tensor(spec)[None].requires_grad_(True)
    for t in (0, 4, 9, 20, L - 1):
        (g,) = torch.autograd.grad(model(x)[0, 2, 0, t], x)
        g = torch.nn.functional.pad(g[0, 0], (T - 1, 0))[:, t:t + T]
        np.testing.assert_allclose(d.maps[t, 0], g.numpy(), atol=1e-5)
    np.testing.assert_allclose(d.response, model(torch.tensor(spec)[None])[0, 2, 0].detach().numpy(), atol=1e-5)


def test_pca_of_a_gain_modulated_map_is_rank_one():
    model = model_of("Linear")
    d = dstrf(model, stimulus(), neuron=0)
    rng = np.random.default_rng(0)
    gains = 1.0 + rng.random(L)
    d.maps = d.maps * gains[:, None, None, None]                                      # f'(drive) W, as an LN model
    pcs = d.pca(n_components=3)
    assert pcs.explained_variance_ratio[0] == pytest.approx(1.0, abs=1e-6)
    kernel = d.maps[T:, 0].mean(0)
    cos = abs((pcs.components[0, 0] * kernel).sum()) / np.linalg.norm(kernel)
    assert cos == pytest.approx(1.0, abs=1e-6)
    assert pcs.projections.shape == (L, 3) and pcs.start == T - 1


def test_pca_shares_sum_to_one_with_enough_components():
    model = model_of("ConvNet2D")
    pcs = dstrf(model, stimulus(2), neuron=0, T=T).pca(n_components=100)
    assert pcs.explained_variance_ratio.sum() == pytest.approx(1.0)
    assert np.all(np.diff(pcs.explained_variance_ratio) <= 1e-12)


def test_bad_input_progress_and_cancel():
    model = model_of("Linear")
    with pytest.raises(ValueError, match="stimulus spectrogram"):
        dstrf(model, np.zeros((F + 1, L)), neuron=0)
    with pytest.raises(IndexError, match="neuron 5"):
        dstrf(model, stimulus(), neuron=5)
    seen = []
    dstrf(model, stimulus(), neuron=0, chunk=16, progress=lambda done, total: seen.append((done, total)))
    done = [d for d, _ in seen]
    assert done[-1] == L and done == sorted(done) and len(done) >= 3 and all(t == L for _, t in seen)
    stop = threading.Event()
    stop.set()
    assert dstrf(model, stimulus(), neuron=0, cancel=stop) is None
    with pytest.raises(ValueError, match="start frame"):
        dstrf(model, stimulus(), neuron=0).pca(start=L)
