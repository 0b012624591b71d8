"""The app's one audio player: mono playback through ``sounddevice``, with a play-head position.

``sounddevice`` is imported lazily (its import raises ``OSError`` when the PortAudio library is missing, and
querying devices raises ``PortAudioError`` when there is no output device); either way the player reports
*why* it cannot play (:attr:`AudioPlayer.unavailable_reason`) and the rest of the app keeps working.

Threading: ``play``, ``stop`` and ``poll`` are meant to be called from one thread (the GUI thread) — PortAudio
is not thread-safe. The audio callback runs on PortAudio's thread and only copies samples and advances an
integer position; ``poll()`` (called by a GUI timer) reports the position to ``on_position`` and closes a
finished stream from the calling thread (never inside the stream's own callbacks).

A sound played once is followed by silence as long as twice the stream's output latency (plus 50 ms): a buffered
output (PortAudio -> ALSA -> PulseAudio reports 128 ms) drops what it still holds when the stream ends, which cut
the last ~170 ms of every sound before. The play-head stops at the sound's end.

A sound can loop (:attr:`AudioPlayer.loop`, or ``play(..., loop=True)``): the callback wraps around the sound
until it is stopped or the loop is switched off (the sound then ends after its current pass).

The output backend is injectable: tests pass an object with the :class:`OutputBackend` methods whose stream
pulls blocks on demand, so the samples delivered can be compared with the stimulus.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Protocol

import numpy as np

#: silence after a sound played once: this many times the stream's reported output latency, plus TAIL_EXTRA_S
TAIL_LATENCIES, TAIL_EXTRA_S = 2.0, 0.05


class AudioUnavailable(RuntimeError):
    """Playback is impossible here; the message says why (no PortAudio, no output device, device error)."""


@dataclass(frozen=True)
class OutputDevice:
    """An output device as the backend lists it."""

    index: int
    name: str
    default_samplerate: float
    channels: int


class OutputBackend(Protocol):
    """What the player needs from an audio library (sounddevice in the app, a fake in tests)."""

    CallbackStop: type  # exception a callback raises to end the stream after the current block

    def output_devices(self) -> List[OutputDevice]: ...

    def default_output(self) -> Optional[int]: ...

    def device_samplerate(self, device: Optional[int]) -> float: ...

    def supports(self, device: Optional[int], samplerate: int) -> bool: ...

    def open_stream(self, samplerate: int, device: Optional[int], callback: Callable,
                    finished_callback: Callable, blocksize: int) -> Any: ...


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


class SoundDeviceBackend:
    """:class:`OutputBackend` over ``sounddevice``; construction raises :class:`AudioUnavailable` with the
    reason when PortAudio is missing or no output device exists."""

    def __init__(self) -> None:
        try:
            import sounddevice
        except OSError as exc:  # the wheel does not bundle PortAudio on Linux
            raise AudioUnavailable(f"audio playback is off: {_describe(exc)} "
                                   "(install PortAudio, e.g. the libportaudio2 package)") from None
        except ImportError as exc:
            raise AudioUnavailable(f"audio playback is off: sounddevice is not installed ({_describe(exc)})"
                                   ) from None
        self.sd = sounddevice
        self.CallbackStop = sounddevice.CallbackStop
        try:
            if not self.output_devices():
                raise AudioUnavailable("audio playback is off: no audio output device found")
        except self.sd.PortAudioError as exc:
            raise AudioUnavailable(f"audio playback is off: {_describe(exc)}") from None

    def output_devices(self) -> List[OutputDevice]:
        out = []
        for index, info in enumerate(self.sd.query_devices()):
            if int(info.get("max_output_channels", 0)) > 0:
                out.append(OutputDevice(index, str(info["name"]), float(info["default_samplerate"]),
                                        int(info["max_output_channels"])))
        return out

    def default_output(self) -> Optional[int]:
        try:
            index = self.sd.default.device[1]
        except (TypeError, IndexError):
            return None
        return None if index is None or int(index) < 0 else int(index)

    def device_samplerate(self, device: Optional[int]) -> float:
        return float(self.sd.query_devices(device, "output")["default_samplerate"])

    def supports(self, device: Optional[int], samplerate: int) -> bool:
        try:
            self.sd.check_output_settings(device=device, channels=1, samplerate=samplerate, dtype="float32")
        except Exception:  # PortAudioError or ValueError: the device refuses this rate
            return False
        return True

    def open_stream(self, samplerate: int, device: Optional[int], callback: Callable,
                    finished_callback: Callable, blocksize: int) -> Any:
        return self.sd.OutputStream(samplerate=samplerate, channels=1, dtype="float32", device=device,
                                    callback=callback, finished_callback=finished_callback,
                                    blocksize=blocksize)


def resample_for_device(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling of mono ``samples`` from ``from_rate`` to ``to_rate`` Hz (float32)."""
    from strfviewer.data.audio import resample  # the data package's resampler (soxr)

    return resample(np.asarray(samples, dtype=np.float32), int(from_rate), int(to_rate))


class AudioPlayer:
    """Plays one mono sound at a time and tracks its position.

    ``backend_factory`` builds the backend on first use (default: :class:`SoundDeviceBackend`); a failure
    (:class:`AudioUnavailable`, ``OSError``) leaves the player *unavailable* with the reason.
    ``on_position(t_ms)`` and ``on_finished()`` are called from :meth:`poll`, i.e. on the caller's thread.
    """

    def __init__(self, backend_factory: Optional[Callable[[], OutputBackend]] = None,
                 device: Optional[int] = None, blocksize: int = 1024):
        self._backend_factory = backend_factory or SoundDeviceBackend
        self._backend: Optional[OutputBackend] = None
        self._reason: Optional[str] = None
        self._checked = False
        self.device = device
        self.blocksize = int(blocksize)
        self.on_position: Optional[Callable[[float], None]] = None
        self.on_finished: Optional[Callable[[], None]] = None
        self._stream: Any = None
        self._buffer = np.zeros(0, dtype=np.float32)
        self._pos = 0  # next sample index to deliver (written by the audio thread only while playing)
        self._rate = 0
        self._length = 0  # samples of the sound itself (the buffer may end with silence)
        self._offset_ms = 0.0
        self._done = threading.Event()
        self._loop = False
        self.last_error: Optional[str] = None

    # --- availability ------------------------------------------------------------------------------
    def _ensure_backend(self) -> Optional[OutputBackend]:
        if not self._checked:
            self._checked = True
            try:
                self._backend = self._backend_factory()
                self._reason = None
            except (AudioUnavailable, OSError) as exc:
                self._backend, self._reason = None, _describe(exc)
        return self._backend

    @property
    def available(self) -> bool:
        return self._ensure_backend() is not None

    @property
    def unavailable_reason(self) -> Optional[str]:
        """Why playback is off (None when it is possible)."""
        self._ensure_backend()
        return self._reason

    def refresh(self) -> Optional[str]:
        """Look for the audio library and devices again (e.g. after plugging headphones); returns the reason."""
        self.stop()
        self._checked = False
        self._backend = None
        return self.unavailable_reason

    def output_devices(self) -> List[OutputDevice]:
        backend = self._ensure_backend()
        if backend is None:
            return []
        try:
            return backend.output_devices()
        except Exception as exc:  # a device error while listing: report no devices
            self.last_error = _describe(exc)
            return []

    # --- playback ----------------------------------------------------------------------------------
    @property
    def is_playing(self) -> bool:
        return self._stream is not None and not self._done.is_set()

    @property
    def samplerate(self) -> int:
        """Rate (Hz) of the stream playing now (0 when idle)."""
        return self._rate

    @property
    def loop(self) -> bool:
        """Whether the sound playing starts again at its end (until stopped)."""
        return self._loop

    @loop.setter
    def loop(self, on: bool) -> None:
        if self._loop and not on and self._buffer.size:
            self._pos %= self._buffer.size  # finish the pass that is playing
        self._loop = bool(on)

    @property
    def position_ms(self) -> float:
        """Play-head position in ms of the original sound (start offset included; within the pass playing when
        looping)."""
        if not self._rate:
            return self._offset_ms
        pos = self._pos % self._buffer.size if self._loop and self._buffer.size else min(self._pos, self._length)
        return self._offset_ms + 1000.0 * pos / self._rate

    def output_rate_for(self, sample_rate: int) -> int:
        """The rate the sound will be played at: its own when the device takes it, else the device's."""
        backend = self._ensure_backend()
        if backend is None:
            raise AudioUnavailable(self._reason or "audio playback is off")
        if backend.supports(self.device, int(sample_rate)):
            return int(sample_rate)
        return int(round(backend.device_samplerate(self.device)))

    def play(self, samples: np.ndarray, sample_rate: int, start_ms: float = 0.0, loop: bool = False) -> int:
        """Start playing mono ``samples (T_audio,)`` at ``sample_rate`` Hz from ``start_ms`` (``loop``: again and
        again until stopped); returns the output rate. Stops what was playing. Raises :class:`AudioUnavailable` when playback is off or the
        device refuses (the reason is also kept in :attr:`last_error`)."""
        self.stop()
        backend = self._ensure_backend()
        if backend is None:
            raise AudioUnavailable(self._reason or "audio playback is off")
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        start = int(round(max(0.0, start_ms) * sample_rate / 1000.0))
        x = np.clip(np.nan_to_num(x[start:]), -1.0, 1.0)
        try:
            rate = self.output_rate_for(sample_rate)
            if rate != int(sample_rate):
                x = resample_for_device(x, int(sample_rate), rate)
            self._buffer, self._pos, self._rate, self._length = np.ascontiguousarray(x), 0, rate, x.size
            self._offset_ms = 1000.0 * start / sample_rate
            self._loop = bool(loop) and x.size > 0
            self._done.clear()
            self._stream = backend.open_stream(rate, self.device, self._callback, self._finished_callback,
                                               self.blocksize)
            latency = getattr(self._stream, "latency", 0.0)
            if not self._loop and isinstance(latency, (int, float)) and latency > 0:  # see the module docstring
                tail = int(round((TAIL_LATENCIES * float(latency) + TAIL_EXTRA_S) * rate))
                self._buffer = np.concatenate([self._buffer, np.zeros(tail, np.float32)])
            self._stream.start()
        except AudioUnavailable:
            raise
        except Exception as exc:  # PortAudioError, ValueError from a bad device setting ...
            self._close_stream()
            self.last_error = f"cannot play on this output device: {_describe(exc)}"
            raise AudioUnavailable(self.last_error) from None
        self.last_error = None
        return rate

    def _callback(self, outdata, frames, time_info, status) -> None:  # audio thread
        if self._loop:
            n = self._buffer.size
            outdata[:, 0] = self._buffer[(self._pos + np.arange(frames)) % n]
            self._pos = (self._pos + frames) % n
            return
        begin = self._pos
        chunk = self._buffer[begin:begin + frames]
        outdata[: chunk.size, 0] = chunk
        if chunk.size < frames:
            outdata[chunk.size:, 0] = 0.0
        self._pos = begin + chunk.size
        if self._pos >= self._buffer.size:
            raise self._backend.CallbackStop()

    def _finished_callback(self) -> None:  # audio thread: only flag it, close from poll()
        self._done.set()

    def poll(self) -> bool:
        """Report the position (``on_position``); on the end of the sound close the stream and call
        ``on_finished``. Returns True while playing. Call it from the thread that called :meth:`play`."""
        if self._stream is None:
            return False
        if self.on_position is not None:
            self.on_position(self.position_ms)
        if self._done.is_set():
            self._close_stream()
            if self.on_finished is not None:
                self.on_finished()
            return False
        return True

    def stop(self) -> None:
        """Stop and close the current stream (no-op when idle); the position stays where it was."""
        if self._stream is not None:
            self._close_stream()
            if self.on_finished is not None:
                self.on_finished()

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        self._done.set()
        if stream is None:
            return
        for method in ("stop", "close"):
            try:
                getattr(stream, method)()
            except Exception as exc:  # a device that vanished mid-play: remember, never crash the GUI
                self.last_error = _describe(exc)
