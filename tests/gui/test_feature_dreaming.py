"""Dreaming feature: a dream in a worker with live image and response curve, cancel, NPZ/PNG, listening."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from strfviewer.gui.listening.audio import AudioPlayer  # noqa: E402
from strfviewer.gui.dreaming import feature as dreaming  # noqa: E402
from strfviewer.gui.listening import feature as listening  # noqa: E402
from strfviewer.gui.views.axes import placeholder_text  # noqa: E402

from .test_feature_listening_player import FakeBackend  # noqa: E402


@pytest.fixture
def feature(window):
    return dreaming.install(window)


def test_dream_runs_live_and_exports(feature, window, qtbot, tmp_path):
    s = window.session
    s.select_neuron(2)
    p = feature.panel
    p.steps_spin.setValue(80)
    p.clamp_box.setChecked(False)
    # before any dream the plots say what they wait for (they showed axes of -0.5..0.5 "time (ms) (x0.001)")
    assert placeholder_text(p.image_plot) and placeholder_text(p.curve_plot)
    window.actions["dream"].trigger()
    assert feature.dock.isVisible() and feature.running
    assert p.neurons_edit.text() == "2" and not p.start_button.isEnabled() and p.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: feature.result is not None, timeout=30000)
    result = feature.result
    assert result.neurons == [2] and result.steps_done == 80 and not result.cancelled
    # the response climbs: last clearly above first, and the partial updates delivered every step
    r = result.responses[:, 0]
    assert r[-1] > r[0]
    assert len(feature.responses) == 80
    # the panel shows the final dream and the curve
    shown = p.image.image
    np.testing.assert_allclose(shown, result.stimulus.numpy()[0, 0])
    x, y = p.curves[0].getData()
    assert len(x) == 80 and np.all(np.isfinite(y))
    assert placeholder_text(p.image_plot) is None and placeholder_text(p.curve_plot) is None
    # exports
    path = feature.save_npz(tmp_path / "dream.npz")
    with np.load(path, allow_pickle=False) as z:
        assert z["stimulus"].shape == tuple(result.stimulus.shape)
        assert list(z["neuron_names"]) == [s.dataset.neuron_names[2]]
        assert z["responses"].shape == (81, 1)
        assert z["lags_ms"].shape == (result.stimulus.shape[-1],) and float(z["dt_ms"]) == s.dataset.dt_ms
    png = feature.save_image(tmp_path / "dream.png", dpi=96)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cancel_stops_the_dream_and_keeps_what_it_reached(feature, window, qtbot):
    p = feature.panel
    p.steps_spin.setValue(100000)
    p.neurons_edit.setText("0, 1")
    assert feature.start() is not None
    qtbot.waitUntil(lambda: len(feature.responses) >= 5, timeout=20000)
    p.cancel_button.click()
    qtbot.waitUntil(lambda: feature.result is not None, timeout=20000)
    assert feature.result.cancelled and feature.result.steps_done < 100000
    assert feature.result.neurons == [0, 1] and len(p.curves) == 2
    assert "cancelled" in p.state.text() and p.start_button.isEnabled()


def test_bad_neuron_text_is_reported_without_starting(feature, window):
    feature.panel.neurons_edit.setText("0, 99")
    assert feature.start() is None
    assert "out of range" in feature.panel.state.text()
    assert not feature.running


def test_listen_makes_the_dream_a_sound_of_the_listening_feature(feature, window, qtbot):
    backend = FakeBackend(rates=(8000, 16000, 22050, 44100), device_rate=44100)
    sounds = listening.install(window, player=AudioPlayer(lambda: backend))
    feature.panel.steps_spin.setValue(20)
    feature.start()
    qtbot.waitUntil(lambda: feature.result is not None, timeout=30000)
    assert feature.panel.listen_button.isEnabled()
    feature.listen()
    qtbot.waitUntil(lambda: "dream" in sounds.sounds and feature.sound_worker is None, timeout=30000)
    samples, rate = sounds.sound("dream")
    assert np.all(np.isfinite(samples)) and 0 < np.max(np.abs(samples)) <= 0.5 + 1e-6
    assert sounds.playing == "dream" and backend.streams
    assert any(k.startswith("sound:dream") for k in ["sound:" + k for k in sounds.sound_labels()])


def test_parse_neurons():
    from strfviewer.gui.dreaming.dream_panel import parse_neurons

    assert parse_neurons("3", 10) == [3]
    assert parse_neurons("1, 4;7", 10) == [1, 4, 7]
    assert parse_neurons("2-4, 3", 10) == [2, 3, 4]
    with pytest.raises(ValueError, match="not an index"):
        parse_neurons("a", 10)
    with pytest.raises(ValueError, match="at least one"):
        parse_neurons(" ", 10)
