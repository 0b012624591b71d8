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


# --- deepSTRF benchmark layouts ------------------------------------------------------------------------------
def write_ns1(folder: Path, n_neurons: int = 3, n_sounds: int = 20, n_repeats: int = 4, T: int = 60, F: int = 6,
              seed: int = 0) -> Path:
    """A small NS1 download: test_data_5ms.mat (X_nfht (S, F, 1, T)), MetadataSHEnCneurons.mat (neuron struct
    array) and spikesandwav/<path> per neuron (data.set(s).repeats(r).t, ms). Neuron k's spikes follow band
    k % F of the spectrogram one frame later, so a STRF has something to find."""
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    X = rng.random((n_sounds, F, 1, T)).astype(np.float64)
    savemat(folder / "test_data_5ms.mat", {"X_nfht": X})
    fields = [("filename", "O"), ("path", "O"), ("depth", "O"), ("NoiseRatio", "O"), ("singleN", "O"),
              ("singleT", "O"), ("NrOfElectrodes", "O"), ("ElectrodeNumber", "O")]
    neurons = np.zeros((1, n_neurons), dtype=fields)
    (folder / "spikesandwav" / "SH.En.C").mkdir(parents=True, exist_ok=True)
    for k in range(n_neurons):
        rel = f"SH.En.C/unit{k}.mat"
        neurons[0, k] = (f"unit{k}.mat", rel, 100 * k, 0.5, 1, "Yes", 32, k + 1)
        sets = np.zeros((1, n_sounds), dtype=[("repeats", "O")])  # data.set(s).repeats(r).t
        for s in range(n_sounds):
            reps = np.zeros((1, n_repeats), dtype=[("t", "O")])
            drive = X[s, k % F, 0]
            for r in range(n_repeats):
                bins = np.flatnonzero(rng.random(T) < 0.6 * drive) + 1
                t = (bins[bins < T] * 5.0 + rng.uniform(0, 5, size=(bins < T).sum()))
                reps[0, r] = (np.sort(t)[None, :],)
            sets[0, s] = (reps,)
        savemat(folder / "spikesandwav" / rel, {"data": {"set": sets}})
    savemat(folder / "MetadataSHEnCneurons.mat", {"neuron": neurons})
    return folder


def write_nat4(folder: Path, area: str = "A1", n_cells: int = 3, n_est: int = 12, n_val: int = 2,
               n_reps: int = 5, T: int = 15, F: int = 4, single_sites: bool = True, seed: int = 0) -> Path:
    """A small NAT4 download: <area>_NAT4_ozgf.fs100.ch18.tgz (meta/resp/stim/epoch files at 100 Hz, est
    sounds one trial each, val sounds averaged, then 1 s of silence between epochs) and, optionally,
    <area>_single_sites/<site>.tgz with per-cell spike times (s) in resp.h5 for the val repeats."""
    import io as _io
    import json
    import tarfile

    import h5py

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    cells = [f"ARM00{i // 2 + 1}a-0{i + 1}-1" for i in range(n_cells)]
    epochs, resp_rows, stim_rows, t = [], [], [], 0
    val_spikes = {c: [] for c in cells}
    names = [f"STIM_00cat{v}_rec.wav" for v in range(n_val)] + [f"STIM_cat{e}_seg.wav" for e in range(n_est)]
    for name in names:
        stim = rng.random((T, F))
        if name.startswith("STIM_00"):
            reps = [rng.poisson(stim[:, :1].repeat(n_cells, 1)) for _ in range(n_reps)]
            resp = np.mean(reps, axis=0)
        else:
            resp = rng.poisson(stim[:, :1].repeat(n_cells, 1)).astype(float)
        epochs.append((name, t / 100.0, (t + T) / 100.0))
        resp_rows.append(resp)
        stim_rows.append(stim)
        t += T
    resp_all, stim_all = np.concatenate(resp_rows), np.concatenate(stim_rows)
    resp_all[: T * n_val, -1] = np.nan  # the last cell was not recorded on the val sounds (masked)

    def tgz(path, files):
        with tarfile.open(path, "w:gz") as tf:
            for fname, data in files.items():
                info = tarfile.TarInfo(f"{path.stem.split('.')[0]}/{fname}")
                info.size = len(data)
                tf.addfile(info, _io.BytesIO(data))

    def csv_bytes(a):
        buf = _io.StringIO()
        np.savetxt(buf, a, delimiter=",", fmt="%.6g")
        return buf.getvalue().encode()

    site = "pop"
    epoch_csv = "name,start,end\n" + "".join(f"{n},{a},{b}\n" for n, a, b in epochs)
    tgz(folder / f"{area}_NAT4_ozgf.fs100.ch18.tgz", {
        f"{site}.meta.json": json.dumps({"siteid": site, "cellid": cells}).encode(),
        f"{site}.resp.json": json.dumps({"chans": cells, "fs": 100, "segments": [[0, t]]}).encode(),
        f"{site}.stim.json": json.dumps({"fs": 100}).encode(),
        f"{site}.resp.csv": csv_bytes(resp_all), f"{site}.stim.csv": csv_bytes(stim_all),
        f"{site}.resp.epoch.csv": epoch_csv.encode()})
    if single_sites:
        sites = folder / f"{area}_single_sites"
        sites.mkdir(exist_ok=True)
        rows, t_s, h5buf = [], 0.0, _io.BytesIO()
        times = {c: [] for c in cells[:-1]}
        for v in range(n_val):
            for r in range(n_reps):
                rows.append((names[v], t_s, t_s + T / 100.0))
                for c in times:
                    times[c].extend(t_s + np.sort(rng.uniform(0, T / 100.0, size=5)))
                t_s += T / 100.0 + 0.5
        with h5py.File(h5buf, "w") as h5:
            for c, tt in times.items():
                h5[c] = np.asarray(tt)
        tgz(sites / "ARM001a.tgz", {
            "ARM001a.meta.json": b"{}", "ARM001a.resp.json": json.dumps({"chans": list(times), "fs": 1000,
                                             "segments": [[0, int(round(t_s * 1000))]]}).encode(),
            "ARM001a.resp.h5": h5buf.getvalue(),
            "ARM001a.resp.epoch.csv": ("name,start,end\n" + "".join(f"{n},{a},{b}\n" for n, a, b in rows)).encode()})
    return folder
