"""``model.safetensors``: read its header safely, load its tensors, write it.

safetensors stores an 8-byte little-endian header length, a JSON header (name -> dtype, shape, byte
offsets) and the raw tensor bytes; reading it runs no code. Anything else (a pickle or a ``torch.save`` zip
renamed to ``.safetensors``) is refused here with a message saying what the file looks like — strfviewer
never unpickles.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Dict, Mapping, Tuple, Union

import torch

from strfviewer.io.checkpoint_error import CheckpointError

PathLike = Union[str, os.PathLike]

#: Largest header strfviewer accepts (the safetensors library uses the same bound).
MAX_HEADER_BYTES = 100 * 1024 * 1024


def read_header(path: PathLike) -> Dict[str, Tuple[str, Tuple[int, ...]]]:
    """Tensor names -> ``(dtype, shape)`` from the file's header, without reading any tensor data."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            prefix = fh.read(8)
            n = int.from_bytes(prefix, "little") if len(prefix) == 8 else -1
            if not 2 <= n <= min(MAX_HEADER_BYTES, size - 8):
                raise CheckpointError(path, _not_safetensors(prefix, size))
            raw = fh.read(n)
    except FileNotFoundError:
        raise CheckpointError(path, "missing (a checkpoint needs model.safetensors)") from None
    except OSError as exc:
        raise CheckpointError(path, f"cannot be read ({exc.strerror or exc})") from exc
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(path, "not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise CheckpointError(path, "not a safetensors file (its header is not a JSON object)")
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not (isinstance(entry, dict) and isinstance(entry.get("dtype"), str)
                and isinstance(entry.get("shape"), list)
                and all(isinstance(d, int) and d >= 0 for d in entry["shape"])):
            raise CheckpointError(path, f"malformed safetensors header entry for tensor {name!r}")
        out[name] = (entry["dtype"], tuple(entry["shape"]))
    return out


def load_tensors(path: PathLike, device: Union[str, torch.device] = "cpu") -> Dict[str, torch.Tensor]:
    """All tensors of the file, on ``device`` (validated by the safetensors library, no code run)."""
    from safetensors.torch import load_file

    read_header(path)  # clear message for files that are not safetensors at all
    try:
        return load_file(os.fspath(path), device=str(device))
    except Exception as exc:  # SafetensorError, or a device error
        raise CheckpointError(path, f"cannot load its tensors ({type(exc).__name__}: {exc})") from exc


def write_tensors(path: PathLike, tensors: Mapping[str, torch.Tensor]) -> None:
    """Write ``tensors`` (copied to CPU, contiguous, no shared storage) as safetensors."""
    from safetensors.torch import save_file

    plain = {k: v.detach().to("cpu").clone().contiguous() for k, v in tensors.items()}
    save_file(plain, os.fspath(path), metadata={"format": "pt"})
    from strfviewer.io.atomic import new_file_mode

    with contextlib.suppress(OSError):
        os.chmod(path, new_file_mode())  # safetensors creates the file private (0600)


def _not_safetensors(prefix: bytes, size: int) -> str:
    if size < 10:
        kind = "too short"
    elif prefix[:1] == b"\x80":
        kind = "it looks like a Python pickle"
    elif prefix[:2] == b"PK":
        kind = "it looks like a zip archive, e.g. a torch.save checkpoint"
    else:
        kind = "its header length is invalid"
    return f"not a safetensors file ({kind}); strfviewer only reads safetensors and never unpickles"
