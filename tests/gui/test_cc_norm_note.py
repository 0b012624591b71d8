"""cc_norm above 1 (finite-trial noise ceiling) is marked and explained where the tables show it."""

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from strfviewer.fit.metrics import NeuronMetrics  # noqa: E402


def test_tables_mark_and_explain_cc_norm_above_one(qtbot):
    from PySide6.QtCore import Qt

    from strfviewer.data import make_demo
    from strfviewer.gui.fitting.runs_table import COLUMNS, RunsTableModel
    from strfviewer.gui.views.neuron_table import FIXED_COLUMNS, NeuronTableModel
    from strfviewer.session import Run, Session

    dataset = make_demo(n_neurons=2, n_stimuli=4).dataset
    session = Session(dataset)
    values = np.array([1.016, 0.5])
    metrics = {"test": NeuronMetrics(cc=values, cc_max=np.ones(2), cc_norm=values)}
    run = session.add_run(Run(name="LN", metrics=metrics, status="done"), make_current=True)
    table = NeuronTableModel(session)
    table.reload()
    col = len(FIXED_COLUMNS)
    assert table.data(table.index(0, col)) == "1.016*" and table.data(table.index(1, col)) == "0.500"
    assert "finite number of trials" in table.data(table.index(0, col), Qt.ToolTipRole)
    assert "finite number of trials" not in (table.data(table.index(1, col), Qt.ToolTipRole) or "")
    runs = RunsTableModel(session)
    cell = runs.index(runs.row_of(run), COLUMNS.index("Test cc_norm"))
    assert runs.data(cell) == "0.758"
    values[1] = 1.2  # mean 1.108
    assert runs.data(cell) == "1.108*" and "finite number of trials" in runs.data(cell, Qt.ToolTipRole)
