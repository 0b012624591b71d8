"""``strfviewer fit``: Ctrl-C keeps the best weights so far, front-end options, small output fixes."""

import json
import os
import signal

import pytest

from strfviewer.cli import main
from strfviewer.commands import fit as fit_command
from strfviewer.runs.history import RunHistory

LN_ARGS = ["fit", "demo", "--model", "LN", "-T", "6", "--epochs", "50", "--patience", "0", "--no-warm-start",
           "--device", "cpu", "--batch-size", "1"]


def _interrupt_on_first_event(monkeypatch, n_signals):
    """Send SIGINT to this process ``n_signals`` times at the fit's first progress event (a real signal)."""
    sent = []

    def on_event(self, ev):
        if not sent:
            sent.append(ev)
            for _ in range(n_signals):
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(fit_command._ProgressBar, "__call__", on_event)


def test_first_ctrl_c_stops_the_fit_and_writes_the_best_weights(tmp_path, monkeypatch, capsys):
    before = signal.getsignal(signal.SIGINT)  # Python's default handler, or SIG_IGN in a shell's background job
    _interrupt_on_first_event(monkeypatch, 1)
    out, db = tmp_path / "run", tmp_path / "h.sqlite"
    rc = main(LN_ARGS + ["--out", str(out), "--history", str(db)])
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopped"] == "cancelled"
    assert metrics["epochs"] == 0  # stopped before its first optimisation step was taken
    assert len(metrics["test"]["cc_norm"]) == 12
    assert (out / "model.safetensors").is_file()
    assert "cancelling" in capsys.readouterr().err
    with RunHistory(db) as history:
        (record,) = history.runs()
    assert record.status == "cancelled" and record.checkpoint == str(out.resolve())
    assert signal.getsignal(signal.SIGINT) is before  # the handler the fit found is restored


def test_second_ctrl_c_aborts_at_once(tmp_path, monkeypatch, capsys):
    _interrupt_on_first_event(monkeypatch, 2)
    out, db = tmp_path / "run", tmp_path / "h.sqlite"
    assert main(LN_ARGS + ["--out", str(out), "--history", str(db)]) == 130
    assert not out.exists()
    assert "interrupted" in capsys.readouterr().err
    with RunHistory(db) as history:
        (record,) = history.runs()
    assert record.status == "failed"


def test_frontend_and_smoothing_options_reach_the_checkpoint(tmp_path):
    out = tmp_path / "run"
    rc = main(["fit", "demo", "--method", "ridge", "-T", "4", "--bands", "16", "--dt-ms", "10", "--fmin-hz", "400",
               "--fmax-hz", "8000", "--scale", "erb", "--compression", "none", "--smoothing-ms", "21",
               "--out", str(out), "--quiet", "--no-history"])
    assert rc == 0
    from strfviewer.io.checkpoints import load_checkpoint

    model, meta = load_checkpoint(out)
    fe = meta["frontend"]
    assert (fe["n_bands"], fe["dt_ms"], fe["f_min_hz"], fe["f_max_hz"]) == (16, 10.0, 400.0, 8000.0)
    assert (fe["scale"], fe["compression"], fe["smoothing_ms"]) == ("erb", "none", 21.0)
    assert meta["dt_ms"] == 10.0 and len(meta["freqs_hz"]) == 16 and model.F == 16
    assert min(meta["freqs_hz"]) == pytest.approx(400.0) and max(meta["freqs_hz"]) == pytest.approx(8000.0)


@pytest.mark.parametrize("option, message", [
    (["--scale", "bark"], "scale must be one of"),
    (["--fmin-hz", "9000", "--fmax-hz", "8000"], "f_min_hz"),
    (["--smoothing-ms", "-3"], "--smoothing-ms"),
])
def test_bad_frontend_options_are_one_line_errors(tmp_path, capsys, option, message):
    assert main(["fit", "demo", "--method", "ridge", "--out", str(tmp_path / "x"), "--quiet", "--no-history"]
                + option) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_ridge_too_large_for_memory_is_a_clear_error(tmp_path, capsys):
    # 34 bands x 3000 frames = 102000 columns: an 83 GB Gram matrix, more than any test machine has
    rc = main(["fit", "demo", "-T", "3000", "--method", "ridge", "--out", str(tmp_path / "x"), "--quiet",
               "--no-history"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "102000 x 102000" in err and "GB" in err and "--method sgd" in err
    assert not (tmp_path / "x").exists()


def test_ridge_metadata_has_the_data_hash_and_closed_form_stop(tmp_path):
    from strfviewer.io.checkpoints import load_checkpoint
    from strfviewer.data.identity import dataset_hash

    out = tmp_path / "ridge"
    assert main(["fit", "demo", "--method", "ridge", "-T", "4", "--out", str(out), "--quiet", "--no-history"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopped"] == "closed_form" and metrics["epochs"] == 0
    _, meta = load_checkpoint(out)
    assert meta["dataset"]["hash"] == dataset_hash("demo") and meta["dataset"]["source"] == "demo"


@pytest.mark.parametrize("where", ["under_a_file", "proc"])
def test_unwritable_out_is_one_readable_line_before_fitting(tmp_path, capsys, where):
    if where == "under_a_file":
        (tmp_path / "file").write_text("x")
        out = tmp_path / "file" / "run"
    else:
        out = "/proc/strfviewer-nope"
    rc = main(["fit", "demo", "--model", "LN", "--epochs", "100", "--out", str(out), "--quiet", "--no-history"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert f"--out {out}: cannot create the folder" in err
    assert ".part" not in err and ".probe" not in err and "Errno" not in err


def test_summary_prints_the_metric_notes(tmp_path, capsys):
    import dataclasses

    from strfviewer.data import load, save_npz

    ds = load("demo")
    single = dataclasses.replace(ds, stimuli=[dataclasses.replace(s, responses=s.responses[:, :1])
                                              for s in ds.stimuli])
    path = tmp_path / "single.npz"
    save_npz(single, path)
    assert main(["fit", str(path), "--method", "ridge", "-T", "4", "--out", str(tmp_path / "r"), "--no-history"]) == 0
    err = capsys.readouterr().err
    assert "note (test):" in err and "single trial" in err
