"""The one error type for unreadable or unsaveable checkpoints."""

from __future__ import annotations

import os
from typing import Union


class CheckpointError(ValueError):
    """A checkpoint file or folder is unusable; the message names the file and the problem.

    ``path`` is the offending file (or folder, or Hub repo id ``owner/name``) and ``problem`` the reason alone.
    """

    def __init__(self, path: Union[str, os.PathLike], problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
