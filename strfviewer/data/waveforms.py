"""A dataset in waveform mode: each stimulus' audio at a front-end's sample rate, framed like its responses.

A waveform front-end turns ``hop`` audio samples into one frame, frame ``k`` seeing samples
``< (k + 1) * hop`` only. Response bin ``k`` of a stimulus covers ``[k dt, (k + 1) dt)`` ms from its onset,
so with ``hop = dt * sample_rate / 1000`` frame ``k`` sees exactly the audio up to the end of its bin, as
the causal spectrogram front-end does (:mod:`strfviewer.data.spectrogram`). Each stimulus' audio is
therefore resampled to the front-end's rate and zero-padded (or cut) to ``T_s * hop`` samples, ``T_s`` its
number of response bins.

Resampling (soxr, :func:`strfviewer.data.audio.resample`) happens once per stimulus and rate: results are
kept in a bounded in-memory cache keyed by the audio's content, so refits and gradmaps do not redo it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from strfviewer.data.audio import resample

#: most bytes of resampled audio the cache keeps (oldest entries go first)
CACHE_BYTES = 256 * 1024 * 1024

_cache: "OrderedDict[Tuple[str, int, int], np.ndarray]" = OrderedDict()
_cache_lock = threading.Lock()


@dataclass
class WaveStimulus:
    """One stimulus in waveform mode: ``wave (1, T_s * hop)`` float32 at ``sample_rate`` Hz and the
    stimulus' ``responses (N, R, T_s)``. ``spec`` is the same array under the name the batching code reads
    for a model's input (:mod:`strfviewer.fit.batching`): batches of these are ``(B, 1, T_audio)``."""

    name: str
    wave: np.ndarray
    responses: np.ndarray
    sample_rate: int
    hop: int

    @property
    def spec(self) -> np.ndarray:
        return self.wave

    @property
    def n_frames(self) -> int:
        return int(self.responses.shape[-1])


def has_audio(dataset) -> bool:
    """Whether every stimulus of ``dataset`` carries its audio (waveform and sample rate)."""
    return all(s.waveform is not None and s.sample_rate for s in dataset.stimuli)


def require_audio(dataset, what: str = "a waveform front-end") -> None:
    """``ValueError`` naming the data when a stimulus has no audio (e.g. an NPZ of spectrograms)."""
    missing = [s.name for s in dataset.stimuli if s.waveform is None or not s.sample_rate]
    if missing:
        source = dataset.source or dataset.name or "the dataset"
        kind = "an NPZ of spectrograms without 'waveforms'" if str(source).lower().endswith(".npz") else \
            "stimuli without audio"
        raise ValueError(f"{source}: {what} needs the stimuli's audio, but this is {kind} "
                         f"({len(missing)} of {len(dataset.stimuli)} stimuli have none, e.g. {missing[0]!r})")


def _digest(wave: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(wave, dtype=np.float32).tobytes(), digest_size=16).hexdigest()


def resampled(wave: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """``wave`` at ``to_rate`` Hz (float32, read-only), resampled once and then served from the cache."""
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    if int(from_rate) == int(to_rate):
        return wave
    key = (_digest(wave), int(from_rate), int(to_rate))
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    out = resample(wave, int(from_rate), int(to_rate))
    out.setflags(write=False)
    with _cache_lock:
        _cache[key] = out
        total = sum(a.nbytes for a in _cache.values())
        while total > CACHE_BYTES and len(_cache) > 1:
            _, old = _cache.popitem(last=False)
            total -= old.nbytes
    return out


def clear_cache() -> None:
    """Forget every resampled waveform (tests; memory)."""
    with _cache_lock:
        _cache.clear()


def framed_audio(stimulus, sample_rate: int, hop: int, n_frames: Optional[int] = None) -> np.ndarray:
    """The stimulus' audio at ``sample_rate`` Hz, zero-padded or cut to ``n_frames * hop`` samples
    (``n_frames`` default: its response bins) -> ``(n_frames * hop,)`` float32.

    ``ValueError`` naming the stimulus when it has no audio or is shorter than one frame (``hop`` samples).
    """
    if stimulus.waveform is None or not stimulus.sample_rate:
        raise ValueError(f"stimulus {stimulus.name!r} has no audio")
    wave = resampled(stimulus.waveform, int(stimulus.sample_rate), int(sample_rate))
    if wave.shape[0] < hop:
        raise ValueError(f"stimulus {stimulus.name!r} is {wave.shape[0]} samples long at {int(sample_rate)} Hz, "
                         f"shorter than one frame ({hop} samples)")
    n = int(stimulus.responses.shape[-1] if n_frames is None else n_frames) * int(hop)
    if wave.shape[0] >= n:
        return np.array(wave[:n], dtype=np.float32)
    return np.pad(wave, (0, n - wave.shape[0])).astype(np.float32)


def waveform_stimuli(stimuli: Sequence, sample_rate: int, hop: int) -> List[WaveStimulus]:
    """:class:`WaveStimulus` of each stimulus (audio resampled to ``sample_rate`` Hz, framed with ``hop``
    samples per response bin); errors as :func:`framed_audio`."""
    return [WaveStimulus(s.name, framed_audio(s, sample_rate, hop)[None], s.responses, int(sample_rate), int(hop))
            for s in stimuli]
