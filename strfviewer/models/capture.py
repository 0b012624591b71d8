"""Automatic capture of constructor arguments, so any model or component can be rebuilt from JSON.

Every class deriving from :class:`CapturesInitKwargs` records the arguments its ``__init__`` was called
with (defaults filled in) in ``obj.init_kwargs``. Values are stored in a JSON-able form:

- numbers, strings, booleans and ``None`` as they are; tuples as lists; tensors and arrays as lists;
- an ``nn.Module`` argument (a prefilter, a kernel, an activation, a front-end) as a *registry
  description* ``{"_registry": kind, "name": registered name, "kwargs": {...its own init_kwargs}}``.

:func:`rebuild_kwargs` reverses this, looking every class up in :mod:`strfviewer.models.registry`
only (no imports of arbitrary names, no pickle). Arguments that cannot be described (a module that is
not registered, an arbitrary Python object) are stored as ``None`` and their names listed in
``obj.init_kwargs_unserializable`` so that a checkpoint writer can refuse or warn.
"""

from __future__ import annotations

import functools
import inspect
import math
from typing import Any, Dict, List, Optional

import torch
import torch.nn as nn

from strfviewer.models import registry

DESCRIPTION_KEY = "_registry"

# torch.nn classes that may be passed as an activation and carry no constructor state worth saving.
_STATELESS_TORCH = (nn.Identity, nn.Sigmoid, nn.Tanh, nn.ReLU)


class UnserializableValue(ValueError):
    """A constructor argument has no JSON form (not a number, string, list, tensor or registered module)."""


def is_description(value: Any) -> bool:
    """True when ``value`` is a registry description ``{"_registry": kind, "name": ..., "kwargs": {...}}``."""
    return isinstance(value, dict) and DESCRIPTION_KEY in value and "name" in value


def _registered_kind(module: nn.Module) -> Optional[str]:
    for kind in ("prefilter", "kernel", "activation", "frontend", "readout", "model"):
        try:
            registry.name_of(kind, module)
            return kind
        except KeyError:
            continue
    return None


def describe_module(module: nn.Module) -> Dict[str, Any]:
    """Registry description of a module instance; raises :class:`UnserializableValue` if impossible."""
    kind = _registered_kind(module)
    if kind is None:
        raise UnserializableValue(f"{type(module).__name__} is not registered in strfviewer.models.registry")
    kwargs = getattr(module, "init_kwargs", None)
    if kwargs is None:
        if isinstance(module, _STATELESS_TORCH):
            kwargs = {}
        else:
            raise UnserializableValue(f"{type(module).__name__} does not record its constructor arguments")
    missing = getattr(module, "init_kwargs_unserializable", ())
    if missing:
        raise UnserializableValue(
            f"{type(module).__name__} has constructor arguments without a JSON form: {', '.join(missing)}")
    return {DESCRIPTION_KEY: kind, "name": registry.name_of(kind, module), "kwargs": dict(kwargs)}


def to_jsonable(value: Any) -> Any:
    """JSON-able form of one constructor argument (see the module docstring)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnserializableValue(f"non-finite number {value!r}")
        return value
    if isinstance(value, nn.Module):
        return describe_module(value)
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: to_jsonable(v) for k, v in value.items()}
    raise UnserializableValue(f"value of type {type(value).__name__} has no JSON form")


def build_from_description(desc: Dict[str, Any]) -> nn.Module:
    """Instantiate the registered class a description names, with its (rebuilt) keyword arguments."""
    if not is_description(desc):
        raise ValueError(f"not a registry description: {desc!r}")
    cls = registry.get(desc[DESCRIPTION_KEY], desc["name"])
    return cls(**rebuild_kwargs(desc.get("kwargs", {})))


def rebuild_kwargs(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """Turn every registry description found in ``kwargs`` (at the top level) back into a module."""
    return {k: build_from_description(v) if is_description(v) else v for k, v in kwargs.items()}


def _capture(sig: inspect.Signature, obj: Any, args: tuple, kw: dict) -> tuple:
    bound = sig.bind(obj, *args, **kw)
    bound.apply_defaults()
    captured: Dict[str, Any] = {}
    missing: List[str] = []
    for name, value in bound.arguments.items():
        param = sig.parameters[name]
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        try:
            captured[name] = to_jsonable(value)
        except UnserializableValue:
            captured[name] = None
            missing.append(name)
    return captured, missing


class CapturesInitKwargs:
    """Mixin: the most-derived class's ``__init__`` arguments land in ``self.init_kwargs``.

    Only the outermost ``__init__`` records (``super().__init__`` chains do not overwrite it), so
    ``LinearNonlinear(...)`` records ``LinearNonlinear``'s arguments, not ``Linear``'s.
    """

    init_kwargs: Dict[str, Any]
    init_kwargs_unserializable: tuple

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            return
        original = cls.__init__
        sig = inspect.signature(original)

        @functools.wraps(original)
        def __init__(self, *args, **kw):
            # the outermost wrapper entered is the most-derived class that defines __init__
            record = not self.__dict__.get("_capturing_init", False)
            if record:
                captured, missing = _capture(sig, self, args, kw)
                object.__setattr__(self, "_capturing_init", True)
            try:
                original(self, *args, **kw)
            finally:
                if record:
                    del self.__dict__["_capturing_init"]
            if record:
                object.__setattr__(self, "init_kwargs", captured)
                object.__setattr__(self, "init_kwargs_unserializable", tuple(missing))

        cls.__init__ = __init__


def private_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` sharing no tensor with it, for work in another thread (gradients, refits).

    A module that records its constructor arguments is rebuilt from them (through the registry) and given a
    copy of the weights, so tensors hanging off the original (a non-leaf tensor cached by a hook or an
    analysis, which ``copy.deepcopy`` refuses) do not matter; anything else is deep-copied. The copy keeps
    the original's train/eval mode and its ``spec`` when it has one.
    """
    import copy

    kwargs = getattr(module, "init_kwargs", None)
    if kwargs is not None and not getattr(module, "init_kwargs_unserializable", ()):
        try:
            twin = type(module)(**rebuild_kwargs(kwargs))
            twin.load_state_dict(module.state_dict())
        except (TypeError, ValueError, RuntimeError, KeyError):
            twin = None
        if twin is not None:
            if hasattr(module, "spec"):
                twin.spec = copy.deepcopy(module.spec)
            twin.to(next((p.device for p in module.parameters()), torch.device("cpu")))
            return twin.train(module.training)
    with torch.no_grad():
        return copy.deepcopy(module)
