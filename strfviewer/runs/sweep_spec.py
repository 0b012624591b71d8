"""Sweep descriptions: a grid over model configurations x seeds x datasets, from TOML or built in code.

TOML layout (documented in ``docs/sweeps.md``)::

    name = "kernels"
    data = ["demo", "/data/cells/cell_01"]     # datasets or cell folders (strfviewer.data.load sources)
    seeds = [0, 1, 2]

    [fit]                                      # FitRequest fields shared by every trial
    epochs = 20
    patience = 5

    [[model]]
    family = "Linear"
    T = 15
    kernel = ["full", "separable", "gaussian"] # a list is a grid axis
    method = "ridge"                           # FitRequest fields may also be set per model

    [[model]]
    family = "StateNet"
    rnn_type = ["GRU", "LSTM"]
    hidden_size = 32                           # anything else is a model hyperparameter

A list value is a grid axis; to pass a list as a single value, wrap it in a table: ``x = { value = [1, 2] }``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: keys of a model block that are ModelSpec fields (others that are not FitRequest fields go to ``hyper``)
SPEC_FIELDS = ("family", "kernel", "kernel_kwargs", "prefilter", "prefilter_kwargs", "activation", "activation_kwargs",
               "rnn_type", "T")
#: keys that are FitRequest fields (besides ``spec`` and ``seed``)
REQUEST_FIELDS = ("method", "epochs", "patience", "lr", "weight_decay", "batch_size", "device", "split")


class SweepError(ValueError):
    """A sweep description is invalid; the message names the file and the key."""


def _data_source(entry: "str | Dict[str, Any]", source: str) -> str:
    """A ``data`` entry as a source string: a string as is, a table ``{path = ..., units = [...], ...}``
    (reader options, :mod:`strfviewer.data.sources`) joined into ``path?units=...``."""
    if isinstance(entry, str):
        return entry
    from strfviewer.data.sources import make_source

    options = dict(entry)
    path = options.pop("path", None)
    if not isinstance(path, str) or not path:
        raise SweepError(f"{source}: a 'data' table needs a 'path' (and reader options such as units, events)")
    try:
        return str(make_source(path, **options))
    except ValueError as exc:
        raise SweepError(f"{source}: data {path!r}: {exc}") from None


@dataclass
class Trial:
    """One fit of a sweep: a dataset source, a model spec dict and a request dict (with its seed)."""

    data: str
    spec: Dict[str, Any]
    request: Dict[str, Any]
    sweep: str = ""

    @property
    def seed(self) -> int:
        return int(self.request.get("seed", 0))

    def key(self, data_hash: str) -> str:
        """Identity used to skip repeats: config (device excluded) + dataset content hash + seed."""
        request = {k: v for k, v in self.request.items() if k != "device"}
        blob = json.dumps({"spec": self.spec, "request": request, "data": data_hash}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def label(self) -> str:
        s = self.spec
        parts = [str(s.get("family"))] + [str(s[k]) for k in ("rnn_type", "kernel", "prefilter") if s.get(k)]
        return f"{'/'.join(parts)} seed={self.seed} data={Path(self.data).name or self.data}"

    def to_dict(self) -> Dict[str, Any]:
        return {"data": self.data, "spec": self.spec, "request": self.request, "sweep": self.sweep}

    def problems(self) -> List[str]:
        """Why this trial cannot run, found without loading data or fitting (empty: no problem found)."""
        from strfviewer.fit.run import FitRequest
        from strfviewer.models.factory import ModelSpec, check_spec

        out = []
        from strfviewer.data.sources import source_exists

        if not source_exists(self.data):
            out.append(f"{self.data}: no such data file or folder")
        try:
            request = FitRequest(spec=ModelSpec.from_dict(self.spec), **self.request)
        except (TypeError, ValueError) as exc:
            return out + [str(exc)]
        return out + check_spec(request.spec) + request.problems()


@dataclass
class SweepSpec:
    """A sweep: ``models`` (blocks, list values are grid axes) x ``seeds`` x ``data``."""

    name: str
    data: List[str]
    seeds: List[int] = field(default_factory=lambda: [0])
    models: List[Dict[str, Any]] = field(default_factory=list)
    fit: Dict[str, Any] = field(default_factory=dict)
    source: str = "<dict>"

    @classmethod
    def from_toml(cls, path: "str | Path") -> "SweepSpec":
        p = Path(path)
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SweepError(f"{p}: no such sweep file") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SweepError(f"{p}: not valid TOML ({exc})") from None
        return cls.from_dict(raw, source=str(p))

    @classmethod
    def from_dict(cls, raw: Dict[str, Any], source: str = "<dict>") -> "SweepSpec":
        known = {"name", "data", "seeds", "model", "models", "fit"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise SweepError(f"{source}: unknown top-level keys {unknown}; expected {sorted(known)}")
        data = raw.get("data")
        if isinstance(data, (str, dict)):
            data = [data]
        if not data or not all(isinstance(d, (str, dict)) for d in data):
            raise SweepError(f"{source}: 'data' must be a dataset source or a list of them")
        data = [_data_source(d, source) for d in data]
        seeds = raw.get("seeds", [0])
        if isinstance(seeds, int):
            seeds = [seeds]
        if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            raise SweepError(f"{source}: 'seeds' must be an integer or a list of integers")
        models = raw.get("model", raw.get("models"))
        if isinstance(models, dict):
            models = [models]
        if not models or not all(isinstance(m, dict) for m in models):
            raise SweepError(f"{source}: at least one [[model]] table is needed")
        for i, m in enumerate(models):
            if "family" not in m:
                raise SweepError(f"{source}: [[model]] number {i + 1} has no 'family'")
        fit = raw.get("fit", {})
        if not isinstance(fit, dict):
            raise SweepError(f"{source}: [fit] must be a table")
        bad = sorted(set(fit) - set(REQUEST_FIELDS))
        if bad:
            raise SweepError(f"{source}: [fit] has unknown keys {bad}; allowed: {list(REQUEST_FIELDS)}")
        name = str(raw.get("name") or Path(source).stem or "sweep")
        spec = cls(name=name, data=list(data), seeds=list(seeds), models=[dict(m) for m in models], fit=dict(fit),
                   source=source)
        spec.trials()  # validate the expansion now, so errors surface before anything runs
        return spec

    def configurations(self) -> List[Dict[str, Any]]:
        """Every model block expanded over its list-valued keys: flat dicts of spec + request fields."""
        out = []
        for block in self.models:
            axes = {k: v for k, v in block.items() if isinstance(v, list)}
            fixed = {k: _unwrap(v) for k, v in block.items() if not isinstance(v, list)}
            for values in itertools.product(*axes.values()) if axes else [()]:
                cfg = dict(fixed)
                cfg.update(zip(axes.keys(), values))
                out.append(cfg)
        return out

    def trials(self) -> List[Trial]:
        """All trials: configurations x datasets x seeds, in that nesting order."""
        from strfviewer.models.factory import normalized_names

        trials = []
        for cfg in self.configurations():
            spec: Dict[str, Any] = {"hyper": {}}
            request: Dict[str, Any] = dict(self.fit)
            for k, v in cfg.items():
                if k == "prefilter" and isinstance(v, str) and v.strip().lower() in ("", "none"):
                    spec[k] = None  # "none" in a grid: no prefilter, as in the factory
                elif k in SPEC_FIELDS:
                    spec[k] = v
                elif k in REQUEST_FIELDS:
                    request[k] = v
                else:
                    spec["hyper"][k] = v
            spec = normalized_names(spec)  # "statenet", "ln", "Separable": the registered names
            if spec.get("prefilter", "") is None:
                spec.pop("prefilter_kwargs", None)  # arguments of the prefilter the other grid values name
            for data in self.data:
                for seed in self.seeds:
                    trials.append(Trial(data=data, spec=dict(spec), request={**request, "seed": int(seed)},
                                        sweep=self.name))
        return trials


def _unwrap(v: Any) -> Any:
    if isinstance(v, dict) and set(v) == {"value"}:
        return v["value"]
    return v
