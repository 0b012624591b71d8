"""The ``strfviewer`` command.

With no argument it opens the app (on the last dataset, or the built-in demo). Sub-commands run headless;
each lives in ``strfviewer/commands/<name>.py`` with ``add_parser(subparsers)`` and ``run(args) -> int``.
Bad input ends with a one-line error on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import importlib
import os
import re
import sys
from typing import List, Optional

from strfviewer import __version__

#: sub-command modules under strfviewer.commands, in the order --help lists them
COMMANDS = ("fit", "gradmap", "dream", "export", "tuning", "compare", "dstrf", "runs", "sweep")
#: options of the desktop app (strfviewer.gui.app.parse_args) accepted before its optional PATH
APP_OPTIONS = ("--settings", "--quit-after", "--screenshot")


class CLIError(Exception):
    """An error the CLI reports as one line (no traceback) with exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="strfviewer",
        usage="strfviewer [PATH | COMMAND ...]",
        description="Fit, open and explore STRF encoding models of auditory neurons. "
                    "Without a command, opens the desktop app (on PATH: a data folder, NPZ file, checkpoint "
                    "folder or 'demo', if given).",
    )
    parser.add_argument("--version", action="version", version=f"strfviewer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog="strfviewer")  # "usage: strfviewer fit ..."
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"strfviewer.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"strfviewer.commands.{name}":
                continue  # command not built in this version
            raise
        module.add_parser(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # A bare path (or nothing) opens the app; a known sub-command runs headless.
    # App options (--settings INI, --quit-after MS, --screenshot PNG) may come before the path.
    app_option = bool(argv) and argv[0].split("=")[0] in APP_OPTIONS
    if not argv or app_option or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        guess = _mistyped_command(argv[0]) if argv and not app_option else None
        if guess:
            print(f"strfviewer: error: unknown command {argv[0]!r} (did you mean {guess!r}?); commands: "
                  f"{', '.join(COMMANDS)}", file=sys.stderr)
            return 2
        return gui_main(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return gui_main([])
    try:
        with _torch_threads(args):
            return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("strfviewer: interrupted", file=sys.stderr)
        return 130
    except (MemoryError, RuntimeError) as exc:
        if _reports_bad_input(exc):
            print(f"strfviewer {args.command}: error: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
            return 2
        if not _out_of_memory(exc):
            raise  # a genuine bug: keep the traceback
        asked = re.search(r"tried to allocate ([0-9.]+ ?[A-Za-z]*)", str(exc))
        detail = f" (tried to allocate {asked.group(1).strip()})" if asked else ""
        print(f"strfviewer {args.command}: error: out of memory{detail}; try a smaller model, window or batch",
              file=sys.stderr)
        return 2
    except (CLIError, ValueError, FileNotFoundError, OSError, KeyError) as exc:
        text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)  # KeyError quotes itself
        msg = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        print(f"strfviewer {args.command}: error: {msg}", file=sys.stderr)
        return 2


@contextlib.contextmanager
def _torch_threads(args: argparse.Namespace):
    """Run a compute command (one with ``--threads``) with its torch thread count; others as they are."""
    if not getattr(args, "torch_threads_here", False):
        yield
        return
    from strfviewer.commands.options import threads_for
    from strfviewer.fit.fitter import torch_threads

    with torch_threads(threads_for(args)):
        yield


def _reports_bad_input(exc: BaseException) -> bool:
    """Engine errors that are RuntimeErrors but describe the user's files (an unusable run history)."""
    from strfviewer.runs.history import HistoryError

    return isinstance(exc, HistoryError) and bool(str(exc).strip())


def _out_of_memory(exc: BaseException) -> bool:
    """A MemoryError, or torch's allocator refusing (CPU "can't allocate memory", CUDA "out of memory")."""
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or "can't allocate memory" in text or "out of memory" in text


def _mistyped_command(word: str) -> Optional[str]:
    """The sub-command ``word`` is a typo of, when it names no file, folder or 'demo' (else ``None``)."""
    if word.strip().lower() == "demo" or os.path.exists(word):
        return None
    close = difflib.get_close_matches(word, COMMANDS, n=1, cutoff=0.7)
    return close[0] if close else None


def gui_main(argv: Optional[List[str]] = None) -> int:
    """Open the desktop app (imports Qt only here)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from strfviewer.gui.app import run_app

    return run_app(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
