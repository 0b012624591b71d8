"""QA: every command line shown in docs/usage.md is accepted by the CLI's parser (options not renamed or gone)."""

import re
import shlex
from pathlib import Path

import pytest

from strfviewer.cli import COMMANDS, build_parser

USAGE = Path(__file__).resolve().parent.parent / "docs" / "usage.md"


def _documented_commands():
    text = USAGE.read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        lines += [ln.strip() for ln in block.splitlines() if ln.strip().startswith("strfviewer ")]
    return lines


def test_the_walk_through_covers_every_headless_command():
    used = {shlex.split(line)[1] for line in _documented_commands()}
    assert used >= {"fit", "gradmap", "export", "sweep", "runs"}
    assert used <= set(COMMANDS)


@pytest.mark.parametrize("line", _documented_commands())
def test_documented_command_parses(line):
    argv = shlex.split(line.replace("$CELL", "cell"), comments=True)[1:]  # a shell comment may follow
    args = build_parser().parse_args(argv)  # argparse exits (a failure here) on an unknown option
    assert args.command == argv[0]


def test_the_sweep_file_example_of_the_docs_is_valid(tmp_path, capsys):
    from strfviewer.cli import main

    docs = USAGE.parent
    for name in ("sweeps.md", "usage.md"):
        text = (docs / name).read_text(encoding="utf-8")
        for k, example in enumerate(re.findall(r"```toml\n(.*?)```", text, flags=re.S)):
            example = re.sub(r"data = \[[^\]]*\]", 'data = ["demo"]', example)  # no recordings needed
            path = tmp_path / f"{name}-{k}.toml"
            path.write_text(example)
            assert main(["sweep", str(path), "--dry-run"]) == 0, capsys.readouterr().out


def test_the_from_pretrained_claim_names_the_options_that_break_it(tmp_path):
    """docs/usage.md: deepSTRF reads a CLI checkpoint only without --kernel/--prefilter/--activation, because
    exactly those put module descriptions (which deepSTRF's config cannot hold) in config.json."""
    import json

    from strfviewer.cli import main

    text = " ".join(USAGE.read_text(encoding="utf-8").split())
    claim = text[text.index("deepSTRF's `from_pretrained`"):][:400]
    assert "only when the fit used none of `--kernel`, `--prefilter` and `--activation`" in claim
    modules = ("kernel", "prefiltering", "output_activation")
    for name, extra in (("plain", []), ("kernel", ["--kernel", "separable"]), ("prefilter", ["--prefilter", "AdapTrans"]),
                        ("activation", ["--activation", "relu"])):
        out = tmp_path / name
        assert main(["fit", "demo", "--model", "LN", "-T", "4", "--epochs", "1", "--no-warm-start", "--quiet",
                     "--no-history", "--out", str(out), *extra]) == 0
        config = json.loads((out / "config.json").read_text())
        described = [m for m in modules if config.get(m) is not None]
        assert described == ([] if name == "plain" else [{"kernel": "kernel", "prefilter": "prefiltering",
                                                           "activation": "output_activation"}[name]])


def test_every_fit_folder_a_line_reads_is_made_by_an_earlier_fit_line():
    """The walk-through runs top to bottom: a command that opens fits/X follows the `fit ... --out fits/X` line
    (it once used fits/lin and fits/demo-gabor, which no line made)."""
    made = set()
    for line in _documented_commands():
        argv = shlex.split(line.replace("$CELL", "cell"), comments=True)[1:]  # a shell comment may follow
        args = build_parser().parse_args(argv)
        if args.command == "fit":
            made.add(args.out)
            continue
        read = [a for a in argv[1:] if a.startswith("fits/")]
        missing = [a for a in read if a not in made]
        assert not missing, f"{line!r} reads {missing}, which no earlier fit line of docs/usage.md writes"
