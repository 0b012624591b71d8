"""The app's StateNet fit on the STRFlab cell: the fit dialog's request must train, not sit on a flat output.

Issue #13: the fit dialog's StateNet (GRU) run with 32 hidden channels showed val cc_norm NaN at every epoch
while the CLI's StateNet (7 channels) scored 0.86. Cause: the calibrated output softplus had a sharp kink
(beta 10); the wide readout's first Adam steps moved the pre-activation several kink widths down, where the
softplus is flat to float precision, so every prediction was the baseline (a flat prediction has no
correlation: NaN). The request is built exactly as the app builds it (FitDialog.fit_request) and fitted with
run_fit, the function the app's fit process runs.
"""

from __future__ import annotations

import math

import pytest

pytest.importorskip("pytestqt")

from strfviewer.data import load  # noqa: E402
from strfviewer.fit.run import run_fit  # noqa: E402
from strfviewer.gui.fitting.fit_dialog import FitDialog  # noqa: E402


@pytest.fixture
def cell(strflab_cell):
    return load(strflab_cell)


def test_the_dialogs_wide_statenet_learns_on_the_strflab_cell(qtbot, cell):
    dialog = FitDialog(dataset=cell)
    qtbot.addWidget(dialog)
    dialog.family_box.setCurrentIndex(dialog.family_box.findData("StateNet"))
    dialog._hyper_editors["rnn_type"].set_value("GRU")
    dialog._hyper_editors["hidden_channels"].set_value(32)
    dialog.training_editors["epochs"].set_value(2)
    dialog.device_box.setCurrentIndex(dialog.device_box.findData("cpu"))
    assert dialog.validate() == []
    request = dialog.fit_request()
    request.num_threads = 1
    outcome = run_fit(cell, request)
    curve = [e.val_cc_norm for e in outcome.history.epochs]
    assert len(curve) == 2 and all(math.isfinite(v) for v in curve), curve
    assert max(curve) > 0.2, curve  # the fit moved off the flat baseline (about 0.35 after one epoch)
    assert outcome.history.best_epoch >= 1
