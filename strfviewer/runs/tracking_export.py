"""Recorded runs out to the experiment trackers users already have: TensorBoard event files and an MLflow
local file store (no server).

Per run: its settings (model spec, fit request, front-end, dataset) as parameters, the per-epoch curves
(``train/loss``, ``val/loss``, ``val/cc``, ``val/cc_norm`` by epoch), and per split the final model's
per-neuron cc_norm: the mean as ``neurons/<split>_cc_norm`` with its 10th/50th/90th percentiles (``/p10``,
``/p50``, ``/p90``) and, in TensorBoard, a histogram ``neurons/<split>_cc_norm/hist`` (the layout deepSTRF's
TensorBoard logging uses for a per-neuron metric), at the last epoch's step; in MLflow, whose file store
turns metric keys into paths, the percentiles are ``neurons/<split>_cc_norm_p10`` etc., plus one metric per
neuron (``neurons/test_cc_norm_by_neuron/<neuron>``) and the table ``per_neuron.csv``. A run already
exported to ``DIR`` (same history id) is skipped.

TensorBoard files are written with ``tensorboardX`` (the ``tensorboard`` extra: a small writer without
TensorFlow or the TensorBoard server); MLflow with ``mlflow-skinny`` (the ``mlflow`` extra).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np

SPLITS = ("train", "val", "test")
#: curve key in ``metrics["curves"]`` -> scalar tag
CURVES = {"train_loss": "train/loss", "val_loss": "val/loss", "val_cc": "val/cc", "val_cc_norm": "val/cc_norm"}


class TrackerMissing(RuntimeError):
    """The optional library of an export is not installed (the message says what to install)."""


def _flatten(prefix: str, value: Any, out: Dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, (list, tuple)):
        if len(value) <= 16 and all(not isinstance(v, (dict, list)) for v in value):
            out[prefix] = json.dumps(list(value))
    elif value is not None:
        out[prefix] = value


def run_params(record) -> Dict[str, Any]:
    """A run's settings as flat ``{dotted.key: value}`` (model spec, fit request, front-end, dataset)."""
    out: Dict[str, Any] = {}
    _flatten("", record.config or {}, out)
    for key in ("family", "kernel", "prefilter", "method", "seed", "status", "dataset_path", "dataset_hash",
                "n_params", "device", "source", "version"):
        value = getattr(record, key, None)
        if value is not None and value != "":
            out.setdefault(key, value)
    out.pop("frontend.normalization.mean", None)
    out.pop("frontend.normalization.std", None)
    return out


def curves(record) -> Dict[str, List[Tuple[int, float]]]:
    """``{tag: [(epoch, value), ...]}`` of the per-epoch curves the run recorded (finite values only)."""
    raw = (record.metrics or {}).get("curves") or {}
    epochs = raw.get("epoch") or []
    out: Dict[str, List[Tuple[int, float]]] = {}
    for key, tag in CURVES.items():
        points = [(int(e), float(v)) for e, v in zip(epochs, raw.get(key) or []) if _finite(v)]
        if points:
            out[tag] = points
    return out


def per_neuron_cc_norm(record) -> Dict[str, np.ndarray]:
    """``{split: cc_norm (N,)}`` (NaN where undefined) of the splits the run scored."""
    out = {}
    for split in SPLITS:
        values = ((record.metrics or {}).get(split) or {}).get("cc_norm")
        if isinstance(values, list) and values:
            out[split] = np.array([v if _finite(v) else np.nan for v in values], dtype=np.float64)
    return out


def summary_stats(values: np.ndarray) -> Dict[str, float]:
    """Mean and 10/50/90th percentiles of the finite entries (``{}`` when none is finite)."""
    valid = values[np.isfinite(values)]
    if valid.size == 0:
        return {}
    p10, p50, p90 = np.percentile(valid, [10, 50, 90])
    return {"": float(valid.mean()), "/p10": float(p10), "/p50": float(p50), "/p90": float(p90)}


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _final_step(record) -> int:
    return int(record.epochs or 0)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "run"


def run_folder_name(record) -> str:
    return f"run-{record.id:05d}-{_slug(record.label())}"


# --- TensorBoard ---------------------------------------------------------------------------------------------
def export_tensorboard(records: Iterable, folder: os.PathLike) -> Tuple[int, int]:
    """Write every run's event file under ``folder/run-<id>-<label>/``; ``(written, skipped)``."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise TrackerMissing("--export-tensorboard needs tensorboardX: pip install 'strfviewer[tensorboard]'") \
            from None
    root = Path(folder).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    written = skipped = 0
    for record in records:
        logdir = root / run_folder_name(record)
        if logdir.exists():
            skipped += 1
            continue
        writer = SummaryWriter(logdir=str(logdir))
        try:
            params = run_params(record)
            writer.add_text("settings", "    " + json.dumps(params, indent=2, default=str).replace("\n", "\n    "), 0)
            for key, value in params.items():
                if _finite(value):
                    writer.add_scalar(f"hparams/{key}", float(value), 0)
            for tag, points in curves(record).items():
                for step, value in points:
                    writer.add_scalar(tag, value, step)
            step = _final_step(record)
            final = {}
            for split, values in per_neuron_cc_norm(record).items():
                for suffix, value in summary_stats(values).items():
                    writer.add_scalar(f"neurons/{split}_cc_norm{suffix}", value, step)
                    if suffix == "":
                        final[f"hparam/{split}_cc_norm"] = value
                valid = values[np.isfinite(values)]
                if valid.size:
                    writer.add_histogram(f"neurons/{split}_cc_norm/hist", valid, step)
            hparams = {k: v for k, v in params.items() if isinstance(v, (int, float, str, bool))}
            if final:
                writer.add_hparams(hparams, final, name="hparams")
        finally:
            writer.close()
        written += 1
    return written, skipped


# --- MLflow --------------------------------------------------------------------------------------------------
EXPERIMENT = "strfviewer"
_MLFLOW_STATUS = {"done": "FINISHED", "failed": "FAILED", "cancelled": "KILLED", "running": "RUNNING"}


def _mlflow_client(folder: Path):
    # MLflow 3 keeps the file store in maintenance mode behind this switch; a local folder is what users
    # without a tracking server have (``mlflow ui --backend-store-uri DIR``).
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # an export to a local folder sends nothing out
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise TrackerMissing("--export-mlflow needs mlflow: pip install 'strfviewer[mlflow]'") from None
    return MlflowClient(tracking_uri=folder.resolve().as_uri())


def _metric_key(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-. ]+", "_", text)[:200]


def _per_neuron_csv(record, per_neuron: Dict[str, np.ndarray]) -> str:
    buf = io.StringIO()
    out = csv.writer(buf)
    splits = list(per_neuron)
    out.writerow(["neuron"] + [f"{s}_cc_norm" for s in splits])
    names = record.neuron_names or [str(i) for i in range(len(next(iter(per_neuron.values()))))]
    for i, name in enumerate(names):
        out.writerow([name] + ["" if i >= len(per_neuron[s]) or not np.isfinite(per_neuron[s][i])
                               else f"{per_neuron[s][i]:.6g}" for s in splits])
    return buf.getvalue()


def export_mlflow(records: Iterable, folder: os.PathLike) -> Tuple[int, int]:
    """Log every run into the MLflow file store at ``folder`` (experiment ``strfviewer``);
    ``(written, skipped)``."""
    root = Path(folder).expanduser()
    client = _mlflow_client(root)
    from mlflow.entities import Metric, Param, RunTag

    root.mkdir(parents=True, exist_ok=True)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT)
    written = skipped = 0
    for record in records:
        found = client.search_runs([experiment_id], f"tags.strfviewer_run_id = '{record.id}'", max_results=1)
        if found:
            skipped += 1
            continue
        start = int((record.created or 0) * 1000)
        end = int((record.finished or record.created or 0) * 1000)
        run = client.create_run(experiment_id, start_time=start, run_name=record.label(),
                                tags={"strfviewer_run_id": str(record.id), "status": record.status})
        run_id = run.info.run_id
        params = [Param(k[:250], str(v)[:6000]) for k, v in run_params(record).items()]
        metrics: List[Metric] = []
        for tag, points in curves(record).items():
            metrics.extend(Metric(tag, value, start, step) for step, value in points)
        step = _final_step(record)
        per_neuron = per_neuron_cc_norm(record)
        for split, values in per_neuron.items():
            for suffix, value in summary_stats(values).items():  # the file store makes keys paths: no a/b + a/b/c
                metrics.append(Metric(f"neurons/{split}_cc_norm{suffix.replace('/', '_')}", value, end, step))
            names = record.neuron_names or [str(i) for i in range(len(values))]
            if split == "test":
                metrics.extend(Metric(f"neurons/test_cc_norm_by_neuron/{_metric_key(str(name))}", float(v), end,
                                      step) for name, v in zip(names, values) if np.isfinite(v))
        tags = [RunTag("error", str(record.error)[:5000])] if record.error else []
        for i in range(0, max(len(params), len(metrics), 1), 100):  # MLflow takes at most 100 params per batch
            client.log_batch(run_id, metrics=metrics[i:i + 100], params=params[i:i + 100],
                             tags=tags if i == 0 else [])
        if per_neuron:
            client.log_text(run_id, _per_neuron_csv(record, per_neuron), "per_neuron.csv")
        client.set_terminated(run_id, _MLFLOW_STATUS.get(record.status, "FINISHED"), end_time=end)
        written += 1
    return written, skipped
