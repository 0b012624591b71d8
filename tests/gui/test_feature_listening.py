"""Listening feature in the main window: stimulus playback with play-heads, model sounds, WAV, no-device state."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

pytest.importorskip("pytestqt")

from .conftest import make_dataset  # noqa: E402
from strfviewer.gui.listening.audio import AudioPlayer, resample_for_device  # noqa: E402
from strfviewer.gui.listening import feature as listening  # noqa: E402
from .test_feature_listening_player import FakeBackend  # noqa: E402

RATE = 8000


@pytest.fixture
def dataset():
    """The GUI tests' synthetic dataset with audio: a different tone per stimulus, as long as its frames."""
    ds = make_dataset()
    for k, stim in enumerate(ds.stimuli):
        n = int(round(stim.n_frames * ds.dt_ms * RATE / 1000.0))
        t = np.arange(n) / RATE
        stim.waveform = (0.2 * np.sin(2 * np.pi * (300 + 100 * k) * t)).astype(np.float32)
        stim.sample_rate = RATE
    return ds


@pytest.fixture
def backend():
    return FakeBackend(rates=(RATE,), device_rate=48000)


@pytest.fixture
def feature(window, backend):
    return listening.install(window, player=AudioPlayer(lambda: backend, blocksize=400))


def test_space_plays_the_stimulus_and_play_heads_follow(feature, window, backend, qtbot):
    stim = window.session.stimulus_obj()
    assert feature.play_action.isEnabled()
    assert feature.play_action.shortcut().toString() == "Space"
    feature.play_action.trigger()
    assert feature.player.is_playing and feature.playing == "stimulus"
    stream = backend.streams[-1]
    stream.pull(blocks=5)  # 5 x 400 samples = 250 ms at 8 kHz
    feature._poll()
    spec_head = window.views["spectrogram"].playhead
    psth_head = window.views["psth"].playhead
    assert spec_head.isVisible() and psth_head.isVisible()
    assert spec_head.value() == pytest.approx(250.0) and psth_head.value() == pytest.approx(250.0)
    stream.pull()
    feature._poll()
    np.testing.assert_array_equal(stream.samples[: stim.waveform.size], stim.waveform)
    assert not feature.player.is_playing
    assert not spec_head.isVisible() and not psth_head.isVisible()
    # space again plays again, and a second press stops
    feature.play_action.trigger()
    feature.play_action.trigger()
    assert not feature.player.is_playing and backend.streams[-1].closed


def test_selecting_another_stimulus_stops_playback(feature, window, backend):
    feature.toggle_stimulus()
    assert feature.player.is_playing
    window.session.select_stimulus(window.session.dataset.stimuli[2].name)
    assert not feature.player.is_playing


def test_no_device_disables_play_with_the_reason_and_wav_still_saves(window, tmp_path):
    def no_portaudio():
        raise OSError("PortAudio library not found")

    feature = listening.install(window, player=AudioPlayer(no_portaudio))
    p = feature.panel
    assert not p.play_button.isEnabled() and not feature.play_action.isEnabled()
    assert "PortAudio" in p.play_button.toolTip()
    assert "PortAudio" in window.statusBar().currentMessage()
    assert not feature.play("stimulus")
    path = feature.save("stimulus", tmp_path / "stim.wav")
    data, rate = soundfile.read(path, dtype="float32")
    stim = window.session.stimulus_obj()
    assert rate == RATE and data.shape == stim.waveform.shape
    np.testing.assert_allclose(data, stim.waveform, atol=1e-4)


def test_sonified_gradmap_of_a_spectrogram_model(feature, window, qtbot, tmp_path, backend):
    assert feature.panel.part_box.isVisible() or not feature.panel.reduce_box.isVisible()
    worker = feature.compute_model_sound()
    assert worker is not None
    qtbot.waitUntil(lambda: "model" in feature.sounds and feature.worker is None, timeout=30000)
    samples, rate = feature.sound("model")
    assert np.all(np.isfinite(samples)) and 0 < np.max(np.abs(samples)) <= listening.SAFE_PEAK + 1e-6
    assert feature.model_spec is not None and feature.model_spec.shape[0] == window.session.dataset.n_freqs
    assert "sonified gradmap" in feature.sound_labels()["model"]
    assert feature.panel.play_model_button.isEnabled()
    assert feature.play("model")
    stream = backend.streams[-1]
    stream.pull()
    # the fake device refuses the sound's rate: it is resampled to the device's 48 kHz
    assert rate != RATE and stream.samplerate == 48000
    expected = resample_for_device(samples, rate, 48000)
    np.testing.assert_allclose(stream.samples[: expected.size], expected, atol=1e-6)
    data, sr = soundfile.read(feature.save("model", tmp_path / "model.wav"))
    assert sr == rate and data.size == samples.size


def test_preferences_choose_the_output_device(feature, window, backend, qtbot):
    dialog = feature.open_preferences()
    qtbot.addWidget(dialog)
    names = [dialog.device_box.itemData(i) for i in range(dialog.device_box.count())]
    assert names == ["", "fake speakers"]
    dialog.device_box.setCurrentIndex(1)
    dialog.accept()
    assert window.settings().value("audio/output_device") == "fake speakers"
    assert feature.player.device == 0


def test_a_stimulus_without_audio_is_resynthesised_from_its_spectrogram(window, qtbot):
    from strfviewer.analysis.sonify import dataset_frontend, samples_for_frames

    ds = window.session.dataset
    for stim in ds.stimuli:
        stim.waveform, stim.sample_rate = None, None
    backend = FakeBackend(rates=(16000, 22050, 44100), device_rate=44100)
    feature = listening.install(window, player=AudioPlayer(lambda: backend, blocksize=2000))
    assert feature.panel.play_button.isEnabled()
    assert "resynthesises" in feature.panel.play_button.toolTip()
    assert not feature.panel.save_stimulus_button.isEnabled()
    feature.play_action.trigger()
    qtbot.waitUntil(lambda: feature.player.is_playing, timeout=30000)
    stim = window.session.stimulus_obj()
    samples, rate = feature.sound("stimulus")
    cfg, expected_rate = dataset_frontend(ds.frontend, ds.freqs_hz, ds.dt_ms)
    assert rate == expected_rate and samples.size == samples_for_frames(stim.n_frames, cfg, rate)
    assert 0 < np.max(np.abs(samples)) <= listening.SAFE_PEAK + 1e-6
    backend.streams[-1].pull()
    np.testing.assert_allclose(backend.streams[-1].samples[: samples.size], samples)
    assert feature.panel.save_stimulus_button.isEnabled()


def test_a_device_error_on_play_is_reported_and_the_app_stays_usable(window):
    class Broken(FakeBackend):
        def open_stream(self, *args, **kwargs):
            raise RuntimeError("Device unavailable [PaErrorCode -9985]")

    feature = listening.install(window, player=AudioPlayer(lambda: Broken(rates=(RATE,))))
    assert not feature.play("stimulus")
    assert "Device unavailable" in window.statusBar().currentMessage()
    assert feature.panel.state.text() == "device error"
    assert "Device unavailable" in feature.panel.play_button.toolTip()
    assert not feature.player.is_playing


def test_changing_neuron_keeps_the_stimulus_playing(feature, window):
    feature.toggle_stimulus()
    window.session.select_neuron(3)
    assert feature.player.is_playing
