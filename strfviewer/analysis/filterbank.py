"""The learned filterbank of a waveform model: each band's centre frequency, bandwidth and frequency response,
and for learnable front-ends (SincNet, LEAF, GaborFilterbank) how far training moved them from initialisation.

``learned_filterbank(model_or_frontend)`` reads the model's ``wav2spec`` front-end (or a front-end given
directly). Two descriptions of each band are returned:

- ``center_hz`` / ``bandwidth_hz``: the front-end's own parameters (``center_frequencies()`` /
  ``bandwidths()``; e.g. SincNet's ``(f1 + f2) / 2`` and ``f2 - f1``, a gammatone's centre and ERB, LEAF's Gabor
  centre and the standard deviation of its Gaussian frequency response);
- ``peak_hz`` / ``half_power_bandwidth_hz``: measured on ``response`` (the magnitude of the band's linear
  filtering stage for a unit sine, before rectification, pooling and compression) — the frequency of its
  maximum and the width of the contiguous region around it above ``1/sqrt(2)`` of the maximum, comparable
  across front-ends.

For a front-end with parameters, ``movement`` compares it with a freshly built front-end of the same class and
constructor arguments (its initialisation): centre shift in octaves, bandwidth ratio (log2), relative change of
each band's response and of every parameter tensor.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn

from strfviewer.models import registry
from strfviewer.models.capture import rebuild_kwargs

__all__ = ["Filterbank", "FilterbankMovement", "learned_filterbank", "half_power_bandwidth"]


@dataclass
class FilterbankMovement:
    """How far a learnable front-end moved from its initialisation (per band ``(F,)`` unless stated)."""

    init_center_hz: np.ndarray
    init_bandwidth_hz: np.ndarray
    init_response: np.ndarray             # (F, K), same axis as Filterbank.response
    center_shift_octaves: np.ndarray      # log2(center / init centre)
    bandwidth_log2_ratio: np.ndarray      # log2(bandwidth / init bandwidth)
    response_change: np.ndarray           # ||response - init|| / ||init|| per band
    parameter_change: Dict[str, float]    # ||p - p_init|| / ||p_init|| per parameter tensor

    def summary(self) -> Dict[str, float]:
        """Medians and maxima of the absolute per-band changes."""
        shift, ratio = np.abs(self.center_shift_octaves), np.abs(self.bandwidth_log2_ratio)
        return {"median_abs_center_shift_octaves": float(np.median(shift)),
                "max_abs_center_shift_octaves": float(shift.max()),
                "median_abs_bandwidth_log2_ratio": float(np.median(ratio)),
                "median_response_change": float(np.median(self.response_change))}


@dataclass
class Filterbank:
    """A waveform front-end's bands (``F`` of them) on the frequency axis ``freqs_hz (K,)`` (Hz)."""

    frontend: str                         # registry name, e.g. "SincNet"
    sample_rate: int                      # Hz
    center_hz: np.ndarray                 # (F,) the front-end's own centre frequencies
    bandwidth_hz: np.ndarray              # (F,) the front-end's own bandwidths
    freqs_hz: np.ndarray                  # (K,)
    response: np.ndarray                  # (F, K) magnitude of each band's linear stage
    peak_hz: np.ndarray                   # (F,) frequency of each response's maximum
    half_power_bandwidth_hz: np.ndarray   # (F,)
    movement: Optional[FilterbankMovement] = None   # learnable front-ends only

    @property
    def n_bands(self) -> int:
        return int(self.center_hz.shape[0])


def learned_filterbank(model_or_frontend: nn.Module, freqs_hz: Optional[Union[Sequence[float], np.ndarray]] = None,
                       n_freqs: int = 2048) -> Filterbank:
    """The :class:`Filterbank` of a waveform model's front-end (or of a front-end module).

    ``freqs_hz`` defaults to ``n_freqs`` points from 0 Hz to Nyquist. ``ValueError`` for a model without a
    waveform front-end or a front-end that does not describe its filters.
    """
    frontend = copy.deepcopy(_frontend_of(model_or_frontend)).cpu()
    name = registry.name_of("frontend", frontend)
    fs = int(frontend.sample_rate)
    if freqs_hz is None:
        if int(n_freqs) < 2:
            raise ValueError(f"n_freqs must be at least 2, got {n_freqs!r}")
        axis = torch.linspace(0.0, fs / 2.0, int(n_freqs), dtype=torch.float64)
    else:
        axis = torch.as_tensor(np.asarray(freqs_hz, dtype=np.float64))
        if axis.dim() != 1 or axis.numel() < 2 or not torch.all(axis[1:] > axis[:-1]) or axis[0] < 0:
            raise ValueError("freqs_hz must be an increasing 1-D axis of at least 2 frequencies >= 0 Hz")
    freqs = axis.numpy()
    center, bandwidth, response = _describe(frontend, axis)
    peaks = freqs[response.argmax(axis=1)]
    fb = Filterbank(name, fs, center, bandwidth, freqs, response, peaks, half_power_bandwidth(freqs, response))
    if any(True for _ in frontend.parameters()):
        fb.movement = _movement(frontend, name, fb, axis)
    return fb


def half_power_bandwidth(freqs_hz: np.ndarray, response: np.ndarray) -> np.ndarray:
    """Width (Hz) of the contiguous region around each row's maximum where ``response >= max / sqrt(2)``,
    its edges interpolated linearly between samples; ``(F, K)`` -> ``(F,)``."""
    out = np.zeros(response.shape[0])
    for band, row in enumerate(np.asarray(response, dtype=np.float64)):
        peak = int(row.argmax())
        level = row[peak] / np.sqrt(2.0)
        if not row[peak] > 0:
            out[band] = np.nan
            continue
        edges = []
        for step in (-1, 1):
            i = peak
            while 0 <= i + step < len(row) and row[i + step] >= level:
                i += step
            j = i + step
            if not 0 <= j < len(row):
                edges.append(freqs_hz[i])
                continue
            frac = (row[i] - level) / (row[i] - row[j])
            edges.append(freqs_hz[i] + frac * (freqs_hz[j] - freqs_hz[i]))
        out[band] = edges[1] - edges[0]
    return out


def _frontend_of(obj: nn.Module) -> nn.Module:
    frontend = getattr(obj, "wav2spec", obj)
    if isinstance(frontend, nn.Identity):
        raise ValueError(f"{type(obj).__name__} has no waveform front-end (it takes spectrograms)")
    if not registry.is_registered("frontend", type(frontend).__name__) or \
            not callable(getattr(frontend, "frequency_response", None)):
        raise ValueError(f"{type(frontend).__name__} is not a waveform front-end that describes its filters")
    return frontend


def _describe(frontend: nn.Module, axis: torch.Tensor):
    with torch.no_grad():
        center = frontend.center_frequencies().detach().cpu().double().numpy()
        bandwidth = frontend.bandwidths().detach().cpu().double().numpy()
        response = frontend.frequency_response(axis).detach().cpu().double().numpy()
    return center, bandwidth, response


def _movement(frontend: nn.Module, name: str, fb: Filterbank, axis: torch.Tensor) -> FilterbankMovement:
    kwargs = getattr(frontend, "init_kwargs", None)
    if not isinstance(kwargs, dict):
        raise ValueError(f"{type(frontend).__name__} did not record its constructor arguments; cannot rebuild "
                         "its initialisation")
    fresh = registry.get("frontend", name)(**rebuild_kwargs(kwargs))
    center0, bandwidth0, response0 = _describe(fresh, axis)
    initial = dict(fresh.named_parameters())
    changes = {}
    for key, p in frontend.named_parameters():
        p0 = initial[key].detach().double()
        changes[key] = float(torch.linalg.vector_norm(p.detach().cpu().double() - p0)
                             / torch.linalg.vector_norm(p0).clamp(min=1e-12))
    norm0 = np.linalg.norm(response0, axis=1)
    return FilterbankMovement(
        init_center_hz=center0, init_bandwidth_hz=bandwidth0, init_response=response0,
        center_shift_octaves=np.log2(fb.center_hz / center0),
        bandwidth_log2_ratio=np.log2(fb.bandwidth_hz / bandwidth0),
        response_change=np.linalg.norm(fb.response - response0, axis=1) / np.maximum(norm0, 1e-12),
        parameter_change=changes)
