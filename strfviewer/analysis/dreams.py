"""Dreams: spectrograms synthesised to drive a neuron (or a population) as hard as the model allows.

The stimulus ``x`` (a spectrogram ``(1, F, T)`` per neuron) is optimised by gradient ascent on the neuron's
response, with Adam, from silence, noise or a chosen stimulus (Rançon et al. 2025): each step
``x <- x - lr * Adam(dL/dx)`` with ``L = -readout(r_n(x)) + penalties``. It is the iterated form of the
gradmap (one step from silence gives the gradmap's direction). Optional constraints keep the result a
plausible spectrogram: clamping to the training data's stimulus range, an L2 penalty (pulls towards
silence) and a smoothness penalty (squared differences between neighbouring bands and frames).

Neurons are dreamt in parallel, one stimulus each in one batch (the model treats batch items
independently in eval mode and Adam updates element-wise, so this is the same as separate runs).
The model is copied first: the caller's model is never touched, so a dream can run in a worker thread
while the app keeps using the model. Cancel with a ``threading.Event``: it is checked before every step.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn

from strfviewer.models.capture import private_copy
from strfviewer.analysis.gradmaps import check_analysis_size
from strfviewer.analysis._probe import (
    ReadoutLike,
    check_spectrogram_model,
    default_gradmap_T,
    model_device,
    model_lock,
    model_dtype,
    read_out,
)

__all__ = ["dream", "DreamResult", "DreamProgress", "stimulus_range", "INITS"]

INITS = ("silence", "noise")

#: std of the noise a silent start gets when the response is flat at silence (z-scored spectrogram units)
NUDGE_SCALE = 1e-3


@dataclass
class DreamProgress:
    """One step of a dream, as passed to the progress callback.

    ``step``: updates done so far (1..steps); ``response`` ``(K,)``: each dream's response before this
    update; ``loss``: the summed objective; ``stimulus`` ``(K, 1, F, T)``: a copy of the current stimuli,
    given every ``snapshot_every`` steps and at the last step (None otherwise).
    """

    step: int
    steps: int
    response: np.ndarray
    loss: float
    stimulus: Optional[np.ndarray] = None


@dataclass
class DreamResult:
    """The outcome of :func:`dream`.

    ``stimulus`` ``(K, 1, F, T)`` float32 on the CPU (K = number of neurons, or 1 for a population);
    ``responses`` ``(steps_done + 1, K)``: row ``s`` is the response after ``s`` updates (row 0: the
    initial stimulus, last row: the returned stimulus); ``losses`` ``(steps_done,)``;
    ``neurons``: the neuron indices (dreamt one each, or averaged when ``population``); ``notes``: what
    the dream changed on its own (a silent start nudged off a flat point).
    """

    stimulus: Tensor
    responses: np.ndarray
    losses: np.ndarray
    neurons: List[int]
    population: bool
    steps_done: int
    cancelled: bool
    settings: Dict[str, Any] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)

    @property
    def final_response(self) -> np.ndarray:
        """Response to the returned stimulus, ``(K,)``."""
        return self.responses[-1]


def dream(model: nn.Module, neurons: Union[int, Sequence[int], None] = None, steps: int = 1500,
          lr: float = 0.05, init: Union[str, Tensor, np.ndarray] = "silence", T: Optional[int] = None,
          readout: ReadoutLike = "last", population: bool = False,
          clamp: Optional[Tuple[float, float]] = None, l2: float = 0.0, smooth: float = 0.0,
          noise_scale: float = 0.1, seed: int = 0,
          progress: Optional[Callable[[DreamProgress], None]] = None, snapshot_every: int = 10,
          cancel: Optional[threading.Event] = None) -> DreamResult:
    """Synthesise the stimulus that maximally drives each neuron (or the population mean).

    Parameters
    ----------
    model : an audio encoding model (spectrogram- or waveform-input; dreams are spectrograms).
    neurons : an index, a list of indices, or None for all neurons.
    steps : Adam updates (default 1500); ``lr`` its learning rate (spectrogram units per step).
    init : ``'silence'`` (zeros; where the response's gradient there is identically zero, as for a
        rectifying prefilter, noise of std ``NUDGE_SCALE`` instead, said in ``notes``), ``'noise'``
        (Gaussian, ``noise_scale`` std, ``seed``), or a spectrogram
        ``(F, T)``, ``(1, F, T)``, ``(1, 1, F, T)`` or ``(K, 1, F, T)`` (its T overrides ``T``).
    T : frames of the dreamt stimulus; default the gradmap window (the model's reach).
    readout : which value of the response is maximised: ``'last'``, ``'mean'``, ``'peak'`` or a callable
        ``(K, T) -> (K,)`` (see :func:`strfviewer.analysis.gradmaps.strf_gradmap`).
    population : dream one stimulus for the mean response of ``neurons`` instead of one each.
    clamp : ``(low, high)`` bounds applied after every step (e.g. :func:`stimulus_range` of the training
        data); ``l2``: weight of the mean squared value; ``smooth``: weight of the mean squared
        difference between neighbouring frames and bands. Penalties are per stimulus.
    progress : called after every step with a :class:`DreamProgress`.
    cancel : a ``threading.Event``; when set, the dream stops before its next step and returns what it
        has (``cancelled=True``).
    """
    F, _ = check_spectrogram_model(model)
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if lr <= 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if l2 < 0 or smooth < 0:
        raise ValueError(f"penalty weights must be >= 0 (l2={l2}, smooth={smooth})")
    if clamp is not None:
        low, high = float(clamp[0]), float(clamp[1])
        if not low < high:
            raise ValueError(f"clamp must be (low, high) with low < high, got {clamp}")
    device, dtype = model_device(model), model_dtype(model)
    probe = _frozen_copy(model)
    with torch.no_grad():
        n_neurons = probe(torch.zeros(1, 1, F, 1, device=device, dtype=dtype)).shape[1]
    index = _neuron_index(neurons, n_neurons)
    K = 1 if population else len(index)
    T = default_gradmap_T(model) if T is None else int(T)
    check_analysis_size(T, K * F * 4)  # the stimulus, its gradient and Adam's two moments
    x = _initial_stimulus(init, K, F, T, noise_scale, seed).to(device=device, dtype=dtype)
    T = int(x.shape[-1])
    if clamp is not None:
        x.clamp_(low, high)
    rows = torch.arange(K, device=device)
    chosen = torch.as_tensor(index, device=device)

    def respond(stimulus: Tensor) -> Tensor:
        r = probe(stimulus)[:, :, 0, :]                        # (K, N, T)
        if population:
            return read_out(r[0, chosen], readout).mean()[None]
        return read_out(r[rows, chosen], readout)                # (K,)

    notes: List[str] = []
    if steps > 0 and isinstance(init, str) and init == "silence":
        x, nudged = _off_flat_silence(respond, x, NUDGE_SCALE, seed)
        if nudged:
            notes.append(f"the response is flat at silence for {nudged} of {K} dream(s) (e.g. a rectifying "
                         f"prefilter at its kink): started them from noise of std {NUDGE_SCALE:g} instead")
    x.requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=lr)

    responses, losses, cancelled, done = [], [], False, 0
    for step in range(1, steps + 1):
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        optimiser.zero_grad(set_to_none=True)
        with torch.enable_grad():
            response = respond(x)
            loss = -response.sum() + _penalty(x, l2, smooth)
            loss.backward()
        optimiser.step()
        if clamp is not None:
            with torch.no_grad():
                x.clamp_(low, high)
        responses.append(response.detach().cpu().numpy().astype(np.float64))
        losses.append(float(loss.detach()))
        done = step
        if progress is not None:
            snapshot = step % max(1, snapshot_every) == 0 or step == steps
            progress(DreamProgress(step, steps, responses[-1], losses[-1],
                                   x.detach().cpu().numpy().copy() if snapshot else None))
    with torch.no_grad():
        responses.append(respond(x).cpu().numpy().astype(np.float64))
    settings = dict(steps=steps, lr=lr, init=init if isinstance(init, str) else "stimulus", T=T,
                    readout=readout if isinstance(readout, str) else "callable", clamp=clamp, l2=l2,
                    smooth=smooth, noise_scale=noise_scale, seed=seed)
    return DreamResult(stimulus=x.detach().to("cpu", torch.float32), responses=np.stack(responses),
                       losses=np.asarray(losses, dtype=np.float64), neurons=index, population=population,
                       steps_done=done, cancelled=cancelled, settings=settings, notes=notes)


def _off_flat_silence(respond: Callable[[Tensor], Tensor], x: Tensor, scale: float, seed: int):
    """``(x, n)``: the stimuli whose response has an identically zero gradient at ``x`` (silence) replaced by
    Gaussian noise of std ``scale`` (else gradient ascent never moves them); ``n`` how many were."""
    probe_x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        grad, = torch.autograd.grad(respond(probe_x).sum(), probe_x)
    flat = ~(grad != 0).flatten(1).any(dim=1)                  # (K,)
    if not bool(flat.any()):
        return x, 0
    generator = torch.Generator().manual_seed(int(seed))
    noise = (scale * torch.randn(x.shape, generator=generator)).to(device=x.device, dtype=x.dtype)
    return torch.where(flat[:, None, None, None], x + noise, x), int(flat.sum())


def stimulus_range(dataset, split: Optional[str] = "train") -> Tuple[float, float]:
    """``(min, max)`` of the spectrogram values of a dataset's stimuli in ``split`` (all stimuli when
    ``split`` is None, or when the split is empty): the clamp that keeps a dream within the data."""
    stimuli = dataset.stimuli_in(split) if split is not None else []
    if not stimuli:
        stimuli = dataset.stimuli
    low = min(float(np.nanmin(s.spec)) for s in stimuli)
    high = max(float(np.nanmax(s.spec)) for s in stimuli)
    return low, high


def _frozen_copy(model: nn.Module) -> nn.Module:
    """A copy of the model in eval mode, taking spectrograms, with parameters that need no gradient."""
    with model_lock(model):         # never copy a model caught mid-gradmap (hooks, eval mode)
        probe = private_copy(model)
    probe.eval()
    if isinstance(getattr(probe, "wav2spec", None), nn.Module):
        probe.wav2spec = nn.Identity()
    for parameter in probe.parameters():
        parameter.requires_grad_(False)
    return probe


def _neuron_index(neurons, n_neurons: int) -> List[int]:
    if neurons is None:
        index = list(range(n_neurons))
    elif isinstance(neurons, (int, np.integer)):
        index = [int(neurons)]
    else:
        index = [int(n) for n in neurons]
    if not index:
        raise ValueError("no neuron to dream for")
    bad = [n for n in index if not 0 <= n < n_neurons]
    if bad:
        raise IndexError(f"neuron index {bad} out of range for a model with {n_neurons} neurons")
    return index


def _initial_stimulus(init, K: int, F: int, T: int, noise_scale: float, seed: int) -> Tensor:
    if isinstance(init, str):
        if init == "silence":
            return torch.zeros(K, 1, F, T)
        if init == "noise":
            generator = torch.Generator().manual_seed(int(seed))
            return noise_scale * torch.randn(K, 1, F, T, generator=generator)
        raise ValueError(f"init must be one of {', '.join(INITS)} or a spectrogram, got {init!r}")
    given = torch.as_tensor(np.asarray(init, dtype=np.float32) if not isinstance(init, Tensor) else init)
    given = given.detach().to(torch.float32).clone()
    while given.dim() < 4:
        given = given.unsqueeze(0)
    if given.dim() != 4 or given.shape[1] != 1 or given.shape[2] != F or given.shape[0] not in (1, K):
        raise ValueError(f"init stimulus of shape {tuple(given.shape)} does not fit ({K}, 1, {F}, T) or (F, T)")
    return given.expand(K, *given.shape[1:]).clone()


def _penalty(x: Tensor, l2: float, smooth: float) -> Tensor:
    """Summed over the K stimuli: ``l2 * mean(x^2) + smooth * (mean(dx/dt^2) + mean(dx/df^2))`` each."""
    total = x.new_zeros(())
    if l2:
        total = total + l2 * x.pow(2).mean(dim=(1, 2, 3)).sum()
    if smooth:
        if x.shape[-1] > 1:
            total = total + smooth * x.diff(dim=-1).pow(2).mean(dim=(1, 2, 3)).sum()
        if x.shape[-2] > 1:
            total = total + smooth * x.diff(dim=-2).pow(2).mean(dim=(1, 2, 3)).sum()
    return total
