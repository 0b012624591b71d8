"""``strfviewer fit --kernel-arg/--prefilter-arg/--activation-arg``: stored in config.json, checked before loading."""

import json

import pytest

from strfviewer.cli import main


def _no_loading(monkeypatch):
    import strfviewer.data

    def refuse(*args, **kwargs):
        raise AssertionError("the data was loaded before the options were checked")

    monkeypatch.setattr(strfviewer.data, "load", refuse)


def test_kernel_arg_is_stored_in_config_json(tmp_path):
    out = tmp_path / "gauss"
    rc = main(["fit", "demo", "--model", "Linear", "--kernel", "gaussian", "--kernel-arg", "num_gaussians=3",
               "-T", "6", "--epochs", "1", "--device", "cpu", "--quiet", "--no-history", "--out", str(out)])
    assert rc == 0
    config = json.loads((out / "config.json").read_text())
    assert config["kernel"]["name"] == "gaussian" and config["kernel"]["kwargs"]["num_gaussians"] == 3
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["spec"]["kernel_kwargs"] == {"num_gaussians": 3}


def test_kernel_arg_auto_stores_the_chosen_count(tmp_path):
    out = tmp_path / "auto"
    rc = main(["fit", "demo", "--model", "Linear", "--kernel", "gaussian", "--kernel-arg", "num_gaussians=auto",
               "-T", "6", "--epochs", "1", "--device", "cpu", "--quiet", "--no-history", "--out", str(out)])
    assert rc == 0
    K = json.loads((out / "config.json").read_text())["kernel"]["kwargs"]["num_gaussians"]
    assert isinstance(K, int) and 1 <= K <= 8
    assert json.loads((out / "metadata.json").read_text())["spec"]["kernel_kwargs"] == {"num_gaussians": K}


@pytest.mark.parametrize("argv, message", [
    (["--kernel", "gaussian", "--kernel-arg", "num_gaussians=0"],
     "kernel 'gaussian': num_gaussians must be an integer from 1 to 64 or auto, got 0"),
    (["--kernel", "gaussian", "--kernel-arg", "blobs=2"], "unknown kernel 'gaussian' option(s) blobs"),
    (["--kernel-arg", "num_gaussians=2"], "without a kernel"),
    (["--kernel", "gaussian", "--kernel-arg", "num_gaussians"], "--kernel-arg 'num_gaussians': expected KEY=VALUE"),
    (["--prefilter", "AdapTrans", "--prefilter-arg", "init_w=2"], "init_w must be a number from 0.01 to 1"),
    (["--model", "LN", "--activation", "ParametricSigmoid", "--activation-arg", "bias=maybe"],
     "bias must be true or false, got 'maybe'"),
])
def test_bad_option_is_a_one_line_error_before_loading(tmp_path, capsys, monkeypatch, argv, message):
    _no_loading(monkeypatch)
    rc = main(["fit", "demo"] + argv + ["--out", str(tmp_path / "x"), "--quiet", "--no-history"])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "x").exists()


def test_help_lists_what_is_registered(capsys):
    from strfviewer.models import registry

    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for kind in ("kernel", "prefilter", "activation"):
        assert ", ".join(registry.names(kind)) in text
    assert "num_gaussians (an integer from 1 to 64 or auto, default auto)" in text
    assert "{names:" not in text and "{options:" not in text
