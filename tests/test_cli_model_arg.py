"""``--model-arg KEY=VALUE`` on gradmap / dream / export: constructor arguments a checkpoint does not store."""

import json
from pathlib import Path

import numpy as np
import pytest

from strfviewer.cli import build_parser, main
from strfviewer.commands.options import parse_assignments

FIXTURES = Path(__file__).parent / "fixtures" / "deepstrf"


def test_a_deepstrf_prefiltered_checkpoint_is_usable_from_the_cli(tmp_path, capsys):
    from strfviewer.analysis.gradmaps import strf_gradmap
    from strfviewer.io.checkpoints import load_checkpoint

    ckpt = FIXTURES / "linear_adaptrans"
    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    kernel_size = manifest["fixtures"]["linear_adaptrans"]["modules"]["prefiltering"]["kernel_size"]
    out = tmp_path / "g.npz"
    # without it: the error names the command-line remedy
    assert main(["gradmap", str(ckpt), "--out", str(out), "--quiet"]) == 2
    assert "--model-arg prefiltering.kernel_size=" in capsys.readouterr().err
    assert main(["gradmap", str(ckpt), "--out", str(out), "--quiet", "--per-channel",
                 "--model-arg", f"prefiltering.kernel_size={kernel_size}"]) == 0
    model, _ = load_checkpoint(ckpt, extra_kwargs={"prefiltering": {"kernel_size": kernel_size}})
    expected = strf_gradmap(model, T=model.T, per_channel=True).numpy()
    with np.load(out) as z:
        assert np.allclose(z["gradmaps"], expected, atol=1e-6) and np.abs(expected).max() > 0


def test_model_arg_reaches_dream_and_export():
    parser = build_parser()
    for argv in (["dream", "c", "--out", "d.npz"], ["export", "c", "demo", "--csv", "x.csv"]):
        args = parser.parse_args(argv + ["--model-arg", "prefiltering.kernel_size=5", "--model-arg", "a=b"])
        assert args.model_args == ["prefiltering.kernel_size=5", "a=b"]


def test_parse_assignments_nests_dotted_keys_and_names_bad_items():
    got = parse_assignments(["prefiltering.kernel_size=651", "prefiltering.learnable=false", "n=[1, 2]",
                             "name=GRU"], "--model-arg", dotted=True)
    assert got == {"prefiltering": {"kernel_size": 651, "learnable": False}, "n": [1, 2], "name": "GRU"}
    for bad in (["novalue"], ["a.=1"], ["a=1", "a.b=2"], ["a.b=2", "a=1"]):
        with pytest.raises(ValueError, match="--model-arg"):
            parse_assignments(bad, "--model-arg", dotted=True)
    assert parse_assignments(["a.b=1"], "--hyper") == {"a.b": 1}  # not dotted: the key as written


def test_model_arg_reaches_compare(tmp_path, capsys):
    """compare opens both checkpoints with the constructor arguments given (QA: it had no --model-arg)."""
    ckpt = str(FIXTURES / "linear_adaptrans")
    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    kernel_size = manifest["fixtures"]["linear_adaptrans"]["modules"]["prefiltering"]["kernel_size"]
    argv = ["compare", ckpt, ckpt, "--data", "demo", "--out", str(tmp_path / "c.csv")]
    assert main(argv) == 2
    assert "--model-arg prefiltering.kernel_size=" in capsys.readouterr().err
    assert main(argv + ["--model-arg", f"prefiltering.kernel_size={kernel_size}"]) == 2
    err = capsys.readouterr().err
    assert "--model-arg" not in err and "neurons" in err and len(err.strip().splitlines()) == 1  # it opened
