"""The app shows each neuron's own best epoch: the neuron table's run cells and the runs table's Epochs column."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from strfviewer.fit.fitter import FitHistory  # noqa: E402
from strfviewer.fit.metrics import NeuronMetrics  # noqa: E402
from strfviewer.gui.fitting.runs_table import COLUMNS, RunsPanel  # noqa: E402
from strfviewer.gui.views.neuron_table import FIXED_COLUMNS, NeuronTableModel  # noqa: E402
from strfviewer.models import factory  # noqa: E402
from strfviewer.session import Run, Session  # noqa: E402

from tests.gui.conftest import make_dataset  # noqa: E402


class _Outcome:
    def __init__(self, history):
        self.history = history


def _run(dataset, epochs_per_neuron, name="lin"):
    spec = factory.ModelSpec("Linear", T=5)
    n = dataset.n_neurons
    cc = np.linspace(0.2, 0.7, n)
    history = FitHistory(best_epoch_per_neuron=epochs_per_neuron)
    history.epochs = []
    return Run(name=name, spec=spec, model=factory.build_model(spec, dataset.n_freqs, n), outcome=_Outcome(history),
               metrics={"test": NeuronMetrics(cc=cc, cc_max=np.ones(n), cc_norm=cc)}, status="done")


def test_neuron_table_tooltip_names_each_neurons_epoch(qtbot):
    dataset = make_dataset()
    session = Session(dataset)
    epochs = [3, 7, None] + [5] * (dataset.n_neurons - 3)
    session.add_run(_run(dataset, epochs))
    model = NeuronTableModel(session)
    model.reload()
    column = len(FIXED_COLUMNS)
    tip = model.data(model.index(1, column), role=3)  # Qt.ToolTipRole
    assert "epoch 7" in tip and "0.300" in tip
    assert "population's best epoch" in model.data(model.index(2, column), role=3)


def test_runs_table_says_the_epochs_are_per_neuron(qtbot):
    dataset = make_dataset()
    session = Session(dataset)
    run = session.add_run(_run(dataset, [3, 7, None, 5, 5, 12]))
    plain = session.add_run(Run(name="nrf", spec=factory.ModelSpec("NetworkReceptiveField", T=5), status="done",
                                outcome=_Outcome(FitHistory())))
    panel = RunsPanel(session)
    qtbot.addWidget(panel)
    col = COLUMNS.index("Epochs")
    row = panel.model.row_of(run)
    assert panel.model.data(panel.model.index(row, col)).endswith("(per neuron)")
    tip = panel.model.data(panel.model.index(row, col), role=3)
    assert "3 to 12" in tip
    assert "per neuron" not in panel.model.data(panel.model.index(panel.model.row_of(plain), col))
