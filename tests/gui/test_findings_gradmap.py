"""Gradmap view's significance outline (jackknife in a worker, cancel), the Tuning panel and the dSTRF view."""

import numpy as np

from strfviewer.gui.views.mask_outline import mask_outline
from strfviewer.session import Run

from .test_findings_table import PEAK_BANDS, findings_window, planted_run


def fitted_run(dataset, method="ridge", epochs=1, name=None):
    """A Linear run fitted for real (its request is what the jackknife refits with)."""
    from strfviewer.fit.run import FitRequest, run_fit
    from strfviewer.models.factory import ModelSpec

    request = FitRequest(spec=ModelSpec(family="Linear", T=5), method=method, epochs=epochs, patience=None,
                         device="cpu")
    outcome = run_fit(dataset, request)
    return Run(name=name or f"Linear {method}", spec=request.spec, request=request, model=outcome.model,
               outcome=outcome)


def _show_dock(qtbot, win, name):
    win.docks[name].show()
    win.docks[name].raise_()
    qtbot.waitUntil(lambda: win.views[name].isVisible(), timeout=5000)


def test_mask_outline_draws_the_boundary_of_each_region():
    mask = np.zeros((4, 5), dtype=bool)
    mask[1:3, 1:3] = True  # a 2 x 2 block: 8 unit edges
    x, y = mask_outline(mask, x0=0.0, dx=10.0)
    assert len(x) == len(y) == 16
    assert set(zip(x[::2], y[::2], x[1::2], y[1::2])) >= {(10.0, 0.5, 20.0, 0.5), (30.0, 0.5, 30.0, 1.5)}
    assert x.min() == 10.0 and x.max() == 30.0 and y.min() == 0.5 and y.max() == 2.5
    assert len(mask_outline(np.zeros((3, 3), bool), 0, 1)[0]) == 0


def test_significance_outlines_the_pixel_that_drives_the_responses(qtbot, settings):
    """In the synthetic data every neuron's rate follows band 0 at lag 0: the closed-form ridge jackknife marks
    that pixel significant for every neuron, and most other pixels not."""
    win = findings_window(qtbot, settings, lambda d: fitted_run(d))
    view = win.views["gradmap"]
    qtbot.waitUntil(lambda: view.displayed is not None, timeout=10000)
    view.significance_box.setChecked(True)
    qtbot.waitUntil(lambda: view.shown_mask is not None, timeout=20000)
    sig = view.significance()
    assert "closed-form ridge" in sig.how
    mask = sig.mask()
    assert mask.shape == view.shown_maps().shape
    assert mask[:, 0, 0, -1].all()
    assert mask.mean() < 0.5
    assert view.contours[0].isVisible() and len(view.contours[0].xData) > 0
    assert "significant" in view.busy.text()
    view.significance_box.setChecked(False)
    assert not view.contours[0].isVisible() and view.shown_mask is None
    win.close()


def test_significance_outlines_every_tile_of_the_grid(qtbot, settings):
    """Grid mode: each tile gets its neuron's outline over the lags it shows (QA: single-neuron mode only)."""
    win = findings_window(qtbot, settings, lambda d: fitted_run(d))
    view = win.views["gradmap"]
    qtbot.waitUntil(lambda: view.displayed is not None, timeout=10000)
    view.k_spin.setValue(4)
    view.grid_box.setChecked(True)
    view.significance_box.setChecked(True)
    qtbot.waitUntil(lambda: view.shown_mask is not None and len(view.grid_contours) == len(view.grid_plots) > 1,
                    timeout=20000)
    mask = view.significance().mask()
    for i, n in enumerate(view.grid_neurons):
        item = view.grid_contours[i]
        assert item.isVisible() and item.scene() is view.grid_plots[i].scene()
        expected = mask_outline(mask[n, 0], float(view.lags[0]) - win.session.dataset.dt_ms / 2,
                                win.session.dataset.dt_ms)
        assert len(item.xData) == len(expected[0]) > 0  # one channel: the tile is the neuron's own map
    assert np.array_equal(view.shown_mask, mask[win.session.neuron])
    assert "in the 4 tiles" in view.busy.text()
    view.significance_box.setChecked(False)
    assert not any(item.isVisible() for item in view.grid_contours) and view.shown_mask is None
    win.close()


def test_significance_by_refitting_can_be_cancelled(qtbot, settings):
    win = findings_window(qtbot, settings, lambda d: fitted_run(d, method="sgd", epochs=1))
    session = win.session
    view = win.views["gradmap"]
    qtbot.waitUntil(lambda: view.displayed is not None, timeout=10000)
    run = session.current_run
    run.request.epochs = 400  # the folds would take long: the cancel must stop them
    view.significance_box.setChecked(True)
    assert view.jobs.pending and "jackknife" in view.busy.text()
    qtbot.waitUntil(lambda: "fold" in view.busy.text() or "fit" in view.busy.text(), timeout=20000)
    view.significance_box.setChecked(False)
    assert not view.jobs.pending and view.busy.text() == "significance cancelled"
    qtbot.waitUntil(lambda: not win.worker_pool.workers, timeout=30000)  # the worker stopped early
    assert view.significance() is None and not win.errors
    win.close()


def test_tuning_panel_shows_profiles_mtf_and_numbers_then_intervals(qtbot, settings):
    win = findings_window(qtbot, settings, lambda d: planted_run(d))
    session, ds = win.session, win.session.dataset
    _show_dock(qtbot, win, "tuning")
    view = win.views["tuning"]
    qtbot.waitUntil(lambda: bool(view.metrics), timeout=10000)
    np.testing.assert_allclose(view.metrics["best_frequency_hz"], ds.freqs_hz[PEAK_BANDS[0]], rtol=1e-6)
    assert "best frequency" in view.numbers.text() and "kHz" in view.numbers.text()
    assert view.mtf_image.image is not None and view.mtf_image.image.shape[1] == 5
    curves = view.freq_plot.listDataItems()
    np.testing.assert_allclose(curves[0].xData, ds.freqs_hz / 1000)
    assert np.argmax(curves[0].yData) == PEAK_BANDS[0]
    session.select_neuron(3)
    win.redraw_now()
    np.testing.assert_allclose(view.metrics["best_frequency_hz"], ds.freqs_hz[PEAK_BANDS[3]], rtol=1e-6)
    header, rows = view.csv_table()
    assert header[:3] == ["neuron", "metric", "value"] and rows[0][0] == ds.neuron_names[3]
    win.close()


def test_tuning_panel_has_bootstrap_intervals_once_significance_is_computed(qtbot, settings):
    win = findings_window(qtbot, settings, lambda d: fitted_run(d))
    _show_dock(qtbot, win, "tuning")
    gradmap, view = win.views["gradmap"], win.views["tuning"]
    gradmap.mode_box.setCurrentText("kernel STRF")  # the tuning panel reads the kernel of Linear runs
    gradmap.significance_box.setChecked(True)
    qtbot.waitUntil(lambda: gradmap.shown_mask is not None, timeout=20000)
    win.redraw_now()
    qtbot.waitUntil(lambda: bool(view.intervals), timeout=10000)
    low, high = view.intervals["separability"]
    assert 0 <= low <= high <= 1
    assert "bootstrap" in view.numbers.text() and "significant pixels" in view.title.text()
    win.close()


def test_dstrf_view_scrubs_along_the_stimulus(qtbot, settings):
    win = findings_window(qtbot, settings, lambda d: planted_run(d))
    session, ds = win.session, win.session.dataset
    view = win.views["dstrf"]
    assert view.result is None  # hidden behind another tab: nothing computed
    _show_dock(qtbot, win, "dstrf")
    qtbot.waitUntil(lambda: view.result is not None, timeout=15000)
    L = ds.stimulus(session.stimulus).spec.shape[-1]
    assert view.result.maps.shape[0] == L and view.slider.maximum() == L - 1
    # a Linear model's dSTRF is its kernel (times the BatchNorm's gain) wherever the window is inside the sound
    kernel = session.current_run.model.readout.STRF_weight().detach().numpy()[session.neuron, 0]
    maps = view.result.maps[4:, 0]
    gain = maps[0].max() / kernel.max()
    np.testing.assert_allclose(maps, np.broadcast_to(kernel * gain, maps.shape), rtol=1e-4, atol=1e-6)
    assert "linear model" in view.title.text()
    assert view.frame == int(np.argmax(view.result.response))  # opens at the strongest response
    view.slider.setValue(7)
    assert view.frame == 7 and view.time_label.text() == "35 ms"
    view.set_playhead(52.0)  # the listening play-head
    assert view.frame == 10 and view.slider.value() == 10 and view.scrub.value() == 50.0
    header, rows = view.csv_table()
    assert header[:2] == ["time_ms", "response"] and len(rows) == L
    win.close()


def test_tuning_hint_names_the_gradmap_mode_whose_significance_it_reads(qtbot, settings):
    """An LN run's tuning is read on its kernel STRF: with 'significance' checked on the gradmap (the default mode),
    the hint used to say "check 'significance' in the gradmap view" although it was checked there; it names the mode."""
    import torch

    from strfviewer.models.factory import ModelSpec, build_model

    def ln_run(ds):
        torch.manual_seed(0)
        spec = ModelSpec(family="LinearNonlinear", T=5)
        return Run(name="LN", spec=spec, model=build_model(spec, ds.n_freqs, ds.n_neurons).eval())

    win = findings_window(qtbot, settings, ln_run)
    _show_dock(qtbot, win, "tuning")
    view = win.views["tuning"]
    win.redraw_now()
    qtbot.waitUntil(lambda: "significance" in view.title.text(), timeout=10000)
    hint = view.title.text().split("significance", 1)[1]
    assert "'kernel STRF'" in hint, view.title.text()
    win.close()
