"""Parsing of repeatable ``KEY=VALUE`` command-line options (``fit --hyper``, ``--model-arg``)."""

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
