"""The physical axes of a model's input and output, read from checkpoint metadata: band frequencies (Hz),
frame step (ms) and neuron names, with stated fallbacks when the metadata lacks them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Mapping, Optional

import numpy as np

from strfviewer.analysis._probe import DEFAULT_DT_MS
from strfviewer.data.lags import lags_axis_ms


@dataclass
class ModelAxes:
    """``freqs_hz (F,)`` band centres in Hz (NaN when unknown), ``dt_ms`` frame step, ``neuron_names (N,)``;
    ``notes`` says which values are fallbacks."""

    freqs_hz: np.ndarray
    dt_ms: float
    neuron_names: List[str]
    notes: List[str] = field(default_factory=list)

    @classmethod
    def from_metadata(cls, metadata: Optional[Mapping[str, Any]], n_freqs: int, n_neurons: int) -> "ModelAxes":
        meta = dict(metadata or {})
        notes: List[str] = []
        freqs = meta.get("freqs_hz")
        try:
            freqs = np.asarray(freqs, dtype=np.float64).reshape(-1) if freqs is not None else None
        except (TypeError, ValueError):
            freqs = None
        if freqs is None or freqs.shape[0] != n_freqs:
            notes.append("no band frequencies in the metadata: freqs_hz is NaN")
            freqs = np.full(n_freqs, np.nan)
        dt = meta.get("dt_ms")
        try:
            dt = float(dt) if dt is not None else None
        except (TypeError, ValueError):
            dt = None
        if dt is None or not dt > 0:
            notes.append(f"no frame step in the metadata: assuming dt = {DEFAULT_DT_MS:g} ms")
            dt = DEFAULT_DT_MS
        names = meta.get("neuron_names")
        if not isinstance(names, (list, tuple)) or len(names) != n_neurons:
            if names is not None:
                notes.append(f"metadata names {len(names) if isinstance(names, (list, tuple)) else 'no'} "
                             f"neurons for a model of {n_neurons}: numbering them")
            names = [f"neuron {i}" for i in range(n_neurons)]
        return cls(freqs_hz=freqs, dt_ms=dt, neuron_names=[str(n) for n in names], notes=notes)

    def lags_ms(self, T: int) -> np.ndarray:
        """Lag of each column of a ``T``-frame map, oldest first: ``-(T-1) dt .. 0`` ms."""
        return lags_axis_ms(T, self.dt_ms)
