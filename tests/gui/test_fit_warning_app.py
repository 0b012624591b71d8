"""In the app, a fit that ended below its own starting score is 'warning' in the runs table, the training
panel and the run history, with the reason."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QSettings  # noqa: E402

from strfviewer.data import load  # noqa: E402
from strfviewer.fit.run import FitRequest  # noqa: E402
from strfviewer.gui.fitting.runs_table import COLUMNS  # noqa: E402
from strfviewer.gui.main_window import MainWindow  # noqa: E402
from strfviewer.models.factory import ModelSpec  # noqa: E402
from strfviewer.session import Session  # noqa: E402


def test_a_fit_that_got_worse_ends_as_warning(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("STRFVIEWER_HISTORY", str(tmp_path / "runs.sqlite"))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(session=Session(load("demo")), settings=settings)
    qtbot.addWidget(win)
    feature = win.fitting
    feature.queue.isolation = "thread"
    # lr 0.3 throws a cold NRF off its random start: no epoch beats it (see tests/test_fit_outcome_warnings.py)
    feature.submit(FitRequest(spec=ModelSpec("NetworkReceptiveField", T=9), epochs=2, lr=0.3, warm_start=False,
                              num_threads=1, device="cpu"))
    qtbot.waitUntil(lambda: not feature.queue.busy and not feature.queue.pending, timeout=60000)
    run = win.session.runs[-1]
    assert run.status == "warning" and "did not learn" in run.message
    model = feature.runs_panel.model
    row = model.row_of(run)
    assert model.display(run, "Status") == "warning"
    assert "did not learn" in model.data(model.index(row, COLUMNS.index("Status")), role=3)  # tooltip
    panel = feature.training_panel
    assert panel.title.text().startswith("Finished with a warning") and "did not learn" in panel.status_label.text()
    from strfviewer.runs.history import RunHistory

    path = win.run_history.path
    assert str(path).startswith(str(tmp_path))

    def recorded():
        history = RunHistory(path)
        try:
            rows = [r for r in history.runs() if r.status != "running"]
        finally:
            history.close()
        return rows[-1] if rows else None

    qtbot.waitUntil(lambda: recorded() is not None, timeout=20000)
    row = recorded()
    assert row.status == "warning" and "did not learn" in row.error
    feature.queue.cancel_all()
    win.worker_pool.shutdown(20000)
