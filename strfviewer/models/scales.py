"""Frequency scales (Hz <-> mel, ERB-rate, Greenwood cochlear position) and centre-frequency helpers.

All functions accept floats or tensors and return the same kind (tensors keep their dtype/device).
Frequencies are in Hz, Greenwood positions are normalised to ``[0, 1]`` (apex -> base).
"""

from __future__ import annotations

import math
from typing import Union

import torch

from strfviewer.models.registry import register

Number = Union[float, torch.Tensor]


def _log10(x: Number) -> Number:
    return torch.log10(x) if isinstance(x, torch.Tensor) else math.log10(x)


def Hz_to_mel(f: Number) -> Number:
    """Mel value of a frequency in Hz (O'Shaughnessy's 2595 * log10(1 + f / 700))."""
    return 2595.0 * _log10(1.0 + f / 700.0)


def mel_to_Hz(m: Number) -> Number:
    """Frequency in Hz of a mel value (inverse of :func:`Hz_to_mel`)."""
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def Hz_to_ERB(f: Number) -> Number:
    """ERB-rate (number of equivalent rectangular bandwidths below ``f``), Glasberg & Moore 1990."""
    return 21.4 * _log10(0.00437 * f + 1.0)


def ERB_to_Hz(e: Number) -> Number:
    """Frequency in Hz of an ERB-rate value (inverse of :func:`Hz_to_ERB`)."""
    return (10.0 ** (e / 21.4) - 1.0) / 0.00437


def ERB_bandwidth(f: Number) -> Number:
    """Equivalent rectangular bandwidth in Hz of the auditory filter centred at ``f`` Hz."""
    return 24.7 * (0.00437 * f + 1.0)


# Greenwood (1990) map f = A * (10 ** (a x) - k); constants per species (deepSTRF's values).
GREENWOOD_CONSTANTS = {"human": (165.4, 2.1, 0.88), "mouse": (712.6, 2.1, -0.40)}


def _greenwood_constants(animal: str):
    try:
        return GREENWOOD_CONSTANTS[animal]
    except KeyError:
        raise ValueError(f"unknown animal {animal!r} for the Greenwood map; "
                         f"known: {', '.join(GREENWOOD_CONSTANTS)}") from None


def Greenwood(x: Number, animal: str = "human") -> Number:
    """Characteristic frequency (Hz) at normalised cochlear position ``x`` in ``[0, 1]``."""
    A, a, k = _greenwood_constants(animal)
    return A * (10.0 ** (a * x) - k)


def inverse_Greenwood(f: Number, animal: str = "human") -> Number:
    """Normalised cochlear position of characteristic frequency ``f`` Hz (exact inverse of :func:`Greenwood`)."""
    A, a, k = _greenwood_constants(animal)
    return _log10(f / A + k) / a


def Hz_to_octaves(f: Number) -> Number:
    """Octaves above 1 Hz (``log2 f``): a logarithmic frequency axis."""
    return torch.log2(f) if isinstance(f, torch.Tensor) else math.log2(f)


def octaves_to_Hz(o: Number) -> Number:
    """Frequency in Hz of an octave value (inverse of :func:`Hz_to_octaves`)."""
    return 2.0 ** o


_SCALES = {
    "mel": (Hz_to_mel, mel_to_Hz),
    "erb": (Hz_to_ERB, ERB_to_Hz),
    "log": (Hz_to_octaves, octaves_to_Hz),
    "greenwood": (inverse_Greenwood, Greenwood),
}

for _name, (_fwd, _inv) in _SCALES.items():
    register("scale", _name, description=f"{_name} frequency scale (Hz -> {_name}, {_name} -> Hz)")(
        (_fwd, _inv))


def get_CFs(min_freq: float, max_freq: float, n_freqs: int, scale: str = "mel") -> torch.Tensor:
    """``n_freqs`` centre frequencies (Hz) evenly spaced on ``scale`` ('mel', 'erb', 'log' or 'greenwood')
    between ``min_freq`` and ``max_freq`` Hz, both included. Returns a float32 tensor ``(n_freqs,)``."""
    key = scale.lower()
    if key not in _SCALES:
        raise ValueError(f"unknown frequency scale {scale!r}; known: {', '.join(_SCALES)}")
    if not 0 < min_freq < max_freq:
        raise ValueError(f"need 0 < min_freq < max_freq, got {min_freq} and {max_freq} Hz")
    fwd, inv = _SCALES[key]
    lo, hi = fwd(torch.tensor(float(min_freq), dtype=torch.float64)), fwd(
        torch.tensor(float(max_freq), dtype=torch.float64))
    return inv(torch.linspace(float(lo), float(hi), n_freqs, dtype=torch.float64)).float()


def freq_to_tau(freqs: Number) -> Number:
    """Adaptation time constant (ms) of midbrain neurons tuned to ``freqs`` Hz:
    ``500 - 105 log10(f)`` (Willmore et al. 2016)."""
    return 500.0 - 105.0 * _log10(freqs)


def tau_to_a(tau_ms: Number, dt: float = 1.0) -> Number:
    """Per-frame decay factor ``a = exp(-dt / tau)`` of an exponential with time constant ``tau_ms``
    sampled every ``dt`` ms."""
    if isinstance(tau_ms, torch.Tensor):
        return torch.exp(-dt / tau_ms)
    return math.exp(-dt / tau_ms)


def a_to_tau(a: Number, dt: float = 1.0) -> Number:
    """Time constant (ms) of a per-frame decay factor ``a`` (inverse of :func:`tau_to_a`)."""
    if isinstance(a, torch.Tensor):
        return -dt / torch.log(a)
    return -dt / math.log(a)
