"""Continuous recordings -> trials: spike trains cut at each presentation of a stimulus.

An NWB file or a spike sorter gives each unit one spike train over the whole session (seconds) and a
table of presentations (stimulus, start, stop). Every presentation of a stimulus is one of its trials;
a trial holds the spikes in ``[start, stop)`` in ms from the presentation's start, the layout the
builder bins (:func:`strfviewer.data.spikes.bin_trials`).

Spike trains are read lazily: a unit's train is read the first time one of its trials is needed, cut for
every stimulus at once, and only the cut trials are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np

from strfviewer.data.spikes import SpikeTrials

#: a presentation window in seconds of session time: (start_s, stop_s)
Window = Tuple[float, float]


@dataclass(frozen=True)
class Presentation:
    """One presentation: the stimulus name and its window in session seconds (``stop_s > start_s``)."""

    stimulus: str
    start_s: float
    stop_s: float


def windows_by_stimulus(presentations: Sequence[Presentation]) -> Dict[str, List[Window]]:
    """``{stimulus: [(start_s, stop_s), ...]}`` in order of first presentation, trials in time order."""
    out: Dict[str, List[Window]] = {}
    for p in sorted(presentations, key=lambda p: p.start_s):
        out.setdefault(p.stimulus, []).append((float(p.start_s), float(p.stop_s)))
    first = {}
    for i, p in enumerate(presentations):
        first.setdefault(p.stimulus, i)
    return {name: out[name] for name in sorted(out, key=first.__getitem__)}


def cut_trials(times_s: np.ndarray, windows: Sequence[Window]) -> List[np.ndarray]:
    """Spikes of a sorted train ``times_s (n,)`` (s) in each window, as ms from the window's start."""
    times = np.asarray(times_s, dtype=np.float64).ravel()
    if times.size > 1 and np.any(np.diff(times) < 0):
        times = np.sort(times)
    starts = np.array([w[0] for w in windows], dtype=np.float64)
    stops = np.array([w[1] for w in windows], dtype=np.float64)
    lo = np.searchsorted(times, starts, side="left")
    hi = np.searchsorted(times, stops, side="left")
    # rounded to 1 ns: session times of 1e4 s carry ~1e-12 s of float noise, which would otherwise move a
    # spike written at exactly a bin edge (5.0 ms) into the bin before (4.9999999 ms)
    return [np.round((times[a:b] - s) * 1000.0, 6) for a, b, s in zip(lo, hi, starts)]


class UnitTrials:
    """One unit's trials per stimulus, cut from its spike train on first use.

    ``read_times()`` returns the unit's spike times in session seconds ``(n,)``; ``windows`` maps stimulus
    name -> presentation windows.
    """

    def __init__(self, read_times: Callable[[], np.ndarray], windows: Dict[str, List[Window]]) -> None:
        self._read_times = read_times
        self._windows = windows
        self._trials: Dict[str, List[np.ndarray]] = {}
        self.n_reads = 0

    def trials(self, stimulus: str) -> List[np.ndarray]:
        if not self._trials:
            times = self._read_times()
            self.n_reads += 1
            self._trials = {name: cut_trials(times, w) for name, w in self._windows.items()}
        return self._trials[stimulus]


@dataclass
class TrialSpikes:
    """The trials of one (unit, stimulus) pair, standing where a builder expects a spike file.

    ``read(pre_onset)`` returns :class:`SpikeTrials`; ``label`` names it in messages.
    """

    unit: UnitTrials
    stimulus: str
    label: str

    def read(self, pre_onset: str = "error") -> SpikeTrials:
        return SpikeTrials(self.unit.trials(self.stimulus))

    def __str__(self) -> str:
        return self.label
