"""Listening dock with a waveform-native model (Linear on CausalMel, fitted by ridge on the demo's audio): the
waveform gradmap of the selected neuron around the selected stimulus, at its peak or at a time clicked on the
PSTH, played through a stand-in output device; the samples played are compared with the map computed here by
the engine itself."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402

from strfviewer.analysis.gradmaps import waveform_gradmap  # noqa: E402
from strfviewer.analysis.sonify import fade_and_normalise  # noqa: E402
from strfviewer.data import load  # noqa: E402
from strfviewer.data.waveforms import framed_audio  # noqa: E402
from strfviewer.gui.listening import feature as listening  # noqa: E402
from strfviewer.gui.listening.audio import AudioPlayer  # noqa: E402

from .test_feature_listening_player import FakeBackend  # noqa: E402
from .waveform_model import fit_waveform_run  # noqa: E402

MINUS_3_DBFS = 10 ** (-3 / 20)
TIMEOUT_MS = 30000


@pytest.fixture(scope="module")
def demo():
    return load("demo")


@pytest.fixture(scope="module")
def wave_run(demo):
    return fit_waveform_run(demo)


@pytest.fixture
def dataset(demo):  # the window fixture (conftest) shows this dataset
    return demo


@pytest.fixture
def backend():
    return FakeBackend(rates=(16000,), device_rate=48000)


@pytest.fixture
def feature(window, backend, wave_run):
    feature = listening.install(window, player=AudioPlayer(lambda: backend, blocksize=256))
    window.session.add_run(wave_run, make_current=True)
    return feature


def _wait_map(qtbot, feature, **expected):
    def ready():
        w = feature.waveform
        return (feature.worker is None and not feature.recompute_timer.isActive() and w is not None
                and all(getattr(w, k) == v for k, v in expected.items()))
    qtbot.waitUntil(ready, timeout=TIMEOUT_MS)
    return feature.waveform


def _engine_map(model, stim, neuron, at_frame, reduce="last"):
    wave = framed_audio(stim, int(model.wav2spec.sample_rate), int(model.wav2spec.hop))
    return waveform_gradmap(model, wave, neuron=neuron, reduce=reduce, at=at_frame).numpy()


def test_waveform_gradmap_is_computed_at_the_peak_and_played_as_computed(feature, window, backend, qtbot,
                                                                         wave_run, tmp_path):
    session, p = window.session, feature.panel
    assert p.reduce_box.isVisibleTo(p) and p.mix_box.isVisibleTo(p) and not p.part_box.isVisibleTo(p)
    w = _wait_map(qtbot, feature, neuron=session.neuron, stimulus=session.stimulus)
    stim, model = session.stimulus_obj(), wave_run.model
    # default time: the neuron's peak predicted response on this stimulus
    prediction = wave_run.get_predictions()[stim.name][session.neuron]
    assert w.peak and w.at_frame == int(np.argmax(prediction))
    assert w.at_ms == pytest.approx(w.at_frame * session.dataset.dt_ms)
    # the map is the engine's gradient at that frame; nothing after the end of that bin reaches the response
    expected_map = _engine_map(model, stim, session.neuron, w.at_frame)
    np.testing.assert_allclose(w.gradmap, expected_map, rtol=1e-4, atol=1e-6 * np.abs(expected_map).max())
    assert w.end == (w.at_frame + 1) * w.hop and not np.any(expected_map[w.end:])
    assert w.start % w.hop == 0 and w.start < w.end
    # the sound: the CLI's safety step (5 ms fades, -3 dBFS peak) of that stretch
    expected = fade_and_normalise(expected_map[w.start:w.end], 16000, fade_ms=5.0, peak=MINUS_3_DBFS)
    samples, rate = feature.sound("model")
    assert rate == 16000 and np.max(np.abs(samples)) == pytest.approx(MINUS_3_DBFS, rel=1e-5)
    np.testing.assert_allclose(samples, expected, atol=1e-5)
    # drawn as a waveform on the stimulus' time axis and as its spectrogram through the model's front-end
    x, y = p.wave_curve.getData()
    assert x[0] == pytest.approx(w.start_ms) and y.size == samples.size
    assert feature.model_spec.shape == (model.F, (w.end - w.start) // w.hop)
    assert feature.time_mark.isVisible() and feature.time_mark.value() == pytest.approx(w.at_ms)

    # Play: the stand-in device receives exactly the computed sound; the play-heads follow it
    assert p.play_model_button.isEnabled() and feature.play("model")
    stream = backend.streams[-1]
    assert stream.samplerate == 16000
    stream.pull(blocks=2)
    feature._poll()
    head = w.start_ms + 2 * 256 * 1000.0 / 16000
    assert p.playheads[0].isVisible() and p.playheads[0].value() == pytest.approx(head)
    assert window.views["psth"].playhead.value() == pytest.approx(head)
    stream.pull()
    feature._poll()
    np.testing.assert_allclose(stream.samples[:samples.size], expected, atol=1e-5)
    assert not np.any(stream.samples[samples.size:])
    assert not feature.player.is_playing and not p.playheads[0].isVisible()

    # Save WAV: the same samples (16-bit)
    data, sr = soundfile.read(feature.save("model", tmp_path / "map.wav"), dtype="float32")
    assert sr == 16000
    np.testing.assert_allclose(data, samples, atol=1e-4)


def test_a_click_on_the_psth_chooses_the_time_and_loop_and_mix(feature, window, backend, qtbot, wave_run):
    session, p = window.session, feature.panel
    _wait_map(qtbot, feature, neuron=session.neuron)
    psth = window.views["psth"].plot
    box = psth.getViewBox()
    target_ms = 302.0
    y = float(np.mean(box.viewRange()[1]))
    scene = box.mapViewToScene(QPointF(target_ms, y))
    pos = psth.mapFromScene(scene)
    qtbot.mouseClick(psth.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(int(pos.x()), int(pos.y())))
    assert feature.at_ms == pytest.approx(target_ms, abs=5.0), "the click sets the time"
    frame = int(feature.at_ms // session.dataset.dt_ms)
    w = _wait_map(qtbot, feature, at_frame=frame)
    assert not w.peak and p.peak_button.isEnabled() and f"{w.at_ms:.0f} ms" in p.time_label.text()
    expected_map = _engine_map(wave_run.model, session.stimulus_obj(), session.neuron, frame)
    np.testing.assert_allclose(w.gradmap, expected_map, rtol=1e-4, atol=1e-6 * np.abs(expected_map).max())

    # another readout is recomputed at the same time
    p.reduce_box.setCurrentText("sum")
    w = _wait_map(qtbot, feature, reduce="sum", at_frame=frame)
    np.testing.assert_allclose(w.gradmap, _engine_map(wave_run.model, session.stimulus_obj(), session.neuron,
                                                      frame, "sum"), rtol=1e-4, atol=1e-5 * np.abs(w.gradmap).max())

    # mixed under the stimulus: the stimulus' stretch with the map 6 dB below, made safe
    p.mix_box.setCurrentIndex(p.mix_box.findData("mix"))
    mix, rate = feature.sound("model")
    assert mix.size == w.end - w.start and np.max(np.abs(mix)) == pytest.approx(MINUS_3_DBFS, rel=1e-5)
    heard = framed_audio(session.stimulus_obj(), 16000, w.hop)[w.start:w.end]
    raw = heard / np.abs(heard).max() + 0.5 * w.gradmap[w.start:w.end] / np.abs(w.gradmap[w.start:w.end]).max()
    np.testing.assert_allclose(mix, fade_and_normalise(raw, 16000, 5.0, MINUS_3_DBFS), atol=1e-5)
    assert "under the stimulus" in feature.sound_labels()["model"]

    # loop: the sound starts again until stopped
    p.loop_box.setChecked(True)
    assert feature.play("model")
    stream = backend.streams[-1]
    blocks = 3 * mix.size // 256 + 2
    stream.pull(blocks=blocks)
    feature._poll()
    assert feature.player.is_playing
    got = stream.samples
    np.testing.assert_allclose(got, np.resize(mix, got.size), atol=1e-6)
    feature.stop()
    assert not feature.player.is_playing

    # back to the peak; another stimulus forgets the chosen time
    p.peak_button.click()
    assert _wait_map(qtbot, feature, reduce="sum").peak
    feature.set_time(100.0)
    window.session.select_stimulus(session.dataset.stimuli[3].name)
    assert feature.at_ms is None
    w = _wait_map(qtbot, feature, stimulus=session.dataset.stimuli[3].name)
    assert w.peak


def test_a_burst_of_selection_changes_computes_once_for_the_last_one(feature, window, qtbot, monkeypatch):
    import strfviewer.gui.listening.waveform_sound as ws

    _wait_map(qtbot, feature)
    calls = []
    original = ws.waveform_sound
    monkeypatch.setattr(ws, "waveform_sound", lambda *a, **k: (calls.append(a[2]), original(*a, **k))[1])
    for n in (1, 2, 3, 4):
        window.session.select_neuron(n)
    w = _wait_map(qtbot, feature, neuron=4)
    # debounced: nothing computed for the neurons passed over (a results event of other views' jobs arriving
    # meanwhile may restart the computation for neuron 4 on a loaded machine)
    assert calls and set(calls) == {4}, calls
    assert w.neuron == 4

    # a change while a computation runs cancels it and computes again for the new selection: the computation
    # for neuron 5 is held until neuron 6 has been selected (polling feature.worker could miss a short one)
    import threading

    calls.clear()
    gate = threading.Event()

    def held(*a, **k):
        calls.append(a[2])
        if a[2] == 5:
            gate.wait(TIMEOUT_MS / 1000)
        return original(*a, **k)

    monkeypatch.setattr(ws, "waveform_sound", held)
    window.session.select_neuron(5)
    qtbot.waitUntil(lambda: 5 in calls and feature.worker is not None, timeout=TIMEOUT_MS)
    window.session.select_neuron(6)
    gate.set()
    w = _wait_map(qtbot, feature, neuron=6)
    assert calls[-1] == 6 and feature.waveform.neuron == 6


def test_spectrogram_models_keep_the_sonified_path(feature, window, qtbot):
    _wait_map(qtbot, feature)
    window.session.set_current_run(window.session.runs[0])   # the conftest's spectrogram Linear model
    p = feature.panel
    assert p.part_box.isVisibleTo(p) and not p.reduce_box.isVisibleTo(p) and not p.mix_box.isVisibleTo(p)
    assert not feature.recompute_timer.isActive()
    assert "sonified" in p.kind_label.text()
