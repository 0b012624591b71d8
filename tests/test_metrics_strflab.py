"""Noise ceiling on the real STRFlab cell (skipped when the shared recording is absent).

Reference facts (docs: science.md): on test stimuli 18-20 (10 trials, 5 ms bins) the split-half ceiling is
about 0.94 and the signal-power and split-half cc_norm agree to about 0.003.
"""

import numpy as np
import pytest

from strfviewer.fit.metrics import cc_norm_from_trials, split_half_ceiling


_LOADED = {}


@pytest.fixture
def cell(strflab_cell):
    """The cell, loaded once per test session (default front-end, z-scored, split 1-14/15-17/18-20)."""
    if "cell" not in _LOADED:
        from strfviewer.data import load

        _LOADED["cell"] = load(strflab_cell)
    return _LOADED["cell"]


@pytest.fixture
def strflab_test(cell):
    test = cell.stimuli_in("test")
    assert [s.name for s in test] == ["stim18", "stim19", "stim20"]
    return test


def test_split_half_ceiling_of_the_test_stimuli(strflab_test):
    ceiling = split_half_ceiling([s.responses for s in strflab_test])[0]
    assert ceiling == pytest.approx(0.94, abs=0.01)


def test_signal_power_and_split_half_agree_on_a_real_prediction(cell, strflab_test):
    from strfviewer.fit.ridge import fit_ridge_details
    from strfviewer.fit.run import predict

    model = fit_ridge_details(cell, T=15).model
    pred = predict(model, cell, "cpu", stimuli=strflab_test)
    responses = [s.responses for s in strflab_test]
    preds = [pred[s.name] for s in strflab_test]
    sp = cc_norm_from_trials(responses, preds, method="sp")
    sh = cc_norm_from_trials(responses, preds, method="split_half")
    assert np.isfinite(sp.cc_norm[0]) and sp.cc_norm[0] > 0.2
    assert abs(sp.cc_norm[0] - sh.cc_norm[0]) < 0.003
    assert sp.cc[0] == sh.cc[0]
