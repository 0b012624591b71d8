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

from strfviewer.io.json_safe import json_safe


def execute_trial(trial: Dict[str, Any], torch_threads: Optional[int] = None) -> Dict[str, Any]:
    """Fit one trial (``Trial.to_dict()``, plus ``data_hash`` when the driver knows it) and return its result.

    Keys: ``metrics`` (JSON layout above), ``neuron_names``, ``n_params``, ``epochs``, ``seconds``, ``device``,
    ``cancelled``, ``checkpoint_files`` ``{file name: bytes}``. Exceptions propagate (the driver records the
    trial as failed with the error).
    """
    import torch

    from strfviewer.io.fit_output import metrics_json, write_output
    from strfviewer.data import load
    from strfviewer.fit.run import FitRequest, run_fit
    from strfviewer.models.factory import ModelSpec, n_trainable_params

    if torch_threads:
        torch.set_num_threads(int(torch_threads))
    t0 = time.perf_counter()
    dataset = load(trial["data"])
    request = FitRequest(spec=ModelSpec.from_dict(trial["spec"]), **trial["request"])
    if torch_threads and not request.num_threads:  # the worker's share, not the fit's machine-wide default
        request.num_threads = int(torch_threads)
    outcome = run_fit(dataset, request)
    metrics = json_safe(metrics_json(outcome))
    with tempfile.TemporaryDirectory(prefix="strfviewer-trial-") as tmp:
        folder = write_output(Path(tmp) / "checkpoint", outcome, dataset, request,
                              data_hash=trial.get("data_hash"))
        files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    n_params = n_trainable_params(outcome.model)
    return {
        "metrics": metrics, "neuron_names": list(dataset.neuron_names), "n_params": int(n_params),
        "epochs": outcome.history.n_epochs, "seconds": time.perf_counter() - t0, "device": str(outcome.device),
        "cancelled": bool(getattr(outcome, "cancelled", False)), "checkpoint_files": files,
        "pid": os.getpid(),
    }


def describe_exception(exc: BaseException) -> str:
    """One readable line (type: message) plus the innermost frame, for the history's error column."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"
