"""``strfviewer fit`` on the demo: files written, exit codes, one-line errors."""

import json

import pytest

from strfviewer.cli import main


def test_fit_demo_writes_checkpoint_and_metrics(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["fit", "demo", "--model", "LN", "-T", "8", "--epochs", "1", "--device", "cpu", "--out", str(out)])
    assert rc == 0
    assert {p.name for p in out.iterdir()} >= {"config.json", "model.safetensors", "metadata.json", "metrics.json"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 1 and metrics["seconds"] > 0
    assert metrics["warm_start"] == "ridge"  # how SGD started (LN: the ridge STRFs)
    for part in ("test", "val"):
        assert len(metrics[part]["cc_norm"]) == 12 and len(metrics[part]["cc_max"]) == 12
        assert -1 <= metrics[part]["mean_cc_norm"] <= 1.5
    from strfviewer.io.checkpoints import load_checkpoint

    model, meta = load_checkpoint(out)
    assert type(model).__name__ == "LinearNonlinear" and model.T == 8
    assert meta["dt_ms"] == 5.0 and len(meta["freqs_hz"]) == 34 and len(meta["neuron_names"]) == 12
    assert meta["spec"]["family"] == "LinearNonlinear" and meta["fit"]["epochs"] == 1
    assert "normalization" in meta["frontend"]
    err = capsys.readouterr().err
    assert "\r" not in err  # captured stderr is not a terminal: no progress bar


def test_ridge_then_overwrite_same_folder(tmp_path):
    out = tmp_path / "ridge"
    args = ["fit", "demo", "--method", "ridge", "--out", str(out), "--quiet"]
    assert main(args) == 0
    assert main(args + ["--overwrite"]) == 0  # an earlier fit's folder may be replaced when asked
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 0


@pytest.mark.parametrize("argv, message", [
    (["fit", "demo", "--model", "NoSuchModel"], "unknown model"),
    (["fit", "/no/such/data"], "no/such/data"),
    (["fit", "demo", "--model", "LN", "--method", "ridge"], "ridge fits the Linear family"),
    (["fit", "demo", "--split", "0.5,0.5"], "three fractions"),
    (["fit", "demo", "--device", "tpu"], "unknown device"),
    (["fit", "demo", "--batch-size", "0"], "batch_size"),
])
def test_bad_input_gives_one_line_error(tmp_path, capsys, argv, message):
    rc = main(argv + ["--out", str(tmp_path / "x"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc != 0
    assert message in err and len(err.splitlines()) == 1


def test_refuses_folder_with_other_files(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["fit", "demo", "--method", "ridge", "--out", str(tmp_path), "--quiet"]) != 0
    assert "notes.txt" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_progress_bar_only_on_a_terminal():
    import io

    from strfviewer.commands.fit import _ProgressBar
    from strfviewer.fit.fitter import ProgressEvent

    class TTY(io.StringIO):
        def isatty(self):
            return True

    ev = ProgressEvent(epoch=2, step=3, n_steps=6, train_loss=0.5, val_loss=None, val_cc_norm=None, eta_s=12.0,
                       kind="step", max_epochs=4)
    tty, pipe = TTY(), io.StringIO()
    _ProgressBar(tty, True)(ev)
    _ProgressBar(pipe, True)(ev)
    _ProgressBar(TTY(), False)(ev)
    assert pipe.getvalue() == ""
    line = tty.getvalue()
    assert line.startswith("\r") and "epoch 2/4" in line and "eta 12s" in line and "#" * 7 in line


def test_fit_records_how_the_hidden_units_and_readout_started(tmp_path):
    out = tmp_path / "nrf"
    assert main(["fit", "demo", "--model", "NetworkReceptiveField", "-T", "8", "--epochs", "1", "--device", "cpu",
                 "--out", str(out), "--quiet"]) == 0
    said = json.loads((out / "metrics.json").read_text())["warm_start"]
    assert said.startswith("ridge components: 12 of 20 hidden units") and "readout offset fitted" in said
