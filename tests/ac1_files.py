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
