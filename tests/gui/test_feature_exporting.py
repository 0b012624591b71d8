"""Exporting feature: views and the neuron figure as PNG/SVG/PDF, data as CSV/NPZ, through the dialog too."""

from __future__ import annotations

import csv
import struct
import xml.etree.ElementTree as ET

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from strfviewer.gui.exporting import figures  # noqa: E402
from strfviewer.gui.exporting import feature as exporting  # noqa: E402


@pytest.fixture
def feature(window):
    return exporting.install(window)


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def svg_texts(path):
    root = ET.parse(path).getroot()  # raises if not XML
    assert root.tag.endswith("svg")
    return " ".join(t.strip() for el in root.iter() if el.tag.endswith("text") for t in el.itertext())


def pdf_pages(path):
    data = path.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    return data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") + data.count(b"/Type /Page>")


def test_view_png_at_the_chosen_dpi(feature, window, tmp_path):
    view = window.views["spectrogram"]
    size = figures.widgets_size(figures.view_widgets(view))
    path = feature.export("view:spectrogram", tmp_path / "spec.png", dpi=192)
    w, h = png_size(path)
    assert (w, h) == (2 * size.width(), 2 * size.height())
    # not blank: the image has many distinct colours (the spectrogram, axes, labels)
    from PySide6.QtGui import QImage

    img = QImage(str(path))
    colours = {img.pixel(x, y) for x in range(0, w, 7) for y in range(0, h, 7)}
    assert len(colours) > 20


def test_view_svg_is_xml_with_axis_labels_and_pdf_has_a_page(feature, window, tmp_path):
    texts = svg_texts(feature.export("view:psth", tmp_path / "psth.svg"))
    assert "time" in texts and "spikes / bin" in texts
    texts = svg_texts(feature.export("view:spectrogram", tmp_path / "spec.svg"))
    assert "frequency" in texts
    assert pdf_pages(feature.export("view:gradmap", tmp_path / "grad.pdf")) == 1


def test_figure_in_three_formats(feature, window, tmp_path, qtbot):
    png = feature.export("figure", tmp_path / "fig.png", dpi=100, width_in=8, height_in=5)
    assert png_size(png) == (800, 500)
    texts = svg_texts(feature.export("figure", tmp_path / "fig.svg"))
    for label in ("time (ms)", "spikes / bin", "lag (ms)", "frequency", "stimulus spectrogram",
                  window.session.dataset.neuron_names[window.session.neuron]):
        assert label in texts, label
    assert pdf_pages(feature.export("figure", tmp_path / "fig.pdf")) == 1


def test_figure_panels_hold_the_selected_neurons_data(feature, window):
    s = window.session
    s.select_neuron(3)
    panels = feature.figure_panels()
    stim = s.stimulus_obj()
    np.testing.assert_array_equal(panels.spec, stim.spec[0])
    np.testing.assert_array_equal(panels.recorded, stim.responses[3])
    run = s.current_run
    np.testing.assert_allclose(panels.predictions[run.name], run.get_predictions()[stim.name][3])
    window.redraw_now()
    np.testing.assert_allclose(panels.gradmap, window.views["gradmap"].displayed)


def test_data_exports(feature, window, tmp_path):
    ds = window.session.dataset
    rows = list(csv.DictReader(open(feature.export("metrics", tmp_path / "m.csv"))))
    assert [r["name"] for r in rows] == list(ds.neuron_names)
    assert "test_cc_norm" in rows[0] and "n_spikes" in rows[0]
    total = sum(np.nansum(s.responses[2]) for s in ds.stimuli)
    assert float(rows[2]["n_spikes"]) == pytest.approx(total)
    path = feature.export("results", tmp_path / "r.npz")
    with np.load(path, allow_pickle=False) as z:
        for key in ("neuron_names", "freqs_hz", "lags_ms", "dt_ms", "gradmaps", "predictions", "recorded_psth"):
            assert key in z.files, key
        assert z["gradmaps"].shape[:1] == (ds.n_neurons,) and z["gradmaps"].shape[2] == ds.n_freqs
        assert z["predictions"].shape[:2] == (len(ds.stimuli), ds.n_neurons)
        # deepSTRF's sign in the file (like 'strfviewer gradmap'); the view shows excitation positive
        window.redraw_now()
        shown = window.views["gradmap"].displayed
        np.testing.assert_allclose(z["gradmaps"][window.session.neuron], -shown)
        assert str(z["readout"]) == "last"
    rows = list(csv.DictReader(open(feature.export("runs", tmp_path / "runs.csv"))))
    assert len(rows) == len(window.session.runs)


def test_dialog_exports_and_right_click_preselects_the_view(feature, window, tmp_path, qtbot):
    scene = window.views["psth"].plot.scene()
    action = scene.contextMenu[0]
    assert action.text() == "Export view…"
    action.trigger()
    dialog = feature.dialog
    qtbot.addWidget(dialog)
    assert dialog.target == "view:psth"
    dialog.select_format("svg")
    dialog.path_edit.setText(str(tmp_path / "psth_from_dialog.svg"))
    assert dialog.export() is not None
    assert "spikes / bin" in svg_texts(tmp_path / "psth_from_dialog.svg")
    dialog.select_target("metrics")
    assert not dialog.format_box.isEnabled()
    assert dialog.path_edit.text().endswith(".csv")
    # File > Export... is enabled by the feature
    assert window.actions["export"].isEnabled()


def test_a_failed_figure_export_leaves_the_old_file_intact(feature, window, tmp_path, monkeypatch):
    path = feature.export("view:spectrogram", tmp_path / "v.png", dpi=96)
    old = path.read_bytes()

    def broken(widgets, painter, target):
        raise RuntimeError("renderer crashed half-way")

    monkeypatch.setattr(figures, "paint_widgets", broken)
    with pytest.raises(RuntimeError):
        feature.export("view:spectrogram", path, dpi=96)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["v.png"]


def test_bad_format_is_a_clear_error(feature, tmp_path):
    with pytest.raises(ValueError, match="unknown figure format"):
        feature.export("view:psth", tmp_path / "x.bmp")


def test_table_and_list_right_click_menus_open_the_dialog_on_their_exports(feature, window, qtbot):
    from PySide6.QtCore import Qt

    table = window.views["neurons"]
    assert table.contextMenuPolicy() == Qt.ActionsContextMenu
    texts = [a.text() for a in table.actions()]
    assert "Export metrics (CSV)…" in texts
    table.actions()[texts.index("Export metrics (CSV)…")].trigger()
    qtbot.addWidget(feature.dialog)
    assert feature.dialog.target == "metrics"
    stimuli = window.views["stimuli"]
    stimuli.actions()[0].trigger()
    assert feature.dialog.target == "figure"


def test_sounds_of_the_listening_feature_export_as_wav(feature, window, tmp_path):
    import soundfile

    from strfviewer.gui.listening.audio import AudioPlayer
    from strfviewer.gui.listening import feature as listening

    def no_audio():
        raise OSError("PortAudio library not found")

    sounds = listening.install(window, player=AudioPlayer(no_audio))
    tone = (0.25 * np.sin(2 * np.pi * 440 * np.arange(4000) / 8000)).astype(np.float32)
    sounds.set_sound("model", "a test tone", tone, 8000)
    assert feature.targets()["sound:model"] == "Sound: a test tone (WAV)"
    dialog = feature.open_dialog("sound:model")
    assert dialog.target == "sound:model" and dialog.path_edit.text().endswith(".wav")
    dialog.path_edit.setText(str(tmp_path / "tone.wav"))
    dialog.export()
    data, rate = soundfile.read(tmp_path / "tone.wav", dtype="float32")
    assert rate == 8000
    np.testing.assert_allclose(data, tone, atol=1e-4)


def test_plots_of_other_docks_get_a_working_export_entry(window, tmp_path, qtbot, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from strfviewer.gui.dreaming import feature as dreaming

    exporting.install(window)
    dream = dreaming.install(window)  # installed after exporting, in the same event-loop turn, as in the app
    qtbot.waitUntil(lambda: bool(dream.panel.curve_plot.scene().contextMenu[0].property("strfviewer_export")),
                    timeout=5000)
    action = dream.panel.curve_plot.scene().contextMenu[0]
    assert action.text() == "Export plot…"
    target = tmp_path / "curve.svg"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    action.trigger()
    assert "response" in svg_texts(target)


def test_a_long_legend_leaves_the_gradmap_panel_on_the_page(feature, window):
    """With two runs compared the legend row under panel B was one line wider than the left column's share, and
    its minimum width pushed panel C (gradmap and colour bar) past the figure's right edge."""
    import dataclasses

    panels = feature.figure_panels()
    (label, pred), = panels.predictions.items()
    names = ("Linear / ridge (CausalMel front-end)", "Linear ridge", "StateNet(GRU) 32 channels")
    panels = dataclasses.replace(panels, predictions={name: pred for name in names},
                                 scores={name: (0.75, 0.84) for name in names})
    widget = figures.build_figure(panels, 9.0, 5.5)
    try:
        right = max(item.sceneBoundingRect().right() for item in widget.ci.items
                    if isinstance(item, (figures.pg.PlotItem, figures.pg.ColorBarItem)))
        assert right <= widget.width() + 1, (right, widget.width())
        assert all(name in widget.legend.text for name in names)
    finally:
        widget.close()
        widget.deleteLater()


def test_a_view_in_a_tabbed_away_dock_is_brought_forward_and_exported_as_shown(feature, window, tmp_path, qtbot):
    """File > Export offers every view; one whose dock sat behind another tab (never laid out, never drawn) was
    written as a 200 x 141 px stub of its unlaid-out plot area."""
    behind, front = window.docks["population"], window.docks["tuning"]
    window.tabifyDockWidget(front, behind)
    front.raise_()
    qtbot.waitUntil(lambda: not window.views["tuning"].visibleRegion().isEmpty(), timeout=5000)
    window.grab()
    assert window.views["population"].visibleRegion().isEmpty()
    path = feature.export("view:population", tmp_path / "population.png", dpi=96)
    view = window.views["population"]
    window.grab()
    assert not view.visibleRegion().isEmpty()
    size = figures.widgets_size(figures.view_widgets(view))
    assert png_size(path) == (size.width(), size.height()) and size.width() > 300
