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
