"""The front-end slot of the fit dialog and the model panel, the runs table's front-end column, and a fit on raw
audio through the app's child-process fit queue (spec -> child -> weights back -> model rebuilt)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QSettings  # noqa: E402

from strfviewer.data import load  # noqa: E402
from strfviewer.fit.run import FitRequest, predict  # noqa: E402
from strfviewer.gui.fitting.fit_dialog import FitDialog  # noqa: E402
from strfviewer.gui.fitting.model_panel import ModelPanel  # noqa: E402
from strfviewer.gui.fitting.runs_table import COLUMNS, RunsTableModel  # noqa: E402
from strfviewer.models.factory import ModelSpec  # noqa: E402
from strfviewer.session import Run, Session  # noqa: E402

from .conftest import make_dataset, make_run  # noqa: E402


@pytest.fixture(scope="module")
def demo():
    return load("demo")


def _editor_names(dialog):
    return set(dialog._frontend_editors)


def test_dialog_offers_every_front_end_with_its_options(qtbot, settings, demo):
    from strfviewer.models import registry

    dialog = FitDialog(dataset=demo, settings=settings)
    qtbot.addWidget(dialog)
    box = dialog.frontend_box
    assert [box.itemText(i) for i in range(box.count())] == ["spectrogram"] + registry.names("frontend")
    assert dialog.model_spec().frontend is None and not dialog._frontend_editors

    box.setCurrentIndex(box.findText("CausalMel"))
    names = _editor_names(dialog)
    assert {"audio_fs", "n_mels", "f_min", "win_ms", "compression"} <= names
    assert "hop_ms" not in names, "the frame step is the data's, not an option"
    assert dialog._frontend_editors["audio_fs"].value() == demo.stimuli[0].sample_rate  # the data's audio rate
    spec = dialog.model_spec()
    assert spec.frontend == "CausalMel" and spec.frontend_kwargs == {}, "defaults are left to the engine"
    dialog._frontend_editors["n_mels"].set_value(20)
    assert dialog.model_spec().frontend_kwargs == {"n_mels": 20}
    assert dialog.validate() == []
    dialog.method_box.setCurrentIndex(dialog.method_box.findData("ridge"))
    assert dialog.validate() == [], "ridge fits a Linear model on a fixed front-end"
    request = dialog.fit_request()
    assert request.method == "ridge" and request.spec.frontend == "CausalMel"

    box.setCurrentIndex(box.findText("LEAF"))
    assert any("fixed front-end" in r and "LEAF" in r for r in dialog.validate())
    dialog._frontend_editors["learn_filters"].set_value(False)
    dialog._frontend_editors["learn_pooling"].set_value(False)
    dialog._frontend_editors["learn_pcen"].set_value(False)
    assert dialog.validate() == [], "a frozen LEAF is a fixed front-end"

    # a sample rate below twice f_max: one line naming the values
    dialog.method_box.setCurrentIndex(dialog.method_box.findData("sgd"))
    box.setCurrentIndex(box.findText("Gammatonegram"))
    dialog._frontend_editors["f_max"].set_value(6000.0)  # a default above Nyquist is lowered; a chosen one is not
    dialog._frontend_editors["audio_fs"].set_value(8000)
    reasons = dialog.validate()
    assert len(reasons) == 1 and "8000" in reasons[0] and "f_max" in reasons[0]
    assert not dialog.buttons.buttons()[0].isEnabled() or reasons


def test_dialog_refuses_a_front_end_on_data_without_audio_and_remembers_choices(qtbot, settings, demo):
    dialog = FitDialog(dataset=make_dataset(), settings=settings)  # spectrograms only
    qtbot.addWidget(dialog)
    dialog.frontend_box.setCurrentIndex(dialog.frontend_box.findText("SincNet"))
    reasons = dialog.validate()
    assert any("audio" in r for r in reasons)

    dialog = FitDialog(dataset=demo, settings=settings)
    qtbot.addWidget(dialog)
    dialog.frontend_box.setCurrentIndex(dialog.frontend_box.findText("SincNet"))
    dialog._frontend_editors["n_filters"].set_value(16)
    assert dialog.validate() == []
    dialog.accept()
    again = FitDialog(dataset=demo, settings=settings)
    qtbot.addWidget(again)
    assert again.model_spec().frontend == "SincNet" and again.model_spec().frontend_kwargs == {"n_filters": 16}
    # and a request shown again (e.g. a run's settings) selects its front-end
    again.set_request(FitRequest(spec=ModelSpec("Linear", frontend="CausalMel", frontend_kwargs={"n_mels": 12})))
    assert again.frontend_box.currentText() == "CausalMel" and again.model_spec().frontend_kwargs == {"n_mels": 12}


def test_model_panel_swaps_the_front_end_and_the_runs_table_shows_it(qtbot, demo):
    session = Session(demo)
    run = session.add_run(Run(name="ridge", spec=ModelSpec("Linear", T=15),
                              request=FitRequest(spec=ModelSpec("Linear", T=15), method="ridge"),
                              model=make_run(demo).model), make_current=True)
    panel = ModelPanel(session)
    qtbot.addWidget(panel)
    buttons = panel.frontend_buttons
    assert set(buttons) >= {"spectrogram", "CausalMel", "Gammatone", "Gammatonegram", "LEAF", "SincNet"}
    assert buttons["spectrogram"].isChecked() and not buttons["spectrogram"].isEnabled()
    assert buttons["CausalMel"].isEnabled() and "front-end" in buttons["CausalMel"].toolTip()

    asked = []
    panel.refit_requested.connect(lambda request, source: asked.append((request, source)))
    buttons["CausalMel"].click()
    buttons["LEAF"].click()
    (mel, source), (leaf, _) = asked
    assert source is run and mel.spec.frontend == "CausalMel" and mel.spec.T == 15
    assert mel.method == "ridge", "a fixed front-end keeps the ridge fit"
    assert leaf.spec.frontend == "LEAF" and leaf.method == "sgd", "a learnable front-end needs SGD"

    model = RunsTableModel(session)
    session.add_run(Run(name="wave", spec=mel.spec))
    model.refresh()
    col = COLUMNS.index("Front-end")
    assert [model.display(r, "Front-end") for r in session.runs] == ["spectrogram", "CausalMel"]
    assert model.index(1, col).data() == "CausalMel"

    # on data without audio the front-end swaps are refused with the reason
    session2 = Session(make_dataset())
    session2.add_run(make_run(session2.dataset), make_current=True)
    panel2 = ModelPanel(session2)
    qtbot.addWidget(panel2)
    assert not panel2.frontend_buttons["CausalMel"].isEnabled()
    assert "audio" in panel2.frontend_buttons["CausalMel"].toolTip()


def test_a_waveform_fit_survives_the_fit_process(qtbot, tmp_path, demo):
    """The fit queue's child process fits on the audio (sent along) and the app rebuilds the model from the
    resolved spec (20 mel bands, not the data's 34) with the child's weights: the same predictions."""
    from strfviewer.gui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(session=Session(demo), settings=settings)
    qtbot.addWidget(window)
    try:
        feature = window.fitting
        assert feature.queue.isolation == "process"
        spec = ModelSpec("Linear", T=10, frontend="CausalMel", frontend_kwargs={"n_mels": 20})
        feature.submit(FitRequest(spec=spec, method="ridge", device="cpu"))
        qtbot.waitUntil(lambda: not feature.queue.busy and not feature.queue.pending, timeout=90000)
        run = window.session.runs[-1]
        assert run.status == "done", run.message
        model = run.model
        # front_end(), not wav2spec: a gradmap worker may have set the front-end aside for its probe meanwhile
        assert model.is_wav_native and model.F == 20 and model.front_end().sample_rate == 16000
        assert run.outcome.details["frontend"]["name"] == "CausalMel"
        from strfviewer.analysis._probe import model_lock

        with model_lock(model):  # the gradmap view's worker probes the same model
            here = predict(model, demo, "cpu")
        for name, there in run.outcome.predictions.items():   # computed by the child
            np.testing.assert_allclose(here[name], there, rtol=1e-4, atol=1e-5)
        assert np.nanmean(run.outcome.metrics["test"].cc_norm) > 0.5
        qtbot.waitUntil(lambda: feature.model_panel.run is run)
        assert feature.model_panel.frontend_buttons["CausalMel"].isChecked()
    finally:
        window.fitting.queue.cancel_all()
        window.worker_pool.shutdown(20000)
