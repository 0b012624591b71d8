"""Small hostile inputs for issue #14, generated at test time (nothing committed but this generator).

Every maker writes into ``folder`` and returns the path; a valid dataset is the starting point of each bad one,
so that a test fails for the one thing that was damaged."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

S, F, N, R, T, DT_MS = 6, 8, 3, 3, 80, 5.0


def npz_arrays(seed: int = 0) -> dict:
    """The arrays of a small valid NPZ dataset whose neurons respond to band 2 with a lag of 2 frames."""
    rng = np.random.default_rng(seed)
    spec = rng.standard_normal((S, F, T)).astype(np.float32)
    drive = np.roll(spec[:, 2:3, :], 2, axis=-1)  # (S, 1, T)
    rate = np.exp(0.5 * drive)[:, None, :, :] * np.ones((1, N, R, 1))  # (S, N, R, T)
    responses = rng.poisson(rate).astype(np.float32)
    return {"spec": spec, "responses": responses, "dt_ms": np.array(DT_MS),
            "freqs_hz": np.geomspace(500, 8000, F), "split": np.array(["train"] * 4 + ["val", "test"])}


def write_npz(folder: Path, name: str = "data.npz", **changes) -> Path:
    """A valid NPZ with ``changes`` applied (a value ``None`` removes that key)."""
    arrays = npz_arrays()
    for k, v in changes.items():
        if v is None:
            arrays.pop(k, None)
        else:
            arrays[k] = v
    path = Path(folder) / name
    np.savez(path, **arrays)
    return path


def nan_spec_npz(folder: Path) -> Path:
    spec = npz_arrays()["spec"]
    spec[1, 3, 10] = np.nan
    return write_npz(folder, "nan_spec.npz", spec=spec)


def all_nan_responses_npz(folder: Path) -> Path:
    return write_npz(folder, "all_nan.npz", responses=np.full((S, N, R, T), np.nan, np.float32))


def silent_npz(folder: Path) -> Path:
    """All stimuli silent: a constant spectrogram (the log floor)."""
    return write_npz(folder, "silent.npz", spec=np.full((S, F, T), -5.0, np.float32))


def no_spikes_npz(folder: Path) -> Path:
    return write_npz(folder, "no_spikes.npz", responses=np.zeros((S, N, R, T), np.float32))


def one_silent_neuron_npz(folder: Path) -> Path:
    responses = npz_arrays()["responses"]
    responses[:, 1] = 0.0
    return write_npz(folder, "one_silent_neuron.npz", responses=responses)


def string_spec_npz(folder: Path) -> Path:
    return write_npz(folder, "string_spec.npz", spec=np.array([["a", "b"], ["c", "d"]]))


def wav_bytes(samples: np.ndarray, rate: int, bits: int = 16) -> bytes:
    """A PCM WAV file of mono ``samples`` in [-1, 1] (8-bit unsigned or 16-bit signed)."""
    if bits == 8:
        data = np.clip(np.round(samples * 127 + 128), 0, 255).astype(np.uint8).tobytes()
    else:
        data = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2").tobytes()
    width = bits // 8
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * width, width, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def cell_folder(folder: Path, n_stim: int = 4, seconds: float = 0.5, rate: int = 16000, bits: int = 16,
                spikes=None, silent: bool = False) -> Path:
    """A cell folder (``stimK.wav`` + ``spikeK``); ``spikes(k, duration_ms) -> text`` overrides the spikes."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    duration_ms = seconds * 1000
    for k in range(1, n_stim + 1):
        x = np.zeros(int(seconds * rate)) if silent else 0.3 * rng.standard_normal(int(seconds * rate))
        (folder / f"stim{k}.wav").write_bytes(wav_bytes(np.clip(x, -1, 1), rate, bits))
        if spikes is None:
            lines = [" ".join(f"{t:.1f}" for t in np.sort(rng.uniform(0, duration_ms, 30))) for _ in range(3)]
            text = "\n".join(lines) + "\n"
        else:
            text = spikes(k, duration_ms)
        (folder / f"spike{k}").write_text(text)
    return folder
