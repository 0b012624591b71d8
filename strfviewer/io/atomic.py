"""Crash-safe writes of files and folders: build beside the target, then swap in with one atomic step.

- A file (:func:`atomic_path`): written to ``.NAME.PID.RAND<ext>.part`` in the target's folder, flushed to disk
  (``fsync``), then ``os.replace``-d onto the target, and the folder entry flushed too.
- A folder (:func:`atomic_dir`): built in ``.NAME.PID.RAND.part``, every file and folder in it flushed, then
  swapped with the target in **one** ``renameat2(RENAME_EXCHANGE)`` (Linux; through ctypes) and the old copy
  (now under the temporary name) removed. Where the system or the file system cannot exchange, the old folder
  is first renamed to ``.NAME.PID.RAND.old`` and the new one renamed in; a kill between those two renames
  leaves the target missing but the previous complete copy in ``.old``, which :func:`recover_dir` puts back.

So at every instant the target is either the previous complete copy or the new complete one (or, in the
fallback only, recoverable from its ``.old``). A kill (SIGKILL, power loss) can leave temporary siblings
behind; :func:`clean_leftovers` removes those whose writing process is gone (its PID no longer runs), and
every save and every :func:`recover_dir` (called when a checkpoint is opened) runs it. Leftovers of earlier
versions (``.NAME.old-PID``, ``.NAME.XXXXXXXX.part``) are recognised too.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import re
import secrets
import shutil
import stat
import sys
import time
from pathlib import Path
from typing import Iterator, List, Optional, Union

PathLike = Union[str, os.PathLike]

#: a temporary sibling with no PID in its name (written by strfviewer < this layout) is stale after this age (s)
LEGACY_STALE_S = 3600.0
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


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


# ------------------------------------------------------------------------------------------ durability

def fsync_dir(folder: PathLike) -> None:
    """Flush a folder's entries (a rename into it) to disk; a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: PathLike) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _fsync_tree(root: Path) -> None:
    """Flush every file and folder under ``root`` (the folder about to be swapped in)."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            _fsync_file(os.path.join(folder, name))
        fsync_dir(folder)


# ---------------------------------------------------------------------------------------- the exchange

_RENAMEAT2 = None


def _renameat2():
    """glibc's ``renameat2`` through ctypes, or ``None`` (not Linux, or a C library without it)."""
    global _RENAMEAT2
    if _RENAMEAT2 is None:
        fn = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
                fn = libc.renameat2
                fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
                fn.restype = ctypes.c_int
            except (OSError, AttributeError):
                fn = False
        _RENAMEAT2 = fn
    return _RENAMEAT2 or None


def _exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` (both existing) in one atomic step; ``False`` where the system or the file system
    cannot (the caller falls back), ``OSError`` for any other failure."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(b))


# ------------------------------------------------------------------------------------------- leftovers

def _tmp_name(target: Path, kind: str, ext: str = "") -> Path:
    """``.NAME.PID.RAND<ext>.<kind>`` beside ``target`` (``kind`` ``part`` or ``old``)."""
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}{ext}.{kind}")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or no way to tell: keep its files
    return True


def _leftovers(target: Path) -> List[tuple]:
    """``[(path, kind, stale)]`` of the temporary siblings of ``target``: kind ``part`` (an unfinished or
    superseded copy) or ``old`` (the previous copy set aside by the fallback swap); ``stale`` when the process
    that wrote it is gone."""
    name = re.escape(target.name)
    current = re.compile(rf"^\.{name}\.(\d+)\.[0-9a-f]{{8}}(?:\.[^.]+)?\.(part|old)$")
    legacy_old = re.compile(rf"^\.{name}\.old-(\d+)$")
    legacy_part = re.compile(rf"^\.{name}\.[a-z0-9_]{{8}}(?:\.[^.]+)?\.part$")
    found = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return found
    for entry in entries:
        m = current.match(entry.name)
        if m:
            found.append((Path(entry.path), m.group(2), not _pid_alive(int(m.group(1)))))
            continue
        m = legacy_old.match(entry.name)
        if m:
            found.append((Path(entry.path), "old", not _pid_alive(int(m.group(1)))))
            continue
        if legacy_part.match(entry.name):
            try:
                age = time.time() - entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            found.append((Path(entry.path), "part", age > LEGACY_STALE_S))
    return found


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def clean_leftovers(path: PathLike) -> None:
    """Put back a previous copy a killed save set aside (when ``path`` is missing) and remove the temporary
    siblings of ``path`` that no running process owns. Never raises (a read-only folder is left as it is)."""
    target = Path(path)
    stale = [(p, kind) for p, kind, is_stale in _leftovers(target) if is_stale]
    if not stale:
        return
    if not os.path.lexists(target):
        olds = sorted((p for p, kind in stale if kind == "old"), key=_mtime, reverse=True)
        if olds:
            with contextlib.suppress(OSError):
                os.rename(olds[0], target)
                fsync_dir(target.parent)
    for p, _kind in stale:
        if os.path.lexists(p):
            _remove(p)


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def recover_dir(path: PathLike) -> Path:
    """The folder to read for ``path``: ``path`` itself after :func:`clean_leftovers`, or, while it is missing
    because a running process is between the two renames of the fallback swap, that save's previous copy."""
    target = Path(path)
    clean_leftovers(target)
    if not os.path.lexists(target):
        olds = [p for p, kind, _stale in _leftovers(target) if kind == "old" and p.is_dir()]
        if olds:
            return max(olds, key=_mtime)
    return target


# -------------------------------------------------------------------------------------------- writers

@contextlib.contextmanager
def atomic_path(path: PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``, on error it is removed.

    ``suffix`` keeps an extension on the temporary name for writers that look at it (e.g. ``.png``).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(target)
    tmp_path = _tmp_name(target, "part", suffix or target.suffix)
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        yield tmp_path
        _fsync_file(tmp_path)
        _set_final_mode(tmp_path, target, is_dir=False)
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise
    fsync_dir(target.parent)


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

    An existing folder at ``path`` stays complete until the new one is, then both are exchanged in one step
    (module docstring); on error the temporary folder is removed and the old one stays as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(target)
    tmp = _tmp_name(target, "part")
    tmp.mkdir(mode=0o700)
    try:
        yield tmp
        _fsync_tree(tmp)
        _set_final_mode(tmp, target, is_dir=True)
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(target.parent)
    shutil.rmtree(tmp, ignore_errors=True)  # the previous copy, after an exchange


def _swap_in(tmp: Path, target: Path) -> None:
    """Put the complete folder ``tmp`` at ``target``; afterwards ``tmp`` holds the previous copy, if any."""
    if not os.path.lexists(target):
        os.rename(tmp, target)
        return
    if _exchange(tmp, target):
        return
    backup = _tmp_name(target, "old")
    os.rename(target, backup)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(backup, target)
        raise
    fsync_dir(target.parent)
    os.rename(backup, tmp)  # so that the caller removes it like the exchanged copy
