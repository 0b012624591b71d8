"""CLI set-up friction found by a first real use (issue 15): names in any case, no silent overwrite."""

from __future__ import annotations

import argparse
import json

import pytest

from strfviewer.cli import build_parser, main
from strfviewer.commands.fit import build_request, frontend_config


def _fit_args(*extra: str) -> argparse.Namespace:
    return build_parser().parse_args(["fit", "demo", "--out", "unused", *extra])


@pytest.mark.parametrize("argv, family, kernel, prefilter, activation, rnn", [
    (["--model", "linear", "--kernel", "SEPARABLE"], "Linear", "separable", None, None, None),
    (["--model", "ln", "--prefilter", "adaptrans", "--activation", "psigmoid"],
     "LinearNonlinear", None, "AdapTrans", "ParametricSigmoid", None),
    (["--model", "statenet", "--rnn-type", "gru"], "StateNet", None, None, None, "GRU"),
    (["--model", "nrf", "--kernel", "SeparableSTRF"], "NetworkReceptiveField", "separable", None, None, None),
])
def test_model_names_in_any_case_and_aliases(argv, family, kernel, prefilter, activation, rnn):
    spec = build_request(_fit_args(*argv)).spec
    assert (spec.family, spec.kernel, spec.prefilter, spec.activation, spec.rnn_type) == (
        family, kernel, prefilter, activation, rnn)


def test_frontend_names_in_any_case():
    cfg = frontend_config(_fit_args("--scale", "ERB", "--compression", "None"))
    assert (cfg.scale, cfg.compression) == ("erb", "none")


def test_sweep_names_in_any_case():
    from strfviewer.runs.sweep_spec import SweepSpec

    spec = SweepSpec.from_dict({"data": "demo", "model": [{"family": "linear", "kernel": ["FULL", "separable"]},
                                                         {"family": "statenet", "rnn_type": "lstm"}]})
    assert [(t.spec["family"], t.spec.get("kernel") or t.spec.get("rnn_type")) for t in spec.trials()] == [
        ("Linear", "full"), ("Linear", "separable"), ("StateNet", "LSTM")]


def test_fit_refuses_to_replace_a_checkpoint_without_overwrite(tmp_path, capsys):
    out = tmp_path / "lin"
    args = ["fit", "demo", "--method", "ridge", "--out", str(out), "--quiet", "--no-history"]
    assert main(args) == 0
    before = (out / "metrics.json").read_text()
    (out / "metrics.json").write_text(before.replace("{", '{"marker": 1, ', 1))
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "already holds a checkpoint" in err and "--overwrite" in err
    assert json.loads((out / "metrics.json").read_text())["marker"] == 1  # untouched
    assert main(args + ["--overwrite"]) == 0
    assert "marker" not in json.loads((out / "metrics.json").read_text())


# ---------------------------------------------------------------------------------------------- --threads

@pytest.mark.parametrize("cores, threads", [(1, 1), (2, 1), (3, 2), (4, 3), (8, 4), (64, 4)])
def test_default_threads_do_not_oversubscribe(cores, threads):
    from strfviewer.fit.fitter import default_num_threads

    assert default_num_threads(cores) == threads


def test_physical_cores_within_the_affinity_mask():
    import os

    from strfviewer.fit.fitter import physical_cores

    assert 1 <= physical_cores() <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize("command", ["fit", "gradmap", "dream", "export", "sweep"])
def test_every_compute_command_takes_threads(command):
    positional = {"fit": ["demo", "--out", "x"], "gradmap": ["ckpt", "--out", "x.npz"],
                  "dream": ["ckpt", "--out", "x.npz"], "export": ["ckpt", "demo"], "sweep": ["s.toml"]}[command]
    assert build_parser().parse_args([command, *positional, "--threads", "3"]).threads == 3


@pytest.mark.parametrize("argv, expected", [(["--threads", "3"], 3), ([], None)])
def test_a_command_runs_with_its_thread_count(monkeypatch, argv, expected):
    import torch

    import strfviewer.commands.dream as dream
    from strfviewer.fit.fitter import default_num_threads

    seen = []
    monkeypatch.setattr(dream, "run", lambda args: seen.append(torch.get_num_threads()) or 0)
    before = torch.get_num_threads()
    assert main(["dream", "ckpt", "--out", "x.npz", *argv]) == 0
    assert seen == [expected or default_num_threads()]
    assert torch.get_num_threads() == before


def test_threads_below_one_is_a_one_line_error(capsys):
    assert main(["gradmap", "ckpt", "--out", "x.npz", "--threads", "0"]) == 2
    assert "--threads 0: needs at least 1 thread" in capsys.readouterr().err


def test_a_sweep_trial_fits_with_its_workers_share_of_threads(monkeypatch):
    import strfviewer.fit.run as fit_run
    from strfviewer.runs.trial import execute_trial

    class Stop(Exception):
        pass

    def fake_run_fit(dataset, request, **kwargs):
        raise Stop(request.num_threads)

    monkeypatch.setattr(fit_run, "run_fit", fake_run_fit)
    trial = {"data": "demo", "spec": {"family": "Linear"}, "request": {"method": "ridge"}}
    with pytest.raises(Stop) as stop:
        execute_trial(trial, torch_threads=1)
    assert stop.value.args == (1,)
