"""Locally linear STRFs (dSTRFs): the gradmap of one neuron at every time of a real stimulus.

For neuron ``n`` and frame ``t`` of a stimulus ``x`` ``(F, L)``, the dSTRF is ``d r_n(t) / d x`` over the
``T`` frames ending at ``t``: the network's effective linear STRF at that moment of the sound (NEMS'
dSTRF, ``nems/tools/dstrf.py`` in LBHB/NEMS; Keshishian et al. 2020, eLife 9:e53445). Sign: the gradient of
the response itself, so **excitation is positive** (the opposite of deepSTRF's gradmap sign). Columns are
lags oldest first as everywhere (the last column is frame ``t``); columns before the stimulus start are 0.

How (every path equals one plain backward pass per frame up to float rounding; docs/analysis.md). A model
with a bounded temporal reach ``R`` (``temporal_reach()``: convolutional models, prefilter included) gives the
response at frame ``t >= R - 1`` from the ``R`` frames ending there alone, so those frames are a batch of
independent ``R``-frame windows: one forward (``forward_valid`` where the model has it: no causal padding)
and one backward pass per chunk. A recurrent model that can re-run a window from a saved state
(``recurrent_states`` / ``forward_from``: StateNet) keeps its state after every frame from one forward pass
without gradient; the inputs before the window reach frame ``t`` only through the state after ``t - T``, a
constant of the window's gradient, so the windows (``T`` frames plus the prefilter's past) are re-run from
those states as a batch, again one forward and one backward pass per chunk. An attention model
(``layer_inputs`` / ``forward_window``: Transformer) re-runs its windows attending to the earlier tokens of
each layer, kept from one pass (constants: the mask is causal). The first frames, and every frame of any other
model with memory, come from one forward pass over the stimulus (its prefix) and
batched backward passes through it, ``chunk`` frames at a time (``torch.autograd.grad`` with
``is_grads_batched``). :meth:`DSTRF.pca` gives the principal components across time and the share
of variance each explains (NEMS ``compute_dpcs``).
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from strfviewer.analysis.gradmaps import _is_batching_failure
from strfviewer.analysis._probe import (check_spectrogram_model, default_gradmap_T, model_device, model_dtype,
                                        probe_mode)

#: gradient values held at once by a chunk of batched backward passes over a prefix (4 MB: a Transformer
#: ran 1.3 s CPU with one chunk of 400 frames at 400 frames, 0.85 s with chunks of 25 to 100)
_CHUNK_VALUES = 1_000_000
#: input values of a chunk of windows (their activations are some times larger)
_WINDOW_VALUES = 500_000
#: recurrent state values of a chunk of windows re-run from saved states
_STATE_VALUES = 2_000_000


@dataclass
class DSTRFComponents:
    """Principal components of dSTRFs across time.

    ``mean`` ``(C, F, T)``; ``components`` ``(k, C, F, T)`` unit-norm, each signed so that it sums to a
    positive value; ``explained_variance_ratio`` ``(k,)`` share of the variance across time each explains;
    ``projections`` ``(L, k)`` each frame's coordinates (frames before ``start`` included);
    ``start``: the first frame used to fit them.
    """

    mean: np.ndarray
    components: np.ndarray
    explained_variance_ratio: np.ndarray
    projections: np.ndarray
    start: int


@dataclass
class DSTRF:
    """``maps`` ``(L, C, F, T)``: the dSTRF at each frame of the stimulus; ``times_ms`` ``(L,)``; ``neuron``;
    ``response`` ``(L,)`` the model's response to the stimulus."""

    maps: np.ndarray
    times_ms: np.ndarray
    neuron: int
    response: np.ndarray

    def pca(self, n_components: int = 5, start: Optional[int] = None) -> DSTRFComponents:
        """PCA across time of the dSTRFs from frame ``start`` (default ``T - 1``: the first frame whose window
        lies inside the stimulus) on. Zero variance (a linear model) gives NaN ratios."""
        L = self.maps.shape[0]
        T = self.maps.shape[-1]
        start = min(T - 1, L - 1) if start is None else int(start)
        if not 0 <= start < L:
            raise ValueError(f"start frame {start} outside the stimulus (0..{L - 1})")
        X = self.maps.reshape(L, -1).astype(np.float64)
        mean = X[start:].mean(axis=0)
        centred = X[start:] - mean
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        k = max(1, min(int(n_components), len(s)))
        power = (s ** 2).sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(power > 0, s[:k] ** 2 / power, np.nan)
        components = vt[:k] * np.where(vt[:k].sum(axis=1) < 0, -1.0, 1.0)[:, None]
        return DSTRFComponents(mean=mean.reshape(self.maps.shape[1:]),
                               components=components.reshape((k,) + self.maps.shape[1:]),
                               explained_variance_ratio=ratio, projections=(X - mean) @ components.T, start=start)


def dstrf(model: nn.Module, spec, neuron: int, T: Optional[int] = None, dt_ms: Optional[float] = None,
          chunk: Optional[int] = None, progress: Optional[Callable[[int, int], None]] = None,
          cancel: Optional[threading.Event] = None) -> Optional[DSTRF]:
    """dSTRFs of ``neuron`` along the spectrogram ``spec`` ``(F, L)`` or ``(1, F, L)`` (see the module notes).

    ``T``: frames of each map (default: the model's temporal reach, :func:`default_gradmap_T`); ``dt_ms``:
    frame step for the time axis and the recurrent models' default window; ``chunk``: frames per batched
    backward pass (default: sized to stay in cache, a few MB of gradients or recurrent states).
    ``progress(done, total)`` after each chunk; a set ``cancel`` returns ``None``. Runs in eval mode on the
    model's device, restored afterwards.
    """
    F, _ = check_spectrogram_model(model)
    x = torch.as_tensor(np.asarray(spec, dtype=np.float32))
    if x.dim() == 3 and x.shape[0] == 1:
        x = x[0]
    if x.dim() != 2 or x.shape[0] != F or x.shape[1] < 1:
        raise ValueError(f"stimulus spectrogram must be (F={F}, L) or (1, {F}, L), got {tuple(np.shape(spec))}")
    L = int(x.shape[1])
    T = default_gradmap_T(model, dt_ms=dt_ms) if T is None else int(T)
    if T < 1:
        raise ValueError(f"T must be a positive number of frames, got {T}")
    device, dtype = model_device(model), model_dtype(model)
    stim = x.to(device=device, dtype=dtype).reshape(1, 1, F, L)
    reach = _bounded_reach(model)
    maps = np.zeros((L, 1, F, T), dtype=np.float32)
    with probe_mode(model) as model, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="There is a performance drop")
        with torch.no_grad():
            out = model(stim)
        if out.dim() != 4 or out.shape[0] != 1 or out.shape[2] != 1 or out.shape[3] != L:
            raise ValueError(f"{type(model).__name__} returned shape {tuple(out.shape)} for a stimulus of {L} "
                             f"frames; dSTRFs need (1, N, 1, {L})")
        if not 0 <= int(neuron) < out.shape[1]:
            raise IndexError(f"neuron {neuron} out of range for a model with {out.shape[1]} neurons")
        response = out[0, int(neuron), 0, :]
        # frames whose whole reach lies inside the stimulus: independent windows of `reach` frames, one batched
        # forward and one backward per chunk; a recurrent model that can restart from a saved state: windows of
        # the last T frames (plus the prefilter's past) run from the state before them; the frames before (or
        # every frame of another model with memory): one forward over the prefix and batched backward passes
        restart = None if reach is not None else _restart_states(model, stim)
        cache = None if reach is not None or restart is not None else _token_cache(model, stim)
        if reach is not None:
            prefix, width = min(L, reach - 1), reach
        elif restart is not None or cache is not None:
            width = T + int(model.prefilter_reach() if cache is None else model.past_frames())
            prefix = min(L, width)
        else:
            prefix, width = L, 0
        size = chunk or _full_chunk(F, prefix)
        steps = [(b, min(b + size, prefix), "prefix") for b in range(0, prefix, size)]
        if prefix < L:
            if cache is not None:                      # per window: the earlier tokens of every layer
                per_window = _past_length(model, L, T) * sum(c.shape[-1] for c in cache)
            else:                                      # per window: its recurrent states
                per_window = 0 if restart is None else width * sum(s[0, 0].numel() for s in restart)
            size = chunk or _window_chunk(F, width, per_window)
            steps += [(b, min(b + size, L), "windows") for b in range(prefix, L, size)]
        graph = None
        for begin, end, kind in steps:
            if cancel is not None and cancel.is_set():
                return None
            if kind == "prefix":
                if graph is None:
                    leaf = stim[..., :prefix].clone().requires_grad_(True)
                    graph = (leaf, model(leaf)[0, int(neuron), 0, :])
                grads = _prefix_grads(graph, begin, end)                               # (k, F, prefix)
                times = torch.arange(begin, end, device=device)
            else:
                batch = _windows(stim, begin, end, width)                              # (k, 1, F, width)
                if cache is not None:
                    first = torch.arange(begin, end, device=device) - T + 1             # each window's frame 0
                    past = tuple(_frames_before(c, first, _past_length(model, end, T)) for c in cache)
                    last = model.forward_window(batch, past, first)[:, int(neuron), 0, -1]
                elif restart is None:
                    forward = getattr(model, "forward_valid", model)                    # valid frames only
                    last = forward(batch)[:, int(neuron), 0, -1]
                else:
                    state = tuple(s[0, begin - T:end - T] for s in restart)             # after frame t - T
                    last = model.forward_from(batch, state, skip=width - T)[:, int(neuron), 0, -1]
                grads = _batch_grads(last, batch)                                      # (k, F, width)
                times = torch.full((end - begin,), width - 1, device=device)
            maps[begin:end, 0] = _last_columns(grads, times, T).cpu().numpy()
            if progress is not None:
                progress(end, L)
    step = float(dt_ms) if dt_ms else float("nan")
    return DSTRF(maps=maps, times_ms=np.arange(L) * step, neuron=int(neuron),
                 response=response.detach().cpu().numpy().astype(np.float32))


def _bounded_reach(model: nn.Module) -> Optional[int]:
    """Input frames an output frame depends on (``temporal_reach()``), ``None`` when unbounded or unknown."""
    from strfviewer.analysis._probe import has_memory

    reach_of = getattr(model, "temporal_reach", None)
    reach = reach_of() if callable(reach_of) else None
    return None if reach is None or has_memory(model) else max(int(reach), 1)


def _full_chunk(F: int, length: int) -> int:
    return max(1, _CHUNK_VALUES // (F * max(length, 1)))


def _window_chunk(F: int, width: int, per_window: int = 0) -> int:
    """Windows per batch: their input within ``_WINDOW_VALUES`` and the values each holds besides
    (``per_window``: recurrent states, earlier tokens) within ``_STATE_VALUES`` (a Mamba scan's state is 66
    times its input: smaller batches stay in cache and run 4x faster)."""
    size = _WINDOW_VALUES // (F * width)
    if per_window:
        size = min(size, _STATE_VALUES // per_window)
    return max(1, size)


def _last_columns(grads: torch.Tensor, times: torch.Tensor, T: int) -> torch.Tensor:
    """The ``T`` columns ending at ``times[i]`` of each gradient ``grads[i]`` ``(k, F, W)``: ``(k, F, T)``,
    zeros before column 0."""
    padded = torch.nn.functional.pad(grads, (T - 1, 0))                                 # (k, F, W + T - 1)
    windows = padded.unfold(-1, T, 1)                                                    # (k, F, W, T)
    return windows[torch.arange(grads.shape[0]), :, times, :].detach()


def _prefix_grads(graph, begin: int, end: int) -> torch.Tensor:
    """Gradients ``(k, F, P)`` of the responses at frames ``begin..end-1`` of a forward pass over a prefix of
    ``P`` frames (``graph = (leaf (1, 1, F, P), response (P,))``)."""
    leaf, response = graph
    P = leaf.shape[-1]
    cotangents = torch.zeros(end - begin, P, device=leaf.device, dtype=leaf.dtype)
    cotangents[torch.arange(end - begin), torch.arange(begin, end)] = 1.0
    return _pull(response, leaf, cotangents)


def _restart_states(model: nn.Module, stim: torch.Tensor):
    """The recurrent state after each frame of the stimulus ``(1, 1, F, L)`` (tuple of ``(1, L, ...)``,
    without gradient), for a model that can re-run a window from a saved state; ``None`` otherwise."""
    states_of = getattr(model, "recurrent_states", None)
    if not callable(states_of) or not callable(getattr(model, "forward_from", None)):
        return None
    with torch.no_grad():
        return states_of(stim)


def _token_cache(model: nn.Module, stim: torch.Tensor):
    """Each attention layer's input tokens ``(1, L, d)`` over the stimulus (without gradient), for a model
    that can re-run a window attending to them (``layer_inputs`` / ``forward_window``); ``None`` otherwise."""
    inputs_of = getattr(model, "layer_inputs", None)
    if not callable(inputs_of) or not callable(getattr(model, "forward_window", None)):
        return None
    with torch.no_grad():
        return inputs_of(stim)


def _past_length(model: nn.Module, end: int, T: int) -> int:
    """Earlier tokens a window sees: ``context_window - 1``, or all those before the last window of a chunk
    ending at frame ``end``."""
    context = getattr(model, "context_window", None)
    return max(0, int(context) - 1) if context else max(0, end - T)


def _frames_before(tokens: torch.Tensor, first: torch.Tensor, S: int) -> torch.Tensor:
    """Rows ``first[b] - S .. first[b] - 1`` of ``tokens`` ``(1, L, d)`` for each window: ``(k, S, d)``, zeros
    before row 0."""
    padded = torch.nn.functional.pad(tokens[0], (0, 0, S, 0))                             # (S + L, d)
    return padded[first[:, None] + torch.arange(S, device=first.device)[None, :]]


def _windows(stim: torch.Tensor, begin: int, end: int, width: int) -> torch.Tensor:
    """The ``width`` frames ending at each frame ``begin..end-1`` of the stimulus ``(1, 1, F, L)`` (all
    inside it), as a batch ``(k, 1, F, width)`` that requires gradients."""
    windows = stim[0, 0].unfold(-1, width, 1)[:, begin - width + 1:end - width + 1]        # (F, k, width)
    return windows.permute(1, 0, 2).unsqueeze(1).contiguous().requires_grad_(True)


def _batch_grads(last: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
    """Gradient ``(k, F, width)`` of each window's response ``last (k,)`` with respect to its own window
    ``batch (k, 1, F, width)`` (the windows are independent: one backward pass of their sum)."""
    (grads,) = torch.autograd.grad(last.sum(), batch, allow_unused=True)
    return torch.zeros_like(batch[:, 0]) if grads is None else grads[:, 0]


def _pull(response: torch.Tensor, leaf: torch.Tensor, cotangents: torch.Tensor) -> torch.Tensor:
    """Rows of ``cotangents (k, P)`` pulled back through ``response (P,)`` to the stimulus: ``(k, F, P)``;
    one batched backward pass, or one pass per row where an operator cannot be batched."""
    k = cotangents.shape[0]
    try:
        (grads,) = torch.autograd.grad(response, leaf, grad_outputs=cotangents, retain_graph=True,
                                       is_grads_batched=True, allow_unused=True)
    except RuntimeError as exc:
        if not _is_batching_failure(exc):
            raise
        grads = torch.stack([torch.autograd.grad(response, leaf, grad_outputs=c, retain_graph=True)[0]
                             for c in cotangents])
    if grads is None:
        return torch.zeros(k, leaf.shape[2], leaf.shape[3], device=leaf.device, dtype=leaf.dtype)
    return grads.reshape(k, leaf.shape[2], leaf.shape[3])
