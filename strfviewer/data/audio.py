"""Reading stimulus audio: wav -> mono float32 waveform, plus band-limited resampling (soxr)."""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Union

import numpy as np

from strfviewer.data import limits
from strfviewer.data.errors import DataError

#: libsndfile subtypes with 8 bits or fewer per sample (a warning names them)
LOW_RESOLUTION_SUBTYPES = {"PCM_U8": "8-bit", "PCM_S8": "8-bit", "ULAW": "8-bit mu-law", "ALAW": "8-bit A-law",
                           "IMA_ADPCM": "4-bit ADPCM", "MS_ADPCM": "4-bit ADPCM", "VOX_ADPCM": "4-bit ADPCM"}


@dataclass
class Audio:
    """A mono waveform ``(T_audio,)`` float32 in [-1, 1] at ``sample_rate`` Hz, with what was done to it."""

    waveform: np.ndarray
    sample_rate: int
    path: str = ""
    content_hash: str = ""  # sha256 of the file bytes (cache key)
    notes: List[str] = field(default_factory=list)  # e.g. "stereo mixed down to mono"

    @property
    def duration_ms(self) -> float:
        return 1000.0 * len(self.waveform) / float(self.sample_rate)


def read_wav(path: Union[str, Path]) -> Audio:
    """Read an audio file (wav or any format libsndfile reads) as mono float32.

    Stereo / multi-channel audio is mixed down (channel mean) and a note says so. Raises
    :class:`DataError` naming the file when it cannot be read, is truncated (fewer frames than its header
    announces), is empty, or holds non-finite samples.
    """
    import soundfile as sf

    path = Path(path)
    try:
        size = path.stat().st_size
        if size > limits.MAX_AUDIO_BYTES:
            raise DataError(path, None, f"audio file of {limits.size_text(size)} is larger than the "
                                        f"{limits.size_text(limits.MAX_AUDIO_BYTES)} strfviewer reads")
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(path, None, f"cannot read audio file ({exc.strerror or exc})") from None
    missing = wav_bytes_missing(raw)
    if missing:
        raise DataError(path, None, f"truncated wav file: its header announces {missing} more bytes of audio "
                                    "than the file holds")
    try:
        import io

        with sf.SoundFile(io.BytesIO(raw)) as handle:
            announced = handle.frames
            rate = int(handle.samplerate)
            subtype = str(handle.subtype)
            if not limits.MIN_SAMPLE_RATE <= rate <= limits.MAX_SAMPLE_RATE:
                raise DataError(path, None, f"sample rate {rate} Hz is outside {limits.MIN_SAMPLE_RATE}.."
                                            f"{limits.MAX_SAMPLE_RATE} Hz (a damaged header?)")
            data = handle.read(dtype="float32", always_2d=True)
    except DataError:
        raise
    except Exception as exc:  # libsndfile raises its own error types (and RuntimeError)
        reason = re.sub(r"^Error opening <[^>]*>: ", "", str(exc))
        raise DataError(path, None, f"unreadable audio file: {reason}") from None
    if announced > 0 and data.shape[0] < announced:
        raise DataError(path, None, f"truncated audio file: header announces {announced} samples, "
                                    f"only {data.shape[0]} present")
    if data.shape[0] == 0:
        raise DataError(path, None, "audio file holds no samples")
    if not np.all(np.isfinite(data)):
        raise DataError(path, None, "audio file holds non-finite samples (NaN or inf)")
    notes = []
    if subtype in LOW_RESOLUTION_SUBTYPES:
        notes.append(f"{path.name}: {LOW_RESOLUTION_SUBTYPES[subtype]} audio: quantisation noise (about -48 dB) "
                     "fills the quiet parts of its spectrogram; use 16-bit or better recordings where you can")
    if data.shape[1] > 1:
        notes.append(f"{path.name}: {data.shape[1]} channels mixed down to mono")
        wave = data.mean(axis=1)
    else:
        wave = data[:, 0]
    digest = hashlib.sha256(raw).hexdigest()
    return Audio(np.ascontiguousarray(wave, dtype=np.float32), rate, str(path), digest, notes)


def wav_bytes_missing(raw: bytes) -> int:
    """How many bytes of sample data a RIFF/WAVE file's ``data`` chunk announces beyond the end of the
    file (0 when complete, not a wav, or written as a stream with an unknown size)."""
    if len(raw) < 12 or raw[:4] not in (b"RIFF", b"RIFX") or raw[8:12] != b"WAVE":
        return 0
    order = "<" if raw[:4] == b"RIFF" else ">"
    pos = 12
    while pos + 8 <= len(raw):
        chunk, size = raw[pos:pos + 4], struct.unpack(order + "I", raw[pos + 4:pos + 8])[0]
        if chunk == b"data":
            if size in (0, 0xFFFFFFFF):
                return 0
            return max(0, size - (len(raw) - pos - 8))
        pos += 8 + size + (size & 1)
    return 0


def resample(waveform: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling of a mono waveform ``(T_audio,)`` from ``from_rate`` to ``to_rate`` Hz.

    soxr (libsoxr, "HQ" quality): a finite signal, zero beyond its ends (nothing wraps around from one end
    to the other, as an FFT resampler's periodic signal does), delay-compensated so that sample ``k`` at the
    new rate stands for time ``k / to_rate`` s. The output has ``round(T_audio * to_rate / from_rate)``
    samples (at least 1); content above the lower Nyquist frequency is removed. Returns float32.
    """
    x = np.ascontiguousarray(np.asarray(waveform, dtype=np.float32).reshape(-1))
    if int(from_rate) == int(to_rate):
        return x
    if not (from_rate > 0 and to_rate > 0):
        raise ValueError(f"sample rates must be > 0 Hz, got {from_rate} and {to_rate}")
    import soxr

    n_out = max(1, int(round(x.shape[0] * float(to_rate) / float(from_rate))))
    y = soxr.resample(x, int(from_rate), int(to_rate), quality="HQ").astype(np.float32, copy=False)
    if y.shape[0] != n_out:  # soxr rounds the length its own way: pad or trim to the stated length
        y = np.pad(y, (0, max(0, n_out - y.shape[0])))[:n_out]
    return np.ascontiguousarray(y)
