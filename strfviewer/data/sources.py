"""A data source as one string: a path plus the reader options it was opened with.

``"rec.nwb?units=3,5&stimulus_column=sound"`` opens ``rec.nwb`` with those options; the string travels
wherever a data path does (``dataset.source``, checkpoints, the run history, sweep files), so reopening a
dataset later reads the same units and presentations. Options (see ``docs/data-formats.md``):

* ``units``: NWB unit ids or names, comma-separated (default: every unit)
* ``stimulus_column``: the NWB intervals column naming each presentation's stimulus
* ``table``: the NWB intervals table holding the presentations (default: ``trials``, else the first that fits)
* ``events``: a spike-sorter folder's stimulus events CSV (default: ``events.csv`` inside the folder)
* ``clusters``: spike-sorter cluster ids, or labels such as ``good`` / ``mua`` / ``all`` (default: ``good``)
* ``experimenter``: the CRCNS AC1 subset (``wehr`` or ``asari``; default: the one the folder holds, Wehr first)
* ``site``: the CRCNS AC1 Asari cells read (``A1``, whole-cell mV, the default; ``MGB``, cell-attached spikes)
* ``cleanup`` (``on`` / ``off``), ``baseline_median_ms``, ``baseline_gauss_ms``, ``max_abs_mv``, ``step_mv``,
  ``max_step_fraction``, ``min_repeat_r``: the clean-up of CRCNS AC1 traces
  (:class:`strfviewer.data.ac1_cleanup.ResponseCleanup`)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Union
from urllib.parse import parse_qsl, quote

from strfviewer.data.errors import DataError

#: reader options a source string may carry
OPTIONS = ("units", "stimulus_column", "table", "events", "clusters", "experimenter", "site", "cleanup",
           "baseline_median_ms", "baseline_gauss_ms", "max_abs_mv", "step_mv", "max_step_fraction", "min_repeat_r")


@dataclass(frozen=True)
class DataSource:
    """``path`` (a file, a folder, or ``"demo"``) and its reader ``options`` (``{name: text}``)."""

    path: str
    options: Dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        if not self.options:
            return self.path
        query = "&".join(f"{k}={quote(str(v), safe='/,:._-~ ')}" for k, v in sorted(self.options.items()))
        return f"{self.path}?{query}"

    def option_list(self, name: str) -> Optional[List[str]]:
        """Option ``name`` split on commas (``None`` when not given)."""
        text = self.options.get(name)
        if text is None:
            return None
        return [part.strip() for part in str(text).split(",") if part.strip()]


def make_source(path: Union[str, "os.PathLike[str]"], **options: Union[None, str, Sequence[object]]) -> DataSource:
    """A :class:`DataSource` of ``path`` and the options given (``None`` ones left out; lists joined by
    commas); ``ValueError`` for an unknown option."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown reader option(s) {unknown}; known: {list(OPTIONS)}")
    opts = {}
    for key, value in options.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        opts[key] = str(value)
    return DataSource(os.fspath(path), opts)


def parse_source(text: Union[str, "os.PathLike[str]", DataSource]) -> DataSource:
    """Split ``"PATH?key=value&..."`` into path and options.

    A string naming an existing file or folder is a plain path even when it holds ``?``. Raises
    :class:`DataError` for an unknown option or a malformed query.
    """
    if isinstance(text, DataSource):
        return text
    text = os.fspath(text)
    if "?" not in text or Path(text).expanduser().exists():
        return DataSource(text)
    path, _, query = text.rpartition("?")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise DataError(path, None, f"reader options {query!r}: expected key=value pairs joined by '&'") from None
    options: Dict[str, str] = {}
    for key, value in pairs:
        if key not in OPTIONS:
            raise DataError(path, None, f"unknown reader option {key!r}; known: {', '.join(OPTIONS)}")
        options[key] = value
    return DataSource(path, options)


def with_options(source: Union[str, DataSource], options: Mapping[str, object]) -> str:
    """``source`` with ``options`` added (given ones replace those already there), as a string."""
    parsed = parse_source(source)
    merged = dict(parsed.options)
    merged.update({k: v for k, v in make_source(parsed.path, **options).options.items()})
    return str(DataSource(parsed.path, merged))


def source_exists(text: str) -> bool:
    """Whether the path of a source string is ``demo`` or exists on disk."""
    if str(text).strip().lower() == "demo":
        return True
    try:
        return Path(parse_source(text).path).expanduser().exists()
    except DataError:
        return False
