"""Test helpers: write a recording in the lab formats strfviewer reads (NWB, phy/Kilosort folder + events CSV).

A "session" is a list of :class:`Played` stimuli, each with its trials' spike times (ms from onset); the
writers lay the presentations out one after another on a session clock (whole-second onsets, each trial of
every stimulus in turn) so that a reader cutting the session back into trials must get the same trials.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np


@dataclass
class Played:
    name: str
    wav: Path
    waveform: np.ndarray  # (T_audio,) float32
    rate: int
    trials: List[np.ndarray]  # spike times in ms from onset, one array per trial

    @property
    def duration_s(self) -> float:
        return len(self.waveform) / float(self.rate)


def session_of_cell(folder: Path) -> List[Played]:
    """The stimuli and trials of a STRFlab cell folder (``stimK.wav`` + ``spikeK``)."""
    from strfviewer.data.audio import read_wav
    from strfviewer.data.layouts import scan_cell_folder
    from strfviewer.data.spikes import read_spike_file

    out = []
    for name, (wav, spike) in scan_cell_folder(folder).items():
        audio = read_wav(wav)
        out.append(Played(name, wav, audio.waveform, audio.sample_rate, read_spike_file(spike).trials))
    return out


def synthetic_session(folder: Path, n_stimuli: int = 3, n_trials: int = 2, rate: int = 16000,
                      seconds: float = 0.5, seed: int = 0) -> List[Played]:
    """Small noise stimuli written as wav files in ``folder`` and random spike trains."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k in range(n_stimuli):
        wave = (0.1 * rng.standard_normal(int(rate * seconds))).astype(np.float32)
        wav = folder / f"sound{k + 1}.wav"
        sf.write(str(wav), wave, rate, subtype="FLOAT")
        trials = [np.sort(rng.uniform(0, seconds * 1000, size=20)) for _ in range(n_trials)]
        out.append(Played(f"sound{k + 1}", wav, wave, rate, trials))
    return out


def schedule(session: Sequence[Played], gap_s: float = 1.0) -> List[Tuple[Played, int, float]]:
    """``(stimulus, trial index, onset_s)`` of every presentation, at whole-second onsets."""
    out = []
    t = 1.0
    n_trials = max(len(p.trials) for p in session)
    for r in range(n_trials):
        for played in session:
            if r < len(played.trials):
                out.append((played, r, t))
                t = float(math.ceil(t + played.duration_s + gap_s))
    return out


def unit_trains(session: Sequence[Played], n_units: int = 1, gap_s: float = 1.0) -> List[np.ndarray]:
    """Session spike times (s) of ``n_units`` units: unit 0 fires the recorded trials, the others a shifted
    copy (unit u: each spike ``u`` ms later) so units differ."""
    units = []
    for u in range(n_units):
        times = [onset + (played.trials[r][played.trials[r] < played.duration_s * 1000] + u) / 1000.0
                 for played, r, onset in schedule(session, gap_s)]
        units.append(np.sort(np.concatenate(times)))
    return units


def write_nwb(path: Path, session: Sequence[Played], n_units: int = 1, column: str = "stimulus_name",
              audio: str = "template", with_units: bool = True, table: str = "trials",
              rename: Dict[str, str] = None) -> Path:
    """An NWB file: units (spike_times), a ``table`` of presentations naming each stimulus in ``column``,
    and the sounds as ``stimulus_template`` TimeSeries (``audio='template'``) or as wav paths relative to
    the file (``audio='wav'``, the column then holds the path). ``rename`` changes names in the table only."""
    from datetime import datetime, timezone

    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.epoch import TimeIntervals

    nwb = NWBFile(session_description="strfviewer test", identifier="test",
                  session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc))
    for played in session:
        if audio == "template":
            nwb.add_stimulus_template(TimeSeries(name=played.name, data=played.waveform, unit="a.u.",
                                                 rate=float(played.rate)))
    intervals = TimeIntervals(name=table, description="stimulus presentations")
    intervals.add_column(column, "the stimulus presented")
    for played, _, onset in schedule(session):
        label = played.name if audio == "template" else str(played.wav.relative_to(path.parent)
                                                             if played.wav.is_relative_to(path.parent) else played.wav)
        label = (rename or {}).get(label, label)
        intervals.add_row(start_time=onset, stop_time=onset + played.duration_s, **{column: label})
    if table == "trials":
        nwb.trials = intervals
    else:
        nwb.add_time_intervals(intervals)
    if with_units:
        import warnings

        warnings.filterwarnings("ignore", message="An attribute 'name' already exists", category=UserWarning)
        nwb.add_unit_column("name", "unit name")
        for u, train in enumerate(unit_trains(session, n_units)):
            nwb.add_unit(spike_times=train, name=f"unit{u}", id=100 + u)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def write_sorter(folder: Path, session: Sequence[Played], n_units: int = 1, rate: int = 30000,
                 labels: Sequence[str] = None, events_name: str = "events.csv",
                 offsets: bool = False) -> Path:
    """A phy/Kilosort folder (spike_times.npy in samples, spike_clusters.npy, params.py,
    cluster_group.tsv) and an events CSV (onset_s, stimulus = wav path relative to the CSV)."""
    import os

    folder.mkdir(parents=True, exist_ok=True)
    times, clusters = [], []
    for u, train in enumerate(unit_trains(session, n_units)):
        times.append(np.floor(train * rate + 1e-6).astype(np.uint64))  # sample k covers [k, k+1) / rate
        clusters.append(np.full(len(train), u, dtype=np.int32))
    order = np.argsort(np.concatenate(times), kind="stable")
    np.save(folder / "spike_times.npy", np.concatenate(times)[order][:, None])
    np.save(folder / "spike_clusters.npy", np.concatenate(clusters)[order])
    (folder / "params.py").write_text(f"dat_path = 'raw.dat'\nn_channels_dat = 4\ndtype = 'int16'\noffset = 0\n"
                                      f"sample_rate = {float(rate)}\nhp_filtered = False\n")
    labels = list(labels or ["good"] * n_units)
    (folder / "cluster_group.tsv").write_text("cluster_id\tgroup\n" + "".join(
        f"{u}\t{labels[u]}\n" for u in range(n_units)))
    lines = ["onset_s,stimulus" + (",offset_s" if offsets else "")]
    for played, _, onset in schedule(session):
        rel = os.path.relpath(played.wav, folder)
        lines.append(f"{onset},{rel}" + (f",{onset + played.duration_s}" if offsets else ""))
    (folder / events_name).write_text("\n".join(lines) + "\n")
    return folder
