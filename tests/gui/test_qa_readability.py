"""Readability fixes of issue 15, item 9: the figure's legend beside the PSTH (not on its peak), gradmap bins
sharp in the PNG, grid tiles with axes and a colour scale, empty plots that say what they wait for (start-up,
the Listening dock, the training plots after a ridge fit), no gap in the fit dialog after StateNet -> Linear,
status messages cut on a word, the kernel of a ridge Linear named alike in the runs table and the model dock,
and a window title that names the application once."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QFont, QFontMetrics, QImage  # noqa: E402

from strfviewer.gui.exporting import figures  # noqa: E402
from strfviewer.gui.main_window import MainWindow  # noqa: E402
from strfviewer.gui.views.axes import placeholder_text  # noqa: E402
from strfviewer.session import Session  # noqa: E402

from .conftest import make_dataset, make_run  # noqa: E402


def _panels(grad=None):
    F, T = 16, 200
    t = np.arange(T)
    spec = np.sin(t[None, :] / 7.0 + np.arange(F)[:, None] / 3.0).astype(np.float32)
    rate = 0.2 + 3.0 * np.exp(-0.5 * ((t - 15) / 4.0) ** 2)  # the peak early, where the legend used to sit
    recorded = np.random.default_rng(0).poisson(rate, (5, T)).astype(np.float64)
    if grad is None:
        grad = np.random.default_rng(1).standard_normal((1, F, 10)).astype(np.float32)
    return figures.FigurePanels("cell A", "song 1", spec, np.geomspace(500, 16000, F), 5.0, recorded,
                                {"a model with a long name": rate}, grad, (np.arange(grad.shape[-1]) - 9) * 5.0,
                                "gradmap (last)", (), {"a model with a long name": (0.5, 0.6)})


def test_figure_legend_is_outside_the_psth_plot():
    widget = figures.build_figure(_panels())
    try:
        plots = [i for i in widget.ci.items if type(i).__name__ == "PlotItem"]
        psth = next(p for p in plots if "response" in p.titleLabel.text)
        assert "recorded mean" in widget.legend.text and "a model with a long name" in widget.legend.text
        legend = widget.legend.item.sceneBoundingRect()  # the text's own extent
        assert legend.height() > 5 and legend.width() > 50
        # the legend covers no part of panel B's data area (the peak can be anywhere)
        assert not legend.intersects(psth.getViewBox().sceneBoundingRect())
        assert legend.top() >= psth.sceneBoundingRect().bottom() - 1
    finally:
        widget.close()


def test_png_keeps_gradmap_bins_sharp(tmp_path):
    """A checkerboard gradmap of +-1 drawn at 300 dpi: each bin is many pixels wide, so a sharp rendering has
    the checkerboard's two colours and a few anti-aliased pixels on the plot's edge; an interpolated one
    (SmoothPixmapTransform) has a ramp of colours between every pair of bins."""
    F, T = 16, 10
    checker = np.where((np.arange(F)[:, None] + np.arange(T)[None, :]) % 2, 1.0, -1.0).astype(np.float32)
    widget = figures.build_figure(_panels(checker[None]))
    try:
        plots = [i for i in widget.ci.items if type(i).__name__ == "PlotItem"]
        gradmap = next(p for p in plots if "gradmap" in p.titleLabel.text)
        box = gradmap.getViewBox().sceneBoundingRect()
        path = figures.save_widgets([widget], tmp_path / "figure.png", dpi=300)
    finally:
        widget.close()
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB32)
    scale = image.width() / figures.widgets_size([widget]).width()
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    pixels = pixels[:, : image.width() * 4].reshape(image.height(), image.width(), 4)[..., :3]
    x0, x1 = int((box.left() + 0.1 * box.width()) * scale), int((box.right() - 0.1 * box.width()) * scale)
    y0, y1 = int((box.top() + 0.1 * box.height()) * scale), int((box.bottom() - 0.1 * box.height()) * scale)
    crop = pixels[y0:y1, x0:x1].reshape(-1, 3)
    colours, counts = np.unique(crop, axis=0, return_counts=True)
    two = np.sort(counts)[::-1][:2].sum()
    assert two / crop.shape[0] > 0.97, f"{len(colours)} colours, the two main ones cover {two / crop.shape[0]:.2%}"


@pytest.fixture
def window(qtbot, settings):
    ds = make_dataset()
    session = Session(ds)
    session.add_run(make_run(ds))
    win = MainWindow(session=session, settings=settings, install_features=False)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitUntil(lambda: win.views["gradmap"].displayed is not None, timeout=10000)
    yield win
    win.close()


def test_grid_tiles_have_axes_and_a_colour_scale(window):
    g = window.views["gradmap"]
    window.actions["grid_mode"].trigger()
    window.redraw_now()
    assert g.grid_plots
    first = g.grid_plots[0]
    assert first.getAxis("left").isVisible() and first.getAxis("bottom").isVisible()
    assert len(first.getAxis("left").freqs_hz) == window.session.dataset.n_freqs  # bands in Hz
    assert g.grid_colorbar is not None and g.grid_colorbar.scene() is g.grid.scene()
    # each tile's range is in its title, the scale the colour bar's -1..+1 multiplies
    for plot, level in zip(g.grid_plots, g.grid_levels):
        assert f"±{level:.2g}" in plot.titleLabel.text
    # the tile's x axis is lag in ms (the oldest lag left of 0)
    x_range = first.getViewBox().viewRange()[0]
    assert x_range[0] < 0 < x_range[1] + window.session.dataset.dt_ms


def test_empty_plots_at_start_up_say_what_they_wait_for(qtbot, settings):
    win = MainWindow(session=Session(), settings=settings, install_features=False)
    qtbot.addWidget(win)
    win.show()
    win.redraw_now()
    for name in ("spectrogram", "psth"):
        text = placeholder_text(win.views[name].plot)
        assert text and "File > Open" in text
        assert not win.views[name].plot.getPlotItem().getAxis("bottom").isVisible()
    # data arrives: axes back, placeholder gone
    win.session.set_dataset(make_dataset())
    win.redraw_now()
    for name in ("spectrogram", "psth"):
        assert placeholder_text(win.views[name].plot) is None
        assert win.views[name].plot.getPlotItem().getAxis("bottom").isVisible()
    win.close()


def test_listening_plots_empty_without_si_prefix(window):
    from strfviewer.gui.listening import feature as listening
    from strfviewer.gui.listening.audio import AudioPlayer

    from .test_feature_listening_player import FakeBackend

    feature = listening.install(window, player=AudioPlayer(lambda: FakeBackend(rates=(8000,)), blocksize=400))
    p = feature.panel
    assert placeholder_text(p.wave_plot) and "Compute" in placeholder_text(p.wave_plot)
    samples = np.sin(np.linspace(0, 50, 800)).astype(np.float32)
    feature.show_model_sound(samples, 8000, np.ones((4, 10)))
    assert placeholder_text(p.wave_plot) is None
    axis = p.wave_plot.getAxis("bottom")
    assert not axis.autoSIPrefix and axis.labelString().count("x0.001") == 0


def test_training_plots_do_not_keep_the_last_fits_axes_after_a_ridge_fit(qtbot):
    from strfviewer.fit.fitter import ProgressEvent
    from strfviewer.gui.fitting.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    assert placeholder_text(panel.loss_plot)  # before any fit
    panel.begin("sgd", 3)
    for epoch in (1, 2, 3):
        panel.add_progress(ProgressEvent(epoch=epoch, step=3, n_steps=3, train_loss=50.0 / epoch, val_loss=40.0,
                                         val_cc_norm=0.3, eta_s=1.0, kind="epoch", max_epochs=3))
    panel.end("done", "ok")
    assert placeholder_text(panel.loss_plot) is None and placeholder_text(panel.cc_plot) is None
    panel.begin("Linear ridge")
    panel.end("done", "closed form")
    for plot in (panel.loss_plot, panel.cc_plot):
        assert "ridge" in placeholder_text(plot)
        assert not plot.getPlotItem().getAxis("left").isVisible()  # no axes of the SGD fit left behind


def test_fit_dialog_has_no_gap_after_statenet_to_linear(qtbot, settings):
    from strfviewer.gui.fitting.fit_dialog import FitDialog

    dialog = FitDialog(settings=settings)
    qtbot.addWidget(dialog)
    dialog.family_box.setCurrentIndex(dialog.family_box.findData("Linear"))
    dialog.show()
    qtbot.waitExposed(dialog)
    linear = dialog.height()
    dialog.family_box.setCurrentIndex(dialog.family_box.findData("StateNet"))
    qtbot.waitUntil(lambda: dialog.height() > linear, timeout=2000)
    dialog.family_box.setCurrentIndex(dialog.family_box.findData("Linear"))
    qtbot.waitUntil(lambda: dialog.height() <= linear + 2, timeout=2000)


def test_status_messages_are_cut_on_a_word():
    from strfviewer.gui.window.status_bar import elide_words

    metrics = QFontMetrics(QFont())
    text = "fitting a Linear model (ridge) on strflab-auditory with 15 frames of history"
    for width in (60, 120, 200, 320):
        shown = elide_words(text, metrics, width)
        assert metrics.horizontalAdvance(shown) <= width
        if shown != text:
            assert shown.endswith("…")
            assert text.startswith(shown[:-1]) and text[len(shown) - 1] == " "  # ends on a whole word
    assert elide_words(text, metrics, 10000) == text


def test_status_bar_draws_a_long_message_cut_on_a_word(window):
    window.resize(700, 500)
    message = "opened a dataset with a very long name; note: " + "spikes after a stimulus end were dropped " * 4
    window.status(message)
    bar = window.statusBar()
    shown = bar.displayed_message()
    assert bar.currentMessage() == message.strip() or bar.currentMessage() == message
    assert shown != " ".join(message.split()) and shown.endswith("…")
    assert " ".join(message.split()).startswith(shown[:-1]) and bar.toolTip() == message


def test_kernel_of_a_ridge_linear_reads_the_same_in_runs_table_and_model_dock(qtbot, settings):
    from strfviewer.gui.fitting.model_panel import ModelPanel
    from strfviewer.gui.fitting.runs_table import RunsTableModel
    from strfviewer.gui.window import model_io
    from strfviewer.models.factory import ModelSpec

    ds = make_dataset()
    session = Session(ds)
    run = make_run(ds, name="Linear ridge")
    run.request = model_io.ridge_request()
    run.spec = run.request.spec
    session.add_run(run)
    assert run.spec.kernel is None
    assert RunsTableModel(session).display(run, "Kernel") == "full"
    panel = ModelPanel(session)
    qtbot.addWidget(panel)
    assert "kernel full" in panel.title.text()
    statenet = make_run(ds, name="rnn")
    statenet.spec = ModelSpec(family="StateNet", rnn_type="GRU")
    session.add_run(statenet)
    assert RunsTableModel(session).display(statenet, "Kernel") in ("full", "—")


def test_window_title_names_the_application_once(window):
    title = window.windowTitle()
    assert title == "synthetic — strfviewer"
    assert title.count("strfviewer") == 1 and title.endswith("strfviewer")  # Qt adds nothing to such a title
