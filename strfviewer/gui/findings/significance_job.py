"""Jackknife significance of a run's maps for the app (Qt-free; the work runs in a worker).

The closed-form ridge jackknife for ridge-fitted ``Linear`` runs, a refit per fold (the run's own fit settings)
otherwise: :func:`strfviewer.commands.tuning.jackknife_maps`, as ``strfviewer tuning --jackknife`` does. The
result also carries bootstrap intervals of every tuning metric on the significant pixels (stimuli resampled for
ridge, pixels drawn from the jackknife errors otherwise), with as many samples as fit in a memory budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np

from strfviewer.models.capture import private_copy
from strfviewer.analysis.significance import DEFAULT_THRESHOLD, Jackknife

#: bootstrap samples of the tuning intervals (fewer when the maps are large: see SAMPLE_BYTES)
N_BOOT = 200
#: the bootstrap samples held at once may use at most this many bytes
SAMPLE_BYTES = 200_000_000


@dataclass
class Significance:
    """``jackknife`` (estimate and replicates with excitation positive, ``(N, C, F, T)``), ``how`` it was done,
    ``intervals`` ``{metric: (N, C, 2)}`` (bootstrap, on the pixels with ``|z| > threshold``), ``n_boot``."""

    jackknife: Jackknife
    how: str
    intervals: Dict[str, np.ndarray]
    n_boot: int
    threshold: float = DEFAULT_THRESHOLD
    notes: list = field(default_factory=list)

    def mask(self, threshold: Optional[float] = None) -> np.ndarray:
        return self.jackknife.mask(self.threshold if threshold is None else threshold)


def significance_key(maps_key) -> tuple:
    """``run.cache`` key of the significance of the maps stored under ``maps_key``."""
    return ("jackknife", maps_key)


def fit_settings(run) -> dict:
    """The metadata ``jackknife_maps`` reads: the run's fit request (app fits) or its checkpoint's metadata."""
    if run.request is not None and hasattr(run.request, "to_dict"):
        return {"fit": run.request.to_dict()}
    return dict(run.metadata or {})


def boot_samples(shape) -> int:
    """Bootstrap samples that fit :data:`SAMPLE_BYTES` for maps of ``shape`` (at least 20)."""
    return int(max(20, min(N_BOOT, SAMPLE_BYTES // max(1, 8 * int(np.prod(shape))))))


def significance_job(run, dataset, key, arr: np.ndarray, threshold: float = DEFAULT_THRESHOLD):
    """Worker function ``fn(progress, cancel) -> {significance_key(key): Significance}`` for the maps ``arr``
    stored in ``run.cache[key]`` (``'kernel'`` weights or gradmaps with deepSTRF's sign). ``None`` when
    cancelled; ``ValueError`` with a readable reason when the run cannot be refitted."""
    from strfviewer.commands.tuning import is_ridge_linear, jackknife_maps

    model = private_copy(run.model).cpu()  # the worker must not share the shown model's state
    metadata = fit_settings(run)
    split = getattr(run.outcome, "split", None)
    data = dataset.with_split(dict(split)) if split else dataset
    from strfviewer.gui.views.strf_data import band_freqs

    freqs, dt = np.asarray(band_freqs(run.model, dataset), dtype=np.float64), float(dataset.dt_ms)

    def work(progress, cancel):
        from strfviewer.analysis.gradmaps import strf_gradmap
        from strfviewer.analysis.tuning import tuning_intervals

        if key == "kernel":
            if is_ridge_linear(model, metadata):
                maps, per_channel, readout = -np.asarray(arr, dtype=np.float64), False, "last"
            else:  # an SGD-fitted LN kernel: its folds' gradmaps (the kernel scaled by the slope at rest)
                per_channel, readout = arr.shape[1] > 1, "last"
                maps = strf_gradmap(model, T=arr.shape[-1], per_channel=per_channel).cpu().numpy()
        else:
            maps, readout, per_channel = np.asarray(arr, dtype=np.float64), key[1], key[2]
        n_boot = boot_samples(maps.shape)
        out = jackknife_maps(model, metadata, data, maps.astype(np.float64), per_channel, readout, n_boot,
                             log=lambda msg: None, progress=lambda d, t, m: progress((d, t, m)), cancel=cancel)
        if out is None or cancel.is_set():
            return None
        jk, samples, how = out
        mask = jk.mask(threshold)
        intervals = tuning_intervals(np.where(mask[None], samples, 0.0), freqs, dt)
        result = Significance(jackknife=jk, how=how, intervals=intervals, n_boot=len(samples), threshold=threshold,
                              notes=list(jk.notes))
        return {significance_key(key): result}

    return work
