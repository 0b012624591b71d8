"""The fitting feature inside the main window, on the demo data: real (tiny) fits in worker threads.

Fit from the dialog and watch the curves, cancel a fit, queue fits, a failing fit, swap the kernel from the
model panel, save a run and open it again. Waits are on state (``qtbot.waitUntil``), never on cross-thread
signals.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QSettings  # noqa: E402

import strfviewer.fit.run as fit_run  # noqa: E402
from strfviewer.data import load  # noqa: E402
from strfviewer.gui.main_window import MainWindow  # noqa: E402
from strfviewer.models.factory import ModelSpec  # noqa: E402
from strfviewer.session import Session  # noqa: E402

FIT_TIMEOUT_MS = 60000


@pytest.fixture(scope="module")
def demo():
    return load("demo")


@pytest.fixture
def window(qtbot, tmp_path, demo):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(session=Session(demo), settings=settings)
    qtbot.addWidget(win)
    yield win
    win.fitting.queue.cancel_all()
    win.worker_pool.shutdown(20000)


def _request(**changes):
    spec = changes.pop("spec", ModelSpec("Linear", kernel="full", T=8))
    base = dict(spec=spec, method="sgd", epochs=3, patience=3, batch_size=8, seed=0, device="cpu")
    base.update(changes)
    return fit_run.FitRequest(**base)


def _wait_idle(qtbot, feature, timeout=FIT_TIMEOUT_MS):
    qtbot.waitUntil(lambda: not feature.queue.busy and not feature.queue.pending, timeout=timeout)


def _fit_one(qtbot, window, **changes):
    """Fit ``_request(**changes)`` through the feature and return the finished run."""
    window.fitting.submit(_request(**changes))
    _wait_idle(qtbot, window.fitting)
    return window.session.current_run


def test_fit_from_the_dialog_updates_curves_and_runs(qtbot, window):
    feature = window.fitting
    assert "fitting" in window.installed_features
    dialog = feature.make_dialog()
    qtbot.addWidget(dialog)
    dialog.family_box.setCurrentIndex(dialog.family_box.findData("Linear"))
    dialog.kernel_box.setCurrentIndex(dialog.kernel_box.findData("full"))
    dialog._hyper_editors["T"].set_value(8)
    dialog.training_editors["epochs"].set_value(3)
    dialog.training_editors["patience"].set_value(3)
    dialog.device_box.setCurrentIndex(dialog.device_box.findData("cpu"))
    assert dialog.reasons == []
    feature.submit(dialog.fit_request())

    _wait_idle(qtbot, feature)
    run = window.session.runs[-1]
    assert run.status == "done", run.message
    assert run.model is not None and window.session.current_run is run
    panel = feature.training_panel
    # epoch 0 (the starting weights' score) and the 3 epochs
    assert panel.curves.epoch_x == [0.0, 1.0, 2.0, 3.0] and np.isfinite(panel.curves.val_cc_norm).all()
    qtbot.waitUntil(lambda: panel.cc_curve.getData()[0] is not None and len(panel.cc_curve.getData()[0]) == 4)
    # the best-epoch marker is where the kept weights come from, as the message says
    best = run.outcome.history.best_epoch
    assert panel.best_line.isVisible() and panel.best_line.value() == best
    if run.outcome.history.best_epoch_per_neuron is not None:  # Linear: each neuron keeps its own best epoch
        assert f"the population's best was {best}" in run.message
    else:
        assert ("kept the initial weights" if best == 0 else f"kept the weights of epoch {best}") in run.message
    row = feature.runs_panel.model.row_of(run)
    assert feature.runs_panel.model.display(run, "Epochs").split()[0] == "3" and row >= 0
    assert feature.runs_panel.model.display(run, "Test cc_norm") != ""
    assert "Finished" in panel.title.text()


def test_cancel_keeps_the_best_weights_and_the_app_state(qtbot, window):
    feature = window.fitting
    feature.submit(_request(epochs=500, patience=500))
    panel = feature.training_panel
    qtbot.waitUntil(lambda: len(panel.curves.epoch_x) >= 2, timeout=FIT_TIMEOUT_MS)
    assert feature.cancel_action.isEnabled()
    panel.cancel_button.click()
    _wait_idle(qtbot, feature, timeout=20000)

    run = window.session.runs[-1]
    assert run.status == "cancelled"
    assert "best weights" in run.message
    assert run.model is not None and window.session.current_run is run
    assert run.outcome.history.n_epochs < 500
    assert "Cancelled" in panel.title.text() and not panel.cancel_button.isEnabled()
    assert not feature.cancel_action.isEnabled()
    window.session.select_neuron(1)  # the app keeps working
    assert window.session.neuron == 1


def test_opening_other_data_cancels_the_fits_of_the_previous_data(qtbot, window, demo):
    feature = window.fitting
    feature.submit(_request(epochs=500, patience=500))
    feature.submit(_request(epochs=500, patience=500, seed=3))
    qtbot.waitUntil(lambda: len(feature.training_panel.curves.epoch_x) >= 1, timeout=FIT_TIMEOUT_MS)
    window.session.set_dataset(demo)
    assert not feature.queue.pending
    _wait_idle(qtbot, feature, timeout=20000)
    assert window.session.runs == [] and window.session.current_run is None
    assert "another dataset" in feature.training_panel.status_label.text()


def test_closing_the_window_during_a_fit_stops_it(qtbot, window):
    import time

    feature = window.fitting
    feature.submit(_request(epochs=500, patience=500))
    feature.submit(_request(epochs=500, patience=500, seed=4))
    qtbot.waitUntil(lambda: len(feature.training_panel.curves.epoch_x) >= 1, timeout=FIT_TIMEOUT_MS)
    t0 = time.monotonic()
    window.close()
    assert time.monotonic() - t0 < 15, "closing waits for the fit to stop after its current step"
    qtbot.wait(200)  # the ended fit's callbacks run: they must not start the queued one
    assert not feature.queue.pending and not feature.queue.busy
    assert not window.worker_pool.workers


@pytest.mark.slow
def test_a_dead_fit_process_fails_the_fit_and_is_replaced(qtbot, window):
    import os
    import signal

    from strfviewer.gui.fitting.fit_queue import fit_server

    feature = window.fitting
    feature.submit(_request(epochs=500, patience=500))
    qtbot.waitUntil(lambda: len(feature.training_panel.curves.epoch_x) >= 1, timeout=FIT_TIMEOUT_MS)
    os.kill(fit_server().process.pid, signal.SIGKILL)  # e.g. the system's out-of-memory killer
    _wait_idle(qtbot, feature, timeout=20000)
    dead = window.session.runs[-1]
    assert dead.status == "failed" and "ended unexpectedly" in dead.message and "memory" in dead.message

    again = _fit_one(qtbot, window, epochs=1)
    assert again.status == "done" and again is not dead


def test_queued_fits_run_in_order_and_a_failure_is_readable(qtbot, window, monkeypatch):
    feature = window.fitting
    real_run_fit = fit_run.run_fit
    calls = []

    def flaky_run_fit(dataset, request, progress=None, cancel=None):
        calls.append(request.seed)
        if request.seed == 1:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_run_fit(dataset, request, progress=progress, cancel=cancel)

    monkeypatch.setattr(fit_run, "run_fit", flaky_run_fit)
    feature.queue.isolation = "thread"  # the replaced run_fit lives in this process only
    feature.submit(_request(seed=1, epochs=1))
    feature.submit(_request(seed=2, epochs=1))
    assert len(feature.queue.pending) >= 1
    _wait_idle(qtbot, feature)

    assert calls == [1, 2]
    failed, ok = window.session.runs[-2:]
    assert failed.status == "failed" and "smaller batch" in failed.message and "CPU" in failed.message
    assert ok.status == "done"
    assert window.session.current_run is ok


def test_a_diverging_fit_fails_with_a_readable_message(qtbot, window):
    feature = window.fitting
    before = window.session.current_run
    feature.submit(_request(spec=ModelSpec("LinearNonlinear", T=8), lr=1e4, weight_decay=0.0, warm_start=False))
    _wait_idle(qtbot, feature)
    run = window.session.runs[-1]
    assert run.status == "failed"
    assert "diverged" in run.message and "learning rate" in run.message
    assert window.session.current_run is before, "a diverged fit does not replace the model shown"
    assert "Failed" in feature.training_panel.title.text()


def test_kernel_swap_from_the_model_panel_adds_a_compared_run(qtbot, window):
    feature = window.fitting
    first = _fit_one(qtbot, window, epochs=2)
    button = feature.model_panel.kernel_buttons["separable"]
    qtbot.waitUntil(button.isEnabled)
    button.click()
    qtbot.waitUntil(lambda: len(window.session.runs) == 2)
    _wait_idle(qtbot, feature)

    second = window.session.runs[-1]
    assert second.status == "done" and second.spec.kernel == "separable"
    assert dataclasses.replace(second.spec, kernel="full") == first.spec
    assert second.n_params != first.n_params
    assert window.session.current_run is second and window.session.compare_run is first
    assert feature.model_panel.run is second


def test_save_and_reopen_a_run_gives_the_same_results(qtbot, window, tmp_path):
    feature = window.fitting
    run = _fit_one(qtbot, window, epochs=2)
    folder = tmp_path / "saved-run"
    feature.save_run(run, str(folder))
    qtbot.waitUntil(lambda: run.checkpoint_path is not None, timeout=20000)
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()

    feature.open_run(str(folder))
    qtbot.waitUntil(lambda: len(window.session.runs) == 2, timeout=20000)
    reopened = window.session.runs[-1]
    qtbot.waitUntil(lambda: reopened.get_metrics() is not None and reopened.get_predictions() is not None,
                    timeout=20000)
    assert reopened.spec == run.spec and reopened.n_params == run.n_params
    for split in ("train", "val", "test"):
        np.testing.assert_allclose(reopened.get_metrics()[split].cc_norm, run.get_metrics()[split].cc_norm,
                                   rtol=1e-4, atol=1e-6)
    stim = window.session.stimulus
    np.testing.assert_allclose(reopened.get_predictions()[stim], run.get_predictions()[stim], rtol=1e-4,
                               atol=1e-5)

    # the same model met with spectrograms made otherwise: said, and no predictions on inputs it never saw
    from strfviewer.gui.fitting.runs_table import open_run_checkpoint

    demo = window.session.dataset
    other = dataclasses.replace(demo, frontend=dict(demo.frontend, dt_ms=2 * demo.dt_ms))
    elsewhere = open_run_checkpoint(folder, other)
    assert elsewhere.predictions is None and "dt_ms" in elsewhere.message
    assert elsewhere.metrics is not None, "the saved metrics still describe the model"
