"""Qt-free work of the "Compare runs" view: the paired comparison of two runs and an LN model's output
nonlinearity (computed in workers).

* :func:`comparison_job`: :func:`strfviewer.analysis.compare.compare_runs` of the two runs' predictions on the
  test stimuli (all stimuli when there is no test split), as ``strfviewer compare`` does for checkpoints.
* :func:`nonlinearity_job`: for a model whose readout is an STRF followed by an output activation (Linear / LN,
  ``STRFReadout``), the linear drive (the readout's BatchNorm output, before the activation) of every neuron on
  those stimuli and the activation evaluated on a grid spanning each neuron's drive; for other models ``None``
  (the view then plots the prediction itself against the recording).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from strfviewer.models.capture import private_copy
import numpy as np

#: points of each neuron's nonlinearity curve
CURVE_POINTS = 200


def scored_stimuli(dataset) -> list:
    """The stimuli runs are compared on: the test split, else every stimulus."""
    return dataset.stimuli_in("test") or list(dataset.stimuli)


def comparison_key(run_b) -> tuple:
    """``run_a.cache`` key of run A's comparison with ``run_b``."""
    return ("compare", run_b.id)


def comparison_job(dataset, run_a, run_b):
    """Worker function ``fn(progress, cancel) -> {comparison_key(run_b): PairedComparison}`` (A = ``run_a``)."""
    stimuli = scored_stimuli(dataset)
    pred_a, pred_b = run_a.get_predictions() or {}, run_b.get_predictions() or {}
    missing = [s.name for s in stimuli if s.name not in pred_a or s.name not in pred_b]
    key = comparison_key(run_b)

    def work(progress, cancel):
        from strfviewer.analysis.compare import compare_runs

        if missing:
            raise ValueError(f"no predictions of stimulus {missing[0]!r} for both runs: fit or open both runs on "
                             "this dataset")
        result = compare_runs([s.responses for s in stimuli], [pred_a[s.name] for s in stimuli],
                              [pred_b[s.name] for s in stimuli])
        return {key: result}

    return work


@dataclass
class OutputNonlinearity:
    """``drive`` ``(N, L)`` the linear drive over the scored stimuli (concatenated), ``recorded`` ``(N, L)`` the
    trial means there, ``curve_x`` / ``curve_y`` ``(N, CURVE_POINTS)`` the activation; ``name`` of the activation."""

    drive: np.ndarray
    recorded: np.ndarray
    curve_x: np.ndarray
    curve_y: np.ndarray
    name: str


NONLINEARITY_KEY = "output_nonlinearity"


def has_output_nonlinearity(model) -> bool:
    """True for a model whose readout is an STRF followed by a non-identity output activation (LN)."""
    import torch.nn as nn

    readout = getattr(model, "readout", None)
    activation = getattr(readout, "activation", None)
    return (type(readout).__name__ == "STRFReadout" and isinstance(activation, nn.Module)
            and not isinstance(activation, nn.Identity)
            and isinstance(getattr(model, "wav2spec", nn.Identity()), nn.Identity))


def nonlinearity_job(model, dataset):
    """Worker function ``fn(progress, cancel) -> {NONLINEARITY_KEY: OutputNonlinearity}`` (see the module notes);
    call only when :func:`has_output_nonlinearity`."""
    
    model = private_copy(model).cpu().eval()
    stimuli = scored_stimuli(dataset)

    def work(progress, cancel):
        import torch

        from strfviewer.models.readouts import _apply_per_neuron

        captured: List[np.ndarray] = []
        hook = model.readout.bn.register_forward_hook(
            lambda _m, _inp, out: captured.append(out.detach().cpu().numpy()[0]))
        try:
            with torch.no_grad():
                for k, s in enumerate(stimuli):
                    if cancel.is_set():
                        return None
                    model(torch.from_numpy(np.asarray(s.spec, dtype=np.float32)[None]))
                    progress((k + 1, len(stimuli), "output nonlinearity"))
        finally:
            hook.remove()
        drive = np.concatenate(captured, axis=1)                                           # (N, L)
        recorded = np.concatenate([s.psth() for s in stimuli], axis=1)
        low, high = np.nanmin(drive, axis=1), np.nanmax(drive, axis=1)
        span = np.maximum(high - low, 1e-6)
        grid = np.linspace(low - 0.05 * span, high + 0.05 * span, CURVE_POINTS, axis=1)  # (N, G)
        with torch.no_grad():
            curve = _apply_per_neuron(model.readout.activation, torch.from_numpy(grid[None].astype(np.float32)))
        return {NONLINEARITY_KEY: OutputNonlinearity(drive=drive, recorded=recorded, curve_x=grid,
                                                     curve_y=curve.numpy()[0, :, 0, :],
                                                     name=type(model.readout.activation).__name__)}

    return work


def predicted_vs_recorded(run, dataset, neuron: int) -> Optional[tuple]:
    """``(predicted (L,), recorded (L,))`` of one neuron over the scored stimuli, ``None`` without predictions."""
    preds = run.get_predictions() or {}
    stimuli = [s for s in scored_stimuli(dataset) if s.name in preds]
    if not stimuli:
        return None
    return (np.concatenate([preds[s.name][neuron] for s in stimuli]),
            np.concatenate([s.psth()[neuron] for s in stimuli]))
