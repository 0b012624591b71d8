"""Fixtures of the GUI tests: a small synthetic dataset, a fitted-looking Linear run, isolated settings."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from strfviewer.data.dataset import NeuralDataset, Stimulus  # noqa: E402
from strfviewer.session import Run, Session  # noqa: E402

N_NEURONS, N_STIMULI, F, T_FRAMES, R = 6, 6, 8, 60, 5
NAMES = ["unit_c", "unit_a", "cell_f", "unit_b", "cell_e", "unit_d"]


def make_dataset(seed: int = 0, n_neurons: int = N_NEURONS, name: str = "synthetic") -> NeuralDataset:
    """Neuron ``i`` fires ``i + 1`` times as much as neuron 0 on average, so spike counts order neurons."""
    rng = np.random.default_rng(seed)
    stimuli = []
    for k in range(N_STIMULI):
        spec = rng.random((1, F, T_FRAMES)).astype(np.float32)
        rate = (np.arange(n_neurons)[:, None, None] + 1.0) * (0.2 + spec[0, :1, :][None])  # (N, 1, T)
        responses = rng.poisson(np.broadcast_to(rate, (n_neurons, R, T_FRAMES))).astype(np.float32)
        stimuli.append(Stimulus(name=f"stim{k + 1}", spec=spec, responses=responses))
    split = {f"stim{k + 1}": s for k, s in enumerate(["train", "train", "train", "train", "val", "test"])}
    names = (NAMES + [f"n{i}" for i in range(len(NAMES), n_neurons)])[:n_neurons]
    return NeuralDataset(stimuli=stimuli, neuron_names=names, freqs_hz=np.geomspace(500, 8000, F), dt_ms=5.0,
                         split=split, source="synthetic", name=name)


def make_run(dataset: NeuralDataset, name: str = "lin", seed: int = 0, prefilter=None) -> Run:
    """A Linear model (random weights) with its predictions and metrics on ``dataset``."""
    import torch

    from strfviewer.gui.window.model_io import split_metrics
    from strfviewer.models.factory import ModelSpec, build_model

    torch.manual_seed(seed)
    spec = ModelSpec(family="Linear", T=5, prefilter=prefilter)
    model = build_model(spec, dataset.n_freqs, dataset.n_neurons).eval()
    with torch.no_grad():
        preds = {s.name: model(torch.from_numpy(s.spec[None])).numpy()[0, :, 0, :] for s in dataset.stimuli}
    return Run(name=name, spec=spec, model=model, predictions=preds, metrics=split_metrics(dataset, preds))


@pytest.fixture
def dataset() -> NeuralDataset:
    return make_dataset()


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


@pytest.fixture
def window(qtbot, settings, dataset):
    """A main window (no feature packs) showing the synthetic dataset and one run."""
    from strfviewer.gui.main_window import MainWindow

    session = Session(dataset)
    session.add_run(make_run(dataset))
    win = MainWindow(session=session, settings=settings, install_features=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.views["gradmap"].displayed is not None, timeout=10000)
    yield win
    win.close()
