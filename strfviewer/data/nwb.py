"""NWB files (Neurodata Without Borders, e.g. from the DANDI archive) -> :class:`Recording`.

What is read (``docs/data-formats.md``, section NWB):

* spike times from the ``units`` table: every unit, or the ids / names in the ``units`` option; a unit is
  named by its ``name`` (or ``unit_name``) column, else by its id;
* presentations from the ``trials`` table or another intervals table with ``start_time``, ``stop_time`` and
  a column naming the stimulus (``stimulus_column`` option, else the first of :data:`STIMULUS_COLUMNS`);
  the presentations of one stimulus are its trials;
* each stimulus's audio from ``stimulus_template`` or ``stimulus`` (a ``TimeSeries``, e.g. ndx-sound's
  ``AcousticWaveformSeries``, with a sampling ``rate``) under that name, else a sound file whose path the
  column holds, relative to the NWB file.

Lazy: discovery reads the unit ids and the presentation table only; a unit's spike train is read when
the dataset is built and only for the selected units, a sound only when it is presented. ``pynwb`` is
imported here, when an ``.nwb`` file is opened (the optional ``nwb`` extra).
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from strfviewer.data.audio import Audio, read_wav
from strfviewer.data.errors import DataError
from strfviewer.data.layouts import NeuronFiles, Recording, StimulusFile
from strfviewer.data.presentations import Presentation, TrialSpikes, UnitTrials, windows_by_stimulus

#: column names tried, in order, for the stimulus of each presentation
STIMULUS_COLUMNS = ("stimulus_name", "stimulus", "stim_name", "sound", "sound_name", "stim_file", "stimulus_file",
                    "wav", "wav_file", "stim")
#: unit-table columns read for the neuron names
NAME_COLUMNS = ("name", "unit_name", "label")
#: unit-table columns that are not per-unit metadata
_NOT_METADATA = {"spike_times", "obs_intervals", "electrodes", "waveforms", "waveform_mean", "waveform_sd",
                 "electrode_group"}


def _import_pynwb(path: Path):
    try:
        import pynwb
    except ImportError:
        raise DataError(path, None, "reading NWB files needs pynwb: pip install 'strfviewer[nwb]'") from None
    return pynwb


def _text(value) -> str:
    """A cell of a stimulus column as text: strings, bytes, or a reference to a TimeSeries (its name)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    timeseries = getattr(value, "timeseries", None)  # TimeSeriesReference (idx_start, count, timeseries)
    if timeseries is not None:
        return str(getattr(timeseries, "name", timeseries))
    if hasattr(value, "name") and hasattr(value, "data"):
        return str(value.name)
    return str(value)


def _interval_tables(nwb) -> Dict[str, object]:
    tables = {}
    if getattr(nwb, "trials", None) is not None:
        tables["trials"] = nwb.trials
    for name, table in (getattr(nwb, "intervals", None) or {}).items():
        tables.setdefault(name, table)
    if getattr(nwb, "epochs", None) is not None:
        tables.setdefault("epochs", nwb.epochs)
    return tables


def _pick_table(path: Path, nwb, table: Optional[str], column: Optional[str]):
    """``(table name, table, stimulus column)`` of the presentations."""
    tables = _interval_tables(nwb)
    if table is not None:
        if table not in tables:
            raise DataError(path, None, f"no intervals table {table!r} (tables: {', '.join(tables) or 'none'})")
        tables = {table: tables[table]}
    if not tables:
        raise DataError(path, None, "no trials table or intervals table: the stimulus presentations are missing")
    for name, tab in tables.items():
        cols = set(tab.colnames)
        if not {"start_time", "stop_time"} <= cols:
            continue
        if column is not None:
            if column in cols:
                return name, tab, column
            continue
        for candidate in STIMULUS_COLUMNS:
            if candidate in cols:
                return name, tab, candidate
    where = ", ".join(f"{n} ({', '.join(t.colnames)})" for n, t in tables.items())
    if column is not None:
        raise DataError(path, None, f"no intervals table with start_time, stop_time and a {column!r} column: {where}")
    raise DataError(path, None, "no stimulus column in the trials / intervals tables: expected one of "
                                f"{', '.join(STIMULUS_COLUMNS)} (or pass --stimulus-column); found {where}")


def _presentations(path: Path, name: str, table, column: str) -> List[Presentation]:
    starts = np.asarray(table["start_time"].data[:], dtype=np.float64)
    stops = np.asarray(table["stop_time"].data[:], dtype=np.float64)
    names = [_text(v) for v in table[column][:]]
    out = []
    for row, (start, stop, stim) in enumerate(zip(starts, stops, names)):
        if not (np.isfinite(start) and np.isfinite(stop)) or stop <= start:
            raise DataError(path, None, f"{name} row {row}: start_time {start} and stop_time {stop} do not make "
                                        "an interval")
        if not stim.strip():
            raise DataError(path, None, f"{name} row {row}: empty {column!r}")
        out.append(Presentation(stim, float(start), float(stop)))
    if not out:
        raise DataError(path, None, f"{name} table is empty: no stimulus presentation")
    return out


def _series_audio(path: Path, series, where: str) -> Audio:
    rate = getattr(series, "rate", None)
    if rate is None:
        raise DataError(path, None, f"{where}: a sound needs a sampling rate; this TimeSeries has timestamps")
    data = np.asarray(series.data[:])
    if data.ndim == 2:
        data = data.mean(axis=1) if data.shape[1] <= data.shape[0] else data.mean(axis=0)
    if data.ndim != 1 or data.size == 0:
        raise DataError(path, None, f"{where}: expected a 1-D (or samples x channels) waveform, got shape "
                                    f"{tuple(np.shape(series.data))}")
    if np.issubdtype(data.dtype, np.integer):
        wave = data.astype(np.float32) / float(np.iinfo(data.dtype).max + 1)
    else:
        wave = data.astype(np.float32)
    if not np.all(np.isfinite(wave)):
        raise DataError(path, None, f"{where}: the waveform holds non-finite samples")
    if rate != int(rate) or rate <= 0:
        raise DataError(path, None, f"{where}: sampling rate {rate} Hz is not a positive whole number")
    digest = hashlib.sha256(np.ascontiguousarray(wave).tobytes() + str(rate).encode()).hexdigest()
    return Audio(wave, int(rate), f"{path}:{where}", digest)


def _audio_reader(path: Path, nwb, stimulus: str, table: str):
    """A function reading ``stimulus``'s audio, found now (so a missing sound fails at open)."""
    for group in ("stimulus_template", "stimulus"):
        container = getattr(nwb, group, None) or {}
        for key in (stimulus, Path(stimulus).stem, Path(stimulus).name):
            if key in container and hasattr(container[key], "data"):
                series = container[key]
                return (lambda s=series, w=f"{group}/{key}": _series_audio(path, s, w)), f"{group}/{key}"
    wav = Path(stimulus)
    wav = wav if wav.is_absolute() else path.parent / wav
    if wav.is_file():
        return (lambda w=wav: read_wav(w)), str(wav)
    raise DataError(path, None, f"{table} names sound {stimulus!r}, which is neither in stimulus_template / "
                                f"stimulus nor a file next to the NWB file")


def _select_units(path: Path, ids: Sequence[int], names: List[str], wanted: Optional[Sequence[str]]) -> List[int]:
    if wanted is None:
        return list(range(len(ids)))
    by_key = {}
    for row, (uid, name) in enumerate(zip(ids, names)):
        by_key.setdefault(str(uid), row)
        by_key.setdefault(name, row)
    rows = []
    for key in wanted:
        if key not in by_key:
            raise DataError(path, None, f"--units: no unit {key!r} (ids {int(min(ids))}..{int(max(ids))})")
        rows.append(by_key[key])
    return rows


def _unit_metadata(units, rows: List[int]) -> List[Dict[str, object]]:
    meta: List[Dict[str, object]] = [dict() for _ in rows]
    for col in units.colnames:
        if col in _NOT_METADATA or col in NAME_COLUMNS or f"{col}_index" in units.colnames:
            continue
        try:
            values = units[col].data[:]
        except Exception:  # a column pynwb cannot hand back as an array (references, compound types)
            continue
        values = np.asarray(values)
        if values.ndim != 1:
            continue
        for m, row in zip(meta, rows):
            value = values[row]
            m[col] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value.item() \
                if hasattr(value, "item") else value
    return meta


def discover_nwb(path: Path, units: Optional[Sequence[str]] = None, stimulus_column: Optional[str] = None,
                 table: Optional[str] = None) -> Recording:
    """Open ``path`` and describe its units and presentations (the file stays open until ``rec.close()``)."""
    pynwb = _import_pynwb(path)
    io = None
    try:
        with warnings.catch_warnings():  # hdmf: a column named like an attribute ('name') is reachable by key
            warnings.filterwarnings("ignore", message="An attribute '.*' already exists", category=UserWarning)
            io = pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True)
            nwb = io.read()
    except Exception as exc:  # h5py / hdmf raise many types for files that are not NWB
        if io is not None:
            io.close()
        raise DataError(path, None, f"not a readable NWB file ({type(exc).__name__}: {str(exc)[:200]})") from None
    try:
        rec = _describe(path, nwb, units, stimulus_column, table)
    except BaseException:
        io.close()
        raise
    rec.close = io.close
    return rec


def _describe(path: Path, nwb, wanted_units, stimulus_column, table_name) -> Recording:
    units = getattr(nwb, "units", None)
    if units is None or len(units) == 0:
        raise DataError(path, None, "no units table: the file holds no sorted spike times")
    if "spike_times" not in units.colnames:
        raise DataError(path, None, "the units table has no spike_times column")
    name, table, column = _pick_table(path, nwb, table_name, stimulus_column)
    presentations = _presentations(path, name, table, column)
    by_label = windows_by_stimulus(presentations)
    stimuli, windows, files = [], {}, {}
    for label, label_windows in by_label.items():
        reader, where = _audio_reader(path, nwb, label, name)
        stim = label
        if not where.startswith(("stimulus_template/", "stimulus/")):  # a sound file: named by its stem
            stim = Path(label).stem
            if files.setdefault(stim, where) != where:
                raise DataError(path, None, f"{name}: two sound files are both named {stim!r}: {files[stim]} "
                                            f"and {where}")
        windows[stim] = label_windows
        stimuli.append(StimulusFile(stim, [], {"nwb_audio": where, "presentations": len(label_windows)}, reader))
    ids = [int(i) for i in units.id[:]]
    name_col = next((c for c in NAME_COLUMNS if c in units.colnames), None)
    names = [_text(v) for v in units[name_col].data[:]] if name_col else [str(i) for i in ids]
    rows = _select_units(path, ids, names, wanted_units)
    spike_index = units["spike_times"]
    neurons = []
    for row, meta in zip(rows, _unit_metadata(units, rows)):
        unit = UnitTrials(lambda r=row: np.asarray(spike_index[r], dtype=np.float64), windows)
        label = f"{path}:units[{ids[row]}]"
        files = {stim: TrialSpikes(unit, stim, label) for stim in windows}
        meta.update({"unit_id": ids[row], "nwb": path.name})
        neurons.append(NeuronFiles(names[row], files, meta))
    return Recording(stimuli, neurons, str(path), path.stem, "nwb", pre_onset="drop")
