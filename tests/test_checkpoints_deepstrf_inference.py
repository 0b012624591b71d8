"""How strfviewer fills in module arguments deepSTRF did not save, on edited copies of the deepSTRF fixtures:
unambiguous tensor names are inferred, everything else is a clear CheckpointError asking for extra_kwargs."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from strfviewer.io import weights_file
from strfviewer.io.checkpoints import CheckpointError, load_checkpoint
from strfviewer.models import registry

ROOT = Path(__file__).resolve().parent / "fixtures" / "deepstrf"


def copy_fixture(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(ROOT / name, tmp_path / name))


def edit(folder: Path, drop_keys=(), drop_tensors=(), add_tensors=None, rename=None) -> None:
    config = json.loads((folder / "config.json").read_text())
    for key in drop_keys:
        config.pop(key, None)
    (folder / "config.json").write_text(json.dumps(config))
    tensors = weights_file.load_tensors(folder / "model.safetensors")
    for key in drop_tensors:
        del tensors[key]
    for old, new in (rename or {}).items():
        tensors[new] = tensors.pop(old)
    tensors.update(add_tensors or {})
    weights_file.write_tensors(folder / "model.safetensors", tensors)


def test_full_kernel_without_bias_is_inferred(tmp_path):
    """A passed nn.Conv2d(bias=False) kernel: deepSTRF drops the key; the weights say 'full, no bias'."""
    folder = copy_fixture("linear", tmp_path)
    edit(folder, drop_keys=["kernel"], drop_tensors=["readout.strf.kernel.bias"])
    model, _ = load_checkpoint(folder)
    kernel = model.readout.strf.kernel
    assert registry.name_of("kernel", kernel) == "full" and kernel.bias is None
    io = np.load(folder / "io.npz")
    reference, _ = load_checkpoint(ROOT / "linear")
    with torch.no_grad():
        reference.readout.strf.kernel.bias.zero_()
        x = torch.from_numpy(io["x"])
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=1e-6)


def test_null_means_default_even_for_kernels(tmp_path):
    """'kernel': null with the default tensors is deepSTRF's default full kernel with bias."""
    model, _ = load_checkpoint(ROOT / "linear")
    assert registry.name_of("kernel", model.readout.strf.kernel) == "full"
    assert model.readout.strf.kernel.bias is not None


def test_unknown_prefilter_tensors(tmp_path):
    folder = copy_fixture("linear", tmp_path)
    edit(folder, drop_keys=["prefiltering"], add_tensors={"prefiltering.gain": torch.ones(16)})
    with pytest.raises(CheckpointError, match=r"config\.json: .*prefiltering: unrecognised prefilter tensors "
                                              r"\['gain'\]"):
        load_checkpoint(folder)


def test_weightless_module_passed_as_activation(tmp_path):
    folder = copy_fixture("linear", tmp_path)
    edit(folder, drop_keys=["output_activation"])
    with pytest.raises(CheckpointError, match="output_activation: a module without weights"):
        load_checkpoint(folder)
    model, _ = load_checkpoint(folder, extra_kwargs={"output_activation": registry.get("activation", "ReLU")()})
    assert isinstance(model.readout.activation, torch.nn.ReLU)


def test_unknown_waveform_frontend_tensors_are_refused(tmp_path):
    """Front-ends deepSTRF's five are inferred (tests/test_deepstrf_wav2spec_fixtures.py); other tensors are not."""
    folder = copy_fixture("statenet_gru", tmp_path)
    edit(folder, drop_keys=["wav2spec"], add_tensors={"wav2spec.filters": torch.ones(16, 1, 64)})
    with pytest.raises(CheckpointError, match=r"wav2spec: unrecognised waveform front-end tensors \['filters'\]"):
        load_checkpoint(folder)
    with pytest.raises(CheckpointError, match=r"wav2spec: unrecognised waveform front-end tensors"):
        load_checkpoint(folder, extra_kwargs={"wav2spec": {"audio_fs": 16000}})


def test_sequential_separable_kernel_is_refused(tmp_path):
    folder = copy_fixture("linear", tmp_path)
    edit(folder, drop_keys=["kernel"], drop_tensors=["readout.strf.kernel.weight", "readout.strf.kernel.bias"],
         add_tensors={"readout.strf.kernel.0.weight": torch.ones(3, 1, 16, 1),
                      "readout.strf.kernel.1.weight": torch.ones(3, 1, 1, 6)})
    with pytest.raises(CheckpointError, match="kernel: deepSTRF's two-Conv2d nn.Sequential separable kernel"):
        load_checkpoint(folder)


def test_several_gaps_are_reported_together(tmp_path):
    folder = copy_fixture("ln_adaptrans_separable", tmp_path)
    edit(folder, drop_keys=["output_activation"])
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(folder)
    message = str(err.value)
    assert "prefiltering: the weights show an AdapTrans" in message
    assert "output_activation: the weights show a ParametricSoftplus" in message


def test_partial_extra_kwargs_keep_asking_for_the_rest(tmp_path):
    folder = copy_fixture("ln_sigmoid", tmp_path)
    with pytest.raises(CheckpointError, match="non_negative_output"):
        load_checkpoint(folder, extra_kwargs={"output_activation": {"bias": True}})
    model, _ = load_checkpoint(folder, extra_kwargs={"output_activation": {"non_negative_output": True}})
    assert type(model.readout.activation).__name__ == "ParametricSigmoid"


def test_renamed_tensor_is_reported_as_missing_and_unexpected(tmp_path):
    folder = copy_fixture("nrf", tmp_path)
    edit(folder, rename={"readout.fc.weight": "readout.fc.weights"})
    with pytest.raises(CheckpointError, match="missing tensors: readout.fc.weight;.*unexpected tensors: "
                                              "readout.fc.weights"):
        load_checkpoint(folder)
