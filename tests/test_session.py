"""The Qt-free Session: events, selection, runs with undoable removal."""

import numpy as np
import pytest

from strfviewer.data.dataset import NeuralDataset, Stimulus
from strfviewer.session import Run, Session


def _dataset(n=3, names=("a", "b", "c", "d")):
    stims = [Stimulus(name=s, spec=np.zeros((1, 4, 10), np.float32), responses=np.ones((n, 2, 10), np.float32))
             for s in names]
    split = dict(zip(names, ["train", "train", "val", "test"]))
    return NeuralDataset(stimuli=stims, neuron_names=[f"n{i}" for i in range(n)], freqs_hz=np.arange(1, 5) * 1e3,
                         dt_ms=5.0, split=split, name="tiny")


def _recorder(session):
    events = []
    session.subscribe(lambda e, p: events.append((e, p)))
    return events


def test_set_dataset_selects_first_test_stimulus_and_notifies():
    s = Session()
    events = _recorder(s)
    ds = _dataset()
    s.set_dataset(ds)
    assert s.stimulus == "d" and s.neuron == 0
    assert events[-1] == ("dataset", ds)
    assert "tiny: 3 neurons, 4 stimuli (2/1/1), 4 bands, 5 ms" == s.dataset_summary()


def test_selection_events_only_on_change_and_range_checked():
    s = Session(_dataset())
    events = _recorder(s)
    s.select_neuron(2)
    s.select_neuron(2)
    s.select_stimulus("b")
    assert events == [("neuron", 2), ("stimulus", "b")]
    with pytest.raises(IndexError):
        s.select_neuron(3)
    with pytest.raises(KeyError, match="zz"):
        s.select_stimulus("zz")


def test_runs_current_compare_and_undoable_removal():
    s = Session(_dataset())
    events = _recorder(s)
    r1 = s.add_run(Run(name="one"))
    r2 = s.add_run(Run(name="two"))
    assert r1.id != r2.id and s.current_run is r1  # the first run becomes current
    s.set_compare_run(r2)
    assert s.shown_runs() == [r1, r2]
    undo = s.remove_run(r2)
    assert s.compare_run is None and s.runs == [r1]
    s.restore_run(undo)
    assert s.runs == [r1, r2] and s.compare_run is r2
    s.set_current_run(r2)  # current == compare is not allowed: compare is cleared
    assert s.current_run is r2 and s.compare_run is None
    kinds = [e for e, _ in events]
    assert kinds.count("runs") >= 4 and "current_run" in kinds and "compare_run" in kinds


def test_update_run_emits_results_and_checks_fields():
    s = Session(_dataset())
    run = s.add_run(Run(name="r", status="running"))
    events = _recorder(s)
    preds = {"a": np.zeros((3, 10))}
    s.update_run(run, status="done", predictions=preds)
    assert ("results", run) in events and run.get_predictions() is preds
    with pytest.raises(AttributeError):
        s.update_run(run, nonsense=1)
    with pytest.raises(ValueError):
        s.update_run(run, status="weird")


def test_new_dataset_drops_runs_unless_kept():
    s = Session(_dataset())
    s.add_run(Run(name="r"))
    s.set_dataset(_dataset(), keep_runs=True)
    assert len(s.runs) == 1
    s.set_dataset(_dataset())
    assert s.runs == [] and s.current_run is None


def test_a_failing_listener_does_not_stop_the_others():
    s = Session(_dataset())
    seen = []

    def broken(event, payload):
        raise RuntimeError("boom")

    s.subscribe(broken)
    s.subscribe(lambda e, p: seen.append(e))
    s.select_neuron(1)
    assert seen == ["neuron"]


def test_run_metric_helpers():
    class M:
        cc_norm = np.array([0.1, np.nan, 0.5])

    run = Run(name="m", metrics={"test": M()})
    np.testing.assert_array_equal(run.neuron_values("cc_norm", "test"), M.cc_norm)
    assert run.neuron_values("cc_norm", "val") is None
    assert run.n_params is None and run.family == ""
