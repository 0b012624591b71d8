"""Gradient maps (gradmaps): the effective linear STRF of any encoding model, read by autodiff.

For neuron ``n`` the gradmap is ``g_n = dL_n/dx`` at the null stimulus ``x0 = 0`` (a silent spectrogram
``(1, 1, F, T)``) with ``L_n = -r_n[T-1]`` (deepSTRF's sign convention: plot ``-g_n`` to show excitatory
regions as positive). For an LN model ``r = sigma(W * x + b)`` it is ``-sigma'(b_n) W_n``.

How it is computed. The null stimulus is the same for every neuron, so the model runs forward once, on a
single stimulus. The gradients of the N responses are then pulled back in two stages, cut at the
readout's input ``z``: first the small Jacobian ``A = dL/dz`` (N vector-Jacobian products through the
readout, batched), then through the core and prefilter. Where ``A`` has few non-zero columns (a
per-time-step readout under the ``'last'`` readout touches only the last frame, and is then
differentiated on that frame alone) or low rank (a readout with a narrow hidden layer), only that many
products go back through the core; the rest is a small matrix product. All products are batched in one
backward pass (``torch.autograd.grad`` with ``is_grads_batched``, or ``torch.func.vmap``). Models that
encode each frame on its own before a recurrence (StateNet) share one frame Jacobian across all the
identical null frames (:mod:`strfviewer.analysis._frames`). A model whose operators refuse batching
falls back to the deepSTRF way (the null stimulus replicated along the batch, one backward of the
summed diagonal). ``benchmarks/gradmap_speed.py`` compares the schemes and deepSTRF.

Gradmaps are computed in eval mode (restored afterwards), leave no ``.grad`` in the parameters, are
deterministic, and live on the model's device.
"""

from __future__ import annotations

import warnings
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor, nn

from strfviewer.analysis._frames import FrameRecorder, frame_encoder, frame_pull
from strfviewer.analysis._probe import (
    ReadoutLike,
    SlotTap,
    check_spectrogram_model,
    default_gradmap_T,
    depends_on,
    model_device,
    model_dtype,
    probe_mode,
    read_out,
)

__all__ = ["strf_gradmap", "population_gradmap", "waveform_gradmap", "default_gradmap_T", "METHODS"]

#: ways of computing the gradients of the N neurons (``'auto'`` picks ``'factored'``)
METHODS = ("auto", "factored", "batched", "replicate")

# Columns of A beyond which the rank test (an SVD) costs more than it can save.
_MAX_RANK_TEST_COLUMNS = 4096


def check_analysis_size(T: int, values_per_frame: int) -> None:
    """``ValueError`` when a gradmap or dream of ``T`` frames (``values_per_frame`` = N x C x F values each)
    exceeds :data:`strfviewer.data.limits.MAX_ANALYSIS_FRAMES` or :data:`~strfviewer.data.limits.MAX_ANALYSIS_VALUES`."""
    from strfviewer.data import limits

    if T > limits.MAX_ANALYSIS_FRAMES or T * values_per_frame > limits.MAX_ANALYSIS_VALUES:
        raise ValueError(f"T = {T} frames ({T * values_per_frame} values, "
                         f"{limits.size_text(4.0 * T * values_per_frame)}) is more than the "
                         f"{limits.MAX_ANALYSIS_FRAMES} frames / {limits.MAX_ANALYSIS_VALUES} values analyses take")


def strf_gradmap(model: nn.Module, T: Optional[int] = None, readout: ReadoutLike = "last",
                 per_channel: bool = False, method: str = "auto") -> Tensor:
    """Gradmaps of all N neurons at the null stimulus: a tensor ``(N, C, F, T)``.

    Parameters
    ----------
    model : an audio encoding model (attributes ``F``, ``T``, ``C_in``; slots ``prefiltering``,
        ``readout``), spectrogram- or waveform-input (the front-end is bypassed: gradmaps live in
        spectrogram space).
    T : frames of the null stimulus (time axis of the result); default
        :func:`default_gradmap_T`: the model's temporal reach (``model.temporal_reach()``, i.e. its
        window plus the prefilter's, without the prefilter's for per-channel maps; ``model.T`` when it
        has no such method), and at least 100 ms worth of frames at 5 ms for recurrent and attention
        models.
    readout : which value of each neuron's response ``r_n (T,)`` is maximised: ``'last'`` (default,
        ``r_n[T-1]``), ``'mean'`` (mean over time), ``'peak'`` (at the time of the null response's
        maximum), or a callable mapping responses ``(N, T)`` to ``(N,)``. ``L_n = -readout(r)_n``.
    per_channel : when True, the gradient at the prefilter's output, ``C = C_in`` channels (AdapTrans:
        ON, OFF); when False (default) at the raw spectrogram, ``C = 1``.
    method : ``'auto'``/``'factored'`` (cut at the readout, see the module notes), ``'batched'`` (one
        forward, N batched backward products straight to the input), ``'replicate'`` (deepSTRF's
        scheme: N copies of the null stimulus in the batch). All give the same maps up to float
        rounding; ``'auto'`` is the fastest in ``benchmarks/gradmap_speed.py``.

    Returns
    -------
    Tensor ``(N, C, F, T)`` on the model's device, detached.

    Note: a prefilter that rectifies its outputs (AdapTrans: ``relu`` of ON and OFF) sits exactly on
    the kink at silence, where the derivative is taken as 0, so the raw-spectrogram map of such a model
    is zero (as in deepSTRF); its per-channel maps (``per_channel=True``) carry the ON/OFF structure.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    F, C_in = check_spectrogram_model(model)
    T = default_gradmap_T(model, per_channel=per_channel) if T is None else int(T)
    if T <= 0:
        raise ValueError(f"T must be a positive number of frames, got {T}")
    check_analysis_size(T, int(getattr(model, "N", 1) or 1) * max(int(C_in or 1), 1) * F)
    x0 = torch.zeros(1, 1, F, T, device=model_device(model), dtype=model_dtype(model))
    with probe_mode(model) as model, warnings.catch_warnings():
        # operators without a vectorised rule are looped over by torch (correct, slower): not the user's issue
        warnings.filterwarnings("ignore", message="There is a performance drop")
        if method == "replicate":
            maps = _replicated(model, x0, readout, per_channel)
        else:
            try:
                maps = _one_forward(model, x0, readout, per_channel, factored=(method != "batched"))
            except RuntimeError as exc:
                if not _is_batching_failure(exc):
                    raise
                maps = _replicated(model, x0, readout, per_channel)
    return maps.detach()


def population_gradmap(model: nn.Module, neurons: Optional[Sequence[int]] = None, T: Optional[int] = None,
                       readout: ReadoutLike = "last", per_channel: bool = False) -> Tensor:
    """Gradmap of the population: ``dL/dx`` with ``L = -mean_n readout(r_n)`` over ``neurons`` (default
    all), shape ``(C, F, T)``. It equals the mean of the neurons' gradmaps and costs one backward pass.
    Same options and conventions as :func:`strf_gradmap`.
    """
    F, _ = check_spectrogram_model(model)
    T = default_gradmap_T(model, per_channel=per_channel) if T is None else int(T)
    if T <= 0:
        raise ValueError(f"T must be a positive number of frames, got {T}")
    x = torch.zeros(1, 1, F, T, device=model_device(model), dtype=model_dtype(model), requires_grad=True)
    with probe_mode(model) as model:
        source_tap = _source_tap(model, per_channel)
        try:
            loss = _objective(model(x), model, readout)                       # (N,)
        finally:
            if source_tap is not None:
                source_tap.remove()
        index = list(range(loss.shape[0])) if neurons is None else [int(n) for n in neurons]
        if not index:
            raise ValueError("population_gradmap needs at least one neuron")
        bad = [n for n in index if not 0 <= n < loss.shape[0]]
        if bad:
            raise IndexError(f"neuron index {bad} out of range for a model with {loss.shape[0]} neurons")
        source = source_tap.leaf if source_tap is not None else x
        (grad,) = torch.autograd.grad(loss[index].mean(), source, allow_unused=True)
    return (torch.zeros_like(source) if grad is None else grad)[0].detach()


# --------------------------------------------------------------------------------------------------------
# spectrogram gradmaps


def _source_tap(model: nn.Module, per_channel: bool) -> Optional[SlotTap]:
    """A tap on the prefilter's output when per-channel maps are asked for."""
    if not per_channel:
        return None
    prefilter = getattr(model, "prefiltering", None)
    if not isinstance(prefilter, nn.Module):
        raise TypeError(f"{type(model).__name__} has no prefiltering slot: per-channel gradmaps need one")
    return SlotTap(prefilter, "output")


def _one_forward(model: nn.Module, x0: Tensor, readout: ReadoutLike, per_channel: bool,
                 factored: bool) -> Tensor:
    x = x0.clone().requires_grad_(True)
    source_tap = _source_tap(model, per_channel)
    readout_module = getattr(model, "readout", None)
    cut = SlotTap(readout_module, "input") if factored and isinstance(readout_module, nn.Module) else None
    encoder = frame_encoder(model) if cut is not None else None
    frames = FrameRecorder(encoder) if encoder is not None else None
    try:
        response = model(x)
        loss = _objective(response, model, readout)          # (N,)
    finally:
        for tap in (source_tap, cut, frames):
            if tap is not None:
                tap.remove()
    if source_tap is not None:
        if source_tap.calls != 1:
            raise RuntimeError(f"the prefilter of {type(model).__name__} ran {source_tap.calls} times in one "
                               "forward pass; per-channel gradmaps need exactly one")
        source = source_tap.leaf
    else:
        source = x
    N = loss.shape[0]
    if cut is None or cut.calls == 0:       # no readout slot in the forward: straight through
        eye = torch.eye(N, device=loss.device, dtype=loss.dtype)
        return _batched_vjp(loss, source, eye).reshape(N, *source.shape[1:])
    if cut.calls != 1 or depends_on(loss, source):
        # the readout ran twice, or the response reaches the input around it: the cut does not hold
        return _one_forward(model, x0, readout, per_channel, factored=False)
    A = _readout_jacobian(readout_module, cut, response, loss, readout).reshape(N, -1)   # (N, |z|)
    z = cut.upstream
    if z is source:
        return A.reshape(N, *source.shape[1:])
    general = lambda cotangents: _batched_vjp(z, source, cotangents).reshape(cotangents.shape[0], -1)  # noqa: E731
    if frames is not None and frames.usable():
        shortcut = frame_pull(model, x0, frames, readout_module, source, _batched_vjp)
        try:
            return _pull_back(A, z.shape, shortcut).reshape(N, *source.shape[1:])
        except (RuntimeError, NotImplementedError):
            pass  # an operator the transforms cannot handle: the general path
    return _pull_back(A, z.shape, general).reshape(N, *source.shape[1:])


def _objective(response: Tensor, model: nn.Module, readout: ReadoutLike) -> Tensor:
    """``-readout(r)`` for the response ``(1, N, 1, T)`` to one stimulus: shape ``(N,)``."""
    if response.dim() != 4 or response.shape[0] != 1 or response.shape[2] != 1:
        raise ValueError(f"{type(model).__name__} returned shape {tuple(response.shape)}, expected (1, N, 1, T)")
    return -read_out(response[0, :, 0, :], readout)


def _readout_jacobian(readout_module: nn.Module, cut: SlotTap, response: Tensor, loss: Tensor,
                      readout: ReadoutLike) -> Tensor:
    """``dL/dz`` at the readout's input ``z``: ``(N, *z.shape)``.

    When the model's output is the readout's own output, the readout is differentiated as a function
    (``torch.func``: vectorised rules for more operators than the batched backward has); otherwise the
    recorded graph from ``z`` to the loss is used.
    """
    N = loss.shape[0]
    eye = torch.eye(N, device=loss.device, dtype=loss.dtype)
    if response is cut.output:
        z = cut.leaf.detach()
        last_only = isinstance(readout, str) and readout == "last" and _per_frame(readout_module)
        if last_only:       # the last response frame reads the last feature frame only: the rest is 0
            z = z[..., -1:]

        def readout_loss(features: Tensor) -> Tensor:
            return -read_out(readout_module(features, *cut.args)[0, :, 0, :], readout)

        try:
            with torch.no_grad():       # no graph towards the parameters (the transform ignores it)
                _, pull = torch.func.vjp(readout_loss, z)
                jacobian = torch.func.vmap(pull)(eye)[0]                      # (N, *z.shape)
        except (RuntimeError, NotImplementedError):
            pass  # an operator without a vectorised rule: use the recorded graph
        else:
            if not last_only:
                return jacobian
            full = jacobian.new_zeros(N, *cut.leaf.shape)
            full[..., -1:] = jacobian
            return full
    return _batched_vjp(loss, cut.leaf, eye)


def _per_frame(readout_module: nn.Module) -> bool:
    """Whether the readout maps each time frame of its input to the same frame of its output alone
    (a per-time-step projection): declared by ``per_frame = True`` or known from its class."""
    if getattr(readout_module, "per_frame", False) is True:
        return True
    kind = type(readout_module)
    return kind.__name__ == "LinearReadout" and kind.__module__ == "strfviewer.models.readouts"


def _batched_vjp(output: Tensor, inputs: Tensor, cotangents: Tensor, retain: bool = False) -> Tensor:
    """Rows of ``cotangents`` (K, *output.shape) pulled back to ``inputs``: ``(K, *inputs.shape)``.

    One backward pass for all K rows (vmapped); a single row takes a plain backward pass (no vmap overhead:
    a fifth of a StateNet + LEAF waveform gradmap's time)."""
    if cotangents.shape[0] == 1:
        (grads,) = torch.autograd.grad(output, inputs, grad_outputs=cotangents[0], retain_graph=retain,
                                       allow_unused=True)
        grads = None if grads is None else grads.unsqueeze(0)
    else:
        (grads,) = torch.autograd.grad(output, inputs, grad_outputs=cotangents, retain_graph=retain,
                                       is_grads_batched=True, allow_unused=True)
    if grads is None:
        return torch.zeros(cotangents.shape[0], *inputs.shape, device=inputs.device, dtype=inputs.dtype)
    return grads


def _pull_back(A: Tensor, z_shape, pull) -> Tensor:
    """``A @ dz/dsource`` for ``A (N, |z|)``, with as few products through the core as the structure of
    ``A`` allows: only its non-zero columns, and only as many directions as its rank. ``pull`` maps
    cotangents ``(K, *z_shape)`` to ``(K, |source|)``."""
    N = A.shape[0]
    z_flat_size = A.shape[1]
    support = (A != 0).any(dim=0).nonzero().squeeze(1)   # columns of A that are used
    k = support.numel()
    if k == 0:
        return pull(torch.zeros(1, *z_shape, device=A.device, dtype=A.dtype)).expand(N, -1)
    A_S = A.index_select(1, support)                       # (N, k)
    directions, mix = A_S, None                            # default: N products, no mixing
    if k < N:
        directions = torch.eye(k, device=A.device, dtype=A.dtype)
        mix = A_S
    if min(N, k) > 1 and k <= _MAX_RANK_TEST_COLUMNS:
        low_rank = _low_rank_factors(A_S)
        if low_rank is not None:
            mix, directions = low_rank
    cotangents = torch.zeros(directions.shape[0], z_flat_size, device=A.device, dtype=A.dtype)
    cotangents[:, support] = directions
    pulled = pull(cotangents.reshape(-1, *z_shape))                        # (K, |source|)
    return pulled if mix is None else mix @ pulled


def _low_rank_factors(A_S: Tensor):
    """``(mix (N, r), directions (r, k))`` with ``mix @ directions = A_S`` to float32 rounding when the
    rank ``r`` of ``A_S (N, k)`` is below ``min(N, k)``; None otherwise.

    The rank is read from the eigenvalues of the smaller Gram matrix (the squared singular values), in
    float64 on the CPU: small, and deterministic on any device.
    """
    N, k = A_S.shape
    a = A_S.detach().to("cpu", torch.float64)
    gram = a.T @ a if k <= N else a @ a.T
    eigenvalues, vectors = torch.linalg.eigh(gram)                         # ascending
    top = float(eigenvalues[-1])
    if top <= 0:
        return None
    tol = top * (max(N, k) * torch.finfo(A_S.dtype).eps) ** 2               # on squared singular values
    keep = eigenvalues > tol
    rank = int(keep.sum())
    if rank >= min(N, k):
        return None
    basis = vectors[:, keep]                                               # orthonormal, (k or N, r)
    if k <= N:              # A = (A V)(V^T)
        mix, directions = a @ basis, basis.T
    else:                   # A = U (U^T A)
        mix, directions = basis, basis.T @ a
    return mix.to(A_S.device, A_S.dtype), directions.to(A_S.device, A_S.dtype)


def _replicated(model: nn.Module, x0: Tensor, readout: ReadoutLike, per_channel: bool) -> Tensor:
    """deepSTRF's scheme: N copies of the null stimulus in the batch, one backward of the diagonal."""
    with torch.no_grad():
        N = model(x0).shape[1]
    x = x0.expand(N, *x0.shape[1:]).clone().requires_grad_(True)
    source_tap = _source_tap(model, per_channel)
    try:
        response = model(x)                                # (N, N, 1, T)
    finally:
        if source_tap is not None:
            source_tap.remove()
    diagonal = response[torch.arange(N), torch.arange(N), 0, :]            # (N, T)
    loss = -read_out(diagonal, readout).sum()
    source = source_tap.leaf if source_tap is not None else x
    (grads,) = torch.autograd.grad(loss, source, allow_unused=True)
    return torch.zeros_like(source) if grads is None else grads


def _is_batching_failure(exc: RuntimeError) -> bool:
    text = str(exc).lower()
    return "vmap" in text or "batched" in text or "batching rule" in text or "functorch" in text


# --------------------------------------------------------------------------------------------------------
# waveform gradmaps

WAVEFORM_REDUCES = ("last", "peak", "sum")


def waveform_gradmap(model: nn.Module, stimulus: Union[Tensor, np.ndarray, Sequence[float], None] = None,
                     neuron: Union[int, Sequence[int], None] = None, reduce: str = "last",
                     duration_ms: float = 500.0, noise_floor: float = 1e-4, seed: int = 0,
                     at: Union[int, Sequence[int], None] = None, population: bool = False) -> Tensor:
    """Gradient of neurons' responses with respect to the input waveform (a listenable receptive field).

    Only for wav-native models (a ``wav2spec`` front-end that is not ``nn.Identity``); spectrogram-input
    models get a ``TypeError`` pointing at :func:`strf_gradmap`.

    Parameters
    ----------
    stimulus : waveform ``(T_audio,)`` (tensor or array) around which to linearise; ``None`` gives a
        near-silence of ``duration_ms``: white noise at ``noise_floor`` amplitude (about -80 dBFS, fixed
        ``seed``), because the derivative of a power or magnitude spectrogram at exact digital silence is
        zero or undefined. ``noise_floor=0`` gives exact silence.
    neuron : an index (result ``(T_audio,)``), a list of indices (``(K, T_audio)``) or None for all
        neurons (``(N, T_audio)``).
    reduce : which value of the response ``r_n`` up to frame ``k`` (``at``) is differentiated: ``'last'``
        (``r_n[k]``: the receptive field before that frame), ``'peak'`` (at the time of the maximum of
        ``r_n[:k+1]``), ``'sum'`` (``sum(r_n[:k+1])``: a saliency map of the whole stretch rather than a
        receptive field).
    at : the response frame ``k`` of each neuron: an int (all neurons), one int per neuron asked for, or
        None for the last frame of the response.
    population : return the gradient of the mean of the neurons' values instead, ``(T_audio,)`` (one
        backward pass; the mean of their maps).

    Sign: the gradient of the response itself (positive samples increase the response), as in
    deepSTRF's ``waveform_gradmap``. Computed in eval mode, restored afterwards. One forward pass; the
    neurons' maps are batched in one backward pass.
    """
    front_end = getattr(model, "wav2spec", None)
    if not isinstance(front_end, nn.Module) or isinstance(front_end, nn.Identity):
        raise TypeError(f"{type(model).__name__} takes spectrograms (its wav2spec is Identity): waveform "
                        "gradmaps need a wav-native model; use strf_gradmap for the spectrogram gradmap")
    if reduce not in WAVEFORM_REDUCES:
        raise ValueError(f"reduce must be one of {', '.join(WAVEFORM_REDUCES)}, got {reduce!r}")
    device, dtype = model_device(model), model_dtype(model)
    wave = _waveform(front_end, stimulus, duration_ms, noise_floor, seed).to(device=device, dtype=dtype)
    x = wave.reshape(1, 1, -1).clone().requires_grad_(True)
    with probe_mode(model, spectrogram_input=False) as model:
        response = model(x)[0, :, 0, :]                                    # (N, T)
        N, T = response.shape
        single = isinstance(neuron, (int, np.integer))
        index = list(range(N)) if neuron is None else ([int(neuron)] if single else [int(i) for i in neuron])
        bad = [i for i in index if not 0 <= int(i) < N]
        if bad or not index:
            raise IndexError(f"neuron index {bad or index} out of range for a model with {N} neurons")
        cotangents = _response_cotangents(response.detach(), index, reduce, _end_frames(at, len(index), T))
        if population:
            cotangents = cotangents.mean(dim=0, keepdim=True)
        grads = _batched_vjp(response, x, cotangents).reshape(cotangents.shape[0], -1)
    return (grads[0] if single or population else grads).detach()


def _end_frames(at, K: int, T: int) -> List[int]:
    """One end frame per neuron asked for (``at``: None = the last frame, an int, or K ints)."""
    if at is None:
        return [T - 1] * K
    frames = [int(at)] * K if isinstance(at, (int, np.integer)) else [int(a) for a in at]
    if len(frames) != K:
        raise ValueError(f"at gives {len(frames)} frames for {K} neurons")
    bad = [k for k in frames if not 0 <= k < T]
    if bad:
        raise ValueError(f"response frame {bad[0]} is outside the response's {T} frames")
    return frames


def _response_cotangents(response: Tensor, index: Sequence[int], reduce: str, ends: Sequence[int]) -> Tensor:
    """``(K, N, T)`` weights on the response whose pull-back is each asked-for neuron's map (see
    :func:`waveform_gradmap` for ``reduce``)."""
    N, T = response.shape
    out = response.new_zeros(len(index), N, T)
    for i, (n, k) in enumerate(zip(index, ends)):
        if reduce == "last":
            out[i, n, k] = 1.0
        elif reduce == "peak":
            out[i, n, int(torch.argmax(response[n, : k + 1]))] = 1.0
        else:
            out[i, n, : k + 1] = 1.0
    return out


def _waveform(front_end: nn.Module, stimulus, duration_ms: float, noise_floor: float, seed: int) -> Tensor:
    if stimulus is not None:
        wave = torch.as_tensor(stimulus, dtype=torch.float32).detach()
        if wave.dim() > 1:
            if int(torch.tensor(wave.shape[:-1]).prod()) != 1:
                raise ValueError(f"stimulus must be a mono waveform (T_audio,), got shape {tuple(wave.shape)}")
            wave = wave.reshape(-1)
        if wave.numel() == 0:
            raise ValueError("stimulus is empty")
        return wave
    sample_rate = getattr(front_end, "sample_rate", None)
    if not sample_rate:
        raise ValueError(f"{type(front_end).__name__} states no sample_rate: pass a stimulus waveform")
    n = max(1, int(round(float(duration_ms) * float(sample_rate) / 1000.0)))
    generator = torch.Generator().manual_seed(int(seed))
    return noise_floor * torch.randn(n, generator=generator)
