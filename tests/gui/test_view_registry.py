"""Extension points of the app: a view is one new file (registered), a feature pack is one new folder.

The throwaway view is written at test time as a new module of ``strfviewer.gui.views`` (in a temporary folder
added to that package's path, so no file of the repository changes); the window must list it in View, keep it
following the selection through the Qt session's signals (debounced) and offer it in File > Export.
"""

from __future__ import annotations

import sys
import textwrap

import pytest

pytest.importorskip("pytestqt")

import strfviewer.gui.views as views_package  # noqa: E402
from strfviewer.gui.views import registry  # noqa: E402
from strfviewer.gui.views.registry import ViewSpec  # noqa: E402
from strfviewer.gui.window import feature_packs  # noqa: E402

THROWAWAY = "throwaway_trial_count_view"

#: the one new file a contributor writes: a view plus its registration
THROWAWAY_SOURCE = '''
"""Trials of the selected neuron on the selected stimulus (a throwaway view of the registry test)."""

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from strfviewer.gui.views.registry import ViewSpec, register_view


class TrialCountView(QWidget):
    def __init__(self, session):
        super().__init__()
        self.session = session
        self.plot = pg.PlotWidget()
        self.plot.setLabel("left", "spikes per trial")
        self.curve = self.plot.plot()
        self.shown = None  # (neuron, stimulus) drawn last
        self.redraws = 0
        QVBoxLayout(self).addWidget(self.plot)

    def plot_widgets(self):
        return [self.plot]

    def redraw(self):
        self.redraws += 1
        stim = self.session.stimulus_obj()
        if stim is None:
            return
        counts = np.nansum(stim.responses[self.session.neuron], axis=1)  # (R,)
        self.curve.setData(np.arange(1, len(counts) + 1), counts)
        self.shown = (self.session.neuron, stim.name)


register_view(ViewSpec("trial_counts", "Trial counts", lambda window: TrialCountView(window.session),
                       area="right", depends=("dataset", "neuron", "stimulus"), exportable=True))
'''


@pytest.fixture
def throwaway_view(tmp_path, monkeypatch):
    """The throwaway view's module, found by the registry's discovery of ``strfviewer.gui.views``."""
    (tmp_path / f"{THROWAWAY}.py").write_text(textwrap.dedent(THROWAWAY_SOURCE), encoding="utf-8")
    monkeypatch.setattr(views_package, "__path__", list(views_package.__path__) + [str(tmp_path)])
    yield "trial_counts"
    registry.unregister_view("trial_counts")
    sys.modules.pop(f"strfviewer.gui.views.{THROWAWAY}", None)


def test_a_view_in_one_new_file_is_listed_follows_the_selection_and_is_exported(throwaway_view, qtbot, settings,
                                                                               dataset, tmp_path):
    from strfviewer.gui.exporting import feature as exporting
    from strfviewer.gui.main_window import MainWindow
    from strfviewer.session import Session

    session = Session(dataset)
    win = MainWindow(session=session, settings=settings, install_features=False)
    qtbot.addWidget(win)
    feature = exporting.install(win)
    win.show()
    view = win.views[throwaway_view]
    assert win.view_specs[throwaway_view].title == "Trial counts"

    # View menu: the dock's toggle
    titles = [a.text() for a in win.menu("View").actions()]
    assert "Trial counts" in titles
    assert win.docks[throwaway_view].widget() is view

    # follows the selection (debounced: three changes, one redraw)
    qtbot.waitUntil(lambda: view.shown == (session.neuron, session.stimulus), timeout=5000)
    before = view.redraws
    session.select_neuron(3)
    session.select_stimulus(dataset.stimuli[2].name)
    session.select_neuron(4)
    win.redraw_now()
    assert view.shown == (4, dataset.stimuli[2].name)
    assert view.redraws == before + 1
    x, y = view.curve.getData()
    assert list(y) == list(dataset.stimuli[2].responses[4].sum(axis=1))

    # File > Export offers it, and writes it
    assert feature.targets()["view:trial_counts"] == "Trial counts view"
    dialog = feature.open_dialog("view:trial_counts")
    qtbot.addWidget(dialog)
    assert dialog.target == "view:trial_counts"
    path = feature.export("view:trial_counts", tmp_path / "trials.png", dpi=96)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    win.close()


def test_views_of_the_window_come_from_the_registry_in_order(window):
    names = [s.name for s in registry.view_specs()]
    assert names[:5] == ["spectrogram", "psth", "gradmap", "neurons", "stimuli"]
    assert list(window.views) == names
    exportable = [s.name for s in registry.view_specs() if s.exportable]
    assert exportable[:3] == ["spectrogram", "psth", "gradmap"]
    assert {"tuning", "dstrf", "compare", "population"} <= set(exportable)  # the findings views (issue 16)
    assert "filters" in exportable  # the learned filterbank (issue 12)
    # time views share one time axis
    assert window.views["psth"].plot.getViewBox().linkedView(0) is window.views["spectrogram"].plot.getViewBox()


def test_a_central_view_can_be_hidden_from_the_view_menu(window):
    action = window.actions["view_gradmap"]
    assert action.isChecked()
    action.setChecked(False)
    assert not window.views["gradmap"].isVisible()
    window.reset_layout()
    assert window.views["gradmap"].isVisible()


def test_geometry_dump_lists_every_visible_view(window, tmp_path):
    import json

    from strfviewer.gui.app import write_view_geometry

    write_view_geometry(window, str(tmp_path / "geometry.json"))
    rects = json.loads((tmp_path / "geometry.json").read_text())
    assert set(rects) == set(window.views)
    assert all(w > 0 and h > 0 for _x, _y, w, h in rects.values())


def test_bad_view_specs_are_refused_with_the_reason():
    make = lambda window: None  # noqa: E731
    with pytest.raises(ValueError, match="unknown dependency 'selection'"):
        ViewSpec("bad", "Bad", make, depends=("selection",))
    with pytest.raises(ValueError, match="area 'top'"):
        ViewSpec("bad", "Bad", make, area="top")
    with pytest.raises(ValueError, match="'on' handles 'runs'"):
        ViewSpec("bad", "Bad", make, depends=("dataset",), on={"runs": "reload"})
    with pytest.raises(ValueError, match="registered already"):
        registry.register_view(ViewSpec("psth", "Another PSTH", make))


def test_feature_packs_are_discovered_in_their_order(tmp_path, monkeypatch):
    import strfviewer.gui as gui_package

    assert [name for _o, name, _m in feature_packs.feature_modules()] == \
        ["fitting", "listening", "exporting", "dreaming", "history"]
    pack = tmp_path / "throwaway_pack"
    pack.mkdir()
    (pack / "__init__.py").write_text("INSTALL_ORDER = 35\n\ndef install(window):\n    window.throwaway = True\n",
                                      encoding="utf-8")
    monkeypatch.setattr(gui_package, "__path__", list(gui_package.__path__) + [str(tmp_path)])
    try:
        names = [name for _o, name, _m in feature_packs.feature_modules()]
        assert names == ["fitting", "listening", "exporting", "throwaway_pack", "dreaming", "history"]
    finally:
        sys.modules.pop("strfviewer.gui.throwaway_pack", None)
