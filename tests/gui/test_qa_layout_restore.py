"""QA: the dock layout of a later start is the saved one, feature packs' docks included. The saved state used to
be applied before the feature packs added their docks, so from the second start on the Training, Runs,
Listening, Dream and Run history docks sat side by side (not tabbed) and made the window wider than the screen."""

from PySide6.QtCore import Qt

from strfviewer.gui.main_window import MainWindow
from strfviewer.session import Session

from .conftest import make_dataset


def _tab_group(win, key):
    dock = win.docks[key]
    return {key} | {k for k, d in win.docks.items() if d in win.tabifiedDockWidgets(dock)}


def _in_front(win, key):
    """The dock is the current tab of its group (a tabbed dock behind others still reports isVisible())."""
    win.grab()
    return not win.docks[key].visibleRegion().isEmpty()


def _shown_window(qtbot, settings, ds, size=None):
    win = MainWindow(session=Session(ds), settings=settings)
    qtbot.addWidget(win)
    if size:
        win.resize(*size)
    win.show()
    qtbot.wait(50)
    return win


def test_feature_docks_stay_tabbed_after_a_restart(qtbot, settings):
    ds = make_dataset()
    first = _shown_window(qtbot, settings, ds, (1200, 800))
    group = _tab_group(first, "training_dock")
    assert {"runs_dock", "listening_dock"} <= group  # the default layout: one tabbed group at the bottom
    first.docks["runs_dock"].raise_()
    first.close()

    again = _shown_window(qtbot, settings, ds)
    assert _tab_group(again, "training_dock") == group
    assert again.dockWidgetArea(again.docks["runs_dock"]) == Qt.BottomDockWidgetArea
    assert again.width() <= 1200 and again.height() <= 800
    again.close()


def test_default_layout_shows_the_runs_tab_and_a_fit_brings_training_forward(qtbot, settings):
    from .conftest import make_run

    ds = make_dataset()
    win = _shown_window(qtbot, settings, ds, (1200, 800))
    assert _in_front(win, "runs_dock") and not _in_front(win, "training_dock")
    run = make_run(ds)
    win.fitting._on_fit_started(run)  # what the fit queue's fit_started signal calls
    qtbot.waitUntil(lambda: _in_front(win, "training_dock"), timeout=3000)
    assert not _in_front(win, "runs_dock")
    win.close()
