"""Every command line of the README's "Headless" block is accepted by the CLI's parser."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from strfviewer.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def _headless_lines():
    text = README.read_text(encoding="utf-8")
    block = text.split("## Headless", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("  #")[0].strip() for line in block.strip().splitlines() if line.strip()]


def test_the_block_lists_the_headless_commands():
    commands = {shlex.split(line)[1] for line in _headless_lines()}
    assert {"fit", "gradmap", "dream", "export"} <= commands


@pytest.mark.parametrize("line", _headless_lines())
def test_readme_command_parses(line):
    argv = shlex.split(line)
    assert argv[0] == "strfviewer"
    build_parser().parse_args(argv[1:])  # argparse exits (a failure) on an unknown option or a missing argument
