"""The run history feature in the main window, on the demo data: app fits recorded in the history, the dock
(filter, sort, delete + undo, CSV export, summary), reopening a run, the history location. Sweeps from the app are
in ``test_feature_history_sweeps.py``.

Every test uses its own history database (the ``history/path`` QSettings key of a tmp settings file). Waits are
on state (``qtbot.waitUntil``), never on cross-thread signals.
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QSettings, Qt  # noqa: E402

import strfviewer.fit.run as fit_run  # noqa: E402
from strfviewer.data import load  # noqa: E402
from strfviewer.gui.history.feature import HISTORY_PATH_KEY  # noqa: E402
from strfviewer.gui.history.history_panel import COLUMNS  # noqa: E402
from strfviewer.gui.main_window import MainWindow  # noqa: E402
from strfviewer.models.factory import ModelSpec  # noqa: E402
from strfviewer.runs.history import RunHistory  # noqa: E402
from strfviewer.data.identity import dataset_hash  # noqa: E402
from strfviewer.session import Session  # noqa: E402

TIMEOUT_MS = 60000
DEMO_HASH = dataset_hash("demo")


@pytest.fixture(scope="module")
def demo():
    return load("demo")


@pytest.fixture
def history_path(tmp_path):
    return tmp_path / "history" / "runs.sqlite"


@pytest.fixture
def window(qtbot, tmp_path, demo, history_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue(HISTORY_PATH_KEY, str(history_path))
    win = MainWindow(session=Session(demo), settings=settings)
    qtbot.addWidget(win)
    feature = win.run_history
    qtbot.waitUntil(lambda: feature.dataset_hash is not None and not feature.panel.is_loading, timeout=10000)
    yield win
    win.fitting.queue.cancel_all()
    win.worker_pool.shutdown(20000)
    feature.panel.close_history()


def _request(method="ridge", seed=0, kernel="full", epochs=2):
    return fit_run.FitRequest(spec=ModelSpec("Linear", kernel=kernel, T=8), method=method, epochs=epochs,
                              patience=epochs, batch_size=8, seed=seed, device="cpu")


def _history_rows(path, **filters):
    with RunHistory(path, reap=False) as h:
        return h.runs(**filters)


def _fit(qtbot, window, request):
    window.fitting.submit(request)
    qtbot.waitUntil(lambda: not window.fitting.queue.busy and not window.fitting.queue.pending, timeout=TIMEOUT_MS)
    return window.session.runs[-1]


def _wait_recorded(qtbot, window, n):
    recorder = window.run_history.recorder
    qtbot.waitUntil(lambda: len(recorder.recorded) >= n and not recorder.tracked, timeout=TIMEOUT_MS)


def test_an_app_fit_lands_in_the_history_and_the_dock(qtbot, window, history_path):
    assert "history" in window.installed_features
    run = _fit(qtbot, window, _request())
    assert run.status == "done", run.message
    _wait_recorded(qtbot, window, 1)

    rows = _history_rows(history_path)
    assert len(rows) == 1
    r = rows[0]
    assert (r.status, r.source, r.family, r.kernel, r.method, r.seed) == ("done", "app", "Linear", "full", "ridge", 0)
    assert r.dataset_path == "demo" and r.dataset_hash == DEMO_HASH
    assert r.config["spec"] == run.spec.to_dict() and r.config["request"] == run.request.to_dict()
    expected = float(np.nanmean(run.neuron_values("cc_norm", "test")))
    assert math.isclose(r.mean_test_cc_norm, expected, rel_tol=1e-6)
    assert r.neuron_names == list(window.session.dataset.neuron_names)
    assert r.device == "cpu" and r.seconds is not None and r.n_params == run.n_params
    assert r.checkpoint and (history_path.parent / "runs" / str(r.id) / "config.json").is_file()

    panel = window.run_history.panel
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1 and not panel.is_loading, timeout=10000)
    assert panel.model.record_at(0).id == r.id
    index = panel.proxy.index(0, COLUMNS.index("Test cc_norm"))
    assert panel.proxy.data(index) == f"{expected:.3f}"
    assert "history_dock" in window.docks


def test_a_failed_fit_is_recorded_failed_with_its_message(qtbot, window, history_path, monkeypatch):
    def broken_run_fit(dataset, request, progress=None, cancel=None):
        raise ValueError("the data has no test stimuli")

    monkeypatch.setattr(fit_run, "run_fit", broken_run_fit)
    window.fitting.queue.isolation = "thread"  # the replaced run_fit lives in this process only
    run = _fit(qtbot, window, _request(seed=3))
    assert run.status == "failed"
    _wait_recorded(qtbot, window, 1)
    (r,) = _history_rows(history_path)
    assert r.status == "failed" and "no test stimuli" in r.error and r.seed == 3 and r.checkpoint is None


def test_a_fit_dropped_by_opening_other_data_is_recorded_cancelled(qtbot, window, history_path):
    from .conftest import make_dataset

    window.fitting.queue.isolation = "thread"  # cancels within one step, no process start-up
    window.fitting.submit(_request(method="sgd", epochs=500))
    recorder = window.run_history.recorder
    qtbot.waitUntil(lambda: any(t.history_id for t in recorder.tracked.values()), timeout=TIMEOUT_MS)
    assert _history_rows(history_path)[0].status == "running"
    other = make_dataset()
    window.session.set_dataset(other)  # the queue cancels the fit and drops its run from the session
    _wait_recorded(qtbot, window, 1)
    (r,) = _history_rows(history_path)
    assert r.status == "cancelled" and r.dataset_hash == DEMO_HASH and r.error
    # the dock now shows the other dataset, identified by its contents (it has no file behind it)
    feature = window.run_history
    qtbot.waitUntil(lambda: feature.dataset_hash is not None and feature.dataset_hash.startswith("mem-"),
                    timeout=10000)
    qtbot.waitUntil(lambda: not feature.panel.is_loading, timeout=10000)
    assert feature.panel.model.rowCount() == 0


def test_reopening_a_run_from_the_history_makes_it_current(qtbot, window, history_path):
    fitted = _fit(qtbot, window, _request())
    _wait_recorded(qtbot, window, 1)
    panel = window.run_history.panel
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1 and not panel.is_loading, timeout=10000)
    # another model becomes current first, so reopening has to change it
    window.session.remove_run(fitted)
    assert window.session.current_run is None

    panel.table.selectRow(0)
    record = panel.selected_record()
    assert panel.reopen_action.isEnabled()
    panel.reopen_action.trigger()
    qtbot.waitUntil(lambda: window.session.current_run is not None, timeout=TIMEOUT_MS)
    run = window.session.current_run
    assert run.name.startswith(f"#{record.id} ") and run.model is not None and run.status == "done"
    assert run.get_predictions() is not None
    stim = window.session.stimulus
    np.testing.assert_allclose(run.get_predictions()[stim], fitted.get_predictions()[stim], rtol=1e-4, atol=1e-5)
    values = run.neuron_values("cc_norm", "test")
    np.testing.assert_allclose(values, fitted.neuron_values("cc_norm", "test"), rtol=1e-5)
    assert len(window.run_history.recorder.recorded) == 1  # a reopened run is not recorded again


def _seed_history(path):
    """Five runs: four on the demo (families/kernels/seeds differ), one on another dataset."""
    rows = [("Linear", "full", 0, 0.61, DEMO_HASH), ("Linear", "full", 1, 0.65, DEMO_HASH),
            ("Linear", "separable", 0, 0.40, DEMO_HASH), ("LinearNonlinear", "gaussian", 0, 0.72, DEMO_HASH),
            ("Linear", "full", 0, 0.10, "0123456789abcdef")]
    ids = []
    with RunHistory(path) as h:
        for family, kernel, seed, cc, data_hash in rows:
            rid = h.start_run({"spec": {"family": family, "kernel": kernel, "T": 8},
                               "request": {"method": "sgd", "seed": seed}},
                              dataset_path="demo" if data_hash == DEMO_HASH else "/data/other",
                              dataset_hash=data_hash, source="cli")
            h.finish_run(rid, metrics={"test": {"cc_norm": [cc, cc]}}, epochs=3, seconds=1.5, device="cpu")
            ids.append(rid)
    return ids


def test_the_dock_filters_sorts_deletes_with_undo_and_exports(qtbot, window, history_path, tmp_path):
    ids = _seed_history(history_path)
    panel = window.run_history.panel
    panel.refresh()
    qtbot.waitUntil(lambda: not panel.is_loading, timeout=10000)
    assert {r.id for r in panel.model.records} == set(ids[:4])  # the open dataset only

    panel.all_datasets_box.setChecked(True)
    qtbot.waitUntil(lambda: not panel.is_loading and panel.model.rowCount() == 5, timeout=10000)
    panel.all_datasets_box.setChecked(False)
    qtbot.waitUntil(lambda: not panel.is_loading and panel.model.rowCount() == 4, timeout=10000)

    panel.filter_edit.setText("SEPARABLE")
    assert [r.id for r in panel.visible_records()] == [ids[2]]
    panel.filter_edit.setText("")
    panel.table.sortByColumn(COLUMNS.index("Test cc_norm"), Qt.SortOrder.DescendingOrder)
    assert [r.mean_test_cc_norm for r in panel.visible_records()] == pytest.approx([0.72, 0.65, 0.61, 0.40])

    # summary per configuration: Linear/full has two seeds
    summaries = {s.label: s for s in panel.summary_model.rows}
    lin = summaries["Linear / full"]
    assert lin.n_runs == 2 and lin.n_seeds == 2 and lin.mean == pytest.approx(0.63)
    assert lin.std == pytest.approx(np.std([0.61, 0.65], ddof=1))

    # delete the best run, undo with Ctrl+Z while the dock has focus
    window.show()
    window.run_history.dock.show()
    window.run_history.dock.raise_()
    panel.table.selectRow(0)
    target = panel.selected_record().id
    assert target == ids[3]
    panel._on_context_menu(panel.table.visualRect(panel.proxy.index(0, 0)).center())
    menu_texts = [a.text() for a in panel._context_menu.actions()]
    assert "Reopen" in menu_texts and "Delete" in menu_texts
    panel._context_menu.close()
    panel.delete_action.trigger()
    assert target not in [r.id for r in _history_rows(history_path)]
    assert target not in [r.id for r in panel.model.records]
    window.activateWindow()
    panel.table.setFocus()
    qtbot.waitUntil(panel.table.hasFocus, timeout=5000)
    qtbot.keyClick(panel.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: target in [r.id for r in _history_rows(history_path)], timeout=5000)
    qtbot.waitUntil(lambda: not panel.is_loading and target in [r.id for r in panel.model.records], timeout=10000)
    restored = [r for r in _history_rows(history_path) if r.id == target][0]
    assert restored.family == "LinearNonlinear" and restored.mean_test_cc_norm == pytest.approx(0.72)

    # CSV export of the rows shown (filtered)
    panel.filter_edit.setText("full")
    out = panel.export_csv(tmp_path / "export" / "runs.csv")
    with open(out, newline="") as fh:
        table = list(csv.DictReader(fh))
    assert sorted(int(row["id"]) for row in table) == sorted([ids[0], ids[1]])
    assert {row["kernel"] for row in table} == {"full"}
    assert not list((tmp_path / "export").glob("*.tmp*"))


def test_history_location_action_switches_the_database(qtbot, window, tmp_path):
    other = tmp_path / "elsewhere" / "h.sqlite"
    _seed_history(other)
    feature = window.run_history
    assert feature.set_history_path(other)
    assert window.settings().value(HISTORY_PATH_KEY) == str(other)
    qtbot.waitUntil(lambda: not feature.panel.is_loading and feature.panel.model.rowCount() == 4, timeout=10000)
    bad = tmp_path / "junk.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    assert not feature.set_history_path(bad)
    assert window.errors and "junk.sqlite" in window.errors[-1][1]
    assert feature.path == other



def test_summary_settings_name_what_differs_between_configurations():
    from strfviewer.runs.summary import distinguishing_settings
    from strfviewer.runs.history import RunRecord
    from strfviewer.runs.summary import summarize

    def record(i, epochs, kernel):
        return RunRecord(id=i, status="done", family="Linear", kernel=kernel, seed=i, mean_test_cc_norm=0.5,
                         config={"spec": {"family": "Linear", "kernel": kernel, "T": 8},
                                 "request": {"epochs": epochs, "lr": 0.001, "seed": i,
                                             "spec": {"family": "Linear"}}})

    rows = summarize([record(1, 5, "full"), record(2, 5, "full"), record(3, 9, "full"), record(4, 5, "separable")])
    settings = dict(zip([(s.label, s.n_runs) for s in rows], distinguishing_settings(rows)))
    assert settings == {("Linear / full", 2): "epochs=5", ("Linear / full", 1): "epochs=9",
                        ("Linear / separable", 1): "epochs=5"}


def test_a_history_that_cannot_be_written_is_reported_and_the_fit_stays(qtbot, window, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    window.run_history.recorder.set_path(blocker / "runs.sqlite")  # its folder cannot be created
    window.fitting.queue.isolation = "thread"
    run = _fit(qtbot, window, _request())
    assert run.status == "done" and window.session.current_run is run
    recorder = window.run_history.recorder
    qtbot.waitUntil(lambda: bool(recorder.errors), timeout=TIMEOUT_MS)
    assert window.errors and window.errors[-1][0] == "Run history" and "a-file" in window.errors[-1][1]
    assert not recorder.tracked


def test_dataset_identity_is_computed_once_per_dataset_across_threads(monkeypatch):
    import threading
    import time

    import strfviewer.gui.history.feature as history_feature
    from strfviewer.gui.history.feature import IdentityCache, dataset_identity

    from .conftest import make_dataset

    a, b, a_again = make_dataset(seed=0), make_dataset(seed=1), make_dataset(seed=0)
    ids = [dataset_identity(d) for d in (a, b, a_again)]
    assert all(i[1].startswith("mem-") for i in ids)  # 'synthetic' is no file: hashed from the arrays
    assert ids[0] == ids[2] and ids[0] != ids[1]

    calls = []
    real = history_feature.dataset_identity

    def slow_identity(dataset):
        calls.append(dataset)
        time.sleep(0.2)
        return real(dataset)

    monkeypatch.setattr(history_feature, "dataset_identity", slow_identity)
    cache = IdentityCache()
    assert cache.get(a) is None
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.compute(a))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and results == [ids[0]] * 3 and cache.get(a) == ids[0]
    assert cache.get(a_again) is None  # another object with the same contents is hashed on its own


def test_the_automatic_first_start_fit_is_recorded_once_per_dataset(qtbot, window, history_path):
    recorder = window.run_history.recorder
    for launch in range(3):  # each launch opens the demo and makes the quick ridge fit
        window.open_demo(fit=True)
        qtbot.waitUntil(lambda: window.session.current_run is not None
                        and window.session.current_run.status == "done", timeout=TIMEOUT_MS)
        qtbot.waitUntil(lambda: len(recorder.recorded) + len(recorder.skipped) > launch and not recorder.tracked,
                        timeout=TIMEOUT_MS)
    rows = _history_rows(history_path)
    assert [(r.source, r.status, r.family) for r in rows] == [("app-auto", "done", "Linear")]
    window.quick_fit()  # asked for (Fit > Quick ridge fit): always recorded
    _wait_recorded(qtbot, window, 2)
    assert [r.source for r in _history_rows(history_path)] == ["app-auto", "app"]


def test_a_fit_interrupted_by_closing_the_app_is_recorded_cancelled(qtbot, window, history_path):
    window.fitting.queue.isolation = "thread"
    window.fitting.submit(_request(method="sgd", epochs=500))
    recorder = window.run_history.recorder
    qtbot.waitUntil(lambda: any(t.history_id for t in recorder.tracked.values()), timeout=TIMEOUT_MS)
    window.close()
    (r,) = _history_rows(history_path)
    assert r.status == "cancelled" and "closed" in r.error


def test_the_kernel_column_names_the_kernel_a_run_was_built_with():
    """A Linear run recorded without a kernel name shows 'full', as the runs table and the Model dock do (QA)."""
    from strfviewer.gui.history.history_panel import display
    from strfviewer.runs.history import RunRecord

    assert display(RunRecord(id=1, status="done", config={}, family="Linear", kernel=None), "Kernel") == "full"
    assert display(RunRecord(id=2, status="done", config={}, family="Linear", kernel="gaussian"),
                   "Kernel") == "gaussian"
    assert display(RunRecord(id=3, status="done", config={}, family="StateNet", kernel=None), "Kernel") == "—"
