"""What the CRCNS AC1 readers (:mod:`strfviewer.data.crcns_ac1`, Wehr; :mod:`strfviewer.data.crcns_ac1_asari`,
Asari) share: reading MATLAB v5 ``.mat`` structs with size checks, and the sound / cell records they fill.

A :class:`Sound` is one stimulus of the dataset (a Wehr sound file, an Asari spliced sequence): its ``key``
identifies it across cells, ``waveform (T_audio,)`` at ``sample_rate`` Hz. A :class:`Cell` is one recording
session: ``repeats[key]`` its raw traces from the sound's onset, mV at ``sf`` Hz.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from strfviewer.data import limits
from strfviewer.data.errors import DataError


def loadmat(path: Path) -> dict:
    """A ``.mat`` file's variables (structs as attribute objects); size checked before reading."""
    from strfviewer.data.benchmarks import _loadmat

    size = path.stat().st_size if path.is_file() else 0
    if size > limits.MAX_ARCHIVE_MEMBER_BYTES:
        raise DataError(path, None, f"{limits.size_text(size)} is larger than the "
                                    f"{limits.size_text(limits.MAX_ARCHIVE_MEMBER_BYTES)} strfviewer reads of a .mat file")
    return _loadmat(path)


def unwrap(value):
    """A struct array of one as its struct; anything else as it is."""
    if isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        return value.item()
    return value


def struct_field(struct, *names):
    """``struct.a.b...``, ``None`` where a field is missing (a struct array of one is unwrapped)."""
    for name in names:
        struct = getattr(unwrap(struct), name, None)
        if struct is None:
            return None
    return struct


def text(value) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else "".join(str(v) for v in value.ravel())
    return str(value).strip()


def number(value) -> Optional[float]:
    try:
        out = float(np.asarray(value, dtype=np.float64).ravel()[0])
    except (TypeError, ValueError, IndexError):
        return None
    return out if np.isfinite(out) else None


def response_mv(response, path: Path):
    """``(trace (T,) float64 mV, sf Hz)`` of a ``response`` struct (``trace`` x ``scale``, ``sf``)."""
    trace, scale, sf = (struct_field(response, "trace"), number(struct_field(response, "scale")),
                        number(struct_field(response, "sf")))
    if response is None or trace is None or scale is None or sf is None or sf <= 0:
        raise DataError(path, None, "expected a response struct with trace, scale (to mV) and sf (Hz)")
    return np.asarray(trace, dtype=np.float64).ravel() * scale, sf


def check_sample_rate(sf: float, path: Path, what: str) -> None:
    if not limits.MIN_SAMPLE_RATE <= sf <= limits.MAX_SAMPLE_RATE:
        raise DataError(path, None, f"{what} is {sf:g} Hz, expected "
                                    f"{limits.MIN_SAMPLE_RATE}-{limits.MAX_SAMPLE_RATE} Hz")


def onset_segment(trace: np.ndarray, onset_sample: float, duration_ms: float, sf: float) -> np.ndarray:
    """``duration_ms`` of ``trace`` (``sf`` Hz) from the 1-based MATLAB sample ``onset_sample``: a copy."""
    start = max(0, int(onset_sample) - 1)
    return trace[start: start + int(round(duration_ms * sf / 1000.0))].copy()


def check_cells_found(cells: Optional[Sequence[str]], seen: Sequence[str], where: Path) -> None:
    """:class:`DataError` naming the requested session folders (``cells``) missing from ``seen``."""
    if cells is not None:
        unknown = sorted(set(cells) - set(seen))
        if unknown:
            raise DataError(where, None, f"no session folder named {', '.join(unknown[:5])}")


@dataclass
class Sound:
    """One stimulus: ``name`` in the dataset, ``key`` by which cells' repeats find it, the file it came from,
    its audio and the metadata its :class:`~strfviewer.data.dataset.Stimulus` carries."""

    name: str
    key: str
    path: Path
    waveform: np.ndarray
    sample_rate: float
    metadata: Dict[str, object] = field(default_factory=dict)


@dataclass
class Cell:
    name: str
    metadata: Dict[str, object]
    repeats: Dict[str, List[np.ndarray]] = field(default_factory=dict)  # sound key -> raw mV segments
    sf: float = 0.0

    def add(self, key: str, segment: np.ndarray, sf: float, path: Path) -> None:
        """One repeat of sound ``key`` (mV from its onset, ``sf`` Hz), read from ``path``."""
        if self.sf and sf != self.sf:
            raise DataError(path, None, f"response.sf is {sf:g} Hz, other recordings of {self.name} have "
                                        f"{self.sf:g} Hz")
        self.sf = sf
        self.repeats.setdefault(key, []).append(segment)
