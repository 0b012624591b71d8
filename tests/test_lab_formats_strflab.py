"""The STRFlab cell rewritten as an NWB file and as a sorter folder + events CSV fits like the original.

Both files are built by the test from the shared recording (skipped with the reason when it is absent):
every trial of every stimulus is laid out on one session clock, then the readers cut it back. The ridge
model's test cc_norm must match the original folder's within 0.005 (the rewrite only loses the few spikes
after each sound's end that the original's last, partly covered frame still counted).
"""

import numpy as np
import pytest
from lab_formats import session_of_cell, write_nwb, write_sorter

from strfviewer.data import load
from strfviewer.fit.metrics import cc_norm_from_trials
from strfviewer.fit.ridge import fit_ridge_details
from strfviewer.fit.run import predict


def _test_cc_norm(dataset) -> float:
    model = fit_ridge_details(dataset, T=15).model
    test = dataset.stimuli_in("test")
    pred = predict(model, dataset, "cpu", stimuli=test)
    return float(cc_norm_from_trials([s.responses for s in test], [pred[s.name] for s in test]).cc_norm[0])


_ORIGINAL = {}


@pytest.fixture
def original(strflab_cell):
    """(cell folder, test cc_norm of its ridge fit), fitted once per session."""
    if "cc" not in _ORIGINAL:
        _ORIGINAL["cc"] = _test_cc_norm(load(strflab_cell))
    return strflab_cell, _ORIGINAL["cc"]


@pytest.fixture
def cell_session(original):
    return session_of_cell(original[0])


def test_as_nwb_fits_like_the_folder(original, cell_session, tmp_path):
    pytest.importorskip("pynwb", reason="pynwb (the 'nwb' extra) is not installed")
    path = write_nwb(tmp_path / "cell.nwb", cell_session)
    data = load(path)
    assert [s.name for s in data.stimuli_in("test")] == ["stim18", "stim19", "stim20"]
    cc = _test_cc_norm(data)
    assert np.isfinite(cc) and abs(cc - original[1]) < 0.005, (cc, original[1])


def test_as_sorter_folder_and_events_fits_like_the_folder(original, cell_session, tmp_path):
    folder = write_sorter(tmp_path / "kilosort", cell_session)
    data = load(folder)
    assert data.neuron_names == ["cluster 0"]
    cc = _test_cc_norm(data)
    assert np.isfinite(cc) and abs(cc - original[1]) < 0.005, (cc, original[1])
