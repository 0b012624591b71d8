"""The fit dialog's editors for prefilter and activation options, labels and tooltips: all from the classes'
declared OPTIONS and the registry (no hand-written lists in the dialog)."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from strfviewer.gui.fitting.fit_dialog import FitDialog  # noqa: E402
from strfviewer.models import registry  # noqa: E402
from strfviewer.models.options import AUTO  # noqa: E402

from .conftest import make_dataset  # noqa: E402


def _pick(box, data):
    box.setCurrentIndex(box.findData(data))


def test_prefilter_and_activation_options_get_editors(qtbot, settings):
    data = make_dataset()
    dialog = FitDialog(dataset=data, settings=settings)
    qtbot.addWidget(dialog)
    _pick(dialog.family_box, "LinearNonlinear")
    _pick(dialog.prefilter_box, "AdapTrans")
    # the data's frame step and band range are not editable (they come from the dataset); the rest is
    assert set(dialog._prefilter_editors) == {"learnable", "init_w"}
    dialog._prefilter_editors["learnable"].set_value(False)
    _pick(dialog.activation_box, "ParametricSigmoid")
    assert set(dialog._activation_editors) == {"bias", "non_negative_output"}
    label = dialog.model_form.labelForField(dialog._activation_editors["non_negative_output"]).text()
    assert label == "Non-negative output"
    dialog._activation_editors["bias"].set_value(False)
    spec = dialog.model_spec()
    assert spec.prefilter_kwargs["learnable"] is False and spec.prefilter_kwargs["dt"] == data.dt_ms
    assert spec.activation_kwargs == {"bias": False, "non_negative_output": True}
    assert dialog.reasons == []
    _pick(dialog.prefilter_box, None)
    assert dialog._prefilter_editors == {} and dialog.model_spec().prefilter_kwargs == {}


def test_choices_remembered_with_their_options(qtbot, settings):
    dialog = FitDialog(dataset=make_dataset(), settings=settings)
    qtbot.addWidget(dialog)
    _pick(dialog.family_box, "LinearNonlinear")
    _pick(dialog.activation_box, "ParametricSigmoid")
    dialog._activation_editors["bias"].set_value(False)
    dialog.accept()
    again = FitDialog(dataset=make_dataset(), settings=settings)
    qtbot.addWidget(again)
    assert again.model_spec().activation_kwargs == {"bias": False, "non_negative_output": True}


def test_tooltips_and_labels_come_from_the_registry(qtbot, settings):
    dialog = FitDialog(settings=settings)
    qtbot.addWidget(dialog)
    for box, kind in ((dialog.kernel_box, "kernel"), (dialog.prefilter_box, "prefilter"),
                      (dialog.activation_box, "activation")):
        for name in registry.names(kind):
            assert f"• {name}: {registry.entry(kind, name).description}" in box.toolTip()
    _pick(dialog.kernel_box, "gaussian")
    label = dialog.model_form.labelForField(dialog._kernel_editors["num_gaussians"]).text()
    assert label == "K (Gaussians)"
    _pick(dialog.family_box, "Transformer")
    assert dialog.model_form.labelForField(dialog._hyper_editors["n_heads"]).text() == "Attention heads"


def test_gaussian_count_editor_offers_auto(qtbot, settings):
    dialog = FitDialog(dataset=make_dataset(), settings=settings)
    qtbot.addWidget(dialog)
    _pick(dialog.kernel_box, "gaussian")
    editor = dialog._kernel_editors["num_gaussians"]
    assert editor.value() == AUTO and editor.editor.text() == AUTO          # the default: the fit chooses K
    assert dialog.model_spec().kernel_kwargs == {"num_gaussians": AUTO} and dialog.reasons == []
    editor.set_value(3)
    assert dialog.model_spec().kernel_kwargs == {"num_gaussians": 3}
    editor.editor.stepBy(-3)                                                  # below 1 Gaussian: back to auto
    assert editor.value() == AUTO
