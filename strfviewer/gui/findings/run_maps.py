"""The maps the findings views read for a run, and their tuning (Qt-free: the heavy parts run in workers).

Which map: the kernel STRF of a Linear / LN model (its weights, excitation positive), else the gradmap at the
null stimulus (readout ``last``; per prefilter channel when the model has several, since a prefilter such as
AdapTrans gives an all-zero gradmap at the raw spectrogram) with excitation positive (``-gradmap``). The arrays
live in ``run.cache`` under the gradmap view's keys (``"kernel"`` or ``gradmap_key('last', per_channel)``), so
the gradmap view and the findings views share one computation. Shapes: maps ``(N, C, F, T)``, lags oldest
first; tuning values ``(N,)`` taken on each neuron's dominant channel (the one with the most power).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np

from strfviewer.gui.views.strf_data import (compute_gradmaps, gradmap_key, has_kernel_strf, kernel_strf,
                                            n_channels)

#: channel names of 2-channel prefilters (AdapTrans)
CHANNEL_NAMES = {2: ("ON", "OFF")}


def maps_key(model):
    """``run.cache`` key of the maps the findings read: ``"kernel"`` or a gradmap key."""
    if has_kernel_strf(model):
        return "kernel"
    return gradmap_key("last", n_channels(model) > 1)


def compute_maps(model, key) -> np.ndarray:
    """The array stored under ``key`` (kernel weights, or gradmaps with deepSTRF's sign) ``(N, C, F, T)``."""
    if key == "kernel":
        return kernel_strf(model)
    return compute_gradmaps(model, readout=key[1], per_channel=key[2])


def excitation_positive(key, arr: np.ndarray) -> np.ndarray:
    """``arr`` as stored under ``key`` with excitation positive (gradmaps are ``dL/dx``, ``L = -r``)."""
    return np.asarray(arr, dtype=np.float64) if key == "kernel" else -np.asarray(arr, dtype=np.float64)


def channel_names(C: int) -> Tuple[str, ...]:
    return CHANNEL_NAMES.get(C, tuple(f"channel {c}" for c in range(C))) if C > 1 else ("",)


@dataclass
class RunTuning:
    """Tuning of every neuron of a run: ``per_channel`` ``{metric: (N, C)}``, ``channel`` ``(N,)`` the dominant
    channel of each neuron and ``values`` ``{metric: (N,)}`` on it; ``channel_names``; ``mask_threshold`` the
    |z| of the significance mask the metrics were taken on (``None``: all pixels)."""

    key: object
    per_channel: Dict[str, np.ndarray]
    channel: np.ndarray
    values: Dict[str, np.ndarray]
    channel_names: Tuple[str, ...]
    mask_threshold: Optional[float] = None
    notes: list = field(default_factory=list)


def dominant_channel(maps: np.ndarray) -> np.ndarray:
    """Channel with the most power ``sum(map^2)`` per neuron ``(N,)`` of maps ``(N, C, F, T)``."""
    return np.argmax(np.square(maps).sum(axis=(-2, -1)), axis=1)


def run_tuning(maps: np.ndarray, freqs_hz, dt_ms: float, key=None, mask=None,
               mask_threshold: Optional[float] = None) -> RunTuning:
    """:class:`RunTuning` of maps ``(N, C, F, T)`` with excitation positive (``mask`` as in
    :func:`strfviewer.analysis.tuning.tuning_batch`)."""
    from strfviewer.analysis.tuning import tuning_batch

    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 4:
        raise ValueError(f"maps must be (N, C, F, T), got shape {maps.shape}")
    table = tuning_batch(maps, freqs_hz, dt_ms, mask=mask)
    channel = dominant_channel(maps)
    rows = np.arange(maps.shape[0])
    values = {name: v[rows, channel] for name, v in table.items()}
    return RunTuning(key=key, per_channel=table, channel=channel, values=values,
                     channel_names=channel_names(maps.shape[1]), mask_threshold=mask_threshold)


def tuning_cache_key(key) -> tuple:
    return ("tuning", key)


def cached_maps(run) -> Optional[np.ndarray]:
    """The run's findings maps ``(N, C, F, T)`` with excitation positive, ``None`` until computed."""
    if run is None or run.model is None:
        return None
    key = maps_key(run.model)
    arr = run.cache.get(key)
    return None if arr is None else excitation_positive(key, arr)


def cached_tuning(run) -> Optional[RunTuning]:
    """The run's :class:`RunTuning` when computed, else ``None``."""
    if run is None or run.model is None:
        return None
    return run.cache.get(tuning_cache_key(maps_key(run.model)))


def maps_job(model, key):
    """Worker function ``fn(progress, cancel) -> {key: (N, C, F, T) float32}`` computing one cached array."""

    def work(progress, cancel):
        return {key: compute_maps(model, key)}

    return work


def tuning_job(arr: np.ndarray, key, dataset, model=None):
    """Worker function ``fn(progress, cancel) -> {tuning key: RunTuning}`` of the maps ``arr`` stored under
    ``key`` (compute them first with :func:`maps_job`); band frequencies: ``model``'s own for a waveform model
    (its front-end's bands), else the dataset's."""
    from strfviewer.gui.views.strf_data import band_freqs

    freqs = np.asarray(band_freqs(model, dataset) if model is not None else dataset.freqs_hz, dtype=np.float64)
    dt = float(dataset.dt_ms)

    def work(progress, cancel):
        if arr.shape[2] != len(freqs):
            raise ValueError(f"the model has {arr.shape[2]} bands, the dataset {len(freqs)}: no tuning")
        return {tuning_cache_key(key): run_tuning(excitation_positive(key, arr), freqs, dt, key)}

    return work


def request_tuning(jobs, run, dataset) -> Optional[str]:
    """Ask ``jobs`` (a :class:`~strfviewer.gui.views.findings_jobs.FindingsJobs`) for the run's maps, then (once
    they are cached: the jobs' ``results`` notification brings the caller back) for their tuning. Returns a
    failure message, ``None`` while computing or when there is nothing to compute."""
    if run is None or run.model is None or run.status != "done" or dataset is None:
        return None
    key = maps_key(run.model)
    if run.cache.get(tuning_cache_key(key)) is not None:
        return None
    arr = run.cache.get(key)
    if arr is None:
        return jobs.request(run, key, maps_job(run.model, key), name="gradmap")
    return jobs.request(run, "tuning", tuning_job(arr, key, dataset, run.model), name="tuning")
