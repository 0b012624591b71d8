"""Figure and results exports of a waveform-native model (Linear on a 16-band CausalMel front-end, fitted on the
demo's audio) label its gradmap with the model's own front-end bands, as the gradmap view does, not with the
dataset's spectrogram bands (34 on the demo); the stimulus spectrogram keeps the dataset's."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from strfviewer.data import load  # noqa: E402
from strfviewer.gui.exporting import feature as exporting  # noqa: E402
from strfviewer.gui.exporting import figures  # noqa: E402
from strfviewer.gui.views.axes import BandAxis  # noqa: E402
from strfviewer.models.frontend_args import band_centres_hz  # noqa: E402

from .waveform_model import fit_waveform_run  # noqa: E402

N_MELS = 16


@pytest.fixture(scope="module")
def demo():
    return load("demo")


@pytest.fixture(scope="module")
def wave_run(demo):
    return fit_waveform_run(demo, n_mels=N_MELS)


@pytest.fixture
def dataset(demo):  # the window fixture (conftest) shows this dataset
    return demo


@pytest.fixture
def feature(window, wave_run):
    window.session.add_run(wave_run, make_current=True)
    return exporting.install(window)


def _model_bands(run) -> np.ndarray:
    return band_centres_hz(run.model.front_end())


def _band_axes(widget) -> list:
    """The frequency axes of the figure's plots, left to right: spectrogram first, then each gradmap channel."""
    axes = [item.getAxis("left") for item in widget.ci.items if hasattr(item, "getAxis")]
    return [a for a in axes if isinstance(a, BandAxis)]


def test_the_figure_labels_the_gradmap_with_the_models_bands(feature, window, wave_run, demo, qtbot, tmp_path):
    assert demo.n_freqs != N_MELS  # else the test could not tell the two axes apart
    bands = _model_bands(wave_run)
    panels = []
    save = figures.save_figure

    def spy(p, *args, **kwargs):
        panels.append(p)
        return save(p, *args, **kwargs)

    view = window.views["gradmap"]
    qtbot.waitUntil(lambda: view.displayed is not None and view.displayed.shape[-2] == N_MELS, timeout=30000)
    # the view shows the model's 16-band map (it used to refuse a band count other than the data's) on its bands
    np.testing.assert_allclose(view.plots[0].getAxis("left").freqs_hz, bands)
    figures_save, figures.save_figure = figures.save_figure, spy
    try:
        written = []
        feature.export("figure", tmp_path / "fig.png", dpi=50, width_in=6, height_in=4, on_done=written.append)
        qtbot.waitUntil(lambda: bool(written), timeout=30000)
    finally:
        figures.save_figure = figures_save
    (p,) = panels
    assert p.gradmap.shape[1] == N_MELS
    np.testing.assert_allclose(p.gradmap_freqs_hz, bands)
    np.testing.assert_allclose(p.freqs_hz, demo.freqs_hz)           # the spectrogram keeps the dataset's bands
    widget = figures.build_figure(p, 6, 4)
    try:
        spec_axis, grad_axis = _band_axes(widget)
        np.testing.assert_allclose(spec_axis.freqs_hz, demo.freqs_hz)
        np.testing.assert_allclose(grad_axis.freqs_hz, bands)
    finally:
        widget.close()
        widget.deleteLater()


def test_the_results_npz_states_the_models_bands(feature, wave_run, qtbot, tmp_path):
    written = []
    feature.export("results", tmp_path / "r.npz", on_done=written.append)
    qtbot.waitUntil(lambda: bool(written), timeout=30000)
    with np.load(written[0]) as z:
        assert z["gradmaps"].shape[2] == N_MELS
        np.testing.assert_allclose(z["freqs_hz"], _model_bands(wave_run))


def test_gradmap_bands_of_the_wrong_count_are_refused(demo):
    grad = np.zeros((demo.n_neurons, 1, N_MELS, 5), np.float32)
    with pytest.raises(ValueError, match=f"3 band centres for a gradmap of {N_MELS} bands"):
        figures.panels_for(demo, 0, demo.stimuli[0].name, gradmaps=grad, gradmap_freqs_hz=[1.0, 2.0, 3.0])
    spectrogram_model = figures.panels_for(demo, 0, demo.stimuli[0].name,
                                           gradmaps=np.zeros((demo.n_neurons, 1, demo.n_freqs, 5), np.float32))
    np.testing.assert_array_equal(spectrogram_model.gradmap_bands_hz(), demo.freqs_hz)
