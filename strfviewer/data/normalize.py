"""Per-band z-scoring of spectrograms with statistics from the training stimuli."""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional

import numpy as np

from strfviewer.data.dataset import NeuralDataset


def band_statistics(specs: List[np.ndarray]) -> Dict[str, List[float]]:
    """Mean and standard deviation per band over all frames of ``specs`` (each ``(1, F, T)``)."""
    stacked = np.concatenate([np.asarray(s, dtype=np.float64)[0] for s in specs], axis=1)  # (F, sum T)
    mean = stacked.mean(axis=1)
    std = stacked.std(axis=1)
    std = np.where(std > 1e-8, std, 1.0)  # a constant band is left centred, not blown up
    return {"mean": mean.tolist(), "std": std.tolist()}


def zscore_dataset(dataset: NeuralDataset, stats: Optional[Dict[str, List[float]]] = None) -> NeuralDataset:
    """A copy whose spectrograms are z-scored per band.

    Statistics come from the ``train`` stimuli (all stimuli when none is in train) unless ``stats`` is
    given. They are recorded in ``dataset.frontend['normalization']`` as
    ``{"kind": "zscore", "mean": [F], "std": [F], "from": "train"|"all"|"given"}`` so a model knows how its
    input was scaled. A dataset already normalised is returned unchanged.
    """
    if dataset.frontend.get("normalization"):
        return dataset
    source = "given"
    if stats is None:
        train = dataset.stimuli_in("train")
        source = "train" if train else "all"
        stats = band_statistics([s.spec for s in (train or dataset.stimuli)])
    mean = np.asarray(stats["mean"], dtype=np.float64).reshape(-1)
    std = np.asarray(stats["std"], dtype=np.float64).reshape(-1)
    if len(mean) != dataset.n_freqs or len(std) != dataset.n_freqs:
        from strfviewer.data.errors import DataError

        raise DataError(dataset.source or None, None, f"the z-score statistics given ({source}, e.g. a checkpoint's "
                                                      f"frontend.normalization) are for {len(mean)} bands, the data "
                                                      f"have {dataset.n_freqs}: this data set does not fit that model")
    mean, std = mean[None, :, None], std[None, :, None]
    stimuli = [dataclasses.replace(s, spec=((s.spec - mean) / std).astype(np.float32)) for s in dataset.stimuli]
    frontend = dict(dataset.frontend)
    frontend["normalization"] = {"kind": "zscore", "mean": list(map(float, stats["mean"])),
                                 "std": list(map(float, stats["std"])), "from": source}
    return dataclasses.replace(dataset, stimuli=stimuli, frontend=frontend)
