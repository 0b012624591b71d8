"""The main window on a synthetic dataset: neuron browsing by click and keyboard, sorting, filtering, the
views showing the selected neuron's data, errors that keep the previous dataset, settings restored."""

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl

from strfviewer.gui.main_window import MainWindow
from strfviewer.session import Session

from .conftest import make_dataset, make_run


def _click_row(qtbot, table_view, row):
    index = table_view.model().index(row, 1)
    rect = table_view.visualRect(index)
    qtbot.mouseClick(table_view.viewport(), Qt.LeftButton, pos=rect.center())


def _drawn(win):
    win.redraw_now()
    return win


def test_public_api(window):
    assert set(window.views) >= {"spectrogram", "psth", "gradmap", "neurons", "stimuli"}
    for name in ("File", "View", "Fit", "Tools", "Help"):
        assert window.menu(name).title().replace("&", "") == name
    texts = [a.text().replace("&", "") for a in window.menu("File").actions()]
    for wanted in ("Open data folder...", "Save model...", "Export...", "Quit"):
        assert wanted in texts
    assert "Recent" in texts
    assert window.actions["open_data"].shortcut().matches(window.actions["open_data"].shortcut())
    for view in ("spectrogram", "psth", "gradmap"):
        assert window.views[view].plot_widgets()


def test_click_and_keyboard_select_neurons_and_every_view_follows(qtbot, window):
    s, table = window.session, window.views["neurons"].table
    _click_row(qtbot, table, 3)
    assert s.neuron == window.views["neurons"].source_row_at(3) == 3
    _drawn(window)
    stim = s.stimulus_obj()
    psth = window.views["psth"]
    x, y = psth.mean_curve.getData()
    np.testing.assert_allclose(y, np.nanmean(stim.responses[3], axis=0), rtol=1e-6)
    np.testing.assert_allclose(x, np.arange(stim.n_frames) * 5.0)
    run = s.current_run
    _, pred = psth.pred_curves[run.id].getData()
    np.testing.assert_allclose(pred, run.predictions[stim.name][3], rtol=1e-6)
    assert np.isfinite(psth.scores[run.id][0])
    assert "unit_b" in psth.info.text() and "cc_norm" in psth.info.text()

    from strfviewer.analysis.gradmaps import strf_gradmap

    expected = -strf_gradmap(run.model).numpy()[3]  # excitation positive by default
    np.testing.assert_allclose(window.views["gradmap"].displayed, expected, rtol=1e-5, atol=1e-7)

    table.setFocus()
    qtbot.keyClick(table, Qt.Key_Down)
    assert s.neuron == 4
    qtbot.keyClick(table, Qt.Key_Up)
    qtbot.keyClick(table, Qt.Key_Up)
    assert s.neuron == 2
    _drawn(window)
    np.testing.assert_allclose(window.views["gradmap"].displayed, -strf_gradmap(run.model).numpy()[2], rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(psth.mean_curve.getData()[1], np.nanmean(stim.responses[2], axis=0), rtol=1e-6)


def test_sorting_and_filtering_the_table(qtbot, window):
    view = window.views["neurons"]
    table, s = view.table, window.session
    table.sortByColumn(2, Qt.DescendingOrder)  # spikes: the synthetic neuron i fires ~(i+1) times neuron 0
    assert [view.source_row_at(r) for r in range(6)] == [5, 4, 3, 2, 1, 0]
    table.sortByColumn(1, Qt.AscendingOrder)
    names = [s.dataset.neuron_names[view.source_row_at(r)] for r in range(6)]
    assert names == sorted(names)
    _click_row(qtbot, table, 0)
    assert s.dataset.neuron_names[s.neuron] == "cell_e"
    # keyboard navigation follows the sorted order
    table.setFocus()
    qtbot.keyClick(table, Qt.Key_Down)
    assert s.dataset.neuron_names[s.neuron] == "cell_f"
    # cc_norm column of the run sorts by its numbers
    table.sortByColumn(4, Qt.DescendingOrder)
    values = s.current_run.neuron_values("cc_norm", "test")
    shown = [values[view.source_row_at(r)] for r in range(6)]
    finite = [v for v in shown if np.isfinite(v)]
    assert finite == sorted(finite, reverse=True)
    # filter by name
    qtbot.keyClicks(view.filter_edit, "unit")
    assert view.proxy.rowCount() == 4
    assert all(s.dataset.neuron_names[view.source_row_at(r)].startswith("unit") for r in range(4))


def test_raster_of_the_selected_neurons_trials(window):
    psth, s = window.views["psth"], window.session
    s.select_neuron(2)
    window.redraw_now()
    psth.raster_box.setChecked(True)
    assert psth.raster.isVisible()
    x, y = psth.raster_ticks.getData()
    resp = s.stimulus_obj().responses[2]
    trials, bins = np.nonzero(resp > 0)
    np.testing.assert_array_equal(y, trials + 1)
    np.testing.assert_allclose(x, bins * 5.0)


def test_raster_uses_spike_times_where_the_dataset_keeps_them(window):
    psth, s = window.views["psth"], window.session
    stim = s.stimulus_obj()
    times = [np.array([1.25, 7.0]), np.array([]), np.array([3.5])]
    stim.spike_times = [times if n == 2 else None for n in range(s.dataset.n_neurons)]
    s.select_neuron(2)
    window.redraw_now()
    psth.raster_box.setChecked(True)
    x, y = psth.raster_ticks.getData()
    np.testing.assert_allclose(x, [1.25, 7.0, 3.5])  # at the recorded times, not bin starts
    np.testing.assert_array_equal(y, [1, 1, 3])
    s.select_neuron(1)  # no times for this neuron: one tick per bin with spikes
    window.redraw_now()
    x, y = psth.raster_ticks.getData()
    trials, bins = np.nonzero(stim.responses[1] > 0)
    np.testing.assert_allclose(x, bins * 5.0)


def test_view_menu_steps_through_the_sorted_table(window):
    view, s = window.views["neurons"], window.session
    view.table.sortByColumn(2, Qt.DescendingOrder)
    s.select_neuron(5)
    window.actions["next_neuron"].trigger()
    assert s.neuron == 4
    window.actions["previous_neuron"].trigger()
    window.actions["previous_neuron"].trigger()
    assert s.neuron == 5  # stays at the top


def test_selecting_a_stimulus_redraws_spectrogram_and_psth(qtbot, window):
    s, stimuli = window.session, window.views["stimuli"]
    _click_row(qtbot, stimuli.table, 1)
    assert s.stimulus == "stim2"
    _drawn(window)
    spec_view = window.views["spectrogram"]
    np.testing.assert_array_equal(spec_view.image, s.dataset.stimulus("stim2").spec[0])
    np.testing.assert_array_equal(spec_view.item.image, s.dataset.stimulus("stim2").spec[0])
    rect = spec_view.item.mapRectToParent(spec_view.item.boundingRect())
    assert rect.width() == pytest.approx(60 * 5.0) and rect.height() == pytest.approx(8)
    assert "stim2 (train)" in spec_view.title
    window.actions["next_stimulus"].trigger()
    assert s.stimulus == "stim3"


def test_playhead_and_linked_time_axes(window):
    spec, psth = window.views["spectrogram"], window.views["psth"]
    spec.set_playhead(120.0)
    psth.set_playhead(120.0)
    assert spec.playhead.isVisible() and spec.playhead.value() == 120.0
    spec.plot.setXRange(50, 100, padding=0)
    lo, hi = psth.plot.getViewBox().viewRange()[0]
    assert lo == pytest.approx(50, abs=1e-6) and hi > lo  # pyqtgraph links by screen position: see below

    def screen_x(plot, t_ms):
        from PySide6.QtCore import QPointF

        scene = plot.getViewBox().mapViewToScene(QPointF(t_ms, 0))
        return plot.mapToGlobal(plot.mapFromScene(scene)).x()

    for t in (60.0, 90.0):  # the same time sits at the same screen column in both views
        assert abs(screen_x(spec.plot, t) - screen_x(psth.plot, t)) <= 2
    spec.set_playhead(None)
    assert not spec.playhead.isVisible()


def test_gradmap_sign_toggle_kernel_mode_and_readout(qtbot, window):
    from strfviewer.analysis.gradmaps import strf_gradmap

    g = window.views["gradmap"]
    run, n = window.session.current_run, window.session.neuron
    shown = g.displayed.copy()
    assert g.title() == "gradmap (last)"
    g.sign_box.setChecked(True)
    np.testing.assert_allclose(g.displayed, -shown)
    np.testing.assert_allclose(g.shown_maps()[n], -shown)
    assert g.title() == "gradmap (last, deepSTRF sign)"
    g.mode_box.setCurrentText("kernel STRF")
    np.testing.assert_allclose(g.displayed, run.model.readout.STRF_weight().detach().numpy()[n], rtol=1e-6)
    assert g.images[0].image.shape == (8, 5)  # (F, T) row-major
    g.mode_box.setCurrentText("gradmap")
    g.sign_box.setChecked(False)
    g.readout_box.setCurrentText("mean")
    qtbot.waitUntil(lambda: ("gradmap", "mean", False) in run.cache and not g.pending, timeout=10000)
    window.redraw_now()
    expected = -strf_gradmap(run.model, readout="mean").numpy()[n]
    np.testing.assert_allclose(g.displayed, expected, rtol=1e-5, atol=1e-7)
    lags = g.lags
    assert lags[-1] == 0 and lags[0] == -4 * 5.0


def test_adaptrans_channels_side_by_side(qtbot, settings):
    ds = make_dataset()
    session = Session(ds)
    session.add_run(make_run(ds, prefilter="AdapTrans"))
    win = MainWindow(session=session, settings=settings, install_features=False)
    qtbot.addWidget(win)
    g = win.views["gradmap"]
    qtbot.waitUntil(lambda: g.displayed is not None, timeout=10000)
    from strfviewer.analysis.gradmaps import strf_gradmap

    expected = -strf_gradmap(session.current_run.model, per_channel=True).numpy()[0]
    assert g.displayed.shape == expected.shape and expected.shape[:2] == (2, 8) and len(g.images) == 2
    np.testing.assert_allclose(g.displayed, expected, rtol=1e-5, atol=1e-7)
    lo, hi = g.plots[0].getViewBox().viewRange()[0]
    visible = min(expected.shape[-1], 20)  # at most max(2 T, 20) = 20 lags at first (T = 5 frames here)
    assert hi == pytest.approx(2.5) and lo == pytest.approx(-(visible - 1) * 5.0 - 2.5)
    assert [p.titleLabel.text for p in g.plots][1] == "OFF"
    assert g.per_channel(session.current_run.model) and g.cache_key(session.current_run)[2] is True
    np.testing.assert_allclose(g.shown_maps()[0], expected, rtol=1e-5, atol=1e-7)
    g.channels_box.setCurrentIndex(1)  # raw spectrogram
    qtbot.waitUntil(lambda: g.displayed is not None and g.displayed.shape[0] == 1, timeout=10000)
    if not np.any(g.displayed):  # AdapTrans' ReLU at silence: the view says why the map is blank
        assert "all zero" in g.busy.text()
    else:
        assert g.busy.text() == ""
    win.close()


def test_grid_mode_click_a_tile_selects_its_neuron(qtbot, window):
    g, s = window.views["gradmap"], window.session
    window.actions["grid_mode"].trigger()
    assert g.grid_box.isChecked() and g.stack.currentWidget() is g.grid
    assert len(g.grid_images) == 6
    values = s.current_run.neuron_values("cc_norm", "test")
    first = g.grid_neurons[0]
    assert values[first] == np.nanmax(values)
    qtbot.waitUntil(lambda: g.grid_plots[-1].sceneBoundingRect().width() > 10, timeout=5000)
    target_tile = 4
    scene_point = g.grid_plots[target_tile].sceneBoundingRect().center()
    view_point = g.grid.mapFromScene(scene_point)
    qtbot.mouseClick(g.grid.viewport(), Qt.LeftButton, pos=QPoint(view_point.x(), view_point.y()))
    qtbot.waitUntil(lambda: s.neuron == g.grid_neurons[target_tile], timeout=3000)
    np.testing.assert_array_equal(g.grid_images[target_tile].image.shape, (8, 5))


def test_compare_run_adds_a_trace_and_a_column(qtbot, window):
    s = window.session
    second = s.add_run(make_run(s.dataset, name="lin2", seed=1))
    s.set_compare_run(second)
    _drawn(window)
    psth = window.views["psth"]
    assert set(psth.pred_curves) == {s.current_run.id, second.id}
    model = window.views["neurons"].model
    headers = [model.headerData(c, Qt.Horizontal) for c in range(model.first_tuning_column)]
    assert headers[-2:] == ["cc_norm\nlin", "cc_norm\nlin2"]  # the run columns, before the tuning columns
    np.testing.assert_allclose(model.value(2, 5), second.neuron_values()[2])


def test_bad_folder_shows_an_error_and_keeps_the_dataset(qtbot, window, tmp_path):
    before = window.session.dataset
    bad = tmp_path / "not_a_recording"
    bad.mkdir()
    (bad / "notes.txt").write_text("nothing here")
    window.open_data(str(bad))
    qtbot.waitUntil(lambda: bool(window.errors), timeout=10000)
    title, message = window.errors[-1]
    assert title == "Could not open data" and str(bad) in message
    assert window.error_box is not None and window.error_box.isVisible()
    assert window.session.dataset is before
    window.open_data(str(tmp_path / "missing"))
    qtbot.waitUntil(lambda: len(window.errors) == 2, timeout=10000)
    assert "no such file" in window.errors[-1][1]
    assert window.session.dataset is before and window.views["spectrogram"].image is not None


def test_dropping_a_folder_opens_it(qtbot, window, tmp_path):
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QDropEvent

    bad = tmp_path / "dropped"
    bad.mkdir()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(bad))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: bool(window.errors), timeout=10000)
    assert str(bad) in window.errors[-1][1]


def test_model_for_other_data_is_refused(qtbot, window, tmp_path):
    from strfviewer.io.checkpoints import save_checkpoint

    other = make_dataset(n_neurons=3)
    folder = save_checkpoint(make_run(other).model, tmp_path / "ckpt")
    n_runs = len(window.session.runs)
    window.open_path(str(folder))
    qtbot.waitUntil(lambda: bool(window.errors), timeout=15000)
    assert "3 neurons" in window.errors[-1][1]
    assert len(window.session.runs) == n_runs


def test_save_and_reopen_model(qtbot, window, tmp_path):
    run = window.session.current_run
    folder = tmp_path / "saved"
    window.save_model(str(folder))
    qtbot.waitUntil(lambda: run.checkpoint_path is not None, timeout=15000)
    assert (folder / "config.json").is_file()
    window.open_path(str(folder))
    qtbot.waitUntil(lambda: len(window.session.runs) == 2, timeout=15000)
    reopened = window.session.current_run
    assert reopened is not run
    qtbot.waitUntil(lambda: reopened.get_predictions() is not None, timeout=15000)
    stim = window.session.stimulus
    np.testing.assert_allclose(reopened.get_predictions()[stim], run.predictions[stim], rtol=1e-4, atol=1e-5)
    assert window.settings().value("last/model") == str(folder)
    assert str(folder) in window.recent()
    qtbot.waitUntil(lambda: not window.worker_pool.workers, timeout=15000)
    # the busy messages do not outlive the work: "opening model ...…" stayed in the status bar
    message = window.statusBar().currentMessage()
    assert "opening model" not in message and "predicting" not in message, message
    assert "opened model" in message or "ready" in message, message


def test_opening_a_model_with_no_data_opens_its_dataset(qtbot, settings, tmp_path, dataset):
    from strfviewer.data import load, save_npz

    npz = tmp_path / "data.npz"
    save_npz(dataset, npz)
    data = load(str(npz))
    session = Session(data)
    run = session.add_run(make_run(data))
    first = MainWindow(session=session, settings=settings, install_features=False)
    qtbot.addWidget(first)
    first.save_model(str(tmp_path / "ckpt"))
    qtbot.waitUntil(lambda: run.checkpoint_path is not None, timeout=15000)
    first.close()

    win = MainWindow(settings=settings, install_features=False)
    qtbot.addWidget(win)
    win.open_path(str(tmp_path / "ckpt"))
    qtbot.waitUntil(lambda: win.session.current_run is not None
                    and win.session.current_run.get_predictions() is not None, timeout=20000)
    assert win.session.dataset.source == str(npz) and not win.errors
    stim = win.session.stimulus
    np.testing.assert_allclose(win.session.current_run.get_predictions()[stim], run.predictions[stim], rtol=1e-4,
                               atol=1e-5)
    win.close()


def test_layout_and_paths_restored_from_settings(qtbot, settings, dataset):
    win = MainWindow(session=Session(dataset), settings=settings, install_features=False)
    qtbot.addWidget(win)
    win.show()
    win.resize(1024, 660)  # the smallest width (restoreGeometry fits a window in the 800 x 600 offscreen screen)
    qtbot.wait(50)  # the first layout (default sizes) is done
    win.main_splitter.setSizes([300, 700])
    win.views["gradmap"].set_grid(True)
    win.set_last("dataset", "demo")
    win.add_recent("/some/folder")
    qtbot.wait(50)
    sizes = win.main_splitter.sizes()
    win.close()
    again = MainWindow(session=Session(dataset), settings=settings, install_features=False)
    qtbot.addWidget(again)
    again.show()
    qtbot.wait(50)
    assert (again.size().width(), again.size().height()) == (1024, 660)
    assert again.main_splitter.sizes() == sizes
    assert again.views["gradmap"].grid_box.isChecked()
    assert again.settings().value("last/dataset") == "demo"
    assert again.recent() == ["/some/folder"]
    again.close()


def test_keyboard_shortcuts_dialog_lists_menu_shortcuts(window):
    rows = window.shortcut_rows()
    assert any(t == "Quit" for _, t, _ in rows)
    assert any(t.startswith("Open data folder") for _, t, _ in rows)
    window.show_shortcuts()
    assert window._shortcuts_box.isVisible()
    window._shortcuts_box.close()
