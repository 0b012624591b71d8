"""Shared plumbing for probing a model with gradients (gradmaps, dreams): mode handling, the default
temporal window, the response readouts, and hooks that expose a slot's input or output.

Qt-free; depends on torch only.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import weakref
from typing import Callable, Iterator, List, Optional, Tuple, Union

import torch
from torch import Tensor, nn

from strfviewer.models.base import set_front_end_aside

#: A readout turns the responses ``(N, T)`` into one value per neuron ``(N,)``.
ReadoutLike = Union[str, Callable[[Tensor], Tensor]]
READOUTS = ("last", "mean", "peak")

#: Default memory window shown for recurrent and attention models, in ms.
DEFAULT_MEMORY_MS = 100.0
#: Frame step assumed when the caller does not give one (the default front-end's), in ms.
DEFAULT_DT_MS = 5.0

_MEMORY_CLASS_NAMES = {"StateNet", "Transformer"}


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); CPU for a model with neither."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def model_dtype(model: nn.Module) -> torch.dtype:
    """The floating dtype of the model's first floating parameter; float32 otherwise."""
    for tensor in model.parameters():
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def has_memory(model: nn.Module) -> bool:
    """True for models whose temporal reach is not bounded by ``model.T`` (recurrence or attention)."""
    if type(model).__name__ in _MEMORY_CLASS_NAMES:
        return True
    return any(isinstance(m, (nn.RNNBase, nn.MultiheadAttention)) for m in model.modules())


def default_gradmap_T(model: nn.Module, dt_ms: Optional[float] = None, memory_ms: float = DEFAULT_MEMORY_MS,
                      per_channel: bool = False) -> int:
    """The model's real temporal reach in frames: the time axis of a default gradmap.

    A model may state it with an integer attribute ``gradmap_T``. Otherwise: the model's
    ``temporal_reach()`` (window plus prefilter) or ``model.T``; at the prefilter's output
    (``per_channel``) the prefilter's own reach (``prefilter_reach()``) is left out. Recurrent and
    attention models, whose reach is unbounded or whose ``T`` is nominal, get at least ``memory_ms``
    worth of frames at ``dt_ms`` per frame (100 ms = 20 frames at the default 5 ms).
    """
    stated = getattr(model, "gradmap_T", None)
    if isinstance(stated, int) and not isinstance(stated, bool) and stated > 0:
        return stated
    reach_of = getattr(model, "temporal_reach", None)
    reach = reach_of() if callable(reach_of) else int(getattr(model, "T", 1) or 1)
    prefilter_reach = getattr(model, "prefilter_reach", None)
    if per_channel and reach is not None and callable(prefilter_reach):
        reach = reach - int(prefilter_reach())
    if reach is None or has_memory(model):
        dt = float(dt_ms) if dt_ms else DEFAULT_DT_MS
        return max(int(reach or 0), int(round(memory_ms / dt)), 1)
    return max(int(reach), 1)


_LOCKS: "weakref.WeakKeyDictionary[nn.Module, threading.RLock]" = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def model_lock(model: nn.Module) -> threading.RLock:
    """A lock per model, held while a probe switches the model's mode or hooks (and while a dream copies
    the model), so that a copy taken in another thread never catches the model mid-probe."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = threading.RLock()
        return lock


@contextlib.contextmanager
def probe_mode(model: nn.Module, spectrogram_input: bool = True) -> Iterator[nn.Module]:
    """Run the block with the model in eval mode and gradients enabled.

    Every submodule's own training flag is restored afterwards (a frozen prefilter kept in eval mode
    inside a training model stays so). With ``spectrogram_input`` a waveform front-end (``wav2spec``) is
    bypassed so that the model takes a spectrogram ``(B, 1, F, T)``: the block gets (``as``) a shallow twin of
    the model sharing every weight and submodule but whose ``wav2spec`` is ``nn.Identity``, so other threads
    reading the model meanwhile still see its front-end. Use the yielded module. On CUDA, cuDNN is asked for
    deterministic algorithms. Train/eval flags are switched on the model itself (not copied), under
    :func:`model_lock`: do not train it in another thread meanwhile.
    """
    cudnn_ctx = _deterministic_cudnn() if model_device(model).type == "cuda" else contextlib.nullcontext()
    with model_lock(model):
        flags = [(m, m.training) for m in model.modules()]
        saved_front_end = getattr(model, "wav2spec", None)
        swap = (spectrogram_input and isinstance(saved_front_end, nn.Module)
                and not isinstance(saved_front_end, nn.Identity))
        model.eval()
        probe = model
        if swap:  # a twin with its own module table: the shown model keeps its front-end
            probe = copy.copy(model)
            probe.__dict__["_modules"] = dict(model._modules)
            probe._modules["wav2spec"] = nn.Identity()
            set_front_end_aside(probe, saved_front_end)  # the twin is still a waveform model
        try:
            with torch.enable_grad(), cudnn_ctx:
                yield probe
        finally:
            for module, training in flags:
                module.training = training


@contextlib.contextmanager
def frozen_parameters(model: nn.Module) -> Iterator[nn.Module]:
    """Run the block with no parameter of ``model`` requiring grad (restored afterwards), so a gradient with
    respect to the input builds no graph through the weights. Hold :func:`model_lock` (``probe_mode`` does)."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        yield model
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


@contextlib.contextmanager
def _deterministic_cudnn() -> Iterator[None]:
    """cuDNN with deterministic algorithms and no autotuning for the block; every other setting (TF32
    and so on) left as the user set it."""
    cudnn = torch.backends.cudnn
    saved = (cudnn.deterministic, cudnn.benchmark)
    cudnn.deterministic, cudnn.benchmark = True, False
    try:
        yield
    finally:
        cudnn.deterministic, cudnn.benchmark = saved


def read_out(responses: Tensor, readout: ReadoutLike) -> Tensor:
    """Reduce responses ``(K, T)`` to one value per row ``(K,)``.

    ``'last'``: the last time step; ``'mean'``: the mean over time; ``'peak'``: the value at each row's
    own time of maximum (see :func:`peak_times`; the gradient flows through that one step);
    a callable receives ``(K, T)`` and must return ``(K,)`` without mixing rows.
    """
    if isinstance(readout, str):
        if readout == "last":
            return responses[:, -1]
        if readout == "mean":
            return responses.mean(dim=-1)
        if readout == "peak":
            return responses.gather(-1, peak_times(responses.detach())[:, None]).squeeze(-1)
        raise ValueError(f"readout must be one of {', '.join(READOUTS)} or a callable, got {readout!r}")
    if not callable(readout):
        raise TypeError(f"readout must be one of {', '.join(READOUTS)} or a callable, got {type(readout).__name__}")
    values = readout(responses)
    if not isinstance(values, Tensor) or tuple(values.shape) != (responses.shape[0],):
        shape = tuple(values.shape) if isinstance(values, Tensor) else type(values).__name__
        raise ValueError(f"a readout callable must map responses {tuple(responses.shape)} to "
                         f"({responses.shape[0]},), got {shape}")
    return values


def peak_times(responses: Tensor, rtol: float = 1e-5) -> Tensor:
    """Index of each row's maximum over time for responses ``(K, T)``: ``(K,)``.

    Near-ties (within ``rtol`` of the maximum's magnitude) go to the latest time step, so a flat
    response (a convolutional model's response to silence) peaks at the last step, as ``'last'`` does,
    and rounding noise between equal values never decides.
    """
    top = responses.max(dim=-1, keepdim=True).values
    near = responses >= top - rtol * top.abs()
    last_near = near.flip(-1).to(torch.uint8).argmax(dim=-1)
    return responses.shape[-1] - 1 - last_near


def check_spectrogram_model(model: nn.Module) -> Tuple[int, int]:
    """``(F, C_in)`` of an audio encoding model; a clear error for anything else."""
    F = getattr(model, "F", None)
    if not isinstance(F, int) or F <= 0:
        raise TypeError(f"{type(model).__name__} has no positive integer attribute F (frequency bands): "
                        "gradmaps need an audio encoding model")
    return F, int(getattr(model, "C_in", 1) or 1)


class SlotTap:
    """Forward hooks that detach a slot's tensor and let gradients start from a fresh leaf there.

    ``SlotTap(module, where='output')`` replaces the module's output by a leaf copy (its gradient is the
    gradient at that slot's output); ``where='input'`` replaces the module's first positional input and
    keeps the original (still attached to the graph) in ``self.upstream``, the other arguments in
    ``self.args`` and the module's output in ``self.output``. ``self.calls`` counts how many times the
    hook fired.
    """

    def __init__(self, module: nn.Module, where: str):
        self.leaf: Optional[Tensor] = None
        self.upstream: Optional[Tensor] = None
        self.args: tuple = ()
        self.output = None
        self.calls = 0
        self._handles = []
        if where == "output":
            self._handles.append(module.register_forward_hook(self._on_output))
        elif where == "input":
            self._handles.append(module.register_forward_pre_hook(self._on_input))
            self._handles.append(module.register_forward_hook(self._keep_output))
        else:  # pragma: no cover - programming error
            raise ValueError(where)

    def _fresh(self, tensor: Tensor) -> Tensor:
        self.calls += 1
        self.upstream = tensor
        self.leaf = tensor.detach().requires_grad_(True)
        return self.leaf

    def _on_output(self, module, args, output):
        if not isinstance(output, Tensor):
            return None
        return self._fresh(output)

    def _on_input(self, module, args):
        if not args or not isinstance(args[0], Tensor):
            return None
        self.args = tuple(args[1:])
        return (self._fresh(args[0]),) + self.args

    def _keep_output(self, module, args, output):
        self.output = output

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()

    def __enter__(self) -> "SlotTap":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def grad_accumulator(leaf: Tensor):
    """The autograd node that receives a leaf tensor's gradient."""
    return leaf.view_as(leaf).grad_fn.next_functions[0][0]


def depends_on(output: Tensor, leaf: Tensor) -> bool:
    """Whether ``output``'s autograd graph reaches ``leaf`` (a leaf tensor that requires grad)."""
    if output.grad_fn is None:
        return False
    target = grad_accumulator(leaf)
    seen = set()
    stack: List = [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        if node is target:
            return True
        seen.add(node)
        stack.extend(fn for fn, _ in node.next_functions)
    return False
