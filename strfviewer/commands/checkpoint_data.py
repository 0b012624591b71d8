"""Load a dataset the way a saved model saw its own data: with the checkpoint's front-end and split.

A checkpoint's metadata carries ``frontend`` (the spectrogram settings, the z-score statistics of its fit
and ``smoothing_ms`` when responses were smoothed) and ``dataset.split`` (``{stimulus name: part}``).
Loading new data with the defaults instead would feed the model inputs scaled differently from its fit
and score it on another split; the commands that meet a saved model with data (``export``,
``dream --clamp-data``) use :func:`load_for_checkpoint`.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Tuple


def _saved_frontend(metadata: Mapping[str, Any]) -> Optional[dict]:
    frontend = metadata.get("frontend")
    return dict(frontend) if isinstance(frontend, Mapping) and frontend else None


def _saved_split(metadata: Mapping[str, Any]) -> Optional[dict]:
    dataset = metadata.get("dataset")
    split = dataset.get("split") if isinstance(dataset, Mapping) else None
    if isinstance(split, Mapping) and split and all(v in ("train", "val", "test") for v in split.values()):
        return {str(k): str(v) for k, v in split.items()}
    return None


def load_for_checkpoint(data: str, metadata: Optional[Mapping[str, Any]]) -> Tuple[Any, List[str]]:
    """``(dataset, notes)``: ``data`` loaded with the checkpoint's front-end (same spectrogram settings,
    z-scored with the fit's statistics, responses smoothed alike) and, when the stimulus names are those
    the checkpoint was split on, its train/val/test split. ``notes`` say what could not be matched."""
    from strfviewer.data import load

    meta = dict(metadata or {})
    notes: List[str] = []
    frontend = _saved_frontend(meta)
    if frontend is None:
        notes.append("the checkpoint records no front-end: the data are loaded with the default settings")
    smoothing = frontend.get("smoothing_ms") if frontend else None
    dataset = load(data, frontend=frontend, smoothing_ms=float(smoothing) if smoothing else None)
    split = _saved_split(meta)
    names = [s.name for s in dataset.stimuli]
    if split is not None and set(names) == set(split):
        dataset = dataset.with_split(split)
    elif split is not None:
        notes.append(f"{data}: stimulus names differ from those the model was fitted on; "
                     "using the data's own train/val/test split")
    return dataset, notes


def model_with_data(checkpoint: str, data: str, device: str = "cpu", model_args=()):
    """``(model, axes, metadata, dataset, notes)``: a checkpoint's model in eval mode on ``device`` and
    ``data`` loaded for it (:func:`load_for_checkpoint`); ``ValueError`` when the model's neurons or bands do
    not match the data's."""
    from strfviewer.commands.gradmap import load_model

    model, axes, metadata = load_model(checkpoint, device, model_args)
    dataset, notes = load_for_checkpoint(data, metadata)
    N, F = int(getattr(model, "N", dataset.n_neurons)), int(getattr(model, "F", dataset.n_freqs))
    wav_native = bool(getattr(model, "is_wav_native", False))   # takes the audio: the data's bands do not matter
    if N != dataset.n_neurons or (F != dataset.n_freqs and not wav_native):
        raise ValueError(f"{checkpoint}: the model has {N} neurons and {F} bands, the data {data} has "
                         f"{dataset.n_neurons} neurons and {dataset.n_freqs} bands")
    return model.eval(), axes, metadata, dataset, notes


def find_stimulus(dataset, name: str, data: str, option: str = "--stimulus"):
    """The stimulus ``name`` of ``dataset`` (loaded from ``data``); ``ValueError`` naming ``option`` and the
    first stimuli when there is none of that name."""
    try:
        return dataset.stimulus(name)
    except KeyError:
        names = [s.name for s in dataset.stimuli]
        raise ValueError(f"{option} {name!r}: no stimulus of that name in {data} (stimuli: {', '.join(names[:8])}"
                         f"{', ...' if len(names) > 8 else ''})") from None


def check_data_option(data) -> None:
    """A ``--data``/``DATA`` value names an existing file or folder, or 'demo' (checked before any loading)."""
    from pathlib import Path

    if data is not None and data.strip().lower() != "demo" and not Path(data).expanduser().exists():
        raise ValueError(f"{data}: no such data file or folder (give a data folder, an NPZ file or 'demo')")


def check_output_suffix(path: str, option: str, suffixes) -> None:
    """``path`` ends with one of ``suffixes`` (e.g. ``('.csv',)``) and its folder exists."""
    from pathlib import Path

    p = Path(path).expanduser()
    if p.suffix.lower() not in suffixes:
        raise ValueError(f"{option} {path}: expected a {' or '.join(suffixes)} file")
    if not p.parent.is_dir():
        raise ValueError(f"{option} {path}: folder {p.parent} does not exist")
