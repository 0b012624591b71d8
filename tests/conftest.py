"""Shared test set-up: Qt offscreen unless STRFVIEWER_TEST_DISPLAY=1, few torch threads, data paths."""

import os
import tempfile
from pathlib import Path

import pytest

if os.environ.get("STRFVIEWER_TEST_DISPLAY") != "1":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Tests never write into the user's run history, settings or data folders.
_TEST_HOME = tempfile.mkdtemp(prefix="strfviewer-tests-")
for _var, _sub in (("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config")):
    os.environ[_var] = os.path.join(_TEST_HOME, _sub)
os.environ["STRFVIEWER_HISTORY"] = os.path.join(_TEST_HOME, "data", "strfviewer", "runs.sqlite")

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


@pytest.fixture(autouse=True)
def _collect_qt_garbage_in_the_main_thread(request):
    """After a Qt test, collect cycles here (GUI thread), never later from some worker thread (deadlock)."""
    yield
    if "qtbot" in request.fixturenames or "qapp" in request.fixturenames:
        import gc

        gc.collect()


def pytest_sessionfinish(session, exitstatus):
    """Delete what Qt objects the tests left (closed windows' widgets, plots never placed) in a safe order while
    Python is whole: PySide's own clean-up at interpreter exit destroys them in no fixed order and can crash
    (``strfviewer.gui.window.teardown``), which would turn a green run into a SIGSEGV exit."""
    import sys

    if "PySide6.QtWidgets" not in sys.modules:
        return
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is not None:
        from strfviewer.gui.window.teardown import delete_qt_objects

        delete_qt_objects(app)
