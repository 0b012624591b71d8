"""Model families: shapes, attributes, training signal, STRF accessors, deepSTRF-style configs."""

import pytest
import torch

import strfviewer.models as sm
from strfviewer.models.factory import ModelSpec, build_model

F, N = 10, 3

SMALL = {
    "Linear": ModelSpec("Linear", T=4),
    "LinearNonlinear": ModelSpec("LinearNonlinear", T=4),
    "NetworkReceptiveField": ModelSpec("NetworkReceptiveField", T=4, hyper={"n_hidden": 3}),
    "DNet": ModelSpec("DNet", T=4, hyper={"n_hidden": 3}),
    "ConvNet2D": ModelSpec("ConvNet2D", hyper={"kernel_size": [3, 3], "c_hidden": 2, "n_hidden": 4}),
    "Transformer": ModelSpec("Transformer", hyper={"embedding_dim": 4}),
    **{f"StateNet-{r}": ModelSpec("StateNet", rnn_type=r, hyper={"kernel_size": 4, "stride": 3, "hidden_channels": 2})
       for r in ("GRU", "LSTM", "RNN", "LMU", "Mamba", "S4", "S4D")},
}


@pytest.mark.parametrize("key", list(SMALL))
def test_every_parameter_gets_a_gradient(key):
    torch.manual_seed(0)
    model = build_model(SMALL[key], F, N).train()
    x = torch.rand(4, 1, F, 25)
    y = model(x)
    assert y.shape == (4, N, 1, 25) and torch.isfinite(y).all()
    y.pow(2).mean().backward()
    dead = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())]
    assert not dead, f"parameters without gradient: {dead}"
    assert (model.F, model.N, model.O) == (F, N, N)
    assert isinstance(model.T, int) and model.T >= 1 and model.C_in == 1
    model.validate()
    model.detach()                                                    # no-op, must not fail


def test_temporal_reach():
    assert build_model(SMALL["Linear"], F, N).temporal_reach() == 4
    assert build_model(ModelSpec("Linear", T=4, prefilter="ICAdaptation", prefilter_kwargs={"kernel_size": 6}),
                       F, N).temporal_reach() == 4 + 5
    assert build_model(SMALL["ConvNet2D"], F, N).temporal_reach() == 3 * 2 + 1
    assert build_model(SMALL["StateNet-GRU"], F, N).temporal_reach() is None
    assert build_model(SMALL["Transformer"], F, N).temporal_reach() is None
    windowed = ModelSpec("Transformer", hyper={"embedding_dim": 4, "context_window": 7})
    assert build_model(windowed, F, N).temporal_reach() == 7


def test_linear_model_is_the_strf_convolution_in_eval_mode():
    """Linear = conv of the input with its STRF + bias, through the per-neuron BatchNorm affine."""
    torch.manual_seed(0)
    model = sm.Linear(F, 5, N).eval()
    with torch.no_grad():
        model.readout.bn.running_mean.uniform_(-1, 1)
        model.readout.bn.running_var.uniform_(0.5, 2)
    x = torch.rand(2, 1, F, 30)
    w = model.readout.STRF_weight()                                  # (N, 1, F, T)
    conv = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (4, 0)), w, model.readout.strf.kernel.bias)
    bn = model.readout.bn
    expected = (conv[:, :, 0] - bn.running_mean[:, None]) / torch.sqrt(bn.running_var[:, None] + bn.eps)
    expected = expected * bn.weight[:, None] + bn.bias[:, None]
    assert torch.allclose(model(x)[:, :, 0], expected, atol=1e-5)


def test_strf_accessors_and_polarity():
    pre = sm.make_prefiltering("AdapTrans", F, kernel_size=4)
    lin = sm.Linear(F, 5, N, prefiltering=pre)
    full = lin.readout.STRF_weight()
    assert full.shape == (N, 2, F, 5)
    assert torch.equal(lin.STRF_weight("ON"), full[:, 0]) and torch.equal(lin.STRF_weight("OFF"), full[:, 1])
    with pytest.raises(ValueError, match="polarity"):
        lin.STRF_weight("UP")
    nrf = sm.NetworkReceptiveField(F, 5, n_hidden=4, out_neurons=N)
    assert nrf.STRFs(2).shape == (F, 5)
    assert torch.equal(nrf.STRFs(2), nrf.core[0].STRF_weight()[2, 0])


def test_deepstrf_style_config_with_nulls_builds():
    """deepSTRF saves every constructor argument, module-valued ones as null: those must be accepted."""
    cfg = {"n_frequency_bands": 34, "temporal_window_size": 9, "out_neurons": 2, "output_activation": None,
           "prefiltering": None, "kernel": None, "wav2spec": None}
    assert sm.Linear(**cfg)(torch.rand(1, 1, 34, 12)).shape == (1, 2, 1, 12)
    cnn = {"n_frequency_bands": 34, "kernel_size": [3, 9], "c_hidden": 10, "n_hidden": 20, "out_neurons": 2,
           "output_activation": None, "prefiltering": None}
    assert sm.ConvNet2D(**cnn).T == 24


@pytest.mark.parametrize("cls,kwargs,fragment", [
    (sm.Linear, {"out_neurons": 0}, "out_neurons"),
    (sm.Linear, {"temporal_window_size": 0}, "temporal_window_size"),
    (sm.Transformer, {"freq_patch_size": 5}, "divide"),
    (sm.Transformer, {"embedding_dim": 6, "n_heads": 4}, "n_heads"),
    (sm.Transformer, {"embedding_dim": 5}, "even"),
    (sm.StateNet, {"rnn_type": "Hopfield"}, "rnn_type"),
    (sm.StateNet, {"connectivity": "XX"}, "connectivity"),
    (sm.ConvNet2D, {"kernel_size": [20, 3]}, "too tall"),
])
def test_invalid_constructor_arguments_raise_value_errors(cls, kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        cls(**kwargs)


def test_validate_reports_a_broken_slot():
    model = sm.Linear(F, 4, N)
    model.core = None
    with pytest.raises(ValueError, match="core"):
        model.validate()
