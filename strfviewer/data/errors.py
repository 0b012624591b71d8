"""The one error type of the data layer: bad input on disk, named by file (and line when known)."""

from __future__ import annotations

import os
from typing import Optional, Union


class DataError(ValueError):
    """Bad or unusable input data.

    ``path`` is the offending file or folder, ``line`` the 1-based line number inside a text file (or
    ``None``), ``message`` says what is wrong. ``str(err)`` reads ``"<path>:<line>: <message>"``.
    """

    def __init__(self, path: Union[str, "os.PathLike[str]", None], line: Optional[int], message: str) -> None:
        self.path = str(path) if path is not None else ""
        self.line = line
        self.message = message
        where = self.path or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")
