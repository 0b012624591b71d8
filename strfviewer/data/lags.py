"""The lag axis of an STRF or gradmap: which past frame each kernel column weighs (ms)."""

from __future__ import annotations

import numpy as np


def lags_axis_ms(T: int, dt_ms: float) -> np.ndarray:
    """Lag axis ``(T,)`` in ms, oldest first: ``-(T-1)*dt .. 0`` (``NeuralDataset.lags_ms`` and
    ``ModelAxes.lags_ms`` return this)."""
    return (np.arange(int(T)) - (int(T) - 1)) * float(dt_ms)
