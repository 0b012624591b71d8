"""CRCNS AC1 (Asari, Wehr, Machens & Zador 2009): whole-cell membrane potential of rat auditory cortex to natural
sounds, read from the files deepSTRF 0.1.0's downloader extracts (facts from its loader; see
``docs/data-formats.md``). The **Wehr** subset (Machens, Wehr & Zador 2004) is read; the Asari subset is not yet.

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
strfviewer's own front-end. ``response_kind="continuous"``, ``response_unit="mV"``.
"""

from __future__ import annotations

import collections
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from strfviewer.data import limits
from strfviewer.data.ac1_cleanup import CLEANUP_OPTIONS, REJECTION_REASONS, ResponseCleanup, bin_mean, \
    clean_repeats
from strfviewer.data.dataset import NeuralDataset, Stimulus
from strfviewer.data.errors import DataError
from strfviewer.data.spectrogram import SpectrogramConfig

EXPERIMENTERS = ("wehr", "asari")
#: the reader options of an AC1 folder (``PATH?experimenter=wehr&cleanup=off``)
AC1_OPTIONS = ("experimenter",) + CLEANUP_OPTIONS
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


# --- reading .mat files -------------------------------------------------------------------------------------
def _loadmat(path: Path) -> dict:
    """A ``.mat`` file's variables (structs as attribute objects); size checked before reading."""
    from strfviewer.data.benchmarks import _loadmat as loadmat

    size = path.stat().st_size if path.is_file() else 0
    if size > limits.MAX_ARCHIVE_MEMBER_BYTES:
        raise DataError(path, None, f"{limits.size_text(size)} is larger than the "
                                    f"{limits.size_text(limits.MAX_ARCHIVE_MEMBER_BYTES)} strfviewer reads of a .mat file")
    return loadmat(path)


def _field(struct, *names):
    """``struct.a.b...``, ``None`` where a field is missing (a struct array of one is unwrapped)."""
    for name in names:
        if isinstance(struct, np.ndarray) and struct.dtype == object and struct.size == 1:
            struct = struct.item()
        struct = getattr(struct, name, None)
        if struct is None:
            return None
    return struct


def _text(value) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else "".join(str(v) for v in value.ravel())
    return str(value).strip()


def _number(value) -> Optional[float]:
    try:
        out = float(np.asarray(value, dtype=np.float64).ravel()[0])
    except (TypeError, ValueError, IndexError):
        return None
    return out if np.isfinite(out) else None


@dataclass
class _Sound:
    name: str
    path: Path
    folder: str
    index: int
    description: str
    waveform: np.ndarray
    sample_rate: float


def _wehr_sounds(stimuli_dir: Path) -> Tuple[Dict[str, _Sound], List[str]]:
    """``{description: sound}`` of every ``Stimuli/<folder>/<index>.mat`` and warnings (repeated descriptions)."""
    sounds: Dict[str, _Sound] = {}
    warnings: List[str] = []
    for folder in WEHR_STIMULUS_FOLDERS:
        sub = stimuli_dir / folder
        if not sub.is_dir():
            continue
        files = sorted((p for p in sub.glob("*.mat") if p.stem.isdigit()), key=lambda p: int(p.stem))
        for path in files:
            stim = _loadmat(path).get("stimulus")
            samples, sf = _field(stim, "samples"), _number(_field(stim, "param", "sf"))
            description = _text(_field(stim, "param", "description"))
            if samples is None or sf is None or description is None:
                raise DataError(path, None, "expected stimulus.samples, stimulus.param.sf and "
                                            "stimulus.param.description")
            if not limits.MIN_SAMPLE_RATE <= sf <= limits.MAX_SAMPLE_RATE:
                raise DataError(path, None, f"stimulus.param.sf is {sf:g} Hz, expected "
                                            f"{limits.MIN_SAMPLE_RATE}-{limits.MAX_SAMPLE_RATE} Hz")
            if description in sounds:
                warnings.append(f"{path}: describes the same sound as {sounds[description].path} "
                                f"({description!r}); the first is used")
                continue
            sounds[description] = _Sound(f"{folder}/{int(path.stem)}", path, folder, int(path.stem), description,
                                         np.asarray(samples, dtype=np.float64).ravel(), sf)
    return sounds, warnings


@dataclass
class _Cell:
    name: str
    metadata: Dict[str, object]
    repeats: Dict[str, List[np.ndarray]] = field(default_factory=dict)  # sound description -> raw mV segments
    sf: float = 0.0


def _wehr_trial(path: Path, sounds: Mapping[str, _Sound], stimuli_dir: Path):
    """``(description, mV segment from onset, sf)`` of a natural-sound trial file; ``None`` for other trials
    (a file's first trigger says what it is, as for deepSTRF) and for triggers without time, description or
    duration."""
    mat = _loadmat(path)
    triggers = mat.get("triggers")
    first = None if triggers is None else next(iter(np.atleast_1d(np.asarray(triggers, dtype=object)).ravel()), None)
    if first is None or (_text(_field(first, "type")) or "").lower() not in NATURAL_TRIGGERS:
        return None
    description = _text(_field(first, "param", "description"))
    onset, duration = _number(_field(first, "time")), _number(_field(first, "param", "duration"))
    if description is None or onset is None or duration is None:
        return None
    if description not in sounds:
        raise DataError(path, None, f"its trigger names the sound {description!r}, which no file under "
                                    f"{stimuli_dir} describes")
    response = mat.get("response")
    trace, scale, sf = (_field(response, "trace"), _number(_field(response, "scale")),
                        _number(_field(response, "sf")))
    if response is None or trace is None or scale is None or sf is None or sf <= 0:
        raise DataError(path, None, "expected a response struct with trace, scale (to mV) and sf (Hz)")
    trace = np.asarray(trace, dtype=np.float64).ravel() * scale
    start = max(0, int(onset) - 1)  # MATLAB samples count from 1
    return description, trace[start: start + int(round(duration * sf / 1000.0))], sf


def _wehr_cells(results: Path, sounds: Mapping[str, _Sound], stimuli_dir: Path,
                cells: Optional[Sequence[str]]) -> Tuple[List[_Cell], int]:
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
        cell = _Cell(session.name, {"experimenter": "wehr", "session": session.name, "date": date,
                                    "animal": animal, "penetration": penetration, "site": "A1",
                                    "recording_type": "whole-cell", "cell_index": index})
        for path in sorted(session.glob("*.mat")):
            trial = _wehr_trial(path, sounds, stimuli_dir)
            if trial is None:
                skipped += 1
                continue
            description, segment, sf = trial
            if cell.sf and sf != cell.sf:
                raise DataError(path, None, f"response.sf is {sf:g} Hz, other trials of {session.name} have "
                                            f"{cell.sf:g} Hz")
            cell.sf = sf
            cell.repeats.setdefault(description, []).append(segment)
        out.append(cell)
    if cells is not None:
        unknown = sorted(set(cells) - {c.name for c in out})
        if unknown:
            raise DataError(results, None, f"no session folder named {', '.join(unknown[:5])}")
    return out, skipped


# --- the dataset --------------------------------------------------------------------------------------------
def load_ac1(folder: Path, options: Optional[Mapping[str, str]] = None, frontend: Optional[SpectrogramConfig] = None,
             device=None, use_cache: bool = True, cells: Optional[Sequence[str]] = None,
             source: str = "") -> NeuralDataset:
    """CRCNS AC1 as a dataset of membrane potentials (see the module docstring); ``options`` are the reader
    options :data:`AC1_OPTIONS` (``experimenter``: ``wehr``, the default; the clean-up ones, see
    :class:`~strfviewer.data.ac1_cleanup.ResponseCleanup`), ``cells`` restrict to these session folders."""
    options = dict(options or {})
    experimenter = options.get("experimenter", "wehr").strip().lower()
    if experimenter not in EXPERIMENTERS:
        raise DataError(folder, None, f"option experimenter={experimenter!r}: expected wehr or asari")
    if experimenter == "asari":
        raise DataError(folder, None, "the Asari subset of CRCNS AC1 is not read yet (spliced sequences, "
                                      "A1 and MGB); use experimenter=wehr")
    cleanup = ResponseCleanup.from_options(options, folder)
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
    cfg = frontend or SpectrogramConfig()
    sounds, warnings = _wehr_sounds(stimuli_dir)
    if not sounds:
        raise DataError(stimuli_dir, None, f"no <index>.mat sound in {', '.join(WEHR_STIMULUS_FOLDERS)}")
    found, skipped = _wehr_cells(results, sounds, stimuli_dir, cells)
    verdicts: collections.Counter = collections.Counter()
    binned: Dict[Tuple[str, str], List[np.ndarray]] = {}  # (cell, description) -> kept repeats, mean mV per bin
    for cell in found:
        for description, raw in cell.repeats.items():
            kept, why = clean_repeats(raw, cell.sf, cleanup, where=results / cell.name)
            verdicts.update(why)
            kept = [b for b in (bin_mean(t, cell.sf, cfg.dt_ms) for t in kept) if b.size]
            if kept:
                binned[(cell.name, description)] = kept
    neurons = [c for c in found if any((c.name, d) in binned for d in c.repeats)]
    if not neurons:
        raise DataError(results, None, "no cell has a natural-sound trial left" + (" after the clean-up" if
                                                                                  verdicts else ""))
    heard = [s for s in sounds.values() if any((c.name, s.description) in binned for c in neurons)]
    stimuli, freqs_hz, rate = _stimuli(heard, neurons, binned, cfg, device, use_cache, warnings)
    rejected = {r: verdicts[r] for r in REJECTION_REASONS if verdicts[r]}
    if rejected:
        warnings.append(f"{sum(rejected.values())} of {sum(verdicts.values())} repeats left out by the clean-up ("
                        + ", ".join(f"{n} {r}" for r, n in rejected.items()) + ")")
    if skipped:
        warnings.append(f"{skipped} trial files without a natural-sound trigger (tones, ...; or one without "
                        "time, description or duration) were skipped")
    if len(neurons) < len(found):
        left = [c.name for c in found if c not in neurons]
        warnings.append(f"{len(left)} cells without a natural-sound repeat were left out: {', '.join(left[:5])}")
    frontend_dict: Dict[str, object] = cfg.to_dict()
    frontend_dict.update(sample_rate=int(rate), response_cleanup=cleanup.to_dict())
    return NeuralDataset(stimuli=stimuli, neuron_names=[c.name for c in neurons], freqs_hz=freqs_hz,
                         dt_ms=float(cfg.dt_ms), frontend=frontend_dict,
                         neuron_metadata=[dict(c.metadata) for c in neurons], source=source or str(folder),
                         name="CRCNS AC1 (Wehr)", warnings=warnings, response_kind="continuous",
                         response_unit="mV")


def _stimuli(heard: List[_Sound], neurons: List[_Cell], binned, cfg: SpectrogramConfig, device, use_cache,
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
        per_cell = [binned.get((c.name, s.description), []) for c in neurons]
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
        meta = {"folder": s.folder, "index": s.index, "description": s.description, "mat_path": str(s.path),
                "duration_ms": audio.duration_ms}
        stimuli.append(Stimulus(s.name, spec[None].astype(np.float32), responses, wave, rate, meta))
    return stimuli, np.asarray(freqs, dtype=np.float64), rate
