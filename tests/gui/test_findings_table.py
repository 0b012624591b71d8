"""Neuron table: the current run's tuning columns (computed in a worker), hidden until asked for, sortable."""

import numpy as np
import torch
from PySide6.QtCore import Qt

from strfviewer.gui.main_window import MainWindow
from strfviewer.gui.views.neuron_table import TUNING_COLUMNS
from strfviewer.session import Session

from .conftest import make_dataset, make_run

#: band of neuron i's excitatory blob: neurons 0..5 peak at these bands (not in neuron order)
PEAK_BANDS = [5, 1, 6, 3, 2, 4]


def planted_run(dataset, name="planted"):
    """A Linear run whose kernel of neuron i is a positive blob at band PEAK_BANDS[i], lag 1 frame."""
    from strfviewer.models.kernels import strf_kernel_of

    run = make_run(dataset, name=name)
    N, F, T = dataset.n_neurons, dataset.n_freqs, 5
    w = np.zeros((N, 1, F, T), dtype=np.float32)
    for n, band in enumerate(PEAK_BANDS[:N]):
        w[n, 0, band, T - 2] = 1.0
        w[n, 0, band - 1, T - 2] = w[n, 0, band + 1, T - 2] = 0.5  # symmetric: the refined peak stays on the band
    with torch.no_grad():
        strf_kernel_of(run.model).weight.copy_(torch.from_numpy(w))
    return run


def findings_window(qtbot, settings, run_factory=planted_run):
    """A window (no feature packs) on the synthetic dataset with the run ``run_factory(dataset)``."""
    ds = make_dataset()
    session = Session(ds)
    session.add_run(run_factory(ds))
    win = MainWindow(session=session, settings=settings, install_features=False)
    qtbot.addWidget(win)
    win.show()
    return win


def test_tuning_columns_are_hidden_until_asked_then_filled_and_sortable(qtbot, settings):
    win = findings_window(qtbot, settings)
    view = win.views["neurons"]
    header = view.table.horizontalHeader()
    columns = view.tuning_columns()
    assert all(header.isSectionHidden(c) for c in columns)  # the default table keeps its width
    assert not header.isSectionHidden(columns[0] - 1)  # the run's cc_norm column is shown
    qtbot.waitUntil(lambda: view.model.tuning is not None, timeout=10000)  # computed when the run arrived
    view.tuning_button.setChecked(True)
    assert not any(header.isSectionHidden(c) for c in columns)
    bf = columns[0]
    assert view.model.headerData(bf, Qt.Horizontal) == "BF\nkHz"
    freqs = win.session.dataset.freqs_hz
    shown = [view.model.value(n, bf) for n in range(len(PEAK_BANDS))]
    np.testing.assert_allclose(shown, [freqs[b] / 1000 for b in PEAK_BANDS], rtol=1e-6)
    assert view.model.index(0, bf).data() == f"{freqs[PEAK_BANDS[0]] / 1000:.2f}"
    # latency: the blob sits one frame (5 ms) before the current one, alone: onset between 0 and 5 ms
    lat = view.model.value(0, columns[2])
    assert 0 < lat <= 5.0
    # sorting by BF orders neurons by their planted band
    view.table.sortByColumn(bf, Qt.AscendingOrder)
    order = [view.source_row_at(r) for r in range(view.proxy.rowCount())]
    assert order == list(np.argsort(PEAK_BANDS))
    win.close()


def test_header_menu_shows_one_column_and_hides_them_all(qtbot, settings):
    win = findings_window(qtbot, settings)
    view = win.views["neurons"]
    header = view.table.horizontalHeader()
    menu = view.header_menu()
    actions = [a for a in menu.actions() if not a.isSeparator()]
    assert len(actions) == 1 + len(TUNING_COLUMNS)
    actions[4].setChecked(True)  # separability
    shown = [c for c in view.tuning_columns() if not header.isSectionHidden(c)]
    assert [view.model.headerData(c, Qt.Horizontal) for c in shown] == ["sep"]
    assert view.tuning_button.isChecked()
    view.tuning_button.setChecked(False)
    assert all(header.isSectionHidden(c) for c in view.tuning_columns())
    # a second run added: the tuning columns stay last and keep their state
    view.set_tuning_columns(True, ["bandwidth_oct"])
    win.session.add_run(make_run(win.session.dataset, name="other", seed=3), make_current=False)
    assert view.model.headerData(view.model.first_tuning_column - 1, Qt.Horizontal) == "cc_norm\nother"
    shown = [c for c in view.tuning_columns() if not header.isSectionHidden(c)]
    assert [view.model.headerData(c, Qt.Horizontal) for c in shown] == ["bw\noct"]
    win.close()


def test_tuning_follows_the_current_run(qtbot, settings):
    win = findings_window(qtbot, settings)
    view = win.views["neurons"]
    qtbot.waitUntil(lambda: view.model.tuning is not None, timeout=10000)
    first = view.model.tuning
    other = win.session.add_run(make_run(win.session.dataset, name="random", seed=4))
    win.session.set_current_run(other)
    qtbot.waitUntil(lambda: view.model.tuning is not None and view.model.tuning is not first, timeout=10000)
    assert other.cache[("tuning", "kernel")] is view.model.tuning
    win.close()
