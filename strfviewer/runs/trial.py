"""Running one sweep trial: a pure function that a worker process or a Ray task executes.

It touches no database: it returns the result (metrics, timings and the checkpoint's files as bytes) and
the sweep driver, which owns the run history, records it. That keeps the history in one writer and lets a
trial run on any machine of a Ray cluster.
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Dict, Optional

from strfviewer.runs.history import json_safe


def metrics_to_json(metrics: Dict[str, Any]) -> Dict[str, Any]:
    """``{'test': NeuronMetrics, ...}`` -> ``{'test': {'cc': [...], 'cc_max': [...], 'cc_norm': [...],
    'mean_cc_norm': x}, ...}`` with NaN as ``None`` (the layout of ``metrics.json``)."""
    import numpy as np

    out: Dict[str, Any] = {}
    for split, m in (metrics or {}).items():
        if m is None:
            continue
        if isinstance(m, dict):
            out[split] = json_safe(m)
            continue
        entry = {k: json_safe(np.asarray(getattr(m, k), dtype=float)) for k in ("cc", "cc_max", "cc_norm")
                 if getattr(m, k, None) is not None}
        cc_norm = np.asarray(getattr(m, "cc_norm", []), dtype=float)
        finite = cc_norm[np.isfinite(cc_norm)]
        entry["mean_cc_norm"] = float(finite.mean()) if finite.size else None
        out[split] = entry
    return out


def execute_trial(trial: Dict[str, Any], torch_threads: Optional[int] = None) -> Dict[str, Any]:
    """Fit one trial (``Trial.to_dict()``) and return its result dict.

    Keys: ``metrics`` (JSON layout above), ``neuron_names``, ``n_params``, ``epochs``, ``seconds``, ``device``,
    ``cancelled``, ``checkpoint_files`` ``{file name: bytes}``. Exceptions propagate (the driver records the
    trial as failed with the error).
    """
    import torch

    from strfviewer.data import load
    from strfviewer.fit.run import FitRequest, run_fit
    from strfviewer.io.checkpoints import save_checkpoint
    from strfviewer.models.factory import ModelSpec

    if torch_threads:
        torch.set_num_threads(int(torch_threads))
    t0 = time.perf_counter()
    dataset = load(trial["data"])
    spec = ModelSpec.from_dict(trial["spec"])
    request = FitRequest(spec=spec, **trial["request"])
    outcome = run_fit(dataset, request)
    metrics = metrics_to_json(outcome.metrics)
    history = getattr(outcome, "history", None)
    epochs = len(getattr(history, "epochs", []) or []) if history is not None else None
    with tempfile.TemporaryDirectory(prefix="strfviewer-trial-") as tmp:
        folder = Path(tmp) / "checkpoint"
        save_checkpoint(outcome.model, folder, metadata={
            "spec": spec.to_dict(), "fit": json_safe(trial["request"]), "metrics": metrics,
            "neuron_names": list(dataset.neuron_names), "freqs_hz": json_safe(dataset.freqs_hz),
            "dt_ms": float(dataset.dt_ms), "frontend": json_safe(dataset.frontend),
            "dataset": {"source": str(trial["data"])}})
        files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    n_params = sum(p.numel() for p in outcome.model.parameters() if p.requires_grad)
    return {
        "metrics": metrics, "neuron_names": list(dataset.neuron_names), "n_params": int(n_params),
        "epochs": epochs, "seconds": time.perf_counter() - t0, "device": str(outcome.device),
        "cancelled": bool(getattr(outcome, "cancelled", False)), "checkpoint_files": files,
        "pid": os.getpid(),
    }


def describe_exception(exc: BaseException) -> str:
    """One readable line (type: message) plus the innermost frame, for the history's error column."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"
