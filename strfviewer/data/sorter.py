"""A spike sorter's output folder (phy / Kilosort) plus a stimulus events table -> :class:`Recording`.

Folder files read (``docs/data-formats.md``, section spike-sorter folder):

* ``spike_times.npy``: every spike's time in samples ``(n,)`` (or ``(n, 1)``), integer;
* ``spike_clusters.npy``: its cluster id ``(n,)`` (``spike_templates.npy`` when there is no clustering yet);
* ``params.py``: ``sample_rate`` (Hz) and, for the recording's length, ``dat_path`` / ``n_channels_dat`` /
  ``dtype`` / ``offset``; read as Python literals (``ast.literal_eval``), never executed;
* ``cluster_group.tsv`` (phy's curation) or ``cluster_KSLabel.tsv`` (Kilosort's labels): ``good`` / ``mua``
  / ``noise`` per cluster.

Units are the clusters labelled ``good`` by default; the ``clusters`` option names ids or labels
(``good,mua``, ``all``). Presentations come from the events CSV (:mod:`strfviewer.data.events`); each
unit's spikes are cut into one trial per presentation, in ms from its onset. The large arrays are memory
mapped and only the selected clusters' spikes are gathered, when the dataset is built.
"""

from __future__ import annotations

import ast
import csv
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from strfviewer.data.errors import DataError
from strfviewer.data.events import read_events
from strfviewer.data.layouts import NeuronFiles, Recording, StimulusFile
from strfviewer.data.presentations import TrialSpikes, UnitTrials, windows_by_stimulus

SPIKE_TIMES = "spike_times.npy"
LABEL_FILES = ("cluster_group.tsv", "cluster_KSLabel.tsv")
DEFAULT_EVENTS = ("events.csv", "stimulus_events.csv")


def is_sorter_folder(folder: Path) -> bool:
    return (folder / SPIKE_TIMES).is_file() or ((folder / "params.py").is_file()
                                               and (folder / "spike_clusters.npy").is_file())


def read_params(path: Path) -> Dict[str, object]:
    """The literal assignments of a phy ``params.py`` (``name = <literal>``); others are skipped."""
    if not path.is_file():
        raise DataError(path, None, "missing params.py: the sorter folder must say its sample_rate")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=str(path))
    except SyntaxError as exc:
        raise DataError(path, exc.lineno, f"params.py is not valid Python ({exc.msg})") from None
    params: Dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                params[node.targets[0].id] = ast.literal_eval(node.value)
            except (ValueError, SyntaxError, TypeError):
                continue
    rate = params.get("sample_rate")
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not rate > 0:
        raise DataError(path, None, f"params.py: sample_rate must be a positive number of Hz, got {rate!r}")
    return params


def _load_array(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DataError(path, None, f"missing {path.name}")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataError(path, None, f"not a readable .npy array ({exc})") from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise DataError(path, None, f"expected a 1-D numeric array, got shape {arr.shape} dtype {arr.dtype}")
    return arr


def read_labels(folder: Path) -> Dict[int, str]:
    """``{cluster id: label}`` from ``cluster_group.tsv`` (phy) or ``cluster_KSLabel.tsv``; ``{}`` if none."""
    for name in LABEL_FILES:
        path = folder / name
        if not path.is_file():
            continue
        rows = list(csv.reader(path.read_text(encoding="utf-8", errors="replace").splitlines(), delimiter="\t"))
        labels = {}
        for line, row in enumerate(rows[1:], start=2):
            if len(row) < 2 or not row[0].strip():
                continue
            try:
                labels[int(row[0])] = row[1].strip().lower()
            except ValueError:
                raise DataError(path, line, f"cluster id {row[0]!r} is not an integer") from None
        return labels
    return {}


def _select_clusters(folder: Path, present: np.ndarray, labels: Dict[int, str],
                     wanted: Optional[Sequence[str]], warnings: List[str]) -> List[int]:
    present_set = set(int(c) for c in present)
    if wanted is None:
        if not labels:
            warnings.append(f"{folder.name}: no cluster_group.tsv / cluster_KSLabel.tsv: every cluster is used")
            return sorted(present_set)
        wanted = ["good"]
    chosen: List[int] = []
    for key in wanted:
        if key.lower() == "all":
            ids = sorted(present_set)
        elif key.lstrip("-").isdigit():
            if int(key) not in present_set:
                raise DataError(folder, None, f"--clusters: cluster {key} has no spikes in spike_clusters.npy")
            ids = [int(key)]
        else:
            ids = sorted(c for c, label in labels.items() if label == key.lower() and c in present_set)
            if not ids:
                raise DataError(folder, None, f"--clusters: no cluster with spikes is labelled {key!r}"
                                              + ("" if labels else " (the folder has no label file)"))
        chosen.extend(c for c in ids if c not in chosen)
    return chosen


def _recording_end_s(folder: Path, params: Dict[str, object], times: np.ndarray, rate: float):
    """``(end_s, from_raw_file)``: the recording's length from its raw data file when present, else the
    last spike's time."""
    dat = params.get("dat_path")
    dat = dat[0] if isinstance(dat, (list, tuple)) and len(dat) == 1 else dat
    channels = params.get("n_channels_dat")
    if isinstance(dat, str) and isinstance(channels, int) and channels > 0:
        raw = Path(dat) if Path(dat).is_absolute() else folder / dat
        if raw.is_file():
            try:
                itemsize = np.dtype(str(params.get("dtype", "int16"))).itemsize
            except TypeError:
                itemsize = 2
            offset = params.get("offset", 0)
            offset = offset if isinstance(offset, int) else 0
            return (raw.stat().st_size - offset) / float(itemsize * channels) / rate, True
    return float(np.max(times)) / rate, False


def discover_sorter(folder: Path, events: Optional[str] = None,
                    clusters: Optional[Sequence[str]] = None) -> Recording:
    """The selected clusters of a sorter ``folder`` and the presentations of its events CSV."""
    params = read_params(folder / "params.py")
    rate = float(params["sample_rate"])
    times = _load_array(folder / SPIKE_TIMES)
    cluster_file = folder / "spike_clusters.npy"
    if not cluster_file.is_file() and (folder / "spike_templates.npy").is_file():
        cluster_file = folder / "spike_templates.npy"
    ids = _load_array(cluster_file)
    if len(ids) != len(times):
        raise DataError(cluster_file, None, f"{len(ids)} entries but {SPIKE_TIMES} has {len(times)}: one cluster "
                                            "id per spike is needed")
    if len(times) == 0:
        raise DataError(folder / SPIKE_TIMES, None, "no spikes")
    events_path = _events_path(folder, events)
    presentations, sounds, lines = read_events(events_path)
    end_s, known = _recording_end_s(folder, params, times, rate)
    span = f"0 to {end_s:.3f} s" if known else f"0 to the last spike at {end_s:.3f} s; no raw file gives its length"
    warnings: List[str] = []
    for p, line in zip(presentations, lines):
        if p.start_s < 0 or p.start_s > end_s:
            raise DataError(events_path, line, f"onset_s {p.start_s} is outside the recording in {folder.name} "
                                               f"({span})")
    late = sum(p.stop_s > end_s for p in presentations)
    if late and known:
        warnings.append(f"{events_path.name}: {late} presentations run past the recording's end ({end_s:.3f} s)")
    present = np.unique(np.asarray(ids))
    labels = read_labels(folder)
    chosen = _select_clusters(folder, present, labels, clusters, warnings)
    windows = windows_by_stimulus(presentations)
    gather = _ClusterGather(times, ids, chosen, rate)
    stimuli = [StimulusFile(name, [sounds[name]], {"presentations": len(windows[name])}) for name in windows]
    neurons = []
    for cid in chosen:
        unit = UnitTrials(lambda c=cid: gather.times_s(c), windows)
        label = f"{folder}:cluster {cid}"
        meta = {"cluster_id": cid, "label": labels.get(cid, ""), "sorter_folder": folder.name}
        neurons.append(NeuronFiles(f"cluster {cid}", {s: TrialSpikes(unit, s, label) for s in windows}, meta))
    rec = Recording(stimuli, neurons, str(folder), folder.name, "sorter", pre_onset="drop")
    rec.warnings.extend(warnings)
    return rec


def _events_path(folder: Path, events: Optional[str]) -> Path:
    if events:
        path = Path(events).expanduser()
        if not path.is_file():
            raise DataError(path, None, "no such events table (--events)")
        return path
    for name in DEFAULT_EVENTS:
        if (folder / name).is_file():
            return folder / name
    raise DataError(folder, None, "no stimulus events: pass --events FILE.csv (onset_s, stimulus columns) or put "
                                  "events.csv in the folder")


class _ClusterGather:
    """Spike times (s) of the chosen clusters, gathered in one pass over the memory-mapped arrays."""

    def __init__(self, times: np.ndarray, ids: np.ndarray, chosen: Sequence[int], rate: float) -> None:
        self._times, self._ids, self._chosen, self._rate = times, ids, list(chosen), rate
        self._by_cluster: Optional[Dict[int, np.ndarray]] = None

    def times_s(self, cluster: int) -> np.ndarray:
        if self._by_cluster is None:
            ids = np.asarray(self._ids)
            keep = np.flatnonzero(np.isin(ids, self._chosen))
            sub_ids = ids[keep]
            order = np.argsort(sub_ids, kind="stable")
            keep, sub_ids = keep[order], sub_ids[order]
            starts = np.searchsorted(sub_ids, self._chosen, side="left")
            stops = np.searchsorted(sub_ids, self._chosen, side="right")
            times = np.asarray(self._times)
            self._by_cluster = {c: np.sort(times[keep[a:b]].astype(np.float64)) / self._rate
                                for c, a, b in zip(self._chosen, starts, stops)}
        return self._by_cluster.pop(cluster)


def input_files(folder: Path, events: Optional[str] = None) -> List[tuple]:
    """``[(name, path)]`` of the files a sorter folder's dataset is read from (for its content hash): the
    sorter's arrays, params and labels, the events table and the sounds it names (unreadable rows skipped)."""
    names = (SPIKE_TIMES, "spike_clusters.npy", "spike_templates.npy", "params.py") + LABEL_FILES
    out = [(n, folder / n) for n in names if (folder / n).is_file()]
    try:
        csv_path = _events_path(folder, events)
    except DataError:
        return out
    out.append(("events/" + csv_path.name, csv_path))
    rows = list(csv.reader(csv_path.read_text(encoding="utf-8-sig", errors="replace").splitlines()))
    header = [c.strip().lower() for c in rows[0]] if rows else []
    if "stimulus" in header:
        col = header.index("stimulus")
        sounds = sorted({r[col].strip() for r in rows[1:] if len(r) > col and r[col].strip()})
        for ref in sounds:
            wav = Path(ref) if Path(ref).is_absolute() else csv_path.parent / ref
            if wav.is_file():
                out.append(("sounds/" + ref, wav))
    return out
