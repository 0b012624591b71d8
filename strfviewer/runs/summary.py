"""Per-configuration summaries of runs: mean and spread of test cc_norm across seeds and cells."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Dict, Iterable, List

from strfviewer.runs.history import RunRecord

#: request fields that vary between repeats of one configuration (or only how it reports) and so do not define it
_NOT_CONFIG = ("seed", "device", "progress_interval_s")


def _request_defaults() -> dict:
    """The :class:`~strfviewer.fit.run.FitRequest` defaults: a sweep trial records only the fields its file sets,
    a ``strfviewer fit`` run every field, so both are completed with these before they are compared."""
    import dataclasses

    from strfviewer.fit.run import FitRequest

    return {f.name: f.default for f in dataclasses.fields(FitRequest)
            if f.default is not dataclasses.MISSING and f.name != "spec"}


def spectrogram_settings(frontend) -> dict:
    """The spectrogram settings of a run's recorded ``frontend`` (bands, frame, range, scale, ...), without the
    statistics it computed from the data (the z-score means and standard deviations): runs whose spectrograms
    were made differently are different configurations, runs on other cells with the same settings are not."""
    settings = {}
    for key, value in (frontend or {}).items() if isinstance(frontend, dict) else ():
        if key == "normalization" and isinstance(value, dict):
            value = value.get("kind")
        settings[key] = value
    return settings


def config_key(record: RunRecord) -> str:
    """Canonical JSON of a run's configuration without its seed, device and dataset (fit settings left out of
    the record count with their default values; the spectrogram settings without the data's statistics)."""
    cfg = dict(record.config)
    recorded = cfg.get("request") or {}
    request = {k: v for k, v in {**_request_defaults(), **recorded}.items() if k not in _NOT_CONFIG}
    key = {"spec": cfg.get("spec") or {}, "request": request}
    spectrogram = spectrogram_settings(cfg.get("frontend"))
    if spectrogram:
        key["spectrogram"] = spectrogram
    return json.dumps(key, sort_keys=True)


@dataclass
class ConfigSummary:
    """Test cc_norm statistics of one configuration over its finished runs (seeds x cells)."""

    label: str
    config_key: str
    n_runs: int
    n_datasets: int
    n_seeds: int
    mean: float
    std: float  # sample standard deviation across runs (NaN for one run)
    minimum: float
    maximum: float


def summarize(records: Iterable[RunRecord]) -> List[ConfigSummary]:
    """Group finished runs by configuration; sorted by mean test cc_norm, best first."""
    groups: Dict[str, List[RunRecord]] = {}
    for r in records:
        if r.status in ("done", "warning") and r.mean_test_cc_norm is not None:
            groups.setdefault(config_key(r), []).append(r)
    out = []
    for key, rs in groups.items():
        vals = [float(r.mean_test_cc_norm) for r in rs]
        n = len(vals)
        mean = sum(vals) / n
        std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else float("nan")
        label = rs[0].label().rsplit(" / seed", 1)[0]
        out.append(ConfigSummary(label, key, n, len({r.dataset_hash for r in rs}), len({r.seed for r in rs}),
                                 mean, std, min(vals), max(vals)))
    out.sort(key=lambda s: -s.mean)
    return out


def _flat_config(config) -> dict:
    """``{"T": 15, "method": "sgd", "hyper.hidden_size": 32, ...}`` from a configuration
    ``{"spec": {...}, "request": {...}, "spectrogram": {...}}`` (or its JSON, a summary's configuration key; a
    record's raw ``frontend`` is read as its spectrogram settings); spectrogram settings as ``spectrogram.KEY``."""
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError:
            return {}
    flat = {}
    spectrogram = (config or {}).get("spectrogram") or spectrogram_settings((config or {}).get("frontend"))
    for key, value in spectrogram.items():
        flat[f"spectrogram.{key}"] = value
    for part in ("spec", "request"):
        values = (config or {}).get(part) or {}
        if part == "request":   # settings a record leaves out have their default values
            values = {k: v for k, v in {**_request_defaults(), **values}.items() if k != "progress_interval_s"}
        for key, value in values.items():
            if part == "request" and key == "spec":
                continue  # the same spec again
            if isinstance(value, dict):
                for k, v in value.items():
                    flat[f"{key}.{k}"] = v
            else:
                flat[key] = value
    return flat


#: settings that a run's or a configuration's label names already
LABELLED_SETTINGS = ("family", "kernel", "prefilter")


def differing_settings(configs: List[dict], exclude: Iterable[str] = LABELLED_SETTINGS) -> List[str]:
    """For each configuration ``{"spec": ModelSpec dict, "request": FitRequest dict}`` (or its JSON), the
    settings whose values differ between the configurations given, ``exclude`` aside:
    ``"T=15, method=sgd, epochs=30"`` ('' for a setting the configuration lacks)."""
    flats = [_flat_config(c) for c in configs]
    keys = sorted({k for f in flats for k in f} - set(exclude))
    varying = [k for k in keys if len({repr(f.get(k)) for f in flats}) > 1]
    return [", ".join(f"{k}={f.get(k)}" for k in varying if f.get(k) is not None) for f in flats]


def distinguishing_settings(summaries: List[ConfigSummary]) -> List[str]:
    """For each summary, the settings (model or fit) whose values differ between the configurations listed,
    family, kernel and prefilter aside (they are in the label): ``"T=15, method=sgd, epochs=30"``."""
    return differing_settings([s.config_key for s in summaries])
