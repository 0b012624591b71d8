"""Atomic file writes: write to a temporary file in the target's folder, then ``os.replace`` it.

A crash or an exception mid-write leaves the previous file untouched (never half-overwritten).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Iterator, Union

PathLike = Union[str, os.PathLike]


def _umask() -> int:
    """The process umask, read without changing it where the system allows (Linux), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode(is_dir: bool = False) -> int:
    """Permission bits a file (0666) or folder (0777) created now normally gets under the umask."""
    return (0o777 if is_dir else 0o666) & ~_umask()


def _set_final_mode(tmp: Path, target: Path, is_dir: bool) -> None:
    """Give ``tmp`` the mode ``target`` has, or the usual mode of a new file or folder: temporary files are
    created private (0600 / 0700), which would leave checkpoints and exports unreadable by a lab's group."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode) if target.exists() else new_file_mode(is_dir)
        os.chmod(tmp, mode)
    except OSError:
        pass  # e.g. a file system without permissions: keep what the temporary file has


@contextlib.contextmanager
def atomic_path(path: PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``, on error it is removed.

    ``suffix`` keeps an extension on the temporary name for writers that look at it (e.g. ``.png``).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=(suffix or target.suffix) + ".part",
                               dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            fh.flush()
            os.fsync(fh.fileno())
        _set_final_mode(tmp_path, target, is_dir=False)
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    return atomic_write_bytes(path, text.encode(encoding))


@contextlib.contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
    """Build a folder in a temporary sibling and swap it into place when the block succeeds.

    An existing folder at ``path`` is kept until the new one is complete, then replaced; on error the
    temporary folder is removed and the old one stays as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _set_final_mode(tmp, target, is_dir=True)
    backup = None
    if target.exists():
        backup = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, backup)
    try:
        os.replace(tmp, target)
    except BaseException:
        if backup is not None:
            os.replace(backup, target)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)
