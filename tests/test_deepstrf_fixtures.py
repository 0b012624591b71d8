"""Checkpoints written by deepSTRF 0.1.0's ``save_pretrained`` load in strfviewer and predict the same.

The fixtures under ``tests/fixtures/deepstrf/`` were written once by ``tests/fixtures/make_deepstrf_fixtures.py``
(deepSTRF is never installed in CI). Each holds deepSTRF's checkpoint folder and ``io.npz`` with a fixed input
``x`` (B, 1, F, T) and deepSTRF's eval-mode output ``y`` (B, N, 1, T); ``manifest.json`` records how each model
was built, so the tests pass in ``extra_kwargs`` exactly what the files cannot tell (a prefilter's
``kernel_size``, a passed-in activation's ``non_negative_output``) and nothing else.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from strfviewer.io.checkpoints import CheckpointError, load_checkpoint
from strfviewer.models import registry

ROOT = Path(__file__).resolve().parent / "fixtures" / "deepstrf"
MANIFEST = json.loads((ROOT / "manifest.json").read_text())
FIXTURES = MANIFEST["fixtures"]
TOLERANCE = 1e-5
#: deepSTRF's S4 convolves by FFT and sums its kernel over frequencies (Cauchy sums, then an inverse FFT); the
#: same kernel computed here from other (pole-free) expressions and convolved directly agrees to a few 1e-6.
S4_TOLERANCE = 1e-4

# What the weights of each deepSTRF module recipe do not reveal, and so must come from the caller.
NOT_IN_THE_FILES = {"prefiltering": ("kernel_size",), "output_activation": ("non_negative_output",)}

# deepSTRF class -> (strfviewer kernel registry name) for the kernel recipes in the manifest
KERNEL_NAMES = {"SeparableSTRF": "separable", "ParametricSTRF": "gaussian"}


def required_extra_kwargs(info: dict) -> dict:
    extra = {}
    for slot, keys in NOT_IN_THE_FILES.items():
        recipe = info["modules"].get(slot)
        if recipe is not None:
            extra[slot] = {k: recipe[k] for k in keys}
    return extra


def load_fixture(name: str, extra=None):
    info = FIXTURES[name]
    return load_checkpoint(ROOT / name, extra_kwargs=required_extra_kwargs(info) if extra is None else extra)


def test_fixture_set_is_complete_and_small():
    classes = {info["class"] for info in FIXTURES.values()}
    assert classes == {"Linear", "LinearNonlinear", "NetworkReceptiveField", "DNet", "ConvNet2D", "Transformer",
                       "StateNet"}
    rnns = {info["init_kwargs"].get("rnn_type") for info in FIXTURES.values()} - {None}
    assert rnns >= {"GRU", "LSTM", "RNN", "LMU", "Mamba", "S4"}
    kinds = {r["class"] for info in FIXTURES.values() for r in info["modules"].values()}
    assert kinds >= {"SeparableSTRF", "ParametricSTRF", "AdapTrans", "ICAdaptation"}
    assert classes <= set(registry.names("model")), "every deepSTRF family needs its strfviewer model"
    total = sum(f.stat().st_size for f in ROOT.rglob("*") if f.is_file())
    assert total < 2 * 1024 * 1024


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_deepstrf_checkpoint_reproduces_deepstrf_output(name):
    model, _ = load_fixture(name)
    assert type(model).__name__ == FIXTURES[name]["class"]
    io = np.load(ROOT / name / "io.npz")
    x, expected = torch.from_numpy(io["x"]), io["y"]
    assert x.shape[2] <= 16 and x.shape[3] <= 40 and expected.shape[1] <= 3
    with torch.no_grad():
        y = model(x).numpy()
    assert y.shape == expected.shape
    diff = float(np.abs(y - expected).max())
    tolerance = S4_TOLERANCE if FIXTURES[name]["init_kwargs"].get("rnn_type") == "S4" else TOLERANCE
    assert diff < tolerance, f"{name}: max abs difference to deepSTRF {diff:.3g}"


def test_deepstrf_s4_on_a_longer_input_without_changing_the_model():
    """The S4 fixture was saved tuned to 40 frames (``l_kernel``); on 120 frames deepSTRF doubles that length
    twice, rewriting its ``C`` in place. strfviewer reproduces those outputs in eval mode and leaves the
    loaded tensors as they were (a prediction never changes a model)."""
    model, _ = load_fixture("statenet_s4")
    io = np.load(ROOT / "statenet_s4" / "io.npz")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert int(before["rnn.layer.kernel.l_kernel"]) == io["x"].shape[-1]
    with torch.no_grad():
        y = model(torch.from_numpy(io["x_long"])).numpy()
    assert io["x_long"].shape[-1] > 2 * io["x"].shape[-1]
    diff = float(np.abs(y - io["y_long"]).max())
    assert diff < S4_TOLERANCE, f"max abs difference to deepSTRF {diff:.3g}"
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("name", sorted(n for n, i in FIXTURES.items() if "kernel" in i["modules"]))
def test_kernel_type_is_inferred_from_tensor_names(name):
    model, _ = load_fixture(name)
    recipe = FIXTURES[name]["modules"]["kernel"]
    strf = model.readout.strf if hasattr(model.readout, "strf") else model.core[0]
    assert registry.name_of("kernel", strf.kernel) == KERNEL_NAMES[recipe["class"]]
    if recipe["class"] == "ParametricSTRF":
        assert strf.kernel.init_kwargs["num_gaussians"] == recipe["num_gaussians"]


@pytest.mark.parametrize("name", sorted(n for n, i in FIXTURES.items() if "prefiltering" in i["modules"]))
def test_prefilter_without_kernel_size_asks_the_caller(name):
    recipe = FIXTURES[name]["modules"]["prefiltering"]
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(ROOT / name)
    message = str(err.value)
    assert "config.json" in message and recipe["class"] in message and "kernel_size" in message
    assert "extra_kwargs" in message
    model, _ = load_fixture(name)
    assert type(model.prefiltering).__name__ == recipe["class"] and model.prefiltering.K == recipe["kernel_size"]


def test_passed_activation_needs_its_flag():
    with pytest.raises(CheckpointError, match="ParametricSigmoid over 3 neurons.*non_negative_output"):
        load_fixture("ln_sigmoid", extra={})


def test_a_module_can_be_passed_instead_of_its_arguments():
    info = FIXTURES["linear_icadaptation"]
    prefilter = registry.get("prefilter", "ICAdaptation")(init_a_vals=[0.5] * MANIFEST["F"],
                                                         kernel_size=info["modules"]["prefiltering"]["kernel_size"])
    model, _ = load_fixture("linear_icadaptation", extra={"prefiltering": prefilter})
    io = np.load(ROOT / "linear_icadaptation" / "io.npz")
    with torch.no_grad():
        y = model(torch.from_numpy(io["x"])).numpy()
    assert float(np.abs(y - io["y"]).max()) < TOLERANCE


def test_deepstrf_metadata_is_returned():
    _, metadata = load_fixture("linear")
    assert metadata == {"dt_ms": 5.0, "note": "strfviewer test fixture"}
    _, metadata = load_fixture("ln")
    assert metadata == {}
