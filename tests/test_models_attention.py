"""The lean encoder-layer forward (strfviewer.models.attention) against torch's nn.TransformerEncoder."""

import pytest
import torch
from torch import nn

from strfviewer.models.attention import CausalBias, dropout, encoder_layer_forward
from strfviewer.models.layers import build_causal_window_mask
from strfviewer.models.transformer import Transformer


def _torch_forward(model: Transformer, x: torch.Tensor) -> torch.Tensor:
    tokens = model._tokens(x)
    mask = build_causal_window_mask(tokens.shape[1], model.context_window)
    return model.readout(model.tsfm(tokens, mask=mask).transpose(1, 2))


@pytest.mark.parametrize("kwargs", [{}, {"n_heads": 2, "n_layers": 2, "embedding_dim": 8, "context_window": 6}])
@pytest.mark.parametrize("norm_first", [False, True])
def test_forward_equals_torch_encoder_in_eval(kwargs, norm_first):
    torch.manual_seed(0)
    model = Transformer(34, out_neurons=3, **kwargs).eval()
    for layer in model.tsfm.layers:
        layer.norm_first = norm_first
    x = torch.randn(2, 1, 34, 70)
    with torch.no_grad():
        assert torch.allclose(model(x), _torch_forward(model, x), atol=1e-5)


def test_training_gradients_equal_torch_encoder_without_dropout():
    torch.manual_seed(1)
    model = Transformer(34, out_neurons=2, n_heads=2, embedding_dim=8, context_window=10).train()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        if isinstance(module, nn.MultiheadAttention):
            module.dropout = 0.0
    x = torch.randn(3, 1, 34, 40)
    grads = []
    for forward in (model, lambda v: _torch_forward(model, v)):
        model.zero_grad()
        forward(x).pow(2).mean().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for ours, theirs in zip(*grads):
        assert torch.allclose(ours, theirs, atol=1e-5)


def test_dropout_keeps_the_expected_share_and_mean():
    torch.manual_seed(0)
    x = torch.ones(400, 500)
    y = dropout(x, 0.1)
    kept = (y != 0).float().mean().item()
    assert abs(kept - 0.9) < 0.005
    assert abs(y.mean().item() - 1.0) < 0.01
    assert torch.allclose(y[y != 0], torch.full_like(y[y != 0], 65536 / (65536 - 6554)))


def test_dropout_edges_and_repeatability():
    x = torch.randn(7, 3)
    assert dropout(x, 0.1, training=False) is x
    assert dropout(x, 0.0) is x
    assert torch.equal(dropout(x, 1.0), torch.zeros_like(x))
    torch.manual_seed(5)
    a = dropout(x, 0.5)
    torch.manual_seed(5)
    assert torch.equal(a, dropout(x, 0.5))
    assert (a == 0).any() and (a != 0).any()


def test_causal_bias_is_the_causal_mask_at_any_length():
    bias = CausalBias()
    for L, window in [(5, None), (700, None), (9, 3), (600, 3)]:
        got = bias(L, window, torch.device("cpu"), torch.float32)
        assert got.shape == (L, L)
        assert torch.equal(torch.isinf(got), build_causal_window_mask(L, window))
    assert bias(5, None, torch.device("cpu"), torch.float32).data_ptr() == \
        bias(700, None, torch.device("cpu"), torch.float32).data_ptr()   # one mask grown once, handed out as views


def test_layer_with_key_padding_free_input_matches_module():
    torch.manual_seed(2)
    layer = nn.TransformerEncoderLayer(16, nhead=4, dim_feedforward=32, dropout=0.1, batch_first=True).eval()
    x = torch.randn(2, 12, 16)
    mask = build_causal_window_mask(12, 4)
    bias = CausalBias()(12, 4, torch.device("cpu"), torch.float32)
    with torch.no_grad():
        assert torch.allclose(encoder_layer_forward(layer, x, bias), layer(x, src_mask=mask), atol=1e-5)
