"""The **Asari** subset of CRCNS AC1 (Asari & Zador 2009): rat A1 (whole-cell) and MGB (cell-attached) recordings
of spliced natural-sound sequences, read from the files deepSTRF 0.1.0's downloader extracts (facts from its
loader; see ``docs/data-formats.md``).

Layout (MATLAB v5 ``.mat``):

* ``asari-results-{1,2}/<yyyymmdd>-<animal>-<penetration>/*.mat`` (deepSTRF extracts them under
  ``crcns-ac1-asari-results-{1,2}/``): one session (= one cell) per folder, each file a long recording:
  ``response`` (``trace``, ``scale`` to mV, ``sf`` Hz); ``param.stimulus(i).file`` (``class6/3.mat``), the
  file's segment list; ``param.recording.site`` (containing ``cortex``: A1, else MGB) and ``.type``
  (``whole-cell`` / ``cell-attached``); ``triggers``, each with ``type`` (``naturalsound`` or ``natural
  sound``; others are skipped), ``time`` (1-based onset sample), ``param.duration`` (ms) and
  ``param.description`` ``Sequence k: 2 1 3 1 4``: the segments played, by 1-based position in the list.
* ``crcns-ac1/asari/Stimuli/class<N>/<name>.mat``: ``stimulus.sample`` (or ``samples``) and
  ``stimulus.param.sf`` (97 656 Hz).

A sequence's sound is its segments, each tapered by a :data:`RAMP_MS` cos^2 ramp at both ends, end to end.
Sequences are the same stimulus across cells when they splice the same segment files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from strfviewer.data.ac1_records import Cell, Sound, check_cells_found, check_sample_rate, loadmat, number, \
    onset_segment, response_mv, struct_field, text, unwrap
from strfviewer.data.errors import DataError

SITES = ("A1", "MGB")
#: the recording type read at each site: A1 whole-cell (mV), MGB cell-attached (spikes)
SITE_RECORDING = {"A1": "whole-cell", "MGB": "cell-attached"}


def is_cell_attached(recording_type: str) -> bool:
    """A recording whose trace holds the cell's spikes (``param.recording.type`` says attached, as deepSTRF
    decides); any other (whole-cell) holds its membrane potential."""
    return "attached" in recording_type.lower()
NATURAL_TRIGGERS = ("naturalsound", "natural sound")
RAMP_MS = 5.0
_SEQUENCE = re.compile(r"Sequence\s+\d+\s*:\s*((?:\d+\s+)*\d+)", re.IGNORECASE)


def stimuli_root(folder: Path) -> Optional[Path]:
    """``crcns-ac1/asari/Stimuli`` of a download given as ``folder`` (or ``asari/Stimuli`` inside it)."""
    for candidate in (folder / "crcns-ac1" / "asari" / "Stimuli", folder / "asari" / "Stimuli"):
        if candidate.is_dir():
            return candidate
    return None


def sequence_segments(description: str) -> Optional[List[int]]:
    """The 1-based segment positions of ``"Sequence 3: 2 1 3 1 4"``, ``None`` for another description."""
    match = _SEQUENCE.search(description)
    return [int(k) for k in match.group(1).split()] if match else None


def ramp(samples: np.ndarray, sf: float, ramp_ms: float = RAMP_MS) -> np.ndarray:
    """``samples (T,)`` tapered by a cos^2 onset and offset ramp of ``ramp_ms`` (at most half of it): the
    first samples times ``sin^2(pi/2 * k / n)``, ``k = 0..n-1``, the last ones mirrored; float64."""
    out = np.array(samples, dtype=np.float64)
    n = min(max(1, int(round(ramp_ms * sf / 1000.0))), out.size // 2)
    if n > 0:
        rise = np.sin(0.5 * np.pi * np.arange(n) / n) ** 2
        out[:n] *= rise
        out[-n:] *= rise[::-1]
    return out


class SegmentLibrary:
    """The segment files under ``Stimuli/``, read once each: ``(samples (T,), sf Hz)`` by relative path."""

    def __init__(self, root: Path):
        self.root = root
        self._cache: Dict[str, Tuple[np.ndarray, float, Path]] = {}

    def segment(self, rel: str, named_by: Path) -> Tuple[np.ndarray, float, Path]:
        if rel not in self._cache:
            path = self.root.joinpath(*rel.replace("\\", "/").strip("/").split("/"))
            if not path.is_file():
                raise DataError(named_by, None, f"its param.stimulus names {rel!r}, but {path} does not exist")
            stim = loadmat(path).get("stimulus")
            samples = struct_field(stim, "sample")
            samples = struct_field(stim, "samples") if samples is None else samples
            sf = number(struct_field(stim, "param", "sf"))
            if samples is None or sf is None:
                raise DataError(path, None, "expected stimulus.sample (or samples) and stimulus.param.sf")
            check_sample_rate(sf, path, "stimulus.param.sf")
            self._cache[rel] = (np.asarray(samples, dtype=np.float64).ravel(), sf, path)
        return self._cache[rel]

    def splice(self, files: Sequence[str], named_by: Path) -> Tuple[np.ndarray, float]:
        """The sequence of segment ``files``, each :func:`ramp`-ed, end to end: ``(samples, sf Hz)``."""
        pieces, rate = [], None
        for rel in files:
            samples, sf, path = self.segment(rel, named_by)
            if rate is not None and abs(sf - rate) > 1.0:
                raise DataError(path, None, f"stimulus.param.sf is {sf:g} Hz, the other segments of "
                                            f"{'+'.join(files)} have {rate:g} Hz")
            rate = sf if rate is None else rate
            pieces.append(ramp(samples, sf))
        return np.concatenate(pieces), float(rate)


def _segment_list(param, path: Path) -> List[str]:
    """``param.stimulus(i).file`` for i = 1..K (``""`` where an entry has none)."""
    entries = struct_field(param, "stimulus")
    if entries is None:
        return []
    entries = np.atleast_1d(np.asarray(entries, dtype=object)).ravel()
    return [text(struct_field(e, "file")) or "" for e in entries]


def _recording(param) -> Tuple[Optional[str], str]:
    """``(site: A1 | MGB | None when unstated, recording type as whole-cell / cell-attached / ...)``."""
    recording = struct_field(param, "recording")
    if recording is None:
        return None, ""
    site = text(struct_field(recording, "site")) or ""
    kind = (text(struct_field(recording, "type")) or "").lower().replace(" ", "-")
    return ("A1" if "cortex" in site.lower() else "MGB"), kind


def _recording_repeats(path: Path, cell: Cell, sequences: Dict[str, Tuple[Path, List[int], str]]) -> int:
    """Add the natural-sequence repeats of one recording file to ``cell`` (keys: the segment files joined by
    ``+``) and each new sequence to ``sequences`` (key -> the file naming it, its positions, its description);
    the number of triggers skipped (other types, unreadable descriptions). Sets the cell's site and recording
    type from the first file that states them."""
    mat = loadmat(path)
    param = unwrap(mat.get("param"))
    files = _segment_list(param, path)
    if not files:
        return 0
    site, kind = _recording(param)
    if site is not None and "site" not in cell.metadata:
        cell.metadata.update(site=site, recording_type=kind)
    triggers = mat.get("triggers")
    triggers = [] if triggers is None else np.atleast_1d(np.asarray(triggers, dtype=object)).ravel()
    skipped, trace, sf = 0, None, 0.0
    for trigger in triggers:
        if (text(struct_field(trigger, "type")) or "").lower() not in NATURAL_TRIGGERS:
            skipped += 1
            continue
        description = text(struct_field(trigger, "param", "description")) or ""
        onset, duration = number(struct_field(trigger, "time")), number(struct_field(trigger, "param", "duration"))
        positions = sequence_segments(description)
        if positions is None or onset is None or duration is None:
            skipped += 1
            continue
        bad = [k for k in positions if not 1 <= k <= len(files) or not files[k - 1]]
        if bad:
            raise DataError(path, None, f"trigger {description!r} names segment {bad[0]}, but param.stimulus "
                                        f"lists {len(files)} files")
        key = "+".join(files[k - 1] for k in positions)
        if trace is None:
            trace, sf = response_mv(mat.get("response"), path)
        cell.add(key, onset_segment(trace, onset, duration, sf), sf, path)
        sequences.setdefault(key, (path, positions, " ".join(description.split())))
    return skipped


def read_asari(roots: Sequence[Path], library: SegmentLibrary, site: str,
               cells: Optional[Sequence[str]]) -> Tuple[List[Cell], Dict[str, Sound], int, List[str]]:
    """The cells recorded at ``site`` with the recording type read there (:data:`SITE_RECORDING`), the
    sequences they heard (spliced), the number of triggers skipped, and warnings (cells left out)."""
    sessions = sorted((p for root in roots for p in root.iterdir() if p.is_dir() and p.name[:8].isdigit()),
                      key=lambda p: p.name)
    if not sessions:
        raise DataError(roots[0], None, "no session folder (<yyyymmdd>-<animal>-<penetration>) inside")
    found, elsewhere, other_type, skipped, seen = [], [], [], 0, []
    sequences: Dict[str, Dict[str, Tuple[Path, List[int], str]]] = {}  # cell -> its sequences
    for index, session in enumerate(sessions):
        if cells is not None and session.name not in cells:
            continue
        parts = session.name.split("-")
        cell = Cell(session.name, {"experimenter": "asari", "session": session.name, "date": parts[0],
                                   "animal": parts[1] if len(parts) > 1 else "",
                                   "penetration": "-".join(parts[2:]), "cell_index": index})
        seen.append(cell.name)
        sequences[cell.name] = {}
        for path in sorted(session.glob("*.mat")):
            skipped += _recording_repeats(path, cell, sequences[cell.name])
        if cell.metadata.get("site", "A1") != site:
            elsewhere.append(cell.name)
        elif not cell.metadata.get("recording_type") or \
                is_cell_attached(str(cell.metadata["recording_type"])) != (site == "MGB"):
            other_type.append(f"{cell.name} ({cell.metadata.get('recording_type') or 'type not stated'})")
        else:
            found.append(cell)
    check_cells_found(cells, seen, roots[0])
    warnings = []
    if other_type:
        warnings.append(f"{len(other_type)} {site} cells not recorded {SITE_RECORDING[site]} were left out: "
                        + ", ".join(other_type[:5]))
    if not found:
        hint = f" ({len(elsewhere)} cells recorded in the other site: try site={'MGB' if site == 'A1' else 'A1'})" \
            if elsewhere else ""
        raise DataError(roots[0], None, f"no {site} cell recorded {SITE_RECORDING[site]} with natural-sound "
                                        f"sequences{hint}")
    sounds: Dict[str, Sound] = {}
    for cell in found:
        for key, (path, positions, description) in sequences[cell.name].items():
            if key in sounds:
                continue
            files = key.split("+")
            waveform, sf = library.splice(files, path)
            classes = sorted({f.split("/")[0] for f in files if "/" in f})
            sounds[key] = Sound(key.replace(".mat", ""), key, library.root / files[0], waveform, sf,
                                {"description": description, "segments": list(positions),
                                 "segment_files": files, "category": classes[0] if len(classes) == 1 else "mixed"})
    return found, sounds, skipped, warnings
