"""On-disk cache of per-stimulus spectrograms, keyed by the audio file's content and the front-end.

Location: ``$STRFVIEWER_CACHE_DIR`` when set, else the platform's user cache folder from ``platformdirs``
(Linux: ``$XDG_CACHE_HOME/strfviewer`` or ``~/.cache/strfviewer``; macOS: ``~/Library/Caches/strfviewer``;
Windows: ``%LOCALAPPDATA%\\strfviewer\\Cache``); entries live under ``spectrograms/``. Entries are ``.npz`` files read with
``allow_pickle=False`` and written atomically. A cache that cannot be read or written is skipped silently
(the spectrogram is then just recomputed).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

#: bump when the spectrogram code changes in a way that changes its output
CACHE_VERSION = 2


def cache_dir() -> Path:
    """The strfviewer cache folder (not created here)."""
    env = os.environ.get("STRFVIEWER_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("strfviewer", appauthor=False))


def spectrogram_key(content_hash: str, frontend: Dict[str, object], sample_rate: int) -> str:
    """Hex key from the audio file's sha256, the front-end settings and the (possibly resampled) rate."""
    payload = json.dumps({"audio": content_hash, "frontend": frontend, "sample_rate": int(sample_rate),
                          "version": CACHE_VERSION}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _entry(key: str) -> Path:
    return cache_dir() / "spectrograms" / key[:2] / f"{key}.npz"


def load_spectrogram(key: str) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """Cached ``(spec (F, T), freqs_hz (F,))`` for ``key``, or ``None``."""
    path = _entry(key)
    try:
        with np.load(path, allow_pickle=False) as data:
            return np.asarray(data["spec"], dtype=np.float32), np.asarray(data["freqs_hz"], dtype=np.float64)
    except Exception:  # missing, partial or foreign file: recompute
        return None


def store_spectrogram(key: str, spec: np.ndarray, freqs_hz: np.ndarray) -> None:
    """Write an entry atomically; failures (read-only disk, full disk) are ignored."""
    from strfviewer.io.atomic import atomic_write_bytes

    buffer = io.BytesIO()
    np.savez(buffer, spec=np.asarray(spec, dtype=np.float32), freqs_hz=np.asarray(freqs_hz, dtype=np.float64))
    try:
        atomic_write_bytes(_entry(key), buffer.getvalue())
    except OSError:
        pass
