"""strfviewer's binned NPZ format: round trip, hand-written files, bad files."""

import numpy as np
import pytest

from strfviewer.data import DataError, load, make_demo, save_npz


@pytest.fixture(scope="module")
def small_demo():
    return make_demo(n_neurons=3, n_stimuli=5, n_trials=4).dataset


def test_round_trip_keeps_everything(small_demo, tmp_path):
    path = save_npz(small_demo, tmp_path / "sub" / "data.npz")
    back = load(path)
    assert back.neuron_names == small_demo.neuron_names and back.split == small_demo.split
    assert np.allclose(back.freqs_hz, small_demo.freqs_hz) and back.dt_ms == small_demo.dt_ms
    assert back.frontend == small_demo.frontend  # normalisation is stored, not applied twice
    assert back.neuron_metadata == small_demo.neuron_metadata
    for a, b in zip(small_demo.stimuli, back.stimuli):
        assert a.name == b.name and np.array_equal(a.spec, b.spec)
        assert np.array_equal(a.responses, b.responses) and np.array_equal(a.waveform, b.waveform)
        assert b.sample_rate == a.sample_rate and b.metadata == a.metadata
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temporary file left behind


def test_hand_written_padded_file(tmp_path):
    rng = np.random.default_rng(0)
    spec = rng.standard_normal((2, 8, 30)).astype(np.float32)
    responses = rng.poisson(1.0, (2, 3, 4, 30)).astype(np.float32)
    responses[1, 2] = np.nan  # neuron 3 not recorded for stimulus 2
    path = tmp_path / "mine.npz"
    np.savez(path, spec=spec, responses=responses, dt_ms=2.0, n_frames=np.array([30, 20]),
             freqs_hz=np.geomspace(500, 8000, 8))
    ds = load(path, split=(0.5, 0.0, 0.5), normalize=None)
    assert [s.name for s in ds.stimuli] == ["stim1", "stim2"] and ds.neuron_names[0] == "neuron1"
    assert ds.stimuli[1].spec.shape == (1, 8, 20) and ds.stimuli[1].responses.shape == (3, 4, 20)
    assert np.isnan(ds.stimuli[1].responses[2]).all()
    assert ds.split == {"stim1": "train", "stim2": "test"}
    z = load(path)  # default z-scoring from the train stimulus
    assert z.frontend["normalization"]["from"] == "train"


@pytest.mark.parametrize("arrays, words", [
    ({"responses": np.zeros((1, 1, 1, 5)), "dt_ms": 5.0}, "missing key 'spec'"),
    ({"spec": np.zeros((1, 4, 5)), "responses": np.zeros((1, 1, 1, 6)), "dt_ms": 5.0}, "does not match"),
    ({"spec": np.zeros((4, 5)), "responses": np.zeros((1, 1, 1, 5)), "dt_ms": 5.0}, "expected (S, F, T)"),
    ({"spec": np.zeros((1, 4, 5)), "responses": np.zeros((1, 1, 1, 5)), "dt_ms": -1.0}, "must be > 0"),
    ({"spec": np.zeros((1, 4, 5)), "responses": np.zeros((1, 1, 1, 5)), "dt_ms": 5.0,
      "freqs_hz": np.ones(3)}, "3 values for 4 bands"),
    ({"spec": np.zeros((1, 4, 5)), "responses": np.zeros((1, 1, 1, 5)), "dt_ms": 5.0,
      "split": np.array(["training"])}, "not one of"),
    ({"spec": np.zeros((1, 4, 5)), "responses": np.zeros((1, 1, 1, 5)), "dt_ms": 5.0,
      "stim_names": np.array(["a", "b"])}, "expected 1"),
    ({"spec": np.zeros((1, 4, 5)), "responses": np.zeros((1, 1, 1, 5)), "dt_ms": 5.0,
      "frontend_json": np.array("[1, 2]")}, "expected a dict"),
    ({"spec": np.zeros((1, 4, 5)), "responses": np.zeros((1, 1, 1, 5)), "dt_ms": 5.0,
      "stim_metadata_json": np.array("{not json")}, "not valid JSON"),
])
def test_bad_files_are_named(tmp_path, arrays, words):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as info:
        load(path)
    assert words in info.value.message and info.value.path == str(path)


def test_pickled_objects_and_junk_are_refused(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, spec=np.zeros((1, 4, 5)), responses=np.zeros((1, 1, 1, 5)), dt_ms=5.0,
             stim_names=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(DataError, match="without pickle"):
        load(path)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(DataError, match="unreadable NPZ"):
        load(junk)
