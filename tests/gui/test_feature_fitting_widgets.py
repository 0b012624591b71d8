"""The fitting feature's widgets on their own: fit dialog, training panel, runs table, model panel.

No fit runs here (see test_feature_fitting_app.py): the dialog is driven like a user would, the training panel
is fed progress events, the runs table and the model panel are given tiny built models.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QDialogButtonBox  # noqa: E402

from strfviewer.fit.fitter import ProgressEvent  # noqa: E402
from strfviewer.fit.metrics import NeuronMetrics  # noqa: E402
from strfviewer.fit.run import FitRequest  # noqa: E402
from strfviewer.gui.fitting import fit_dialog as fit_dialog_module  # noqa: E402
from strfviewer.gui.fitting.fit_dialog import FitDialog  # noqa: E402
from strfviewer.gui.fitting.model_panel import ModelPanel  # noqa: E402
from strfviewer.gui.fitting.runs_table import COLUMNS, RunsPanel  # noqa: E402
from strfviewer.gui.fitting.training_panel import TrainingPanel  # noqa: E402
from strfviewer.models import factory  # noqa: E402
from strfviewer.session import Run, Session  # noqa: E402


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def _pick(box, data):
    index = box.findData(data)
    assert index >= 0, f"{data!r} not offered by {box.objectName()}"
    box.setCurrentIndex(index)


def _ok(dialog):
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)


# ---- fit dialog --------------------------------------------------------------------------------------------------
def test_dialog_offers_the_registry_and_builds_the_request(qtbot, settings):
    dialog = FitDialog(settings=settings)
    qtbot.addWidget(dialog)
    families = [dialog.family_box.itemData(i) for i in range(dialog.family_box.count())]
    assert set(factory.family_names()) == set(families)
    kernels = [dialog.kernel_box.itemData(i) for i in range(dialog.kernel_box.count())]
    assert {"full", "separable", "gaussian"} <= set(kernels)

    _pick(dialog.family_box, "LinearNonlinear")
    _pick(dialog.kernel_box, "gaussian")
    assert "num_gaussians" in dialog._kernel_editors, "the Gaussian-mixture kernel shows its K"
    dialog._kernel_editors["num_gaussians"].set_value(3)
    _pick(dialog.prefilter_box, "AdapTrans")
    dialog._hyper_editors["T"].set_value(12)
    dialog.training_editors["epochs"].set_value(7)
    dialog.training_editors["lr"].set_value(0.003)
    dialog.training_editors["seed"].set_value(5)
    _pick(dialog.device_box, "cpu")
    assert dialog.reasons == [] and _ok(dialog).isEnabled()

    request = dialog.fit_request()
    assert isinstance(request, FitRequest)
    spec = request.spec
    assert (spec.family, spec.kernel, spec.kernel_kwargs, spec.prefilter, spec.T) == \
        ("LinearNonlinear", "gaussian", {"num_gaussians": 3}, "AdapTrans", 12)
    assert (request.epochs, request.lr, request.seed, request.device, request.method) == (7, 0.003, 5, "cpu", "sgd")
    assert factory.check_spec(spec) == []


def test_dialog_statenet_shows_its_rnn_type_and_tooltips(qtbot, settings):
    if "StateNet" not in factory.family_names():
        pytest.skip("StateNet is not registered in this build of the model zoo")
    dialog = FitDialog(settings=settings)
    qtbot.addWidget(dialog)
    _pick(dialog.family_box, "StateNet")
    assert "rnn_type" in dialog._hyper_editors and "T" not in dialog._hyper_editors
    dialog._hyper_editors["rnn_type"].set_value("LSTM")
    for name, editor in dialog._hyper_editors.items():
        assert editor.toolTip(), f"option {name} has no tooltip"
    request = dialog.fit_request()
    assert request.spec.family == "StateNet" and request.spec.rnn_type == "LSTM"


def test_dialog_refuses_invalid_combinations_with_the_reason(qtbot, settings):
    dialog = FitDialog(settings=settings)
    qtbot.addWidget(dialog)
    _pick(dialog.family_box, "LinearNonlinear")
    assert _ok(dialog).isEnabled()
    _pick(dialog.method_box, "ridge")
    assert not _ok(dialog).isEnabled() and "Ridge" in dialog.reasons_label.text()
    assert not dialog.training_editors["epochs"].isEnabled(), "ridge has no epochs"
    dialog.accept()  # pressing Enter anyway does not start anything
    assert dialog.result() != dialog.DialogCode.Accepted
    _pick(dialog.family_box, "Linear")
    assert _ok(dialog).isEnabled()
    _pick(dialog.kernel_box, "separable")
    assert not _ok(dialog).isEnabled(), "ridge only fits the full kernel"
    _pick(dialog.method_box, "sgd")
    assert _ok(dialog).isEnabled() and dialog.reasons_label.isHidden()

    if "Transformer" in factory.family_names():  # a value the family itself refuses: found before starting
        _pick(dialog.family_box, "Transformer")
        _pick(dialog.kernel_box, None)
        dialog._hyper_editors["embedding_dim"].set_value(47)
        assert not _ok(dialog).isEnabled() and "Transformer" in dialog.reasons_label.text()
        dialog._hyper_editors["embedding_dim"].set_value(48)
        assert _ok(dialog).isEnabled()

    no_kernel = [f for f in factory.family_names() if not factory.supports_kernel(f)]
    if no_kernel:  # a family without an STRF convolution refuses every kernel, saying why
        _pick(dialog.family_box, no_kernel[0])
        _pick(dialog.kernel_box, "separable")
        assert not _ok(dialog).isEnabled()
        assert "kernel" in dialog.reasons_label.text() and no_kernel[0] in dialog.reasons_label.text()
        _pick(dialog.kernel_box, None)
        assert _ok(dialog).isEnabled()


def test_dialog_disables_unavailable_devices_with_the_reason(qtbot, settings, monkeypatch):
    monkeypatch.setattr(fit_dialog_module, "_available_devices",
                        lambda: {"cpu": None, "cuda": "no NVIDIA GPU found", "mps": "not a Mac"})
    dialog = FitDialog(settings=settings)
    qtbot.addWidget(dialog)
    model = dialog.device_box.model()
    cuda = dialog.device_box.findData("cuda")
    assert not model.item(cuda).isEnabled()
    assert "no NVIDIA GPU found" in dialog.device_box.itemText(cuda)
    assert model.item(dialog.device_box.findData("cpu")).isEnabled()
    # a remembered choice of a device that has gone is not restored
    settings.setValue(fit_dialog_module.SETTINGS_KEY, '{"device": "cuda"}')
    again = FitDialog(settings=settings)
    qtbot.addWidget(again)
    assert again.device_box.currentData() != "cuda" and again.reasons == []


def test_dialog_remembers_the_last_choices(qtbot, settings):
    dialog = FitDialog(settings=settings)
    qtbot.addWidget(dialog)
    _pick(dialog.family_box, "LinearNonlinear")
    dialog._hyper_editors["T"].set_value(13)
    _pick(dialog.kernel_box, "separable")
    dialog.training_editors["batch_size"].set_value(3)
    dialog.accept()
    assert dialog.result() == dialog.DialogCode.Accepted

    again = FitDialog(settings=settings)
    qtbot.addWidget(again)
    request = again.fit_request()
    assert (request.spec.family, request.spec.T, request.spec.kernel, request.batch_size) == \
        ("LinearNonlinear", 13, "separable", 3)


# ---- training panel --------------------------------------------------------------------------------------------------
def _event(epoch, step, n_steps, loss, val=None, cc=None, kind="step"):
    return ProgressEvent(epoch=epoch, step=step, n_steps=n_steps, train_loss=loss, val_loss=val, val_cc_norm=cc,
                         eta_s=12.0, kind=kind, max_epochs=4)


def test_training_panel_draws_epochs_and_running_loss(qtbot):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.begin("Linear / full", max_epochs=4)
    for epoch in (1, 2):
        for step in (1, 2, 3):
            panel.add_progress(_event(epoch, step, 3, 1.0 / (epoch + step)))
        panel.add_progress(_event(epoch, 3, 3, 0.5 / epoch, 0.6 / epoch, 0.2 * epoch, kind="epoch"))
    qtbot.waitUntil(lambda: len(panel.cc_curve.getData()[0] if panel.cc_curve.getData()[0] is not None else [])
                    == 2, timeout=2000)
    x, y = panel.cc_curve.getData()
    assert list(x) == [1.0, 2.0] and np.allclose(y, [0.2, 0.4])
    assert len(panel.step_curve.getData()[0]) == 6, "the loss moves within epochs"
    assert panel.val_curve.getData()[1][1] == pytest.approx(0.3)
    assert panel.progress_bar.value() == 500  # 2 of 4 epochs
    assert "ETA" in panel.eta_label.text()
    assert panel.curves.best_epoch() == 2

    with qtbot.waitSignal(panel.cancel_requested, timeout=1000):
        panel.cancel_button.click()
    assert not panel.cancel_button.isEnabled()
    panel.end("cancelled", "Cancelled: kept the best weights so far.")
    assert "Cancelled" in panel.title.text() and "best weights" in panel.status_label.text()
    assert panel.cancel_button.text() == "Cancel"  # the cancel finished: no "Cancelling..." left behind


def test_training_panel_marks_the_epoch_the_fit_keeps_including_the_start(qtbot):
    """The best-epoch marker follows the engine's best_epoch (0: the starting weights, plotted at epoch 0),
    not the curve's own maximum: it agrees with 'kept the initial weights'."""
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.begin("LN", max_epochs=10)
    panel.add_progress(ProgressEvent(epoch=0, step=0, n_steps=3, train_loss=float("nan"), val_loss=0.4,
                                     val_cc_norm=0.61, eta_s=None, kind="epoch", best_epoch=0))
    for epoch, cc in ((1, 0.58), (2, 0.6)):
        panel.add_progress(ProgressEvent(epoch=epoch, step=3, n_steps=3, train_loss=0.3, val_loss=0.45,
                                         val_cc_norm=cc, eta_s=1.0, kind="epoch", best_epoch=0))
    panel.end("done", "stopped early at epoch 2; kept the initial weights")
    x, y = panel.cc_curve.getData()
    assert list(x) == [0.0, 1.0, 2.0] and np.allclose(y, [0.61, 0.58, 0.6])
    assert panel.best_line.isVisible() and panel.best_line.value() == 0


def test_training_panel_and_status_bar_show_the_same_percentage(qtbot):
    import types

    from PySide6.QtWidgets import QProgressBar

    from strfviewer.gui.fitting.training_panel import fraction_done
    from strfviewer.gui.main_window import MainWindow

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.begin("LN", max_epochs=100)
    status_bar = QProgressBar()
    qtbot.addWidget(status_bar)
    window = types.SimpleNamespace(busy_bar=status_bar, status=lambda *args: None)
    for step in range(1, 40):  # 4.66 %: rounding and truncation used to disagree (5 % vs 4 %)
        event = _event(5, step, 40, 0.3)
        panel.add_progress(event)
        MainWindow.set_progress(window, fraction_done(event, panel.max_epochs))  # what the fitting feature does
        percent = panel.progress_bar.text().rsplit("(", 1)[1].rstrip("%)")
        assert percent == status_bar.text().rstrip("%"), (step, panel.progress_bar.text(), status_bar.text())


# ---- runs table and model panel ------------------------------------------------------------------------------------
def _run(spec, name, cc_norm):
    model = factory.build_model(spec, n_freqs=8, n_neurons=3)
    metrics = {"test": NeuronMetrics(cc=np.array(cc_norm), cc_max=np.ones(3), cc_norm=np.array(cc_norm))}
    request = FitRequest(spec=spec, epochs=2)
    return Run(name=name, spec=spec, request=request, model=model, metrics=metrics, status="done")


def test_runs_table_shows_runs_compares_and_undoes_delete(qtbot):
    session = Session()
    full = session.add_run(_run(factory.ModelSpec("Linear", kernel="full", T=5), "a", [0.2, 0.4, np.nan]))
    sep = session.add_run(_run(factory.ModelSpec("Linear", kernel="separable", T=5), "b", [0.5, 0.5, 0.5]))
    panel = RunsPanel(session)
    qtbot.addWidget(panel)
    model = panel.model
    col = {c: i for i, c in enumerate(COLUMNS)}

    def cell(row, column):
        return model.data(model.index(row, col[column]))

    assert model.rowCount() == 2
    assert cell(0, "Kernel") == "full" and cell(1, "Kernel") == "separable"
    assert cell(0, "Test cc_norm") == "0.300"  # mean over the neurons that have a value
    assert int(cell(0, "Params").replace(",", "")) == full.n_params != sep.n_params
    assert cell(0, "Shown") == "current"

    panel.select_run(sep)
    panel.compare_action.trigger()
    assert session.compare_run is sep and cell(1, "Shown") == "compare"
    panel.show_action.trigger()
    assert session.current_run is sep and session.compare_run is None

    panel.select_run(full)
    panel.delete_action.trigger()
    assert session.runs == [sep] and model.rowCount() == 1
    panel.undo_action.trigger()
    assert session.runs == [full, sep] and model.rowCount() == 2


def test_model_panel_describes_the_model_and_asks_for_swapped_refits(qtbot):
    session = Session()
    spec = factory.ModelSpec("LinearNonlinear", kernel="full", T=6)
    run = session.add_run(_run(spec, "ln", [0.1, 0.2, 0.3]))
    panel = ModelPanel(session)
    qtbot.addWidget(panel)
    slots = [panel.slots_table.item(r, 0).text() for r in range(panel.slots_table.rowCount())]
    assert slots == ["wav2spec", "prefiltering", "core", "readout"]
    counted = sum(int(panel.slots_table.item(r, 2).text().replace(",", "")) for r in range(len(slots)))
    assert counted == run.n_params
    assert not panel.kernel_buttons["full"].isEnabled(), "the current kernel is not offered again"

    with qtbot.waitSignal(panel.refit_requested, timeout=1000) as blocker:
        panel.kernel_buttons["separable"].click()
    request, base = blocker.args
    assert base is run
    assert request.spec == dataclasses.replace(spec, kernel="separable", kernel_kwargs={})
    assert request.epochs == run.request.epochs, "the other settings are kept"

    with qtbot.waitSignal(panel.refit_requested, timeout=1000) as blocker:
        panel.prefilter_buttons["AdapTrans"].click()
    assert blocker.args[0].spec.prefilter == "AdapTrans" and blocker.args[0].spec.kernel == "full"


def test_runs_table_keyboard_show_delete_undo(qtbot):
    from PySide6.QtCore import Qt

    session = Session()
    first = session.add_run(_run(factory.ModelSpec("Linear", kernel="full", T=5), "a", [0.1, 0.2, 0.3]))
    second = session.add_run(_run(factory.ModelSpec("Linear", kernel="separable", T=5), "b", [0.1, 0.2, 0.3]))
    panel = RunsPanel(session)
    qtbot.addWidget(panel)
    panel.show()
    panel.activateWindow()
    qtbot.waitActive(panel)
    panel.select_run(second)
    panel.table.setFocus()
    qtbot.waitUntil(panel.table.hasFocus)
    qtbot.keyClick(panel.table, Qt.Key.Key_Return)
    assert session.current_run is second
    qtbot.keyClick(panel.table, Qt.Key.Key_Delete)
    assert session.runs == [first] and session.current_run is first
    qtbot.keyClick(panel.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert session.runs == [first, second] and session.current_run is second


def test_training_panel_paints_the_start_epoch_without_a_nan_warning(qtbot):
    """Epoch 0 has no training loss (and a flat StateNet start has no val cc_norm): the symbols of a curve whose
    every point is NaN made pyqtgraph warn 'All-NaN slice encountered' on each repaint during the fit."""
    import warnings

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.show()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        panel.begin("StateNet", max_epochs=4)
        panel.add_progress(ProgressEvent(epoch=0, step=0, n_steps=3, train_loss=float("nan"), val_loss=0.4,
                                         val_cc_norm=float("nan"), eta_s=None, kind="epoch", best_epoch=0))
        qtbot.waitUntil(lambda: panel.val_curve.getData()[0] is not None
                        and len(panel.val_curve.getData()[0]) == 1, timeout=2000)
        panel.grab()
    assert [str(w.message) for w in caught if "NaN" in str(w.message)] == []
    assert panel.val_curve.getData()[1][0] == pytest.approx(0.4)
