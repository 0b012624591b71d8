"""The training loop: padded length-grouped batches, masked loss, early stopping on validation ``cc_norm``.

``Fitter(model, train, val, ...)`` takes lists of stimuli (objects with ``name``, ``spec (1, F, T_s)``,
``responses (N, R, T_s)``, e.g. :class:`strfviewer.data.dataset.Stimulus`). ``fit()`` trains until
``max_epochs``, early stopping (``patience`` epochs without improvement of ``monitor``), ``cancel()`` or a
non-finite loss, and always ends with the best weights seen loaded in the model. Progress goes to a callback
as :class:`ProgressEvent` at the end of every epoch and every ``progress_interval_s`` seconds inside one.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch
from torch import nn

from strfviewer.fit.batching import Batch, StimulusBatches, masked_loss, unpad_predictions
from strfviewer.fit.masked_norm import masked_batchnorm
from strfviewer.fit.optimizer import adamw
from strfviewer.fit.metrics import NeuronMetrics, metrics_with_ceiling, noise_ceiling

MONITORS = {"val_cc_norm": "max", "val_cc": "max", "val_loss": "min", "train_loss": "min"}


def set_random_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so that a CPU fit repeats exactly."""
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


@contextlib.contextmanager
def torch_threads(n: Optional[int]) -> Iterator[None]:
    """Within the block torch uses ``n`` CPU threads (``None``: leave as is); the previous count comes back."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


#: most torch threads a computation gets by default: these models are small, and beyond a few threads the
#: synchronisation costs more than it gains (docs/benchmarks.md, "Threads")
MAX_DEFAULT_THREADS = 4


def physical_cores() -> int:
    """Physical CPU cores this process may run on (its affinity mask; hyper-threads of one core count once).

    Read from Linux's ``/sys/devices/system/cpu/cpuN/topology``; elsewhere (or when unreadable) the number of
    logical CPUs available."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
    cores = set()
    for cpu in cpus:
        topology = f"/sys/devices/system/cpu/cpu{cpu}/topology/"
        try:
            with open(topology + "physical_package_id") as pkg, open(topology + "core_id") as core:
                cores.add((pkg.read().strip(), core.read().strip()))
        except OSError:
            return max(1, len(cpus))
    return max(1, len(cores))


def default_num_threads(cores: Optional[int] = None) -> int:
    """Torch threads for a computation (fit, gradmap, dream, export) when none is asked for.

    One thread on a machine with two physical cores or fewer (there a second thread competes with the GUI
    thread and everything else: a dream ran 3x slower with two threads than with one on a busy 2-core
    machine), else every core but one, at most :data:`MAX_DEFAULT_THREADS`. ``cores``: physical cores
    (default :func:`physical_cores`).
    """
    cores = physical_cores() if cores is None else int(cores)
    return 1 if cores <= 2 else min(cores - 1, MAX_DEFAULT_THREADS)


@dataclass
class ProgressEvent:
    """A progress report. ``epoch`` counts from 1; ``step`` of ``n_steps`` within the epoch.

    ``kind``: ``"step"`` (inside an epoch), ``"epoch"`` (an epoch ended; validation figures set; epoch 0 is
    the starting weights' score, sent before epoch 1 when they are scored) or ``"done"``. ``best_epoch``: the
    epoch whose weights are kept so far (0: the starting weights). ``eta_s``: estimated seconds left at ``max_epochs`` pace (early stopping may end sooner).
    """

    epoch: int
    step: int
    n_steps: int
    train_loss: float
    val_loss: Optional[float]
    val_cc_norm: Optional[float]
    eta_s: Optional[float]
    message: str = ""
    kind: str = "step"
    max_epochs: int = 0
    elapsed_s: float = 0.0
    best_epoch: Optional[int] = None


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float = float("nan")
    val_cc: float = float("nan")
    val_cc_norm: float = float("nan")
    seconds: float = 0.0


@dataclass
class FitHistory:
    """What happened: one record per finished epoch, the best one, and why the fit stopped.

    ``stopped``: ``"max_epochs"``, ``"early_stopping"``, ``"cancelled"`` or ``"non_finite_loss"``
    (``"closed_form"`` for a ridge fit, which has no epochs).
    """

    epochs: List[EpochRecord] = field(default_factory=list)
    best_epoch: Optional[int] = None
    best_score: float = float("nan")
    monitor: str = "val_cc_norm"
    stopped: str = "max_epochs"
    message: str = ""
    seconds: float = 0.0
    initial: Optional[EpochRecord] = None  # validation scores of the starting weights (epoch 0)
    #: per neuron, the epoch its weights come from when the fit kept each neuron's best epoch (models without
    #: shared parameters, see :mod:`strfviewer.fit.per_neuron`); ``None`` otherwise
    best_epoch_per_neuron: Optional[List[Optional[int]]] = None

    @property
    def n_epochs(self) -> int:
        return len(self.epochs)

    def series(self, key: str) -> List[float]:
        return [getattr(e, key) for e in self.epochs]

    def to_dict(self) -> Dict[str, object]:
        def clean(v):
            return None if isinstance(v, float) and not math.isfinite(v) else v

        return {
            "epochs": [{k: clean(v) for k, v in asdict(e).items()} for e in self.epochs],
            "best_epoch": self.best_epoch, "best_score": clean(self.best_score), "monitor": self.monitor,
            "stopped": self.stopped, "message": self.message, "seconds": self.seconds,
            "initial": None if self.initial is None else {k: clean(v) for k, v in asdict(self.initial).items()},
            "best_epoch_per_neuron": self.best_epoch_per_neuron,
        }


@dataclass
class Evaluation:
    """Loss, per-neuron metrics and per-stimulus predictions ``{name: (N, T_s)}`` on a set of stimuli."""

    loss: float
    metrics: NeuronMetrics
    predictions: Dict[str, np.ndarray]


class _NonFiniteLoss(Exception):
    pass


class _Cancelled(Exception):
    pass


class Fitter:
    """Fit ``model`` (``(B, 1, F, T) -> (B, N, 1, T)``) to ``train`` stimuli, validating on ``val``.

    Parameters: ``optimizer`` (default AdamW with ``lr`` and ``weight_decay``); ``device``; ``max_epochs``;
    ``patience`` (epochs without improvement of ``monitor`` before stopping; ``None`` = never);
    ``monitor`` one of :data:`MONITORS` (``val_*`` fall back to ``train_loss`` when there is no validation
    set); ``batch_size``; ``loss`` ``"mse"`` or ``"poisson"`` (on the trial mean); ``metric_method``
    ``"sp"`` or ``"split_half"``; ``progress`` callback receiving :class:`ProgressEvent`; ``cancel_event`` an
    optional :class:`threading.Event` checked like :meth:`cancel`; ``num_threads`` torch CPU threads during
    the fit (default every core but one); ``seed`` seeds torch/NumPy and the batch order;
    ``chunk_frames``/``chunk_warmup``: cut training stimuli into chunks of that many scored frames preceded by
    ``chunk_warmup`` unscored context frames (truncated back-propagation through time for recurrent models,
    and equal-length batches); ``grad_clip`` max gradient norm; ``evaluate_initial`` scores the starting
    weights on the validation set first so that they are kept when no epoch beats them (``best_epoch`` 0);
    ``per_neuron_best``: when the model's neurons share no parameter, each neuron ends with the weights of its own
    best validation epoch (``history.best_epoch_per_neuron``; see :mod:`strfviewer.fit.per_neuron`).
    """

    def __init__(self, model: nn.Module, train: Sequence, val: Optional[Sequence] = None,
                 optimizer: Optional[torch.optim.Optimizer] = None, device="cpu", max_epochs: int = 100,
                 patience: Optional[int] = 10, monitor: str = "val_cc_norm", *, lr: float = 1e-3,
                 weight_decay: float = 1e-4, batch_size: int = 8, loss: str = "mse", metric_method: str = "sp",
                 progress: Optional[Callable[[ProgressEvent], None]] = None,
                 cancel_event: Optional[threading.Event] = None, num_threads: Optional[int] = None,
                 seed: Optional[int] = 0, progress_interval_s: float = 1.0, chunk_frames: Optional[int] = None,
                 chunk_warmup: int = 0, grad_clip: Optional[float] = None, evaluate_initial: bool = True,
                 per_neuron_best: bool = False):
        if monitor not in MONITORS:
            raise ValueError(f"monitor {monitor!r} is not one of {sorted(MONITORS)}")
        if max_epochs < 0:
            raise ValueError(f"max_epochs must be >= 0, got {max_epochs}")
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be >= 1 (or None), got {patience}")
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.seed = seed
        if seed is not None:
            set_random_seed(seed)
        train = list(train)
        if not train:
            raise ValueError("no training stimuli")
        self.train_stimuli = train
        self.val_stimuli = list(val or [])
        if chunk_frames:
            from strfviewer.fit.chunks import chunk_stimuli

            train = chunk_stimuli(train, chunk_frames, chunk_warmup)
        self.train_batches = StimulusBatches(train, batch_size, shuffle=True, seed=seed or 0)
        self.batch_size = batch_size
        self.optimizer = optimizer or adamw(self.model.parameters(), lr=lr, weight_decay=weight_decay)
        self.max_epochs = int(max_epochs)
        self.patience = patience
        if monitor.startswith("val_") and not self.val_stimuli:
            monitor = "train_loss"
        self.monitor = monitor
        self.loss_kind = loss
        self.metric_method = metric_method
        self.progress = progress
        self._cancel = cancel_event or threading.Event()
        self.num_threads = num_threads or default_num_threads()
        self.progress_interval_s = progress_interval_s
        self.grad_clip = grad_clip
        self.evaluate_initial = evaluate_initial
        self.per_neuron_best = per_neuron_best
        self._val_ceiling = None
        self._eval_batches: Dict[int, StimulusBatches] = {}

    # --- control -----------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Ask the fit to stop; honoured before the next optimisation step (best weights are kept)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    # --- public API --------------------------------------------------------------------------------
    def fit(self) -> FitHistory:
        """Train; returns the history. The model ends with the weights of the best epoch."""
        with torch_threads(self.num_threads if self.device.type == "cpu" else None), \
                masked_batchnorm(self.model) as bn:
            return self._fit(bn)

    def evaluate(self, stimuli: Sequence, batch_size: Optional[int] = None) -> Evaluation:
        """Loss, metrics and predictions on ``stimuli`` (eval mode, no gradient)."""
        stimuli = list(stimuli)
        ceiling = noise_ceiling([s.responses for s in stimuli], self.metric_method)
        batches = StimulusBatches(stimuli, batch_size or self.batch_size, shuffle=False)
        return self._evaluate(batches, ceiling, stimuli)

    # --- internals ---------------------------------------------------------------------------------
    def _emit(self, **kw) -> None:
        if self.progress is not None:
            self.progress(ProgressEvent(max_epochs=self.max_epochs, **kw))

    def _snapshot(self) -> Dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def _fit(self, bn) -> FitHistory:
        history = FitHistory(monitor=self.monitor)
        mode = MONITORS[self.monitor]
        start = time.perf_counter()
        best_state = self._snapshot()
        best_score = -math.inf if mode == "max" else math.inf

        def better(score: float, than: float) -> bool:
            return math.isfinite(score) and (score > than if mode == "max" else score < than)

        # patience counts epochs without progress of training itself: the best score of a trained epoch. The starting
        # weights still compete for the weights kept, but a warm start scoring above the first epochs of a climbing
        # fit (Adam's first steps move every weight by about lr) must not stop it: DNet on the STRFlab cell, seed 2,
        # validation 0.399 at the warm start, 0.28 -> 0.37 over epochs 1-10 and 0.52 by epoch 30 (test 0.623, where
        # stopping at epoch 10 kept the start's 0.452)
        trained_best = best_score
        since_best = 0
        epoch_times: List[float] = []
        n_steps = len(self.train_batches)
        per_neuron = None
        if self.per_neuron_best and self.val_stimuli and self.monitor in ("val_cc_norm", "val_cc"):
            from strfviewer.fit.per_neuron import PerNeuronBest

            per_neuron = PerNeuronBest.for_model(self.model, int(self.val_stimuli[0].responses.shape[0]))
        if self.val_stimuli:
            self._val_ceiling = noise_ceiling([s.responses for s in self.val_stimuli], self.metric_method)
            val_batches = StimulusBatches(self.val_stimuli, self.batch_size, shuffle=False)
            if self.evaluate_initial and not self.cancelled:
                # the starting weights compete too (a warm start may already be the best there is); say so
                # first, since a recurrent model's first forward pass can take seconds
                self._emit(epoch=1, step=0, n_steps=n_steps, train_loss=float("nan"), val_loss=None,
                           val_cc_norm=None, eta_s=None, kind="step", message="evaluating the starting weights")
                ev = self._evaluate(val_batches, self._val_ceiling, self.val_stimuli)
                history.initial = EpochRecord(epoch=0, train_loss=float("nan"), val_loss=ev.loss,
                                              val_cc=ev.metrics.mean_cc, val_cc_norm=ev.metrics.mean_cc_norm)
                initial_score = self._score(history.initial)
                if per_neuron is not None:
                    per_neuron.update(0, self._neuron_scores(ev.metrics))
                if math.isfinite(initial_score) and self.monitor != "train_loss":
                    best_score = initial_score
                    history.best_epoch = 0
                # epoch 0 on the curves: the score every later epoch has to beat
                self._emit(epoch=0, step=0, n_steps=n_steps, train_loss=float("nan"), val_loss=_opt(ev.loss),
                           val_cc_norm=_opt(ev.metrics.mean_cc_norm), eta_s=None, kind="epoch",
                           elapsed_s=time.perf_counter() - start, best_epoch=history.best_epoch,
                           message="starting weights scored")
        for epoch in range(1, self.max_epochs + 1):
            t0 = time.perf_counter()
            try:
                train_loss = self._train_epoch(epoch, n_steps, bn, epoch_times, start)
            except _Cancelled:
                history.stopped = "cancelled"
                history.message = f"cancelled during epoch {epoch}"
                break
            except _NonFiniteLoss as exc:
                history.stopped = "non_finite_loss"
                history.message = str(exc)
                break
            record = EpochRecord(epoch=epoch, train_loss=train_loss)
            if self.val_stimuli:
                ev = self._evaluate(val_batches, self._val_ceiling, self.val_stimuli)
                record.val_loss = ev.loss
                record.val_cc = ev.metrics.mean_cc
                record.val_cc_norm = ev.metrics.mean_cc_norm
                if per_neuron is not None:
                    per_neuron.update(epoch, self._neuron_scores(ev.metrics))
            record.seconds = time.perf_counter() - t0
            epoch_times.append(record.seconds)
            history.epochs.append(record)
            score = self._score(record)
            improved = better(score, best_score)
            if improved or (history.best_epoch is None and not math.isfinite(best_score)):
                if improved:
                    best_score = score
                best_state = self._snapshot()
                history.best_epoch = epoch
            if better(score, trained_best):
                trained_best = score
                since_best = 0
            elif epoch > 1:  # a first epoch without a finite score starts the count
                since_best += 1
            eta = float(np.mean(epoch_times[-5:])) * (self.max_epochs - epoch)
            self._emit(epoch=epoch, step=n_steps, n_steps=n_steps, train_loss=train_loss,
                       val_loss=_opt(record.val_loss), val_cc_norm=_opt(record.val_cc_norm), eta_s=eta,
                       kind="epoch", elapsed_s=time.perf_counter() - start, best_epoch=history.best_epoch,
                       message=f"epoch {epoch}/{self.max_epochs}")
            if self.patience is not None and since_best >= self.patience:
                history.stopped = "early_stopping"
                history.message = (f"stopped early at epoch {epoch}: no better {self.monitor} for "
                                   f"{self.patience} epochs")
                break
            if self.cancelled:
                history.stopped = "cancelled"
                history.message = f"cancelled after epoch {epoch}"
                break
        self.model.load_state_dict(best_state)
        if per_neuron is not None:
            per_neuron.restore()
            history.best_epoch_per_neuron = per_neuron.epochs()
        self.model.eval()
        history.best_score = best_score if math.isfinite(best_score) else float("nan")
        if history.best_epoch:
            kept = f"kept the weights of epoch {history.best_epoch}"
        else:
            kept = "kept the initial weights"
        own = [e for e in (history.best_epoch_per_neuron or []) if e is not None]
        if len(own) > 1:
            kept = (f"each neuron kept the weights of its own best epoch ({min(own)} to {max(own)}; the population's "
                    f"best was {history.best_epoch or 0})")
        if history.stopped == "max_epochs":
            history.message = f"finished {len(history.epochs)} epochs"
        history.message = f"{history.message}; {kept}"
        history.seconds = time.perf_counter() - start
        self._emit(epoch=len(history.epochs), step=n_steps, n_steps=n_steps,
                   train_loss=history.epochs[-1].train_loss if history.epochs else float("nan"),
                   val_loss=_opt(history.epochs[-1].val_loss) if history.epochs else None,
                   val_cc_norm=_opt(history.epochs[-1].val_cc_norm) if history.epochs else None,
                   eta_s=0.0, kind="done", elapsed_s=history.seconds, best_epoch=history.best_epoch,
                   message=history.message)
        return history

    def _neuron_scores(self, metrics: NeuronMetrics) -> np.ndarray:
        """Per-neuron monitored score ``(N,)``: cc_norm (cc where it is NaN, as :meth:`_score`), or cc."""
        cc = np.asarray(metrics.cc, dtype=float)
        if self.monitor == "val_cc":
            return cc
        cc_norm = np.asarray(metrics.cc_norm, dtype=float)
        return np.where(np.isfinite(cc_norm), cc_norm, cc)

    def _score(self, record: EpochRecord) -> float:
        """The monitored figure; a NaN ``val_cc_norm`` (no signal power) falls back to ``val_cc``, then loss."""
        if self.monitor == "train_loss":
            return record.train_loss
        if self.monitor == "val_loss":
            return record.val_loss
        value = getattr(record, self.monitor)
        if not math.isfinite(value) and self.monitor == "val_cc_norm":
            value = record.val_cc
        return value

    def _train_epoch(self, epoch: int, n_steps: int, bn, epoch_times: List[float], start: float) -> float:
        self.model.train()
        total, count = 0.0, 0
        t_epoch = time.perf_counter()
        last_report = t_epoch
        for step, batch in enumerate(self.train_batches, 1):
            if self.cancelled:
                raise _Cancelled()
            batch = batch.to(self.device)
            bn.set_mask(batch.mask)
            self.optimizer.zero_grad(set_to_none=True)
            pred = self.model(batch.spec)
            loss = masked_loss(pred, batch, self.loss_kind)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise _NonFiniteLoss(f"the loss became {value} at epoch {epoch}, step {step}: the fit stopped "
                                     f"(try a lower learning rate)")
            loss.backward()
            if self.grad_clip:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.optimizer.step()
            total += value * len(batch.names)
            count += len(batch.names)
            now = time.perf_counter()
            if self.progress is not None and now - last_report >= self.progress_interval_s and step < n_steps:
                last_report = now
                per_step = (now - t_epoch) / step
                this_epoch_left = per_step * (n_steps - step)
                per_epoch = float(np.mean(epoch_times[-5:])) if epoch_times else per_step * n_steps
                self._emit(epoch=epoch, step=step, n_steps=n_steps, train_loss=total / count, val_loss=None,
                           val_cc_norm=None, eta_s=this_epoch_left + per_epoch * (self.max_epochs - epoch),
                           kind="step", elapsed_s=now - start, message=f"epoch {epoch}, step {step}/{n_steps}")
        bn.set_mask(None)
        return total / max(count, 1)

    @torch.no_grad()
    def _evaluate(self, batches: StimulusBatches, ceiling, stimuli: Sequence) -> Evaluation:
        self.model.eval()
        predictions: Dict[str, np.ndarray] = {}
        loss_sum, weight = 0.0, 0
        for batch in batches:
            batch = batch.to(self.device)
            pred = self.model(batch.spec)
            n_valid = int(batch.valid.sum())
            if n_valid:
                loss_sum += float(masked_loss(pred, batch, self.loss_kind)) * n_valid
                weight += n_valid
            predictions.update(unpad_predictions(pred, batch))
        metrics = metrics_with_ceiling(ceiling, [predictions[s.name] for s in stimuli])
        return Evaluation(loss=loss_sum / weight if weight else float("nan"), metrics=metrics,
                          predictions=predictions)


def _opt(x: float) -> Optional[float]:
    return x if math.isfinite(x) else None

