"""Ctrl-C handling shared by the long-running commands (``fit``, ``dream``, ``sweep``)."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Callable, Iterator


@contextlib.contextmanager
def sigint_calls(handler: Callable[[int, object], None]) -> Iterator[None]:
    """While the block runs, SIGINT (Ctrl-C) calls ``handler(signum, frame)`` instead of raising
    ``KeyboardInterrupt``; the previous handler is restored afterwards. Outside the main thread (where
    Python cannot install signal handlers) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
