"""Sweeps from the app: the New sweep dialog (trials, seeds, checks, TOML save/load), the Sweep dock's two-level
cancel, and a tiny real sweep in one local worker process whose results show in the Run history dock.

Uses the main-window fixtures of ``test_feature_history.py`` (own history database per test). Waits are on state.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from strfviewer.gui.history.feature import AppCancelToken  # noqa: E402
from strfviewer.gui.history.sweep_dialog import (NONE_PREFILTER, SweepDialog, format_seeds, grid_blocks,  # noqa: E402
                                         parse_seeds, sweep_to_toml)
from strfviewer.gui.history.sweep_panel import KILL_TEXT, format_eta  # noqa: E402
from strfviewer.runs.sweep_spec import SweepError, SweepSpec  # noqa: E402

from .test_feature_history import TIMEOUT_MS, _history_rows, demo, history_path, window  # noqa: E402,F401


def test_seed_text_parsing():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds(" 3, 0-1 ,1 7") == [3, 0, 1, 7]
    for bad in ("", "a", "4-2", "-1", "1.5"):
        with pytest.raises(ValueError, match="seeds"):
            parse_seeds(bad)
    for seeds in ([0, 1, 2, 5], [7], [0, 2, 4], [3, 4, 9, 10, 11]):
        assert parse_seeds(format_seeds(seeds)) == seeds


def test_grid_blocks_expand_to_the_expected_configurations():
    kwargs = {"dt": 5.0, "min_freq": 500.0}
    blocks = grid_blocks(["Linear", "ConvNet2D"], ["full", "separable"], [NONE_PREFILTER, "AdapTrans"], 10, kwargs)
    spec = SweepSpec.from_dict({"data": ["demo"], "seeds": [0, 1], "model": blocks})
    configs = spec.configurations()
    # Linear: 2 kernels x (none + AdapTrans) = 4; ConvNet2D has no kernel and no T: none + AdapTrans = 2
    assert len(configs) == 6 and len(spec.trials()) == 12
    for cfg in configs:
        assert ("prefilter_kwargs" in cfg) == ("prefilter" in cfg)
        assert ("kernel" in cfg) == (cfg["family"] == "Linear") == ("T" in cfg)


def test_the_dialog_counts_trials_checks_them_and_round_trips_toml(qtbot, demo, tmp_path):
    dialog = SweepDialog(dataset=demo)
    qtbot.addWidget(dialog)
    assert dialog.data_sources() == ["demo"]
    dialog.set_blocks([])
    assert dialog.update_summary() == 0 and dialog.problems
    assert not dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()

    from strfviewer.gui.history.sweep_dialog import set_checked

    set_checked(dialog.family_list, ["Linear", "LinearNonlinear"])
    set_checked(dialog.kernel_list, ["full", "separable", "gaussian"])
    set_checked(dialog.prefilter_list, [NONE_PREFILTER, "AdapTrans"])
    dialog.add_grid()
    dialog.seeds_edit.setText("0-4")
    dialog.add_data(str(tmp_path))  # a second dataset (an existing folder)
    # 2 families x 3 kernels x 2 prefilter choices x 5 seeds x 2 datasets
    assert dialog.update_summary() == 2 * 3 * 2 * 5 * 2
    assert "12 configuration(s) x 2 dataset(s) x 5 seed(s)" in dialog.trials_label.text()
    assert dialog.problems == [], dialog.problems
    assert dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()

    # ridge cannot fit separable kernels or prefilters: refused before anything runs
    dialog.method_box.setCurrentIndex(dialog.method_box.findData("ridge"))
    assert dialog.problems and any("ridge" in p for p in dialog.problems)
    assert not dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()
    dialog.method_box.setCurrentIndex(dialog.method_box.findData("sgd"))
    dialog.seeds_edit.setText("two")
    assert dialog.problems and "seeds" in dialog.problems[0]
    dialog.seeds_edit.setText("0-4")

    spec = dialog.sweep_spec()
    path = dialog.save_toml(tmp_path / "sweeps" / "grid.toml")
    again = SweepSpec.from_toml(path)
    assert [t.to_dict() for t in again.trials()] == [t.to_dict() for t in spec.trials()]

    other = SweepDialog(dataset=None)
    qtbot.addWidget(other)
    other.load_toml(path)
    assert other.update_summary() == len(spec.trials())
    assert [t.to_dict() for t in other.sweep_spec().trials()] == [t.to_dict() for t in spec.trials()]
    assert other.seeds_edit.text() == "0-4" and other.epochs_box.value() == spec.fit["epochs"]

    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\n[[model]]\nfamily = 'Linear'\n")
    with pytest.raises(SweepError, match="bad.toml"):
        other.load_toml(bad)


def test_toml_writer_handles_odd_values(tmp_path):
    spec = SweepSpec.from_dict({"name": 'quote " and \\ and é', "data": ["demo"], "seeds": [0],
                                "model": [{"family": "Linear", "T": 5, "x": {"value": [1, 2]},
                                           "flag": True, "scale": 0.1}], "fit": {"lr": 1e-05}})
    text = sweep_to_toml(spec)
    path = tmp_path / "odd.toml"
    path.write_text(text, encoding="utf-8")
    again = SweepSpec.from_toml(path)
    assert again.name == spec.name and again.fit == {"lr": 1e-05}
    (trial,) = again.trials()
    assert trial.spec["hyper"] == {"x": [1, 2], "flag": True, "scale": 0.1}


def test_eta_text():
    assert format_eta(None) == "" and format_eta(42) == "42 s"
    assert format_eta(185) == "3 min 05 s" and format_eta(3720) == "1 h 02 min"


# ---- sweeps -----------------------------------------------------------------------------------------------------------
class BlockingExecutor:
    """In-process executor whose trials finish only when released (or are killed by a forced cancel)."""

    workers = 1

    def __init__(self):
        self.release = threading.Event()
        self.submitted, self.cancels = [], []
        self.killed = False

    def describe(self):
        return "a test executor"

    def submit(self, trial):
        self.submitted.append(trial)
        return len(self.submitted) - 1

    def wait(self, handles, timeout_s):
        if self.killed:
            return [(h, None, RuntimeError("killed")) for h in handles], []
        if not self.release.wait(timeout_s):
            return [], list(handles)
        from strfviewer.runs.trial import execute_trial

        return [(handles[0], execute_trial(self.submitted[handles[0]], torch_threads=1), None)], list(handles[1:])

    def cancel(self, handles, force=False):
        self.cancels.append(force)
        self.killed = self.killed or force

    def shutdown(self):
        pass


def _sweep(seeds=(0, 1), name="tiny"):
    return SweepSpec.from_dict({"name": name, "data": ["demo"], "seeds": list(seeds),
                                "model": [{"family": "Linear", "T": 8}], "fit": {"method": "ridge"}})


def test_cancel_twice_stops_pending_then_kills_running(qtbot, window, history_path, monkeypatch):
    import strfviewer.runs.executors as executors

    fake = BlockingExecutor()
    monkeypatch.setattr(executors, "make_executor", lambda address=None, workers=None: fake)
    feature = window.run_history
    feature.start_sweep(_sweep(seeds=(0, 1, 2)))
    panel = feature.sweep_panel
    qtbot.waitUntil(lambda: panel.progress is not None and panel.progress.running == 1, timeout=10000)
    assert not feature.new_sweep_action.isEnabled()

    assert panel.cancel_button.isEnabled()
    panel.cancel_button.click()
    assert panel.cancel_button.text() == KILL_TEXT and feature.sweep_token.level == 1
    qtbot.waitUntil(lambda: panel.progress.cancelled == 2, timeout=10000)  # the two pending trials
    assert feature.sweep_running  # the running trial goes on
    panel.cancel_button.click()
    assert feature.sweep_token.level == 2 and not panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not feature.sweep_running, timeout=10000)
    assert fake.cancels[-1] is True and len(fake.submitted) == 1
    p = feature.sweep_report.progress
    assert (p.done, p.cancelled, p.remaining) == (0, 3, 0)
    (row,) = _history_rows(history_path)
    assert row.status == "failed" and "second cancel" in row.error
    assert feature.new_sweep_action.isEnabled()


def test_app_token_kills_when_the_worker_is_cancelled():
    token = AppCancelToken()
    event = threading.Event()
    token.link(event)
    assert token.level == 0
    assert token.request() == 1 and token.level == 1
    event.set()
    assert token.level == 2


def test_a_tiny_sweep_from_the_app_runs_in_a_worker_process(qtbot, window, history_path):
    feature = window.run_history
    feature.new_sweep_action.trigger()  # Fit > New sweep...
    dialog = feature.dialog
    assert dialog is not None and dialog.isVisible()
    dialog.set_spec(_sweep(seeds=(0, 1), name="app-sweep"))
    dialog.local_radio.setChecked(True)
    dialog.workers_box.setValue(1)
    assert dialog.update_summary() == 2 and not dialog.problems
    assert dialog.executor_choice() == (None, 1)
    dialog.accept()
    qtbot.waitUntil(lambda: feature.sweep_running, timeout=5000)
    qtbot.waitUntil(lambda: not feature.sweep_running, timeout=TIMEOUT_MS)
    assert feature.sweep_error is None
    p = feature.sweep_report.progress
    assert (p.done, p.failed, p.skipped) == (2, 0, 0)
    assert "2 done" in feature.sweep_panel.title.text()
    assert feature.sweep_panel.count_labels["done"].text() == "2"
    panel = feature.panel
    qtbot.waitUntil(lambda: not panel.is_loading and panel.model.rowCount() == 2, timeout=10000)
    assert {r.source for r in panel.model.records} == {"sweep:app-sweep"}
    assert {r.seed for r in panel.model.records} == {0, 1}
    assert all(r.status == "done" and r.mean_test_cc_norm > 0 for r in panel.model.records)

    # a sweep trial's checkpoint reopens as the current run, scored on the open dataset
    panel.table.selectRow(0)
    record = panel.selected_record()
    panel.reopen_selected()
    qtbot.waitUntil(lambda: window.session.current_run is not None
                    and window.session.current_run.name.startswith(f"#{record.id} "), timeout=TIMEOUT_MS)
    run = window.session.current_run
    assert run.model is not None and run.get_predictions() is not None
    values = run.neuron_values("cc_norm", "test")
    assert values is not None and abs(float(np.nanmean(values)) - record.mean_test_cc_norm) < 1e-4


def test_a_model_from_the_fit_dialog_becomes_one_block(qtbot, demo, tmp_path):
    from strfviewer.fit.run import FitRequest
    from strfviewer.gui.history.sweep_dialog import block_from_request
    from strfviewer.models.factory import ModelSpec

    spec = ModelSpec("StateNet", rnn_type="GRU", hyper={"hidden_size": 8, "sizes": [3, 4]})
    block = block_from_request(FitRequest(spec=spec, lr=0.01, batch_size=2))
    (trial,) = SweepSpec.from_dict({"data": ["demo"], "model": [block]}).trials()  # a list value is no grid axis
    assert ModelSpec.from_dict(trial.spec) == spec
    assert trial.request["lr"] == 0.01 and trial.request["batch_size"] == 2

    dialog = SweepDialog(dataset=demo)
    qtbot.addWidget(dialog)
    dialog.set_blocks([])
    fit_dialog = dialog.open_fit_dialog()
    fit_dialog.family_box.setCurrentIndex(fit_dialog.family_box.findData("LinearNonlinear"))
    fit_dialog.kernel_box.setCurrentIndex(fit_dialog.kernel_box.findData("separable"))
    fit_dialog.accept()
    qtbot.waitUntil(lambda: dialog.fit_dialog is None, timeout=5000)
    assert len(dialog.blocks) == 1 and dialog.blocks[0]["family"] == "LinearNonlinear"
    assert dialog.blocks[0]["kernel"] == "separable"
    dialog.seeds_edit.setText("0-1")
    assert dialog.update_summary() == 2 and not dialog.problems
    path = dialog.save_toml(tmp_path / "one.toml")
    assert [t.to_dict() for t in SweepSpec.from_toml(path).trials()] == [t.to_dict()
                                                                          for t in dialog.sweep_spec().trials()]


def test_an_executor_that_cannot_start_is_reported(qtbot, window, monkeypatch):
    import strfviewer.runs.executors as executors

    def no_cluster(address=None, workers=None):
        raise ConnectionError(f"could not connect to a Ray cluster at {address}")

    monkeypatch.setattr(executors, "make_executor", no_cluster)
    feature = window.run_history
    feature.start_sweep(_sweep(), address="ray://nowhere:10001")
    qtbot.waitUntil(lambda: not feature.sweep_running, timeout=10000)
    assert "ray://nowhere:10001" in feature.sweep_error and feature.sweep_report is None
    assert "ray://nowhere" in feature.sweep_panel.last_label.text()
    assert not feature.sweep_panel.cancel_button.isEnabled() and feature.new_sweep_action.isEnabled()
    assert window.errors[-1][0] == "The sweep stopped"


def test_the_dialog_remembers_the_last_sweep_with_the_new_datas_prefilter_arguments(qtbot, demo, tmp_path):
    from types import SimpleNamespace

    from PySide6.QtCore import QSettings

    from strfviewer.gui.history.sweep_dialog import set_checked

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    first = SweepDialog(dataset=demo, settings=settings)
    qtbot.addWidget(first)
    first.set_blocks([])
    set_checked(first.prefilter_list, ["AdapTrans"])
    first.add_grid()
    first.seeds_edit.setText("3-4")
    first.epochs_box.setValue(7)
    first.accept()
    assert first.result() == first.DialogCode.Accepted
    assert first.blocks[0]["prefilter_kwargs"]["dt"] == demo.dt_ms

    other_data = SimpleNamespace(source="elsewhere", dt_ms=10.0, frontend={"f_min_hz": 300.0})
    second = SweepDialog(dataset=other_data, settings=settings)
    qtbot.addWidget(second)
    assert len(second.blocks) == 1 and second.blocks[0]["prefilter"] == "AdapTrans"
    assert second.blocks[0]["prefilter_kwargs"] == {"dt": 10.0, "min_freq": 300.0}
    assert second.seeds_edit.text() == "3-4" and second.epochs_box.value() == 7
    assert second.data_sources() == []  # 'elsewhere' cannot be loaded again
