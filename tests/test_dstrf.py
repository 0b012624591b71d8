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


SHORT_ADAPTRANS = {"prefilter": "AdapTrans", "prefilter_kwargs": {"kernel_size": 4}}    # 3 frames of past
FAMILIES = [("ConvNet2D", {}), ("ConvNet2D", {**SHORT_ADAPTRANS, "hyper": {"kernel_size": (3, 3)}}), ("NetworkReceptiveField", {}),
            ("DNet", {}), ("LinearNonlinear", {"prefilter": "AdapTrans"}),
            ("Transformer", {"hyper": {"context_window": 5, "embedding_dim": 8}}),
            ("Transformer", {"hyper": {"embedding_dim": 8}}),
            ("Transformer", {**SHORT_ADAPTRANS, "hyper": {"embedding_dim": 8, "time_patch_size": 3, "n_layers": 2,
                                                          "n_heads": 2, "context_window": 4}}),
            ("Transformer", {"hyper": {"embedding_dim": 4, "freq_patch_size": 4, "n_layers": 2}}),
            ("StateNet", {}), ("StateNet", {"rnn_type": "LSTM"}), ("StateNet", {"rnn_type": "RNN"}),
            ("StateNet", {"rnn_type": "LMU"}), ("StateNet", {"rnn_type": "Mamba"}), ("StateNet", {"rnn_type": "S4"}),
            ("StateNet", {"rnn_type": "S4D"}),
            ("StateNet", SHORT_ADAPTRANS), ("StateNet", {"prefilter": "AdapTrans"})]


@pytest.mark.parametrize("family,kw", FAMILIES, ids=lambda v: v if isinstance(v, str) else
                         "-".join(str(x) for x in v.values())[:40] or "default")
def test_each_frame_is_the_gradient_of_that_frame(family, kw):
    """The batched windows (bounded reach), the restarts from a saved state (recurrent) and the batched
    backward passes (other models) all equal one plain backward pass per frame through the whole stimulus."""
    model = model_of(family, **kw)
    spec = stimulus(1)
    d = dstrf(model, spec, neuron=2, T=T, chunk=7)
    x = torch.tensor(spec)[None].requires_grad_(True)
    out = model(x)[0, 2, 0]
    for t in (0, 4, 9, 13, 20, 27, L - 1):
        (g,) = torch.autograd.grad(out[t], x, retain_graph=True)
        g = torch.nn.functional.pad(g[0, 0], (T - 1, 0))[:, t:t + T]
        np.testing.assert_allclose(d.maps[t, 0], g.numpy(), atol=1e-5, err_msg=f"frame {t}")
    np.testing.assert_allclose(d.response, out.detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("rnn_type", ["GRU", "LSTM", "RNN", "LMU", "Mamba", "S4D"])
def test_a_recurrence_restarted_from_a_saved_state_continues_the_run(rnn_type):
    model = model_of("StateNet", rnn_type=rnn_type, **SHORT_ADAPTRANS)
    x = torch.tensor(stimulus(3))[None]
    full = model(x)
    states = model.recurrent_states(x)
    skip = model.prefilter_reach()
    for start in (skip + 1, 17):                         # the window starts at frame `start`
        before = tuple(s[:, start - 1] for s in states)
        tail = model.forward_from(x[..., start - skip:], before, skip=skip)
        np.testing.assert_allclose(tail.detach().numpy(), full[..., start:].detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("hyper", [{"context_window": 4}, {"n_layers": 2, "time_patch_size": 2}])
def test_a_transformer_window_with_the_earlier_tokens_continues_the_run(hyper):
    model = model_of("Transformer", **SHORT_ADAPTRANS, hyper={"embedding_dim": 8, **hyper})
    x = torch.tensor(stimulus(5))[None]
    full = model(x)
    before = model.layer_inputs(x)
    skip, W = model.past_frames(), 7
    for first in (skip, 12, L - W):
        S = first if model.context_window is None else model.context_window - 1
        past = tuple(b[:, max(0, first - S):first] for b in before)
        past = tuple(torch.nn.functional.pad(p, (0, 0, S - p.shape[1], 0)) for p in past)
        window = model.forward_window(x[..., first - skip:first + W], past, torch.tensor([first]))
        np.testing.assert_allclose(window.detach().numpy(), full[..., first:first + W].detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("kw", [{}, {**SHORT_ADAPTRANS, "hyper": {"kernel_size": (3, 3)}}])
def test_convnet_valid_forward_matches_the_padded_one(kw):
    model = model_of("ConvNet2D", **kw)
    x = torch.tensor(stimulus(4))[None]
    reach = model.temporal_reach()
    valid = model.forward_valid(x)
    assert valid.shape[-1] == L - reach + 1
    np.testing.assert_allclose(valid.detach().numpy(), model(x)[..., reach - 1:].detach().numpy(), atol=1e-5)


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
