"""Qt-free helpers of the gradmap view: which arrays a run offers, computed once and cached on the run.

Sign convention: :func:`strfviewer.analysis.gradmaps.strf_gradmap` returns ``g = dL/dx`` with
``L = -r`` (deepSTRF's convention: excitation is negative). The app shows ``-g`` by default so that
excitation is positive, like the kernel weights of a Linear model.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

READOUTS = ("last", "mean", "peak")


def gradmap_key(readout: str, per_channel: bool) -> Tuple[str, str, bool]:
    return ("gradmap", readout, bool(per_channel))


def compute_gradmaps(model, readout: str = "last", per_channel: bool = False) -> np.ndarray:
    """``(N, C, F, T)`` float32 gradmaps ``dL/dx`` of every neuron (deepSTRF's sign), run in a worker."""
    from strfviewer.analysis.gradmaps import strf_gradmap

    g = strf_gradmap(model, readout=readout, per_channel=per_channel)
    return g.detach().cpu().numpy().astype(np.float32)


def n_channels(model) -> int:
    """Channels at the prefilter output (``C_in``; 2 for AdapTrans ON/OFF)."""
    return int(getattr(model, "C_in", 1) or 1)


def has_kernel_strf(model) -> bool:
    """True for models whose whole mapping is one STRF kernel (Linear, LN): identity core and a readout
    exposing ``STRF_weight()``."""
    if model is None:
        return False
    readout = getattr(model, "readout", None)
    core = getattr(model, "core", None)
    return callable(getattr(readout, "STRF_weight", None)) and type(core).__name__ == "Identity"


def kernel_strf(model) -> Optional[np.ndarray]:
    """The kernel weights ``(N, C_in, F, T)`` (excitation positive, lag 0 last) or ``None``."""
    if not has_kernel_strf(model):
        return None
    w = model.readout.STRF_weight()
    return w.detach().cpu().numpy().astype(np.float32)


def lags_ms(T: int, dt_ms: float) -> np.ndarray:
    """Lag of each kernel column, oldest first: ``-(T-1)*dt .. 0`` ms."""
    return (np.arange(T) - (T - 1)) * float(dt_ms)


def top_neurons(values: Optional[np.ndarray], n_neurons: int, k: int) -> np.ndarray:
    """Indices of the ``k`` neurons with the highest ``values`` (NaN last); the first ``k`` without values."""
    k = max(0, min(int(k), n_neurons))
    if values is None or len(values) != n_neurons:
        return np.arange(k)
    key = np.where(np.isfinite(values), values, -np.inf)
    order = np.argsort(-key, kind="stable")
    return order[:k]


def band_freqs(model, dataset) -> np.ndarray:
    """Band centres (Hz) of a gradmap's frequency axis: a waveform model's own front-end bands (it takes the
    audio; its bands need not be the dataset's), else the dataset's."""
    from strfviewer.models.frontend_args import model_band_centres_hz

    centres = model_band_centres_hz(model)
    return centres if centres is not None else np.asarray(dataset.freqs_hz, dtype=float)
