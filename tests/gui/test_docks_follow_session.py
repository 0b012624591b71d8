"""Every dock follows the current dataset and model (issue 15, item 1).

After File > Open of other data and the quick ridge fit, the Listening and Dream docks must offer their actions
for the new model (its weights arrive after the run became current, as a ``results`` change) and nothing
computed on the previous dataset may stay playable, saveable or exportable. The docks of the feature packs
subscribe through :meth:`QtSession.follow`, the one mechanism (checked on the sources too).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QSettings  # noqa: E402

from strfviewer.gui.main_window import MainWindow  # noqa: E402
from strfviewer.session import Session  # noqa: E402

from .conftest import make_dataset  # noqa: E402

STRFLAB = Path("/work/shared/data/strflab-auditory")
TIMEOUT_MS = 60000


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(session=Session(make_dataset()), settings=settings)
    qtbot.addWidget(win)
    yield win
    win.fitting.queue.cancel_all()
    win.worker_pool.shutdown(20000)


def _quick_fit(qtbot, window):
    window.quick_fit()
    qtbot.waitUntil(lambda: window.session.current_run is not None and window.session.current_run.status == "done",
                    timeout=TIMEOUT_MS)


def _open(qtbot, window, path):
    before = window.session.dataset
    window.open_data(str(path), then=window.quick_fit)
    qtbot.waitUntil(lambda: window.session.dataset is not before, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.session.current_run is not None and window.session.current_run.status == "done",
                    timeout=TIMEOUT_MS)


def _check_docks_follow(window):
    listening, dreaming, exporting = window.listening, window.dreaming, window.exporting
    p = listening.panel
    assert p.compute_button.isEnabled(), p.compute_button.toolTip()
    assert "no model" not in p.compute_button.toolTip()
    # the previous dataset's model sound is gone: not playable, not saveable, not exported
    assert "model" not in listening.sounds
    assert not p.play_model_button.isEnabled() and not p.save_model_button.isEnabled()
    assert p.wave_curve.getData()[0] is None or len(p.wave_curve.getData()[0]) == 0
    assert "sound:model" not in exporting.targets()
    # the dream dock offers a dream of the new model, and the old dream's exports are off
    assert dreaming.action.isEnabled() and dreaming.panel.start_button.isEnabled()
    assert dreaming.result is None
    assert not dreaming.panel.export_npz_button.isEnabled()


def _first_dataset_with_a_model_sound(qtbot, window):
    _quick_fit(qtbot, window)
    assert window.listening.panel.compute_button.isEnabled()
    samples = np.sin(np.linspace(0, 100, 8000)).astype(np.float32)
    window.listening.set_sound("model", "sonified gradmap of unit_c", samples, 8000)
    window.listening.show_model_sound(samples, 8000, None)
    window.dreaming.panel.steps_spin.setValue(3)
    window.dreaming.start()  # a dream of the first model
    qtbot.waitUntil(lambda: window.dreaming.result is not None, timeout=TIMEOUT_MS)
    assert window.dreaming.panel.export_npz_button.isEnabled()
    assert window.listening.panel.save_model_button.isEnabled()


def test_docks_follow_other_data_opened_and_its_quick_fit(qtbot, window, tmp_path):
    from strfviewer.data.npz import save_npz

    _first_dataset_with_a_model_sound(qtbot, window)
    other = make_dataset(seed=1, n_neurons=3, name="other")
    path = tmp_path / "other.npz"
    save_npz(other, path)
    _open(qtbot, window, path)
    assert window.session.dataset.n_neurons == 3
    _check_docks_follow(window)


@pytest.mark.skipif(not STRFLAB.exists(), reason=f"the STRFlab cell is not at {STRFLAB}")
def test_docks_follow_the_strflab_cell(qtbot, window):
    _first_dataset_with_a_model_sound(qtbot, window)
    _open(qtbot, window, STRFLAB)
    _check_docks_follow(window)


def test_feature_packs_subscribe_through_follow_only():
    """No feature pack connects to the session's signals or subscribes to the plain session itself."""
    gui = Path(__file__).resolve().parents[2] / "strfviewer" / "gui"
    direct = re.compile(r"\b(datasetChanged|runsChanged|currentRunChanged|compareRunChanged|neuronChanged|"
                        r"stimulusChanged|resultsChanged)\b|session\.subscribe\(")
    offenders = []
    for path in gui.rglob("*.py"):
        if path.name == "qt_session.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if direct.search(line):
                offenders.append(f"{path.relative_to(gui)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
