"""Spike times kept beside the binned counts: from spike files into the dataset, through the binned NPZ and back."""

from pathlib import Path

import numpy as np
import pytest

from strfviewer.data import DataError, load, make_demo, save_npz
from strfviewer.data.npz import SPIKE_KEYS
from strfviewer.data.spikes import bin_trials, times_in_frames

from test_data_layouts import make_cell  # tests/ is on sys.path (rootdir conftest)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STRFVIEWER_CACHE_DIR", str(tmp_path / "cache"))


def _same_times(a, b) -> bool:
    """Equal spike times (lists of per-trial arrays, or None)."""
    if a is None or b is None:
        return a is None and b is None
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_times_in_frames_are_what_the_counts_count():
    trials = [np.array([12.0, 1.0, 4.999, 5.0, 199.9, 200.0, 250.0]), np.array([]), np.array([0.0])]
    kept = times_in_frames(trials, n_frames=40, dt_ms=5.0)
    assert [t.tolist() for t in kept] == [[1.0, 4.999, 5.0, 12.0, 199.9], [], [0.0]]  # sorted, end excluded
    counts, dropped = bin_trials(trials, 40, 5.0)
    assert dropped == 2
    assert np.array_equal(bin_trials(kept, 40, 5.0)[0], counts)


def test_cell_folder_keeps_spike_times_per_stimulus_and_trial(tmp_path):
    cell = make_cell(tmp_path / "cellA", n_stim=2, trials=[[12.0, 1.0, 7.5, 250.0], [], [2.25]])
    ds = load(cell, normalize=None, smoothing_ms=None)
    assert ds.has_spike_times
    for stim in ds.stimuli:
        times = stim.spike_times_of(0)
        assert [t.tolist() for t in times] == [[1.0, 7.5, 12.0], [], [2.25]]  # ms, sorted, past the end dropped
        assert times[0].dtype == np.float64
        counts = bin_trials(times, stim.n_frames, ds.dt_ms)[0]
        assert np.array_equal(counts, stim.responses[0])


def test_population_marks_unrecorded_pairs_and_ragged_trials(tmp_path):
    pop = tmp_path / "pop"
    make_cell(pop / "cellA", n_stim=2, trials=[[1.0], [2.0]])
    make_cell(pop / "cellB", n_stim=1, trials=[[4.0], [5.0], [6.0]])  # never heard stim2
    ds = load(pop, normalize=None)
    s2 = ds.stimulus("stim2")
    assert s2.spike_times_of(1) is None and np.isnan(s2.responses[1]).all()
    s1 = ds.stimulus("stim1")
    assert len(s1.spike_times_of(0)) == 2 and s1.responses.shape[1] == 3  # R is the largest trial count
    sub = ds.subset_neurons([1])
    assert sub.stimulus("stim2").spike_times == [None]
    assert _same_times(sub.stimulus("stim1").spike_times_of(0), s1.spike_times_of(1))


def test_spike_times_round_trip_through_the_binned_npz(tmp_path):
    pop = tmp_path / "pop"
    make_cell(pop / "cellA", n_stim=3, trials=[[1.0, 3.5], [2.0]])
    make_cell(pop / "cellB", n_stim=2, trials=[[4.0], [], [6.0, 6.5, 199.0]])
    ds = load(pop, normalize=None)
    back = load(save_npz(ds, tmp_path / "binned.npz"), normalize=None)
    assert back.has_spike_times
    for a, b in zip(ds.stimuli, back.stimuli):
        R = a.responses.shape[1]  # the file pads every stimulus to the largest trial count (NaN)
        assert np.array_equal(a.responses, b.responses[:, :R], equal_nan=True)
        for n in range(ds.n_neurons):
            assert _same_times(a.spike_times_of(n), b.spike_times_of(n)), (a.name, n)
    assert back.stimulus("stim3").spike_times_of(1) is None


def test_npz_without_spike_times_still_loads(tmp_path):
    demo = make_demo(n_neurons=2, n_stimuli=3, n_trials=2).dataset
    assert not demo.has_spike_times
    path = save_npz(demo, tmp_path / "counts_only.npz")
    with np.load(path) as z:
        assert not set(SPIKE_KEYS) & set(z.files)  # nothing written when there is nothing to keep
    back = load(path)
    assert not back.has_spike_times and all(s.spike_times is None for s in back.stimuli)


def _arrays_with_spikes():
    """A hand-written file: 1 stimulus of 10 frames at 5 ms, 2 neurons, 2 trials; neuron 1 has no times."""
    return {"spec": np.zeros((1, 4, 10), np.float32), "responses": np.zeros((1, 2, 2, 10), np.float32),
            "dt_ms": np.array(5.0), "spike_n_trials": np.array([[2, -1]]),
            "spike_trial_sizes": np.array([2, 1]), "spike_times": np.array([3.0, 1.0, 49.0])}


def test_hand_written_spike_keys_are_read(tmp_path):
    arrays = _arrays_with_spikes()
    np.savez(tmp_path / "hand.npz", **arrays)
    stim = load(tmp_path / "hand.npz").stimuli[0]
    assert [t.tolist() for t in stim.spike_times_of(0)] == [[1.0, 3.0], [49.0]]  # each trial sorted
    assert stim.spike_times_of(1) is None


@pytest.mark.parametrize("change, words", [
    ({"spike_times": None}, "missing key 'spike_times'"),
    ({"spike_n_trials": np.array([[2]])}, "'spike_n_trials' must be integers of shape (1, 2)"),
    ({"spike_n_trials": np.array([[3, -1]])}, "0..2 trials"),
    ({"spike_trial_sizes": np.array([2])}, "'spike_trial_sizes' must hold 2"),
    ({"spike_times": np.array([3.0, 1.0])}, "'spike_times' must hold 3 times"),
    ({"spike_times": np.array([3.0, 1.0, 50.0])}, "in [0, 50) ms"),
    ({"spike_times": np.array([3.0, -1.0, 4.0])}, "in [0, 50) ms"),
    ({"spike_times": np.array([3.0, np.nan, 4.0])}, "must be finite"),
])
def test_bad_spike_keys_are_named(tmp_path, change, words):
    arrays = _arrays_with_spikes()
    for key, value in change.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    path = Path(tmp_path / "bad.npz")
    np.savez(path, **arrays)
    with pytest.raises(DataError) as info:
        load(path)
    assert words in str(info.value) and "bad.npz" in str(info.value)
