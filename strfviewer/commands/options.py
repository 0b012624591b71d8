"""Options shared by commands: repeatable ``KEY=VALUE`` options (``fit --hyper``, ``--model-arg``) and the
compute commands' ``--threads``."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable


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
