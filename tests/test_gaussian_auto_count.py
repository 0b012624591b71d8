"""The Gaussian-mixture kernel's automatic count (``num_gaussians="auto"``, the default): chosen at the warm start
from the ridge STRFs, recorded in the spec and the checkpoint, shown in the fit's message; the demo's best
frequencies are recovered at least as well as by the full kernel."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from strfviewer.data.demo import make_demo
from strfviewer.fit.run import FitRequest, run_fit
from strfviewer.io.checkpoints import load_checkpoint, save_checkpoint
from strfviewer.models.capture import private_copy
from strfviewer.models.factory import ModelSpec, check_spec
from strfviewer.models.kernels import ParametricSTRF


def _blob(F, T, f0, t0, sf, st):
    f, t = np.arange(F)[:, None], np.arange(T)[None, :]
    return np.exp(-0.5 * (((f - f0) / sf) ** 2 + ((t - t0) / st) ** 2))


def test_auto_is_the_default_and_a_valid_value():
    assert ParametricSTRF(10, 6, 1, 2).auto
    assert check_spec(ModelSpec("Linear", kernel="gaussian", kernel_kwargs={"num_gaussians": "auto"})) == []
    reasons = check_spec(ModelSpec("Linear", kernel="gaussian", kernel_kwargs={"num_gaussians": "many"}))
    assert reasons == ["kernel 'gaussian': num_gaussians must be an integer from 1 to 64 or auto, got 'many'"]
    with pytest.raises(ValueError, match="num_gaussians must be >= 1 or 'auto'"):
        ParametricSTRF(10, 6, 1, 2, num_gaussians="many")


def test_a_two_lobe_strf_gets_two_gaussians_or_more_and_one_lobe_one():
    F, T = 20, 12
    two = _blob(F, T, 5, 4, 1.5, 1.2) - 0.7 * _blob(F, T, 13, 7, 1.5, 1.2)
    one = _blob(F, T, 9, 5, 1.5, 1.2)
    kernel = ParametricSTRF(F, T, 1, 2)
    said = kernel.init_from_strf(torch.tensor(np.stack([two, one])[:, None], dtype=torch.float32), None)
    assert kernel.G >= 2 and kernel.P.shape == (2, 2, 1, kernel.G) and kernel.weight.shape == (2, 1, kernel.G)
    assert f"K={kernel.G} chosen automatically" in said
    assert kernel.init_kwargs["num_gaussians"] == kernel.G        # what a saved model is rebuilt with
    single = ParametricSTRF(F, T, 1, 1)
    single.init_from_strf(torch.tensor(one[None, None], dtype=torch.float32), None)
    assert single.G == 1
    fixed = ParametricSTRF(F, T, 1, 1, num_gaussians=4)
    fixed.init_from_strf(torch.tensor(two[None, None], dtype=torch.float32), None)
    assert fixed.G == 4 and fixed.resolved_options() == {}


def _bf_band_error(strfs, truth):
    """Mean |band of the excitatory frequency profile's peak - the true one| over neurons (N, F, T)."""
    peak = lambda w: np.argmax(np.maximum(w, 0.0).sum(axis=-1), axis=-1)  # noqa: E731
    return float(np.abs(peak(strfs) - peak(truth)).mean())


@pytest.fixture(scope="module")
def demo():
    return make_demo()


@pytest.fixture(scope="module")
def auto_fit(demo):
    return run_fit(demo.dataset, FitRequest(spec=ModelSpec("Linear", kernel="gaussian"), epochs=2, num_threads=1,
                                            device="cpu"))


def test_auto_on_the_demo_records_k_and_recovers_best_frequencies(demo, auto_fit):
    K = auto_fit.model.readout.strf.kernel.G
    assert 1 <= K <= 8
    assert auto_fit.model.spec.kernel_kwargs == {"num_gaussians": K}
    assert auto_fit.model.init_kwargs["kernel"]["kwargs"]["num_gaussians"] == K
    assert auto_fit.details["kernel_chosen"] == {"num_gaussians": K}
    assert f"kernel num_gaussians={K} chosen automatically" in auto_fit.message
    full = run_fit(demo.dataset, FitRequest(spec=ModelSpec("Linear"), epochs=2, num_threads=1, device="cpu"))
    errors = [_bf_band_error(out.model.readout.strf.STRF_weight()[:, 0].numpy(), demo.true_strfs)
              for out in (auto_fit, full)]
    assert errors[0] <= errors[1], f"best-frequency error auto {errors[0]:.2f} bands > full kernel {errors[1]:.2f}"


def test_checkpoint_and_copy_keep_the_chosen_k(tmp_path, demo, auto_fit):
    model, K = auto_fit.model, auto_fit.model.readout.strf.kernel.G
    folder = save_checkpoint(model, tmp_path / "ckpt", metadata={"spec": model.spec.to_dict()})
    assert json.loads((folder / "config.json").read_text())["kernel"]["kwargs"]["num_gaussians"] == K
    again, meta = load_checkpoint(folder)
    assert again.readout.strf.kernel.G == K and meta["spec"]["kernel_kwargs"] == {"num_gaussians": K}
    x = torch.as_tensor(demo.dataset.stimuli[0].spec[None])
    with torch.no_grad():
        assert torch.allclose(again.eval()(x), model.eval()(x), atol=1e-5)
    assert private_copy(model).readout.strf.kernel.G == K


def test_without_a_warm_start_auto_keeps_one_gaussian(demo):
    out = run_fit(demo.dataset, FitRequest(spec=ModelSpec("Linear", kernel="gaussian"), epochs=1, warm_start=False,
                                           num_threads=1, device="cpu"))
    assert out.model.spec.kernel_kwargs == {"num_gaussians": 1}
    assert "num_gaussians=1 (automatic: no warm start to choose from)" in out.message


def test_sizes_fitted_together_equal_sizes_fitted_alone():
    """fit_mixtures fits several sizes in one loop; each equals fit_mixture of that size alone."""
    from strfviewer.models.mixture_fit import fit_mixture, fit_mixtures

    F, T = 20, 9
    maps = np.stack([_blob(F, T, 5, 2, 1.5, 1.0) - 0.6 * _blob(F, T, 13, 5, 2.0, 1.5),
                     _blob(F, T, 10, 4, 2.5, 1.0) + 0.3 * _blob(F, T, 3, 7, 1.0, 1.0)])
    target = torch.tensor(maps, dtype=torch.float32)[:, None]                       # (2, 1, F, T)
    together = fit_mixtures(target, [1, 2, 3], floor=0.5, steps=60)
    for K, mixture in zip([1, 2, 3], together):
        alone = fit_mixture(target, K, floor=0.5, steps=60)
        assert mixture.K == K and mixture.P.shape == alone.P.shape == (2, 2, 1, K)
        assert abs(mixture.explained - alone.explained) < 1e-4
        assert torch.allclose(mixture.P, alone.P, atol=1e-3) and torch.allclose(mixture.weight, alone.weight, atol=1e-3)
    assert together[1].explained > together[0].explained > 0.3


def test_mixture_maps_equal_the_sum_of_unit_gaussians():
    from strfviewer.models.mixture_fit import mixture_maps, unit_gaussians

    g = torch.Generator().manual_seed(0)
    P = torch.rand(2, 3, 2, 4, generator=g) * 15
    SIG = torch.randn(2, 3, 2, 4, generator=g)
    weight = torch.randn(3, 2, 4, generator=g)
    direct = torch.einsum("...kft,...k->...ft", unit_gaussians(P, SIG, 18, 11, 0.5), weight)
    assert torch.allclose(mixture_maps(P, SIG, weight, 18, 11, 0.5), direct, atol=1e-6)
