"""NWB reader: units + presentations + sounds -> NeuralDataset, lazily; one-line errors for bad files."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pynwb", reason="pynwb (the 'nwb' extra) is not installed")

from lab_formats import synthetic_session, unit_trains, write_nwb  # noqa: E402

from strfviewer.data import DataError, load  # noqa: E402
from strfviewer.data.nwb import discover_nwb  # noqa: E402
from strfviewer.data.presentations import cut_trials  # noqa: E402

DT_MS = 5.0


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return synthetic_session(tmp_path_factory.mktemp("sounds"), n_stimuli=3, n_trials=2)


@pytest.fixture(scope="module")
def nwb_file(tmp_path_factory, session):
    return write_nwb(tmp_path_factory.mktemp("nwb") / "rec.nwb", session, n_units=3)


def test_trials_are_the_presentations_of_each_stimulus(nwb_file, session):
    data = load(nwb_file, normalize=None)
    assert [s.name for s in data.stimuli] == ["sound1", "sound2", "sound3"]
    assert data.neuron_names == ["unit0", "unit1", "unit2"]
    assert [m["unit_id"] for m in data.neuron_metadata] == [100, 101, 102]
    for played, stim in zip(session, data.stimuli):
        assert stim.responses.shape[:2] == (3, 2)
        np.testing.assert_allclose(stim.waveform, played.waveform)
        for r, trial in enumerate(played.trials):
            for u in range(3):  # unit u fires each recorded spike u ms later
                times = trial + u
                idx = np.floor(times / DT_MS).astype(int)
                idx = idx[(idx < stim.n_frames) & (times < played.duration_s * 1000)]
                expected = np.bincount(idx, minlength=stim.n_frames)[: stim.n_frames]
                np.testing.assert_array_equal(stim.responses[u, r], expected)


def test_units_option_reads_only_the_chosen_units(nwb_file):
    rec = discover_nwb(nwb_file, units=["102", "unit0"])
    try:
        assert [n.name for n in rec.neurons] == ["unit2", "unit0"]
        units = [next(iter(n.spike_files.values())).unit for n in rec.neurons]
        assert [u.n_reads for u in units] == [0, 0]  # nothing read at open
    finally:
        rec.close()
    full = load(nwb_file, normalize=None)
    some = load(f"{nwb_file}?units=102,unit0", normalize=None)
    assert some.source == f"{nwb_file}?units=102,unit0"
    for a, b in zip(full.stimuli, some.stimuli):
        np.testing.assert_array_equal(b.responses, a.responses[[2, 0]])


def test_other_intervals_table_column_and_wav_paths(tmp_path):
    session = synthetic_session(tmp_path / "sounds", n_stimuli=3, n_trials=2)
    path = write_nwb(tmp_path / "rec.nwb", session, column="sound", audio="wav", table="playback")
    data = load(path, normalize=None)  # the column holds sounds/soundK.wav, relative to the NWB file
    assert [s.name for s in data.stimuli] == ["sound1", "sound2", "sound3"]
    assert data.stimuli[0].metadata["wav_path"] == str(tmp_path / "sounds" / "sound1.wav")
    np.testing.assert_allclose(data.stimuli[0].waveform, session[0].waveform)
    chosen = load(f"{path}?stimulus_column=sound&table=playback", normalize=None)
    assert chosen.n_neurons == 1 and len(chosen.stimuli) == 3


def test_cut_trials_is_relative_to_each_start_and_half_open():
    times = np.array([0.5, 1.0, 1.2, 1.5, 2.0, 3.25])
    trials = cut_trials(times, [(1.0, 1.5), (2.0, 4.0), (5.0, 6.0)])
    np.testing.assert_allclose(trials[0], [0.0, 200.0])
    np.testing.assert_allclose(trials[1], [0.0, 1250.0])
    assert trials[2].size == 0


def _one_line(err: pytest.ExceptionInfo, path: Path, *words):
    text = str(err.value)
    assert "\n" not in text and str(path) in text
    for w in words:
        assert w in text
    return text


def test_nwb_without_units_is_a_one_line_error(tmp_path, session):
    path = write_nwb(tmp_path / "nounits.nwb", session, with_units=False)
    with pytest.raises(DataError) as err:
        load(path)
    _one_line(err, path, "no units table")


def test_nwb_without_a_stimulus_column_is_a_one_line_error(tmp_path, session):
    path = write_nwb(tmp_path / "nocol.nwb", session, column="condition")
    with pytest.raises(DataError) as err:
        load(path)
    _one_line(err, path, "no stimulus column", "--stimulus-column")
    assert load(f"{path}?stimulus_column=condition", normalize=None).n_neurons == 1


def test_a_trials_row_naming_a_missing_sound_is_a_one_line_error(tmp_path, session):
    path = write_nwb(tmp_path / "missing.nwb", session, rename={"sound2": "birdsong"})
    with pytest.raises(DataError) as err:
        load(path)
    _one_line(err, path, "'birdsong'", "stimulus_template")


def test_unknown_unit_and_inapplicable_option_are_errors(nwb_file):
    with pytest.raises(DataError) as err:
        load(f"{nwb_file}?units=7")
    _one_line(err, nwb_file, "no unit '7'")
    with pytest.raises(DataError) as err:
        load(f"{nwb_file}?clusters=good")
    _one_line(err, nwb_file, "clusters", "do not apply")


def test_a_file_that_is_not_nwb(tmp_path):
    path = tmp_path / "fake.nwb"
    path.write_bytes(b"not hdf5 at all")
    with pytest.raises(DataError) as err:
        load(path)
    _one_line(err, path, "not a readable NWB file")


def test_unit_trains_helper_matches_schedule(session):
    trains = unit_trains(session, 2)
    assert np.all(np.diff(trains[0]) >= 0) and len(trains[0]) == len(trains[1])
