"""The fit dialog's front-end learning rate (on only for a learnable front-end fitted by SGD; 'same as lr' =
None) and the model panel's front-end swap keeping the previous front-end's options."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from strfviewer.data import load  # noqa: E402
from strfviewer.fit.run import FitRequest  # noqa: E402
from strfviewer.gui.fitting.fit_dialog import FitDialog  # noqa: E402
from strfviewer.gui.fitting.frontend_slot import carried_kwargs  # noqa: E402
from strfviewer.gui.fitting.model_panel import ModelPanel  # noqa: E402
from strfviewer.models.factory import ModelSpec  # noqa: E402
from strfviewer.session import Run, Session  # noqa: E402

from .conftest import make_run  # noqa: E402


@pytest.fixture(scope="module")
def demo():
    return load("demo")


def _choose(dialog, frontend: str, method: str = "sgd") -> None:
    dialog.frontend_box.setCurrentIndex(dialog.frontend_box.findText(frontend))
    dialog.method_box.setCurrentIndex(dialog.method_box.findData(method))


def test_the_front_end_learning_rate_is_offered_only_for_a_learnable_front_end(qtbot, settings, demo):
    dialog = FitDialog(dataset=demo, settings=settings)
    qtbot.addWidget(dialog)
    editor = dialog.training_editors["frontend_lr"]
    assert not editor.isEnabled() and "no learnable front-end" in editor.toolTip()     # spectrogram input
    _choose(dialog, "CausalMel")
    assert not editor.isEnabled(), "CausalMel has nothing to learn"

    _choose(dialog, "LEAF")
    assert dialog.validate() == [] and editor.isEnabled()
    assert editor.editor.text() == "same as lr" and dialog.fit_request().frontend_lr is None    # empty = lr
    editor.set_value(2e-4)
    dialog.training_editors["lr"].set_value(3e-3)
    request = dialog.fit_request()
    assert request.frontend_lr == pytest.approx(2e-4) and request.lr == pytest.approx(3e-3)

    dialog._frontend_editors["learn_filters"].set_value(False)        # still learns pooling and PCEN
    assert editor.isEnabled()
    for name in ("learn_pooling", "learn_pcen"):
        dialog._frontend_editors[name].set_value(False)
    assert not editor.isEnabled() and dialog.fit_request().frontend_lr is None, "a frozen LEAF learns nothing"

    _choose(dialog, "SincNet", "ridge")
    assert not editor.isEnabled() and "ridge" in editor.toolTip()

    _choose(dialog, "SincNet", "sgd")
    assert editor.isEnabled() and dialog.fit_request().frontend_lr == pytest.approx(2e-4)   # the value is kept
    dialog.accept()
    again = FitDialog(dataset=demo, settings=settings)                # remembered with the other choices
    qtbot.addWidget(again)
    assert again.fit_request().frontend_lr == pytest.approx(2e-4)
    again.set_request(FitRequest(spec=ModelSpec("Linear", frontend="SincNet"), frontend_lr=5e-5))
    assert again.training_editors["frontend_lr"].value() == pytest.approx(5e-5)
    assert again.fit_request().frontend_lr == pytest.approx(5e-5)


def test_refit_with_another_front_end_keeps_the_options_it_declares_too(qtbot, demo):
    spec = ModelSpec("Linear", T=15, frontend="CausalMel",
                     frontend_kwargs={"n_mels": 20, "f_min": 300.0, "compression": "cubic", "win_ms": 20.0,
                                      "normalize": True})
    session = Session(demo)
    run = session.add_run(Run(name="mel", spec=spec, request=FitRequest(spec=spec, method="sgd", frontend_lr=1e-4),
                              model=make_run(demo).model), make_current=True)
    panel = ModelPanel(session)
    qtbot.addWidget(panel)
    asked = []
    panel.refit_requested.connect(lambda request, source: asked.append(request))
    for name in ("Gammatone", "LEAF", "GaborFilterbank", "spectrogram"):
        assert panel.frontend_buttons[name].isEnabled(), panel.frontend_buttons[name].toolTip()
        panel.frontend_buttons[name].click()
    gammatone, leaf, gabor, spectrogram = (r.spec for r in asked)
    # the band count and limits under each front-end's own names; normalize by its name; win_ms is not
    # Gammatone's option, and Gammatone refuses 'cubic' compression: both left at its defaults
    assert gammatone.frontend_kwargs == {"n_filters": 20, "f_min": 300.0, "f_max": 8000.0, "normalize": True}
    assert leaf.frontend_kwargs == {"n_filters": 20, "f_min": 300.0, "f_max": 8000.0, "normalize": True}
    assert gabor.frontend_kwargs == {"n_bands": 20, "f_min_hz": 300.0, "f_max_hz": 8000.0, "normalize": True}
    assert spectrogram.frontend is None and spectrogram.frontend_kwargs == {}
    assert all(r.frontend_lr == pytest.approx(1e-4) for r in asked), "the training settings are the run's"


def test_a_front_end_at_its_defaults_passes_its_band_count_on(demo):
    # CausalMel's default is 34 bands; Gammatonegram's own default (50) is not what the user had
    kept = carried_kwargs("CausalMel", {}, "Gammatonegram", demo)
    assert kept["n_filters"] == 34 and kept["f_min"] == 500.0
    assert "audio_fs" not in kept, "the sample rate stays the engine's choice from the data"
    assert carried_kwargs("CausalMel", {"audio_fs": 8000}, "LEAF", demo)["audio_fs"] == 8000
