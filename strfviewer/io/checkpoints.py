"""Model checkpoints: a folder with ``config.json``, ``model.safetensors``, ``metadata.json`` and ``README.md``.

- ``config.json``: the model's constructor arguments (``model.init_kwargs``; a module-valued argument as a
  registry description ``{"_registry": kind, "name": ..., "kwargs": {...}}``) plus ``"_model_class"``, the
  model's registry name. The same layout as deepSTRF's, so each library can read the other's files.
- ``model.safetensors``: the ``state_dict`` (parameters and buffers), CPU tensors.
- ``metadata.json``: free JSON metadata (``frontend``, ``freqs_hz``, ``dt_ms``, ``spec``, ``fit``, ``metrics``,
  ``dataset``, ``neuron_names`` ...) plus ``"_checkpoint"`` (writer, format version).
- ``README.md``: the model card (given, or generated from the config and metadata).

A model is only ever rebuilt from :mod:`strfviewer.models.registry` (no import by name, no pickle, no
``torch.load``). Checkpoints written by deepSTRF's ``save_pretrained`` load too (see
:mod:`strfviewer.io.deepstrf_compat` and ``docs/checkpoints.md``). Every problem raises
:class:`CheckpointError` naming the file.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import torch
import torch.nn as nn

from strfviewer.io import deepstrf_compat, hub, weights_file
from strfviewer.io.atomic import atomic_dir
from strfviewer.io.checkpoint_error import CheckpointError

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "push_to_hub", "checkpoint_config",
           "CONFIG_FILE", "WEIGHTS_FILE", "METADATA_FILE", "CARD_FILE", "FORMAT_VERSION"]

PathLike = Union[str, os.PathLike]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
METADATA_FILE = "metadata.json"
CARD_FILE = "README.md"
CLASS_KEY = "_model_class"
FORMAT_KEY = "_checkpoint"
FORMAT_VERSION = 1
WRITER = "strfviewer"
#: Files a checkpoint folder may hold; saving refuses to replace a folder holding anything else.
_OWN_FILES = {CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE, CARD_FILE}


# ----------------------------------------------------------------------------------------------- saving

def checkpoint_config(model: nn.Module) -> Dict[str, Any]:
    """The ``config.json`` content for ``model``: its init kwargs plus ``_model_class``.

    Raises ``ValueError`` when the model is not a registered family or an argument has no JSON form.
    """
    from strfviewer.models import registry

    try:
        name = registry.name_of("model", model)
    except KeyError:
        raise ValueError(f"{type(model).__name__} is not a registered strfviewer model family; only those "
                         f"can be saved (known: {', '.join(registry.names('model'))})") from None
    kwargs = getattr(model, "init_kwargs", None)
    if not isinstance(kwargs, dict):
        raise ValueError(f"{type(model).__name__} did not record its constructor arguments (init_kwargs)")
    unsaveable = tuple(getattr(model, "init_kwargs_unserializable", ()))
    if unsaveable:
        raise ValueError(f"{name}: constructor arguments without a JSON form cannot be saved: "
                         f"{', '.join(unsaveable)} (pass registered modules or plain values)")
    config = {CLASS_KEY: name}
    config.update(_drop_default_nones(type(model), name, kwargs))
    _check_json(config, f"{name} config")
    return config


def _drop_default_nones(cls: type, name: str, kwargs: Mapping[str, Any]) -> Dict[str, Any]:
    """Leave out the arguments deepSTRF's class of the same name does not take when they are ``None`` and
    default to ``None`` (e.g. ``wav2spec`` of LinearNonlinear): strfviewer loads the same model, and deepSTRF
    can read the file. Arguments deepSTRF takes keep their ``null`` (which means "default" to both)."""
    deepstrf_args = deepstrf_compat.DEEPSTRF_ARGS.get(name)
    if deepstrf_args is None:
        return dict(kwargs)
    params = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in kwargs.items()
            if not (v is None and k not in deepstrf_args and k in params and params[k].default is None)}


def save_checkpoint(model: nn.Module, folder: PathLike, metadata: Optional[Mapping[str, Any]] = None,
                    model_card: Optional[str] = None) -> Path:
    """Write ``model`` to the checkpoint folder ``folder`` atomically; returns the folder's path.

    The folder is built next to its destination and swapped in when complete, so a failure leaves any
    previous checkpoint there untouched. An existing folder holding files other than a checkpoint's is
    never replaced (``ValueError``). ``metadata`` must be JSON-able (arrays and tensors become lists).
    """
    folder = Path(folder).expanduser()
    config = checkpoint_config(model)
    meta = _jsonable_metadata(metadata or {})
    meta[FORMAT_KEY] = {"writer": WRITER, "format_version": FORMAT_VERSION, "strfviewer_version": _version()}
    card = model_card if model_card is not None else default_model_card(config, meta)
    _refuse_foreign_folder(folder)
    with atomic_dir(folder) as tmp:
        (tmp / CONFIG_FILE).write_text(_dumps(config), encoding="utf-8")
        weights_file.write_tensors(tmp / WEIGHTS_FILE, model.state_dict())
        (tmp / METADATA_FILE).write_text(_dumps(meta), encoding="utf-8")
        (tmp / CARD_FILE).write_text(card, encoding="utf-8")
    return folder


def push_to_hub(model: nn.Module, repo_id: str, metadata: Optional[Mapping[str, Any]] = None,
                model_card: Optional[str] = None, private: bool = False, token: Optional[str] = None,
                commit_message: Optional[str] = None) -> str:
    """Save ``model`` to a temporary checkpoint and upload it to the Hub repo ``repo_id``; returns the
    commit URL. Needs write access (``huggingface-cli login`` or ``token=``)."""
    with tempfile.TemporaryDirectory(prefix="strfviewer-push-") as tmp:
        folder = save_checkpoint(model, Path(tmp) / "checkpoint", metadata=metadata, model_card=model_card)
        return hub.upload_checkpoint(folder, repo_id, private=private, token=token,
                                     commit_message=commit_message)


# ---------------------------------------------------------------------------------------------- loading

def load_checkpoint(path_or_repo_id: PathLike, extra_kwargs: Optional[Mapping[str, Any]] = None,
                    strict: bool = True, map_location: Union[str, torch.device] = "cpu",
                    cache_dir: Optional[PathLike] = None, revision: Optional[str] = None,
                    token: Optional[str] = None) -> Tuple[nn.Module, Dict[str, Any]]:
    """Rebuild a model from a checkpoint folder or a Hub repo id; returns ``(model, metadata)``.

    ``extra_kwargs`` overrides or completes the saved constructor arguments: a value may be a module, a
    registry description, a plain value, or — for a module-valued argument — a dict of that module's
    keyword arguments merged into the saved/inferred ones (e.g. ``{"prefiltering": {"kernel_size": 5}}``).
    ``strict`` refuses missing or extra tensors (shapes must always match). The model is returned on
    ``map_location``, in eval mode; ``metadata`` is ``{}`` when the checkpoint has none.
    """
    folder = hub.resolve_checkpoint_folder(path_or_repo_id, cache_dir=cache_dir, revision=revision, token=token)
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    config = _read_json_object(config_path, required=True)
    metadata = _read_json_object(folder / METADATA_FILE, required=False) or {}
    written_by = _writer(metadata.pop(FORMAT_KEY, None), folder / METADATA_FILE)
    cls, class_name = _model_class(config, config_path)
    header = weights_file.read_header(weights_path)
    tensors = weights_file.load_tensors(weights_path, device="cpu")
    _refuse_non_finite(tensors, weights_path)

    kwargs = {k: v for k, v in config.items() if not k.startswith("_")}
    if written_by is None:  # deepSTRF (or hand-written): module-valued arguments were not saved
        kwargs = deepstrf_compat.infer_module_kwargs(cls, class_name, kwargs, tensors, metadata)
    kwargs = legacy_s4d(class_name, kwargs, tensors, metadata)
    kwargs = deepstrf_compat.apply_extra_kwargs(kwargs, extra_kwargs or {})
    deepstrf_compat.raise_if_unresolved(kwargs, config_path)
    for key, value in kwargs.items():
        _check_descriptions(value, config_path, key)
        _check_config_ints(value, config_path, key)
    planned = _shapes_without_memory(cls, kwargs)
    if planned is not None:
        _check_model_size(planned, config_path, class_name)
    if planned is not None:  # refuse a mismatch before allocating (a config could ask for a huge model)
        _check_tensors(planned, header, weights_path, strict, class_name)
    if planned is None:  # the header's tensors bound what a matching model holds
        _check_model_size({k: v[1] for k, v in header.items()}, weights_path, class_name)
    model = _build(cls, class_name, kwargs, config_path)
    _check_tensors(_shapes(model), header, weights_path, strict, class_name)
    try:
        model.load_state_dict(tensors, strict=strict)
    except RuntimeError as exc:
        raise CheckpointError(weights_path, f"does not fit {class_name}: {exc}") from exc
    model.to(map_location)
    model.eval()
    return model, metadata


# ------------------------------------------------------------------------------------------------ helpers

#: A tensor only strfviewer's diagonal S4 (``S4DBlock``) has.
_S4D_TENSOR = "rnn.log_A_real"


def legacy_s4d(class_name: str, kwargs: Dict[str, Any], tensors: Mapping[str, torch.Tensor],
               metadata: Dict[str, Any]) -> Dict[str, Any]:
    """``rnn_type="S4"`` meant strfviewer's diagonal S4 before it meant deepSTRF's DPLR S4: a StateNet whose
    tensors are the diagonal layer's (``rnn.log_A_real`` ...) is rebuilt as ``"S4D"``, and a ``spec`` in its
    metadata is corrected the same way (``metadata`` is changed in place)."""
    if class_name != "StateNet" or kwargs.get("rnn_type") != "S4" or _S4D_TENSOR not in tensors:
        return kwargs
    spec = metadata.get("spec")
    if isinstance(spec, dict) and spec.get("rnn_type") == "S4":
        spec["rnn_type"] = "S4D"
    return {**kwargs, "rnn_type": "S4D"}


def _writer(info: Any, metadata_path: Path) -> Optional[str]:
    """``"strfviewer"`` for checkpoints strfviewer wrote (refusing newer formats), else ``None``."""
    if not (isinstance(info, dict) and info.get("writer") == WRITER):
        return None
    version = info.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(metadata_path, f"checkpoint format {version!r} is newer than this strfviewer "
                                             f"reads (format {FORMAT_VERSION}); update strfviewer")
    return WRITER


def _model_class(config: Dict[str, Any], config_path: Path):
    from strfviewer.models import registry

    name = config.get(CLASS_KEY)
    if not isinstance(name, str) or not name:
        raise CheckpointError(config_path, f"does not name the model class (no {CLASS_KEY!r} string)")
    try:
        return registry.get("model", name), registry.entry("model", name).name
    except KeyError:
        raise CheckpointError(config_path, f"unknown model class {name!r}; strfviewer knows "
                                           f"{', '.join(registry.names('model'))}") from None


#: Registry kinds a description in config.json may name (never "scale": those are functions).
_MODULE_KINDS = ("kernel", "prefilter", "activation", "frontend", "readout", "model")


def _check_descriptions(value: Any, config_path: Path, where: str) -> None:
    """Every registry description nested in ``value`` names a module kind and a registered name."""
    from strfviewer.models import registry

    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_descriptions(item, config_path, f"{where}[{i}]")
        return
    if not isinstance(value, dict):
        return
    if deepstrf_compat.is_description(value):
        kind, name = value[deepstrf_compat.DESCRIPTION_KEY], value["name"]
        if kind not in _MODULE_KINDS:
            raise CheckpointError(config_path, f"{where}: {kind!r} is not a kind of module strfviewer builds "
                                               f"(expected one of {', '.join(_MODULE_KINDS)})")
        if not isinstance(name, str) or not registry.is_registered(kind, name):
            raise CheckpointError(config_path, f"{where}: unknown {kind} {name!r}; known {kind}s: "
                                               f"{', '.join(registry.names(kind))}")
        if not isinstance(value.get("kwargs", {}), dict):
            raise CheckpointError(config_path, f"{where}: the kwargs of {kind} {name!r} must be a JSON object")
        value = value.get("kwargs", {})
    for key, item in value.items():
        _check_descriptions(item, config_path, f"{where}.{key}")


def _check_config_ints(value: Any, config_path: Path, where: str) -> None:
    """Every whole number in a config argument is at most :data:`limits.MAX_CONFIG_INT` (a kernel size, a
    band count or a width of 10^8 would allocate gigabytes before anything else could fail)."""
    from strfviewer.data.limits import MAX_CONFIG_INT

    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_CONFIG_INT:
            raise CheckpointError(config_path, f"{where} = {value} is larger than {MAX_CONFIG_INT}, the largest "
                                               "size strfviewer builds")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_config_ints(item, config_path, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_config_ints(item, config_path, f"{where}.{key}")


def _check_model_size(shapes: Mapping[str, Tuple[int, ...]], path: Path, class_name: str) -> None:
    from strfviewer.data.limits import MAX_MODEL_VALUES, size_text

    total = sum(math.prod(shape) for shape in shapes.values())
    if total > MAX_MODEL_VALUES:
        raise CheckpointError(path, f"{class_name} of these arguments holds {total} values "
                                    f"({size_text(4.0 * total)}), more than the {MAX_MODEL_VALUES} strfviewer builds")


def _refuse_non_finite(tensors: Mapping[str, torch.Tensor], weights_path: Path) -> None:
    """A model with NaN or infinite weights gives NaN everywhere (predictions, gradmaps, dreams): refused."""
    bad = [k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise CheckpointError(weights_path, f"{len(bad)} tensor(s) hold NaN or infinite values "
                                            f"({_listing(bad)}): the model is unusable (a diverged fit?)")


def _shapes(model: nn.Module) -> Dict[str, Tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _shapes_without_memory(cls, kwargs: Dict[str, Any]) -> Optional[Dict[str, Tuple[int, ...]]]:
    """State-dict shapes of the model ``kwargs`` describe, built on the ``meta`` device (no memory used);
    ``None`` when the constructor cannot run there (e.g. it reads tensor values) or fails."""
    from strfviewer.models import capture

    try:
        with torch.device("meta"):
            return _shapes(cls(**capture.rebuild_kwargs(kwargs)))
    except Exception:  # the real build below reports construction errors properly
        return None


def _build(cls, class_name: str, kwargs: Dict[str, Any], config_path: Path) -> nn.Module:
    from strfviewer.models import capture

    try:
        return cls(**capture.rebuild_kwargs(kwargs))
    except (TypeError, ValueError, AssertionError, RuntimeError, KeyError) as exc:
        raise CheckpointError(config_path, f"cannot build {class_name} from these arguments "
                                           f"({type(exc).__name__}: {exc})") from exc


def _check_tensors(expected: Dict[str, Tuple[int, ...]], header: Dict[str, Tuple[str, Tuple[int, ...]]],
                   weights_path: Path, strict: bool, class_name: str) -> None:
    problems = []
    wrong = [f"{k} {header[k][1]} (model expects {shape})" for k, shape in expected.items()
             if k in header and header[k][1] != shape]
    if wrong:
        problems.append("wrong shapes: " + _listing(wrong))
    if strict:
        missing = [k for k in expected if k not in header]
        extra = [k for k in header if k not in expected]
        if missing:
            problems.append("missing tensors: " + _listing(missing))
        if extra:
            problems.append("unexpected tensors: " + _listing(extra))
    if problems:
        raise CheckpointError(weights_path, f"does not match the {class_name} described by config.json; "
                                            + "; ".join(problems))


def _listing(items, limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _read_json_object(path: Path, required: bool) -> Optional[Dict[str, Any]]:
    from strfviewer.data.limits import MAX_JSON_BYTES, size_text

    try:
        if path.exists() and not path.is_file():
            raise CheckpointError(path, "is not a regular file (a device, a folder or a pipe?)")
        with open(path, "rb") as fh:  # at most the limit, whatever the file (a link to /dev/zero ...) claims
            raw = fh.read(MAX_JSON_BYTES + 1)
        if len(raw) > MAX_JSON_BYTES:
            raise CheckpointError(path, f"larger than the {size_text(MAX_JSON_BYTES)} a checkpoint's JSON may take")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        if required:
            raise CheckpointError(path, "missing (a checkpoint needs config.json)") from None
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(path, f"cannot be read as UTF-8 text ({exc})") from exc
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(path, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise CheckpointError(path, "JSON nested too deeply") from None
    if not isinstance(value, dict):
        raise CheckpointError(path, f"must hold a JSON object, found {type(value).__name__}")
    return value


def _jsonable_metadata(metadata: Mapping[str, Any]) -> Dict[str, Any]:
    if not isinstance(metadata, Mapping):
        raise ValueError(f"metadata must be a mapping, got {type(metadata).__name__}")
    out = {}
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise ValueError(f"metadata keys must be strings, got {key!r}")
        if key == FORMAT_KEY:
            raise ValueError(f"metadata key {FORMAT_KEY!r} is reserved")
        out[key] = _to_json(value, f"metadata[{key!r}]")
    return out


def _to_json(value: Any, where: str) -> Any:
    """Plain JSON form of a metadata value: arrays/tensors -> lists, tuples -> lists, dataclasses via to_dict."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, torch.Tensor) or (hasattr(value, "tolist") and hasattr(value, "dtype")):
        return _to_json(value.tolist(), where)
    if isinstance(value, Mapping):
        return {str(k): _to_json(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v, where) for v in value]
    if hasattr(value, "to_dict"):
        return _to_json(value.to_dict(), where)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise ValueError(f"{where}: a {type(value).__name__} cannot be stored in checkpoint metadata")


def _check_json(value: Any, what: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not JSON-able: {exc}") from exc


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, allow_nan=False) + "\n"


def _refuse_foreign_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder}: exists and is not a folder")
    if folder.is_dir():
        foreign = sorted(p.name for p in folder.iterdir() if p.name not in _OWN_FILES)
        if foreign:
            raise ValueError(f"{folder}: holds files that are not part of a checkpoint ({_listing(foreign, 5)}); "
                             f"saving would replace the whole folder — choose an empty or new folder")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("strfviewer")
    except Exception:  # not installed (running from a source tree)
        return "unknown"


def default_model_card(config: Mapping[str, Any], metadata: Mapping[str, Any]) -> str:
    """A short Markdown model card: what the model is, how to load it, its config and headline metadata."""
    name = config.get(CLASS_KEY, "model")
    shown_config = {k: v for k, v in config.items() if k != CLASS_KEY}
    lines = ["---", "library_name: strfviewer", "tags:", "- neuroscience", "- auditory", "- strf",
             "- pytorch", "---", "", f"# {name} (strfviewer)", "",
             "A spectro-temporal encoding model of auditory neurons saved by strfviewer "
             "(config.json + model.safetensors; no pickle).", "", "## Load", "", "```python",
             "from strfviewer.io.checkpoints import load_checkpoint", "",
             'model, metadata = load_checkpoint("<folder or owner/repo>")', "```", "", "## Config", "",
             "```json", json.dumps(shown_config, indent=2, sort_keys=True), "```"]
    lines += _results_lines(metadata.get("metrics"))
    headline = {k: _compact(v) for k, v in metadata.items() if k != FORMAT_KEY}
    if headline:
        text = json.dumps(headline, indent=2, sort_keys=True)
        if len(text) > 6000:  # still long: the keys only, never JSON cut in the middle
            text = json.dumps(sorted(headline), indent=2)
        lines += ["", "## Metadata", "", "Headline entries (long lists and tables shortened; everything is in "
                  "`metadata.json`):", "", "```json", text, "```"]
    return "\n".join(lines) + "\n"


def _compact(value: Any, max_items: int = 20) -> Any:
    """``value`` with lists and tables longer than ``max_items`` replaced by a short description (valid JSON)."""
    if isinstance(value, list):
        return value if len(value) <= max_items else f"<{len(value)} values>"
    if isinstance(value, dict):
        if len(value) > max_items:
            return f"<{len(value)} entries>"
        return {k: _compact(v, max_items) for k, v in value.items()}
    return value


def _results_lines(metrics: Any) -> list:
    """A Markdown table of the mean cc / cc_max / cc_norm per split, from the ``metrics`` metadata entry."""
    if not isinstance(metrics, Mapping):
        return []
    rows = []
    for part in ("train", "val", "test"):
        m = metrics.get(part)
        if isinstance(m, Mapping) and isinstance(m.get("mean_cc_norm"), (int, float)):
            cells = [f"{m[k]:.3f}" if isinstance(m.get(k), (int, float)) else "" for k in
                     ("mean_cc", "mean_cc_max", "mean_cc_norm")]
            rows.append(f"| {part} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    return ["", "## Results", "", "Mean over neurons (cc_norm: correlation with the trial-averaged response "
            "divided by the noise ceiling cc_max).", "", "| split | cc | cc_max | cc_norm |", "|---|---|---|---|",
            *rows]
