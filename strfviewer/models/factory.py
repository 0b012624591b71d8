"""Build models from a small JSON-able description (:class:`ModelSpec`) and describe built models.

This is what the fit dialog, the model panel, the CLI and sweeps use instead of calling the model
classes directly. A spec names the family (a registered model name), the STRF kernel, the prefilter and
the output activation by registry name with their options (``*_kwargs``: the ``OPTIONS`` each class
declares, see :mod:`strfviewer.models.options`), the StateNet recurrence, the temporal window ``T``
(frames) and any other constructor keyword argument in ``hyper``. :func:`check_spec` checks every value
against the declared options before anything is built or loaded.

``T`` is the ``temporal_window_size`` of the families that have one (Linear, LinearNonlinear,
NetworkReceptiveField, DNet); ConvNet2D, Transformer and StateNet take their temporal extent from
their own hyperparameters (``kernel_size``, ``context_window``, the recurrence) and ignore it.
Prefilter keyword arguments are those of :func:`~strfviewer.models.prefilters.make_prefiltering`
(``dt`` in ms, ``min_freq``/``max_freq`` in Hz, ``scale``, ``learnable``, ``init_w``, ``kernel_size``).
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import torch.nn as nn

from strfviewer.models import options as _options
from strfviewer.models import registry
from strfviewer.models.capture import build_from_description, is_description
from strfviewer.models.options import STRUCTURAL, Option  # noqa: F401  (Option: re-exported)

# Constructor arguments the factory fills itself; they are never taken from ``spec.hyper``.
_RESERVED = STRUCTURAL["model"]
NONE_NAMES = ("", "none", "None")


@dataclass
class ModelSpec:
    """What to build. ``kernel``/``prefilter``/``activation``: registry names or ``None`` (family
    default), each with its options in ``*_kwargs``; ``rnn_type``: StateNet's recurrence; ``T``: temporal
    window in frames; ``hyper``: other constructor keyword arguments of the family; ``frontend``: a registered
    waveform front-end (the ``wav2spec`` slot: the model then takes audio ``(B, 1, T_audio)``) with its
    ``frontend_kwargs`` (see :mod:`strfviewer.models.frontend_args`), ``None`` for spectrogram input."""

    family: str = "Linear"
    kernel: Optional[str] = None
    kernel_kwargs: Dict[str, Any] = field(default_factory=dict)
    prefilter: Optional[str] = None
    prefilter_kwargs: Dict[str, Any] = field(default_factory=dict)
    activation: Optional[str] = None
    activation_kwargs: Dict[str, Any] = field(default_factory=dict)
    rnn_type: Optional[str] = None
    T: int = 15
    hyper: Dict[str, Any] = field(default_factory=dict)
    frontend: Optional[str] = None
    frontend_kwargs: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "ModelSpec":
        if not isinstance(d, dict):
            raise ValueError(f"a model spec must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown model spec field(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        values = {k: (dict(v) if isinstance(v, dict) else v) for k, v in d.items()}
        for name in _KWARGS_FIELDS:
            if values.get(name) is None:
                values[name] = {}
            elif not isinstance(values[name], dict):
                raise ValueError(f"model spec field {name} must be an object, got {type(values[name]).__name__}")
        # specs saved before the structural arguments had one definition could carry the kernel's bias
        values["kernel_kwargs"] = {k: v for k, v in values["kernel_kwargs"].items() if k not in STRUCTURAL["kernel"]}
        return cls(**values)


_KWARGS_FIELDS = ("kernel_kwargs", "prefilter_kwargs", "activation_kwargs", "hyper", "frontend_kwargs")


@dataclass(frozen=True)
class SlotInfo:
    """One of the four slots of a built model: its class, trainable parameter count and a summary."""

    slot: str
    class_name: str
    n_params: int
    summary: str


@dataclass(frozen=True)
class _Family:
    has_kernel: bool          # holds a CausalSTRFConv whose kernel can be swapped
    uses_T: bool              # has a temporal_window_size
    kernel_out: str           # what C_out of the kernel is: 'neurons' or 'n_hidden'
    options: tuple


# A family option's ``name`` is ``T`` (-> ``spec.T``), ``rnn_type`` (-> ``spec.rnn_type``) or a constructor
# keyword argument (-> ``spec.hyper``); see :func:`apply_options`.
_T_OPTION = Option("T", "int", 15, tooltip="Temporal window of the STRF in frames (15 frames = 75 ms at 5 ms).",
                   minimum=1, maximum=400, label="T (frames)")
_NHIDDEN = Option("n_hidden", "int", 20, tooltip="Number of hidden units (each with its own STRF).",
                  minimum=1, maximum=512, label="Hidden units")
RNN_TYPES = ("GRU", "LSTM", "RNN", "LMU", "Mamba", "S4", "S4D")

FAMILIES: Dict[str, _Family] = {
    "Linear": _Family(True, True, "neurons", (_T_OPTION,)),
    "LinearNonlinear": _Family(True, True, "neurons", (_T_OPTION,)),
    "NetworkReceptiveField": _Family(True, True, "n_hidden", (_T_OPTION, _NHIDDEN)),
    "DNet": _Family(True, True, "n_hidden", (
        _T_OPTION, _NHIDDEN,
        Option("init_tau", "float", 2.0, tooltip="Initial time constant of the hidden units' decay, in frames "
               "(> 1).", minimum=1.05, maximum=100.0),
        Option("decay_input", "bool", True, tooltip="Scale the decaying input by 1/tau (unit DC gain)."))),
    "ConvNet2D": _Family(False, False, "", (
        Option("c_hidden", "int", 10, tooltip="Channels of each of the three causal 2-D conv layers.",
               minimum=1, maximum=128),
        Option("n_hidden", "int", 20, tooltip="Width of the hidden layer of the per-frame readout.",
               minimum=1, maximum=512))),
    "Transformer": _Family(False, False, "", (
        Option("embedding_dim", "int", 48, tooltip="Features per token (even; a multiple of n_heads).",
               minimum=2, maximum=512),
        Option("n_heads", "int", 1, tooltip="Attention heads (must divide the token size).", minimum=1,
               maximum=16, label="Attention heads"),
        Option("n_layers", "int", 1, tooltip="Transformer encoder layers.", minimum=1, maximum=8, label="Layers"),
        Option("context_window", "int", 0, tooltip="Frames of past each frame may attend to (0 = all the past).",
               minimum=0, maximum=2000))),
    "StateNet": _Family(False, False, "", (
        Option("rnn_type", "choice", "GRU", choices=RNN_TYPES,
               tooltip="Recurrent or state-space layer that carries the memory. S4: deepSTRF's S4 (diagonal plus "
                       "low rank, HiPPO init); S4D: strfviewer's lighter diagonal S4.", label="RNN type"),
        Option("hidden_channels", "int", 7, tooltip="Channels of the per-frame spectral encoder.", minimum=1,
               maximum=64),
        Option("kernel_size", "int", 7, tooltip="Frequency extent (bands) of the spectral encoder's filters.",
               minimum=1, maximum=64),
        Option("stride", "int", 3, tooltip="Frequency stride of the spectral encoder.", minimum=1, maximum=32),
        Option("connectivity", "choice", "LC", choices=("LC", "FC", "CONV"),
               tooltip="Spectral encoder: locally connected, fully connected or convolutional."))),
}


def family_names() -> List[str]:
    """Families the factory can build (registered model names)."""
    return [n for n in registry.names("model") if n in FAMILIES]


def family_options(family: str) -> List[Option]:
    """Main hyperparameters of ``family`` for the fit dialog (name, kind, default, tooltip, bounds)."""
    return list(_family(family).options)


def supports_kernel(family: str) -> bool:
    """True when the family holds an STRF convolution whose kernel can be swapped."""
    return _family(family).has_kernel


def kernel_shown(spec) -> str:
    """The kernel a model of ``spec`` is built with, for display: its kernel's name, ``'full'`` when none is
    named (the family's own full STRF convolution), ``'—'`` for a family without an STRF convolution."""
    return kernel_label(getattr(spec, "family", None), getattr(spec, "kernel", None))


def kernel_label(family: Optional[str], kernel: Optional[str]) -> str:
    """:func:`kernel_shown` from the family and kernel names (e.g. a run history row)."""
    if kernel:
        return str(kernel)
    try:
        return "full" if family and supports_kernel(family) else "—"
    except (KeyError, ValueError):  # a family this version does not know
        return "—"


def kernel_choices(family: str) -> List[str]:
    """Kernel names valid for ``family`` (empty when it has no STRF convolution)."""
    return registry.names("kernel") if supports_kernel(family) else []


def prefilter_choices() -> List[str]:
    return registry.names("prefilter")


def activation_choices() -> List[str]:
    return registry.names("activation")


def apply_options(spec: ModelSpec, values: Dict[str, Any]) -> ModelSpec:
    """Copy of ``spec`` with option values (as named by :func:`family_options`) routed to ``T``,
    ``rnn_type`` or ``hyper``. A ``context_window`` of 0 means unlimited (stored as ``None``)."""
    new = dataclasses.replace(spec, hyper=dict(spec.hyper))
    for name, value in values.items():
        if name == "T":
            new.T = int(value)
        elif name == "rnn_type":
            new.rnn_type = value
        elif name == "context_window":
            new.hyper[name] = int(value) if value else None
        else:
            new.hyper[name] = value
    return new


def _family(name: str) -> _Family:
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def _kwarg_names(fn) -> List[str]:
    params = inspect.signature(fn).parameters.values()
    return [p.name for p in params if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _check_names(what: str, given: Sequence[str], allowed: Sequence[str]) -> List[str]:
    bad = [k for k in given if k not in allowed]
    return [f"unknown {what} argument(s) {', '.join(bad)}; allowed: {', '.join(allowed) or '(none)'}"] if bad else []


def normalized_names(spec: Dict[str, Any]) -> Dict[str, Any]:
    """``spec`` (a :class:`ModelSpec`'s fields as a dict) with the family, kernel, prefilter, activation and
    rnn_type a user typed in any case or as an alias (``linear``, ``ln``, ``SeparableSTRF``, ``gru``)
    replaced by their registered names; names that match nothing are left for :func:`check_spec` to report."""
    out = dict(spec)
    for key, kind in (("family", "model"), ("kernel", "kernel"), ("prefilter", "prefilter"),
                      ("activation", "activation")):
        value = out.get(key)
        if isinstance(value, str) and value not in NONE_NAMES and registry.is_registered(kind, value):
            out[key] = registry.canonical(kind, value)
    rnn = out.get("rnn_type")
    if isinstance(rnn, str):
        out["rnn_type"] = next((r for r in RNN_TYPES if r.casefold() == rnn.strip().casefold()), rnn)
    return out


def normalized_spec(spec: ModelSpec) -> ModelSpec:
    """:func:`normalized_names` applied to a :class:`ModelSpec`."""
    return ModelSpec.from_dict(normalized_names(spec.to_dict()))


def check_spec(spec: ModelSpec) -> List[str]:
    """Reasons why ``spec`` cannot be built (empty list = fine). Does not build anything."""
    reasons: List[str] = []
    if spec.family not in FAMILIES:
        return [f"unknown model family {spec.family!r}; known: {', '.join(FAMILIES)}"]
    if not registry.is_registered("model", spec.family):
        return [f"model family {spec.family!r} is not available in this installation"]
    fam = FAMILIES[spec.family]
    cls = registry.get("model", spec.family)
    if spec.kernel is not None:
        if not fam.has_kernel:
            reasons.append(f"{spec.family} has no STRF convolution, so it takes no kernel "
                           f"(kernels apply to: {', '.join(n for n, f in FAMILIES.items() if f.has_kernel)})")
        elif not registry.is_registered("kernel", spec.kernel):
            reasons.append(f"unknown kernel {spec.kernel!r}; known: {', '.join(registry.names('kernel'))}")
        else:
            reasons += _options.check_values("kernel", registry.entry("kernel", spec.kernel).name,
                                             spec.kernel_kwargs)
    elif spec.kernel_kwargs:
        reasons.append("kernel_kwargs given without a kernel")
    if spec.prefilter not in (None, *NONE_NAMES):
        if not registry.is_registered("prefilter", spec.prefilter):
            reasons.append(f"unknown prefilter {spec.prefilter!r}; known: {', '.join(registry.names('prefilter'))}")
        else:
            reasons += _options.check_values("prefilter", registry.entry("prefilter", spec.prefilter).name,
                                             spec.prefilter_kwargs)
    elif spec.prefilter_kwargs:
        reasons.append("prefilter_kwargs given without a prefilter")
    if spec.activation is not None:
        if not registry.is_registered("activation", spec.activation):
            reasons.append(f"unknown activation {spec.activation!r}; known: "
                           f"{', '.join(registry.names('activation'))}")
        else:
            reasons += _options.check_values("activation", registry.entry("activation", spec.activation).name,
                                             spec.activation_kwargs)
    elif spec.activation_kwargs:
        reasons.append("activation_kwargs given without an activation")
    if spec.frontend not in (None, *NONE_NAMES):
        if not registry.is_registered("frontend", spec.frontend):
            reasons.append(f"unknown front-end {spec.frontend!r}; known: {', '.join(registry.names('frontend'))}")
        else:
            allowed = _kwarg_names(registry.get("frontend", spec.frontend).__init__)
            reasons += _check_names(f"front-end {spec.frontend!r}", list(spec.frontend_kwargs), allowed)
    elif spec.frontend_kwargs:
        reasons.append("frontend_kwargs given without a front-end")
    if spec.rnn_type is not None:
        if spec.family != "StateNet":
            reasons.append(f"rnn_type applies to StateNet only, not {spec.family}")
        elif spec.rnn_type not in RNN_TYPES + ("vanilla",):
            reasons.append(f"unknown rnn_type {spec.rnn_type!r}; known: {', '.join(RNN_TYPES)}")
    if fam.uses_T and (not isinstance(spec.T, int) or isinstance(spec.T, bool) or spec.T < 1):
        reasons.append(f"T must be a positive number of frames, got {spec.T!r}")
    allowed = [k for k in _kwarg_names(cls.__init__) if k not in _RESERVED]
    reasons += _check_names(f"{spec.family}", list(spec.hyper), allowed)
    for opt in fam.options:
        if opt.name in spec.hyper and opt.problem(spec.hyper[opt.name]):
            reasons.append(opt.problem(spec.hyper[opt.name]))
    return reasons


def build_model(spec: ModelSpec, n_freqs: Optional[int], n_neurons: int) -> nn.Module:
    """Build the model ``spec`` describes for ``n_freqs`` bands and ``n_neurons`` neurons.

    With a front-end (``spec.frontend``) ``n_freqs`` may be ``None``: the front-end's band count
    (``out_channels``); a given ``n_freqs`` that differs from it is an error naming both.
    Raises ``ValueError`` with the reason(s) when the spec is invalid or the family refuses the values.
    """
    reasons = check_spec(spec)
    if reasons:
        raise ValueError("invalid model spec: " + "; ".join(reasons))
    wav2spec = None
    if spec.frontend not in (None, *NONE_NAMES):
        from strfviewer.models.frontend_args import build_frontend

        wav2spec = build_frontend(spec.frontend, spec.frontend_kwargs)
        bands = int(wav2spec.out_channels)
        if n_freqs is not None and int(n_freqs) != bands:
            raise ValueError(f"front-end {spec.frontend} has {bands} bands but the model has F={int(n_freqs)} bands")
        n_freqs = bands
    elif n_freqs is None:
        raise ValueError("the number of frequency bands is needed for a model without a front-end")
    from strfviewer.models.activations import make_activation
    from strfviewer.models.kernels import make_kernel

    fam = FAMILIES[spec.family]
    cls = registry.get("model", spec.family)
    kwargs: Dict[str, Any] = {k: (build_from_description(v) if is_description(v) else v)
                              for k, v in spec.hyper.items()}
    kwargs.update(n_frequency_bands=int(n_freqs), out_neurons=int(n_neurons))
    try:
        prefilter = None
        if spec.prefilter not in (None, *NONE_NAMES):
            prefilter = make_prefilter(spec.prefilter, int(n_freqs), **spec.prefilter_kwargs)
            kwargs["prefiltering"] = prefilter
        if fam.uses_T:
            kwargs["temporal_window_size"] = int(spec.T)
        if spec.kernel is not None:
            c_in = getattr(prefilter, "out_channels", 1) if prefilter is not None else 1
            c_out = int(n_neurons) if fam.kernel_out == "neurons" else int(kwargs.get(
                "n_hidden", inspect.signature(cls.__init__).parameters["n_hidden"].default))
            kwargs["kernel"] = make_kernel(spec.kernel, int(n_freqs), int(spec.T), c_in, c_out, **spec.kernel_kwargs)
        if spec.activation is not None:
            kwargs["output_activation"] = make_activation(spec.activation, int(n_neurons), **spec.activation_kwargs)
        if spec.rnn_type is not None:
            kwargs["rnn_type"] = spec.rnn_type
        if wav2spec is not None:
            kwargs["wav2spec"] = wav2spec
        model = cls(**kwargs)
    except (ValueError, TypeError, AssertionError, NotImplementedError, RuntimeError) as exc:
        raise ValueError(f"cannot build {spec.family}: {exc}") from exc
    model.spec = copy_spec(spec)
    return model


def settle_kernel_options(model: nn.Module) -> Dict[str, Any]:
    """Options the model's STRF kernel chose itself (its ``resolved_options()``: the Gaussian count of
    ``num_gaussians="auto"``, set by the warm start), written where a saved or copied model is rebuilt from: the
    kernel's and the model's ``init_kwargs`` and ``model.spec.kernel_kwargs``. Returns them (``{}``: none)."""
    from strfviewer.models.kernels import CausalSTRFConv

    kernel = next((m.kernel for m in model.modules() if isinstance(m, CausalSTRFConv)), None)
    resolve = getattr(kernel, "resolved_options", None)
    chosen = dict(resolve()) if callable(resolve) else {}
    if not chosen:
        return {}
    described = (getattr(model, "init_kwargs", None) or {}).get("kernel")
    if is_description(described):
        described.setdefault("kwargs", {}).update(chosen)
    if isinstance(getattr(model, "spec", None), ModelSpec):
        model.spec.kernel_kwargs.update(chosen)
    return chosen


def copy_spec(spec: ModelSpec) -> ModelSpec:
    """A copy of ``spec`` whose option dicts are its own."""
    return dataclasses.replace(spec, **{name: dict(getattr(spec, name)) for name in _KWARGS_FIELDS})


def make_prefilter(name: str, n_freqs: int, **options) -> nn.Module:
    """The registered prefilter ``name`` for ``n_freqs`` bands with its ``options``: through the class's
    ``for_bands(n_frequency_bands, **options)`` when it has one, else its constructor
    ``(n_frequency_bands, **options)``."""
    cls = registry.get("prefilter", name)
    builder = getattr(cls, "for_bands", None)
    return builder(int(n_freqs), **options) if builder is not None else cls(int(n_freqs), **options)


def swap(spec: ModelSpec, kernel: Optional[str] = None, prefilter: Optional[str] = None,
         frontend: Optional[str] = None) -> ModelSpec:
    """Copy of ``spec`` with another kernel, prefilter and/or waveform front-end (``None`` = keep; ``'none'``
    removes the prefilter or the front-end, i.e. spectrogram input). The kernel, prefilter or front-end keyword
    arguments are reset when it changes."""
    new = copy_spec(spec)
    if frontend is not None and frontend != spec.frontend:
        new.frontend = None if frontend in NONE_NAMES else frontend
        new.frontend_kwargs = {}
    if kernel is not None and kernel != spec.kernel:
        new.kernel, new.kernel_kwargs = (None if kernel in NONE_NAMES else kernel), {}
    if prefilter is not None and prefilter != spec.prefilter:
        keep = {k: v for k, v in spec.prefilter_kwargs.items() if k in ("dt", "min_freq", "max_freq", "scale")}
        new.prefilter = None if prefilter in NONE_NAMES else prefilter
        new.prefilter_kwargs = keep if new.prefilter is not None else {}
    return new


def spec_of(model: nn.Module) -> Optional[ModelSpec]:
    """The spec a model was built from (``build_model`` attaches it), else one reconstructed from its
    ``init_kwargs``; ``None`` when the model is not a registered family."""
    spec = getattr(model, "spec", None)
    if isinstance(spec, ModelSpec):
        return copy_spec(spec)
    try:
        family = registry.name_of("model", model)
    except KeyError:
        return None
    if family not in FAMILIES:
        return None
    init = dict(getattr(model, "init_kwargs", {}) or {})
    fam = FAMILIES[family]
    kernel, kernel_kwargs = _described(init.get("kernel"))
    prefilter, prefilter_kwargs = None, {}
    if not isinstance(getattr(model, "prefiltering", nn.Identity()), nn.Identity):
        prefilter = registry.name_of("prefilter", model.prefiltering)
        declared = {o.name for o in _options.options_of("prefilter", prefilter)}
        prefilter_kwargs = {k: v for k, v in (getattr(model.prefiltering, "make_kwargs", {}) or {}).items()
                            if k in declared}
        if not prefilter_kwargs and "kernel_size" in declared:
            prefilter_kwargs = {"kernel_size": int(model.prefiltering.K)}
    activation, activation_kwargs = _described(init.get("output_activation"))
    frontend, frontend_kwargs = None, {}
    if is_description(init.get("wav2spec")):
        frontend, frontend_kwargs = init["wav2spec"]["name"], dict(init["wav2spec"].get("kwargs") or {})
    defaults = {k: p.default for k, p in inspect.signature(type(model).__init__).parameters.items()}
    hyper = {k: v for k, v in init.items()
             if k not in _RESERVED and not (v is None and defaults.get(k, inspect.Parameter.empty) is None)}
    return ModelSpec(family=family, kernel=kernel, kernel_kwargs=kernel_kwargs, prefilter=prefilter,
                     prefilter_kwargs=prefilter_kwargs, activation=activation, activation_kwargs=activation_kwargs,
                     rnn_type=init.get("rnn_type") if family == "StateNet" else None,
                     T=int(getattr(model, "T", 15)) if fam.uses_T else 15, hyper=hyper, frontend=frontend,
                     frontend_kwargs=frontend_kwargs)


def _described(value: Any) -> tuple:
    """``(registry name, options)`` of a module-valued constructor argument recorded as a registry description
    (the structural arguments its model filled in left out), ``(None, {})`` for anything else."""
    if not is_description(value):
        return None, {}
    kind = value["_registry"]
    structural = STRUCTURAL.get(kind, ())
    return value["name"], {k: v for k, v in value.get("kwargs", {}).items() if k not in structural}


def n_trainable_params(module: nn.Module) -> int:
    """Number of trainable (``requires_grad``) parameter values of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _core_modules(model: nn.Module) -> List[nn.Module]:
    """The modules that make up the core: ``model.core`` or, for families with their own forward
    (Transformer, StateNet), every top-level child that is not another slot."""
    if not isinstance(getattr(model, "core", nn.Identity()), nn.Identity):
        return [model.core]
    slots = ("wav2spec", "prefiltering", "core", "readout")
    return [m for name, m in model.named_children() if name not in slots]


def _summary(module: nn.Module) -> str:
    if isinstance(module, nn.Identity):
        return "identity"
    extra = module.extra_repr()
    return f"{type(module).__name__}({extra})" if extra else type(module).__name__


def describe(model: nn.Module) -> List[SlotInfo]:
    """One :class:`SlotInfo` per slot (wav2spec, prefiltering, core, readout) of a built model."""
    infos = []
    for slot in ("wav2spec", "prefiltering", "core", "readout"):
        if slot == "core":
            mods = _core_modules(model)
            if not mods:
                infos.append(SlotInfo(slot, "Identity", 0, "identity"))
                continue
            name = " + ".join(type(m).__name__ for m in mods)
            own = getattr(model, "core_summary", None)
            summary = own() if callable(own) else " -> ".join(_core_summary(m) for m in mods)
            infos.append(SlotInfo(slot, name, sum(n_trainable_params(m) for m in mods), summary))
            continue
        m = getattr(model, slot, nn.Identity())
        infos.append(SlotInfo(slot, type(m).__name__, n_trainable_params(m), _slot_summary(slot, m)))
    return infos


def _core_summary(m: nn.Module) -> str:
    if isinstance(m, nn.Sequential):
        return " -> ".join(type(c).__name__ for c in m)
    return _summary(m)


def _slot_summary(slot: str, m: nn.Module) -> str:
    if isinstance(m, nn.Identity):
        return "none (spectrogram input)" if slot == "wav2spec" else "identity"
    if slot == "prefiltering":
        return (f"{type(m).__name__}: {getattr(m, 'out_channels', 1)} channel(s), "
                f"{getattr(m, 'K', '?')}-frame kernel, {'learnable' if n_trainable_params(m) else 'frozen'}")
    if slot == "readout":
        strf = getattr(m, "strf", None)
        act = type(getattr(m, "activation", nn.Identity())).__name__
        if strf is not None:
            return (f"STRF kernel {type(strf.kernel).__name__} (N={strf.C_out}, C_in={strf.C_in}, F={strf.F}, "
                    f"T={strf.T}) + per-neuron BatchNorm + {act}")
        return f"per-frame projection {getattr(m, 'in_features', '?')} -> {getattr(m, 'N', '?')} + {act}"
    return _summary(m)
