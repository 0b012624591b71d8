"""One entry point for fitting: ``run_fit(dataset, FitRequest(...))`` -> :class:`FitOutcome`.

Used by the CLI, the app's fit workers and sweeps, so that a fit means the same thing everywhere: build the
model from its :class:`~strfviewer.models.factory.ModelSpec`, apply the split, fit it (closed-form ridge, or
gradient descent with the :class:`~strfviewer.fit.fitter.Fitter`, warm-started from the ridge STRFs where the
model's kernel implements ``init_from_strf``; otherwise the fit's details and message say "cold start"), then
score it on train / val / test and predict every stimulus.

The dataset's spectrograms are taken as the model's input as they are (``strfviewer.data.load`` z-scores
them per band by default and records the statistics in ``dataset.frontend``).
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import torch
from torch import nn

from strfviewer.fit.batching import StimulusBatches, unpad_predictions
from strfviewer.fit.chunks import AUTO_CHUNK, CORE_CHUNK, UNCHUNKED_CORES
from strfviewer.fit.conv_start import IDENTITY_START_FAMILIES, add_identity_taps
from strfviewer.fit.fitter import (FitHistory, Fitter, ProgressEvent, default_num_threads, set_random_seed,
                                   torch_threads)
from strfviewer.fit.hidden_start import HIDDEN_STRF_FAMILIES
from strfviewer.fit.learning_rates import CORE_LR, DEFAULT_LR, FAMILY_LR, RIDGE_START_LR
from strfviewer.fit.loss_choice import LOSS_CHOICES, POISSON_FAMILIES
from strfviewer.fit.step_budget import auto_batch_size, steps_per_epoch
from strfviewer.fit.metrics import METHODS, NeuronMetrics, cc_norm_from_trials

FIT_METHODS = ("sgd", "ridge")
DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")
#: families whose readout is one STRF per neuron (a ridge solution is their warm start)
RIDGE_FAMILIES = ("Linear",)
WARM_START_FAMILIES = ("Linear", "LinearNonlinear")


@dataclass
class FitRequest:
    """How to fit. ``method``: ``"sgd"`` (AdamW) or ``"ridge"`` (closed form, ``Linear`` with a full kernel).

    ``epochs`` max epochs; ``patience`` epochs without a better validation ``cc_norm`` before stopping
    (0 or ``None``: never); ``lr`` (AdamW; ``None``: the family's default, :func:`learning_rate_for`),
    ``weight_decay`` (AdamW); ``batch_size`` stimuli (or chunks) per step,
    ``None`` = automatic (:func:`auto_batch_size`: about :data:`~strfviewer.fit.step_budget.STEPS_PER_EPOCH` steps per epoch); ``seed``;
    ``device`` ``"auto"``/``"cpu"``/``"cuda"``/``"mps"``; ``split`` ``None`` (the dataset's own split, or
    70/15/15 when it has none), three fractions, ``{stimulus: part}`` or ``{part: [stimuli]}``.
    ``loss`` on the trial mean: ``"mse"``, ``"poisson"`` or ``"auto"`` (Poisson for recurrent models, whose
    non-negative output it suits and which it takes off their initial plateau, and for the
    :data:`POISSON_FAMILIES` with a softplus output; MSE for every other model, and for every model on a
    dataset of continuous responses, ``NeuralDataset.response_kind``, where Poisson is refused);
    ``metric_method`` ``"sp"`` or ``"split_half"``;
    ``warm_start`` start SGD of Linear/LinearNonlinear from the ridge solution, and NRF/DNet's hidden units
    from its leading components (:mod:`strfviewer.fit.hidden_start`), ConvNet2D's deeper convolutions with an
    identity tap (:mod:`strfviewer.fit.conv_start`); ``num_threads`` CPU threads (default
    :func:`~strfviewer.fit.fitter.default_num_threads`: 1 on 2 cores, at most 4); ``chunk_frames``/``chunk_warmup``
    train on chunks of that many scored frames after that many context frames (truncated BPTT, see
    :mod:`strfviewer.fit.chunks`): ``None`` (auto) chunks recurrent models (GRU/LSTM/RNN, S4/S4D cores; not Mamba
    or LMU: :data:`UNCHUNKED_CORES`) with :data:`AUTO_CHUNK` (S4: :data:`CORE_CHUNK`) and nothing else, 0 turns
    chunking off; a ``None`` warm-up is the model's temporal reach minus one (25 frames when unbounded);
    ``ridge_alphas`` absolute penalties for ridge (default: a grid); ``calibrate`` starts SGD with the
    readout's output nonlinearity placed at each neuron's mean rate (see :mod:`strfviewer.fit.calibrate`;
    done with the Poisson loss only: with MSE the measured effect was the opposite, units died);
    ``frontend_lr`` the learning rate of a learnable waveform front-end (``spec.frontend``; default ``lr``):
    with a front-end the model is fitted on each stimulus' audio (see :mod:`strfviewer.fit.waveform_mode`);
    ``per_neuron_best`` each neuron keeps the weights of its own best validation epoch when the model's neurons
    share no parameter (Linear, LinearNonlinear; see :mod:`strfviewer.fit.per_neuron`).
    """

    spec: Any = None
    method: str = "sgd"
    epochs: int = 100
    patience: Optional[int] = 10
    lr: Optional[float] = None
    weight_decay: float = 1e-4
    batch_size: Optional[int] = None
    seed: int = 0
    device: str = "auto"
    split: Any = None
    loss: str = "auto"
    metric_method: str = "sp"
    warm_start: bool = True
    num_threads: Optional[int] = None
    chunk_frames: Optional[int] = None
    chunk_warmup: Optional[int] = None
    ridge_alphas: Optional[List[float]] = None
    progress_interval_s: float = 0.5  # progress events inside an epoch at most this far apart (live curves)
    calibrate: bool = True
    frontend_lr: Optional[float] = None
    per_neuron_best: bool = True

    def __post_init__(self) -> None:
        if self.spec is None:
            from strfviewer.models.factory import ModelSpec

            self.spec = ModelSpec()
        elif isinstance(self.spec, dict):
            from strfviewer.models.factory import ModelSpec

            self.spec = ModelSpec.from_dict(self.spec)

    def problems(self) -> List[str]:
        """Reasons the request cannot run (empty when fine)."""
        out = []
        if self.method not in FIT_METHODS:
            out.append(f"method must be one of {FIT_METHODS}, not {self.method!r}")
        if not isinstance(self.epochs, int) or self.epochs < 0:
            out.append(f"epochs must be an integer >= 0, not {self.epochs!r}")
        if self.patience is not None and (not isinstance(self.patience, int) or self.patience < 0):
            out.append(f"patience must be an integer >= 0, not {self.patience!r}")
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr)):
            out.append(f"lr must be > 0 or None (the family's default), not {self.lr!r}")
        if self.frontend_lr is not None and not (isinstance(self.frontend_lr, (int, float)) and self.frontend_lr > 0
                                                 and math.isfinite(self.frontend_lr)):
            out.append(f"frontend_lr must be > 0, not {self.frontend_lr!r}")
        if not (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0):
            out.append(f"weight_decay must be >= 0, not {self.weight_decay!r}")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or isinstance(self.batch_size, bool)
                                            or self.batch_size < 1):
            out.append(f"batch_size must be an integer >= 1 or None (automatic), not {self.batch_size!r}")
        if self.loss not in LOSS_CHOICES:
            out.append(f"loss must be one of {LOSS_CHOICES}, not {self.loss!r}")
        if self.metric_method not in METHODS:
            out.append(f"metric_method must be one of {METHODS}, not {self.metric_method!r}")
        if self.chunk_frames is not None and (not isinstance(self.chunk_frames, int) or self.chunk_frames < 0):
            out.append(f"chunk_frames must be an integer >= 0 (0: off), not {self.chunk_frames!r}")
        if self.chunk_warmup is not None and (not isinstance(self.chunk_warmup, int) or self.chunk_warmup < 0):
            out.append(f"chunk_warmup must be an integer >= 0, not {self.chunk_warmup!r}")
        if self.num_threads is not None and (not isinstance(self.num_threads, int) or self.num_threads < 1):
            out.append(f"num_threads must be an integer >= 1, not {self.num_threads!r}")
        return out

    def to_dict(self) -> Dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["spec"] = self.spec.to_dict() if hasattr(self.spec, "to_dict") else self.spec
        if isinstance(d["split"], tuple):
            d["split"] = list(d["split"])
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "FitRequest":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown fit request field(s): {', '.join(unknown)}")
        return cls(**d)


@dataclass
class FitOutcome:
    """The result of :func:`run_fit`.

    ``model`` (eval mode, best weights, on ``device``); ``history`` (:class:`FitHistory`; no epochs for
    ridge); ``metrics`` ``{'train'|'val'|'test': NeuronMetrics}`` (parts without stimuli are left out);
    ``predictions`` ``{stimulus name: (N, T_s) float32}`` for every stimulus; ``seconds`` wall time;
    ``device``; ``cancelled``; ``message`` one line saying how the fit ended; ``split``
    ``{stimulus name: part}`` used; ``details`` extra facts (ridge penalties, warm start); ``warnings`` one-line
    reasons the result is usable but worse than it looks (:mod:`strfviewer.fit.outcome_checks`: it ended below its
    own starting score), also appended to ``message``.
    """

    model: nn.Module
    history: FitHistory
    metrics: Dict[str, NeuronMetrics]
    predictions: Dict[str, np.ndarray]
    seconds: float
    device: torch.device
    cancelled: bool = False
    message: str = ""
    split: Dict[str, str] = field(default_factory=dict)
    details: Dict[str, Any] = field(default_factory=dict)
    warnings: List[str] = field(default_factory=list)

    def metrics_dict(self) -> Dict[str, Any]:
        """JSON-able ``{part: NeuronMetrics.to_dict()}``."""
        return {part: m.to_dict() for part, m in self.metrics.items()}


# --------------------------------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------------------------------


def available_devices() -> Dict[str, Optional[str]]:
    """``{name: None if usable else the reason it is not}`` for ``auto``, ``cpu``, ``cuda`` and ``mps``."""
    out: Dict[str, Optional[str]] = {"auto": None, "cpu": None}
    try:
        out["cuda"] = None if torch.cuda.is_available() else (
            "this PyTorch build has no CUDA support" if torch.version.cuda is None else "no CUDA GPU found")
    except Exception as exc:  # pragma: no cover - broken drivers
        out["cuda"] = f"CUDA check failed: {exc}"
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_built():
        out["mps"] = "this PyTorch build has no MPS (Apple GPU) support"
    elif not mps.is_available():
        out["mps"] = "no Apple GPU available"
    else:
        out["mps"] = None
    return out


def resolve_device(name: Any = "auto") -> torch.device:
    """``"auto"`` -> CUDA if present, else MPS, else CPU; an explicit device must be usable (``ValueError``)."""
    if isinstance(name, torch.device):
        name = str(name)
    name = (name or "auto").strip().lower()
    devices = available_devices()
    if name == "auto":
        for candidate in ("cuda", "mps"):
            if devices[candidate] is None:
                return torch.device(candidate)
        return torch.device("cpu")
    base = name.split(":")[0]
    if base not in devices:
        raise ValueError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_NAMES)}")
    if devices[base] is not None:
        raise ValueError(f"device {name!r} is unavailable: {devices[base]}")
    if base == "cuda" and ":" in name and int(name.split(":")[1]) >= torch.cuda.device_count():
        raise ValueError(f"device {name!r} is unavailable: only {torch.cuda.device_count()} CUDA device(s)")
    return torch.device(name)


# --------------------------------------------------------------------------------------------------
# Prediction and scoring
# --------------------------------------------------------------------------------------------------


def _model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def predict(model: nn.Module, dataset, device: Any = None, batch_size: int = 8, stimuli=None
            ) -> Dict[str, np.ndarray]:
    """Predictions ``{stimulus name: (N, T_s) float32}`` of ``model`` (eval mode) for the dataset's stimuli.

    ``device``: where to run (default: where the model is; the model is moved there). ``stimuli``: a
    subset (default all). A model with a waveform front-end (``wav2spec``) is fed each stimulus' audio at its
    front-end's rate (:mod:`strfviewer.data.waveforms`).
    """
    stimuli = list(dataset.stimuli if stimuli is None else stimuli)
    if not stimuli:
        return {}
    if getattr(model, "is_wav_native", False) and not hasattr(stimuli[0], "wave"):
        from strfviewer.data.waveforms import waveform_stimuli

        stimuli = waveform_stimuli(stimuli, int(model.wav2spec.sample_rate), int(model.wav2spec.hop))
    device = _model_device(model) if device is None else resolve_device(device)
    model.to(device)
    was_training = model.training
    model.eval()
    out: Dict[str, np.ndarray] = {}
    try:
        for batch in StimulusBatches(stimuli, batch_size, shuffle=False):
            batch = batch.to(device)
            out.update(unpad_predictions(model(batch.spec), batch))
    finally:
        model.train(was_training)
    return {s.name: out[s.name] for s in stimuli}


def score(dataset, predictions: Dict[str, np.ndarray], method: str = "sp") -> Dict[str, NeuronMetrics]:
    """``{part: NeuronMetrics}`` for each of train / val / test that has stimuli."""
    out = {}
    for part in ("train", "val", "test"):
        stims = dataset.stimuli_in(part)
        if stims:
            out[part] = cc_norm_from_trials([s.responses for s in stims], [predictions[s.name] for s in stims],
                                            method=method)
    return out


# --------------------------------------------------------------------------------------------------
# The fit
# --------------------------------------------------------------------------------------------------


def _apply_split(dataset, split):
    """The dataset with the request's split (or its own, or the 70/15/15 default when it has none)."""
    from strfviewer.data.splits import resolve_split

    names = [s.name for s in dataset.stimuli]
    if split is None:
        if dataset.split and all(n in dataset.split for n in names):
            return dataset
        return dataset.with_split(resolve_split(names, None))
    return dataset.with_split(resolve_split(names, split))


def _full_kernel(model: nn.Module) -> bool:
    from strfviewer.models.kernels import is_unconstrained, strf_kernel_of

    return is_unconstrained(strf_kernel_of(model))


def is_recurrent(model: nn.Module) -> bool:
    """True when the model holds a GRU / LSTM / RNN layer or a state-space layer that says it carries a state
    (``CARRIES_STATE``: StateNet's LMU, Mamba, S4 and S4D). Measured on the STRFlab cell, 8 epochs: LMU 0.571 with
    chunks + Poisson + calibration against 0.016 without, Mamba 0.727 against 0.684 (docs/models.md)."""
    return any(isinstance(m, nn.RNNBase) or getattr(type(m), "CARRIES_STATE", False) for m in model.modules())


def effective_loss(model: nn.Module, request: FitRequest, dataset=None) -> str:
    """The loss a request means for a model (``"auto"`` resolved, see :class:`FitRequest`) on ``dataset``:
    always MSE for a dataset of continuous responses (a signed signal such as mV, which a Poisson likelihood
    cannot describe); ``ValueError`` when the request asks for Poisson on one."""
    check_loss_fits_data(request, dataset)
    if request.loss != "auto":
        return request.loss
    if getattr(dataset, "is_continuous", False):
        return "mse"
    if is_recurrent(model):
        return "poisson"
    family = getattr(request.spec, "family", None)
    return "poisson" if family in POISSON_FAMILIES and _non_negative_output(model) else "mse"


def check_loss_fits_data(request: FitRequest, dataset) -> None:
    """``ValueError`` when the request's loss cannot describe the dataset's responses: Poisson on continuous
    (signed) responses."""
    if getattr(dataset, "is_continuous", False) and request.loss == "poisson":
        raise ValueError(f"dataset {dataset.name or dataset.source!r}: the Poisson loss needs spike counts, its "
                         f"responses are continuous ({dataset.response_unit}); use loss 'mse' or 'auto'")


def _non_negative_output(model: nn.Module) -> bool:
    """True when the readout ends in a non-negative ParametricSoftplus (what the Poisson loss needs)."""
    act = getattr(getattr(model, "readout", None), "activation", None)
    return hasattr(act, "_raw_beta") and bool(getattr(act, "non_negative_output", False))


def chunking(model: nn.Module, request: FitRequest) -> Dict[str, Any]:
    """``chunk_frames`` / ``chunk_warmup`` for the Fitter from the request (see :class:`FitRequest`)."""
    frames = request.chunk_frames
    if frames is None:
        if not is_recurrent(model) or _statenet_core(request) in UNCHUNKED_CORES:
            return {"chunk_frames": None, "chunk_warmup": 0}
        frames, auto_warmup = CORE_CHUNK.get(_statenet_core(request), AUTO_CHUNK)
        warmup = auto_warmup if request.chunk_warmup is None else request.chunk_warmup
        return {"chunk_frames": frames, "chunk_warmup": warmup}
    if frames == 0:
        return {"chunk_frames": None, "chunk_warmup": 0}
    warmup = request.chunk_warmup
    if warmup is None:
        reach = model.temporal_reach() if hasattr(model, "temporal_reach") else None
        warmup = AUTO_CHUNK[1] if reach is None else max(int(reach) - 1, 0)
    return {"chunk_frames": int(frames), "chunk_warmup": int(warmup)}


def training_items(stimuli, chunks: Dict[str, Any]) -> int:
    """How many items an epoch iterates: the stimuli, or their chunks when ``chunks["chunk_frames"]`` is set."""
    frames = chunks.get("chunk_frames")
    if not frames:
        return len(stimuli)
    return sum(-(-int(s.spec.shape[-1]) // int(frames)) for s in stimuli)


def learning_rate_for(request: FitRequest, exact_start: bool = False) -> float:
    """The request's learning rate, or :data:`RIDGE_START_LR` after an ``exact_start`` (the closed-form optimum of
    the loss SGD descends, see :func:`starts_at_optimum`), or its StateNet core's default (:data:`CORE_LR`), else its
    family's (:data:`FAMILY_LR`), else :data:`DEFAULT_LR`."""
    if request.lr is not None:
        return float(request.lr)
    if exact_start:
        return float(RIDGE_START_LR)
    core = _statenet_core(request)
    if core in CORE_LR:
        return float(CORE_LR[core])
    return float(FAMILY_LR.get(getattr(request.spec, "family", None), DEFAULT_LR))


def starts_at_optimum(model: nn.Module, family: str, details: Dict[str, Any]) -> bool:
    """Whether SGD starts from the closed-form solution of the loss it descends: a Linear model whose whole kernel
    took the ridge solution (``details["warm_start"] == "ridge"``, a full kernel) under the MSE loss, with nothing
    trainable before its readout (no trainable prefilter or front-end, which the ridge saw untrained)."""
    upstream = [p for name, p in model.named_parameters() if p.requires_grad and not name.startswith("readout.")]
    return (family == "Linear" and not upstream and details.get("warm_start") == "ridge"
            and details.get("loss") == "mse")


def _statenet_core(request: FitRequest) -> Optional[str]:
    """The recurrent core of a StateNet request (``"GRU"``, ``"Mamba"``, ...), ``None`` for other families."""
    spec = getattr(request, "spec", None)
    if getattr(spec, "family", None) != "StateNet":
        return None
    return str(getattr(spec, "rnn_type", None) or "GRU")


def batch_size_for(model: nn.Module, stimuli, request: FitRequest) -> int:
    """The request's batch size, or the automatic one for this model and these training stimuli."""
    if request.batch_size is not None:
        return int(request.batch_size)
    return auto_batch_size(training_items(stimuli, chunking(model, request)), steps_per_epoch(_statenet_core(request)))


def run_fit(dataset, request: FitRequest, progress: Optional[Callable[[ProgressEvent], None]] = None,
            cancel: Optional[threading.Event] = None) -> FitOutcome:
    """Fit ``request.spec`` to ``dataset`` as ``request`` says; see :class:`FitRequest` / :class:`FitOutcome`.

    Raises ``ValueError`` for an invalid request or model spec (the message says why). A cancelled fit
    returns normally with ``cancelled=True`` and the best weights so far.
    """
    problems = request.problems()
    if problems:
        raise ValueError("invalid fit request: " + "; ".join(problems))
    from strfviewer.models.factory import build_model, settle_kernel_options

    t0 = time.perf_counter()
    cancel = cancel or threading.Event()
    device = resolve_device(request.device)
    dataset = _apply_split(dataset, request.split)
    if not dataset.stimuli_in("train"):
        raise ValueError(f"dataset {dataset.name or dataset.source!r}: the split leaves no training stimuli")
    from strfviewer.data.usability import check_fit_data

    data_warnings = check_fit_data(dataset)  # DataError when there is nothing to fit
    check_loss_fits_data(request, dataset)
    set_random_seed(int(request.seed))
    spec = request.spec
    details: Dict[str, Any] = {"data_warnings": data_warnings} if data_warnings else {}
    threads = request.num_threads or default_num_threads()
    waveform = None
    if spec.frontend not in (None, "", "none", "None"):     # fitting on raw audio: see fit.waveform_mode
        from strfviewer.fit.waveform_mode import prepare

        with torch_threads(threads):
            waveform = prepare(dataset, spec, device)
        model, spec, fit_data = waveform.model, waveform.spec, waveform.spec_dataset
        details.update(frontend=waveform.record, freqs_hz=[float(f) for f in fit_data.freqs_hz])
    else:
        model, fit_data = build_model(spec, dataset.n_freqs, dataset.n_neurons), dataset
    if request.method == "ridge":
        if spec.family not in RIDGE_FAMILIES or not _full_kernel(model):
            raise ValueError(f"ridge fits the Linear family with a full STRF kernel only (got {spec.family}"
                             f"{' with kernel ' + spec.kernel if spec.kernel else ''}); use method 'sgd'")
        if waveform is not None and not waveform.fixed:
            raise ValueError(f"ridge needs a fixed front-end; {spec.frontend} has trainable parameters: use "
                             "method 'sgd'")
        with _spectrogram_stage(model, waveform):
            history, cancelled = _ridge(model, fit_data, request, details, cancel, progress, threads)
    else:
        with _spectrogram_stage(model, waveform):
            if request.warm_start and spec.family in WARM_START_FAMILIES:
                _warm_start(model, fit_data, request, details, threads)
            elif request.warm_start and spec.family in HIDDEN_STRF_FAMILIES:
                _warm_start_hidden(model, fit_data, request, details, threads)
            elif request.warm_start and spec.family in IDENTITY_START_FAMILIES:
                said = add_identity_taps(model)
                if said:
                    details["warm_start"] = said
            chosen = settle_kernel_options(model)  # e.g. the Gaussian count "auto" left to the warm start
            if chosen:
                details["kernel_chosen"] = chosen
            loss = effective_loss(model, request, dataset)
            details["loss"] = loss
            if request.calibrate and loss == "poisson":  # never for continuous responses (loss is MSE)
                from strfviewer.fit.calibrate import calibrate_output

                with torch_threads(threads):
                    changed = calibrate_output(model.to(device), fit_data.stimuli_in("train"))
                if changed:
                    details["calibrated"] = changed
        learnable = waveform is not None and not waveform.fixed
        train, val = fit_data.stimuli_in("train"), fit_data.stimuli_in("val")
        batch_size = batch_size_for(model, train, request)
        details["batch_size"] = batch_size
        details["lr"] = learning_rate_for(request, exact_start=starts_at_optimum(model, spec.family, details))
        optimizer = None
        if learnable:
            from strfviewer.fit.optimizer import adamw
            from strfviewer.fit.waveform_mode import param_groups

            train, val = waveform.wave_stimuli(train), waveform.wave_stimuli(val)
            optimizer = adamw(param_groups(model.to(device), details["lr"], request.weight_decay,
                                           request.frontend_lr), lr=details["lr"], weight_decay=request.weight_decay)
        with _spectrogram_stage(model, None if learnable else waveform):
            fitter = Fitter(model, train, val, optimizer=optimizer, device=device,
                            max_epochs=request.epochs, patience=request.patience or None, lr=details["lr"],
                            weight_decay=request.weight_decay, batch_size=batch_size, loss=loss,
                            metric_method=request.metric_method, progress=progress, cancel_event=cancel,
                            num_threads=threads, seed=int(request.seed),
                            progress_interval_s=request.progress_interval_s,
                            per_neuron_best=request.per_neuron_best, **chunking(model, request))
            history = fitter.fit()
        if history.best_epoch_per_neuron is not None:
            details["best_epoch_per_neuron"] = list(history.best_epoch_per_neuron)
        cancelled = history.stopped == "cancelled"
    model.to(device).eval()
    with torch_threads(threads if device.type == "cpu" else None):
        predictions = predict(model, dataset, device, batch_size=max(request.batch_size or 1, 8))
    metrics = score(dataset, predictions, request.metric_method)
    check_fit_result(model, metrics, dataset)
    seconds = time.perf_counter() - t0
    message = "; ".join([history.message] + data_warnings + (waveform.notes if waveform is not None else []))
    if str(details.get("warm_start", "")).startswith("skipped"):
        message = f"{message}; no ridge warm start (it would not fit in memory)"
    elif str(details.get("warm_start", "")).startswith("cold start"):
        message = f"{message}; {details['warm_start']}"
    if details.get("kernel_chosen"):
        chosen = ", ".join(f"{k}={v}" for k, v in details["kernel_chosen"].items())
        how = ("chosen automatically" if str(details.get("warm_start", "")).startswith("ridge")
               else "(automatic: no warm start to choose from)")
        message = f"{message}; kernel {chosen} {how}"
    if "test" in metrics:
        message = f"{message}; test mean cc_norm {metrics['test'].mean_cc_norm:.3f}"
    from strfviewer.fit.outcome_checks import fit_warnings

    warnings = fit_warnings(history, metrics, warm_started=str(details.get("warm_start", "")).startswith("ridge"))
    for reason in warnings:
        message = f"{message}; warning: {reason}"
    return FitOutcome(model=model, history=history, metrics=metrics, predictions=predictions, seconds=seconds,
                      device=device, cancelled=cancelled, message=message, split=dict(dataset.split),
                      details=details, warnings=warnings)


def _spectrogram_stage(model: nn.Module, waveform):
    """A block in which ``model`` takes the front-end's spectrograms (``wav2spec`` bypassed) when fitting on
    raw audio (``waveform`` a :class:`~strfviewer.fit.waveform_mode.WaveformFit`); no change otherwise."""
    import contextlib

    if waveform is None:
        return contextlib.nullcontext(model)
    from strfviewer.fit.waveform_mode import bypass_frontend

    return bypass_frontend(model)


class FitFailed(ValueError):
    """A fit whose result is unusable (non-finite weights, no finite metric): it must not be saved as done."""


def check_fit_result(model: nn.Module, metrics: Dict[str, NeuronMetrics], dataset) -> None:
    """:class:`FitFailed` when the fitted ``model`` holds NaN or infinite tensors, or when no neuron has a
    finite cc on any split (nothing was learnt that can be measured)."""
    bad = [name for name, t in model.state_dict().items()
           if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise FitFailed(f"the fit diverged: {len(bad)} tensor(s) hold NaN or infinite values "
                        f"({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}); try a lower learning rate")
    if metrics and not any(np.isfinite(m.cc).any() for m in metrics.values()):
        raise FitFailed(f"dataset {dataset.name or dataset.source!r}: every neuron's cc is NaN on every split "
                        "(flat predictions or responses): the fit is unusable")


def _ridge(model, dataset, request, details, cancel, progress, threads):
    from strfviewer.fit.ridge import fit_ridge_details

    history = FitHistory(monitor="val_cc", stopped="closed_form")  # no epochs: solved directly
    if cancel.is_set():
        history.stopped, history.message = "cancelled", "cancelled before the ridge fit"
        return history, True
    t0 = time.perf_counter()
    with torch_threads(threads):
        res = fit_ridge_details(dataset, int(model.T), request.ridge_alphas, model=model)
    details["ridge_alpha"] = res.alpha.tolist()
    details["ridge_alphas"] = res.alphas.tolist()
    details["notes"] = list(res.notes)
    history.seconds = time.perf_counter() - t0
    history.message = (f"ridge fit in {history.seconds:.2f} s (penalty per neuron chosen on val from "
                       f"{len(res.alphas)} values)")
    if progress is not None:
        progress(ProgressEvent(epoch=0, step=1, n_steps=1, train_loss=float("nan"), val_loss=None,
                               val_cc_norm=None, eta_s=0.0, message=history.message, kind="done",
                               elapsed_s=history.seconds))
    return history, False


def _warm_start(model, dataset, request, details, threads) -> None:
    """Ridge STRFs (fitted on a full-kernel twin that shares the model's prefilter) handed to the model's kernel
    through its ``init_from_strf`` (:func:`strfviewer.fit.ridge.seed_kernel`), the readout BatchNorm set to pass
    the ridge prediction through (the output activation, if any, keeps its initialisation).

    ``details["warm_start"]``: what the kernel kept (``"ridge"``, ``"ridge (rank-1 part)"``, ...), ``"cold start:
    kernel X has no warm start"`` for a kernel without the method, or ``"skipped: ..."`` when the ridge fit would
    not fit in memory."""
    from strfviewer.fit.ridge import RidgeMemoryError, fit_ridge_details, seed_kernel
    from strfviewer.models import registry
    from strfviewer.models.factory import build_model, swap
    from strfviewer.models.kernels import strf_kernel_of

    kernel = strf_kernel_of(model)
    if kernel is None:
        return
    if not callable(getattr(kernel, "init_from_strf", None)):
        try:
            name = registry.name_of("kernel", kernel)
        except KeyError:
            name = type(kernel).__name__
        details["warm_start"] = f"cold start: kernel {name} has no warm start"
        return
    with torch.random.fork_rng(devices=[]):  # the twin's initialisation leaves the model's random stream alone
        # a spectrogram twin: on raw audio the ridge sees the front-end's spectrograms (``dataset`` holds them)
        twin_spec = dataclasses.replace(swap(request.spec, kernel="full"), frontend=None, frontend_kwargs={})
        twin = build_model(twin_spec, dataset.n_freqs, dataset.n_neurons)
    twin.prefiltering = model.prefiltering  # the same (untrained) prefilter output feeds the ridge
    try:
        with torch_threads(threads):
            res = fit_ridge_details(dataset, int(model.T), request.ridge_alphas, model=twin)
            details["warm_start"] = seed_kernel(model, twin)
    except RidgeMemoryError as exc:  # the SGD fit itself may still fit in memory: start it cold
        details["warm_start"] = f"skipped: {exc}"
        return
    details["ridge_alpha"] = res.alpha.tolist()


def _warm_start_hidden(model, dataset, request, details, threads) -> None:
    """Hidden STRF units of NetworkReceptiveField / DNet from the leading components of the population's ridge
    STRFs (:mod:`strfviewer.fit.hidden_start`), fitted on a Linear twin with the model's ``T`` and prefilter.

    ``details["warm_start"]``: what was seeded, ``"cold start: ..."`` when the hidden kernel has no warm start,
    or ``"skipped: ..."`` when the ridge fit would not fit in memory."""
    from strfviewer.fit.hidden_start import (hidden_strf_conv, match_readout_offset, match_readout_to_responses,
                                             seed_hidden_units)
    from strfviewer.fit.ridge import RidgeMemoryError, fit_ridge_details
    from strfviewer.models.factory import ModelSpec, build_model

    conv = hidden_strf_conv(model)
    if conv is None:
        return
    spec = request.spec
    with torch.random.fork_rng(devices=[]):  # the twin's initialisation leaves the model's random stream alone
        twin = build_model(ModelSpec("Linear", kernel="full", prefilter=spec.prefilter,
                                     prefilter_kwargs=dict(spec.prefilter_kwargs or {}), T=int(model.T)),
                           dataset.n_freqs, dataset.n_neurons)
    twin.prefiltering = model.prefiltering  # the same (untrained) prefilter output feeds the ridge
    try:
        with torch_threads(threads):
            res = fit_ridge_details(dataset, int(model.T), request.ridge_alphas, model=twin)
    except RidgeMemoryError as exc:
        details["warm_start"] = f"skipped: {exc}"
        return
    from strfviewer.models.kernels import CausalSTRFConv

    ridge_conv = next(m for m in twin.modules() if isinstance(m, CausalSTRFConv))
    said = seed_hidden_units(model, ridge_conv.STRF_weight())
    if said:
        train = dataset.stimuli_in("train")
        with torch_threads(threads):  # DNet: gain and offset (linear readout); NRF: offset through its softplus
            matched = match_readout_to_responses(model, train) or match_readout_offset(model, train)
        if matched:
            said = f"{said}; {matched}"
    details["warm_start"] = said or "cold start: the hidden kernel has no warm start"
    details["ridge_alpha"] = res.alpha.tolist()
