"""Real-device playback of a waveform gradmap: the app's Listening dock plays it through PortAudio into a private
PulseAudio null sink, whose monitor is recorded with ``parec``; the recorded envelope must match the envelope of
the samples the app meant to play (the stream adds latency, so envelopes are aligned by cross-correlation).

Runs where ``pulseaudio``, ``pactl`` and ``parec`` are installed (and PortAudio reaches PulseAudio through ALSA's
pulse plugin: libasound2-plugins); skips with the reason elsewhere (CI has no sound server).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from strfviewer.data import load  # noqa: E402
from strfviewer.gui.listening import feature as listening  # noqa: E402

from .waveform_model import fit_waveform_run  # noqa: E402

SINK = "strfviewer_test"
RATE = 16000
MISSING = [tool for tool in ("pulseaudio", "pactl", "parec") if shutil.which(tool) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"no PulseAudio here ({', '.join(MISSING)} not installed): "
                                                      "real-device playback is not tested")


@pytest.fixture(scope="module")
def pulse_sink():
    """A private PulseAudio daemon with a null sink as the default output; the environment points at it."""
    runtime = Path(tempfile.mkdtemp(prefix="strfviewer-pulse-"))
    runtime.chmod(0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), PULSE_SERVER=f"unix:{runtime}/pulse/native")
    saved = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "PULSE_SERVER")}
    started = subprocess.run(["pulseaudio", "-D", "-n", "--exit-idle-time=-1", "--disallow-exit",
                              "--load=module-native-protocol-unix", f"--load=module-null-sink sink_name={SINK}"],
                             env=env, capture_output=True, text=True, timeout=30)
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                pytest.skip(f"the PulseAudio daemon did not start: {started.stderr.strip()[-200:]}")
            time.sleep(0.1)
        subprocess.run(["pactl", "set-default-sink", SINK], env=env, check=True, timeout=10)
        os.environ.update(XDG_RUNTIME_DIR=env["XDG_RUNTIME_DIR"], PULSE_SERVER=env["PULSE_SERVER"])
        yield env
    finally:
        subprocess.run(["pulseaudio", "--kill"], env=env, capture_output=True, timeout=30)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(runtime, ignore_errors=True)
        _rescan_devices()  # later tests must not see the sink that is gone


def _rescan_devices() -> None:
    """PortAudio lists the devices when it starts: restart it so that the list is the current one."""
    try:
        import sounddevice
    except OSError:
        return
    sounddevice._terminate()
    sounddevice._initialize()


@pytest.fixture(scope="module")
def demo():
    return load("demo")


@pytest.fixture
def dataset(demo):  # the window fixture (conftest) shows this dataset
    return demo


def _envelope(x: np.ndarray, rate: int, smooth_ms: float = 5.0, step_ms: float = 1.0) -> np.ndarray:
    n = max(1, int(rate * smooth_ms / 1000))
    env = np.convolve(np.abs(np.asarray(x, np.float64)), np.ones(n) / n, mode="same")
    return env[:: max(1, int(rate * step_ms / 1000))]


def test_the_waveform_gradmap_reaches_a_real_output_device(pulse_sink, window, qtbot, tmp_path):
    _rescan_devices()   # now that the sink exists
    feature = listening.install(window)   # the app's own player: sounddevice -> PortAudio -> ALSA -> PulseAudio
    if feature.player.unavailable_reason:
        pytest.skip(f"PortAudio does not reach PulseAudio here: {feature.player.unavailable_reason}")
    window.session.add_run(fit_waveform_run(window.session.dataset), make_current=True)
    stim = window.session.stimulus_obj()
    feature.panel.reduce_box.setCurrentText("sum")   # the whole stimulus up to the end: a long, varied sound
    feature.set_time(stim.n_frames * window.session.dataset.dt_ms - 1.0)
    qtbot.waitUntil(lambda: feature.waveform is not None and feature.waveform.reduce == "sum"
                    and not feature.waveform.peak and feature.worker is None
                    and not feature.recompute_timer.isActive(), timeout=30000)
    samples, rate = feature.sound("model")
    assert rate == RATE and samples.size > RATE // 4

    recording = tmp_path / "played.f32"
    with open(recording, "wb") as out:
        recorder = subprocess.Popen(["parec", "-d", f"{SINK}.monitor", "--format=float32le", f"--rate={RATE}",
                                     "--channels=1", "--latency-msec=10"], stdout=out, env=pulse_sink)
        try:
            deadline = time.monotonic() + 10
            while recording.stat().st_size == 0 and time.monotonic() < deadline:  # the monitor is being read
                time.sleep(0.02)
            assert feature.play("model"), feature.player.last_error
            qtbot.waitUntil(lambda: not feature.player.is_playing, timeout=15000)
            time.sleep(0.4)
        finally:
            recorder.terminate()
            recorder.wait(10)
    heard = np.fromfile(recording, dtype="<f4")
    assert heard.size > samples.size, "the monitor recorded less than the sound"

    meant, got = _envelope(samples, RATE), _envelope(heard, RATE)
    lags = np.arange(0, got.size - meant.size + 1)
    scores = [np.corrcoef(meant, got[lag:lag + meant.size])[0, 1] for lag in lags]
    best = int(np.nanargmax(scores))
    assert scores[best] > 0.9, f"envelope correlation {scores[best]:.3f} at a {best} ms lag"
    level_db = 20 * np.log10(np.max(np.abs(heard)) / np.max(np.abs(samples)))
    assert abs(level_db) < 1.0, f"played {level_db:+.2f} dB from the level the app meant (-3 dBFS)"
