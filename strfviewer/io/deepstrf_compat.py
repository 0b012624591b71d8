"""Complete the constructor arguments of checkpoints written by deepSTRF 0.1.0's ``save_pretrained``.

deepSTRF keeps only JSON-able constructor arguments in ``config.json``: an argument left at its default
``None`` is saved as ``null``, and a module passed in (a prefilter, an STRF kernel, an output activation, a
waveform front-end) is dropped — the key is absent. This module rebuilds those arguments as strfviewer
registry descriptions from the tensor names and shapes in ``model.safetensors`` where they determine them,
and otherwise leaves an :class:`Unresolved` marker that :func:`raise_if_unresolved` turns into a
:class:`CheckpointError` telling the caller what to pass in ``extra_kwargs``.

What the weights determine (deepSTRF tensor names, relative to the slot):

- prefilter ``prefiltering.{d_on,d_off,p}`` -> ``AdapTrans``; ``prefiltering.a`` -> ``ICAdaptation``. Their
  ``kernel_size`` (frames) is not stored anywhere, so it must be given.
- kernel (``readout.strf.kernel.*`` for Linear/LinearNonlinear, ``core.0.kernel.*`` for
  NetworkReceptiveField/DNet): ``weight`` (4-D) -> full, ``weight_f``/``weight_t`` -> separable,
  ``P``/``SIG``/``weight`` -> gaussian with ``num_gaussians = P.shape[-1]``; ``bias`` present or not.
- output activation ``readout.activation.*``: ``_raw_beta,_raw_b`` -> ParametricSoftplus; ``c,d,_raw_b[,_raw_a]``
  -> ParametricSigmoid; ``k,s,_raw_a[,_raw_b]`` -> ParametricDoubleExponential. Its ``non_negative_output``
  flag changes the forward pass but not the tensor names, so a passed-in activation needs it given.
- waveform front-end ``wav2spec.*`` (see :mod:`strfviewer.io.deepstrf_frontends`): the tensor names give the
  class (``CausalMelSpectrogram``, ``CausalGammatone``, ``Gammatonegram``, ``CausalLEAF``, ``SincNet``) and the
  shapes its band count and filter lengths; the audio sample rate is never stored, so it must be given
  (``extra_kwargs={"wav2spec": {"audio_fs": 16000}}``).
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import torch

from strfviewer.io.checkpoint_error import CheckpointError
from strfviewer.models.capture import DESCRIPTION_KEY, is_description

_ABSENT = object()

#: Where each family keeps its STRF kernel module in deepSTRF's state_dict.
KERNEL_PREFIX = {"Linear": "readout.strf.kernel.", "LinearNonlinear": "readout.strf.kernel.",
                 "NetworkReceptiveField": "core.0.kernel.", "DNet": "core.0.kernel."}
_COMMON = ("n_frequency_bands", "out_neurons", "output_activation", "prefiltering")
#: The constructor arguments of each deepSTRF 0.1.0 family (read from its signatures).
DEEPSTRF_ARGS = {
    "Linear": {*_COMMON, "temporal_window_size", "kernel", "wav2spec"},
    "LinearNonlinear": {*_COMMON, "temporal_window_size", "kernel"},
    "NetworkReceptiveField": {*_COMMON, "temporal_window_size", "kernel", "n_hidden"},
    "DNet": {*_COMMON, "temporal_window_size", "kernel", "n_hidden", "init_tau", "decay_input"},
    "ConvNet2D": {*_COMMON, "kernel_size", "c_hidden", "n_hidden"},
    "Transformer": {*_COMMON, "freq_patch_size", "time_patch_size", "context_window", "embedding_dim", "n_heads",
                    "n_layers", "wav2spec"},
    "StateNet": {*_COMMON, "temporal_window_size", "kernel_size", "stride", "hidden_channels", "connectivity",
                 "rnn_type", "wav2spec"},
}
MODULE_SLOTS = ("prefiltering", "kernel", "output_activation", "wav2spec")
#: A key missing from a deepSTRF config means "a module was passed" only for these arguments.
DEEPSTRF_MODULE_ARGS = {name: args & set(MODULE_SLOTS) for name, args in DEEPSTRF_ARGS.items()}
PREFILTER_PREFIX = "prefiltering."
ACTIVATION_PREFIX = "readout.activation."
FRONTEND_PREFIX = "wav2spec."


@dataclass
class Unresolved:
    """A module-valued argument the weights do not fully determine.

    ``partial`` is the description as far as it is known (``None`` if even the class is unknown) and
    ``missing`` the keyword arguments of that module the caller must add. ``finish``, when set, completes the
    description once they are given: ``finish(description, given)`` -> description, ``given`` the caller's
    keyword arguments (which it must not override).
    """

    slot: str
    reason: str
    partial: Optional[Dict[str, Any]] = None
    missing: Tuple[str, ...] = field(default_factory=tuple)
    finish: Optional[Callable[[Dict[str, Any], Mapping[str, Any]], Dict[str, Any]]] = None


def describe(kind: str, name: str, **kwargs: Any) -> Dict[str, Any]:
    """A registry description ``{"_registry": kind, "name": name, "kwargs": kwargs}``."""
    return {DESCRIPTION_KEY: kind, "name": name, "kwargs": kwargs}


def infer_module_kwargs(cls: type, class_name: str, kwargs: Mapping[str, Any],
                        tensors: Mapping[str, torch.Tensor],
                        metadata: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """``kwargs`` with every module-valued argument of ``cls`` that deepSTRF did not save filled in
    (``metadata``: the checkpoint's, whose ``dt_ms`` gives a waveform front-end's ``hop_ms``)."""
    from strfviewer.io.deepstrf_frontends import infer_frontend

    params = inspect.signature(cls.__init__).parameters
    deepstrf_args = DEEPSTRF_MODULE_ARGS.get(class_name, set())
    out = dict(kwargs)
    inferers = (("prefiltering", _infer_prefilter), ("kernel", _infer_kernel),
                ("output_activation", _infer_activation),
                ("wav2spec", functools.partial(infer_frontend, metadata=metadata or {})))
    for slot, infer in inferers:
        if slot not in params:
            continue
        saved = kwargs.get(slot, _ABSENT)
        if saved is not None and saved is not _ABSENT:
            continue  # a real value (e.g. a strfviewer description) was saved
        out[slot] = infer(class_name, kwargs, tensors, passed=saved is _ABSENT and slot in deepstrf_args)
    return out


def apply_extra_kwargs(kwargs: Mapping[str, Any], extra: Mapping[str, Any]) -> Dict[str, Any]:
    """Merge the caller's ``extra_kwargs``: modules, descriptions and plain values replace; a plain dict for
    an argument holding a description (or an :class:`Unresolved` with a partial description) is merged into
    that module's keyword arguments (and ignored for an :class:`Unresolved` whose class is unknown, which
    :func:`raise_if_unresolved` then reports)."""
    out = dict(kwargs)
    for key, value in extra.items():
        current = out.get(key)
        if isinstance(value, dict) and not is_description(value):
            if is_description(current):
                out[key] = {**current, "kwargs": {**current.get("kwargs", {}), **value}}
                continue
            if isinstance(current, Unresolved) and current.partial is None:
                continue  # keyword arguments cannot complete a module whose class is unknown: report why
            if isinstance(current, Unresolved):
                merged = {**current.partial, "kwargs": {**current.partial["kwargs"], **value}}
                still = tuple(k for k in current.missing if k not in value)
                if still:
                    out[key] = Unresolved(current.slot, current.reason, merged, still, current.finish)
                else:
                    out[key] = current.finish(merged, value) if current.finish else merged
                continue
        out[key] = value
    return out


def raise_if_unresolved(kwargs: Mapping[str, Any], config_path: Path) -> None:
    """Raise one :class:`CheckpointError` listing every argument still :class:`Unresolved`."""
    pending = [v for v in kwargs.values() if isinstance(v, Unresolved)]
    if not pending:
        return
    parts = []
    for u in pending:
        if u.missing:
            example = ", ".join(f"{k!r}: ..." for k in u.missing)
            hint = f"pass extra_kwargs={{{u.slot!r}: {{{example}}}}} or a module"
        else:
            hint = f"pass the module as extra_kwargs={{{u.slot!r}: ...}}"
        parts.append(f"{u.slot}: {u.reason} — {hint}")
    raise CheckpointError(config_path, "deepSTRF did not save these constructor arguments and the weights "
                                       "do not determine them: " + "; ".join(parts))


# ------------------------------------------------------------------------------------------- per slot

def _slot_tensors(tensors: Mapping[str, torch.Tensor], prefix: str) -> Dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


_FACTORY_HINT = (" (deepSTRF's make_prefiltering uses round(3 * slowest time constant in ms) + 1, e.g. 651 "
                 "for 500-16000 Hz mel bands)")


def _infer_prefilter(class_name, kwargs, tensors, passed):
    found = _slot_tensors(tensors, PREFILTER_PREFIX)
    names = set(found)
    if not names:
        if passed:
            return Unresolved("prefiltering", "a prefilter without weights was passed to deepSTRF")
        return None
    if names == {"d_on", "d_off", "p"}:
        # AdapTrans stores d = sqrt(1/a - 1) and p = sqrt(1/w - 1); recover the initial a and w from them
        a = (1.0 / (1.0 + found["d_on"].double() ** 2)).tolist()
        w = (1.0 / (1.0 + found["p"].double() ** 2)).tolist()
        partial = describe("prefilter", "AdapTrans", init_a_vals=a, init_w_vals=w, learnable=True)
        return Unresolved("prefiltering", f"the weights show an AdapTrans prefilter over {len(a)} bands, but its "
                                          "kernel_size (frames) is not stored" + _FACTORY_HINT, partial, ("kernel_size",))
    if names == {"a"}:
        a = found["a"].double().tolist()
        partial = describe("prefilter", "ICAdaptation", init_a_vals=a)
        return Unresolved("prefiltering", f"the weights show an ICAdaptation prefilter over {len(a)} bands, but "
                                          "its kernel_size (frames) is not stored" + _FACTORY_HINT, partial,
                          ("kernel_size",))
    return Unresolved("prefiltering", f"unrecognised prefilter tensors {sorted(names)}")


def _infer_kernel(class_name, kwargs, tensors, passed):
    prefix = KERNEL_PREFIX.get(class_name)
    if prefix is None:
        return None
    found = _slot_tensors(tensors, prefix)
    names = set(found)
    bias = "bias" in names
    body = names - {"bias"}
    F, T = kwargs.get("n_frequency_bands"), kwargs.get("temporal_window_size")
    if body == {"weight"} and found["weight"].dim() == 4:
        if bias and not passed:
            return None  # deepSTRF's default: a full Conv2d kernel with bias
        C_out, C_in = found["weight"].shape[:2]
        return describe("kernel", "full", F=F, T=T, C_in=int(C_in), C_out=int(C_out), bias=bias)
    if body == {"weight_f", "weight_t"}:
        C_out, C_in = found["weight_f"].shape[:2]
        return describe("kernel", "separable", F=F, T=T, C_in=int(C_in), C_out=int(C_out), bias=bias)
    if body == {"P", "SIG", "weight"}:
        C_out, C_in, K = found["weight"].shape
        return describe("kernel", "gaussian", F=F, T=T, C_in=int(C_in), C_out=int(C_out),
                        num_gaussians=int(K), bias=bias)
    if body == {"0.weight", "1.weight"}:
        return Unresolved("kernel", "deepSTRF's two-Conv2d nn.Sequential separable kernel has no strfviewer "
                                    "equivalent with the same tensor names")
    return Unresolved("kernel", f"unrecognised STRF kernel tensors {sorted(names)}")


_ACTIVATIONS = (  # (registry name, required tensors, optional tensor -> the `bias` flag)
    ("ParametricSoftplus", {"_raw_beta", "_raw_b"}, None),
    ("ParametricSigmoid", {"c", "d", "_raw_b"}, "_raw_a"),
    ("ParametricDoubleExponential", {"k", "s", "_raw_a"}, "_raw_b"),
)


def _infer_activation(class_name, kwargs, tensors, passed):
    if not passed:
        return None  # null: the family's default activation
    found = _slot_tensors(tensors, ACTIVATION_PREFIX)
    names = set(found)
    if not names:
        return Unresolved("output_activation", "a module without weights (e.g. nn.ReLU) was passed to deepSTRF "
                                               "and the files do not say which")
    for name, required, optional in _ACTIVATIONS:
        if required <= names <= required | ({optional} if optional else set()):
            n = int(next(iter(found.values())).shape[0])
            extra = {"bias": optional in names} if optional else {}
            partial = describe("activation", name, num_features=n, **extra)
            return Unresolved("output_activation", f"the weights show a {name} over {n} neurons, but its "
                                                   "non_negative_output flag is not stored", partial,
                              ("non_negative_output",))
    return Unresolved("output_activation", f"unrecognised activation tensors {sorted(names)}")
