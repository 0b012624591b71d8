"""strfviewer checkpoints: round trips for every model family, bad-file errors, atomic saves, the Hub path."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from strfviewer.io import checkpoints, hub, weights_file
from strfviewer.io.checkpoints import CheckpointError, load_checkpoint, push_to_hub, save_checkpoint
from strfviewer.models import registry

F, N = 8, 2

# One small instance per registered family (deepSTRF constructor names). A family registered without an
# entry here fails test_every_family_has_a_round_trip_case.
FAMILY_KWARGS = {
    "Linear": dict(n_frequency_bands=F, temporal_window_size=4, out_neurons=N),
    "LinearNonlinear": dict(n_frequency_bands=F, temporal_window_size=4, out_neurons=N),
    "NetworkReceptiveField": dict(n_frequency_bands=F, temporal_window_size=4, n_hidden=3, out_neurons=N),
    "DNet": dict(n_frequency_bands=F, temporal_window_size=4, n_hidden=3, out_neurons=N),
    "ConvNet2D": dict(n_frequency_bands=F, kernel_size=(3, 3), c_hidden=2, n_hidden=3, out_neurons=N),
    "Transformer": dict(n_frequency_bands=F, embedding_dim=4, n_heads=2, n_layers=1, context_window=6,
                        out_neurons=N),
    "StateNet": dict(n_frequency_bands=F, kernel_size=3, stride=2, hidden_channels=2, rnn_type="GRU",
                     out_neurons=N),
}


def perturb(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Move every parameter and BatchNorm statistic away from its initial value."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(0.3 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
    return model.eval()


def build(family: str, **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    return perturb(registry.get("model", family)(**{**FAMILY_KWARGS[family], **overrides}))


def predict(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


@pytest.fixture
def x():
    return torch.rand(2, 1, F, 25, generator=torch.Generator().manual_seed(3)) * 2


@pytest.fixture
def linear_ckpt(tmp_path):
    folder = save_checkpoint(build("Linear"), tmp_path / "lin", metadata={"dt_ms": 5.0})
    return folder


# ------------------------------------------------------------------------------------------ round trips

def test_every_family_has_a_round_trip_case():
    assert set(FAMILY_KWARGS) <= set(registry.names("model")), "a deepSTRF family is not registered"
    missing = [name for name in registry.names("model") if name not in FAMILY_KWARGS]
    assert not missing, f"add a small constructor for {missing} to FAMILY_KWARGS"


@pytest.mark.parametrize("family", sorted(FAMILY_KWARGS))
def test_round_trip_gives_same_predictions(family, tmp_path, x):
    model = build(family)
    folder = save_checkpoint(model, tmp_path / family)
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "metadata.json",
                                                        "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["_model_class"] == family
    loaded, metadata = load_checkpoint(folder)
    assert type(loaded) is type(model) and not loaded.training
    assert metadata == {}
    torch.testing.assert_close(predict(loaded, x), predict(model, x), rtol=0, atol=1e-6)
    # every tensor restored exactly, not just the ones that move this input
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k


def _module(kind, name, **kwargs):
    return registry.get(kind, name)(**kwargs)


def test_module_valued_arguments_round_trip(tmp_path, x):
    """Kernel, prefilter and activation modules are saved as registry descriptions and rebuilt."""
    prefilter = _module("prefilter", "AdapTrans", init_a_vals=np.linspace(0.3, 0.9, F),
                        init_w_vals=[0.7] * F, kernel_size=3)
    kernel = _module("kernel", "separable", F=F, T=4, C_in=2, C_out=N)
    activation = _module("activation", "ParametricSigmoid", num_features=N, non_negative_output=False)
    torch.manual_seed(1)
    model = perturb(registry.get("model", "LinearNonlinear")(
        n_frequency_bands=F, temporal_window_size=4, out_neurons=N, prefiltering=prefilter, kernel=kernel,
        output_activation=activation))
    folder = save_checkpoint(model, tmp_path / "ln")
    config = json.loads((folder / "config.json").read_text())
    assert config["prefiltering"]["_registry"] == "prefilter" and config["prefiltering"]["name"] == "AdapTrans"
    assert config["kernel"]["name"] == "separable"
    assert config["output_activation"]["kwargs"]["non_negative_output"] is False
    loaded, _ = load_checkpoint(folder)
    assert type(loaded.prefiltering).__name__ == "AdapTrans" and loaded.prefiltering.K == 3
    torch.testing.assert_close(predict(loaded, x), predict(model, x), rtol=0, atol=1e-6)


def test_gaussian_kernel_and_icadaptation_round_trip(tmp_path, x):
    prefilter = _module("prefilter", "ICAdaptation", init_a_vals=[0.5] * F, kernel_size=4)
    kernel = _module("kernel", "gaussian", F=F, T=5, C_in=1, C_out=N, num_gaussians=2)
    torch.manual_seed(2)
    model = perturb(registry.get("model", "Linear")(n_frequency_bands=F, temporal_window_size=5, out_neurons=N,
                                                    prefiltering=prefilter, kernel=kernel))
    loaded, _ = load_checkpoint(save_checkpoint(model, tmp_path / "g"))
    torch.testing.assert_close(predict(loaded, x), predict(model, x), rtol=0, atol=1e-6)


def test_metadata_round_trip_and_model_card(tmp_path):
    meta = {"dt_ms": 5.0, "freqs_hz": np.array([500.0, 1000.0]), "neuron_names": ("a", "b"),
            "metrics": {"val": {"cc_norm": [0.5, float("nan")]}}}
    folder = save_checkpoint(build("Linear"), tmp_path / "m", metadata=meta)
    _, loaded = load_checkpoint(folder)
    assert loaded == {"dt_ms": 5.0, "freqs_hz": [500.0, 1000.0], "neuron_names": ["a", "b"],
                      "metrics": {"val": {"cc_norm": [0.5, None]}}}
    card = (folder / "README.md").read_text()
    assert "library_name: strfviewer" in card and "Linear" in card
    folder = save_checkpoint(build("Linear"), tmp_path / "c", model_card="# my card\n")
    assert (folder / "README.md").read_text() == "# my card\n"


def test_metadata_must_be_json_able(tmp_path):
    with pytest.raises(ValueError, match="metadata\\['bad'\\]"):
        save_checkpoint(build("Linear"), tmp_path / "m", metadata={"bad": object()})
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(build("Linear"), tmp_path / "m", metadata={"_checkpoint": 1})
    assert not (tmp_path / "m").exists()


def test_map_location_and_strict_false(linear_ckpt, tmp_path):
    model, _ = load_checkpoint(linear_ckpt, map_location=torch.device("cpu"))
    assert all(p.device.type == "cpu" for p in model.parameters())
    # a checkpoint lacking a tensor loads with strict=False (the tensor keeps its init value)
    tensors = weights_file.load_tensors(linear_ckpt / "model.safetensors")
    dropped = "readout.bn.num_batches_tracked"
    del tensors[dropped]
    weights_file.write_tensors(linear_ckpt / "model.safetensors", tensors)
    with pytest.raises(CheckpointError, match=f"missing tensors: {dropped}"):
        load_checkpoint(linear_ckpt)
    load_checkpoint(linear_ckpt, strict=False)


def test_extra_kwargs_override_saved_arguments(linear_ckpt):
    with pytest.raises(CheckpointError, match="wrong shapes"):
        load_checkpoint(linear_ckpt, extra_kwargs={"temporal_window_size": 7})


# ------------------------------------------------------------------------------------ refusing to save

def test_refuses_unregistered_models(tmp_path):
    with pytest.raises(ValueError, match="not a registered strfviewer model"):
        save_checkpoint(torch.nn.Linear(2, 2), tmp_path / "x")


def test_refuses_arguments_without_json_form(tmp_path):
    model = build("Linear")
    model.init_kwargs_unserializable = ("kernel",)
    with pytest.raises(ValueError, match="kernel"):
        save_checkpoint(model, tmp_path / "x")


def test_refuses_to_replace_a_folder_with_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("precious")
    with pytest.raises(ValueError, match="notes.txt"):
        save_checkpoint(build("Linear"), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "precious"


def test_failed_save_keeps_the_old_checkpoint(linear_ckpt, monkeypatch):
    before = {p.name: p.read_bytes() for p in linear_ckpt.iterdir()}

    def broken_write(path, tensors):
        Path(path).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(weights_file, "write_tensors", broken_write)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(build("LinearNonlinear"), linear_ckpt, metadata={"new": True})
    assert {p.name: p.read_bytes() for p in linear_ckpt.iterdir()} == before
    assert sorted(p.name for p in linear_ckpt.parent.iterdir()) == [linear_ckpt.name]  # no temp folders
    monkeypatch.undo()
    load_checkpoint(linear_ckpt)


def test_saving_over_a_checkpoint_replaces_it(linear_ckpt, x):
    new = build("LinearNonlinear")
    save_checkpoint(new, linear_ckpt)
    loaded, metadata = load_checkpoint(linear_ckpt)
    assert type(loaded).__name__ == "LinearNonlinear" and metadata == {}
    torch.testing.assert_close(predict(loaded, x), predict(new, x), rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------------- bad checkpoints

def _edit_config(folder: Path, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


def test_unknown_model_class(linear_ckpt):
    _edit_config(linear_ckpt, _model_class="EvilNet")
    with pytest.raises(CheckpointError, match=r"config\.json: unknown model class 'EvilNet'; strfviewer knows"):
        load_checkpoint(linear_ckpt)


def test_unknown_module_name_in_a_description(linear_ckpt):
    _edit_config(linear_ckpt, kernel={"_registry": "kernel", "name": "os.system", "kwargs": {}})
    with pytest.raises(CheckpointError, match=r"config\.json: .*unknown kernel 'os.system'"):
        load_checkpoint(linear_ckpt)


def test_config_without_class(linear_ckpt):
    config = json.loads((linear_ckpt / "config.json").read_text())
    del config["_model_class"]
    (linear_ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"config\.json: does not name the model class"):
        load_checkpoint(linear_ckpt)


@pytest.mark.parametrize("text, problem", [("{not json", "not valid JSON"), ("[1, 2]", "JSON object"),
                                           ("", "not valid JSON")])
def test_config_not_json(linear_ckpt, text, problem):
    (linear_ckpt / "config.json").write_text(text)
    with pytest.raises(CheckpointError, match=rf"config\.json: .*{problem}"):
        load_checkpoint(linear_ckpt)


def test_config_with_arguments_the_class_does_not_take(linear_ckpt):
    _edit_config(linear_ckpt, n_wings=2)
    with pytest.raises(CheckpointError, match=r"config\.json: cannot build Linear.*n_wings"):
        load_checkpoint(linear_ckpt)


@pytest.mark.parametrize("missing", ["config.json", "model.safetensors"])
def test_missing_files(linear_ckpt, missing):
    (linear_ckpt / missing).unlink()
    with pytest.raises(CheckpointError, match=rf"{missing}: missing"):
        load_checkpoint(linear_ckpt)


class _Trap:
    """Unpickling this would create a file: the test proves nothing of the kind happens."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickle_renamed_to_safetensors_is_refused_and_never_run(linear_ckpt, tmp_path):
    trap = tmp_path / "pwned"
    (linear_ckpt / "model.safetensors").write_bytes(pickle.dumps({"w": _Trap(str(trap))}, protocol=2))
    with pytest.raises(CheckpointError, match=r"model\.safetensors: not a safetensors file .*pickle"):
        load_checkpoint(linear_ckpt)
    assert not trap.exists()


def test_torch_save_zip_renamed_to_safetensors_is_refused(linear_ckpt):
    torch.save({"readout.bn.weight": torch.ones(N)}, linear_ckpt / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"model\.safetensors: not a safetensors file .*zip"):
        load_checkpoint(linear_ckpt)


def test_truncated_safetensors(linear_ckpt):
    path = linear_ckpt / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(CheckpointError, match=r"model\.safetensors: cannot load its tensors"):
        load_checkpoint(linear_ckpt)


def test_missing_extra_and_misshapen_tensors(linear_ckpt):
    path = linear_ckpt / "model.safetensors"
    tensors = weights_file.load_tensors(path)
    del tensors["readout.bn.bias"]
    tensors["readout.secret"] = torch.zeros(3)
    tensors["readout.bn.weight"] = torch.ones(N + 1)
    weights_file.write_tensors(path, tensors)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(linear_ckpt)
    message = str(err.value)
    assert "model.safetensors" in message
    assert "missing tensors: readout.bn.bias" in message
    assert "unexpected tensors: readout.secret" in message
    assert "readout.bn.weight (3,) (model expects (2,))" in message
    with pytest.raises(CheckpointError, match="wrong shapes"):  # shapes are checked even when not strict
        load_checkpoint(linear_ckpt, strict=False)


def test_mistyped_local_path_never_asks_the_hub(linear_ckpt, monkeypatch, tmp_path):
    import huggingface_hub
    import shutil

    def no_network(**kwargs):
        raise AssertionError("the Hub must not be asked for a mistyped local path")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_network)
    shutil.copytree(linear_ckpt, tmp_path / "fits" / "linear")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint("fits/lineat")  # looks like owner/name, but fits/ is a folder here
    assert str(err.value) == "fits/lineat: no such checkpoint folder (did you mean fits/linear?)"
    with pytest.raises(CheckpointError, match="^nowhere: no such checkpoint folder$"):
        load_checkpoint("nowhere")  # not a repo id: no mention of the Hub


def test_not_a_folder(tmp_path):
    (tmp_path / "file.bin").write_text("x")
    with pytest.raises(CheckpointError, match="is a file"):
        load_checkpoint(tmp_path / "file.bin")
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        load_checkpoint(tmp_path / "nowhere" / "at" / "all")


# -------------------------------------------------------------------------------------------- the Hub

def test_hub_repo_id_goes_through_snapshot_download(linear_ckpt, monkeypatch, tmp_path, x):
    import huggingface_hub

    calls = []

    def fake_snapshot_download(**kwargs):
        calls.append(kwargs)
        return str(linear_ckpt)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.chdir(tmp_path)
    model, metadata = load_checkpoint("someone/tiny-linear", cache_dir=tmp_path / "cache", revision="v1",
                                      token="tok")
    assert metadata == {"dt_ms": 5.0}
    (call,) = calls
    assert call["repo_id"] == "someone/tiny-linear" and call["revision"] == "v1" and call["token"] == "tok"
    assert call["cache_dir"] == str(tmp_path / "cache") and call["repo_type"] == "model"
    assert set(call["allow_patterns"]) == set(hub.CHECKPOINT_FILES)


def test_local_folder_wins_over_the_hub(linear_ckpt, monkeypatch, tmp_path):
    import huggingface_hub
    import shutil

    def no_network(**kwargs):
        raise AssertionError("the Hub must not be asked for a local folder")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_network)
    shutil.copytree(linear_ckpt, tmp_path / "owner" / "name")
    monkeypatch.chdir(tmp_path)
    load_checkpoint("owner/name")


def _fake_hub_cache(cache: Path, repo_id: str, source: Path) -> None:
    """Lay out a checkpoint the way huggingface_hub caches a downloaded snapshot."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    for f in source.iterdir():
        (snapshot / f.name).write_bytes(f.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)


def test_hub_offline_uses_the_cache(linear_ckpt, monkeypatch, tmp_path, x):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.chdir(tmp_path)
    cache = tmp_path / "hf-cache"
    _fake_hub_cache(cache, "lab/linear", linear_ckpt)
    model, metadata = load_checkpoint("lab/linear", cache_dir=cache)
    original, _ = load_checkpoint(linear_ckpt)
    torch.testing.assert_close(predict(model, x), predict(original, x), rtol=0, atol=0)
    with pytest.raises(CheckpointError, match=r"^lab/other: no such checkpoint folder; as a Hugging Face Hub "
                                              r"repo id: not in the local Hugging Face cache"):
        load_checkpoint("lab/other", cache_dir=cache)


def test_push_to_hub_uploads_a_checkpoint(monkeypatch):
    import huggingface_hub

    seen = {}

    class FakeApi:
        def __init__(self, token=None):
            seen["token"] = token

        def create_repo(self, repo_id, repo_type, private, exist_ok):
            seen["create"] = (repo_id, repo_type, private, exist_ok)

        def upload_folder(self, repo_id, repo_type, folder_path, allow_patterns, commit_message):
            seen["files"] = sorted(p.name for p in Path(folder_path).iterdir())
            seen["config"] = json.loads((Path(folder_path) / "config.json").read_text())
            return type("Info", (), {"commit_url": "https://hub.example/commit/1"})()

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    url = push_to_hub(build("Linear"), "me/lin", metadata={"a": 1}, private=True, token="t")
    assert url == "https://hub.example/commit/1"
    assert seen["create"] == ("me/lin", "model", True, True) and seen["token"] == "t"
    assert seen["files"] == ["README.md", "config.json", "metadata.json", "model.safetensors"]
    assert seen["config"]["_model_class"] == "Linear"


def test_checkpoint_error_is_a_value_error_naming_the_file(tmp_path):
    err = CheckpointError(tmp_path / "config.json", "broken")
    assert isinstance(err, ValueError) and err.path.endswith("config.json") and str(err).endswith(": broken")
    assert checkpoints.CheckpointError is CheckpointError


def test_config_keeps_deepstrf_layout_and_loads_without_metadata(tmp_path, x):
    """strfviewer-only optional arguments left at None are not written (so deepSTRF can read the config);
    the folder still loads without metadata.json, i.e. through the deepSTRF reading path."""
    from strfviewer.io.deepstrf_compat import DEEPSTRF_ARGS

    model = build("LinearNonlinear")
    folder = save_checkpoint(model, tmp_path / "ln")
    config = json.loads((folder / "config.json").read_text())
    assert set(config) - {"_model_class"} <= DEEPSTRF_ARGS["LinearNonlinear"]
    assert config["prefiltering"] is None and config["output_activation"] is None
    (folder / "metadata.json").unlink()
    loaded, metadata = load_checkpoint(folder)
    assert metadata == {}
    torch.testing.assert_close(predict(loaded, x), predict(model, x), rtol=0, atol=1e-6)


def test_model_methods_delegate_to_checkpoints(tmp_path, x):
    model = build("Linear")
    folder = model.save_pretrained(tmp_path / "lin", metadata={"k": 1})
    cls = registry.get("model", "Linear")
    loaded, metadata = cls.from_pretrained(folder, return_metadata=True)
    assert metadata == {"k": 1}
    torch.testing.assert_close(predict(loaded, x), predict(model, x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("description, problem", [
    ({"_registry": "scale", "name": "mel", "kwargs": {"f": 1000.0}}, "'scale' is not a kind of module"),
    ({"_registry": "subprocess", "name": "run", "kwargs": {}}, "'subprocess' is not a kind of module"),
    ({"_registry": "prefilter", "name": "AdapTrans", "kwargs": [1, 2]}, "must be a JSON object"),
    ({"_registry": "kernel", "name": "separable",
      "kwargs": {"F": {"_registry": "activation", "name": "Evil", "kwargs": {}}}}, "kernel.F: unknown activation"),
])
def test_descriptions_are_checked_before_anything_is_built(linear_ckpt, description, problem):
    _edit_config(linear_ckpt, kernel=description)
    with pytest.raises(CheckpointError, match=rf"config\.json: .*{problem}"):
        load_checkpoint(linear_ckpt)


@pytest.mark.parametrize("rnn_type", ["GRU", "LSTM", "RNN", "LMU", "Mamba", "S4", "S4D"])
def test_statenet_round_trip_for_every_rnn_type(rnn_type, tmp_path, x):
    model = build("StateNet", rnn_type=rnn_type)
    loaded, _ = load_checkpoint(save_checkpoint(model, tmp_path / rnn_type))
    assert loaded.rnn_type == rnn_type
    torch.testing.assert_close(predict(loaded, x), predict(model, x), rtol=0, atol=1e-6)


def test_old_statenet_s4_checkpoint_opens_as_s4d(tmp_path, x):
    """Before rnn_type "S4" meant deepSTRF's DPLR S4 it meant strfviewer's diagonal S4: such a checkpoint (config
    "S4", diagonal-layer tensors) opens as "S4D" with the same predictions, its metadata's spec corrected too."""
    model = build("StateNet", rnn_type="S4D")
    folder = save_checkpoint(model, tmp_path / "old", metadata={"spec": {"family": "StateNet", "rnn_type": "S4"}})
    _edit_config(folder, rnn_type="S4")
    loaded, metadata = load_checkpoint(folder)
    assert loaded.rnn_type == "S4D" and metadata["spec"]["rnn_type"] == "S4D"
    torch.testing.assert_close(predict(loaded, x), predict(model, x), rtol=0, atol=1e-6)
    new = save_checkpoint(build("StateNet", rnn_type="S4"), tmp_path / "new")
    assert load_checkpoint(new)[0].rnn_type == "S4"           # deepSTRF's S4 tensors keep their meaning


def test_transformer_without_context_window_round_trip(tmp_path, x):
    model = build("Transformer", context_window=None, time_patch_size=2, freq_patch_size=4)
    loaded, _ = load_checkpoint(save_checkpoint(model, tmp_path / "tf"))
    torch.testing.assert_close(predict(loaded, x), predict(model, x), rtol=0, atol=1e-6)


def test_newer_format_is_refused(linear_ckpt):
    meta = json.loads((linear_ckpt / "metadata.json").read_text())
    meta["_checkpoint"]["format_version"] = checkpoints.FORMAT_VERSION + 1
    (linear_ckpt / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"metadata\.json: checkpoint format 2 is newer"):
        load_checkpoint(linear_ckpt)


def test_metadata_not_json(linear_ckpt):
    (linear_ckpt / "metadata.json").write_text("{oops")
    with pytest.raises(CheckpointError, match=r"metadata\.json: not valid JSON"):
        load_checkpoint(linear_ckpt)


@pytest.mark.parametrize("frontend", registry.names("frontend"))
@pytest.mark.parametrize("family", ["Linear", "StateNet"])
def test_waveform_model_round_trip(frontend, family, tmp_path):
    """A wav-native model: its front-end is saved as a description and rebuilt with the same weights."""
    if frontend == "GaborFilterbank":
        kwargs = {"n_bands": F, "sample_rate": 8000, "dt_ms": 5.0, "f_min_hz": 200.0, "f_max_hz": 3000.0}
    else:  # deepSTRF's front-ends
        kwargs = {"n_mels" if frontend == "CausalMel" else "n_filters": F, "audio_fs": 8000, "f_min": 200.0,
                  "f_max": 3000.0}
    front = registry.get("frontend", frontend)(**kwargs)
    torch.manual_seed(4)
    model = perturb(registry.get("model", family)(**FAMILY_KWARGS[family], wav2spec=front))
    folder = save_checkpoint(model, tmp_path / "wav")
    assert json.loads((folder / "config.json").read_text())["wav2spec"]["name"] == frontend
    loaded, _ = load_checkpoint(folder)
    wave = torch.randn(2, 1, 8000 // 10, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(predict(loaded, wave), predict(model, wave), rtol=0, atol=1e-6)


def test_hf_hub_offline_environment_variable_is_honoured(linear_ckpt, tmp_path):
    """In a fresh interpreter with HF_HUB_OFFLINE=1 (read by huggingface_hub at import): the cached repo
    loads, an uncached one fails with the offline explanation, and nothing tries the network."""
    import os
    import subprocess
    import sys

    cache = tmp_path / "hf-cache"
    _fake_hub_cache(cache, "lab/linear", linear_ckpt)
    code = f"""
from strfviewer.io.checkpoints import load_checkpoint, CheckpointError
model, meta = load_checkpoint("lab/linear", cache_dir={str(cache)!r})
print("loaded", type(model).__name__, meta)
try:
    load_checkpoint("lab/missing", cache_dir={str(cache)!r})
except CheckpointError as exc:
    print("error", exc)
"""
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "loaded Linear {'dt_ms': 5.0}" in proc.stdout
    assert "error lab/missing: no such checkpoint folder; as a Hugging Face Hub repo id: not in the local " \
        "Hugging Face cache" \
        in proc.stdout


def test_huge_model_in_config_is_refused_before_allocating(linear_ckpt, monkeypatch):
    """A config asking for a gigantic model is compared with the file on the meta device first."""
    _edit_config(linear_ckpt, out_neurons=10**6)  # the largest size accepted (limits.MAX_CONFIG_INT)

    def no_real_build(*args, **kwargs):
        raise AssertionError("the model must not be built for real")

    monkeypatch.setattr(checkpoints, "_build", no_real_build)
    with pytest.raises(CheckpointError, match=r"readout\.bn\.weight \(2,\) \(model expects \(1000000,\)\)"):
        load_checkpoint(linear_ckpt)


def test_absurdly_nested_config(linear_ckpt):
    (linear_ckpt / "config.json").write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(CheckpointError, match=r"config\.json: JSON nested too deeply"):
        load_checkpoint(linear_ckpt)
