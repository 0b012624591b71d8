"""strfviewer runs --export-tensorboard / --export-mlflow: settings, per-epoch curves, per-neuron cc_norm."""

import struct
import sys

import numpy as np
import pytest

from strfviewer.cli import main
from strfviewer.runs.history import RunHistory
from strfviewer.runs.tracking_export import TrackerMissing, export_tensorboard

CURVES = {"epoch": [1, 2, 3], "train_loss": [0.9, 0.7, 0.6], "val_loss": [1.0, 0.8, None],
          "val_cc": [0.2, 0.3, 0.35], "val_cc_norm": [0.3, 0.4, 0.45]}
TEST_CC_NORM = [0.1, 0.5, None, 0.9]


@pytest.fixture
def history(tmp_path):
    path = tmp_path / "runs.sqlite"
    with RunHistory(path) as h:
        config = {"spec": {"family": "Linear", "kernel": "full", "T": 15},
                  "request": {"method": "sgd", "seed": 3, "lr": 0.001, "epochs": 3}}
        rid = h.start_run(config, dataset_path="rec.nwb?units=1,2", dataset_hash="abc")
        h.finish_run(rid, metrics={"test": {"cc_norm": TEST_CC_NORM}, "val": {"cc_norm": [0.4, 0.5, 0.2, 0.1]},
                                   "curves": CURVES},
                     neuron_names=["u0", "u1", "u/2", "u3"], epochs=3, seconds=1.5, device="cpu")
        failed = h.start_run({"spec": {"family": "StateNet"}, "request": {"seed": 0}}, dataset_path="demo")
        h.fail_run(failed, "boom")
    return path


def _events(folder):
    """Every summary value of the TensorBoard event files under ``folder``: [(tag, step, value or histo)]."""
    from tensorboardX.proto.event_pb2 import Event

    out = []
    for path in sorted(folder.rglob("events.out.tfevents.*")):
        data = path.read_bytes()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            event = Event.FromString(data[pos + 12:pos + 12 + length])
            pos += 12 + length + 4
            for v in event.summary.value:
                out.append((v.tag, event.step, v.histo if v.HasField("histo") else v.simple_value))
    return out


def test_tensorboard_export(history, tmp_path, capsys):
    pytest.importorskip("tensorboardX", reason="tensorboardX (the 'tensorboard' extra) is not installed")
    out = tmp_path / "tb"
    assert main(["runs", "--history", str(history), "--export-tensorboard", str(out)]) == 0
    assert "exported 2 run(s)" in capsys.readouterr().out
    run1 = next(out.glob("run-00001-*"))
    events = _events(run1)
    by_tag = {}
    for tag, step, value in events:
        by_tag.setdefault(tag, []).append((step, value))
    assert [(s, round(v, 6)) for s, v in by_tag["train/loss"]] == [(1, 0.9), (2, 0.7), (3, 0.6)]
    assert [s for s, _ in by_tag["val/loss"]] == [1, 2]  # the missing value is left out
    finite = np.array([0.1, 0.5, 0.9])
    assert by_tag["neurons/test_cc_norm"][0][1] == pytest.approx(finite.mean())
    assert by_tag["neurons/test_cc_norm/p50"][0][1] == pytest.approx(0.5)
    histo = by_tag["neurons/test_cc_norm/hist"][0][1]
    assert histo.num == 3 and histo.min == pytest.approx(0.1) and histo.max == pytest.approx(0.9)
    assert by_tag["hparams/request.lr"][0][1] == pytest.approx(0.001)
    assert main(["runs", "--history", str(history), "--export-tensorboard", str(out)]) == 0
    assert "2 already there, skipped" in capsys.readouterr().out


def test_mlflow_export(history, tmp_path, capsys):
    pytest.importorskip("mlflow", reason="mlflow (the 'mlflow' extra) is not installed")
    out = tmp_path / "mlruns"
    assert main(["runs", "--history", str(history), "--export-mlflow", str(out)]) == 0
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=out.resolve().as_uri())
    exp = client.get_experiment_by_name("strfviewer")
    runs = {r.data.tags["strfviewer_run_id"]: r for r in client.search_runs([exp.experiment_id])}
    done, failed = runs["1"], runs["2"]
    assert done.info.status == "FINISHED" and failed.info.status == "FAILED"
    assert done.data.params["spec.family"] == "Linear" and done.data.params["request.seed"] == "3"
    assert done.data.params["dataset_path"] == "rec.nwb?units=1,2"
    curve = client.get_metric_history(done.info.run_id, "val/cc_norm")
    assert [(m.step, m.value) for m in curve] == [(1, 0.3), (2, 0.4), (3, 0.45)]
    assert done.data.metrics["neurons/test_cc_norm"] == pytest.approx(0.5)
    assert "neurons/test_cc_norm_by_neuron/u_2" not in done.data.metrics  # NaN: not logged
    assert done.data.metrics["neurons/test_cc_norm_by_neuron/u3"] == pytest.approx(0.9)
    assert failed.data.tags["error"] == "boom"
    table = client.download_artifacts(done.info.run_id, "per_neuron.csv", str(tmp_path))
    lines = open(table).read().splitlines()
    assert lines[0] == "neuron,val_cc_norm,test_cc_norm" and lines[3] == "u/2,0.2,"


def test_missing_tracker_library_is_a_one_line_error(history, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(TrackerMissing):
        export_tensorboard([], tmp_path / "x")
    assert main(["runs", "--history", str(history), "--export-tensorboard", str(tmp_path / "tb")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "pip install 'strfviewer[tensorboard]'" in err
