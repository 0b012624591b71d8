"""CRCNS AC1 (Asari, Wehr, Machens & Zador 2009): whole-cell membrane potential of rat auditory cortex (and
cell-attached MGB recordings) to natural sounds, read from the files deepSTRF 0.1.0's downloader extracts (facts
from its loader; see ``docs/data-formats.md``). Both subsets are read: **Wehr** (Machens, Wehr & Zador 2004;
below) and **Asari** (Asari & Zador 2009; :mod:`strfviewer.data.crcns_ac1_asari`), one per dataset
(``experimenter``), and of Asari one site per dataset (``site``): A1 whole-cell in mV, or MGB cell-attached as
spikes per bin (:mod:`strfviewer.data.ac1_spikes`), never both.

Layout (MATLAB v5 ``.mat``, read with ``scipy.io.loadmat``; the ``benchmarks`` extra), under ``crcns-ac1/wehr``
(the folder given, its ``crcns-ac1/wehr`` or its ``wehr`` subfolder):

* ``Results/<yyyymmdd>-<animal>-<penetration>/*.mat``: one session (= one cell) per folder, one trial per file:
  ``response`` (``trace`` samples, ``scale`` to mV, ``sf`` Hz) and ``triggers`` (``type`` ``naturalsound`` or
  the misspelt ``nauralsound``; ``time``, the 1-based sample of the sound's onset; ``param.description``
  naming the sound and ``param.duration`` in ms). Trials of other types (tones, ...) are skipped.
* ``Stimuli/{fragments,category1,category2,category3}/<index>.mat``: ``stimulus.samples``,
  ``stimulus.param.sf`` (Hz) and ``stimulus.param.description``, by which trials find their sound.

The dataset: one neuron per session, one stimulus per distinct sound heard (named ``<folder>/<index>``),
shared across the cells; trials = that cell's repeats of the sound, cleaned
(:mod:`strfviewer.data.ac1_cleanup`) and averaged in each ``dt_ms`` bin from the onset (mV); NaN where a cell
did not hear a sound, where it has fewer repeats, and after a repeat's end. The audio is kept and goes through
strfviewer's own front-end. ``response_kind="continuous"``, ``response_unit="mV"``; Asari MGB:
``response_kind="counts"``, ``response_unit="spikes"`` (detected spikes, smoothed, per bin).
"""

from __future__ import annotations

import collections
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from strfviewer.data import ac1_spikes, limits
from strfviewer.data import crcns_ac1_asari as asari
from strfviewer.data.ac1_cleanup import CLEANUP_OPTIONS, REJECTION_REASONS, ResponseCleanup, bin_mean, \
    clean_repeats
from strfviewer.data.ac1_records import Cell, Sound, check_cells_found, check_sample_rate, loadmat, number, \
    onset_segment, response_mv, struct_field, text
from strfviewer.data.dataset import NeuralDataset, Stimulus
from strfviewer.data.crcns_ac1_asari import SITES
from strfviewer.data.errors import DataError
from strfviewer.data.spectrogram import SpectrogramConfig

EXPERIMENTERS = ("wehr", "asari")
#: the reader options of an AC1 folder (``PATH?experimenter=wehr&cleanup=off``)
AC1_OPTIONS = ("experimenter", "site") + CLEANUP_OPTIONS
WEHR_STIMULUS_FOLDERS = ("fragments", "category1", "category2", "category3")
NATURAL_TRIGGERS = ("naturalsound", "nauralsound", "natural")
#: deepSTRF's download of the Wehr subset, extracted into ``crcns-ac1/`` beside it
ARCHIVE = "crcns-ac1.zip"
_SESSION = re.compile(r"^(\d{8})-([^-]+)-(.+)$")


# --- finding the layout -------------------------------------------------------------------------------------
def wehr_root(folder: Path) -> Optional[Path]:
    """The ``wehr`` folder of an AC1 download given as ``folder`` (the download, ``crcns-ac1`` or ``wehr``
    itself), ``None`` when it holds none."""
    for candidate in (folder / "crcns-ac1" / "wehr", folder / "wehr", folder):
        if candidate.is_dir() and candidate.name.lower() == "wehr" and any(
                (candidate / name).exists() for name in ("Results", "Stimuli", "Summary.mat")):
            return candidate
    return None


def asari_roots(folder: Path) -> List[Path]:
    """The ``asari-results-{1,2}`` folders of an AC1 download (as deepSTRF extracts them, or side by side)."""
    out = []
    for k in (1, 2):
        for candidate in (folder / f"crcns-ac1-asari-results-{k}" / f"asari-results-{k}",
                          folder / f"asari-results-{k}"):
            if candidate.is_dir():
                out.append(candidate)
                break
    return out


def is_ac1_folder(folder: Path) -> bool:
    """A folder with an extracted AC1 subset, or deepSTRF's ``crcns-ac1.zip`` (refused with a hint)."""
    return folder.is_dir() and (wehr_root(folder) is not None or bool(asari_roots(folder))
                                or (folder / ARCHIVE).is_file())


def _wehr_sounds(stimuli_dir: Path) -> Tuple[Dict[str, Sound], List[str]]:
    """``{description: sound}`` of every ``Stimuli/<folder>/<index>.mat`` and warnings (repeated descriptions)."""
    sounds: Dict[str, Sound] = {}
    warnings: List[str] = []
    for folder in WEHR_STIMULUS_FOLDERS:
        sub = stimuli_dir / folder
        if not sub.is_dir():
            continue
        files = sorted((p for p in sub.glob("*.mat") if p.stem.isdigit()), key=lambda p: int(p.stem))
        for path in files:
            stim = loadmat(path).get("stimulus")
            samples, sf = struct_field(stim, "samples"), number(struct_field(stim, "param", "sf"))
            description = text(struct_field(stim, "param", "description"))
            if samples is None or sf is None or description is None:
                raise DataError(path, None, "expected stimulus.samples, stimulus.param.sf and "
                                            "stimulus.param.description")
            check_sample_rate(sf, path, "stimulus.param.sf")
            if description in sounds:
                warnings.append(f"{path}: describes the same sound as {sounds[description].path} "
                                f"({description!r}); the first is used")
                continue
            sounds[description] = Sound(f"{folder}/{int(path.stem)}", description, path,
                                        np.asarray(samples, dtype=np.float64).ravel(), sf,
                                        {"folder": folder, "index": int(path.stem), "description": description})
    return sounds, warnings


def _wehr_trial(path: Path, sounds: Mapping[str, Sound], stimuli_dir: Path):
    """``(description, mV segment from onset, sf)`` of a natural-sound trial file; ``None`` for other trials
    (a file's first trigger says what it is, as for deepSTRF) and for triggers without time, description or
    duration."""
    mat = loadmat(path)
    triggers = mat.get("triggers")
    first = None if triggers is None else next(iter(np.atleast_1d(np.asarray(triggers, dtype=object)).ravel()), None)
    if first is None or (text(struct_field(first, "type")) or "").lower() not in NATURAL_TRIGGERS:
        return None
    description = text(struct_field(first, "param", "description"))
    onset, duration = number(struct_field(first, "time")), number(struct_field(first, "param", "duration"))
    if description is None or onset is None or duration is None:
        return None
    if description not in sounds:
        raise DataError(path, None, f"its trigger names the sound {description!r}, which no file under "
                                    f"{stimuli_dir} describes")
    trace, sf = response_mv(mat.get("response"), path)
    return description, onset_segment(trace, onset, duration, sf), sf


def _wehr_cells(results: Path, sounds: Mapping[str, Sound], stimuli_dir: Path,
                cells: Optional[Sequence[str]]) -> Tuple[List[Cell], int]:
    """The sessions (cells) with their natural-sound repeats, and the number of other trial files skipped."""
    sessions = sorted(p for p in results.iterdir() if p.is_dir() and p.name[:4].isdigit())
    if not sessions:
        raise DataError(results, None, "no session folder (<yyyymmdd>-<animal>-<penetration>) inside")
    out, skipped = [], 0
    for index, session in enumerate(sessions):
        if cells is not None and session.name not in cells:
            continue
        match = _SESSION.match(session.name)
        date, animal, penetration = match.groups() if match else (session.name[:8], "", "")
        cell = Cell(session.name, {"experimenter": "wehr", "session": session.name, "date": date,
                                   "animal": animal, "penetration": penetration, "site": "A1",
                                   "recording_type": "whole-cell", "cell_index": index})
        for path in sorted(session.glob("*.mat")):
            trial = _wehr_trial(path, sounds, stimuli_dir)
            if trial is None:
                skipped += 1
                continue
            description, segment, sf = trial
            cell.add(description, segment, sf, path)
        out.append(cell)
    check_cells_found(cells, [c.name for c in out], results)
    return out, skipped


# --- the dataset --------------------------------------------------------------------------------------------
@dataclass
class _Read:
    """What a subset's reader found: cells, ``{key: sound}``, files / triggers skipped and warnings."""

    where: Path
    cells: List[Cell]
    sounds: Dict[str, Sound]
    skipped: str
    warnings: List[str]
    name: str
    rate: bool = False  # responses are spike trains detected in cell-attached traces (spikes per bin)


def load_ac1(folder: Path, options: Optional[Mapping[str, str]] = None, frontend: Optional[SpectrogramConfig] = None,
             device=None, use_cache: bool = True, cells: Optional[Sequence[str]] = None,
             source: str = "") -> NeuralDataset:
    """CRCNS AC1 as a dataset (see the module docstring); ``options`` are the reader options
    :data:`AC1_OPTIONS` (``experimenter``: ``wehr`` or ``asari``, by default the one the folder holds, Wehr
    first; ``site``: ``A1`` or ``MGB``, Asari only, default A1; the clean-up ones, see
    :class:`~strfviewer.data.ac1_cleanup.ResponseCleanup`), ``cells`` restrict to these session folders."""
    options = dict(options or {})
    default = "asari" if wehr_root(folder) is None and asari_roots(folder) else "wehr"
    experimenter = options.get("experimenter", default).strip().lower()
    if experimenter not in EXPERIMENTERS:
        raise DataError(folder, None, f"option experimenter={experimenter!r}: expected wehr or asari")
    site = options.get("site", "A1").strip().upper()
    if site not in SITES:
        raise DataError(folder, None, f"option site={options['site']!r}: expected A1 or MGB")
    if experimenter == "wehr" and site != "A1":
        raise DataError(folder, None, "option site=MGB: the Wehr subset is all A1; MGB cells are in the Asari "
                                      "subset (experimenter=asari)")
    cleanup = ResponseCleanup.from_options(options, folder)
    cfg = frontend or SpectrogramConfig()
    read = _read_asari(folder, site, cells) if experimenter == "asari" else _read_wehr(folder, cells)
    warnings = read.warnings
    verdicts: collections.Counter = collections.Counter()
    binned: Dict[Tuple[str, str], List[np.ndarray]] = {}  # (cell, sound key) -> kept repeats, per bin
    for cell in read.cells:
        for key, raw in cell.repeats.items():
            kept, why = clean_repeats(raw, cell.sf, cleanup, where=read.where / cell.name)
            verdicts.update(why)
            kept = [b for b in (_per_bin(t, cell.sf, cfg.dt_ms, cleanup, read, read.where / cell.name)
                                for t in kept) if b.size]
            if kept:
                binned[(cell.name, key)] = kept
    neurons = [c for c in read.cells if any((c.name, k) in binned for k in c.repeats)]
    if not neurons:
        raise DataError(read.where, None, "no cell has a natural-sound trial left" + (" after the clean-up" if
                                                                                     verdicts else ""))
    heard = [s for s in read.sounds.values() if any((c.name, s.key) in binned for c in neurons)]
    stimuli, freqs_hz, rate = _stimuli(heard, neurons, binned, cfg, device, use_cache, warnings)
    rejected = {r: verdicts[r] for r in REJECTION_REASONS if verdicts[r]}
    if rejected:
        warnings.append(f"{sum(rejected.values())} of {sum(verdicts.values())} repeats left out by the clean-up ("
                        + ", ".join(f"{n} {r}" for r, n in rejected.items()) + ")")
    if read.skipped:
        warnings.append(read.skipped)
    if len(neurons) < len(read.cells):
        left = [c.name for c in read.cells if c not in neurons]
        warnings.append(f"{len(left)} cells without a natural-sound repeat were left out: {', '.join(left[:5])}")
    frontend_dict: Dict[str, object] = cfg.to_dict()
    frontend_dict.update(sample_rate=int(rate), response_cleanup=cleanup.to_dict())
    if read.rate:
        frontend_dict["spike_detection"] = {"threshold_sigma": ac1_spikes.THRESHOLD_SIGMA,
                                            "highpass_ms": ac1_spikes.HIGHPASS_MS,
                                            "smooth_ms": ac1_spikes.SMOOTH_MS}
    return NeuralDataset(stimuli=stimuli, neuron_names=[c.name for c in neurons], freqs_hz=freqs_hz,
                         dt_ms=float(cfg.dt_ms), frontend=frontend_dict,
                         neuron_metadata=[dict(c.metadata) for c in neurons], source=source or str(folder),
                         name=read.name, warnings=warnings,
                         response_kind="counts" if read.rate else "continuous",
                         response_unit="spikes" if read.rate else "mV")


def _per_bin(trace: np.ndarray, sf: float, dt_ms: float, cleanup: ResponseCleanup, read: _Read, where) -> np.ndarray:
    """One kept repeat per ``dt_ms`` bin: the mean mV, or for a cell-attached cell the spikes detected in it
    (:func:`strfviewer.data.ac1_spikes.spike_train` summed over each bin)."""
    if not read.rate:
        return bin_mean(trace, sf, dt_ms)
    train = ac1_spikes.spike_train(trace, sf, cleanup.baseline_median_ms, cleanup.baseline_gauss_ms, where)
    return bin_mean(train, sf, dt_ms) * (sf * dt_ms / 1000.0)


def _read_wehr(folder: Path, cells: Optional[Sequence[str]]) -> _Read:
    root = wehr_root(folder)
    if root is None and (folder / ARCHIVE).is_file():
        raise DataError(folder, None, f"{ARCHIVE} is not extracted: unzip {ARCHIVE} -d crcns-ac1 (strfviewer reads "
                                      "the extracted crcns-ac1/wehr/ folder)")
    if root is None:
        raise DataError(folder, None, "no CRCNS AC1 Wehr folder (crcns-ac1/wehr/Results and Stimuli) inside")
    results, stimuli_dir = root / "Results", root / "Stimuli"
    for needed in (results, stimuli_dir):
        if not needed.is_dir():
            raise DataError(root, None, f"no {needed.name} folder: expected {needed.name}/ beside Results/ and "
                                        "Stimuli/ (the CRCNS AC1 Wehr layout)")
    sounds, warnings = _wehr_sounds(stimuli_dir)
    if not sounds:
        raise DataError(stimuli_dir, None, f"no <index>.mat sound in {', '.join(WEHR_STIMULUS_FOLDERS)}")
    found, skipped = _wehr_cells(results, sounds, stimuli_dir, cells)
    why = (f"{skipped} trial files without a natural-sound trigger (tones, ...; or one without time, description "
           "or duration) were skipped") if skipped else ""
    return _Read(results, found, sounds, why, warnings, "CRCNS AC1 (Wehr)")


def _read_asari(folder: Path, site: str, cells: Optional[Sequence[str]]) -> _Read:
    roots = asari_roots(folder)
    if not roots:
        raise DataError(folder, None, "no CRCNS AC1 Asari folder (asari-results-1/ or asari-results-2/, as "
                                      "crcns-ac1-asari-results-{1,2}.zip extract) inside")
    stimuli_dir = asari.stimuli_root(folder)
    if stimuli_dir is None:
        raise DataError(folder, None, "no crcns-ac1/asari/Stimuli folder: the Asari sequences are spliced from "
                                      "its class<N>/<name>.mat segments (crcns-ac1.zip, extracted)")
    found, sounds, skipped, warnings = asari.read_asari(roots, asari.SegmentLibrary(stimuli_dir), site, cells)
    why = (f"{skipped} triggers that are not a natural-sound sequence (tones, ...; or one without time, "
           "duration or a 'Sequence k: ...' description) were skipped") if skipped else ""
    return _Read(roots[0], found, sounds, why, warnings, f"CRCNS AC1 (Asari, {site})", rate=site == "MGB")


def _stimuli(heard: List[Sound], neurons: List[Cell], binned, cfg: SpectrogramConfig, device, use_cache,
             warnings: List[str]):
    """``(stimuli, freqs_hz, sample rate)``: each heard sound's spectrogram (common sample rate, audio in
    [-1, 1]) and the ``(N, R, T)`` responses of the cells that heard it."""
    from strfviewer.data.audio import Audio, resample
    from strfviewer.data.build import common_sample_rate, spectrogram_of

    rate = common_sample_rate([int(round(s.sample_rate)) for s in heard])
    waves = []
    for s in heard:
        w = s.waveform  # a fractional rate (97656.25 Hz) is taken as its integer part: < 1e-5 relative
        if int(round(s.sample_rate)) != rate:
            w = resample(w.astype(np.float32), int(round(s.sample_rate)), rate)
        waves.append(np.asarray(w, dtype=np.float32))
    peak = max(float(np.max(np.abs(w))) if w.size else 0.0 for w in waves)
    if peak > 1.0:
        waves = [w / np.float32(peak) for w in waves]
        warnings.append(f"the sounds' samples reach {peak:.3g}: all were scaled by the same 1/{peak:.3g} into "
                        "[-1, 1] (their relative levels kept)")
    stimuli, freqs = [], None
    for s, wave in zip(heard, waves):
        digest = hashlib.sha256(wave.tobytes() + str(rate).encode()).hexdigest()
        audio = Audio(wave, rate, path=str(s.path), content_hash=digest)
        spec, freqs = spectrogram_of(audio, cfg, device=device, use_cache=use_cache)
        T = spec.shape[1]
        per_cell = [binned.get((c.name, s.key), []) for c in neurons]
        R = max(len(k) for k in per_cell)
        need = 4.0 * len(neurons) * R * T
        if need > limits.MAX_RESPONSE_BYTES:
            raise DataError(s.path, None, f"{len(neurons)} cells x {R} repeats x {T} frames of responses need "
                                          f"{limits.size_text(need)}, more than "
                                          f"{limits.size_text(limits.MAX_RESPONSE_BYTES)}")
        responses = np.full((len(neurons), R, T), np.nan, dtype=np.float32)
        for n, kept in enumerate(per_cell):
            for r, values in enumerate(kept):
                responses[n, r, : min(T, values.size)] = values[:T]
        meta = dict(s.metadata, mat_path=str(s.path), duration_ms=audio.duration_ms)
        stimuli.append(Stimulus(s.name, spec[None].astype(np.float32), responses, wave, rate, meta))
    return stimuli, np.asarray(freqs, dtype=np.float64), rate
