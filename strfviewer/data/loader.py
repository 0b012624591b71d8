"""``load(path)``: one entry point for every data source strfviewer reads."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from strfviewer.data.dataset import NeuralDataset
from strfviewer.data.errors import DataError
from strfviewer.data.normalize import zscore_dataset
from strfviewer.data.responses import smooth_responses
from strfviewer.data.sources import DataSource, parse_source
from strfviewer.data.spectrogram import SpectrogramConfig
from strfviewer.data.usability import check_finite
from strfviewer.data.splits import SplitSpec, resolve_split

NORMALIZATIONS = ("zscore", None)


def finish_dataset(dataset: NeuralDataset, split: SplitSpec = None, smoothing_ms: Optional[float] = None,
                   normalize: Optional[str] = "zscore", keep_split: bool = False,
                   stats: Optional[dict] = None) -> NeuralDataset:
    """Apply the split, the optional response smoothing and the spectrogram normalisation.

    ``keep_split=True`` keeps a split the dataset already has when ``split`` is ``None``. Smoothing
    (``smoothing_ms``, a centred unit-gain Hanning window) is recorded as
    ``dataset.frontend['smoothing_ms']``; z-scoring uses ``stats`` (``{"mean": [F], "std": [F]}``) when
    given, else train statistics (see :func:`strfviewer.data.normalize.zscore_dataset`).
    """
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, not {normalize!r}")
    check_finite(dataset)  # a NaN spectrogram would turn a whole band NaN once z-scored
    names = [s.name for s in dataset.stimuli]
    if not (keep_split and split is None and set(dataset.split) == set(names)):
        groups = {s.name: str(s.metadata["type"]) for s in dataset.stimuli if "type" in s.metadata}
        dataset = dataset.with_split(resolve_split(names, split, groups=groups or None))
    if smoothing_ms:
        if dataset.frontend.get("smoothing_ms"):
            raise ValueError("responses are already smoothed")
        stimuli = [dataclasses.replace(s, responses=smooth_responses(s.responses, smoothing_ms, dataset.dt_ms))
                   for s in dataset.stimuli]
        frontend = dict(dataset.frontend, smoothing_ms=float(smoothing_ms))
        dataset = dataclasses.replace(dataset, stimuli=stimuli, frontend=frontend)
    if normalize == "zscore":
        dataset = zscore_dataset(dataset, stats)
    return dataset


def _stored_zscore(frontend) -> Optional[dict]:
    """The z-score statistics a front-end dict carries (a checkpoint's ``frontend`` metadata), if any."""
    norm = frontend.get("normalization") if isinstance(frontend, dict) else None
    if isinstance(norm, dict) and norm.get("kind", "zscore") == "zscore" and "mean" in norm and "std" in norm:
        return {"mean": norm["mean"], "std": norm["std"]}
    return None


def load(path: Union[str, "os.PathLike[str]"], frontend: Optional[SpectrogramConfig] = None,
         split: SplitSpec = None, smoothing_ms: Optional[float] = None, normalize: Optional[str] = "zscore",
         device=None, use_cache: bool = True, pre_onset: Optional[str] = None,
         cells: Optional[Sequence[str]] = None, stim_types: Optional[Sequence[str]] = None) -> NeuralDataset:
    """Load a dataset from ``path``.

    ``path`` is ``"demo"`` (the built-in synthetic population), a cell folder (``stimK.wav`` + ``spikeK``),
    a population folder (a folder of cell folders), a CRCNS AA1 or AA2 download, a deepSTRF NS1 / NAT4 download,
    a CRCNS AC1 download (membrane potentials, :mod:`strfviewer.data.crcns_ac1`), or an ``.npz`` file in
    strfviewer's binned format (``docs/data-formats.md``).

    * ``frontend``: spectrogram settings, a :class:`SpectrogramConfig` or its dict (default settings when
      ``None``); ignored for NPZ files, whose spectrograms are already computed. A dict holding a z-score
      ``normalization`` (a checkpoint's ``frontend`` metadata) z-scores with those statistics, so the data
      reach a model scaled as in its fit.
    * ``split``: ``None`` (70/15/15 in natural order, per stimulus type for CRCNS), three fractions,
      ``{name: part}`` or ``{'train': [...], 'val': [...], 'test': [...]}``.
    * ``smoothing_ms``: smooth responses with a unit-gain Hanning window of that width (off by default).
    * ``normalize``: ``'zscore'`` (per band, train statistics; the default) or ``None``.
    * ``device``: torch device for the spectrograms; ``use_cache``: use the on-disk spectrogram cache.
    * ``pre_onset``: ``'error'`` or ``'drop'`` for negative spike times; default ``'error'`` for cell and
      population folders, ``'drop'`` (counted in ``dataset.warnings``) for CRCNS downloads, whose spike
      files include spontaneous activity before the stimulus.
    * ``cells`` / ``stim_types``: restrict a CRCNS download to these cell folders / stimulus types (AC1: session
      folders).

    The demo is always z-scored with its own train statistics (its true STRFs are defined on that
    input); ``split`` and ``smoothing_ms`` still apply to it.

    Raises :class:`DataError` (a ``ValueError``) naming the file (and line) for bad input.
    """
    stats = _stored_zscore(frontend)
    if isinstance(frontend, dict):
        frontend = SpectrogramConfig.from_dict(frontend)
    if isinstance(path, str) and path.strip().lower() == "demo":
        from strfviewer.data.demo import make_demo

        data = make_demo(frontend=frontend)
        return finish_dataset(data.dataset, split, smoothing_ms, normalize=None, keep_split=True) \
            if (split is not None or smoothing_ms) else data.dataset
    source = parse_source(path)
    p = Path(source.path).expanduser()
    if p.is_file():
        if p.suffix.lower() == ".npz":
            _refuse_options(source, (), "an NPZ file")
            from strfviewer.data.npz import load_npz

            return finish_dataset(load_npz(p), split, smoothing_ms, normalize, keep_split=True, stats=stats)
        if p.suffix.lower() != ".nwb" and not _is_nat4(p):
            raise DataError(p, None, "not a dataset: expected a folder, an .npz or .nwb file, a NAT4 .tgz or 'demo'")
    if not p.exists():
        raise DataError(p, None, "no such file or folder")
    ac1 = _load_ac1(p, source, frontend, device, use_cache, cells)
    if ac1 is not None:
        return finish_dataset(ac1, split, smoothing_ms, normalize, stats=stats)
    benchmark = _load_benchmark(p, source, cells)
    if benchmark is not None:
        return finish_dataset(benchmark, split, smoothing_ms, normalize, keep_split=True, stats=stats)
    rec = _discover(p, source, cells, stim_types)
    from strfviewer.data.build import build_dataset

    try:
        dataset = build_dataset(rec, frontend, device=device, use_cache=use_cache, pre_onset=pre_onset)
    finally:
        if rec.close is not None:
            rec.close()
    if source.options:
        dataset = dataclasses.replace(dataset, source=str(source))
    return finish_dataset(dataset, split, smoothing_ms, normalize, stats=stats)


#: the reader options each kind of source understands
_OPTIONS_OF = {"nwb": ("units", "stimulus_column", "table"), "sorter": ("events", "clusters")}


def _refuse_options(source: DataSource, allowed: Sequence[str], what: str) -> None:
    extra = sorted(set(source.options) - set(allowed))
    if extra:
        raise DataError(source.path, None, f"option(s) {', '.join(extra)} do not apply to {what}")


def _discover(p: Path, source: DataSource, cells, stim_types):
    """The :class:`~strfviewer.data.layouts.Recording` of a file or folder (lazy: nothing big read yet)."""
    from strfviewer.data import layouts

    if p.is_file():  # .nwb (other files were turned away by the caller)
        from strfviewer.data.nwb import discover_nwb

        _refuse_options(source, _OPTIONS_OF["nwb"], "an NWB file")
        return discover_nwb(p, units=source.option_list("units"), table=source.options.get("table"),
                            stimulus_column=source.options.get("stimulus_column"))
    from strfviewer.data.sorter import discover_sorter, is_sorter_folder

    if is_sorter_folder(p):
        _refuse_options(source, _OPTIONS_OF["sorter"], "a spike-sorter folder")
        return discover_sorter(p, events=source.options.get("events"), clusters=source.option_list("clusters"))
    kind = layouts.detect_layout(p)
    _refuse_options(source, (), f"a {kind} folder")
    if kind == "cell":
        return layouts.discover_cell(p)
    if kind == "population":
        return layouts.discover_population(p)
    if kind == "crcns-aa1":
        return layouts.discover_aa1(p, cells=cells, stim_types=stim_types)
    return layouts.discover_aa2(p, cells=cells, stim_types=stim_types)


def _is_nat4(p: Path) -> bool:
    from strfviewer.data.benchmarks import nat4_recording

    return nat4_recording(p) is not None


def _load_ac1(p: Path, source: DataSource, frontend, device, use_cache, cells) -> Optional[NeuralDataset]:
    """A CRCNS AC1 download (membrane potentials, read with the given front-end), ``None`` for other paths."""
    from strfviewer.data import crcns_ac1

    if not crcns_ac1.is_ac1_folder(p):
        return None
    _refuse_options(source, crcns_ac1.AC1_OPTIONS, "a CRCNS AC1 folder")
    return crcns_ac1.load_ac1(p, source.options, frontend, device=device, use_cache=use_cache,
                              cells=list(cells) if cells else None, source=str(source))


def _load_benchmark(p: Path, source: DataSource, cells) -> Optional[NeuralDataset]:
    """A deepSTRF benchmark download (NS1, NAT4; precomputed spectrograms), ``None`` for other paths."""
    from strfviewer.data import benchmarks

    if p.is_dir() and benchmarks.is_ns1_folder(p):
        _refuse_options(source, (), "an NS1 folder")
        return benchmarks.load_ns1(p, cells=list(cells) if cells else None)
    recording = benchmarks.nat4_recording(p)
    if recording is not None:
        _refuse_options(source, (), "a NAT4 recording")
        return benchmarks.load_nat4(recording)
    return None
