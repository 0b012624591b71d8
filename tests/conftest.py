"""Shared test set-up: Qt offscreen unless STRFVIEWER_TEST_DISPLAY=1, few torch threads, data paths."""

import os
from pathlib import Path

import pytest

if os.environ.get("STRFVIEWER_TEST_DISPLAY") != "1":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is a hard dependency
    pass

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("STRFVIEWER_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
STRFLAB_CELL = SHARED_DATA / "strflab-auditory"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def strflab_cell() -> Path:
    """Path of the shared STRFlab recording; the test is skipped with the reason when it is absent."""
    if not (STRFLAB_CELL / "stim1.wav").is_file():
        pytest.skip(f"shared recording not found at {STRFLAB_CELL} (set STRFVIEWER_SHARED_DATA)")
    return STRFLAB_CELL
