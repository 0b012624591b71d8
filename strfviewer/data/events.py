"""A stimulus events table (CSV): when each sound was played during a continuous recording.

Columns (header row required, any order, extra columns ignored):

* ``onset_s``: presentation onset in seconds of recording time
* ``stimulus``: the sound file, a path relative to the CSV (or absolute)
* ``offset_s`` (optional): presentation end in seconds; default onset + the sound's duration

The stimulus is named by its file stem, so repeated rows of one file are its trials.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Dict, List, Tuple

from strfviewer.data.errors import DataError
from strfviewer.data.presentations import Presentation

REQUIRED = ("onset_s", "stimulus")


def _sound_duration_s(wav: Path, csv_path: Path, line: int) -> float:
    import soundfile as sf

    try:
        info = sf.info(str(wav))
    except Exception as exc:  # libsndfile error types
        raise DataError(csv_path, line, f"sound {wav.name}: unreadable audio file ({str(exc)[:120]})") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise DataError(csv_path, line, f"sound {wav.name} holds no samples")
    return info.frames / float(info.samplerate)


def _number(text: str, csv_path: Path, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(csv_path, line, f"{column} {text!r} is not a number (seconds)") from None
    if not math.isfinite(value):
        raise DataError(csv_path, line, f"{column} {text!r} is not a finite number")
    return value


def read_events(csv_path: Path) -> Tuple[List[Presentation], Dict[str, Path], List[int]]:
    """``(presentations, {stimulus name: sound file}, csv line of each presentation)`` of an events CSV.

    Raises :class:`DataError` naming the CSV and line for a missing column, a value that is not a number,
    a sound file that is absent, ``offset_s <= onset_s``, or one stimulus name given by two files.
    """
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(csv_path, None, f"cannot read events table ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise DataError(csv_path, None, "events table is not UTF-8 text") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or not any(c.strip() for c in rows[0]):
        raise DataError(csv_path, None, "empty events table: expected a header with onset_s and stimulus")
    header = [c.strip().lower() for c in rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise DataError(csv_path, 1, f"events table lacks column(s) {', '.join(missing)} (header: {', '.join(header)})")
    col = {name: header.index(name) for name in header}
    presentations: List[Presentation] = []
    sounds: Dict[str, Path] = {}
    lines: List[int] = []
    durations: Dict[Path, float] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        row = row + [""] * (len(header) - len(row))
        onset = _number(row[col["onset_s"]].strip(), csv_path, line, "onset_s")
        ref = row[col["stimulus"]].strip()
        if not ref:
            raise DataError(csv_path, line, "empty stimulus: expected a sound file path")
        wav = Path(ref) if Path(ref).is_absolute() else csv_path.parent / ref
        if not wav.is_file():
            raise DataError(csv_path, line, f"sound {ref!r} not found (looked for {wav})")
        name = wav.stem
        if sounds.setdefault(name, wav) != wav:
            raise DataError(csv_path, line, f"two sound files are both named {name!r}: {sounds[name]} and {wav}")
        offset_text = row[col["offset_s"]].strip() if "offset_s" in col else ""
        if offset_text:
            offset = _number(offset_text, csv_path, line, "offset_s")
        else:
            if wav not in durations:
                durations[wav] = _sound_duration_s(wav, csv_path, line)
            offset = onset + durations[wav]
        if offset <= onset:
            raise DataError(csv_path, line, f"offset_s {offset} is not after onset_s {onset}")
        presentations.append(Presentation(name, onset, offset))
        lines.append(line)
    if not presentations:
        raise DataError(csv_path, None, "events table has no rows")
    return presentations, sounds, lines
