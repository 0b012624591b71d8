"""QA of the neuron and stimulus tables: Home / End go to the first / last row, a long neuron name no longer
pushes the cc_norm column out of the dock, the status line says '1 neuron'."""

import numpy as np
from PySide6.QtCore import Qt

from strfviewer.gui.main_window import MainWindow
from strfviewer.session import Session

from .conftest import make_dataset, make_run


def test_home_end_select_first_and_last_rows(qtbot, window):
    s = window.session
    table = window.views["neurons"].table
    table.setFocus()
    qtbot.keyClick(table, Qt.Key_End)
    assert s.neuron == window.views["neurons"].source_row_at(table.model().rowCount() - 1)
    qtbot.keyClick(table, Qt.Key_Home)
    assert s.neuron == window.views["neurons"].source_row_at(0)
    stimuli = window.views["stimuli"].table
    qtbot.keyClick(stimuli, Qt.Key_End)
    assert s.stimulus == s.dataset.stimuli[-1].name
    qtbot.keyClick(stimuli, Qt.Key_Home)
    assert s.stimulus == s.dataset.stimuli[0].name


def test_long_neuron_name_keeps_cc_norm_in_view(qtbot, settings):
    ds = make_dataset(n_neurons=1, name="strflab-auditory")
    ds.neuron_names[0] = "strflab-auditory-cell-with-a-long-folder-name"
    session = Session(ds)
    session.add_run(make_run(ds, name="Linear ridge"))
    win = MainWindow(session=session, settings=settings, install_features=False)
    qtbot.addWidget(win)
    win.resize(1440, 900)
    win.show()
    view = win.views["neurons"]
    win.resizeDocks([win.docks["neurons"]], [360], Qt.Horizontal)  # the app's default: a quarter of 1440 px
    qtbot.waitUntil(lambda: view.table.viewport().width() > 300, timeout=5000)
    view.refresh_results()
    header, last = view.table.horizontalHeader(), view.model.first_tuning_column - 1  # the last cc_norm column
    number = view.table.fontMetrics().horizontalAdvance("0.000")
    # the cc_norm number is in view without scrolling sideways
    assert header.sectionViewportPosition(last) + number <= view.table.viewport().width()
    assert view.proxy.index(0, 1).data(Qt.ToolTipRole) == ds.neuron_names[0]  # full name on hover
    assert "1 neuron," in session.dataset_summary() and "1 neurons" not in session.dataset_summary()
    win.close()


def test_run_headers_are_short_and_two_runs_fit_the_default_dock(qtbot, settings):
    from strfviewer.gui.views.neuron_table import header_name

    assert header_name("LinearNonlinear / AdapTrans") == "LN / AdapTrans"
    assert header_name("lin") == "lin" and header_name("Linear ridge") == "Linear ridge"
    assert all(len(line) <= 14 for line in header_name("StateNet(GRU) / separable / AdapTrans").split("\n"))
    ds = make_dataset(n_neurons=12)
    session = Session(ds)
    session.add_run(make_run(ds, name="Linear ridge"))
    session.add_run(make_run(ds, name="LinearNonlinear / AdapTrans", seed=1))
    win = MainWindow(session=session, settings=settings, install_features=False)
    qtbot.addWidget(win)
    win.resize(1440, 900)
    win.show()
    view = win.views["neurons"]
    win.arrange_docks()  # the default layout, sized for this window
    qtbot.waitUntil(lambda: view.table.viewport().width() > 300, timeout=5000)
    view.refresh_results()
    header, last = view.table.horizontalHeader(), view.model.first_tuning_column - 1  # the last cc_norm column
    number = view.table.fontMetrics().horizontalAdvance("0.000")
    # both runs' numbers in view without scrolling sideways
    assert header.sectionViewportPosition(last) + number <= view.table.viewport().width()
    tip = view.model.headerData(5, Qt.Horizontal, Qt.ToolTipRole)
    assert "LinearNonlinear / AdapTrans" in tip
    win.close()
