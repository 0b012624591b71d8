"""Options shared by commands: repeatable ``KEY=VALUE`` options (``fit --hyper``, ``--kernel-arg``,
``--model-arg``), the compute commands' ``--threads``, checks of option values before anything loads, and help
texts that list the registry's names (:class:`RegistryHelpFormatter`)."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any, Dict, Iterable

_REGISTRY_FIELD = re.compile(r"\{(names|options|choices):([\w.]+)\}")


def expand_registry_fields(text: str) -> str:
    """``{names:kernel}`` -> ``full, separable, gaussian``; ``{options:kernel}`` -> each kernel's options with
    their ranges and defaults (:mod:`strfviewer.models.options`); ``{choices:StateNet.rnn_type}`` -> the
    choices of a model family's option."""
    if "{" not in text:
        return text
    from strfviewer.models import factory, options

    def field(m: re.Match) -> str:
        what, key = m.groups()
        if what == "choices":
            family, _, name = key.partition(".")
            return ", ".join(next(map(str, o.choices) for o in factory.family_options(family) if o.name == name))
        return options.names_text(key) if what == "names" else options.options_help(key)

    return _REGISTRY_FIELD.sub(field, text)


class RegistryHelpFormatter(argparse.HelpFormatter):
    """Help formatter that fills ``{names:KIND}``/``{options:KIND}`` from the model registry when help is
    shown, so the lists follow what is registered and the registry (torch) is imported only for ``--help``."""

    def _get_help_string(self, action: argparse.Action) -> str:
        return expand_registry_fields(super()._get_help_string(action) or "")


def json_or_text(value: str) -> Any:
    """``value`` parsed as JSON (numbers, booleans, null, lists, objects) when it is JSON, else the text."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def parse_assignments(items: Iterable[str], option: str, dotted: bool = False) -> Dict[str, Any]:
    """``{key: value}`` of ``KEY=VALUE`` items (``ValueError`` naming ``option`` for a malformed one).

    With ``dotted``, ``a.b=1`` nests: ``{"a": {"b": 1}}`` (a module-valued argument's own arguments);
    giving a key both a value and sub-keys is an error.
    """
    out: Dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        parts = [p.strip() for p in key.split(".")] if dotted else [key.strip()]
        if not sep or not all(parts):
            raise ValueError(f"{option} {item!r}: expected KEY=VALUE" + (" (KEY may be dotted: a.b)" if dotted
                                                                          else ""))
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{option} {item!r}: {part!r} already has a value")
        if isinstance(node.get(parts[-1]), dict):
            raise ValueError(f"{option} {item!r}: {key.strip()!r} already has sub-keys")
        node[parts[-1]] = json_or_text(value)
    return out


def check_device(text: str, option: str = "--device") -> None:
    """``ValueError`` naming ``option`` when the torch device ``text`` is unknown or unavailable (checked before
    any data or model is loaded)."""
    from strfviewer.fit.run import resolve_device

    try:
        resolve_device(text)
    except (ValueError, RuntimeError) as exc:
        raise ValueError(f"{option} {text}: {exc}") from None


def check_number(value, option: str, low: float = None, high: float = None, integer: bool = False) -> None:
    """``ValueError`` naming ``option`` unless ``value`` is ``None`` or a finite number in ``[low, high]``."""
    import math

    if value is None:
        return
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    if not math.isfinite(value):
        raise ValueError(f"{option} {shown}: must be a finite number")
    if integer and int(value) != value:
        raise ValueError(f"{option} {shown}: must be a whole number")
    if low is not None and value < low:
        raise ValueError(f"{option} {shown}: must be >= {low:g}" + (f" and <= {high:g}" if high is not None else ""))
    if high is not None and value > high:
        raise ValueError(f"{option} {shown}: must be <= {high:g}" + (f" and >= {low:g}" if low is not None else ""))


THREADS_HELP = ("CPU threads for torch (default: 1 on a machine with 2 physical cores or fewer, else all cores but "
                "one, at most 4)")


def add_threads_option(p, help: str = THREADS_HELP, in_this_process: bool = True) -> None:
    """``--threads N`` (``args.threads``, ``None`` when not given) on a compute command. With
    ``in_this_process`` :func:`strfviewer.cli.main` runs the command with that many torch threads
    (:func:`threads_for`); otherwise the command passes the count on (sweeps: to each trial)."""
    p.add_argument("--threads", type=int, metavar="N", help=help)
    p.set_defaults(torch_threads_here=in_this_process)


def threads_for(args) -> int:
    """The torch thread count a command runs with: ``--threads``, else the default that does not oversubscribe
    (:func:`strfviewer.fit.fitter.default_num_threads`); ``ValueError`` for a count below 1."""
    from strfviewer.fit.fitter import default_num_threads

    value = getattr(args, "threads", None)
    if value is None:
        return default_num_threads()
    if value < 1:
        raise ValueError(f"--threads {value}: needs at least 1 thread")
    return int(value)


def add_compute_options(p, quiet_help: str = "print nothing on success") -> None:
    """``--device`` (default cpu), ``--threads N`` and ``--quiet`` of a command that runs a saved model
    (gradmap, dream, export, tuning, compare, dstrf)."""
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 or mps (default: %(default)s)")
    add_threads_option(p)
    p.add_argument("--quiet", action="store_true", help=quiet_help)
