"""Fitting on raw audio: a model whose ``wav2spec`` slot holds a waveform front-end, fed each stimulus' audio.

:func:`prepare` resolves the front-end's arguments from the data (its sample rate, the frame step), builds
the model, turns every stimulus' audio into ``(1, T_s * hop)`` at the front-end's rate
(:mod:`strfviewer.data.waveforms`) and runs the front-end once over each stimulus, giving the spectrogram
dataset the model's front-end makes (``(1, F, T_s)`` per stimulus, not z-scored: the model's own input).

* A front-end built with ``normalize=True`` (the fit's default, see :func:`resolve_spec`) gets the per-band
  mean and standard deviation of its output over the training stimuli as stored buffers, so the model sees
  z-scored bands as on the spectrogram path, and keeps them in its checkpoint (for a learnable front-end,
  the statistics of its initial state).
* A fixed front-end (no parameter requires grad) is never run again during the fit: the rest of the model
  is fitted on those spectrograms with ``wav2spec`` bypassed (:func:`bypass_frontend`), as a spectrogram
  model would be (ridge, warm start and all); the front-end is back in place afterwards.
* A learnable front-end is trained with the model on batches of audio ``(B, 1, T_audio)`` (padding
  masked as on the spectrogram path), in its own optimiser group (:func:`param_groups`: its own learning
  rate, no weight decay, which would drag log-frequencies towards 1 Hz). Ridge warm starts and output
  calibration use the spectrograms of its initial state.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional

import numpy as np
import torch
from torch import nn

from strfviewer.data.waveforms import require_audio, waveform_stimuli
from strfviewer.models import registry
from strfviewer.models.frontend_args import accepts, band_centres_hz, frontend_kwargs, is_fixed, rate_note


@dataclass
class WaveformFit:
    """What :func:`prepare` made: ``model`` (with its front-end), the resolved ``spec``, ``waves`` (one
    :class:`~strfviewer.data.waveforms.WaveStimulus` per stimulus, by name), ``spec_dataset`` (the dataset
    with each stimulus' spectrogram through the front-end as built), ``fixed`` and ``record`` (the
    front-end as checkpoint metadata stores it under ``frontend``)."""

    model: nn.Module
    spec: Any
    waves: Dict[str, Any]
    spec_dataset: Any
    fixed: bool
    record: Dict[str, Any]
    notes: List[str] = dataclasses.field(default_factory=list)

    def wave_stimuli(self, stimuli) -> List[Any]:
        return [self.waves[s.name] for s in stimuli]


def audio_rate(dataset) -> int:
    """The sample rate (Hz) of the dataset's audio (the most common one)."""
    from strfviewer.data.build import common_sample_rate

    require_audio(dataset)
    return common_sample_rate([int(s.sample_rate) for s in dataset.stimuli])


def resolve_spec(spec, dataset, n_bands: Optional[int] = None):
    """``spec`` with its front-end's arguments completed from ``dataset`` (see
    :func:`strfviewer.models.frontend_args.frontend_kwargs`) and ``normalize=True`` where the front-end takes
    it and it is not given; ``ValueError`` naming a bad value."""
    from strfviewer.models.factory import copy_spec

    name = registry.entry("frontend", spec.frontend).name
    given = dict(spec.frontend_kwargs or {})
    if "normalize" not in given and accepts(name, "normalize"):
        given["normalize"] = True
    kwargs = frontend_kwargs(name, given, audio_rate(dataset), float(dataset.dt_ms), n_bands)
    return dataclasses.replace(copy_spec(spec), frontend=name, frontend_kwargs=dict(kwargs))


@contextlib.contextmanager
def bypass_frontend(model: nn.Module) -> Iterator[nn.Module]:
    """Inside the block the model takes the front-end's output ``(B, 1, F, T)``: ``wav2spec`` is the identity."""
    saved = model.wav2spec
    model.wav2spec = nn.Identity()
    try:
        yield model
    finally:
        model.wav2spec = saved


@torch.no_grad()
def frontend_spectrograms(front_end: nn.Module, waves, device=None, batch_seconds: float = 60.0
                          ) -> Dict[str, np.ndarray]:
    """``{name: (1, F, T_s) float32}``: the front-end run once over each stimulus' audio (eval mode)."""
    device = device or next((p.device for p in front_end.parameters()), torch.device("cpu"))
    was_training = front_end.training
    front_end.eval()
    out = {}
    try:
        for w in waves:
            x = torch.as_tensor(w.wave, device=device).reshape(1, 1, -1)
            spec = front_end(x)[0].to("cpu", torch.float32).numpy()          # (1, F, T)
            if spec.shape[-1] != w.n_frames or not np.all(np.isfinite(spec)):
                raise ValueError(f"front-end {type(front_end).__name__} gave {spec.shape[-1]} frames "
                                 f"{'with non-finite values ' if not np.all(np.isfinite(spec)) else ''}for "
                                 f"stimulus {w.name!r}, expected {w.n_frames}")
            out[w.name] = spec
    finally:
        front_end.train(was_training)
    return out


def prepare(dataset, spec, device=None) -> WaveformFit:
    """Build the model of ``spec`` (which names a front-end) for ``dataset`` and its waveform-mode data."""
    from strfviewer.models.factory import build_model

    require_audio(dataset, f"front-end {spec.frontend!r}")
    spec = resolve_spec(spec, dataset)
    model = build_model(spec, None, dataset.n_neurons)
    fe = model.wav2spec
    waves = {w.name: w for w in waveform_stimuli(dataset.stimuli, int(fe.sample_rate), int(fe.hop))}
    specs = frontend_spectrograms(fe.to(device or "cpu"), waves.values())
    if getattr(fe, "normalize", False):
        specs = _normalize_bands(fe, specs, [s.name for s in (dataset.stimuli_in("train") or dataset.stimuli)])
    centres = band_centres_hz(fe)
    stimuli = [dataclasses.replace(s, spec=specs[s.name]) for s in dataset.stimuli]
    record = {"mode": "waveform", "name": spec.frontend, "kwargs": dict(spec.frontend_kwargs),
              "sample_rate": int(fe.sample_rate), "hop": int(fe.hop), "dt_ms": float(dataset.dt_ms)}
    if dataset.frontend.get("smoothing_ms"):
        record["smoothing_ms"] = dataset.frontend["smoothing_ms"]
    spec_dataset = dataclasses.replace(
        dataset, stimuli=stimuli, frontend=record,
        freqs_hz=centres if centres is not None else np.full(int(fe.out_channels), np.nan))
    note = rate_note(spec.frontend, spec.frontend_kwargs, audio_rate(dataset))
    return WaveformFit(model, spec, waves, spec_dataset, is_fixed(fe), record, [note] if note else [])


def _normalize_bands(front_end: nn.Module, specs: Dict[str, np.ndarray], train: List[str]
                     ) -> Dict[str, np.ndarray]:
    """Store the per-band statistics of the ``train`` stimuli's spectrograms ``(1, F, T_s)`` in the front-end
    (``set_band_statistics``) and return every spectrogram z-scored with them."""
    from strfviewer.data.normalize import band_statistics

    stats = band_statistics([specs[name] for name in train])
    front_end.set_band_statistics(stats["mean"], stats["std"])
    mean = front_end.band_mean.detach().cpu().numpy().astype(np.float64)[None, :, None]
    std = front_end.band_std.detach().cpu().numpy().astype(np.float64)[None, :, None]
    return {name: ((spec - mean) / std).astype(np.float32) for name, spec in specs.items()}


def param_groups(model: nn.Module, lr: float, weight_decay: float, frontend_lr: Optional[float]) -> List[dict]:
    """AdamW groups: the front-end's trainable parameters at ``frontend_lr`` (``lr`` when None) without weight
    decay, everything else at ``lr`` with ``weight_decay``."""
    front = {id(p) for p in model.wav2spec.parameters()}
    rest = [p for p in model.parameters() if id(p) not in front]
    front_params = [p for p in model.wav2spec.parameters() if p.requires_grad]
    groups = [{"params": rest, "lr": lr, "weight_decay": weight_decay}]
    if front_params:
        groups.append({"params": front_params, "lr": frontend_lr if frontend_lr is not None else lr,
                       "weight_decay": 0.0})
    return groups
