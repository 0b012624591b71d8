"""Issue #14 in the app: bad files through File > Open and Open model show an error naming the file and keep
what was open; a fit whose data are unusable ends "failed" with the reason; loader notes (spikes dropped after
a stimulus end) are shown, not swallowed."""

import torch

import hostile_corpus as hc  # noqa: E402 (tests/, on the path through tests/conftest.py)
from strfviewer.io.checkpoints import save_checkpoint  # noqa: E402
from strfviewer.models.factory import ModelSpec, build_model  # noqa: E402

from .conftest import make_dataset  # noqa: E402


def test_open_bad_data_shows_the_file_and_keeps_the_dataset(qtbot, window, tmp_path):
    before = window.session.dataset
    for bad in (hc.nan_spec_npz(tmp_path), hc.string_spec_npz(tmp_path)):
        n_errors = len(window.errors)
        window.open_data(str(bad))
        qtbot.waitUntil(lambda: len(window.errors) > n_errors, timeout=20000)
        title, message = window.errors[-1]
        assert title == "Could not open data" and str(bad) in message and "\n" not in message
        assert window.session.dataset is before


def test_open_nan_weight_model_shows_the_file_and_keeps_the_model(qtbot, window, tmp_path):
    run_before = window.session.current_run
    model = build_model(ModelSpec(family="Linear", T=5), window.session.dataset.n_freqs,
                        window.session.dataset.n_neurons)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    folder = save_checkpoint(model, tmp_path / "nan_model")
    window.open_model(str(folder))
    qtbot.waitUntil(lambda: len(window.errors) > 0, timeout=20000)
    title, message = window.errors[-1]
    assert title == "Could not open model" and "model.safetensors" in message and "NaN" in message
    assert window.session.current_run is run_before and len(window.session.runs) == 1


def test_fit_on_unusable_data_ends_failed_with_the_reason(qtbot, window):
    silent = make_dataset(name="silent")
    for s in silent.stimuli:
        s.responses[:] = 0.0
    window.session.set_dataset(silent)
    window.quick_fit()
    qtbot.waitUntil(lambda: window.session.current_run.status != "running", timeout=20000)
    run = window.session.current_run
    assert run.status == "failed" and "no spike in the training stimuli" in run.message
    assert run.model is None
    assert window.errors and "no spike" in window.errors[-1][1]


def test_spikes_after_the_stimulus_end_are_noted_in_the_app(qtbot, window, tmp_path):
    folder = hc.cell_folder(tmp_path / "cell", spikes=lambda k, dur: f"10 20 {dur + 50:.0f}\n30 {dur + 80:.0f}\n")
    window.open_data(str(folder))
    qtbot.waitUntil(lambda: window.session.dataset.source == str(folder), timeout=30000)
    note = "dropped 8 spikes after the stimulus end (in 4 spike files)"
    assert note in window.statusBar().currentMessage()
    assert "(1 note)" in window.dataset_label.text() and note in window.dataset_label.toolTip()
