"""Runs that share a name are told apart by the settings that differ, and the user can rename a run (F2, the
context menu), undoably (issue 15, item 8, app part)."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QAbstractItemView, QLineEdit  # noqa: E402

from strfviewer.gui.fitting.runs_table import COLUMNS, RunsPanel  # noqa: E402
from strfviewer.gui.main_window import MainWindow  # noqa: E402
from strfviewer.models.factory import ModelSpec  # noqa: E402
from strfviewer.session import Session  # noqa: E402

from .conftest import make_dataset, make_run  # noqa: E402


def _namesakes(ds):
    """Two runs named like the app names StateNet fits, differing only in their hidden size."""
    session = Session(ds)
    a, b = make_run(ds, name="StateNet(GRU)"), make_run(ds, name="StateNet(GRU)", seed=1)
    a.spec = ModelSpec(family="StateNet", rnn_type="GRU", hyper={"hidden_size": 7})
    b.spec = ModelSpec(family="StateNet", rnn_type="GRU", hyper={"hidden_size": 32})
    session.add_run(a)
    session.add_run(b)
    return session, a, b


def _run_column(panel):
    column = COLUMNS.index("Run")
    return [panel.proxy.index(row, column).data() for row in range(panel.proxy.rowCount())]


def test_session_labels_name_runs_by_what_differs():
    ds = make_dataset()
    session, a, b = _namesakes(ds)
    labels = session.run_labels()
    assert labels[a.id] == "StateNet(GRU) (hidden_size=7)"
    assert labels[b.id] == "StateNet(GRU) (hidden_size=32)"
    # identical settings: told apart by their ids
    c, d = make_run(ds, name="lin"), make_run(ds, name="lin")
    session.add_run(c)
    session.add_run(d)
    assert session.run_label(c) == f"lin (#{c.id})" and session.run_label(d) == f"lin (#{d.id})"
    # a unique name is shown as it is
    session.rename_run(d, "mine")
    assert session.run_label(c) == "lin" and session.run_label(d) == "mine"
    with pytest.raises(ValueError, match="empty"):
        session.rename_run(c, "  ")


def test_runs_table_and_neuron_headers_tell_namesakes_apart(qtbot, settings):
    ds = make_dataset()
    session, a, b = _namesakes(ds)
    session.set_compare_run(b)
    win = MainWindow(session=session, settings=settings, install_features=False)
    qtbot.addWidget(win)
    panel = RunsPanel(win.qt_session)
    qtbot.addWidget(panel)
    assert sorted(_run_column(panel)) == ["StateNet(GRU) (hidden_size=32)", "StateNet(GRU) (hidden_size=7)"]
    view = win.views["neurons"]
    view.reload() if hasattr(view, "reload") else win.redraw_now()
    model = view.proxy
    headers = [str(model.headerData(c, Qt.Horizontal, Qt.DisplayRole)) for c in range(model.columnCount())]
    runs = [h.replace("\n", " ") for h in headers if h.startswith("cc_norm")]
    assert len(runs) == 2 and any("hidden_size=7" in h for h in runs) and any("hidden_size=32" in h for h in runs)
    win.close()


def test_f2_renames_a_run_and_undo_brings_the_name_back(qtbot):
    ds = make_dataset()
    session, a, b = _namesakes(ds)
    panel = RunsPanel(session)
    qtbot.addWidget(panel)
    panel.show()
    panel.select_run(a)
    panel.table.setFocus()
    qtbot.keyClick(panel.table, Qt.Key_F2)
    assert panel.table.state() == QAbstractItemView.State.EditingState
    editor = panel.table.indexWidget(panel.table.currentIndex())
    assert isinstance(editor, QLineEdit) and editor.text() == "StateNet(GRU)"  # the name, not the label
    editor.setText("GRU 7 channels")
    qtbot.keyClick(editor, Qt.Key_Return)
    qtbot.waitUntil(lambda: a.name == "GRU 7 channels", timeout=2000)  # the delegate commits in a queued call
    assert sorted(_run_column(panel)) == ["GRU 7 channels", "StateNet(GRU)"]  # no namesake left
    panel.undo_stack.undo()
    assert a.name == "StateNet(GRU)"
    assert "StateNet(GRU) (hidden_size=7)" in _run_column(panel)
    panel.undo_stack.redo()
    assert a.name == "GRU 7 channels"


def test_context_menu_rename_edits_the_run_column(qtbot):
    ds = make_dataset()
    session, a, b = _namesakes(ds)
    panel = RunsPanel(session)
    qtbot.addWidget(panel)
    panel.show()
    panel.select_run(b)
    assert panel.rename_action.isEnabled()
    panel.rename_action.trigger()
    assert panel.table.state() == QAbstractItemView.State.EditingState
    assert COLUMNS[panel.table.currentIndex().column()] == "Run"
    # an empty name is refused, nothing pushed on the undo stack
    panel.rename(b, "   ")
    assert b.name == "StateNet(GRU)" and panel.undo_stack.count() == 0
