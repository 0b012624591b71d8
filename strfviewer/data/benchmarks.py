"""deepSTRF's benchmark datasets, read from the files its downloaders leave on disk (facts from deepSTRF 0.1.0's
dataset loaders; see ``docs/data-formats.md``). Both come with precomputed spectrograms, so the
front-end options do not apply (as for NPZ files); ``scipy`` (``.mat``) and ``h5py`` are imported when
such a folder is opened (the ``benchmarks`` extra).

* **NS1** (Harper et al. 2016; Rahman et al. 2020), a folder holding ``test_data_5ms.mat`` (``X_nfht``:
  ``(S=20, F=34, 1, T=999)`` spectrograms at 5 ms), ``MetadataSHEnCneurons.mat`` (the ``neuron`` struct
  array: file name, ``path`` of the neuron's spike file under ``spikesandwav/``, ``depth``, ``NoiseRatio``,
  ``singleN``, ``singleT``, ...) and ``spikesandwav/<path>`` per neuron (``data.set(s).repeats(r).t``:
  spike times in ms of repeat ``r`` of sound ``s``). Stimuli ``nat01``..``nat20``.
* **NAT4** (Pennington & David 2023), the population recording ``<area>_NAT4_ozgf.fs100.ch18`` (``.tgz``
  or extracted): ``*.resp.csv`` ``(T_total, N)`` responses and ``*.stim.csv`` ``(T_total, F=18)``
  spectrogram at 100 Hz, ``*.resp.json`` (``chans``: cell ids, ``fs``), ``*.resp.epoch.csv`` (``name,
  start, end`` in s; stimuli are the ``STIM_*`` epochs: ``STIM_cat*`` estimation sounds with one trial,
  ``STIM_00cat*`` validation sounds averaged over their repeats). When ``<area>_single_sites/*.tgz`` are
  there, each validation sound's responses are its single trials instead, binned at 10 ms from the per-site
  ``*.resp.h5`` spike times (s). The split puts the validation sounds in ``test`` (as published), the last
  10% of the estimation sounds in ``val``.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from strfviewer.data import limits
from strfviewer.data.dataset import NeuralDataset, Stimulus
from strfviewer.data.errors import DataError
from strfviewer.data.spikes import bin_trials

NS1_SPECTROGRAMS = "test_data_5ms.mat"
NS1_METADATA = "MetadataSHEnCneurons.mat"
NS1_DT_MS = 5.0
#: Rahman et al. (2020)'s held-out sounds (0-based), recorded as stimulus metadata
NS1_RAHMAN_TEST = (3, 6, 9, 19)
NAT4_SUFFIX = "_NAT4_ozgf.fs100.ch18"
NAT4_AREAS = ("A1", "PEG")


def _log_spaced(n: int, lo: float, hi: float) -> np.ndarray:
    return np.geomspace(lo, hi, n)


def _scipy_io(path: Path):
    try:
        import scipy.io
    except ImportError:
        raise DataError(path, None, "reading .mat files needs scipy: pip install 'strfviewer[benchmarks]'") from None
    return scipy.io


def _loadmat(path: Path, squeeze: bool = True) -> dict:
    sio = _scipy_io(path)
    if not path.is_file():
        raise DataError(path, None, f"missing {path.name}")
    try:
        return sio.loadmat(str(path), squeeze_me=squeeze, struct_as_record=False)
    except Exception as exc:  # scipy raises ValueError / MatReadError / NotImplementedError (v7.3 files)
        raise DataError(path, None, f"not a readable .mat file ({type(exc).__name__}: {str(exc)[:150]})") from None


def _items(x) -> list:
    """A squeezed MATLAB array (or a lone struct) as a list."""
    if isinstance(x, np.ndarray):
        return list(x.ravel()) if x.ndim else [x.item()]
    return [x]


# --- NS1 -------------------------------------------------------------------------------------------------
def is_ns1_folder(folder: Path) -> bool:
    return (folder / NS1_SPECTROGRAMS).is_file() and (folder / NS1_METADATA).is_file()


def _ns1_trials(path: Path, n_stimuli: int) -> List[List[np.ndarray]]:
    """Spike times (ms) per sound and repeat of one NS1 neuron file."""
    try:
        repeats = [s.repeats for s in _items(_loadmat(path)["data"].set)]
    except (KeyError, AttributeError):
        raise DataError(path, None, "expected data.set(s).repeats(r).t (spike times per sound and repeat)") from None
    if len(repeats) != n_stimuli:
        raise DataError(path, None, f"{len(repeats)} sounds in data.set, {NS1_SPECTROGRAMS} has {n_stimuli}")
    out = []
    for sound in repeats:
        trials = []
        for rep in _items(sound):
            t = np.atleast_1d(np.asarray(getattr(rep, "t", []), dtype=np.float64)).ravel()
            trials.append(np.sort(t[t >= 0]))
        out.append(trials)
    return out


def load_ns1(folder: Path, cells: Optional[List[str]] = None) -> NeuralDataset:
    """NS1 as a dataset: the published spectrograms and every neuron's repeats binned at 5 ms."""
    spec_path = folder / NS1_SPECTROGRAMS
    mat = _loadmat(spec_path, squeeze=False)
    X = np.asarray(mat.get("X_nfht"), dtype=np.float32) if "X_nfht" in mat else None
    if X is None or X.ndim != 4 or X.shape[2] != 1:
        raise DataError(spec_path, None, "expected X_nfht of shape (stimuli, bands, 1, frames)")
    S, F, _, T = X.shape
    neurons = _items(_loadmat(folder / NS1_METADATA).get("neuron", np.array([], dtype=object)))
    if not neurons:
        raise DataError(folder / NS1_METADATA, None, "no 'neuron' struct array")
    names, metas, per_neuron, missing = [], [], [], []
    for neuron in neurons:
        fields = list(getattr(neuron, "_fieldnames", []))
        uid = str(getattr(neuron, fields[0])) if fields else "?"
        uid = uid[:-4] if uid.endswith(".mat") else uid
        if cells is not None and uid not in cells:
            continue
        spike_path = folder / "spikesandwav" / str(getattr(neuron, "path", ""))
        if not spike_path.is_file() and spike_path.with_name(spike_path.stem + "_1.mat").is_file():
            spike_path = spike_path.with_name(spike_path.stem + "_1.mat")  # a known naming slip of the release
        if not spike_path.is_file():
            missing.append(uid)
            continue
        per_neuron.append(_ns1_trials(spike_path, S))
        names.append(uid)
        metas.append({"cell_id": uid, "area": "A1", **{k: _plain(getattr(neuron, k)) for k in fields[1:]
                                                       if k != "path"}})
    if not names:
        raise DataError(folder, None, "no NS1 neuron has its spike file under spikesandwav/")
    R = max(len(trials) for neuron in per_neuron for trials in neuron)
    stimuli = []
    for s in range(S):
        responses = np.full((len(names), R, T), np.nan, dtype=np.float32)
        for n, neuron in enumerate(per_neuron):
            counts, _ = bin_trials(neuron[s], T, NS1_DT_MS)
            responses[n, : counts.shape[0]] = counts
        split = "test" if s in NS1_RAHMAN_TEST else "trainval"
        stimuli.append(Stimulus(f"nat{s + 1:02d}", X[s, :, 0][None], responses,
                                metadata={"rahman2020": split, "index": s}))
    warnings = [f"{len(missing)} neurons without a spike file were left out: {', '.join(missing[:5])}"] if missing \
        else []
    return NeuralDataset(stimuli=stimuli, neuron_names=names, freqs_hz=_log_spaced(F, 500.0, 22627.0),
                         dt_ms=NS1_DT_MS, frontend=_precomputed("NS1 test_data_5ms.mat X_nfht", F, NS1_DT_MS,
                                                                "log-spaced 500 Hz - 22.6 kHz (Rahman et al.)"),
                         neuron_metadata=metas, source=str(folder), name="NS1", warnings=warnings)


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.item() if value.size == 1 else value.tolist()
    return value.item() if hasattr(value, "item") else value


def _precomputed(what: str, F: int, dt_ms: float, bands: str) -> Dict[str, object]:
    return {"precomputed": what, "n_bands": F, "dt_ms": dt_ms, "bands": bands}


# --- NAT4 ------------------------------------------------------------------------------------------------
class _Archive:
    """Files of a NEMS recording, from an extracted folder or straight out of its ``.tgz`` (not unpacked)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._files: Dict[str, object] = {}
        if path.is_dir():
            self._files = {p.name: p for p in path.rglob("*") if p.is_file()}
        else:
            try:
                self._tar = tarfile.open(path, "r:*")
                self._files = {Path(m.name).name: m for m in self._tar.getmembers() if m.isfile()}
            except (tarfile.TarError, OSError) as exc:
                raise DataError(path, None, f"not a readable .tgz archive ({exc})") from None
        if not any(n.endswith(".meta.json") for n in self._files):
            raise DataError(path, None, "not a NEMS recording: no *.meta.json inside")

    def find(self, suffix: str) -> Tuple[str, bytes]:
        """``(file name, its bytes)`` of the one file ending in ``suffix``; its size (as the folder or the
        archive's header declares it) is checked against the limits before it is read."""
        names = [n for n in self._files if n.endswith(suffix)]
        if len(names) != 1:
            raise DataError(self.path, None, f"expected one *{suffix} file, found {len(names)}")
        entry = self._files[names[0]]
        limit = limits.MAX_JSON_BYTES if suffix.endswith(".json") else limits.MAX_ARCHIVE_MEMBER_BYTES
        if isinstance(entry, Path):
            where, size = entry, entry.stat().st_size
        else:
            where, size = f"{self.path} (member {entry.name})", int(entry.size)
        if size > limit:
            raise DataError(where, None, f"{limits.size_text(size)} is larger than the {limits.size_text(limit)} "
                                         f"strfviewer reads of a *{suffix} file")
        data = entry.read_bytes() if isinstance(entry, Path) else self._tar.extractfile(entry).read()
        return names[0], data


def _csv_matrix(archive: _Archive, suffix: str) -> np.ndarray:
    name, data = archive.find(suffix)
    try:
        arr = np.loadtxt(io.BytesIO(data), delimiter=",", ndmin=2)
    except ValueError as exc:
        raise DataError(archive.path, None, f"{name}: not a numeric CSV ({str(exc)[:100]})") from None
    return arr


def _epochs(archive: _Archive) -> List[Tuple[str, float, float]]:
    name, data = archive.find(".resp.epoch.csv")
    import csv

    rows = list(csv.reader(data.decode("utf-8", "replace").splitlines()))
    if not rows or [c.strip() for c in rows[0][:3]] != ["name", "start", "end"]:
        raise DataError(archive.path, None, f"{name}: expected the header name,start,end")
    return [(r[0], float(r[1]), float(r[2])) for r in rows[1:] if len(r) >= 3]


def nat4_recording(path: Path) -> Optional[Path]:
    """The population recording of a NAT4 download folder (A1 before PEG), the path itself when it is one,
    else ``None``."""
    if path.is_file() and path.name.endswith((".tgz", ".tar.gz")) and NAT4_SUFFIX in path.name:
        return path
    if path.is_dir() and NAT4_SUFFIX in path.name:
        return path
    if path.is_dir():
        for area in NAT4_AREAS:
            for candidate in (path / f"{area}{NAT4_SUFFIX}.tgz", path / f"{area}{NAT4_SUFFIX}"):
                if candidate.exists():
                    return candidate
    return None


def _site_trials(site: Path, val_names: List[str], fs_bins: float) -> Dict[str, Dict[str, List[np.ndarray]]]:
    """``{cell: {stimulus: [trial spike times in ms]}}`` of one per-site archive (validation sounds)."""
    try:
        import h5py
    except ImportError:
        raise DataError(site, None, "reading NAT4 per-site spikes needs h5py: pip install 'strfviewer[benchmarks]'") \
            from None
    archive = _Archive(site)
    chans = json.loads(archive.find(".resp.json")[1]).get("chans", [])
    epochs = [e for e in _epochs(archive) if e[0] in val_names]
    out: Dict[str, Dict[str, List[np.ndarray]]] = {}
    with h5py.File(io.BytesIO(archive.find(".resp.h5")[1]), "r") as h5:
        for cell in chans:
            times = np.sort(np.asarray(h5[cell][...], dtype=np.float64).ravel()) if cell in h5 else np.array([])
            per = out.setdefault(cell, {})
            for name, start, end in epochs:
                lo, hi = np.searchsorted(times, [start, end])
                per.setdefault(name, []).append((times[lo:hi] - start) * 1000.0)
    return out


def load_nat4(path: Path) -> NeuralDataset:
    """NAT4 as a dataset (see the module docstring)."""
    archive = _Archive(path)
    meta = json.loads(archive.find(".resp.json")[1])
    chans, fs = list(meta.get("chans", [])), float(meta.get("fs", 0))
    if not chans or fs <= 0:
        raise DataError(path, None, "*.resp.json: expected chans (cell ids) and fs")
    resp = _csv_matrix(archive, ".resp.csv")
    stim = _csv_matrix(archive, ".stim.csv")
    if resp.shape[1] != len(chans) or stim.shape[0] != resp.shape[0]:
        raise DataError(path, None, f"resp {resp.shape} / stim {stim.shape} do not match {len(chans)} cells")
    dt_ms = 1000.0 / fs
    by_name: Dict[str, List[Tuple[int, int]]] = {}
    for name, start, end in _epochs(archive):
        if name.startswith("STIM_"):
            by_name.setdefault(name, []).append((int(round(start * fs)), int(round(end * fs))))
    if not by_name:
        raise DataError(path, None, "no STIM_* epochs in *.resp.epoch.csv")
    val_names = [n for n in by_name if n.startswith("STIM_00")]
    area = path.name.split("_", 1)[0]
    sites = sorted((path.parent / f"{area}_single_sites").glob("*.tgz")) if path.parent.is_dir() else []
    single: Dict[str, Dict[str, List[np.ndarray]]] = {}
    for site in sites:
        single.update(_site_trials(site, val_names, fs))
    index = {c: i for i, c in enumerate(chans)}
    stimuli = []
    for name, spans in by_name.items():
        a, b = spans[0]
        T = b - a
        if name in val_names and single:
            R = max((len(single[c].get(name, [])) for c in single), default=1)
            responses = np.full((len(chans), R, T), np.nan, dtype=np.float32)
            for cell, per in single.items():
                if cell in index and per.get(name):
                    counts, _ = bin_trials(per[name], T, dt_ms)
                    responses[index[cell], : counts.shape[0]] = counts
        else:
            responses = np.stack([resp[s:s + T].T for s, _ in spans], axis=1).astype(np.float32)  # (N, R, T)
        spec = np.log1p(np.clip(stim[a:b].T, 0, None)).astype(np.float32)[None]
        subset = "val" if name in val_names else "est"
        stimuli.append(Stimulus(name, spec, responses, metadata={"subset": subset, "trials": responses.shape[1]}))
    est = [s.name for s in stimuli if s.metadata["subset"] == "est"]
    n_val = max(1, len(est) // 10) if len(est) > 1 else 0
    split = {s.name: "test" for s in stimuli if s.metadata["subset"] == "val"}
    split.update({n: ("val" if i >= len(est) - n_val else "train") for i, n in enumerate(est)})
    warnings = [] if single or not val_names else [
        f"no {area}_single_sites/ beside {path.name}: the validation sounds have their trial-averaged response only"]
    return NeuralDataset(stimuli=stimuli, neuron_names=chans, freqs_hz=_log_spaced(stim.shape[1], 200.0, 20000.0),
                         dt_ms=dt_ms, split=split,
                         frontend=_precomputed(f"NAT4 {path.name} stim (log1p)", stim.shape[1], dt_ms,
                                               "ozgf, log-spaced 200 Hz - 20 kHz (NEMS default)"),
                         neuron_metadata=[{"cell_id": c, "area": area, "site": c.split("-")[0]} for c in chans],
                         source=str(path), name=f"NAT4 {area}", warnings=warnings)
