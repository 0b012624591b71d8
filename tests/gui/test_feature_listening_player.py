"""AudioPlayer against a fake output stream (and the real sounddevice where PortAudio and a device exist)."""

import numpy as np
import pytest

from strfviewer.gui.listening.audio import AudioPlayer, AudioUnavailable, OutputDevice, SoundDeviceBackend


class FakeStop(Exception):
    pass


class FakeStream:
    """Pulls blocks from the player's callback on demand, like PortAudio's thread would."""

    def __init__(self, samplerate, callback, finished_callback, blocksize):
        self.samplerate, self.callback, self.finished_callback = samplerate, callback, finished_callback
        self.blocksize = blocksize
        self.delivered = []
        self.started = self.stopped = self.closed = False

    def start(self):
        self.started = True

    def stop(self):
        self.stopped = True

    def close(self):
        self.closed = True

    def pull(self, blocks=None):
        """Run the callback for ``blocks`` blocks (all, until it stops, when None)."""
        n = 0
        while blocks is None or n < blocks:
            out = np.full((self.blocksize, 1), np.nan, dtype=np.float32)
            try:
                self.callback(out, self.blocksize, None, None)
            except FakeStop:
                self.delivered.append(out[:, 0].copy())
                self.finished_callback()
                return
            self.delivered.append(out[:, 0].copy())
            n += 1

    @property
    def samples(self):
        return np.concatenate(self.delivered) if self.delivered else np.zeros(0, np.float32)


class FakeBackend:
    CallbackStop = FakeStop

    def __init__(self, rates=(44100,), device_rate=48000):
        self.rates, self.device_rate = set(rates), device_rate
        self.streams = []

    def output_devices(self):
        return [OutputDevice(0, "fake speakers", float(self.device_rate), 2)]

    def default_output(self):
        return 0

    def device_samplerate(self, device):
        return float(self.device_rate)

    def supports(self, device, samplerate):
        return samplerate in self.rates

    def open_stream(self, samplerate, device, callback, finished_callback, blocksize):
        stream = FakeStream(samplerate, callback, finished_callback, blocksize)
        self.streams.append(stream)
        return stream


def tone(rate, seconds=0.25, hz=440.0):
    t = np.arange(int(rate * seconds)) / rate
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_delivered_samples_equal_the_stimulus_at_a_supported_rate():
    backend = FakeBackend(rates=(44100,))
    player = AudioPlayer(lambda: backend, blocksize=512)
    x = tone(44100)
    assert player.play(x, 44100) == 44100
    stream = backend.streams[-1]
    assert stream.started and player.is_playing
    stream.pull()
    got = stream.samples
    np.testing.assert_array_equal(got[: x.size], x)
    assert np.all(got[x.size:] == 0.0)  # the last block is padded with silence, not garbage
    assert not player.poll()  # finished: poll closes the stream from this thread
    assert stream.stopped and stream.closed and not player.is_playing


def test_resampled_to_the_device_rate_when_the_rate_is_refused():
    backend = FakeBackend(rates=(48000,), device_rate=48000)
    player = AudioPlayer(lambda: backend, blocksize=1000)
    x = tone(24000, seconds=0.2, hz=500.0)
    assert player.play(x, 24000) == 48000
    stream = backend.streams[-1]
    assert stream.samplerate == 48000
    stream.pull()
    got = stream.samples[: 2 * x.size]
    expected = tone(48000, seconds=0.2, hz=500.0)
    assert got.size == expected.size
    # band-limited resampling of a periodic-enough tone: equal away from the edges
    np.testing.assert_allclose(got[500:-500], expected[500:-500], atol=2e-3)


def test_position_callback_follows_the_samples_delivered():
    backend = FakeBackend(rates=(10000,))
    player = AudioPlayer(lambda: backend, blocksize=1000)
    positions = []
    finished = []
    player.on_position = positions.append
    player.on_finished = lambda: finished.append(True)
    player.play(np.zeros(10000, np.float32) + 0.1, 10000, start_ms=200.0)
    stream = backend.streams[-1]
    assert player.poll()
    stream.pull(blocks=3)
    assert player.poll()
    stream.pull()
    assert not player.poll()
    assert positions[0] == pytest.approx(200.0)
    assert positions[1] == pytest.approx(200.0 + 300.0)  # 3 blocks of 100 ms after the 200 ms start
    assert positions[-1] == pytest.approx(1000.0)
    assert finished == [True]
    # starting at 200 ms skips the first 2000 samples
    assert stream.samples[:8000].size == 8000


def test_stop_closes_the_stream_and_play_replaces_the_previous_sound():
    backend = FakeBackend(rates=(8000,))
    player = AudioPlayer(lambda: backend)
    player.play(tone(8000), 8000)
    first = backend.streams[-1]
    player.play(tone(8000), 8000)
    assert first.stopped and first.closed
    player.stop()
    assert backend.streams[-1].closed and not player.is_playing


def test_no_portaudio_or_no_device_makes_the_player_unavailable_with_a_reason():
    def missing():
        raise OSError("PortAudio library not found")

    player = AudioPlayer(missing)
    assert not player.available
    assert "PortAudio" in player.unavailable_reason
    with pytest.raises(AudioUnavailable, match="PortAudio"):
        player.play(tone(8000), 8000)
    assert player.output_devices() == []


def test_device_error_on_open_is_reported_not_raised_raw():
    class Broken(FakeBackend):
        def open_stream(self, *args, **kwargs):
            raise RuntimeError("Device unavailable [PaErrorCode -9985]")

    player = AudioPlayer(lambda: Broken(rates=(8000,)))
    with pytest.raises(AudioUnavailable, match="Device unavailable"):
        player.play(tone(8000), 8000)
    assert "Device unavailable" in player.last_error
    assert not player.is_playing


def test_real_sounddevice_where_possible():
    try:
        backend = SoundDeviceBackend()
    except AudioUnavailable as exc:
        pytest.skip(f"no real audio output here: {exc}")
    player = AudioPlayer(lambda: backend)
    rate = player.play(tone(44100, seconds=0.05), 44100)
    assert rate > 0
    import time

    deadline = time.time() + 2.0
    while player.poll() and time.time() < deadline:
        time.sleep(0.01)
    player.stop()
    assert player.position_ms > 0


# --- SoundDeviceBackend over a stand-in 'sounddevice' module (its error paths and the stream it opens) ----------
class _PortAudioError(Exception):
    pass


class _CallbackStop(Exception):
    pass


def fake_sounddevice(devices, rates=(48000,), query_error=None):
    import types

    module = types.ModuleType("sounddevice")
    module.PortAudioError = _PortAudioError
    module.CallbackStop = _CallbackStop
    module.opened = []

    def query_devices(device=None, kind=None):
        if query_error is not None:
            raise query_error
        if kind == "output":
            index = 0 if device is None else device
            return devices[index]
        return devices

    def check_output_settings(device=None, channels=None, samplerate=None, dtype=None):
        if samplerate not in rates:
            raise _PortAudioError("Invalid sample rate [PaErrorCode -9997]")

    class OutputStream:
        def __init__(self, **kwargs):
            self.kwargs = kwargs
            module.opened.append(self)

        def start(self):
            pass

        def stop(self):
            pass

        def close(self):
            pass

    module.query_devices = query_devices
    module.check_output_settings = check_output_settings
    module.OutputStream = OutputStream
    module.default = types.SimpleNamespace(device=[-1, 0])
    return module


SPEAKERS = {"name": "speakers", "max_output_channels": 2, "default_samplerate": 48000.0}
MIC = {"name": "mic", "max_output_channels": 0, "default_samplerate": 44100.0}


def test_sounddevice_backend_without_output_device(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "sounddevice", fake_sounddevice([MIC]))
    player = AudioPlayer()
    assert not player.available
    assert "no audio output device" in player.unavailable_reason


def test_sounddevice_backend_device_query_error(monkeypatch):
    module = fake_sounddevice([SPEAKERS], query_error=_PortAudioError("Error querying device -1"))
    monkeypatch.setitem(__import__("sys").modules, "sounddevice", module)
    player = AudioPlayer()
    assert not player.available and "Error querying device" in player.unavailable_reason


def test_sounddevice_backend_opens_a_mono_float_stream_at_the_device_rate(monkeypatch):
    module = fake_sounddevice([MIC, SPEAKERS], rates=(48000,))
    monkeypatch.setitem(__import__("sys").modules, "sounddevice", module)
    player = AudioPlayer(blocksize=256)
    assert player.available and [d.name for d in player.output_devices()] == ["speakers"]
    player.device = 1
    assert player.play(tone(22050, seconds=0.1), 22050) == 48000  # 22.05 kHz refused: resampled
    kwargs = module.opened[-1].kwargs
    assert kwargs["samplerate"] == 48000 and kwargs["channels"] == 1 and kwargs["dtype"] == "float32"
    assert kwargs["device"] == 1 and kwargs["blocksize"] == 256
    out = np.zeros((256, 1), np.float32)
    kwargs["callback"](out, 256, None, None)
    assert np.any(out != 0)
    player.stop()
