"""tuning, compare and dstrf take the reader options of lab recordings (--units, --events, ...) as fit and export
do: a model fitted on some units of an NWB file is met with the same units, not with every unit."""

import pytest

from strfviewer.cli import main


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    for word in words:
        assert word in err[0], err[0]


def test_reader_options_need_data_and_not_the_demo(tmp_path, capsys):
    ckpt = tmp_path / "lin"
    assert main(["fit", "demo", "--method", "ridge", "-T", "4", "--out", str(ckpt), "--quiet", "--no-history"]) == 0
    capsys.readouterr()
    assert main(["tuning", str(ckpt), "--units", "3", "--out", str(tmp_path / "t.csv")]) == 2
    _one_line_error(capsys, "--units", "give --data")
    assert main(["dstrf", str(ckpt), "--data", "demo", "--units", "3", "--stimulus", "song01",
                 "--out", str(tmp_path / "d.npz")]) == 2
    _one_line_error(capsys, "not to the demo")


def test_units_of_an_nwb_fit_reach_tuning_compare_and_dstrf(tmp_path, capsys):
    pytest.importorskip("pynwb", reason="pynwb (the 'nwb' extra) is not installed")
    from lab_formats import synthetic_session, write_nwb

    session = synthetic_session(tmp_path / "sounds", n_stimuli=3, n_trials=2)
    nwb = str(write_nwb(tmp_path / "rec.nwb", session, n_units=3))
    ckpt = tmp_path / "lin"
    units = ["--units", "102,unit0"]
    assert main(["fit", nwb, *units, "--method", "ridge", "-T", "4", "--split", "0.34,0.33,0.33",
                 "--out", str(ckpt), "--quiet", "--no-history"]) == 0
    capsys.readouterr()
    assert main(["tuning", str(ckpt), "--data", nwb, "--out", str(tmp_path / "t.csv"), "--quiet"]) == 2
    _one_line_error(capsys, "the model has 2 neurons", "3 neurons")       # every unit: refused, not mixed up
    assert main(["tuning", str(ckpt), "--data", nwb, *units, "--out", str(tmp_path / "t.csv"), "--quiet"]) == 0
    rows = (tmp_path / "t.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].endswith("cc_norm")
    assert main(["compare", str(ckpt), str(ckpt), "--data", nwb, *units, "--split", "train", "--splits", "2",
                 "--out", str(tmp_path / "c.csv"), "--quiet"]) == 0
    assert len((tmp_path / "c.csv").read_text().splitlines()) == 3
    out = tmp_path / "d.npz"
    assert main(["dstrf", str(ckpt), "--data", nwb, *units, "--stimulus", session[0].name, "--out", str(out),
                 "--quiet"]) == 0
    import numpy as np

    with np.load(out) as z:
        assert z["dstrf"].shape[0] == 2 and np.isfinite(z["dstrf"]).all()
