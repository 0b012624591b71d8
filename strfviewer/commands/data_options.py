"""Command-line options of the readers of lab recordings (NWB files, spike-sorter folders, CRCNS AC1).

They turn into a data source string (``PATH?units=3,5``, :mod:`strfviewer.data.sources`), which the
dataset records as its ``source``: reopening it later (history, checkpoints) reads the same data.
"""

from __future__ import annotations

import argparse


def add_reader_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("lab recordings (NWB files, phy/Kilosort folders; docs/data-formats.md)")
    g.add_argument("--units", metavar="IDS", help="NWB: unit ids or names, comma-separated (default: every unit)")
    g.add_argument("--stimulus-column", metavar="COLUMN",
                   help="NWB: the trials / intervals column naming each presentation's stimulus "
                        "(default: stimulus_name, stimulus, sound, stim_file, ...)")
    g.add_argument("--intervals", metavar="TABLE",
                   help="NWB: the intervals table of the presentations (default: trials, else the first that fits)")
    g.add_argument("--events", metavar="FILE.csv",
                   help="sorter folder: stimulus events (onset_s, stimulus = wav path relative to the CSV, "
                        "optional offset_s) (default: events.csv in the folder)")
    g.add_argument("--clusters", metavar="IDS|LABELS",
                   help="sorter folder: cluster ids or labels (good, mua, all), comma-separated (default: good)")
    a = parser.add_argument_group("CRCNS AC1 recordings (docs/data-formats.md; defaults as deepSTRF's)")
    a.add_argument("--experimenter", choices=("wehr", "asari"),
                   help="CRCNS AC1 subset (default: the one the folder holds, wehr first)")
    a.add_argument("--site", choices=("A1", "MGB"),
                   help="CRCNS AC1 Asari: the cells read, A1 (whole-cell, mV) or MGB (cell-attached, spikes "
                        "detected in the trace) (default: A1)")
    a.add_argument("--cleanup", choices=("on", "off"),
                   help="CRCNS AC1: remove each trace's baseline and reject bad repeats (default: on)")
    for flag, metavar, text in _AC1_NUMBERS:
        a.add_argument(flag, type=float, metavar=metavar, help=f"CRCNS AC1: {text}")


def _attribute(flag: str) -> str:
    """argparse's attribute (and the reader option's name) for ``--flag-name``: ``flag_name``."""
    return flag[2:].replace("-", "_")


#: the numeric clean-up options of CRCNS AC1 (flag, metavar, help); the reader option is the flag's name
_AC1_NUMBERS = (
    ("--baseline-median-ms", "MS", "running median of the baseline removed from each trace (default: 100)"),
    ("--baseline-gauss-ms", "MS", "Gaussian sigma smoothing that baseline (default: 10)"),
    ("--max-abs-mv", "MV", "a repeat reaching |V| above this after baseline removal is saturated (default: 150)"),
    ("--step-mv", "MV", "size of a baseline step (default: 30)"),
    ("--max-step-fraction", "F", "a repeat with more than this share of samples on a step is left out "
                                 "(default: 0.005)"),
    ("--min-repeat-r", "R", "a repeat correlating less than this with the median of the others (3 repeats or "
                            "more) is left out; 0 turns the test off (default: 0.05)"),
)


#: (option, attribute) of every reader option
READER_OPTIONS = ((("--units", "units"), ("--stimulus-column", "stimulus_column"), ("--intervals", "intervals"),
                   ("--events", "events"), ("--clusters", "clusters"), ("--experimenter", "experimenter"),
                   ("--site", "site"), ("--cleanup", "cleanup"))
                  + tuple((flag, _attribute(flag)) for flag, _, _ in _AC1_NUMBERS))


def add_data_option(parser: argparse.ArgumentParser, help: str, required: bool = False) -> None:
    """``--data DATA`` of a command that meets a saved model with data (tuning, compare, dstrf), with the
    reader options of lab recordings (:func:`add_reader_options`); :func:`data_source` joins them."""
    parser.add_argument("--data", required=required, metavar="DATA", help=help)
    add_reader_options(parser)


def data_source(args: argparse.Namespace, attribute: str = "data"):
    """``args.<attribute>`` with the reader options given on the command line, as a source string (``None``
    when the optional data option was not given; ``ValueError`` when reader options were)."""
    from pathlib import Path

    from strfviewer.data.sources import with_options

    events = getattr(args, "events", None)
    options = {"units": getattr(args, "units", None), "stimulus_column": getattr(args, "stimulus_column", None),
               "table": getattr(args, "intervals", None),
               "events": str(Path(events).expanduser().resolve()) if events else None,
               "clusters": getattr(args, "clusters", None), "experimenter": getattr(args, "experimenter", None),
               "site": getattr(args, "site", None), "cleanup": getattr(args, "cleanup", None)}
    for flag, _, _ in _AC1_NUMBERS:
        name = _attribute(flag)
        value = getattr(args, name, None)
        options[name] = None if value is None else f"{value:g}"
    given = any(v is not None for v in options.values())
    if getattr(args, attribute) is None:
        if given:
            raise ValueError(f"reader options (--units, --events, --cleanup, ...) apply to the data: "
                             f"give --{attribute.replace('_', '-')}")
        return None
    data = str(getattr(args, attribute))
    if not given:
        return data
    if data.strip().lower() == "demo":
        raise ValueError("reader options (--units, --events, --cleanup, ...) apply to NWB files, spike-sorter "
                         "and CRCNS AC1 folders, not to the demo")
    return with_options(data, options)
