"""Identity of a dataset on disk: a content hash that does not change when the folder is moved."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_CHUNK = 1 << 20


def dataset_hash(source: str) -> str:
    """SHA-256 (hex, first 16 chars) over the relative paths and contents of a data file or folder.

    ``"demo"`` (optionally ``"demo:<seed>"``) hashes to a fixed identity of the built-in generator.
    Hidden files and caches (names starting with '.') are ignored. A source with reader options
    (``rec.nwb?units=3``) also hashes its options; a spike-sorter folder hashes only the files its reader
    uses (not the raw recording beside them), plus its events table and the sounds it names. Raises
    ``FileNotFoundError``.
    """
    if source == "demo" or source.startswith("demo:"):
        return hashlib.sha256(source.encode()).hexdigest()[:16]
    from strfviewer.data.sources import parse_source

    parsed = parse_source(source)
    root = Path(parsed.path)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such data file or folder")
    h = hashlib.sha256()
    options = {k: v for k, v in parsed.options.items() if k != "events"}  # the events file is hashed by content
    if options:
        h.update(str(sorted(options.items())).encode() + b"\0")
    from strfviewer.data.sorter import input_files, is_sorter_folder

    if root.is_dir() and is_sorter_folder(root):
        named = input_files(root, parsed.options.get("events"))
    else:
        files = [root] if root.is_file() else sorted(
            p for p in root.rglob("*") if p.is_file() and not any(part.startswith(".") for part in
                                                                p.relative_to(root).parts))
        named = [(p.name if root.is_file() else p.relative_to(root).as_posix(), p) for p in files]
    for rel, p in named:
        h.update(rel.encode() + b"\0" + str(os.path.getsize(p)).encode() + b"\0")
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                h.update(chunk)
    return h.hexdigest()[:16]
