"""A dataset of continuous responses (mV) is labelled in its unit in the app: the PSTH axis, the neuron table's
response column and the exported figure; the spike raster is off for it; the fit child receives the kind."""

import dataclasses

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from tests.gui.conftest import make_dataset  # noqa: E402


def _continuous(ds):
    stimuli = [dataclasses.replace(s, responses=(s.responses - 2.0) * 1.5) for s in ds.stimuli]  # signed
    return dataclasses.replace(ds, stimuli=stimuli, response_kind="continuous", response_unit="mV")


@pytest.fixture
def dataset():
    return _continuous(make_dataset())


def test_psth_table_and_figure_say_mv(window, qtbot):
    from PySide6.QtCore import Qt

    from strfviewer.gui.exporting.figures import panels_for

    psth = window.views["psth"]
    assert psth.plot.getAxis("left").labelText == "mV"
    assert not psth.raster_box.isEnabled()
    table = window.views["neurons"].model
    assert table.headerData(2, Qt.Horizontal) == "mean\nmV"
    assert "mV" in table.headerData(2, Qt.Horizontal, Qt.ToolTipRole)
    ds = window.session.dataset
    expected = np.nanmean(np.concatenate([s.responses[0].ravel() for s in ds.stimuli]))
    assert table.data(table.index(0, 2)) == f"{expected:.2f}"
    assert panels_for(ds, 0, ds.stimuli[0].name).response_label == "mV"


def test_opening_a_counts_dataset_gives_the_spike_labels_back(window, qtbot):
    psth = window.views["psth"]
    window.session.set_dataset(make_dataset())
    qtbot.waitUntil(lambda: psth.plot.getAxis("left").labelText == "spikes / bin", timeout=5000)
    assert psth.raster_box.isEnabled()


def test_the_fit_child_receives_the_response_kind(dataset):
    from strfviewer.gui.fitting.fit_queue import _without_audio

    sent = _without_audio(dataset)
    assert (sent.response_kind, sent.response_unit) == ("continuous", "mV")


def test_a_run_saved_from_the_app_records_the_response_kind(dataset):
    from strfviewer.gui.fitting.runs_table import run_checkpoint_metadata
    from tests.gui.conftest import make_run

    meta = run_checkpoint_metadata(make_run(dataset), dataset)
    assert (meta["dataset"]["response_kind"], meta["dataset"]["response_unit"]) == ("continuous", "mV")
