"""One registry of names -> classes for everything a user can pick by name.

Kinds: ``"model"`` (model families), ``"kernel"`` (STRF kernel parameterisations), ``"prefilter"``,
``"activation"``, ``"readout"``, ``"frontend"`` (waveform -> spectrogram modules), ``"scale"``
(frequency scales). The fit dialog, the model panel, the CLI and ``config.json`` all read from here,
so registering a class once makes it available everywhere. Checkpoints are only ever rebuilt from
this registry (no arbitrary imports, no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

KINDS = ("model", "kernel", "prefilter", "activation", "readout", "frontend", "scale")


@dataclass(frozen=True)
class Entry:
    """A registered object: its kind, public name, the object itself and a one-line description."""

    kind: str
    name: str
    obj: Any
    description: str = ""
    aliases: tuple = field(default_factory=tuple)
    options: Optional[tuple] = None   # user options when the object cannot carry an ``OPTIONS`` attribute


class UnknownNameError(KeyError):
    """Raised when a name is not registered for a kind; the message lists the known names."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0]) if self.args else ""


_REGISTRY: Dict[str, Dict[str, Entry]] = {kind: {} for kind in KINDS}


def _check_kind(kind: str) -> None:
    if kind not in _REGISTRY:
        raise ValueError(f"unknown registry kind {kind!r}; expected one of {', '.join(KINDS)}")


def register(kind: str, name: Optional[str] = None, *, description: str = "",
             aliases: tuple = (), options: Optional[tuple] = None) -> Callable[[Any], Any]:
    """Class/function decorator: ``@register("kernel", "separable")``.

    ``name`` defaults to the object's ``__name__``. Aliases (e.g. deepSTRF's class names) resolve to the
    same entry but are not listed by :func:`names`. Registering a different object under a taken name
    raises ``ValueError``; re-registering the same object (module reload) is a no-op. ``options``: the user
    options (:class:`strfviewer.models.options.Option`) of an object that cannot declare ``OPTIONS`` itself
    (e.g. a ``torch.nn`` class); a class of this project declares them as its ``OPTIONS`` attribute.
    """
    _check_kind(kind)

    def deco(obj: Any) -> Any:
        key = name or obj.__name__
        table = _REGISTRY[kind]
        doc = description or (obj.__doc__ or "").strip().split("\n")[0]
        entry = Entry(kind, key, obj, doc, tuple(aliases), None if options is None else tuple(options))
        for k in (key, *aliases):
            old = table.get(k)
            if old is not None and old.obj is not obj and getattr(old.obj, "__qualname__", None) != getattr(
                    obj, "__qualname__", object()):
                raise ValueError(f"{kind} name {k!r} is already registered for {old.obj!r}")
            table[k] = entry
        return obj

    return deco


def unregister(kind: str, name: str) -> None:
    """Remove ``name`` and its aliases (tests that register a throwaway class clean up with it)."""
    _check_kind(kind)
    table = _REGISTRY[kind]
    found = table.get(name)
    if found is None:
        raise UnknownNameError(f"unknown {kind} {name!r}")
    for k in (found.name, *found.aliases):
        table.pop(k, None)


def get(kind: str, name: str) -> Any:
    """Return the object registered as ``name`` for ``kind`` (aliases accepted)."""
    return entry(kind, name).obj


def entry(kind: str, name: str) -> Entry:
    """Return the :class:`Entry` for ``name``; :class:`UnknownNameError` lists the valid names.

    An exact name or alias wins; otherwise the name is matched ignoring case (``linear``, ``STATENET``,
    ``cnn``), as long as that picks one entry.
    """
    _ensure_loaded()
    _check_kind(kind)
    table = _REGISTRY[kind]
    found = table.get(name) if isinstance(name, str) else None
    if found is None and isinstance(name, str):
        folded = {e.name: e for k, e in table.items() if k.casefold() == name.strip().casefold()}
        found = next(iter(folded.values())) if len(folded) == 1 else None
    if found is None:
        raise UnknownNameError(
            f"unknown {kind} {name!r}; known {kind}s: {', '.join(names(kind)) or '(none)'}")
    return found


def canonical(kind: str, name: str) -> str:
    """The primary registered name ``name`` stands for (any case, aliases accepted), e.g.
    ``canonical("model", "ln") == "LinearNonlinear"``; :class:`UnknownNameError` when there is none."""
    return entry(kind, name).name


def is_registered(kind: str, name: str) -> bool:
    """Whether ``name`` (a primary name or an alias) is registered for ``kind``."""
    try:
        entry(kind, name)
        return True
    except KeyError:
        return False


def names(kind: str) -> List[str]:
    """Primary names registered for ``kind``, in registration order (aliases excluded)."""
    _ensure_loaded()
    _check_kind(kind)
    return [k for k, e in _REGISTRY[kind].items() if e.name == k]


def name_of(kind: str, obj: Any) -> str:
    """Primary registry name of a class (or of an instance's class)."""
    _ensure_loaded()
    _check_kind(kind)
    for e in _REGISTRY[kind].values():
        if e.obj is obj or e.obj is type(obj):
            return e.name
    raise UnknownNameError(f"{obj!r} is not registered as a {kind}")


_loaded = False


def _ensure_loaded() -> None:
    """Import the modules that register the built-in classes (once, lazily, to avoid import cycles)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib

    importlib.import_module("strfviewer.models")
