"""Population view (BF vs cc_norm, BF histogram, tuning map, best modulations) and File > Export of every
findings view as a figure and as CSV."""

import csv

import numpy as np

from strfviewer.gui.exporting import feature as exporting

from .conftest import make_run
from .test_feature_exporting import png_size
from .test_findings_gradmap import _show_dock
from .test_findings_table import PEAK_BANDS, findings_window

FINDINGS_VIEWS = ("tuning", "dstrf", "compare", "population")


def test_population_view_places_every_neuron_at_its_best_frequency(qtbot, settings):
    win = findings_window(qtbot, settings)
    s, ds = win.session, win.session.dataset
    _show_dock(qtbot, win, "population")
    view = win.views["population"]
    qtbot.waitUntil(lambda: view.tuning is not None, timeout=10000)
    x, y = view.bf_points.getData()
    order = np.argsort(view.bf_points.data["data"])
    np.testing.assert_allclose(10 ** x[order], ds.freqs_hz[PEAK_BANDS] / 1000, rtol=1e-6)
    np.testing.assert_allclose(y[order], s.current_run.neuron_values("cc_norm", "test"))
    _, counts = view.hist_curve.getData()
    assert counts.sum() == len(PEAK_BANDS)
    # the tuning map: neurons sorted by BF, each row peaking at its own band
    assert list(view.order) == list(np.argsort(PEAK_BANDS))
    assert list(np.argmax(view.map_image.image, axis=1)) == sorted(PEAK_BANDS)
    point = view.bf_points.points()[3]
    view.bf_points.sigClicked.emit(view.bf_points, [point], None)
    assert s.neuron == int(point.data())
    header, rows = view.csv_table()
    assert header[0] == "neuron" and "best_frequency_hz" in header and header[-1] == "cc_norm"
    assert len(rows) == ds.n_neurons
    win.close()


def test_every_findings_view_exports_a_figure_and_its_data(qtbot, settings, tmp_path):
    win = findings_window(qtbot, settings)
    s = win.session
    other = s.add_run(make_run(s.dataset, name="other", seed=7), make_current=False)
    s.set_compare_run(other)
    feature = exporting.install(win)
    for name in FINDINGS_VIEWS:
        _show_dock(qtbot, win, name)
        view = win.views[name]
        qtbot.waitUntil(lambda v=view: not v.note and not win.worker_pool.workers, timeout=20000)
        targets = feature.targets()
        assert f"view:{name}" in targets and f"table:{name}" in targets
        assert feature.kind(f"table:{name}") == "csv"
        png = feature.export(f"view:{name}", tmp_path / f"{name}.png", dpi=72)
        width, height = png_size(png)
        assert width > 100 and height > 50
        table = feature.export(f"table:{name}", tmp_path / f"{name}.csv")
        with open(table, newline="") as fh:
            rows = list(csv.reader(fh))
        assert len(rows) > 1 and rows[0] == view.csv_table()[0]
    win.close()
