"""The Filters view: a waveform model's learned filterbank (responses, centres and bandwidths, movement from the
initialisation of a learnable front-end), a note for spectrogram models, and File > Export of the view."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("pytestqt")

from strfviewer.analysis.filterbank import learned_filterbank  # noqa: E402
from strfviewer.models.factory import ModelSpec, build_model  # noqa: E402
from strfviewer.session import Run  # noqa: E402


def _trained_leaf_run(n_neurons):
    """A Linear + LEAF model whose Gabor centres moved by +0.1 octave, as training would move them (the top band,
    at the Nyquist limit already, is left where it is)."""
    spec = ModelSpec("Linear", T=5, frontend="LEAF", frontend_kwargs={"audio_fs": 16000, "n_filters": 8})
    model = build_model(spec, None, n_neurons).eval()
    with torch.no_grad():
        model.wav2spec.center_freq_[:-1] *= 2 ** 0.1
    return Run(name="leaf", spec=spec, model=model, status="done")


def test_filters_view_shows_the_learned_filterbank_and_exports(window, qtbot, tmp_path):
    from strfviewer.gui.exporting import feature as exporting

    view = window.views["filters"]
    window.redraw_now()
    assert view.filterbank is None and "spectrogram" in view.info.text()

    run = window.session.add_run(_trained_leaf_run(window.session.dataset.n_neurons), make_current=True)
    qtbot.waitUntil(lambda: view.filterbank is not None, timeout=20000)
    fb = view.filterbank
    expected = learned_filterbank(run.model, n_freqs=1024)
    np.testing.assert_allclose(fb.center_hz, expected.center_hz, rtol=1e-6)
    np.testing.assert_allclose(fb.response, expected.response, rtol=1e-6, atol=1e-9)
    assert fb.movement is not None
    np.testing.assert_allclose(fb.movement.center_shift_octaves, [0.1] * 7 + [0.0], atol=1e-4)
    assert "LEAF: 8 bands, 16000 Hz" in view.info.text() and "0.100" in view.info.text()
    # drawn: one response per band plus the 8 initial ones, centres with their bandwidths and initial centres
    curves = [i for i in view.response_plot.getPlotItem().listDataItems()]
    assert len(curves) == 2 * 8
    x, y = view.centre_plot.getPlotItem().listDataItems()[0].getData()
    np.testing.assert_allclose(10 ** y, fb.center_hz, rtol=1e-6)  # a log axis holds log10 values
    # both frequency axes carry the same 1-2-5 labels, not a label at every minor tick (QA)
    for axis in (view.response_plot.getAxis("bottom"), view.centre_plot.getAxis("left")):
        labels = [text for _, text in axis._tickLevels[0]]
        assert labels and all(text.rstrip("k")[0] in "125" for text in labels), labels

    feature = exporting.install(window)
    assert feature.targets()["view:filters"] == "Filters view"
    path = feature.export("view:filters", tmp_path / "filters.png", dpi=96)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    window.session.set_current_run(window.session.runs[0])
    window.redraw_now()
    assert view.filterbank is None and "spectrogram" in view.info.text()
