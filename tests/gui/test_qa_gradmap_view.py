"""QA of the gradmap view as a user sees it: legible colour bars, ON/OFF channels of equal width, notes that do
not widen the view, grid tiles each on their own scale with the selected tile framed."""

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics

from strfviewer.gui.main_window import MainWindow
from strfviewer.session import Session

from .conftest import make_dataset, make_run


def _window(qtbot, settings, run_factory):
    ds = make_dataset()
    session = Session(ds)
    session.add_run(run_factory(ds))
    win = MainWindow(session=session, settings=settings, install_features=False)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    g = win.views["gradmap"]
    qtbot.waitUntil(lambda: g.displayed is not None, timeout=10000)
    return win, g


def test_colour_bar_has_room_for_its_tick_labels(qtbot, settings):
    win, g = _window(qtbot, settings, make_run)
    axis = g.colorbar.axis
    lo, hi = -3e-4, 3e-4  # gradmaps of recurrent models are often this small: tick labels like "-0.0002"
    g.colorbar.setLevels((lo, hi))
    major = axis.tickValues(lo, hi, 300)[0][1]
    widest = max(QFontMetrics(win.font()).horizontalAdvance(t) for t in axis.tickStrings(major, 1, 1))
    assert widest > 45
    # pyqtgraph's colour bar axis is 45 px wide by default and silently drops the labels that do not fit (such a
    # bar showed only "0"); an auto-sized axis widens to the labels it draws
    qtbot.waitUntil(lambda: g.single.grab() is not None and axis.width() >= widest, timeout=3000)
    win.close()


def test_on_off_channels_share_the_width(qtbot, settings):
    win, g = _window(qtbot, settings, lambda ds: make_run(ds, prefilter="AdapTrans"))
    assert len(g.plots) == 2
    qtbot.waitUntil(lambda: g.plots[1].getViewBox().width() > 10, timeout=3000)
    on, off = (p.getViewBox().width() for p in g.plots)
    # the long "neuron — gradmap" title used to sit on the ON plot and squeeze OFF to a sliver
    assert 0.75 < off / on < 1.33
    assert "gradmap" in g.single_title.text and [p.titleLabel.text for p in g.plots] == ["ON", "OFF"]
    win.close()


def test_a_long_note_does_not_widen_the_view(qtbot, settings):
    win, g = _window(qtbot, settings, make_run)
    before = g.minimumSizeHint().width()
    g.busy.setText("all zero at the spectrogram (silence sits on the prefilter's ReLU kink): see its channels")
    assert g.busy.isVisible()
    assert g.minimumSizeHint().width() <= before
    g.busy.setText("")
    assert not g.busy.isVisible()
    win.close()


def _framed(g):
    """Neurons whose grid tile has a visible frame."""
    return [n for n, p in zip(g.grid_neurons, g.grid_plots)
            if p.getViewBox().border is not None and p.getViewBox().border.style() != Qt.PenStyle.NoPen]


def test_grid_tiles_each_on_their_own_scale_and_selected_tile_framed(qtbot, settings):
    win, g = _window(qtbot, settings, make_run)
    s = win.session
    win.actions["grid_mode"].trigger()
    win.redraw_now()
    assert len(g.grid_images) == s.dataset.n_neurons
    for img in g.grid_images:
        tile = img.image
        level = np.nanmax(np.abs(tile))
        np.testing.assert_allclose(img.levels, (-level, level), rtol=1e-6)
    framed = _framed(g)
    assert framed == [s.neuron]
    other = next(n for n in g.grid_neurons if n != s.neuron)
    s.select_neuron(other)
    win.redraw_now()
    framed = _framed(g)
    assert framed == [other]
    win.close()
