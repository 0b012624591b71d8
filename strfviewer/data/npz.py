"""strfviewer's plain NPZ format for already-binned data (see ``docs/data-formats.md``).

Keys (``S`` stimuli, ``N`` neurons, ``R`` trials, ``F`` bands, ``T`` the longest stimulus in frames):

* ``spec``         ``(S, F, T)`` float32 spectrograms, padded after each stimulus's end (padding ignored)
* ``responses``    ``(S, N, R, T)`` float32 counts per bin and trial; NaN = missing (neuron not recorded,
  trial absent); padding ignored
* ``dt_ms``        scalar, bin width in ms
* optional: ``n_frames (S,)`` int (defaults to ``T`` for every stimulus), ``freqs_hz (F,)`` (defaults to
  ``1..F``, with a warning), ``stim_names (S,)`` str, ``neuron_names (N,)`` str, ``split (S,)`` str of
  train/val/test, ``waveforms (S, T_audio)`` float32 + ``n_samples (S,)`` + ``sample_rate`` scalar,
  ``frontend_json``, ``stim_metadata_json``, ``neuron_metadata_json``, ``warnings_json`` (JSON strings),
  ``format`` ("strfviewer-binned-v1"), ``response_kind`` str (``counts``, the default, or ``continuous``:
  ``responses`` then hold a signed signal such as mV) and ``response_unit`` str (``spikes``, ``mV``).
* optional spike times (all three or none; files without them load with ``spike_times = None``):
  ``spike_n_trials (S, N)`` int, the number of trials with spike times of each (stimulus, neuron), ``-1``
  where there are none; ``spike_trial_sizes (M,)`` int, the number of spikes of each of those trials, in
  stimulus, neuron, trial order; ``spike_times (K,)`` float64, their times in ms from stimulus onset, each
  in ``[0, n_frames * dt_ms)``, concatenated in the same order (``K = sum(spike_trial_sizes)``).

Files are read with ``allow_pickle=False``: object arrays are refused.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Union

import numpy as np

from strfviewer.data import limits
from strfviewer.data.dataset import RESPONSE_KINDS, SPLITS, NeuralDataset, SpikeTimes, Stimulus
from strfviewer.data.errors import DataError
from strfviewer.data.spikes import frame_index

FORMAT = "strfviewer-binned-v1"
SPIKE_KEYS = ("spike_n_trials", "spike_trial_sizes", "spike_times")


def save_npz(dataset: NeuralDataset, path: Union[str, Path]) -> Path:
    """Write ``dataset`` to ``path`` (atomically) in the format above; returns the path."""
    from strfviewer.io.atomic import atomic_write_bytes

    S, F, N = len(dataset.stimuli), dataset.n_freqs, dataset.n_neurons
    T = max(s.n_frames for s in dataset.stimuli)
    R = max(s.responses.shape[1] for s in dataset.stimuli)
    spec = np.zeros((S, F, T), dtype=np.float32)
    responses = np.full((S, N, R, T), np.nan, dtype=np.float32)
    for i, s in enumerate(dataset.stimuli):
        spec[i, :, : s.n_frames] = s.spec[0]
        responses[i, :, : s.responses.shape[1], : s.n_frames] = s.responses
    arrays: Dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "spec": spec,
        "responses": responses,
        "n_frames": np.array([s.n_frames for s in dataset.stimuli], dtype=np.int64),
        "dt_ms": np.array(float(dataset.dt_ms)),
        "freqs_hz": np.asarray(dataset.freqs_hz, dtype=np.float64),
        "stim_names": np.array([s.name for s in dataset.stimuli], dtype=str),
        "neuron_names": np.array(dataset.neuron_names, dtype=str),
        "split": np.array([dataset.split.get(s.name, "") for s in dataset.stimuli], dtype=str),
        "frontend_json": np.array(json.dumps(dataset.frontend, default=_jsonable)),
        "stim_metadata_json": np.array(json.dumps([s.metadata for s in dataset.stimuli], default=_jsonable)),
        "neuron_metadata_json": np.array(json.dumps(dataset.neuron_metadata, default=_jsonable)),
        "warnings_json": np.array(json.dumps(dataset.warnings)),
        "name": np.array(dataset.name),
        "response_kind": np.array(dataset.response_kind),
        "response_unit": np.array(dataset.response_unit),
    }
    waves = [s.waveform for s in dataset.stimuli]
    rates = {s.sample_rate for s in dataset.stimuli}
    if all(w is not None for w in waves) and len(rates) == 1:
        n_samples = np.array([len(w) for w in waves], dtype=np.int64)
        padded = np.zeros((S, int(n_samples.max())), dtype=np.float32)
        for i, w in enumerate(waves):
            padded[i, : len(w)] = w
        arrays.update(waveforms=padded, n_samples=n_samples, sample_rate=np.array(int(rates.pop())))
    if dataset.has_spike_times:
        arrays.update(_pack_spike_times(dataset))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return atomic_write_bytes(path, buffer.getvalue())


def _pack_spike_times(dataset: NeuralDataset) -> Dict[str, np.ndarray]:
    """The three ``spike_*`` arrays of the format (see the module docstring)."""
    n_trials = np.full((len(dataset.stimuli), dataset.n_neurons), -1, dtype=np.int64)
    sizes: List[int] = []
    times: List[np.ndarray] = []
    for i, stim in enumerate(dataset.stimuli):
        for n, trials in enumerate(stim.spike_times or []):
            if trials is None:
                continue
            n_trials[i, n] = len(trials)
            for t in trials:
                sizes.append(len(t))
                times.append(np.asarray(t, dtype=np.float64).reshape(-1))
    return {"spike_n_trials": n_trials, "spike_trial_sizes": np.asarray(sizes, dtype=np.int64),
            "spike_times": np.concatenate(times) if times else np.zeros(0, dtype=np.float64)}


def _unpack_spike_times(data: Dict[str, np.ndarray], path: Path, names: List[str], n_frames: np.ndarray,
                        n_trials_max: int, n_neurons: int, dt_ms: float) -> List[Optional[SpikeTimes]]:
    """Per stimulus, the spike times stored under the ``spike_*`` keys (``None`` for every stimulus when the
    file has none); DataError naming the key for arrays that do not fit together."""
    S = len(names)
    present = [k for k in SPIKE_KEYS if k in data]
    if not present:
        return [None] * S
    if len(present) != len(SPIKE_KEYS):
        missing = next(k for k in SPIKE_KEYS if k not in data)
        raise DataError(path, None, f"missing key {missing!r}: spike times need {', '.join(SPIKE_KEYS)}")
    counts = np.asarray(data["spike_n_trials"])
    sizes = np.asarray(data["spike_trial_sizes"]).reshape(-1)
    times = np.asarray(data["spike_times"]).reshape(-1)
    if counts.shape != (S, n_neurons) or not np.issubdtype(counts.dtype, np.integer):
        raise DataError(path, None, f"'spike_n_trials' must be integers of shape ({S}, {n_neurons}), "
                                    f"got {counts.dtype} {counts.shape}")
    if np.any(counts < -1) or np.any(counts > n_trials_max):
        raise DataError(path, None, f"'spike_n_trials' values must be -1 (no times) or 0..{n_trials_max} trials")
    if len(sizes) != int(counts[counts > 0].sum()) or not np.issubdtype(sizes.dtype, np.integer) \
            or np.any(sizes < 0):
        raise DataError(path, None, f"'spike_trial_sizes' must hold {int(counts[counts > 0].sum())} spike counts "
                                    "(>= 0), one per trial that 'spike_n_trials' announces")
    if len(times) != int(sizes.sum()) or not np.issubdtype(times.dtype, np.floating):
        raise DataError(path, None, f"'spike_times' must hold {int(sizes.sum())} times in ms (floats), "
                                    f"as 'spike_trial_sizes' adds up to; got {len(times)} {times.dtype}")
    out: List[Optional[SpikeTimes]] = []
    trial = start = 0
    for i in range(S):
        end_ms = float(n_frames[i]) * dt_ms  # for the message; the test is the binning's own
        per_neuron: SpikeTimes = []
        for n in range(n_neurons):
            if counts[i, n] < 0:
                per_neuron.append(None)
                continue
            trials = []
            for size in sizes[trial: trial + counts[i, n]]:
                t = np.sort(times[start: start + size].astype(np.float64))
                if t.size and not frame_index(t, int(n_frames[i]), dt_ms)[1].all():
                    raise DataError(path, None, f"'spike_times' of stimulus {names[i]!r}: times must be finite, in "
                                                f"[0, {end_ms:g}) ms (the stimulus), got {t[0]:g} .. {t[-1]:g}")
                trials.append(t)
                start += int(size)
            trial += int(counts[i, n])
            per_neuron.append(trials)
        out.append(None if all(t is None for t in per_neuron) else per_neuron)
    return out


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _json(data, key: str, path: Path, default):
    """The JSON value stored under ``key`` (``default`` when absent); it must have ``default``'s type."""
    if key not in data:
        return default
    try:
        value = json.loads(str(data[key][()]))
    except (ValueError, TypeError) as exc:
        raise DataError(path, None, f"key {key!r} is not valid JSON text ({exc})") from None
    if not isinstance(value, type(default)):
        raise DataError(path, None, f"key {key!r} holds a JSON {type(value).__name__}, "
                                    f"expected a {type(default).__name__}")
    return value


def _magic(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(2)


def load_npz(path: Union[str, Path]) -> NeuralDataset:
    """Read a dataset written by :func:`save_npz` or by hand in the same format; DataError on bad files."""
    path = Path(path)
    if path.is_file() and _magic(path) != b"PK":  # not a zip: np.load would take it for a pickle or a .npy
        raise DataError(path, None, "not an NPZ file: expected a zip archive of arrays as numpy.savez writes "
                                    "(see docs/data-formats.md)")
    _check_declared_sizes(path)
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(path, None, f"unreadable NPZ file ({exc})") from None
    try:
        with npz:
            data = {k: _read_key(npz, k, path) for k in npz.files}
    except DataError:
        raise
    except Exception as exc:  # corrupt member inside the archive
        raise DataError(path, None, f"unreadable NPZ file ({exc})") from None
    return _dataset_from_arrays(data, path)


def _check_declared_sizes(path: Path) -> None:
    """Read each array's ``.npy`` header (shape, dtype) and refuse the file before any array is allocated when
    they declare more than :data:`limits.MAX_NPZ_BYTES` together (a damaged or hostile header)."""
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, _fortran, dtype = read(member)
                if any(int(n) < 0 for n in shape):
                    raise DataError(path, None, f"key {info.filename[:-4]!r} declares a negative size in its shape "
                                                f"{tuple(shape)} (a damaged array header)")
                n_bytes = float(np.prod([float(n) for n in shape])) * max(int(dtype.itemsize), 1)
                if dtype.kind != "O" and n_bytes > info.file_size:
                    raise DataError(path, None, f"key {info.filename[:-4]!r} declares shape {tuple(shape)} "
                                                f"({limits.size_text(n_bytes)}) but holds "
                                                f"{limits.size_text(info.file_size)}: a damaged array")
                total += n_bytes
                if total > limits.MAX_NPZ_BYTES:
                    raise DataError(path, None, f"key {info.filename[:-4]!r} declares shape {tuple(shape)} "
                                                f"({limits.size_text(n_bytes)}): the arrays would take more than "
                                                f"the {limits.size_text(limits.MAX_NPZ_BYTES)} strfviewer reads")
    except DataError:
        raise
    except Exception as exc:  # not a zip, a damaged member or header: np.load below words it
        if isinstance(exc, MemoryError):
            raise DataError(path, None, "unreadable NPZ file (a header asks for too much memory)") from None


def _read_key(npz, key: str, path: Path) -> np.ndarray:
    try:
        return npz[key]
    except ValueError as exc:  # object arrays need pickle: refused
        raise DataError(path, None, f"key {key!r} cannot be read without pickle ({exc})") from None


def _dataset_from_arrays(data: Dict[str, np.ndarray], path: Path) -> NeuralDataset:
    for key in ("spec", "responses", "dt_ms"):
        if key not in data:
            raise DataError(path, None, f"missing key {key!r} (need spec (S,F,T), responses (S,N,R,T), dt_ms)")
    spec = _numbers(data, "spec", path)
    responses = _numbers(data, "responses", path)
    if spec.ndim != 3:
        raise DataError(path, None, f"'spec' has shape {spec.shape}, expected (S, F, T)")
    if responses.ndim != 4:
        raise DataError(path, None, f"'responses' has shape {responses.shape}, expected (S, N, R, T)")
    S, F, T = spec.shape
    if responses.shape[0] != S or responses.shape[3] != T:
        raise DataError(path, None, f"'responses' shape {responses.shape} does not match 'spec' {spec.shape}: "
                                    "expected (S, N, R, T) with the same S and T")
    if S == 0 or responses.shape[1] == 0:
        raise DataError(path, None, "no stimuli or no neurons")
    bad = ~np.isfinite(spec)
    if bad.any():
        s, f, t = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(path, None, f"'spec' holds {int(bad.sum())} NaN or infinite value(s) (first at stimulus "
                                    f"{s}, band {f}, frame {t}); a spectrogram must be finite everywhere")
    if np.isinf(responses).any():
        raise DataError(path, None, "'responses' holds infinite values (NaN marks a missing value; inf is "
                                    "never valid)")
    try:
        dt_ms = float(data["dt_ms"])
    except (TypeError, ValueError):
        raise DataError(path, None, "'dt_ms' is not a number") from None
    if not dt_ms > 0:
        raise DataError(path, None, f"'dt_ms' must be > 0, got {dt_ms}")
    warnings: List[str] = [str(w) for w in _json(data, "warnings_json", path, [])]
    n_frames = np.asarray(data.get("n_frames", np.full(S, T)), dtype=np.int64).reshape(-1)
    if len(n_frames) != S or np.any(n_frames < 1) or np.any(n_frames > T):
        raise DataError(path, None, f"'n_frames' must hold {S} lengths between 1 and {T}")
    if "freqs_hz" in data:
        freqs = np.asarray(data["freqs_hz"], dtype=np.float64).reshape(-1)
        if len(freqs) != F:
            raise DataError(path, None, f"'freqs_hz' has {len(freqs)} values for {F} bands")
    else:
        freqs = np.arange(1, F + 1, dtype=np.float64)
        warnings.append("no band frequencies (freqs_hz) in the file: bands are numbered 1..F")
    names = _strings(data, "stim_names", S, path) or [f"stim{i + 1}" for i in range(S)]
    if len(set(names)) != S:
        raise DataError(path, None, "'stim_names' are not unique")
    neuron_names = _strings(data, "neuron_names", responses.shape[1], path) or \
        [f"neuron{i + 1}" for i in range(responses.shape[1])]
    split_list = _strings(data, "split", S, path)
    split = {}
    if split_list and any(split_list):
        bad = [p for p in split_list if p not in SPLITS]
        if bad:
            raise DataError(path, None, f"'split' value {bad[0]!r} is not one of {SPLITS}")
        split = dict(zip(names, split_list))
    stim_meta = _json(data, "stim_metadata_json", path, [{} for _ in range(S)])
    neuron_meta = _json(data, "neuron_metadata_json", path, [])
    if len(stim_meta) != S or not all(isinstance(m, dict) for m in stim_meta):
        raise DataError(path, None, f"'stim_metadata_json' must be a list of {S} objects")
    if neuron_meta and (len(neuron_meta) != responses.shape[1] or not all(isinstance(m, dict) for m in neuron_meta)):
        raise DataError(path, None, f"'neuron_metadata_json' must be a list of {responses.shape[1]} objects")
    waves, rate = _waveforms(data, S, path)
    spike_times = _unpack_spike_times(data, path, names, n_frames, responses.shape[2], responses.shape[1], dt_ms)
    stimuli = []
    for i in range(S):
        t = int(n_frames[i])
        # trials that are NaN over the whole stimulus are padding of ragged trial counts: keep them (NaN)
        stimuli.append(Stimulus(names[i], spec[i : i + 1, :, :t].copy(), responses[i, :, :, :t].copy(),
                                waves[i], rate, dict(stim_meta[i]), spike_times=spike_times[i]))
    frontend = _json(data, "frontend_json", path, {})
    kind = str(data["response_kind"][()]) if "response_kind" in data else "counts"
    if kind not in RESPONSE_KINDS:
        raise DataError(path, None, f"'response_kind' is {kind!r}, expected one of {', '.join(RESPONSE_KINDS)}")
    try:
        return NeuralDataset(stimuli, neuron_names, freqs, dt_ms, split=split, frontend=frontend,
                             neuron_metadata=neuron_meta,
                             source=str(path), name=str(data["name"][()]) if "name" in data else path.stem,
                             warnings=warnings, response_kind=kind,
                             response_unit=str(data["response_unit"][()]) if "response_unit" in data else "")
    except ValueError as exc:
        raise DataError(path, None, str(exc)) from None


def _numbers(data, key: str, path: Path) -> np.ndarray:
    """``data[key]`` as float32; :class:`DataError` naming the key when it does not hold numbers."""
    value = np.asarray(data[key])
    if value.dtype.kind not in "biuf":
        raise DataError(path, None, f"{key!r} holds {value.dtype} values ({value.dtype.kind!r} kind), expected "
                                    "numbers (float32)")
    with np.errstate(over="ignore"):
        return value.astype(np.float32, copy=False)


def _strings(data, key: str, n: int, path: Path) -> List[str]:
    if key not in data:
        return []
    values = [str(v) for v in np.asarray(data[key]).reshape(-1)]
    if len(values) != n:
        raise DataError(path, None, f"{key!r} has {len(values)} entries, expected {n}")
    return values


def _waveforms(data, S: int, path: Path):
    if "waveforms" not in data:
        return [None] * S, None
    waves = np.asarray(data["waveforms"], dtype=np.float32)
    if waves.ndim != 2 or waves.shape[0] != S or "sample_rate" not in data:
        raise DataError(path, None, "'waveforms' must be (S, T_audio) with a 'sample_rate'")
    n_samples = np.asarray(data.get("n_samples", np.full(S, waves.shape[1])), dtype=np.int64).reshape(-1)
    if len(n_samples) != S or np.any(n_samples < 0) or np.any(n_samples > waves.shape[1]):
        raise DataError(path, None, f"'n_samples' must hold {S} lengths up to {waves.shape[1]}")
    return [waves[i, : n_samples[i]].copy() for i in range(S)], int(data["sample_rate"])
