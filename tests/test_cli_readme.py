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


def test_the_sweep_file_the_readme_runs_is_shipped_and_valid(capsys):
    from strfviewer.cli import main

    (line,) = [line for line in _headless_lines() if shlex.split(line)[1] == "sweep"]
    sweep_file = README.parent / shlex.split(line)[2]
    assert sweep_file.is_file(), f"the README runs {sweep_file}, which is not in the repository"
    assert main(["sweep", str(sweep_file), "--dry-run"]) == 0  # 2 when a trial is invalid
    out = capsys.readouterr().out
    assert "invalid" not in out and "10 trial(s)" in out


@pytest.mark.parametrize("line", _headless_lines())
def test_readme_command_parses(line):
    argv = shlex.split(line)
    assert argv[0] == "strfviewer"
    build_parser().parse_args(argv[1:])  # argparse exits (a failure) on an unknown option or a missing argument


def test_commands_pair_each_fit_with_the_data_it_was_fit_on():
    """A later line that reads a fit folder together with data must name the data the block's `fit` line used
    (compare refuses runs fit on a different population: the README once compared a cell fit with a demo fit)."""
    fit_data = {}
    for line in _headless_lines():
        argv = shlex.split(line)
        args = build_parser().parse_args(argv[1:])
        if args.command == "fit":
            fit_data[args.out] = args.data
            continue
        folders = [a for a in argv[2:] if a in fit_data]
        data = getattr(args, "data", None)
        if isinstance(data, str) and folders and args.command in ("export", "tuning", "compare"):
            for folder in folders:
                assert fit_data[folder] == data, f"{line!r}: {folder} was fit on {fit_data[folder]}, not {data}"
