"""Issue #14, class 2: sizes a file, a checkpoint or an option sets are checked before memory is allocated;
refusals are one line naming the file or option and the size."""

import json
import os

import numpy as np
import pytest
import torch

import hostile_corpus as hc
from strfviewer.cli import main
from strfviewer.data import DataError, limits, load
from strfviewer.data.audio import read_wav
from strfviewer.data.spikes import read_spike_file
from strfviewer.io.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from strfviewer.models.factory import ModelSpec, build_model


def _cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err.strip().splitlines()


def test_wav_with_a_tiny_sample_rate_is_refused(tmp_path):
    path = tmp_path / "stim1.wav"
    path.write_bytes(hc.wav_bytes(np.zeros(100), rate=2))
    with pytest.raises(DataError, match=r"stim1.wav: sample rate 2 Hz is outside 1000\.\.1000000 Hz"):
        read_wav(path)


def test_spike_file_with_too_many_trials_is_refused_before_parsing(tmp_path):
    path = tmp_path / "spike1"
    path.write_text("\n" * (limits.MAX_TRIALS + 5))
    with pytest.raises(DataError, match=r"spike1: about \d+ trials \(lines\), more than the 10000"):
        read_spike_file(path)


@pytest.mark.parametrize("option, value, expected", [("--bands", "100000", "--bands 100000: "),
                                                     ("--dt-ms", "0.001", "--dt-ms 0.001: ")])
def test_front_end_options_out_of_range_name_the_option(tmp_path, capsys, option, value, expected):
    rc, err = _cli(capsys, "fit", "/nonexistent", "--out", tmp_path / "o", option, value)
    assert rc == 2 and len(err) == 1 and expected in err[0] and "/nonexistent" not in err[0], err


def test_a_long_stimulus_at_a_fine_step_is_refused_with_its_size(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_FRAMES", 1000)
    folder = hc.cell_folder(tmp_path / "cell", n_stim=2, seconds=1.0)
    with pytest.raises(DataError, match=r"stim1.wav: the spectrogram would have 2000 frames of 0.5 ms"):
        load(folder, frontend={"dt_ms": 0.5}, use_cache=False)


def _checkpoint(tmp_path):
    return save_checkpoint(build_model(ModelSpec(family="Linear", T=3), 4, 2), tmp_path / "ckpt")


def test_huge_integer_in_checkpoint_config_is_refused(tmp_path):
    folder = _checkpoint(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["temporal_window_size"] = 10 ** 8
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"config.json: temporal_window_size = 100000000 is larger than"):
        load_checkpoint(folder)


def test_prefilter_kernel_size_in_checkpoint_config_is_refused(tmp_path):
    model = build_model(ModelSpec(family="Linear", T=3, prefilter="AdapTrans"), 4, 2)
    folder = save_checkpoint(model, tmp_path / "ckpt")
    config = json.loads((folder / "config.json").read_text())
    config["prefiltering"]["kwargs"]["kernel_size"] = 10 ** 8
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"prefiltering.kwargs.kernel_size = 100000000"):
        load_checkpoint(folder)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_config_json_linked_to_dev_zero_is_refused(tmp_path):
    folder = _checkpoint(tmp_path)
    (folder / "config.json").unlink()
    (folder / "config.json").symlink_to("/dev/zero")
    with pytest.raises(CheckpointError, match="config.json: is not a regular file"):
        load_checkpoint(folder)


def test_oversized_json_is_refused_after_reading_only_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_JSON_BYTES", 1000)
    folder = _checkpoint(tmp_path)
    (folder / "metadata.json").write_text(json.dumps({"x": "y" * 2000}))
    with pytest.raises(CheckpointError, match=r"metadata.json: larger than the 1000 bytes"):
        load_checkpoint(folder)


def test_gradmap_and_dream_frames_are_bounded(tmp_path, capsys):
    folder = _checkpoint(tmp_path)
    for command in ("gradmap", "dream"):
        rc, err = _cli(capsys, command, folder, "--out", tmp_path / "x.npz", "-T", "100000000")
        assert rc == 2 and len(err) == 1 and "-T 100000000: must be <= 100000" in err[0], err


def test_npz_header_declaring_a_huge_array_is_refused_before_reading(tmp_path, monkeypatch):
    path = hc.write_npz(tmp_path)
    monkeypatch.setattr(limits, "MAX_NPZ_BYTES", 10_000)
    with pytest.raises(DataError, match=r"data.npz: key '\w+' declares shape .* more than the 9.8 KiB"):
        load(path)


def test_responses_larger_than_the_limit_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_RESPONSE_BYTES", 1000)
    folder = hc.cell_folder(tmp_path / "cell", n_stim=2)
    with pytest.raises(DataError, match=r"1 neurons x 3 trials x \d+ frames of responses need"):
        load(folder, use_cache=False)


def test_checkpoint_and_data_of_different_band_counts_say_so(tmp_path, capsys):
    """Issue #14, class 5: no broadcasting error; the data, the band counts and what does not fit."""
    data8 = hc.write_npz(tmp_path, "eight.npz")
    rc, err = _cli(capsys, "fit", data8, "--out", tmp_path / "m", "--method", "ridge", "-T", "3", "--no-history",
                   "--quiet")
    assert rc == 0, err
    arrays = hc.npz_arrays()
    data6 = hc.write_npz(tmp_path, "six.npz", spec=arrays["spec"][:, :6], freqs_hz=arrays["freqs_hz"][:6])
    rc, err = _cli(capsys, "export", tmp_path / "m", data6, "--csv", tmp_path / "m.csv", "--quiet")
    assert rc == 2 and len(err) == 1 and "six.npz" in err[0] and "8 bands" in err[0] and "have 6" in err[0], err


def test_8_bit_audio_is_accepted_with_a_note_naming_the_file(tmp_path):
    """Issue #14, class 6: an 8-bit WAV is not accepted without a word."""
    folder = hc.cell_folder(tmp_path / "cell", n_stim=4, bits=8)
    assert any("stim1.wav: 8-bit audio" in n for n in read_wav(folder / "stim1.wav").notes)
    dataset = load(folder, use_cache=False)
    assert sum("8-bit audio" in w for w in dataset.warnings) == 4
    assert not any("8-bit" in n for n in read_wav(hc.cell_folder(tmp_path / "c16") / "stim1.wav").notes)
