"""A finished fit on disk: its checkpoint folder and ``metrics.json``, as ``strfviewer fit --out`` and sweep trials
write them (both call :func:`write_output`; the app's run history stores :func:`metrics_json` too).

Layout of the folder: the checkpoint (``config.json``, ``model.safetensors``, ``metadata.json`` with the
front-end parameters, band frequencies in Hz, dt in ms, the model spec, the fit request, the metrics and the
neuron names, ``README.md``) and ``metrics.json``, NaN written as ``null``; written atomically.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any, Dict, Optional

from strfviewer.io.json_safe import json_safe

METRICS_FILE = "metrics.json"
#: files of an earlier fit output that may be replaced
OUTPUT_FILES = {"config.json", "model.safetensors", "metadata.json", "README.md", METRICS_FILE}


def metrics_json(outcome) -> Dict[str, Any]:
    """The ``metrics.json`` content of a :class:`FitOutcome` (NaN as ``None``)."""
    out: Dict[str, Any] = outcome.metrics_dict()
    out["epochs"] = outcome.history.n_epochs
    out["best_epoch"] = outcome.history.best_epoch
    per_neuron = getattr(outcome.history, "best_epoch_per_neuron", None)
    if per_neuron is not None:  # each neuron kept its own best epoch (models without shared parameters)
        out["best_epoch_per_neuron"] = list(per_neuron)
    if "batch_size" in (outcome.details or {}):
        out["batch_size"] = outcome.details["batch_size"]
    if isinstance((outcome.details or {}).get("warm_start"), str):  # how SGD started, e.g. "ridge components: ..."
        out["warm_start"] = outcome.details["warm_start"]
    out["seconds"] = round(float(outcome.seconds), 3)
    out["stopped"] = outcome.history.stopped
    out["message"] = outcome.message
    out["device"] = str(outcome.device)
    out["curves"] = epoch_curves(outcome.history)
    return out


def epoch_curves(history) -> Dict[str, Any]:
    """Per-epoch training curves of a fit: ``{"epoch": [1, 2, ...], "train_loss": [...], "val_loss": [...],
    "val_cc": [...], "val_cc_norm": [...]}`` (NaN as ``None``; empty lists for a ridge fit). Recorded in
    ``metrics.json`` and the run history so the curves can be exported later (TensorBoard, MLflow)."""
    keys = ("epoch", "train_loss", "val_loss", "val_cc", "val_cc_norm")
    epochs = list(getattr(history, "epochs", []) or [])
    out: Dict[str, Any] = {}
    for key in keys:
        values = [getattr(e, key, None) for e in epochs]
        out[key] = [None if isinstance(v, float) and not math.isfinite(v) else v for v in values]
    return out


def os_reason(exc: OSError) -> str:
    """The reason of an ``OSError`` without the temporary file names it may carry."""
    return exc.strerror or type(exc).__name__


def _source_hash(dataset) -> Optional[str]:
    """Content hash of the data behind ``dataset`` (:func:`strfviewer.data.identity.dataset_hash`), or
    ``None`` when its source is no longer readable."""
    from strfviewer.data.identity import dataset_hash

    try:
        return dataset_hash(str(dataset.source))
    except OSError:
        return None


def response_record(dataset) -> dict:
    """What the dataset's responses are, for a checkpoint's ``dataset`` metadata: ``{"response_kind":
    "counts" | "continuous", "response_unit": "spikes" | "mV" | ...}``."""
    return {"response_kind": getattr(dataset, "response_kind", "counts"),
            "response_unit": getattr(dataset, "response_unit", "spikes")}


def write_output(out: Path, outcome, dataset, request, data_hash: Optional[str] = None) -> Path:
    """Checkpoint + ``metrics.json`` into ``out``, atomically; refuses a folder holding other files.

    ``data_hash``: the content hash of the data for the metadata's ``dataset`` (computed from
    ``dataset.source`` when not given). A fit on raw audio records its waveform front-end under
    ``frontend`` (``{"mode": "waveform", "name", "kwargs", "sample_rate", "hop", "dt_ms"}``) and the
    front-end's band centres as ``freqs_hz``."""
    from strfviewer.io.atomic import atomic_dir
    from strfviewer.io.checkpoints import save_checkpoint
    
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in OUTPUT_FILES)
        if foreign:
            raise ValueError(f"{out}: holds other files ({', '.join(foreign[:5])}); choose an empty or new folder")
    metrics = metrics_json(outcome)
    spec = getattr(outcome.model, "spec", None) or request.spec     # as built (a front-end's arguments resolved)
    metadata = {
        "frontend": dict(outcome.details.get("frontend") or dataset.frontend),
        "freqs_hz": [float(f) for f in outcome.details.get("freqs_hz", dataset.freqs_hz)],
        "dt_ms": float(dataset.dt_ms), "spec": spec.to_dict(), "fit": request.to_dict(),
        "metrics": metrics, "neuron_names": list(dataset.neuron_names),
        "dataset": {"source": str(dataset.source), "name": dataset.name, "split": outcome.split,
                    "hash": data_hash or _source_hash(dataset), **response_record(dataset)},
    }
    try:
        with atomic_dir(out) as tmp:
            ckpt = save_checkpoint(outcome.model.to("cpu"), tmp / "checkpoint", metadata=json_safe(metadata))
            for f in Path(ckpt).iterdir():
                shutil.move(str(f), str(tmp / f.name))
            Path(ckpt).rmdir()
            (tmp / METRICS_FILE).write_text(json.dumps(json_safe(metrics), indent=2, allow_nan=False) + "\n",
                                            encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{out}: cannot write the output folder ({os_reason(exc)})") from None
    return out
