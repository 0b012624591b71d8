"""Data exports: per-neuron metrics (CSV), predictions and gradmaps (NPZ), runs summary (CSV), sounds (WAV).

Qt-free. Every writer goes through :mod:`strfviewer.io.atomic`, so an export that fails half-way (an
exception, a full disk, a killed process) leaves any previous file at the same path untouched.

File layouts (documented for users in ``docs/exports.md``):

* metrics CSV: one row per neuron, columns ``neuron, name`` then ``<split>_cc, <split>_cc_max,
  <split>_cc_norm`` for each split present (``train``, ``val``, ``test``), then any extra per-neuron columns
  (the app and ``strfviewer export`` add :func:`response_column`: ``n_spikes``, or ``mean_mV`` for a continuous
  dataset).
  NaN (undefined) is written as an empty cell.
* results NPZ (``numpy.load(path)`` works without ``allow_pickle``):

  ``neuron_names (N,)`` str, ``freqs_hz (F,)`` float64 Hz, ``dt_ms ()`` float64, ``lags_ms (T,)`` float64
  (oldest lag first, last is 0), and when given ``gradmaps (N, C, F, T)`` float32, ``stimulus_names (S,)`` str,
  ``stimulus_frames (S,)`` int64, ``predictions (S, N, T_max)`` float32 (NaN-padded after each stimulus'
  own length), ``recorded_psth (S, N, T_max)`` float32 (same padding).
* runs summary CSV: one row per run (see :data:`RUN_COLUMNS`).
* WAV: mono, 16-bit PCM by default, samples clipped to [-1, 1].
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy as np

from strfviewer.data.lags import lags_axis_ms
from strfviewer.io.atomic import atomic_path, atomic_write_text

PathLike = Union[str, os.PathLike]

SPLIT_ORDER = ("train", "val", "test")
METRIC_FIELDS = ("cc", "cc_max", "cc_norm")

#: columns of the runs summary CSV, in order
RUN_COLUMNS = ("run", "name", "family", "kernel", "prefilter", "method", "status", "n_params",
               "n_neurons", "val_cc_norm_median", "test_cc_norm_median", "test_cc_norm_mean", "seconds",
               "device", "checkpoint", "message")


class ExportError(ValueError):
    """An export could not be written; the message names the file and the reason."""

    def __init__(self, path: PathLike, message: str):
        super().__init__(f"{path}: {message}")
        self.path = Path(path)


# ----------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------
def _metric_array(metrics: Any, field: str) -> Optional[np.ndarray]:
    """``metrics.field`` or ``metrics[field]`` as a float array, or None when absent."""
    if metrics is None:
        return None
    value = metrics.get(field) if isinstance(metrics, Mapping) else getattr(metrics, field, None)
    if value is None:
        return None
    return np.asarray(value, dtype=float).reshape(-1)


def _cell(value: Any) -> str:
    """A CSV cell: floats with full precision, NaN/None as empty."""
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return "" if not math.isfinite(float(value)) else repr(float(value))
    if isinstance(value, (np.integer,)):
        return str(int(value))
    return str(value)


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(header))
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buf.getvalue()


# ----------------------------------------------------------------------------------------------------
# per-neuron metrics
# ----------------------------------------------------------------------------------------------------
def metrics_table(neuron_names: Sequence[str], metrics: Mapping[str, Any],
                  extra: Optional[Mapping[str, Sequence[Any]]] = None) -> tuple:
    """Header and rows of the per-neuron metrics table.

    ``metrics`` maps a split name ('train'|'val'|'test') to a ``NeuronMetrics``-like object (attributes or keys
    ``cc``, ``cc_max``, ``cc_norm``, each ``(N,)``). ``extra`` adds per-neuron columns (each ``(N,)``).
    Raises ``ValueError`` when a column's length is not ``N``.
    """
    names = [str(n) for n in neuron_names]
    n = len(names)
    header: List[str] = ["neuron", "name"]
    columns: List[np.ndarray] = []
    splits = [s for s in SPLIT_ORDER if s in metrics] + sorted(s for s in metrics if s not in SPLIT_ORDER)
    for split in splits:
        for field in METRIC_FIELDS:
            arr = _metric_array(metrics[split], field)
            if arr is None:
                continue
            if arr.shape[0] != n:
                raise ValueError(f"metric {split}.{field} has {arr.shape[0]} values for {n} neurons")
            header.append(f"{split}_{field}")
            columns.append(arr)
    for key, values in (extra or {}).items():
        values = list(values)
        if len(values) != n:
            raise ValueError(f"column {key!r} has {len(values)} values for {n} neurons")
        header.append(str(key))
        columns.append(np.asarray(values, dtype=object))
    rows = [[i, names[i]] + [col[i] for col in columns] for i in range(n)]
    return header, rows


def spike_counts(dataset) -> List[float]:
    """Total spike count ``(N,)`` of each neuron of a ``NeuralDataset`` over all stimuli and trials (NaN
    entries ignored): the ``n_spikes`` column of the metrics CSV."""
    total = np.zeros(dataset.n_neurons)
    for stim in dataset.stimuli:
        total += np.nansum(stim.responses, axis=(1, 2))
    return [float(v) for v in total]


def mean_responses(dataset) -> List[float]:
    """Mean response ``(N,)`` of each neuron over all stimuli, trials and bins (NaN entries ignored; NaN for
    a neuron without any value)."""
    total, count = np.zeros(dataset.n_neurons), np.zeros(dataset.n_neurons)
    for stim in dataset.stimuli:
        total += np.nansum(stim.responses, axis=(1, 2))
        count += np.isfinite(stim.responses).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return [float(v) for v in np.where(count > 0, total / np.maximum(count, 1), np.nan)]


@dataclass(frozen=True)
class ResponseColumn:
    """The per-neuron response summary of a dataset: ``column`` (CSV name), ``header`` (table), ``tip`` and
    ``values (N,)``: total spikes for counts, the mean in the dataset's unit (``mean_mV``) for continuous
    responses, whose sum means nothing."""

    column: str
    header: str
    tip: str
    values: List[float]


def response_column(dataset) -> ResponseColumn:
    """:class:`ResponseColumn` of ``dataset`` (see there)."""
    if getattr(dataset, "is_continuous", False):
        unit = dataset.response_unit
        return ResponseColumn(f"mean_{unit}", f"mean\n{unit}", f"mean response ({unit}) over all stimuli, trials "
                                                              "and bins", mean_responses(dataset))
    return ResponseColumn("n_spikes", "spikes", "spikes over all stimuli and trials", spike_counts(dataset))


def response_extra(dataset) -> Dict[str, List[float]]:
    """The metrics CSV's response column of ``dataset`` (``n_spikes`` or ``mean_<unit>``) as ``extra``."""
    col = response_column(dataset)
    return {col.column: col.values}


def write_metrics_csv(path: PathLike, neuron_names: Sequence[str], metrics: Mapping[str, Any],
                      extra: Optional[Mapping[str, Sequence[Any]]] = None) -> Path:
    """Write the per-neuron metrics CSV (one row per neuron) atomically; returns the path."""
    header, rows = metrics_table(neuron_names, metrics, extra)
    return atomic_write_text(path, _csv_text(header, rows))


# ----------------------------------------------------------------------------------------------------
# predictions and gradmaps
# ----------------------------------------------------------------------------------------------------
def _stack_ragged(per_stimulus: Sequence[np.ndarray], n_rows: int, what: str) -> np.ndarray:
    """Stack ``(N, T_s)`` arrays into ``(S, N, T_max)`` float32, NaN-padded."""
    t_max = max((a.shape[-1] for a in per_stimulus), default=0)
    out = np.full((len(per_stimulus), n_rows, t_max), np.nan, dtype=np.float32)
    for s, a in enumerate(per_stimulus):
        a = np.asarray(a, dtype=np.float32)
        if a.ndim != 2 or a.shape[0] != n_rows:
            raise ValueError(f"{what} #{s} has shape {a.shape}, expected ({n_rows}, T)")
        out[s, :, : a.shape[1]] = a
    return out


def results_arrays(neuron_names: Sequence[str], freqs_hz: Sequence[float], dt_ms: float, *,
                   gradmaps: Optional[np.ndarray] = None, lags_ms: Optional[Sequence[float]] = None,
                   predictions: Optional[Mapping[str, np.ndarray]] = None,
                   recorded: Optional[Mapping[str, np.ndarray]] = None,
                   extra: Optional[Mapping[str, np.ndarray]] = None) -> Dict[str, np.ndarray]:
    """The arrays of a results NPZ (see the module docstring for names and shapes).

    ``gradmaps`` is ``(N, C, F, T)`` (a ``(N, F, T)`` array gets C=1); ``lags_ms`` defaults to
    ``-(T-1)*dt .. 0``. ``predictions`` / ``recorded`` map stimulus name -> ``(N, T_s)``; ``recorded`` must
    name the same stimuli as ``predictions`` (missing ones are NaN).
    """
    names = [str(n) for n in neuron_names]
    n = len(names)
    freqs = np.asarray(freqs_hz, dtype=np.float64).reshape(-1)
    arrays: Dict[str, np.ndarray] = {
        "neuron_names": np.asarray(names, dtype=str),
        "freqs_hz": freqs,
        "dt_ms": np.asarray(float(dt_ms), dtype=np.float64),
    }
    T = None
    if gradmaps is not None:
        g = np.asarray(gradmaps, dtype=np.float32)
        if g.ndim == 3:
            g = g[:, None]
        if g.ndim != 4 or g.shape[0] != n or g.shape[2] != freqs.shape[0]:
            raise ValueError(f"gradmaps have shape {g.shape}, expected ({n}, C, {freqs.shape[0]}, T)")
        arrays["gradmaps"] = g
        T = g.shape[-1]
    if lags_ms is not None:
        lags = np.asarray(lags_ms, dtype=np.float64).reshape(-1)
        if T is not None and lags.shape[0] != T:
            raise ValueError(f"lags_ms has {lags.shape[0]} values for gradmaps with T={T}")
        arrays["lags_ms"] = lags
    elif T is not None:
        arrays["lags_ms"] = lags_axis_ms(T, dt_ms)
    if predictions:
        stim_names = list(predictions)
        arrays["stimulus_names"] = np.asarray(stim_names, dtype=str)
        preds = [np.asarray(predictions[s]) for s in stim_names]
        arrays["stimulus_frames"] = np.asarray([p.shape[-1] for p in preds], dtype=np.int64)
        arrays["predictions"] = _stack_ragged(preds, n, "prediction")
        if recorded:
            rec = [np.asarray(recorded[s]) if s in recorded
                   else np.full((n, p.shape[-1]), np.nan, np.float32) for s, p in zip(stim_names, preds)]
            arrays["recorded_psth"] = _stack_ragged(rec, n, "recorded PSTH")
    for key, value in (extra or {}).items():
        if key in arrays:
            raise ValueError(f"extra array {key!r} would overwrite a standard array")
        arrays[key] = np.asarray(value)
    return arrays


def write_npz(path: PathLike, arrays: Mapping[str, np.ndarray], compressed: bool = True) -> Path:
    """Write ``arrays`` to an ``.npz`` atomically (no object arrays, so loading needs no pickle)."""
    for key, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise ExportError(path, f"array {key!r} has dtype object; refusing to write a pickle-dependent NPZ")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            (np.savez_compressed if compressed else np.savez)(fh, **{k: np.asarray(v) for k, v in arrays.items()})
    return Path(path)


def write_results_npz(path: PathLike, neuron_names: Sequence[str], freqs_hz: Sequence[float], dt_ms: float,
                      **kwargs: Any) -> Path:
    """Predictions and/or gradmaps as an NPZ (see :func:`results_arrays` for the keyword arguments)."""
    return write_npz(path, results_arrays(neuron_names, freqs_hz, dt_ms, **kwargs))


# ----------------------------------------------------------------------------------------------------
# runs summary
# ----------------------------------------------------------------------------------------------------
def _attr(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _nan_stat(values: Optional[np.ndarray], fn) -> float:
    if values is None:
        return float("nan")
    finite = values[np.isfinite(values)]
    return float(fn(finite)) if finite.size else float("nan")


def run_summary_row(run: Any) -> Dict[str, Any]:
    """One summary row for a session ``Run`` (duck-typed: missing attributes give empty cells)."""
    spec = _attr(run, "spec")
    request = _attr(run, "request")
    outcome = _attr(run, "outcome")
    model = _attr(run, "model") or _attr(outcome, "model")
    get_metrics = getattr(run, "get_metrics", None)
    metrics = (get_metrics() if callable(get_metrics) else None) or _attr(outcome, "metrics") or {}
    val = _metric_array(metrics.get("val"), "cc_norm") if metrics else None
    test = _metric_array(metrics.get("test"), "cc_norm") if metrics else None
    n_params = None
    if model is not None and hasattr(model, "parameters"):
        try:
            n_params = int(sum(p.numel() for p in model.parameters()))
        except Exception:  # a model that cannot list parameters still gets a row
            n_params = None
    n_neurons = _attr(model, "N")
    if n_neurons is None and test is not None:
        n_neurons = test.shape[0]
    path = _attr(run, "checkpoint_path")
    return {
        "run": _attr(run, "id", ""),
        "name": _attr(run, "name", ""),
        "family": _attr(spec, "family", ""),
        "kernel": _attr(spec, "kernel", ""),
        "prefilter": _attr(spec, "prefilter", ""),
        "method": _attr(request, "method", ""),
        "status": _attr(run, "status", ""),
        "n_params": n_params,
        "n_neurons": n_neurons,
        "val_cc_norm_median": _nan_stat(val, np.median),
        "test_cc_norm_median": _nan_stat(test, np.median),
        "test_cc_norm_mean": _nan_stat(test, np.mean),
        "seconds": _attr(outcome, "seconds"),
        "device": _attr(outcome, "device", ""),
        "checkpoint": "" if path is None else str(path),
        "message": _attr(run, "message", "") or _attr(outcome, "message", "") or "",
    }


def write_runs_summary_csv(path: PathLike, runs: Iterable[Any]) -> Path:
    """All runs' summary (one row per run, columns :data:`RUN_COLUMNS`) as a CSV, atomically."""
    rows = [run_summary_row(r) for r in runs]
    return atomic_write_text(path, _csv_text(RUN_COLUMNS, ([r[c] for c in RUN_COLUMNS] for r in rows)))


# ----------------------------------------------------------------------------------------------------
# sounds
# ----------------------------------------------------------------------------------------------------
def write_wav(path: PathLike, samples: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> Path:
    """Write mono ``samples (T_audio,)`` (floats, clipped to [-1, 1]) at ``sample_rate`` Hz as WAV, atomically."""
    import soundfile  # runtime dependency; imported here so the module loads fast

    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    if x.size == 0:
        raise ExportError(path, "no samples to write")
    if not np.all(np.isfinite(x)):
        raise ExportError(path, "samples contain NaN or infinite values")
    if int(sample_rate) <= 0:
        raise ExportError(path, f"invalid sample rate {sample_rate!r}")
    x = np.clip(x, -1.0, 1.0)
    with atomic_path(path) as tmp:
        soundfile.write(str(tmp), x, int(sample_rate), subtype=subtype, format="WAV")
    return Path(path)


# ----------------------------------------------------------------------------------------------------
# dreams
# ----------------------------------------------------------------------------------------------------
def dream_arrays(result: Any, neuron_names: Sequence[str], freqs_hz: Sequence[float], dt_ms: float
                 ) -> Dict[str, np.ndarray]:
    """The arrays of a dream NPZ (same keys as ``strfviewer dream --out``) for a ``DreamResult``.

    ``stimulus (K, 1, F, T)`` float32, ``responses (steps + 1, K)``, ``losses (steps,)``, ``neurons (K',)``,
    ``neuron_names (K',)`` (the dreamt neurons' names), ``freqs_hz (F,)``, ``lags_ms (T,)``, ``dt_ms``,
    ``population``, ``cancelled``, ``settings`` (JSON text).
    """
    import json

    stimulus = result.stimulus
    stimulus = stimulus.detach().cpu().numpy() if hasattr(stimulus, "detach") else np.asarray(stimulus)
    index = [int(i) for i in result.neurons]
    settings = {k: (v if isinstance(v, (str, int, float, bool, type(None), list, tuple)) else repr(v))
                for k, v in dict(getattr(result, "settings", {}) or {}).items()}
    return {
        "stimulus": stimulus.astype(np.float32),
        "responses": np.asarray(result.responses, dtype=np.float32),
        "losses": np.asarray(result.losses, dtype=np.float32),
        "neurons": np.asarray(index, dtype=np.int64),
        "neuron_names": np.asarray([str(neuron_names[i]) for i in index], dtype=str),
        "freqs_hz": np.asarray(freqs_hz, dtype=np.float64),
        "lags_ms": lags_axis_ms(stimulus.shape[-1], dt_ms),
        "dt_ms": np.asarray(float(dt_ms)),
        "population": np.asarray(bool(result.population)),
        "cancelled": np.asarray(bool(result.cancelled)),
        "settings": np.asarray(json.dumps(settings)),
    }


def write_table_csv(path: PathLike, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Any table as a CSV (floats in full precision, NaN as empty), atomically; returns the path."""
    return atomic_write_text(path, _csv_text(header, rows))
