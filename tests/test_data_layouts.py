"""Loading cell folders, population folders and CRCNS AA1/AA2 downloads built in tmp_path; bad input."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strfviewer.data import DataError, load
from strfviewer.data.spectrogram import SpectrogramConfig

SR = 16000


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STRFVIEWER_CACHE_DIR", str(tmp_path / "cache"))


def write_wav(path: Path, seconds=0.2, sr=SR, freq=1000.0, channels=1, seed=0):
    t = np.arange(int(seconds * sr)) / sr
    mono = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * np.random.default_rng(seed).standard_normal(len(t))
    data = np.stack([mono] * channels, axis=1) if channels > 1 else mono
    if channels == 2:
        data[:, 1] *= 0.5
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data.astype(np.float32), sr, subtype="PCM_16")
    return path


def write_spikes(path: Path, trials):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(" ".join(str(t) for t in trial) + " \n" for trial in trials))
    return path


def make_cell(folder: Path, n_stim=3, trials=None, seconds=0.2):
    trials = trials or [[1.0, 7.5, 12.0], [], [2.0]]
    for k in range(1, n_stim + 1):
        write_wav(folder / f"stim{k}.wav", seconds, freq=500.0 * k + 500, seed=k)
        write_spikes(folder / f"spike{k}", trials)
    return folder


# --- cell folder ------------------------------------------------------------------------------------
def test_cell_folder_bins_spikes_per_trial(tmp_path):
    cell = make_cell(tmp_path / "cellA")
    ds = load(cell, normalize=None)
    assert ds.neuron_names == ["cellA"] and [s.name for s in ds.stimuli] == ["stim1", "stim2", "stim3"]
    s = ds.stimuli[0]
    assert s.responses.shape == (1, 3, 40)  # 200 ms / 5 ms
    assert s.responses[0, 0, [0, 1, 2]].tolist() == [1, 1, 1] and s.responses[0, 0].sum() == 3
    assert s.responses[0, 1].sum() == 0 and s.responses[0, 2, 0] == 1
    assert s.psth().shape == (1, 40)
    assert ds.stimuli[0].spec.shape == (1, 34, 40)
    assert ds.freqs_hz[-1] == pytest.approx(8000.0)
    assert ds.warnings == []


def test_cell_folder_natural_order_and_default_split(tmp_path):
    cell = make_cell(tmp_path / "c", n_stim=12, trials=[[1.0]], seconds=0.05)
    ds = load(cell)
    assert [s.name for s in ds.stimuli][:3] == ["stim1", "stim2", "stim3"]
    assert ds.split["stim12"] == "test" and ds.split["stim1"] == "train"


def test_explicit_split_lists(tmp_path):
    cell = make_cell(tmp_path / "c", n_stim=3)
    ds = load(cell, split={"train": ["stim1"], "val": ["stim3"], "test": ["stim2"]})
    assert ds.split == {"stim1": "train", "stim2": "test", "stim3": "val"}
    with pytest.raises(ValueError, match="does not place"):
        load(cell, split={"train": ["stim1"], "val": ["stim3"], "test": []})


def test_zscore_uses_train_statistics_and_is_recorded(tmp_path):
    cell = make_cell(tmp_path / "c", n_stim=6, seconds=0.1)
    raw = load(cell, normalize=None)
    z = load(cell)
    norm = z.frontend["normalization"]
    train = np.concatenate([s.spec[0] for s in raw.stimuli_in("train")], axis=1)
    assert np.allclose(norm["mean"], train.mean(axis=1), atol=1e-4)
    ztrain = np.concatenate([s.spec[0] for s in z.stimuli_in("train")], axis=1)
    assert np.allclose(ztrain.mean(axis=1), 0, atol=1e-4)
    assert SpectrogramConfig.from_dict(z.frontend) == SpectrogramConfig()


def test_spikes_past_the_end_are_dropped_and_counted(tmp_path):
    cell = make_cell(tmp_path / "c", n_stim=2, trials=[[10.0, 250.0, 300.0], [199.0]])
    ds = load(cell)
    assert sum(np.nansum(s.responses) for s in ds.stimuli) == 4
    assert any("dropped 4 spikes after the stimulus end (in 2 spike files)" in w for w in ds.warnings)


def test_bad_spike_line_is_named(tmp_path):
    cell = make_cell(tmp_path / "c", n_stim=2)
    (cell / "spike2").write_text("1 2 \n3 x4 \n")
    with pytest.raises(DataError) as info:
        load(cell)
    assert info.value.path.endswith("spike2") and info.value.line == 2


def test_negative_spike_times(tmp_path):
    cell = make_cell(tmp_path / "c", n_stim=2, trials=[[-5.0, 3.0]])
    with pytest.raises(DataError, match="negative spike time") as info:
        load(cell)
    assert info.value.line == 1
    ds = load(cell, pre_onset="drop")
    assert any("dropped 2 spikes before the stimulus onset" in w for w in ds.warnings)


@pytest.mark.parametrize("remove, named, words", [
    ("stim2.wav", "spike2", "spike file without its stimulus"),
    ("spike2", "stim2.wav", "stimulus without its spike file"),
])
def test_spike_file_and_wav_must_pair(tmp_path, remove, named, words):
    cell = make_cell(tmp_path / "c")
    (cell / remove).unlink()
    with pytest.raises(DataError, match=words) as info:
        load(cell)
    assert Path(info.value.path).name == named


def test_truncated_and_unreadable_wavs(tmp_path):
    cell = make_cell(tmp_path / "c", n_stim=2)
    raw = (cell / "stim2.wav").read_bytes()
    (cell / "stim2.wav").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="truncated") as info:
        load(cell)
    assert Path(info.value.path).name == "stim2.wav"
    (cell / "stim2.wav").write_bytes(b"not audio at all")
    with pytest.raises(DataError, match="unreadable audio") as info:
        load(cell)
    assert Path(info.value.path).name == "stim2.wav"


def test_stereo_is_mixed_down_and_said(tmp_path):
    cell = make_cell(tmp_path / "c", n_stim=2)
    write_wav(cell / "stim1.wav", channels=2, seed=1)
    ds = load(cell)
    assert any("stim1.wav: 2 channels mixed down to mono" in w for w in ds.warnings)
    stereo, _ = sf.read(str(cell / "stim1.wav"), dtype="float32")
    assert np.allclose(ds.stimulus("stim1").waveform, stereo.mean(axis=1), atol=1e-6)


def test_different_sample_rates_are_resampled_and_said(tmp_path):
    cell = make_cell(tmp_path / "c", n_stim=3, seconds=0.3)
    write_wav(cell / "stim3.wav", seconds=0.3, sr=32000, freq=2000.0)
    ds = load(cell, normalize=None)
    assert any("resampled 1 from 32000 Hz to 16000 Hz" in w for w in ds.warnings)
    s3 = ds.stimulus("stim3")
    assert s3.sample_rate == 16000 and len(s3.waveform) == int(0.3 * 16000)
    assert s3.n_frames == 60
    peak = ds.freqs_hz[np.argmax(s3.spec[0, :, 30])]
    assert abs(np.log2(peak / 2000.0)) < 0.2
    # the resampled waveform is the same tone
    t = np.arange(len(s3.waveform)) / 16000
    ref = 0.3 * np.sin(2 * np.pi * 2000.0 * t)
    assert np.corrcoef(s3.waveform[100:-100], ref[100:-100])[0, 1] > 0.99


def test_empty_and_unknown_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty folder"):
        load(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="not a recording folder"):
        load(tmp_path / "other")
    with pytest.raises(DataError, match="no such file"):
        load(tmp_path / "missing")
    (tmp_path / "x.txt").write_text("1")
    with pytest.raises(DataError, match="not a dataset"):
        load(tmp_path / "x.txt")


# --- population folder ------------------------------------------------------------------------------
def test_population_masks_missing_stimuli_with_nan(tmp_path):
    pop = tmp_path / "pop"
    make_cell(pop / "cellA", n_stim=3, trials=[[1.0], [2.0], [3.0]])
    make_cell(pop / "cellB", n_stim=3, trials=[[4.0]] * 5)
    make_cell(pop / "cellC", n_stim=2, trials=[[6.0]])  # never heard stim3
    ds = load(pop, normalize=None)
    assert ds.neuron_names == ["cellA", "cellB", "cellC"]
    s3 = ds.stimulus("stim3")
    assert s3.responses.shape == (3, 5, 40)
    assert np.all(np.isnan(s3.responses[2]))  # masked, not zero-filled
    assert np.all(np.isnan(s3.responses[0, 3:])) and not np.any(np.isnan(s3.responses[0, :3]))
    assert np.isnan(s3.psth()[2]).all() and s3.psth()[1, 0] == 1.0
    assert any("1 (neuron, stimulus) pairs were not recorded" in w for w in ds.warnings)


def test_population_refuses_different_audio_under_one_name(tmp_path):
    pop = tmp_path / "pop"
    make_cell(pop / "cellA", n_stim=2)
    make_cell(pop / "cellB", n_stim=2)
    write_wav(pop / "cellB" / "stim2.wav", freq=3000.0)
    with pytest.raises(DataError, match="differs from") as info:
        load(pop)
    assert "cellB" in info.value.path


# --- CRCNS AA1 --------------------------------------------------------------------------------------
def make_aa1(root: Path):
    write_wav(root / "all_stims" / "conspecific" / "AAA1.wav", 0.2, freq=1000)
    write_wav(root / "all_stims" / "conspecific" / "BBB2.wav", 0.2, freq=2000)
    write_wav(root / "all_stims" / "flatrip" / "CCC3.wav", 0.2, freq=3000)
    a = root / "Field_L_cells" / "pupu1_1_A" / "conspecific"
    for k, wav in ((1, "AAA1.wav"), (2, "BBB2.wav")):
        (a).mkdir(parents=True, exist_ok=True)
        (a / f"stim{k}").write_text(f"{wav}\nsome other line\n")
        write_spikes(a / f"spike{k}", [[-300.0, 5.0, 50.0], [12.0]])
    b = root / "MLd_cells" / "pupu1_2" / "flatrip"
    b.mkdir(parents=True)
    (b / "stim1").write_text("CCC3.wav\n")
    write_spikes(b / "spike1", [[1.0, 2.0, 3.0]])
    (b / "stim2").write_text("CCC3.wav\n")  # a stimK without its spikeK: masked, with a warning
    return root


def test_crcns_aa1_layout(tmp_path):
    root = make_aa1(tmp_path / "aa1")
    ds = load(root, normalize=None)
    assert ds.neuron_names == ["pupu1_1_A", "pupu1_2"]
    assert [m["area"] for m in ds.neuron_metadata] == ["Field_L", "MLd"]
    assert ds.neuron_metadata[0]["animal"] == "pupu1"
    assert [s.name for s in ds.stimuli] == ["conspecific/AAA1", "conspecific/BBB2", "flatrip/CCC3"]
    assert ds.stimulus("flatrip/CCC3").metadata["type"] == "flatrip"
    a1 = ds.stimulus("conspecific/AAA1")
    assert np.all(np.isnan(a1.responses[1]))  # MLd cell never heard it
    assert np.nansum(a1.responses[0]) == 3  # the pre-onset spike is dropped
    assert any("dropped 2 spikes before the stimulus onset" in w for w in ds.warnings)
    assert any("stimK files without their spikeK" in w for w in ds.warnings)
    assert ds.stimulus("flatrip/CCC3").responses.shape[:2] == (2, 1)  # the MLd cell recorded 1 trial


def test_crcns_aa1_filters_and_missing_wav(tmp_path):
    root = make_aa1(tmp_path / "aa1")
    ds = load(root, cells=["pupu1_2"])
    assert ds.neuron_names == ["pupu1_2"] and [s.name for s in ds.stimuli] == ["flatrip/CCC3"]
    (root / "all_stims" / "flatrip" / "CCC3.wav").unlink()
    with pytest.raises(DataError, match="CCC3.wav") as info:
        load(root)
    assert info.value.line == 1 and info.value.path.endswith("stim1")


# --- CRCNS AA2 --------------------------------------------------------------------------------------
def make_aa2(root: Path):
    write_wav(root / "all_stims" / "song1.wav", 0.15, freq=1500)
    write_wav(root / "all_stims" / "rip1.wav", 0.15, freq=4000)
    c1 = root / "all_cells" / "oran0101_3" / "conspecific"
    c1.mkdir(parents=True)
    (c1 / "stim1").write_text("song1.wav\n")
    write_spikes(c1 / "spike1", [[3.0], [4.0]])
    c2 = root / "all_cells" / "blue0203_1" / "songrip"
    c2.mkdir(parents=True)
    (c2 / "stim1").write_text("rip1.wav\n")
    write_spikes(c2 / "spike1", [[-20.0, 8.0]])
    (root / "cell_regions.csv").write_text("oran0101_3,L2a\nblue0203_1,mld\n")
    (root / "cell_stim_classes.csv").write_text("cell,conspecific,songrip\noran0101_3,1,0\nblue0203_1,0,1\n")
    (root / "stim_data.csv").write_text("song1.wav,32000,16,4800,conspecific\nrip1.wav,32000,16,4800,songrip\n")
    return root


def test_crcns_aa2_layout_and_tables(tmp_path):
    root = make_aa2(tmp_path / "aa2")
    ds = load(root, normalize=None)
    assert sorted(ds.neuron_names) == ["blue0203_1", "oran0101_3"]
    meta = dict(zip(ds.neuron_names, ds.neuron_metadata))
    assert meta["oran0101_3"]["region"] == "L2a" and meta["blue0203_1"]["region"] == "mld"
    assert meta["oran0101_3"]["stim_classes.conspecific"] == "1"
    song = ds.stimulus("song1")
    assert song.metadata["type"] == "conspecific" and song.metadata["stim_data.col5"] == "conspecific"
    assert song.metadata["stim_data.col2"] == "32000"
    blue = ds.neuron_names.index("blue0203_1")
    assert np.all(np.isnan(song.responses[blue]))
    assert np.nansum(ds.stimulus("rip1").responses[blue]) == 1


# --- junk through the whole loader --------------------------------------------------------------------
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spike_bytes=st.one_of(st.binary(max_size=120),
                             st.text(alphabet="0123456789.-e \n\tx", max_size=120).map(str.encode)),
       wav_bytes=st.one_of(st.none(), st.binary(max_size=64)))
def test_junk_files_end_in_a_dataset_or_a_data_error(tmp_path_factory, spike_bytes, wav_bytes):
    cell = make_cell(tmp_path_factory.mktemp("junk") / "c", n_stim=2, seconds=0.05)
    (cell / "spike2").write_bytes(spike_bytes)
    if wav_bytes is not None:
        (cell / "stim1.wav").write_bytes(wav_bytes)
    try:
        ds = load(cell, use_cache=False)
    except DataError as err:
        assert err.path and err.message
        return
    assert len(ds.stimuli) == 2 and all(np.all(np.nan_to_num(s.responses) >= 0) for s in ds.stimuli)
