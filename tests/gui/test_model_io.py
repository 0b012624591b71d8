"""The Qt-free helpers behind the window's File actions."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from strfviewer.gui.window import model_io
from strfviewer.session import Run

from .conftest import make_dataset, make_run


def test_classify_path(tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")
    data = tmp_path / "cell"
    data.mkdir()
    assert model_io.classify_path("demo") == "demo"
    assert model_io.classify_path(str(ckpt)) == "model"
    assert model_io.classify_path(str(data)) == "data"
    assert model_io.classify_path("someone/strf-model") == "model"  # a Hub id (no such local path)
    assert model_io.classify_path(str(tmp_path / "x.npz")) == "data"


def test_mismatch_names_neurons_and_bands():
    ds = make_dataset()
    assert model_io.mismatch(SimpleNamespace(N=6, F=8), ds) is None
    msg = model_io.mismatch(SimpleNamespace(N=3, F=34), ds)
    assert "3 neurons (the dataset has 6)" in msg and "34 frequency bands (the dataset has 8)" in msg
    assert model_io.mismatch(None, ds) is None


def test_missing_data_path_is_a_readable_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        model_io.load_dataset(str(tmp_path / "nothing"))


def test_predictions_and_metrics_match_the_model():
    ds = make_dataset()
    run = make_run(ds)
    preds, metrics = model_io.predictions_and_metrics(run.model, ds)
    assert set(preds) == {s.name for s in ds.stimuli}
    for name in preds:
        assert preds[name].shape == (ds.n_neurons, ds.stimulus(name).n_frames)
    assert set(metrics) == {"train", "val", "test"}
    assert metrics["test"].cc_norm.shape == (ds.n_neurons,)


def test_small_helpers():
    assert model_io.progress_fraction(SimpleNamespace(step=3, n_steps=4)) == 0.75
    assert model_io.progress_fraction(SimpleNamespace(step=None, n_steps=0)) is None
    assert model_io.device_label("cpu") == "CPU" and model_io.device_label("mps") == "MPS"
    assert model_io.checkpoint_folder_name(Run(name="Linear ridge / T=15")) == "Linear_ridge_T_15"
    assert model_io.default_device_name() in ("CPU", "MPS") or model_io.default_device_name().startswith("CUDA")
    req = model_io.ridge_request()
    assert (req.method, req.spec.family, req.spec.T) == ("ridge", "Linear", 15)


def test_load_dataset_opens_an_nwb_file_with_reader_options(tmp_path):
    """File > Open / drag and drop go through load_dataset: an .nwb path and a source with options open."""
    import sys

    pytest.importorskip("pynwb", reason="pynwb (the 'nwb' extra) is not installed")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from lab_formats import synthetic_session, write_nwb

    from strfviewer.gui.window.model_io import load_dataset

    path = write_nwb(tmp_path / "rec.nwb", synthetic_session(tmp_path / "sounds", n_stimuli=3), n_units=2)
    assert load_dataset(str(path)).n_neurons == 2
    some = load_dataset(f"{path}?units=101")
    assert some.neuron_names == ["unit1"] and some.source == f"{path}?units=101"
    with pytest.raises(FileNotFoundError):
        load_dataset(f"{tmp_path / 'absent.nwb'}?units=1")
