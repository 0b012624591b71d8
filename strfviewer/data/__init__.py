"""strfviewer.data (engine, Qt-free): recordings on disk -> spectrograms and binned trial responses.

Entry points: :func:`load` (any source: ``"demo"``, cell / population folders, CRCNS AA1 / AA2 / AC1, NS1, NAT4,
NWB, NPZ),
:func:`save_npz`, :class:`SpectrogramConfig` / :func:`compute_spectrogram`, :func:`make_demo`,
:func:`default_split`; bad input raises :class:`DataError`.
"""

from strfviewer.data.dataset import SPLITS, NeuralDataset, Stimulus
from strfviewer.data.errors import DataError
from strfviewer.data.loader import load
from strfviewer.data.spectrogram import SpectrogramConfig, compute_spectrogram
from strfviewer.data.splits import default_split


def make_demo(*args, **kwargs):
    """See :func:`strfviewer.data.demo.make_demo`."""
    from strfviewer.data.demo import make_demo as _make_demo

    return _make_demo(*args, **kwargs)


def save_npz(dataset, path):
    """See :func:`strfviewer.data.npz.save_npz`."""
    from strfviewer.data.npz import save_npz as _save_npz

    return _save_npz(dataset, path)


__all__ = ["SPLITS", "DataError", "NeuralDataset", "SpectrogramConfig", "Stimulus", "compute_spectrogram",
           "default_split", "load", "make_demo", "save_npz"]
