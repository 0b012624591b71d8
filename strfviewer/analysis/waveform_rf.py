"""A neuron's receptive field as a sound: its waveform gradmap around a chosen time of a real stimulus.

deepSTRF's semantics (:func:`strfviewer.analysis.gradmaps.waveform_gradmap`): the gradient of a neuron's
response with respect to the input samples, linearised around a real stimulus. Here the response value is
taken at a chosen response frame ``k`` of that stimulus (default: the neuron's peak predicted response in
it), so the map holds the sound that would raise the response at that moment: for ``reduce='last'`` the
samples up to the end of bin ``k`` (``(k + 1) * hop``), zero after (the model is causal).

:func:`stimulus_waveform_gradmaps` gives every asked-for neuron's map in one batched backward pass, the
population map (their mean), and each map's spectrogram through the model's own front-end after the
listening-safety step (:data:`LISTEN_PEAK`, :data:`LISTEN_FADE_MS`). The front-end runs once over the whole
stimulus (its graph kept); the rest of the model runs once without a graph (for the responses and the peak
times) and once with one over the frames up to the latest read-out frame only (the model is causal, later
frames cannot reach it), so a map read out early in a long stimulus costs a fraction of one at its end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

from strfviewer.analysis._probe import frozen_parameters, model_device, model_dtype, peak_times, probe_mode
from strfviewer.analysis.gradmaps import (WAVEFORM_REDUCES, _batched_vjp, _end_frames,
                                          _response_cotangents)
from strfviewer.analysis.sonify import fade_and_normalise

#: peak of a map made audible: -3 dBFS
LISTEN_PEAK = float(10.0 ** (-3.0 / 20.0))
#: raised-cosine fades at both ends of a map made audible (ms)
LISTEN_FADE_MS = 5.0


@dataclass
class WaveformGradmaps:
    """Waveform gradmaps of ``neurons`` around one stimulus.

    ``maps (K, T_audio)`` float32 at ``sample_rate`` Hz on the stimulus' time axis; ``population
    (T_audio,)`` their mean (the map of the neurons' mean response value); ``at_frames (K,)`` the response
    frame each map is taken at and ``at_ms (K,)`` its start in ms (``at_frames * dt_ms``); ``responses
    (K, T)`` the predicted responses; ``spectrograms (K, F, T)`` each audible map (:func:`audible`) through
    the model's front-end; ``reduce``; ``dt_ms``.
    """

    maps: np.ndarray
    population: np.ndarray
    neurons: np.ndarray
    at_frames: np.ndarray
    at_ms: np.ndarray
    responses: np.ndarray
    spectrograms: np.ndarray
    sample_rate: int
    dt_ms: float
    reduce: str


def audible(waveform_map: np.ndarray, sample_rate: int) -> np.ndarray:
    """A map made safe to play: 5 ms raised-cosine fades, peak at -3 dBFS (silence stays silent)."""
    return fade_and_normalise(waveform_map, int(sample_rate), fade_ms=LISTEN_FADE_MS, peak=LISTEN_PEAK)


def front_end_of(model: nn.Module) -> nn.Module:
    """The model's waveform front-end; ``TypeError`` for a spectrogram-input model."""
    front_end = getattr(model, "wav2spec", None)
    if not isinstance(front_end, nn.Module) or isinstance(front_end, nn.Identity):
        raise TypeError(f"{type(model).__name__} takes spectrograms (no waveform front-end): waveform gradmaps "
                        "need a model fitted on raw audio (strfviewer fit --frontend NAME)")
    return front_end


def frame_at(at_ms: float, dt_ms: float, n_frames: int) -> int:
    """The response frame holding time ``at_ms`` (``floor(at_ms / dt)``); ``ValueError`` naming the value
    when it lies outside the stimulus' ``n_frames`` frames."""
    k = int(np.floor(float(at_ms) / float(dt_ms) + 1e-9))
    if not np.isfinite(at_ms) or not 0 <= k < n_frames:
        raise ValueError(f"--at-ms {at_ms:g}: outside the stimulus (0 to {n_frames * dt_ms:g} ms)")
    return k


def stimulus_waveform_gradmaps(model: nn.Module, waveform, neurons: Optional[Sequence[int]] = None,
                               at_ms: Optional[float] = None, reduce: str = "last",
                               spectrograms: bool = True) -> WaveformGradmaps:
    """Waveform gradmaps of ``neurons`` (default all) around ``waveform`` ``(T_audio,)`` at the front-end's
    sample rate, taken at response frame ``floor(at_ms / dt)`` (default: each neuron's peak predicted
    response in the stimulus). ``reduce`` as in :func:`~strfviewer.analysis.gradmaps.waveform_gradmap`.
    ``spectrograms=False`` skips the front-end spectrograms (``(K, 0, 0)``)."""
    front_end = front_end_of(model)
    if reduce not in WAVEFORM_REDUCES:
        raise ValueError(f"reduce must be one of {', '.join(WAVEFORM_REDUCES)}, got {reduce!r}")
    rate, hop, dt_ms = int(front_end.sample_rate), int(front_end.hop), float(front_end.dt_ms)
    wave = torch.as_tensor(np.asarray(waveform, dtype=np.float32).reshape(-1))
    if wave.numel() < hop:
        raise ValueError(f"the stimulus is {wave.numel()} samples long, shorter than one frame ({hop} samples "
                         f"at {rate} Hz)")
    device, dtype = model_device(model), model_dtype(model)
    x = wave.to(device=device, dtype=dtype).reshape(1, 1, -1).requires_grad_(True)
    with probe_mode(model, spectrogram_input=True) as model, frozen_parameters(model):      # wav2spec bypassed
        spec = front_end(x)                                                     # (1, 1, F, T), graph to x
        T = int(spec.shape[-1])
        if at_ms is not None:
            ends = _end_frames(frame_at(at_ms, dt_ms, T), 1, T)
        detached = None
        if at_ms is None or ends[0] + 1 < T:              # the responses past the read-out frame, or the peaks
            with torch.no_grad():
                detached = model(spec.detach())[0, :, 0, :]                     # (N, T)
        N = int(detached.shape[0]) if detached is not None else int(model.N)
        index = list(range(N)) if neurons is None else [int(n) for n in neurons]
        bad = [n for n in index if not 0 <= n < N]
        if bad or not index:
            raise ValueError(f"--neurons {','.join(map(str, bad or index))}: the model has {N} neurons "
                             f"(0 to {N - 1})")
        ends = [int(k) for k in peak_times(detached[index])] if at_ms is None else ends * len(index)
        reach = max(ends) + 1                                   # frames that can reach a read-out frame
        head = spec.detach()[..., :reach].requires_grad_(True)
        response = model(head)[0, :, 0, :]                                      # (N, reach)
        if detached is None:                                    # read out at the last frame: all frames here
            detached = response.detach()
        cotangents = _response_cotangents(response.detach(), index, reduce, ends)
        spec_grads = torch.zeros(len(index), *spec.shape, device=device, dtype=dtype)
        spec_grads[..., :reach] = _batched_vjp(response, head, cotangents)
        grads = _batched_vjp(spec, x, spec_grads).reshape(len(index), -1).detach()
        maps = grads.to("cpu", torch.float32).numpy()
        if not np.all(np.isfinite(maps)):
            raise ValueError("the waveform gradmap holds NaN or infinite values")
        specs = np.zeros((len(index), 0, 0), np.float32)
        if spectrograms:
            with torch.no_grad():
                sounds = torch.as_tensor(np.stack([audible(m, rate) for m in maps]), device=device, dtype=dtype)
                specs = front_end(sounds[:, None, :])[:, 0].to("cpu", torch.float32).numpy()
    return WaveformGradmaps(maps=maps, population=maps.mean(axis=0), neurons=np.asarray(index, np.int64),
                            at_frames=np.asarray(ends, np.int64), at_ms=np.asarray(ends, np.float64) * dt_ms,
                            responses=detached[index].to("cpu", torch.float32).numpy(), spectrograms=specs,
                            sample_rate=rate, dt_ms=dt_ms, reduce=reduce)


def map_support(waveform_map: np.ndarray, end: int, rel: float = 1e-3) -> slice:
    """The samples of a map worth hearing: from the first one above ``rel`` of its peak to ``end`` (the end of
    the response frame it is taken at; nothing later reaches the response)."""
    m = np.abs(np.asarray(waveform_map[:end]))
    top = float(m.max()) if m.size else 0.0
    if top <= 0:
        return slice(0, end)
    return slice(int(np.argmax(m > rel * top)), end)
