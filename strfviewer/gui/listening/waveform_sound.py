"""A waveform-native model's receptive field as a sound, for the Listening dock (Qt-free; runs in a worker).

:func:`waveform_sound` takes the waveform gradmap of one neuron around one stimulus
(:func:`strfviewer.analysis.waveform_rf.stimulus_waveform_gradmaps`: the gradient of the response at frame ``k``
with respect to the audio samples; ``k`` from a chosen time, or the neuron's peak predicted response) and keeps
the stretch that reaches the response: from the first sample above 1e-3 of the map's peak (rounded down to a
frame boundary, so its spectrogram frames are the stimulus' frames) to the end of bin ``k``. Two sounds are made
from it, each through the CLI's safety step (:func:`strfviewer.analysis.waveform_rf.audible`: 5 ms raised-cosine
fades, peak at -3 dBFS):

* ``map``: the map alone;
* ``mix``: the map mixed under the stimulus: the stimulus' stretch (peak 1) plus the map (peak
  :data:`MIX_MAP_GAIN`, about -6 dB below it), then made safe.

Each sound's spectrogram goes through the model's own front-end (what the model hears).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Optional

import numpy as np

#: level of the map under the stimulus in the ``mix`` sound (relative to the stimulus' peak): about -6 dB
MIX_MAP_GAIN = 0.5
SOUND_KINDS = ("map", "mix")


class Cancelled(RuntimeError):
    """The computation was cancelled (a newer selection superseded it)."""


@dataclass
class WaveformSound:
    """One neuron's waveform gradmap around one stimulus, ready to draw and play.

    ``gradmap (T_audio,)`` the raw map on the stimulus' time axis at ``sample_rate`` Hz; ``start``/``end``
    (samples) the stretch heard (``end = (at_frame + 1) * hop``); ``sounds[kind] (end - start,)`` the
    ``map`` and ``mix`` sounds (safe levels) and ``spectrograms[kind] (F, n_frames)`` each through the model's
    front-end; ``freqs_hz (F,)`` its band centres (or ``None``); ``at_frame``/``at_ms`` the response frame
    differentiated (``at_ms = at_frame * dt_ms``) and ``peak`` whether it was the neuron's peak (no time
    chosen); ``response (T,)`` the predicted response.
    """

    neuron: int
    stimulus: str
    reduce: str
    gradmap: np.ndarray
    sample_rate: int
    hop: int
    dt_ms: float
    start: int
    end: int
    at_frame: int
    at_ms: float
    peak: bool
    sounds: dict
    spectrograms: dict
    freqs_hz: Optional[np.ndarray]
    response: np.ndarray

    @property
    def start_ms(self) -> float:
        """Where the stretch heard starts in the stimulus (ms)."""
        return 1000.0 * self.start / self.sample_rate


def stimulus_wave(model, stimulus) -> np.ndarray:
    """The stimulus' audio at the model's front-end rate, framed like its responses ``(T_s * hop,)``."""
    from strfviewer.data.waveforms import framed_audio

    front = model.wav2spec
    return framed_audio(stimulus, int(front.sample_rate), int(front.hop))


def waveform_sound(model, stimulus, neuron: int, reduce: str = "last", at_ms: Optional[float] = None,
                   cancel: Optional[threading.Event] = None) -> WaveformSound:
    """The :class:`WaveformSound` of ``neuron`` around ``stimulus`` (a dataset ``Stimulus`` with audio) at
    ``at_ms`` (ms in the stimulus; ``None``: the neuron's peak predicted response). ``ValueError`` naming the
    stimulus or the value for unusable input; :class:`Cancelled` when ``cancel`` is set."""
    from strfviewer.analysis._probe import model_lock

    def check() -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")

    with model_lock(model):  # a gradmap probe in another thread sets the front-end aside meanwhile: wait for it
        return _waveform_sound(model, stimulus, int(neuron), reduce, at_ms, check)


def _waveform_sound(model, stimulus, neuron: int, reduce: str, at_ms: Optional[float], check) -> WaveformSound:
    import torch

    from strfviewer.analysis.waveform_rf import audible, map_support, stimulus_waveform_gradmaps
    from strfviewer.models.frontend_args import band_centres_hz

    front = model.wav2spec
    rate, hop = int(front.sample_rate), int(front.hop)
    wave = stimulus_wave(model, stimulus)
    check()
    result = stimulus_waveform_gradmaps(model, wave, [neuron], at_ms=at_ms, reduce=reduce, spectrograms=False)
    check()
    gradmap = result.maps[0]
    if not np.any(gradmap):
        raise ValueError(f"the waveform gradmap of neuron {neuron} around {stimulus.name!r} is zero everywhere: "
                         "there is nothing to play")
    k = int(result.at_frames[0])
    end = (k + 1) * hop
    start = (map_support(gradmap, end).start // hop) * hop
    part = gradmap[start:end]
    heard = np.asarray(wave[start:end], dtype=np.float64)
    stim_peak = float(np.max(np.abs(heard))) if heard.size else 0.0
    mix = (heard / stim_peak if stim_peak > 0 else heard) + MIX_MAP_GAIN * part / float(np.max(np.abs(part)))
    sounds = {"map": audible(part, rate), "mix": audible(mix, rate)}
    spectrograms = {}
    with torch.no_grad():
        param = next(iter(model.parameters()), None)
        device = param.device if param is not None else torch.device("cpu")
        for kind, sound in sounds.items():
            x = torch.as_tensor(sound, device=device).reshape(1, 1, -1)
            spectrograms[kind] = front(x)[0, 0].to("cpu", torch.float32).numpy()
    return WaveformSound(neuron=neuron, stimulus=stimulus.name, reduce=reduce, gradmap=gradmap,
                         sample_rate=rate, hop=hop, dt_ms=float(result.dt_ms), start=int(start), end=int(end),
                         at_frame=k, at_ms=float(result.at_ms[0]), peak=at_ms is None, sounds=sounds,
                         spectrograms=spectrograms, freqs_hz=band_centres_hz(front), response=result.responses[0])
