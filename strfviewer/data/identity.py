"""Identity of a dataset on disk: a content hash that does not change when the folder is moved."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_CHUNK = 1 << 20


def dataset_hash(source: str) -> str:
    """SHA-256 (hex, first 16 chars) over the relative paths and contents of a data file or folder.

    ``"demo"`` (optionally ``"demo:<seed>"``) hashes to a fixed identity of the built-in generator.
    Hidden files and caches (names starting with '.') are ignored. Raises ``FileNotFoundError``.
    """
    if source == "demo" or source.startswith("demo:"):
        return hashlib.sha256(source.encode()).hexdigest()[:16]
    root = Path(source)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such data file or folder")
    h = hashlib.sha256()
    files = [root] if root.is_file() else sorted(
        p for p in root.rglob("*") if p.is_file() and not any(part.startswith(".") for part in
                                                            p.relative_to(root).parts))
    for p in files:
        rel = p.name if root.is_file() else p.relative_to(root).as_posix()
        h.update(rel.encode() + b"\0" + str(os.path.getsize(p)).encode() + b"\0")
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                h.update(chunk)
    return h.hexdigest()[:16]
