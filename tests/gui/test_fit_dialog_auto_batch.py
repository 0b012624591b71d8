"""The fit dialog offers the automatic batch size (the engine's default) as 'auto' and remembers it."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QSettings  # noqa: E402

from strfviewer.gui.fitting.fit_dialog import FitDialog  # noqa: E402


def test_batch_size_auto_and_back(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    dialog = FitDialog(settings=settings)
    qtbot.addWidget(dialog)
    box = dialog.training_editors["batch_size"].editor
    assert box.text() == "auto" and dialog.fit_request().batch_size is None
    box.setValue(3)
    assert dialog.fit_request().batch_size == 3
    dialog.save_settings()
    again = FitDialog(settings=settings)
    qtbot.addWidget(again)
    assert again.fit_request().batch_size == 3
    box.setValue(0)
    dialog.save_settings()
    third = FitDialog(settings=settings)
    qtbot.addWidget(third)
    assert third.fit_request().batch_size is None and third.training_editors["batch_size"].editor.text() == "auto"


def test_learning_rate_auto_is_the_familys(qtbot):
    dialog = FitDialog()
    qtbot.addWidget(dialog)
    box = dialog.training_editors["lr"].editor
    assert box.text() == "auto" and dialog.fit_request().lr is None
    box.stepUp()
    assert dialog.fit_request().lr == pytest.approx(1e-4)
    box.setValue(0.002)
    assert dialog.fit_request().lr == pytest.approx(0.002)
