"""Issue #14, class 3: NaN and empty data are failures with a one-line reason, never a "done" fit or file."""

import sqlite3

import numpy as np
import pytest
import torch

import hostile_corpus as hc
from strfviewer.cli import main
from strfviewer.data import DataError, load
from strfviewer.data.usability import check_fit_data
from strfviewer.fit.run import FitFailed, FitRequest, check_fit_result, run_fit
from strfviewer.io.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from strfviewer.models.factory import ModelSpec, build_model


def _cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    return rc, err


def _history_rows(path):
    con = sqlite3.connect(str(path))
    try:
        return con.execute("SELECT status, error, checkpoint FROM runs").fetchall()
    finally:
        con.close()


def test_nan_in_spec_is_refused_naming_the_key(tmp_path):
    with pytest.raises(DataError, match=r"nan_spec.npz: 'spec' holds 1 NaN.*stimulus 1, band 3, frame 10"):
        load(hc.nan_spec_npz(tmp_path))


@pytest.mark.parametrize("maker, reason", [(hc.no_spikes_npz, "no spike"),
                                           (hc.all_nan_responses_npz, "no response recorded"),
                                           (hc.silent_npz, "silent or constant")])
@pytest.mark.parametrize("method", ["ridge", "sgd"])
def test_nothing_to_fit_fails_with_no_checkpoint_and_failed_in_history(tmp_path, capsys, maker, reason, method):
    data, out, db = maker(tmp_path), tmp_path / "out", tmp_path / "runs.sqlite"
    rc, err = _cli(capsys, "fit", data, "--out", out, "--method", method, "--epochs", 1, "--quiet",
                   "--history", db)
    assert rc == 2 and len(err) == 1 and str(data) in err[0] and reason in err[0], err
    assert not out.exists()
    (status, error, checkpoint), = _history_rows(db)
    assert status == "failed" and reason in error and checkpoint is None


def test_silent_cell_folder_and_spike_files_without_spikes(tmp_path):
    for folder, reason in ((hc.cell_folder(tmp_path / "quiet", silent=True), "silent"),
                           (hc.cell_folder(tmp_path / "nospk", spikes=lambda k, d: "\n\n"), "no spike")):
        dataset = load(folder, split=[0.5, 0.25, 0.25], use_cache=False)
        with pytest.raises(DataError, match=reason):
            check_fit_data(dataset)


def test_some_unusable_neurons_give_a_warning_naming_them(tmp_path, capsys):
    data, out = hc.one_silent_neuron_npz(tmp_path), tmp_path / "out"
    rc, err = _cli(capsys, "fit", data, "--out", out, "--method", "ridge", "--no-history")
    assert rc == 0 and (out / "model.safetensors").exists()
    assert any(line.startswith("warning: 1 neuron(s) cannot be fitted") and "neuron2 (no spike" in line
               for line in err), err


def test_a_diverged_fit_is_a_failure():
    model = build_model(ModelSpec(family="Linear", T=3), 4, 2)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    with pytest.raises(FitFailed, match="diverged"):
        check_fit_result(model, {}, None)


def test_nan_weights_checkpoint_is_refused_by_load_gradmap_and_dream(tmp_path, capsys):
    model = build_model(ModelSpec(family="Linear", T=3), 4, 2)
    with torch.no_grad():
        next(model.parameters())[0].fill_(float("nan"))
    folder = save_checkpoint(model, tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match="model.safetensors.*NaN or infinite"):
        load_checkpoint(folder)
    for command in ("gradmap", "dream"):
        rc, err = _cli(capsys, command, folder, "--out", tmp_path / f"{command}.npz", "--quiet")
        assert rc == 2 and len(err) == 1 and "model.safetensors" in err[0] and "NaN" in err[0], err
        assert not (tmp_path / f"{command}.npz").exists()


def test_dream_init_nan_or_wrong_shape_is_refused_naming_init(tmp_path, capsys):
    folder = save_checkpoint(build_model(ModelSpec(family="Linear", T=3), 4, 2), tmp_path / "ckpt")
    nan_init, wrong_shape, text = tmp_path / "nan.npy", tmp_path / "wrong.npy", tmp_path / "text.npy"
    np.save(nan_init, np.full((4, 10), np.nan, np.float32))
    np.save(wrong_shape, np.zeros((7, 10), np.float32))
    np.save(text, np.array([["a"]]))
    for init, expected in ((nan_init, "NaN"), (wrong_shape, "expected (F=4, T)"), (text, "expected numbers")):
        rc, err = _cli(capsys, "dream", folder, "--out", tmp_path / "d.npz", "--init", init, "--steps", 2,
                       "--quiet")
        assert rc == 2 and len(err) == 1 and f"--init {init}" in err[0] and expected in err[0], err
    assert not (tmp_path / "d.npz").exists()
