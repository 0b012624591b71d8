"""Registry, init-kwargs capture and the model factory (ModelSpec, build_model, check_spec, options,
describe, spec_of, swap)."""

import dataclasses
import json
import subprocess
import sys

import pytest
import torch

import strfviewer.models as sm
from strfviewer.models import registry
from strfviewer.models.capture import build_from_description, rebuild_kwargs
from strfviewer.models.factory import (FAMILIES, ModelSpec, apply_options, build_model, check_spec, describe,
                                       family_names, family_options, spec_of, swap)

F, N = 10, 3


def _rebuild(model):
    """Rebuild a model from its class name and JSON-round-tripped init_kwargs, then copy the weights."""
    cfg = json.loads(json.dumps(model.init_kwargs))
    clone = registry.get("model", registry.name_of("model", model))(**rebuild_kwargs(cfg))
    clone.load_state_dict(model.state_dict(), strict=True)
    return clone


def test_deepstrf_names_are_registered():
    assert set(registry.names("kernel")) >= {"full", "separable", "gaussian"}
    assert set(registry.names("prefilter")) >= {"AdapTrans", "ICAdaptation"}
    assert registry.get("kernel", "ParametricSTRF") is sm.ParametricSTRF
    assert registry.get("prefilter", "willmore") is sm.ICAdaptation
    for name in ("Linear", "LinearNonlinear"):
        assert registry.get("model", name).__name__ == name


def test_init_kwargs_capture_modules_as_registry_descriptions():
    pre = sm.make_prefiltering("AdapTrans", F, kernel_size=5)
    kern = sm.kernels.make_kernel("gaussian", F, 4, 2, N, num_gaussians=2)
    model = sm.LinearNonlinear(F, 4, N, prefiltering=pre, kernel=kern)
    kw = model.init_kwargs
    json.dumps(kw)                                                    # JSON-able
    assert kw["n_frequency_bands"] == F and kw["temporal_window_size"] == 4 and kw["out_neurons"] == N
    assert kw["kernel"] == {"_registry": "kernel", "name": "gaussian",
                            "kwargs": {"F": F, "T": 4, "C_in": 2, "C_out": N, "num_gaussians": 2, "bias": True}}
    assert kw["prefiltering"]["_registry"] == "prefilter" and kw["prefiltering"]["name"] == "AdapTrans"
    assert kw["output_activation"] is None                            # the default, not the module built inside
    assert model.init_kwargs_unserializable == ()
    clone = _rebuild(model).eval()
    x = torch.rand(2, 1, F, 20)
    assert torch.equal(clone(x), model.eval()(x))


def test_unregistered_module_argument_is_flagged():
    model = sm.Linear(F, 4, N, output_activation=torch.nn.LeakyReLU(0.3))
    assert model.init_kwargs["output_activation"] is None
    assert model.init_kwargs_unserializable == ("output_activation",)


def test_description_round_trip_of_a_component():
    k = sm.kernels.make_kernel("separable", F, 5, 1, 2, bias=False)
    k2 = build_from_description({"_registry": "kernel", "name": "separable", "kwargs": k.init_kwargs})
    assert isinstance(k2, sm.SeparableSTRF) and k2.bias is None


def test_spec_dict_round_trip_is_json():
    spec = ModelSpec("LinearNonlinear", kernel="gaussian", kernel_kwargs={"num_gaussians": 3},
                     prefilter="AdapTrans", prefilter_kwargs={"dt": 5.0}, activation="ParametricSigmoid", T=12)
    again = ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    with pytest.raises(ValueError, match="unknown model spec field"):
        ModelSpec.from_dict({"family": "Linear", "colour": "red"})
    with pytest.raises(ValueError, match="hyper"):
        ModelSpec.from_dict({"family": "Linear", "hyper": [1, 2]})
    assert ModelSpec.from_dict({"family": "DNet", "hyper": None}).hyper == {}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_default_options_build_a_working_model(family):
    if family not in family_names():
        pytest.skip(f"{family} not registered")
    opts = family_options(family)
    assert opts and all(o.tooltip for o in opts)
    spec = apply_options(ModelSpec(family), {o.name: o.default for o in opts})
    assert check_spec(spec) == []
    torch.manual_seed(0)
    model = build_model(spec, F, N).eval()
    assert model(torch.rand(1, 1, F, 30)).shape == (1, N, 1, 30)
    model.validate()
    infos = describe(model)
    assert [i.slot for i in infos] == ["wav2spec", "prefiltering", "core", "readout"]
    assert sum(i.n_params for i in infos) == model.count_trainable_params()
    # spec_of without the attached spec reconstructs one that rebuilds the same architecture
    del model.spec
    rebuilt = build_model(spec_of(model), F, N)
    rebuilt.load_state_dict(model.state_dict(), strict=True)


def test_linear_defaults_suit_34_bands_at_5_ms():
    opts = {o.name: o for o in family_options("Linear")}
    assert opts["T"].default == 15                                    # 75 ms at dt = 5 ms
    model = build_model(ModelSpec("Linear"), 34, 2)
    assert (model.F, model.T, model.N, model.C_in) == (34, 15, 2, 1)


@pytest.mark.parametrize("spec,fragment", [
    (ModelSpec("NoSuchModel"), "unknown model family"),
    (ModelSpec("Linear", kernel="wavelet"), "unknown kernel"),
    (ModelSpec("Linear", kernel="gaussian", kernel_kwargs={"n_blobs": 3}), "n_blobs"),
    (ModelSpec("Linear", prefilter="Cochlea"), "unknown prefilter"),
    (ModelSpec("Linear", prefilter="AdapTrans", prefilter_kwargs={"tau": 3}), "tau"),
    (ModelSpec("Linear", activation="Swish"), "unknown activation"),
    (ModelSpec("Linear", rnn_type="GRU"), "StateNet only"),
    (ModelSpec("Linear", T=0), "T must be"),
    (ModelSpec("Linear", hyper={"n_hidden": 4}), "n_hidden"),
    (ModelSpec("Linear", kernel_kwargs={"num_gaussians": 2}), "without a kernel"),
])
def test_invalid_specs_are_refused_with_a_reason(spec, fragment):
    reasons = check_spec(spec)
    assert any(fragment in r for r in reasons), reasons
    with pytest.raises(ValueError, match="invalid model spec"):
        build_model(spec, F, N)


def test_kernel_on_a_family_without_strf_conv_is_refused():
    for family in ("ConvNet2D", "Transformer", "StateNet"):
        reasons = check_spec(ModelSpec(family, kernel="full"))
        assert reasons and ("no STRF convolution" in reasons[0] or "not available" in reasons[0])


def test_values_refused_by_the_model_become_value_errors():
    # each value is within its declared range; together they are not (lowest band above the highest)
    with pytest.raises(ValueError, match="cannot build"):
        build_model(ModelSpec("Linear", prefilter="AdapTrans", prefilter_kwargs={"min_freq": 8000.0,
                                                                                  "max_freq": 1000.0}), F, N)


def test_swap_kernel_and_prefilter():
    spec = ModelSpec("LinearNonlinear", kernel="gaussian", kernel_kwargs={"num_gaussians": 2},
                     prefilter="ICAdaptation", prefilter_kwargs={"dt": 2.0, "kernel_size": 4})
    s2 = swap(spec, kernel="separable")
    assert s2.kernel == "separable" and s2.kernel_kwargs == {} and s2.prefilter == "ICAdaptation"
    s3 = swap(spec, prefilter="AdapTrans")
    assert s3.prefilter == "AdapTrans" and s3.prefilter_kwargs == {"dt": 2.0} and s3.kernel == "gaussian"
    assert swap(spec, prefilter="none").prefilter is None
    s4 = swap(spec, frontend="CausalMel")
    assert s4.frontend == "CausalMel" and s4.frontend_kwargs == {} and s4.kernel == "gaussian"
    s5 = swap(dataclasses.replace(s4, frontend_kwargs={"n_mels": 8}), frontend="none")
    assert s5.frontend is None and s5.frontend_kwargs == {} and s5.prefilter == "ICAdaptation"
    assert swap(dataclasses.replace(s4, frontend_kwargs={"n_mels": 8}), kernel="full").frontend_kwargs == {"n_mels": 8}
    assert spec.kernel == "gaussian"                                  # original untouched
    model = build_model(s3, F, N)
    assert model.C_in == 2 and model.readout.strf.kernel.C_in == 2


def test_describe_linear_with_prefilter():
    model = build_model(ModelSpec("Linear", T=5, prefilter="AdapTrans", prefilter_kwargs={"kernel_size": 4},
                                  kernel="separable"), F, N)
    info = {i.slot: i for i in describe(model)}
    assert info["prefiltering"].class_name == "AdapTrans" and info["prefiltering"].n_params == 3 * F
    assert info["readout"].n_params == N * 2 * (F + 5) + N + 2 * N   # factors + bias + BN affine
    assert "SeparableSTRF" in info["readout"].summary


def test_engine_imports_without_qt(tmp_path):
    """Importing the model zoo must not need PySide6/pyqtgraph/sounddevice (they are hidden here)."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PySide6', 'pyqtgraph', 'sounddevice', 'shiboken6'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, _Block())\n")
    code = ("import strfviewer.models, strfviewer.models.factory as f, sys; "
            "m = f.build_model(f.ModelSpec('LinearNonlinear'), 34, 2); "
            "assert not any(k.split('.')[0] in ('PySide6', 'pyqtgraph', 'sounddevice') for k in sys.modules)")
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
