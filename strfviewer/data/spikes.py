"""Spike-time files (STRFlab / CRCNS ``spikeK``) -> trials of spike times -> spike counts per bin.

The times a dataset keeps beside its counts (``Stimulus.spike_times``) are those :func:`times_in_frames`
returns: the spikes the counts count, so binning them again gives the counts.

File format: one line per trial; each line holds the spike times of that trial in ms from stimulus onset,
separated by white space (a trailing space is usual). A blank line is a trial with no spikes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from strfviewer.data import limits
from strfviewer.data.errors import DataError

#: a plain decimal number (optionally with exponent); excludes nan, inf, hex and '1_000'
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

#: policies for spike times before stimulus onset
PRE_ONSET_POLICIES = ("error", "drop")


@dataclass
class SpikeTrials:
    """Spike times of the trials of one (neuron, stimulus) pair, each an array of ms (sorted)."""

    trials: List[np.ndarray]
    n_pre_onset_dropped: int = 0

    @property
    def n_spikes(self) -> int:
        return int(sum(len(t) for t in self.trials))


def parse_spike_text(text: Union[str, bytes], path: Union[str, Path, None] = None,
                     pre_onset: str = "error") -> SpikeTrials:
    """Parse the content of a spike file.

    Returns one array of spike times (ms, float64, sorted) per trial (line). Raises :class:`DataError`
    naming ``path`` and the line for undecodable bytes, a token that is not a finite decimal number, a
    negative time (when ``pre_onset='error'``; with ``'drop'`` such spikes are removed and counted),
    or a file with no line at all.
    """
    if pre_onset not in PRE_ONSET_POLICIES:
        raise ValueError(f"pre_onset must be one of {PRE_ONSET_POLICIES}, not {pre_onset!r}")
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            line = bytes(text)[: exc.start].count(b"\n") + 1
            raise DataError(path, line, "not a text file of spike times (bytes that are not UTF-8)") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    n_lines = max(text.count("\n"), text.count("\r"))  # counted before splitting: no list of millions of lines
    if n_lines > limits.MAX_TRIALS + 1:
        raise DataError(path, None, f"about {n_lines} trials (lines), more than the {limits.MAX_TRIALS} a spike file "
                                    "may hold")
    lines = text.splitlines()
    if len(lines) > limits.MAX_TRIALS:
        raise DataError(path, None, f"{len(lines)} trials (lines), more than the {limits.MAX_TRIALS} a spike file "
                                    "may hold")
    if not lines:
        raise DataError(path, None, "empty spike file: no trial (a trial without spikes is an empty line)")
    trials: List[np.ndarray] = []
    dropped = 0
    for number, line in enumerate(lines, start=1):
        values = []
        for token in line.split():
            if not _NUMBER.fullmatch(token):
                shown = token if len(token) <= 30 else token[:27] + "..."
                raise DataError(path, number, f"spike time {shown!r} is not a number (ms)")
            value = float(token)
            if not np.isfinite(value):
                raise DataError(path, number, f"spike time {token!r} is not a finite number")
            if value < 0:
                if pre_onset == "error":
                    raise DataError(path, number, f"negative spike time {token} ms (before stimulus onset)")
                dropped += 1
                continue
            values.append(value)
        trials.append(np.sort(np.asarray(values, dtype=np.float64)))
    return SpikeTrials(trials, dropped)


def read_spike_file(path: Union[str, Path], pre_onset: str = "error") -> SpikeTrials:
    """Read and parse a spike file (see :func:`parse_spike_text`); unreadable files raise DataError."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(limits.MAX_SPIKE_FILE_BYTES + 1)
        if len(raw) > limits.MAX_SPIKE_FILE_BYTES:
            raise DataError(path, None, f"spike file larger than {limits.size_text(limits.MAX_SPIKE_FILE_BYTES)}")
    except OSError as exc:
        raise DataError(path, None, f"cannot read spike file ({exc.strerror or exc})") from None
    return parse_spike_text(raw, path, pre_onset=pre_onset)


def frame_index(times: np.ndarray, n_frames: int, dt_ms: float) -> Tuple[np.ndarray, np.ndarray]:
    """``(frame index (float), inside (bool))`` of spike ``times`` (ms): frame ``i`` holds ``[i*dt_ms,
    (i+1)*dt_ms)``; decided in float, so huge times never overflow a cast."""
    idx = np.floor(np.asarray(times, dtype=np.float64) / float(dt_ms))
    return idx, (idx >= 0) & (idx < n_frames)


def bin_trials(trials: Sequence[np.ndarray], n_frames: int, dt_ms: float,
               n_trials: Optional[int] = None) -> Tuple[np.ndarray, int]:
    """Count spikes per bin: bin ``i`` holds times in ``[i*dt_ms, (i+1)*dt_ms)``.

    Returns ``(counts (R, n_frames) float32, n_dropped)`` where spikes at or after ``n_frames*dt_ms`` (past
    the stimulus end) are dropped and counted. With ``n_trials`` larger than ``len(trials)`` the extra rows
    are NaN (trials that do not exist).
    """
    R = len(trials) if n_trials is None else int(n_trials)
    counts = np.full((R, n_frames), np.nan, dtype=np.float32)
    dropped = 0
    for r, times in enumerate(trials):
        idx, inside = frame_index(times, n_frames, dt_ms)
        dropped += int(np.count_nonzero(~inside))
        counts[r] = np.bincount(idx[inside].astype(np.int64), minlength=n_frames)[:n_frames]
    return counts, dropped


def times_in_frames(trials: Sequence[np.ndarray], n_frames: int, dt_ms: float) -> List[np.ndarray]:
    """The spike times (ms, float64, sorted) of each trial that :func:`bin_trials` counts: those in
    ``[0, n_frames*dt_ms)``. Binning these times with :func:`bin_trials` gives the same counts."""
    out = []
    for times in trials:
        times = np.sort(np.asarray(times, dtype=np.float64))
        out.append(times[frame_index(times, n_frames, dt_ms)[1]])
    return out

