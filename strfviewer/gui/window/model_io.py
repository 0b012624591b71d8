"""What the main window's workers call: open data and checkpoints, fit the first-start model, predict.

Plain functions (no Qt) so they run in worker threads and can be tested alone; engine modules are
imported lazily so the window opens fast.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from strfviewer.session import Run

#: temporal window of the first-start ridge model, frames (75 ms at 5 ms bins)
QUICK_FIT_T = 15
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def classify_path(path: str) -> str:
    """``'demo'``, ``'model'`` (a checkpoint folder or a Hub repo id ``owner/name``) or ``'data'``."""
    if str(path) == "demo":
        return "demo"
    p = Path(path).expanduser()
    if p.is_dir() and (p / "config.json").is_file():
        return "model"
    if not p.exists() and _HUB_ID.match(str(path)):
        return "model"
    return "data"


def load_dataset(path: str):
    """``strfviewer.data.load(path)``; raises ``DataError`` (a ``ValueError``) naming the problem."""
    from strfviewer.data import load

    from strfviewer.data.sources import source_exists

    if not source_exists(path):
        raise FileNotFoundError(f"{path}: no such file or folder")
    return load(path)


def mismatch(model, dataset) -> Optional[str]:
    """Why ``model`` cannot be shown on ``dataset`` (neurons or bands differ; a waveform model on data without
    audio), ``None`` when it can."""
    from strfviewer.gui.fitting.runs_table import model_input_problem

    return model_input_problem(model, dataset)


def open_checkpoint(path_or_id: str, dataset, sample_rate: Optional[int] = None) -> Run:
    """A :class:`Run` from a checkpoint folder or Hub id, with predictions on ``dataset`` when it fits;
    ``sample_rate`` (Hz) for a deepSTRF waveform checkpoint, which does not record it."""
    from strfviewer.gui.fitting.runs_table import open_run_checkpoint

    return open_run_checkpoint(path_or_id, dataset, sample_rate=sample_rate)


def save_run(run: Run, dataset, folder: str) -> str:
    """Save ``run`` as a checkpoint folder (atomic); returns its path."""
    from strfviewer.gui.fitting.runs_table import save_run_checkpoint

    return save_run_checkpoint(run, folder, dataset)


def checkpoint_folder_name(run: Run) -> str:
    """A file-system friendly folder name for ``run``."""
    name = re.sub(r"[^\w.-]+", "_", run.name).strip("_") or "model"
    return name


def split_metrics(dataset, predictions: Dict[str, np.ndarray]) -> Dict[str, object]:
    """``{split: NeuronMetrics}`` for every split with stimuli."""
    from strfviewer.fit.metrics import cc_norm_from_trials

    out = {}
    for split in ("train", "val", "test"):
        stims = [s for s in dataset.stimuli_in(split) if s.name in predictions]
        if stims:
            out[split] = cc_norm_from_trials([s.responses for s in stims], [predictions[s.name] for s in stims])
    return out


def predictions_and_metrics(model, dataset) -> Tuple[Dict[str, np.ndarray], Dict[str, object]]:
    """Predictions ``{stimulus: (N, T)}`` of ``model`` on every stimulus and metrics per split."""
    from strfviewer.analysis._probe import model_lock
    from strfviewer.fit.run import predict

    with model_lock(model):  # a gradmap worker swaps a waveform model's front-end out while it probes
        predictions = predict(model, dataset, "auto")
    return predictions, split_metrics(dataset, predictions)


def ridge_request():
    """The first-start fit: a Linear model, ``T = 15`` frames, closed-form ridge."""
    from strfviewer.fit.run import FitRequest
    from strfviewer.models.factory import ModelSpec

    return FitRequest(spec=ModelSpec(family="Linear", T=QUICK_FIT_T), method="ridge")


def fit(dataset, request, progress=None, cancel=None):
    """``strfviewer.fit.run.run_fit`` (the one entry every fit goes through)."""
    from strfviewer.fit.run import run_fit

    return run_fit(dataset, request, progress=progress, cancel=cancel)


def progress_fraction(event) -> Optional[float]:
    """``0..1`` from a ``ProgressEvent`` (step / n_steps), ``None`` when unknown."""
    step, n = getattr(event, "step", None), getattr(event, "n_steps", None)
    try:
        return float(step) / float(n) if n else None
    except (TypeError, ValueError):
        return None


def progress_value(fraction: float) -> int:
    """A ``0..1`` fraction as the value of a progress bar ranging 0..1000 (the status bar's and the training
    panel's: both show the same value for the same fraction, so Qt prints the same percentage)."""
    return int(round(max(0.0, min(1.0, float(fraction))) * 1000))


def device_label(device) -> str:
    """'CPU', 'CUDA (NVIDIA H100)', 'MPS' for a ``torch.device`` or a name."""
    name = str(getattr(device, "type", device) or "cpu").split(":")[0].lower()
    if name == "cuda":
        try:
            import torch

            return f"CUDA ({torch.cuda.get_device_name(0)})"
        except Exception:  # noqa: BLE001 - the label is informative only
            return "CUDA"
    return {"mps": "MPS", "cpu": "CPU"}.get(name, name.upper())


def default_device_name() -> str:
    """The device ``'auto'`` fits on: CUDA, else MPS, else CPU."""
    try:
        from strfviewer.fit.run import resolve_device

        return device_label(resolve_device("auto"))
    except ImportError:
        import torch

        if torch.cuda.is_available():
            return device_label("cuda")
        mps = getattr(torch.backends, "mps", None)
        return "MPS" if mps is not None and mps.is_available() else "CPU"
