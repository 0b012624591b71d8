"""User-facing options of everything a user picks by name, declared once on the class.

A registered kernel, prefilter, activation, readout or front-end lists the constructor arguments a user may
set in a class attribute ``OPTIONS`` (a tuple of :class:`Option`: name, type, range, default, one-line help).
The factory checks spec values against them before any data is loaded (:func:`check_values`), the CLI's
``--kernel-arg``/``--prefilter-arg``/``--activation-arg`` and the fit dialog's editors come from them, and the
help texts and tooltips that list choices are made here from the registry (:func:`names_text`,
:func:`choices_tooltip`), so no list of names is written by hand anywhere else.

Arguments the model fills in itself are :data:`STRUCTURAL` (one definition for the factory, the checkpoints'
specs and the dialog): they are never options. A class without ``OPTIONS`` gets options derived from its
signature (int, float and bool arguments with a default, structural ones left out), so an undeclared class
still works everywhere; declaring them adds ranges and help.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

from strfviewer.models import registry

OPTION_KINDS = ("int", "float", "choice", "bool")
#: the value of an option declared with ``auto=True`` that leaves it to the fit (e.g. the Gaussian count)
AUTO = "auto"

#: constructor arguments of each kind that the model (or the factory) fills in: never user options.
#: A family's come from the data (bands, neurons) and from the spec's own fields (``T``, the kernel, prefilter,
#: activation and recurrence); kernels get the STRF shape ``F`` (bands), ``T`` (frames), ``C_in`` (input channels), ``C_out`` (neurons or
#: hidden units) from the model; their ``bias`` is always the kernel's default (on: the readout's BatchNorm
#: follows). Prefilters get the band count and their per-band values from ``make_prefiltering``; activations
#: their neuron count; readouts and front-ends are built by the families from the model's own arguments.
STRUCTURAL: Dict[str, tuple] = {
    "model": ("n_frequency_bands", "out_neurons", "temporal_window_size", "kernel", "prefiltering",
              "output_activation", "rnn_type", "wav2spec"),
    "kernel": ("F", "T", "C_in", "C_out", "bias"),
    "prefilter": ("kind", "n_frequency_bands", "init_a_vals", "init_w_vals"),
    "activation": ("num_features",),
    "readout": ("F", "T", "C_in", "in_features", "out_neurons", "kernel", "activation", "bias"),
    "frontend": (),
}


@dataclass(frozen=True)
class Option:
    """One user-settable value. ``kind``: 'int', 'float', 'choice' or 'bool'; ``minimum``/``maximum``
    bound numbers (inclusive, ``None``: unbounded); ``choices`` the allowed values of a 'choice';
    ``tooltip`` one line of help; ``label`` the short name a form shows (default: from ``name``)."""

    name: str
    kind: str
    default: Any
    choices: tuple = ()
    tooltip: str = ""
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    label: str = ""
    auto: bool = False

    @property
    def display_label(self) -> str:
        """``label`` or ``hidden_channels`` -> ``Hidden channels``."""
        return self.label or self.name.replace("_", " ").strip().capitalize()

    def range_text(self) -> str:
        """What values are allowed, in words (``an integer from 1 to 64``, ``one of mel, erb``, ``... or auto``)."""
        return f"{self._value_range_text()} or {AUTO}" if self.auto else self._value_range_text()

    def _value_range_text(self) -> str:
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(map(str, self.choices))
        what = "an integer" if self.kind == "int" else "a number"
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            return f"{what} from {lo:g} to {hi:g}"
        if lo is not None:
            return f"{what} >= {lo:g}"
        if hi is not None:
            return f"{what} <= {hi:g}"
        return what

    def problem(self, value: Any) -> Optional[str]:
        """``None`` when ``value`` is allowed (``None`` always is: the default), else one line naming the
        option, the allowed values and the value given."""
        if value is None or (self.auto and value == AUTO):
            return None
        bad = f"{self.name} must be {self.range_text()}, got {value!r}"
        if self.kind == "int" and (not isinstance(value, int) or isinstance(value, bool)):
            return bad
        if self.kind == "float" and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            return bad
        if self.kind == "bool" and not isinstance(value, bool):
            return bad
        if self.kind == "choice" and value not in self.choices:
            return bad
        if self.kind in ("int", "float") and ((self.minimum is not None and value < self.minimum)
                                              or (self.maximum is not None and value > self.maximum)):
            return bad
        return None


def _signature_options(kind: str, cls: Any) -> List[Option]:
    """Options of a class that declares none: its int/float/bool keyword arguments with a default."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return []
    out = []
    for p in params:
        if p.name in STRUCTURAL.get(kind, ()) or p.default is inspect.Parameter.empty:
            continue
        kinds = ((bool, "bool"), (int, "int"), (float, "float"))
        found = next((k for t, k in kinds if isinstance(p.default, t)), None)
        if found is not None and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            out.append(Option(p.name, found, p.default, tooltip=f"{p.name} of the {cls.__name__} {kind}"))
    return out


def options_of(kind: str, name: str) -> List[Option]:
    """The user options of the registered ``kind`` ``name``: its ``OPTIONS`` or, when it declares none, those
    derived from its signature. ``UnknownNameError`` (listing the names) for an unknown name."""
    entry = registry.entry(kind, name)
    declared = entry.options if entry.options is not None else getattr(entry.obj, "OPTIONS", None)
    return list(declared) if declared is not None else _signature_options(kind, entry.obj)


def check_values(kind: str, name: str, values: Dict[str, Any]) -> List[str]:
    """Reasons why ``values`` are not valid options of the registered ``kind`` ``name`` (empty: fine), one line
    each, naming the option and what it allows."""
    options = {o.name: o for o in options_of(kind, name)}
    what = f"{kind} {name!r}"
    structural = [k for k in values if k in STRUCTURAL.get(kind, ())]
    unknown = [k for k in values if k not in options and k not in structural]
    reasons = []
    if structural:
        reasons.append(f"{what}: {', '.join(structural)} set by the model, not an option")
    if unknown:
        reasons.append(f"unknown {what} option(s) {', '.join(unknown)}; allowed: "
                       f"{', '.join(options) or '(none)'}")
    for key, value in values.items():
        problem = options[key].problem(value) if key in options else None
        if problem:
            reasons.append(f"{what}: {problem}")
    return reasons


def defaults(kind: str, name: str) -> Dict[str, Any]:
    """``{option: default}`` of the registered ``kind`` ``name``."""
    return {o.name: o.default for o in options_of(kind, name)}


def names_text(kind: str, names: Optional[Sequence[str]] = None) -> str:
    """``full, separable, gaussian``: the registered names of ``kind`` (or ``names``), for help texts."""
    return ", ".join(registry.names(kind) if names is None else names)


def choices_tooltip(kind: str, intro: str) -> str:
    """A tooltip listing every registered name of ``kind`` with its one-line description and options."""
    lines = [intro]
    for name in registry.names(kind):
        entry = registry.entry(kind, name)
        opts = options_of(kind, name)
        extra = f" (options: {', '.join(o.name for o in opts)})" if opts else ""
        lines.append(f"• {name}: {entry.description}{extra}" if entry.description else f"• {name}{extra}")
    return "\n".join(lines)


def options_help(kind: str) -> str:
    """``gaussian: num_gaussians (an integer from 1 to 64, default 1)`` for the CLI's ``--<kind>-arg``; options
    every registered name of ``kind`` shares are listed once (``all: ...``)."""
    def text(o: Option) -> str:
        return f"{o.name} ({o.range_text()}, default {'automatic' if o.default is None else o.default})"

    per_name = {name: options_of(kind, name) for name in registry.names(kind)}
    shared = [o for o in next(iter(per_name.values()), []) if len(per_name) > 1
              and all(o in opts for opts in per_name.values())]
    parts = ["all: " + ", ".join(map(text, shared))] if shared else []
    for name, opts in per_name.items():
        own = [o for o in opts if o not in shared]
        if own:
            parts.append(f"{name}{' also' if shared else ''}: " + ", ".join(map(text, own)))
    return "; ".join(parts) or "(no registered options)"
