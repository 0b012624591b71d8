"""Small synthetic recordings with known linear STRFs, for the findings tests (tuning, significance, dSTRF,
paired comparison): white-noise spectrograms, responses = causal STRF drive + Gaussian trial noise."""

from __future__ import annotations

import numpy as np

from strfviewer.data.dataset import NeuralDataset, Stimulus


def known_strfs(n_neurons: int, F: int, T: int, seed: int = 0) -> np.ndarray:
    """``(N, F, T)`` sparse STRFs: one excitatory and one inhibitory blob each, zero elsewhere."""
    rng = np.random.default_rng(seed)
    strfs = np.zeros((n_neurons, F, T))
    for n in range(n_neurons):
        f, t = rng.integers(1, F - 1), rng.integers(T // 2, T - 1)
        strfs[n, f - 1:f + 2, t - 1:t + 2] = 1.0
        strfs[n, (f + F // 2) % F, t - 2] = -0.8
    return strfs


def linear_dataset(n_neurons: int = 3, F: int = 8, T: int = 6, n_stimuli: int = 10, frames: int = 120,
                   n_trials: int = 6, noise: float = 0.5, seed: int = 0, strfs=None) -> tuple:
    """``(dataset, strfs (N, F, T))``: lag columns oldest first, as strfviewer's kernels."""
    rng = np.random.default_rng(seed + 1)
    strfs = known_strfs(n_neurons, F, T, seed) if strfs is None else np.asarray(strfs, dtype=np.float64)
    stimuli = []
    parts = {}
    for s in range(n_stimuli):
        spec = rng.normal(size=(F, frames))
        padded = np.concatenate([np.zeros((F, T - 1)), spec], axis=1)
        windows = np.lib.stride_tricks.sliding_window_view(padded, T, axis=1)          # (F, L, T)
        drive = np.einsum("nft,flt->nl", strfs, windows)                                # (N, L)
        responses = drive[:, None, :] + noise * rng.normal(size=(n_neurons, n_trials, frames))
        name = f"stim{s:02d}"
        stimuli.append(Stimulus(name=name, spec=spec[None].astype(np.float32),
                                responses=responses.astype(np.float32)))
        parts[name] = "test" if s == n_stimuli - 1 else ("val" if s == n_stimuli - 2 else "train")
    dataset = NeuralDataset(stimuli=stimuli, neuron_names=[f"n{i}" for i in range(n_neurons)],
                            freqs_hz=500.0 * 2.0 ** (np.arange(F) / 2.0), dt_ms=5.0, split=parts, name="synthetic")
    return dataset, strfs
