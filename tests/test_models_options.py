"""Options declared on the registered classes: one definition read by check_spec, spec_of and the help texts."""

import pytest

from strfviewer.models import options, registry
from strfviewer.models.factory import ModelSpec, build_model, check_spec, spec_of
from strfviewer.models.options import STRUCTURAL, Option

F, N = 10, 3


@pytest.mark.parametrize("kind", ["kernel", "prefilter", "activation", "readout", "frontend"])
def test_every_registered_class_declares_its_options(kind):
    for name in registry.names(kind):
        entry = registry.entry(kind, name)
        declared = entry.options if entry.options is not None else getattr(entry.obj, "OPTIONS", None)
        assert declared is not None, f"{kind} {name} declares no OPTIONS"
        for opt in declared:
            assert isinstance(opt, Option) and opt.kind in options.OPTION_KINDS and opt.tooltip
            assert opt.name not in STRUCTURAL[kind]
            assert opt.problem(opt.default) is None, (kind, name, opt)


@pytest.mark.parametrize("spec, fragment", [
    (ModelSpec("Linear", kernel="gaussian", kernel_kwargs={"num_gaussians": 0}),
     "kernel 'gaussian': num_gaussians must be an integer from 1 to 64 or auto, got 0"),
    (ModelSpec("Linear", kernel="gaussian", kernel_kwargs={"num_gaussians": 2.5}), "num_gaussians must be an integer"),
    (ModelSpec("Linear", kernel="gaussian", kernel_kwargs={"bias": False}), "bias set by the model"),
    (ModelSpec("Linear", prefilter="AdapTrans", prefilter_kwargs={"init_w": 0.0}), "init_w must be a number from"),
    (ModelSpec("Linear", prefilter="ICAdaptation", prefilter_kwargs={"learnable": False}), "learnable"),
    (ModelSpec("Linear", prefilter="AdapTrans", prefilter_kwargs={"scale": "bark"}), "scale must be one of mel"),
    (ModelSpec("LinearNonlinear", activation="ParametricSoftplus", activation_kwargs={"bias": True}), "bias"),
    (ModelSpec("LinearNonlinear", activation="ReLU", activation_kwargs={"inplace": True}), "allowed: (none)"),
    (ModelSpec("LinearNonlinear", activation_kwargs={"bias": True}), "without an activation"),
    (ModelSpec("DNet", hyper={"init_tau": 0.5}), "init_tau must be a number from 1.05"),
])
def test_values_are_checked_against_the_declared_range(spec, fragment):
    reasons = check_spec(spec)
    assert any(fragment in r for r in reasons), reasons


def test_declared_options_reach_the_built_modules():
    spec = ModelSpec("LinearNonlinear", kernel="gaussian", kernel_kwargs={"num_gaussians": 3},
                     prefilter="AdapTrans", prefilter_kwargs={"learnable": False, "kernel_size": 4},
                     activation="ParametricSigmoid", activation_kwargs={"bias": False})
    assert check_spec(spec) == []
    model = build_model(spec, F, N)
    assert model.readout.strf.kernel.G == 3
    assert model.prefiltering.K == 4 and not any(p.requires_grad for p in model.prefiltering.parameters())
    assert model.readout.activation.bias is False


def test_reopened_model_spec_equals_the_spec_it_was_built_from():
    """spec_of (what a reopened checkpoint gets) leaves out the same structural arguments the dialog leaves out."""
    spec = ModelSpec("Linear", kernel="gaussian", kernel_kwargs={"num_gaussians": 2},
                     activation="ParametricSoftplus", activation_kwargs={"non_negative_output": True})
    model = build_model(spec, F, N)
    del model.spec  # as after loading a checkpoint without metadata: rebuilt from init_kwargs
    again = spec_of(model)
    assert again.kernel_kwargs == {"num_gaussians": 2}
    assert again.activation_kwargs == {"non_negative_output": True}
    assert again == spec


def test_old_specs_with_the_kernel_bias_still_load():
    spec = ModelSpec.from_dict({"family": "Linear", "kernel": "gaussian",
                                "kernel_kwargs": {"num_gaussians": 2, "bias": True}})
    assert spec.kernel_kwargs == {"num_gaussians": 2} and check_spec(spec) == []


def test_help_and_tooltips_list_the_registry():
    assert options.names_text("kernel") == ", ".join(registry.names("kernel"))
    tip = options.choices_tooltip("kernel", "STRF kernel")
    for name in registry.names("kernel"):
        assert f"• {name}: " in tip
    assert "num_gaussians (an integer from 1 to 64 or auto, default auto)" in options.options_help("kernel")


def test_a_class_without_options_gets_them_from_its_signature():
    class Plain:
        def __init__(self, F, T, C_in, C_out, bias=True, width=2.0, flag=False, name="x"):
            pass

    registry.register("kernel", "plain_signature_kernel")(Plain)
    try:
        got = {o.name: o.kind for o in options.options_of("kernel", "plain_signature_kernel")}
        assert got == {"width": "float", "flag": "bool"}  # structural and non-scalar arguments left out
    finally:
        registry.unregister("kernel", "plain_signature_kernel")
    assert not registry.is_registered("kernel", "plain_signature_kernel")


def test_a_new_module_in_the_models_package_registers_itself(tmp_path, monkeypatch):
    """A kernel file dropped beside the others is imported with the package: no list to edit."""
    import sys

    import strfviewer.models as models

    (tmp_path / "dropped_in_kernel.py").write_text(
        "import torch.nn as nn\n"
        "from strfviewer.models.registry import register\n"
        "@register('kernel', 'dropped_in_test_kernel')\n"
        "class DroppedIn(nn.Module):\n"
        "    OPTIONS = ()\n")
    monkeypatch.setattr(models, "__path__", [*models.__path__, str(tmp_path)])
    try:
        models._import_every_module()
        assert "dropped_in_test_kernel" in registry.names("kernel")
    finally:
        sys.modules.pop("strfviewer.models.dropped_in_kernel", None)
        if registry.is_registered("kernel", "dropped_in_test_kernel"):
            registry.unregister("kernel", "dropped_in_test_kernel")
