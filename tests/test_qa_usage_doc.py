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
    argv = shlex.split(line.replace("$CELL", "cell"))[1:]
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
