"""deepSTRF checkpoints of waveform models (a ``wav2spec`` front-end) load in strfviewer and predict the same.

Fixtures under ``tests/fixtures/deepstrf/wav2spec/`` were written once by deepSTRF 0.1.0
(``tests/fixtures/make_deepstrf_fixtures.py --part wav2spec``): every parameter and filter buffer moved away
from its initial value, ``io.npz`` holding deepSTRF's front-end output ``spec`` and model output ``y`` for the 1 s
of noise in ``input.npz``. deepSTRF's config.json has no front-end: the loader infers it from the tensors and is
told only the manifest's ``tell`` (the sample rate, plus options that change no tensor).
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from strfviewer.io import weights_file
from strfviewer.io.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from strfviewer.models import registry

ROOT = Path(__file__).resolve().parent / "fixtures" / "deepstrf" / "wav2spec"
MANIFEST = json.loads((ROOT / "manifest.json").read_text())
FIXTURES = MANIFEST["fixtures"]
X = torch.from_numpy(np.load(ROOT / "input.npz")["x"])
TOLERANCE = 1e-4


def load_fixture(name, tell=None, folder=None):
    extra = {"wav2spec": dict(FIXTURES[name]["wav2spec"]["tell"] if tell is None else tell)}
    return load_checkpoint(folder or ROOT / name, extra_kwargs=extra)


def max_diff(a, b) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


def test_every_deepstrf_frontend_has_a_fixture():
    classes = {info["wav2spec"]["class"] for info in FIXTURES.values()}
    assert classes == {"CausalMelSpectrogram", "CausalGammatone", "Gammatonegram", "CausalLEAF", "SincNet"}
    assert X.shape == (1, 1, MANIFEST["audio_fs"])                          # 1 s of noise


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_deepstrf_waveform_checkpoint_reproduces_deepstrf(name):
    info = FIXTURES[name]
    model, _ = load_fixture(name)
    assert type(model).__name__ == info["class"] and model.is_wav_native
    assert registry.entry("frontend", info["wav2spec"]["class"]).obj is type(model.wav2spec)
    io = np.load(ROOT / name / "io.npz")
    with torch.no_grad():
        spec, y = model.wav2spec(X), model(X)
    assert spec.shape == io["spec"].shape and y.shape == io["y"].shape
    assert max_diff(spec, io["spec"]) < TOLERANCE, f"{name}: front-end differs by {max_diff(spec, io['spec']):.3g}"
    assert max_diff(y, io["y"]) < TOLERANCE, f"{name}: prediction differs by {max_diff(y, io['y']):.3g}"


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_sizes_are_inferred_from_the_tensors(name):
    """What the shapes tell (band count, window and kernel lengths) matches what deepSTRF was built with."""
    info = FIXTURES[name]["wav2spec"]
    model, _ = load_fixture(name)
    fe, given = model.wav2spec, info["kwargs"]
    assert fe.out_channels == given.get("n_filters", given.get("n_mels")) and fe.audio_fs == MANIFEST["audio_fs"]
    built = registry.get("frontend", info["class"])(audio_fs=MANIFEST["audio_fs"], **given)
    for key in ("win", "kernel_size", "pool_size"):   # lengths in samples (LEAF's kernel is made odd)
        assert getattr(fe, key, None) == getattr(built, key, None), key
    if info["class"] in ("CausalGammatone", "Gammatonegram"):
        for key in ("f_min", "f_max"):  # the stored filters tell the frequency range
            if key in given:
                assert fe.init_kwargs[key] == pytest.approx(given[key], abs=0.02), key


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_missing_sample_rate_is_a_one_line_error_naming_the_key(name):
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(ROOT / name)
    message = str(err.value)
    assert "\n" not in message and "config.json" in message
    assert f"deepSTRF {FIXTURES[name]['wav2spec']['class']} front-end" in message
    assert "extra_kwargs={'wav2spec': {'audio_fs': ...}}" in message


def test_the_cli_option_for_the_sample_rate_is_named():
    from strfviewer.commands.gradmap import open_checkpoint

    with pytest.raises(ValueError, match=r"audio sample rate .*--model-arg wav2spec\.audio_fs=VALUE"):
        open_checkpoint(str(ROOT / "mel"))
    model, _ = open_checkpoint(str(ROOT / "mel"), ["wav2spec.audio_fs=16000"])
    assert model.wav2spec.audio_fs == 16000


def test_options_no_tensor_shows_take_deepstrf_defaults_unless_given():
    model, _ = load_fixture("sincnet_envelope", tell={"audio_fs": 16000})
    assert model.wav2spec.envelope is False and model.wav2spec.activation == "logabs"
    io = np.load(ROOT / "sincnet_envelope" / "io.npz")
    with torch.no_grad():
        assert max_diff(model.wav2spec(X), io["spec"]) > 0.01                 # so the manifest's tell matters


def test_hop_comes_from_the_metadata_dt_ms(tmp_path):
    folder = Path(shutil.copytree(ROOT / "leaf", tmp_path / "leaf"))
    (folder / "metadata.json").write_text(json.dumps({"dt_ms": 2.5}))
    model, _ = load_fixture("leaf", folder=folder)
    assert model.wav2spec.hop_ms == 2.5 and model.wav2spec.hop == 40
    model, _ = load_fixture("leaf", folder=folder, tell={"audio_fs": 16000, "hop_ms": 5.0})   # the caller wins
    assert model.wav2spec.hop == 80


def test_a_sample_rate_below_twice_the_stored_filters_is_refused():
    with pytest.raises(CheckpointError, match=r"cannot build Linear.*f_max"):
        load_fixture("gammatone", tell={"audio_fs": 8000, "f_max": 6000.0})


def test_unknown_frontend_tensors(tmp_path):
    folder = Path(shutil.copytree(ROOT / "mel", tmp_path / "mel"))
    tensors = weights_file.load_tensors(folder / "model.safetensors")
    tensors["wav2spec.filters"] = tensors.pop("wav2spec._mel_fb")
    weights_file.write_tensors(folder / "model.safetensors", tensors)
    with pytest.raises(CheckpointError, match=r"wav2spec: unrecognised waveform front-end tensors \['_window', "
                                              r"'filters'\]"):
        load_checkpoint(folder, extra_kwargs={"wav2spec": {"audio_fs": 16000}})


@pytest.mark.parametrize("name", ["gammatonegram_log", "leaf_statenet", "sincnet_envelope", "mel_power_cubic"])
def test_strfviewer_resave_stores_the_frontend_and_reopens_with_nothing_asked(name, tmp_path):
    model, _ = load_fixture(name)
    save_checkpoint(model, tmp_path / "resaved")
    config = json.loads((tmp_path / "resaved" / "config.json").read_text())
    assert config["wav2spec"]["_registry"] == "frontend"
    assert config["wav2spec"]["kwargs"]["audio_fs"] == MANIFEST["audio_fs"]
    again, _ = load_checkpoint(tmp_path / "resaved")
    with torch.no_grad():
        assert max_diff(again(X[..., :4000]), model(X[..., :4000])) == 0.0
