"""Small CRCNS AC1 (Wehr) downloads written by the tests (scipy.io.savemat), in the layout deepSTRF 0.1.0 reads:
``crcns-ac1/wehr/{Summary.mat, Stimuli/<folder>/<index>.mat, Results/<session>/*.mat}``.

Each cell's trace is ``REST_MV + drift + response + noise`` in mV (stored as ``trace / scale``), sampled at
``RESP_SF`` Hz; the response to a sound is a sum of sinusoids proper to that sound and the same for every
cell, so cleaned repeats agree; their frequencies (12-31 Hz) are above what the 100 ms baseline follows. ``SATURATED`` names the one repeat with a 400 mV artefact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

STIM_SF = 16000
RESP_SF = 4000.0
SCALE = 0.05  # trace units -> mV
DURATION_MS = 600.0
PRE_MS = 100.0
POST_MS = 150.0
REST_MV = -60.0
DRIFT_MV_PER_S = 8.0
#: sound file (folder, index) -> description
SOUNDS: Dict[Tuple[str, int], str] = {
    ("fragments", 1): "natural sound fragment, No.1",
    ("fragments", 2): "natural sound fragment, No.2",
    ("category1", 1): "natural sound stream (0-1.6 kHz), No.1",
    ("category1", 2): "natural sound stream (0-1.6 kHz), No.2",
}
#: session -> {sound: repeats}
CELLS: Dict[str, Dict[Tuple[str, int], int]] = {
    "20020101-mw-1": {("fragments", 1): 4, ("fragments", 2): 3, ("category1", 1): 3, ("category1", 2): 3},
    "20020102-mw-2": {("fragments", 1): 3, ("fragments", 2): 3},
    "20020103-mw-3": {("category1", 1): 2, ("category1", 2): 2},
}
#: (session, sound, repeat) carrying a saturation artefact
SATURATED = ("20020101-mw-1", ("fragments", 1), 2)


def sound_response(key: Tuple[str, int], t_s: np.ndarray) -> np.ndarray:
    """The noise-free response (mV) to sound ``key`` at times ``t_s`` (s from onset); 0 outside the sound."""
    k = sorted(SOUNDS).index(key)
    r = 4.0 * np.sin(2 * np.pi * (12 + k) * t_s + k) + 2.5 * np.sin(2 * np.pi * (25 + 2 * k) * t_s)
    return np.where((t_s >= 0) & (t_s < DURATION_MS / 1000.0), r, 0.0)


def sound_waveform(key: Tuple[str, int]) -> np.ndarray:
    k = sorted(SOUNDS).index(key)
    t = np.arange(int(STIM_SF * DURATION_MS / 1000.0)) / STIM_SF
    rng = np.random.default_rng(100 + k)
    return 0.3 * np.sin(2 * np.pi * (600 + 400 * k) * t) * (1 + np.sin(2 * np.pi * (2 + k) * t)) \
        + 0.05 * rng.standard_normal(t.size)


def write_wehr(base: Path, cells: Dict[str, Dict[Tuple[str, int], int]] = CELLS, seed: int = 0,
               extra_trial: bool = True) -> Path:
    """Write the files under ``base`` (the download folder); returns ``base``."""
    from scipy.io import savemat

    wehr = base / "crcns-ac1" / "wehr"
    for (folder, index), description in SOUNDS.items():
        path = wehr / "Stimuli" / folder / f"{index}.mat"
        path.parent.mkdir(parents=True, exist_ok=True)
        savemat(path, {"stimulus": {"samples": sound_waveform((folder, index)),
                                    "param": {"sf": float(STIM_SF), "description": description}}})
    savemat(wehr / "Summary.mat", {"summary": {"n": 1.0}})
    rng = np.random.default_rng(seed)
    n = int(RESP_SF * (PRE_MS + DURATION_MS + POST_MS) / 1000.0)
    t_rec = np.arange(n) / RESP_SF
    onset = int(RESP_SF * PRE_MS / 1000.0)
    for session, heard in cells.items():
        folder = wehr / "Results" / session
        folder.mkdir(parents=True, exist_ok=True)
        trial = 0
        for key, repeats in heard.items():
            for r in range(repeats):
                v = REST_MV + DRIFT_MV_PER_S * t_rec + sound_response(key, t_rec - onset / RESP_SF) \
                    + 0.8 * rng.standard_normal(n)
                if (session, key, r) == SATURATED:
                    v[onset + 400: onset + 600] += 400.0
                trial += 1
                savemat(folder / f"{session}-{trial:03d}.mat", trial_struct(v, key, onset + 1))
        if extra_trial:  # a tone trial: skipped by the reader
            tone = trial_struct(REST_MV + rng.standard_normal(n), ("fragments", 1), onset + 1)
            tone["triggers"]["type"] = "tone"
            savemat(folder / f"{session}-999.mat", tone)
    return base


def trial_struct(v_mv: np.ndarray, key: Tuple[str, int], onset_sample: int) -> dict:
    """The variables of one trial file: ``response`` (trace, scale, sf) and a natural-sound ``triggers``."""
    return {"response": {"trace": (np.asarray(v_mv) / SCALE).astype(np.float64), "scale": SCALE, "sf": RESP_SF},
            "triggers": {"type": "naturalsound", "time": float(onset_sample),
                         "param": {"description": SOUNDS[key], "duration": DURATION_MS}}}


def trial_files(base: Path, session: str) -> List[Path]:
    return sorted((base / "crcns-ac1" / "wehr" / "Results" / session).glob("*.mat"))


# --- the Asari subset -----------------------------------------------------------------------------------------
"""Asari layout (as deepSTRF extracts it): ``crcns-ac1-asari-results-{1,2}/asari-results-{1,2}/<session>/*.mat``
(long recordings, several ``triggers`` with ``Sequence k: a b c``) and ``crcns-ac1/asari/Stimuli/class6/<n>.mat``
segments (``stimulus.sample``). Sessions in ``ASARI_CELLS``: two A1 whole-cell (mV; the second hears only one
sequence and lists its segments in another order) and one MGB cell-attached (planted spikes, ``ASARI_SPIKES``)."""

ASARI_STIM_SF = 8000
ASARI_RESP_SF = 4000.0
SEGMENT_MS = 200.0
GAP_MS = 200.0
SEGMENT_FILES = ("class6/1.mat", "class6/2.mat", "class6/3.mat")
#: sequence name (the segment files spliced, joined by '+', without .mat) -> segment files
SEQUENCES = {"class6/1+class6/2+class6/3": SEGMENT_FILES,
             "class6/3+class6/1+class6/1": ("class6/3.mat", "class6/1.mat", "class6/1.mat")}
#: session -> (results folder k, recording site, recording type, its param.stimulus list, sequences heard)
ASARI_CELLS = {
    "20050101-ha1-001": (1, "auditory cortex", "whole cell", SEGMENT_FILES, tuple(SEQUENCES)),
    "20050102-ha1-002": (1, "auditory cortex", "whole cell", ("class6/3.mat", "class6/1.mat", "class6/2.mat"),
                         ("class6/1+class6/2+class6/3",)),
    "20050201-ha2-001": (2, "MGB (thalamus)", "cell attached", SEGMENT_FILES, tuple(SEQUENCES)),
}
ASARI_REPEATS = 2
ASARI_PRE_MS = 100.0
#: sequence -> planted spike times (ms from the sequence's onset) of the MGB cell
ASARI_SPIKES = {"class6/1+class6/2+class6/3": (50.0, 130.0, 210.0, 330.0, 345.0, 470.0, 520.0),
                "class6/3+class6/1+class6/1": (80.0, 260.0, 400.0)}
SPIKE_MV = 3.0


def segment_waveform(rel: str) -> np.ndarray:
    """The samples of segment ``class6/<k>.mat``: a tone of its own frequency, amplitude 0.4."""
    k = SEGMENT_FILES.index(rel)
    t = np.arange(int(ASARI_STIM_SF * SEGMENT_MS / 1000.0)) / ASARI_STIM_SF
    return 0.4 * np.sin(2 * np.pi * (500 + 700 * k) * t + 0.3)


def sequence_duration_ms(name: str) -> float:
    return SEGMENT_MS * len(SEQUENCES[name])


def asari_response(name: str, t_s: np.ndarray) -> np.ndarray:
    """The noise-free whole-cell response (mV) to a sequence at times ``t_s`` from its onset; 0 outside."""
    k = list(SEQUENCES).index(name)
    r = 4.0 * np.sin(2 * np.pi * (14 + 5 * k) * t_s + k) + 2.0 * np.sin(2 * np.pi * (29 + 3 * k) * t_s)
    return np.where((t_s >= 0) & (t_s < sequence_duration_ms(name) / 1000.0), r, 0.0)


def _struct_array(rows, fields):
    out = np.zeros((1, len(rows)), dtype=[(f, object) for f in fields])
    for i, row in enumerate(rows):
        for f in fields:
            out[0, i][f] = row[f]
    return out


def write_asari(base: Path, cells=None, seed: int = 0, tone_trigger: bool = True) -> Path:
    """Write the Asari files under ``base`` (the download folder); returns ``base``. One recording file per
    session holding every repeat: the sequences in turn, ``ASARI_REPEATS`` times, ``GAP_MS`` apart."""
    from scipy.io import savemat

    cells = ASARI_CELLS if cells is None else cells
    stimuli = base / "crcns-ac1" / "asari" / "Stimuli"
    for rel in SEGMENT_FILES:
        path = stimuli / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        savemat(path, {"stimulus": {"sample": segment_waveform(rel), "param": {"sf": float(ASARI_STIM_SF)}}})
    rng = np.random.default_rng(seed)
    for session, (k, site, kind, listed, heard) in cells.items():
        folder = base / f"crcns-ac1-asari-results-{k}" / f"asari-results-{k}" / session
        folder.mkdir(parents=True, exist_ok=True)
        plays = [name for _ in range(ASARI_REPEATS) for name in heard]
        onsets_ms, t_ms = [], ASARI_PRE_MS
        for name in plays:
            onsets_ms.append(t_ms)
            t_ms += sequence_duration_ms(name) + GAP_MS
        n = int(ASARI_RESP_SF * t_ms / 1000.0)
        t = np.arange(n) / ASARI_RESP_SF
        attached = "attached" in kind
        v = (-20.0 if attached else REST_MV + DRIFT_MV_PER_S * t) + (0.05 if attached else 0.8) * rng.standard_normal(n)
        triggers = []
        for i, (name, onset) in enumerate(zip(plays, onsets_ms)):
            if attached:
                for spike_ms in ASARI_SPIKES[name]:
                    start = int(round((onset + spike_ms) * ASARI_RESP_SF / 1000.0))
                    v[start: start + 4] += SPIKE_MV  # a 1 ms spike
            else:
                v += asari_response(name, t - onset / 1000.0)
            positions = " ".join(str(listed.index(f) + 1) for f in SEQUENCES[name])
            triggers.append({"type": "naturalsound", "time": float(int(round(onset * ASARI_RESP_SF / 1000.0)) + 1),
                             "param": {"description": f"Sequence {list(SEQUENCES).index(name) + 1}:  {positions}",
                                       "duration": sequence_duration_ms(name)}})
        if tone_trigger:
            triggers.append({"type": "tone", "time": 1.0, "param": {"description": "tone 4 kHz", "duration": 50.0}})
        savemat(folder / f"{session}-001.mat", asari_recording(v, listed, site, kind, triggers))
    return base


def asari_recording(v_mv: np.ndarray, listed, site: str, kind: str, triggers) -> dict:
    """The variables of one Asari recording file."""
    return {"response": {"trace": (np.asarray(v_mv) / SCALE).astype(np.float64), "scale": SCALE,
                         "sf": ASARI_RESP_SF},
            "param": {"stimulus": _struct_array([{"file": f} for f in listed], ["file"]),
                      "recording": {"site": site, "type": kind}},
            "triggers": _struct_array(triggers, ["type", "time", "param"])}


def asari_files(base: Path, session: str) -> List[Path]:
    k = ASARI_CELLS[session][0]
    return sorted((base / f"crcns-ac1-asari-results-{k}" / f"asari-results-{k}" / session).glob("*.mat"))
