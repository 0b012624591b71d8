"""models.capture.private_copy: a copy for another thread that shares no tensor and survives what deepcopy refuses."""

import copy

import pytest
import torch

from strfviewer.models.capture import private_copy
from strfviewer.models.factory import ModelSpec, build_model


def _model():
    torch.manual_seed(0)
    return build_model(ModelSpec("LinearNonlinear", T=5), 8, 3).eval()


def test_the_copy_predicts_the_same_and_shares_no_tensor():
    model = _model()
    twin = private_copy(model)
    x = torch.randn(2, 1, 8, 40)
    with torch.no_grad():
        assert torch.allclose(model(x), twin(x))
    originals = {t.data_ptr() for t in model.state_dict().values()}
    assert not originals & {t.data_ptr() for t in twin.state_dict().values()}
    assert twin.training is False and twin.spec == model.spec


def test_a_non_leaf_tensor_on_the_model_does_not_stop_the_copy():
    model = _model()
    w = next(model.parameters())
    model.cached = w * 2  # what a hook or an analysis may leave behind: deepcopy refuses it
    with pytest.raises(RuntimeError):
        copy.deepcopy(model)
    twin = private_copy(model)
    with torch.no_grad():
        next(twin.parameters()).add_(1.0)
    assert not torch.equal(next(twin.parameters()), w)
