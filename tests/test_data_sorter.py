"""phy / Kilosort folder + stimulus events CSV -> NeuralDataset; one-line errors for bad folders."""

from pathlib import Path

import numpy as np
import pytest
from lab_formats import synthetic_session, write_sorter

from strfviewer.data import DataError, load
from strfviewer.data.identity import dataset_hash
from strfviewer.data.sorter import read_params


@pytest.fixture
def session(tmp_path):
    return synthetic_session(tmp_path / "sounds", n_stimuli=3, n_trials=2)


@pytest.fixture
def folder(tmp_path, session):
    return write_sorter(tmp_path / "sorted", session, n_units=3, labels=["good", "mua", "good"])


def _one_line(err, path, *words):
    text = str(err.value)
    assert "\n" not in text and str(path) in text, text
    for w in words:
        assert w in text, text


def test_good_clusters_by_default_cut_per_presentation(folder, session):
    data = load(folder, normalize=None)
    assert data.neuron_names == ["cluster 0", "cluster 2"]
    assert [m["label"] for m in data.neuron_metadata] == ["good", "good"]
    assert [s.name for s in data.stimuli] == ["sound1", "sound2", "sound3"]
    for played, stim in zip(session, data.stimuli):
        assert stim.responses.shape[:2] == (2, 2)
        for r, trial in enumerate(played.trials):
            idx = np.floor(trial / 5.0).astype(int)
            expected = np.bincount(idx[idx < stim.n_frames], minlength=stim.n_frames)[: stim.n_frames]
            np.testing.assert_array_equal(stim.responses[0, r], expected)


def test_clusters_option_and_explicit_events(folder, tmp_path):
    moved = tmp_path / "elsewhere.csv"
    text = (folder / "events.csv").read_text().replace("../sounds/", "sounds/")
    moved.write_text(text)
    (folder / "events.csv").unlink()
    with pytest.raises(DataError) as err:
        load(folder)
    _one_line(err, folder, "--events")
    data = load(f"{folder}?clusters=mua,2&events={moved}", normalize=None)
    assert data.neuron_names == ["cluster 1", "cluster 2"]
    assert data.source.endswith(f"?clusters=mua,2&events={moved}")


def test_offset_column_sets_the_trial_window(tmp_path, session):
    folder = write_sorter(tmp_path / "off", session, offsets=True)
    a = load(folder, normalize=None)
    assert a.n_neurons == 1 and a.stimuli[0].responses.shape[1] == 2


def test_params_are_read_as_literals_never_executed(tmp_path):
    path = tmp_path / "params.py"
    path.write_text("import os\nsample_rate = 25000.\nx = os.system('echo hacked')\ndat_path = r'a.dat'\n")
    params = read_params(path)
    assert params == {"sample_rate": 25000.0, "dat_path": "a.dat"}


def test_missing_params_py(folder):
    (folder / "params.py").unlink()
    with pytest.raises(DataError) as err:
        load(folder)
    _one_line(err, folder / "params.py", "missing params.py")


def test_spike_arrays_of_different_lengths(folder):
    clusters = np.load(folder / "spike_clusters.npy")
    np.save(folder / "spike_clusters.npy", clusters[:-3])
    with pytest.raises(DataError) as err:
        load(folder)
    _one_line(err, folder / "spike_clusters.npy", "spike_times.npy has")


def test_events_outside_the_recording(folder):
    events = folder / "events.csv"
    lines = events.read_text().splitlines()
    lines.append(lines[-1].replace(lines[-1].split(",")[0], "99999", 1))
    events.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        load(folder)
    _one_line(err, events, f":{len(lines)}:", "outside the recording")
    raw = folder / "raw.dat"  # with the raw file the recording's length is known
    raw.write_bytes(b"\0" * (4 * 2 * 30000 * 2))  # 4 channels int16, 2 s
    with pytest.raises(DataError) as err:
        load(folder)
    _one_line(err, events, "0 to 2.000 s")


def test_events_naming_a_missing_sound(folder):
    events = folder / "events.csv"
    events.write_text(events.read_text().replace("sound2.wav", "sound9.wav", 1))
    with pytest.raises(DataError) as err:
        load(folder)
    _one_line(err, events, "'../sounds/sound9.wav' not found")


def test_hash_reads_the_sorter_files_not_the_raw_recording(folder):
    before = dataset_hash(str(folder))
    (folder / "raw.dat").write_bytes(b"\1" * 1000)
    assert dataset_hash(str(folder)) == before
    np.save(folder / "spike_clusters.npy", np.load(folder / "spike_clusters.npy")[::-1].copy())
    assert dataset_hash(str(folder)) != before
