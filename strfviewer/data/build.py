"""Recording on disk (:class:`~strfviewer.data.layouts.Recording`) -> :class:`NeuralDataset`.

Steps: read every stimulus's audio (mono, one common sample rate), compute its spectrogram through the
front-end (cached on disk), bin every neuron's spikes per trial on the same frames (keeping the spike times
the counts count, ``Stimulus.spike_times``), mask what a neuron lacks with NaN, then assign the split,
optionally smooth the responses and z-score the spectrograms.
"""

from __future__ import annotations

import collections
import hashlib
from typing import Dict, List, Optional

import numpy as np

from strfviewer.data import limits
from strfviewer.data.audio import Audio, read_wav, resample
from strfviewer.data.cache import load_spectrogram, spectrogram_key, store_spectrogram
from strfviewer.data.dataset import NeuralDataset, Stimulus
from strfviewer.data.errors import DataError
from strfviewer.data.layouts import Recording
from strfviewer.data.spectrogram import SpectrogramConfig, check_spectrogram_size, compute_spectrogram
from strfviewer.data.spikes import bin_trials, read_spike_file, times_in_frames


def _read_stimulus_audio(stim) -> Audio:
    """Audio of a stimulus (its ``read_audio`` when set); with several wav copies (population folder) they
    must be the same file content."""
    if stim.read_audio is not None:
        return stim.read_audio()
    paths = stim.wav_paths
    audio = read_wav(paths[0])
    for other in paths[1:]:
        try:
            digest = hashlib.sha256(other.read_bytes()).hexdigest()
        except OSError as exc:
            raise DataError(other, None, f"cannot read audio file ({exc.strerror or exc})") from None
        if digest != audio.content_hash:
            raise DataError(other, None, f"differs from {paths[0]} although both are named {other.name}: "
                                         "stimuli are matched by file name across cell folders")
    return audio


def common_sample_rate(rates: List[int]) -> int:
    """The most frequent sample rate (the highest among ties)."""
    counts = collections.Counter(rates)
    best = max(counts.values())
    return max(r for r, c in counts.items() if c == best)


def spectrogram_of(audio: Audio, cfg: SpectrogramConfig, device=None, use_cache: bool = True):
    """``(spec (F, T), freqs_hz (F,))`` of ``audio``, through the on-disk cache when it has a file hash."""
    key = None
    if use_cache and audio.content_hash:
        key = spectrogram_key(audio.content_hash, cfg.to_dict(), audio.sample_rate)
        hit = load_spectrogram(key)
        if hit is not None:
            return hit
    try:
        check_spectrogram_size(len(audio.waveform), audio.sample_rate, cfg)
    except ValueError as exc:
        raise DataError(audio.path or None, None, str(exc)) from None
    spec, freqs = compute_spectrogram(audio.waveform, audio.sample_rate, cfg, device=device)
    if key is not None:
        store_spectrogram(key, spec, freqs)
    return spec, freqs


def build_dataset(rec: Recording, frontend: Optional[SpectrogramConfig] = None, device=None,
                  use_cache: bool = True, pre_onset: Optional[str] = None) -> NeuralDataset:
    """Read audio and spikes of ``rec`` into a dataset (no split, smoothing or normalisation yet)."""
    cfg = frontend or SpectrogramConfig()
    warnings = list(rec.warnings)
    policy = pre_onset or rec.pre_onset
    audios = [_read_stimulus_audio(s) for s in rec.stimuli]
    for a in audios:
        warnings.extend(a.notes)
    rate = common_sample_rate([a.sample_rate for a in audios])
    resampled = collections.Counter(a.sample_rate for a in audios if a.sample_rate != rate)
    if resampled:
        froms = ", ".join(f"{n} from {r} Hz" for r, n in sorted(resampled.items()))
        warnings.append(f"stimuli have different sample rates: resampled {froms} to {rate} Hz")
        for a in audios:
            if a.sample_rate != rate:
                a.waveform = resample(a.waveform, a.sample_rate, rate)
                a.sample_rate = rate

    dropped_late = dropped_early = masked = 0
    files_late = set()
    stimuli: List[Stimulus] = []
    freqs_hz = None
    empty = []
    for stim, audio in zip(rec.stimuli, audios):
        spec, freqs_hz = spectrogram_of(audio, cfg, device=device, use_cache=use_cache)
        T = spec.shape[1]
        per_neuron = []
        times = []  # per neuron: None or the spike times (ms) of each trial, as counted
        for neuron in rec.neurons:
            path = neuron.spike_files.get(stim.name)
            if path is None:
                per_neuron.append(None)
                times.append(None)
                masked += 1
                continue
            trials = path.read(policy) if hasattr(path, "read") else read_spike_file(path, pre_onset=policy)
            dropped_early += trials.n_pre_onset_dropped
            counts, late = bin_trials(trials.trials, T, cfg.dt_ms)
            if late:
                dropped_late += late
                files_late.add(str(path))
            per_neuron.append(counts)
            times.append(times_in_frames(trials.trials, T, cfg.dt_ms))
        present = [c for c in per_neuron if c is not None]
        if not present:
            empty.append(stim.name)
            continue
        R = max(1, max(c.shape[0] for c in present))
        need = 4.0 * len(rec.neurons) * R * T
        if need > limits.MAX_RESPONSE_BYTES:
            raise DataError(rec.source, None, f"stimulus {stim.name!r}: {len(rec.neurons)} neurons x {R} trials x "
                                              f"{T} frames of responses need {limits.size_text(need)}, more than "
                                              f"{limits.size_text(limits.MAX_RESPONSE_BYTES)}")
        responses = np.full((len(rec.neurons), R, T), np.nan, dtype=np.float32)
        for n, counts in enumerate(per_neuron):
            if counts is not None:
                responses[n, : counts.shape[0]] = counts
        meta = dict(stim.metadata)
        meta.update({"wav_path": str(stim.wav_paths[0]) if stim.wav_paths else audio.path,
                     "duration_ms": audio.duration_ms})
        stimuli.append(Stimulus(stim.name, spec[None].astype(np.float32), responses, audio.waveform,
                                audio.sample_rate, meta, spike_times=times))
    if dropped_late:
        warnings.append(f"dropped {dropped_late} spikes after the stimulus end (in {len(files_late)} spike files)")
    if dropped_early:
        warnings.append(f"dropped {dropped_early} spikes before the stimulus onset (negative times)")
    if masked and len(rec.neurons) > 1:
        warnings.append(f"{masked} (neuron, stimulus) pairs were not recorded: masked with NaN")
    if empty:
        warnings.append(f"{len(empty)} stimuli without any response were left out")
    if not stimuli:
        raise DataError(rec.source, None, "no stimulus has any response")
    frontend_dict: Dict[str, object] = cfg.to_dict()
    frontend_dict["sample_rate"] = int(rate)
    return NeuralDataset(
        stimuli=stimuli,
        neuron_names=[n.name for n in rec.neurons],
        freqs_hz=np.asarray(freqs_hz, dtype=np.float64),
        dt_ms=float(cfg.dt_ms),
        frontend=frontend_dict,
        neuron_metadata=[dict(n.metadata) for n in rec.neurons],
        source=rec.source,
        name=rec.name,
        warnings=warnings,
    )
