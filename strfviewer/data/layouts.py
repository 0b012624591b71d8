"""Finding the files of a recording on disk: which wav goes with which spike file, for which neuron.

Layouts (see ``docs/data-formats.md``):

* **cell folder** (STRFlab / CRCNS single cell): ``stimK.wav`` + ``spikeK`` side by side -> 1 neuron.
* **population folder**: a folder of cell folders; stimuli are shared by wav file name -> N neurons.
* **CRCNS AA1**: ``all_stims/<type>/*.wav`` and ``{Field_L,MLd}_cells/<cell>/<type>/{stimK, spikeK}``,
  where the text file ``stimK`` names the wav on its first line.
* **CRCNS AA2**: ``all_stims/*.wav``, ``all_cells/<cell>/<type>/{stimK, spikeK}`` and the tables
  ``cell_regions.csv``, ``cell_stim_classes.csv``, ``stim_data.csv``.

Discovery only lists files (and reads the small ``stimK`` / CSV text files); audio and spikes are read
when the dataset is built (:mod:`strfviewer.data.build`).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

from strfviewer.data.errors import DataError
from strfviewer.data.splits import natural_key

_WAV = re.compile(r"^stim(\d+)\.wav$", re.IGNORECASE)
_SPIKE = re.compile(r"^spike(\d+)$", re.IGNORECASE)
_STIM_TEXT = re.compile(r"^stim(\d+)$", re.IGNORECASE)
AA1_AREAS = ("Field_L_cells", "MLd_cells")


@dataclass
class StimulusFile:
    """One stimulus: its name in the dataset and its wav file(s) (one per cell in a population folder).

    ``read_audio``, when set, reads the audio instead (a sound stored inside an NWB file); it returns a
    :class:`strfviewer.data.audio.Audio`.
    """

    name: str
    wav_paths: List[Path]
    metadata: Dict[str, object] = field(default_factory=dict)
    read_audio: Optional[Callable[[], object]] = None


@dataclass
class NeuronFiles:
    """One neuron and its spike file per stimulus name (a stimulus absent here is masked with NaN).

    A value may also be an object with ``read(pre_onset) -> SpikeTrials`` (trials cut from a continuous
    recording, :class:`strfviewer.data.presentations.TrialSpikes`).
    """

    name: str
    spike_files: Dict[str, Union[Path, object]]
    metadata: Dict[str, object] = field(default_factory=dict)


@dataclass
class Recording:
    """What a layout found: stimuli, neurons, and facts for the builder."""

    stimuli: List[StimulusFile]
    neurons: List[NeuronFiles]
    source: str
    name: str
    layout: str  # 'cell', 'population', 'crcns-aa1', 'crcns-aa2', 'nwb', 'sorter'
    pre_onset: str = "error"  # what negative spike times mean here (see spikes.PRE_ONSET_POLICIES)
    warnings: List[str] = field(default_factory=list)
    close: Optional[Callable[[], None]] = None  # releases an open file once the dataset is built


def _sorted_dirs(folder: Path) -> List[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: natural_key(p.name))


def is_cell_folder(folder: Path) -> bool:
    return any(_WAV.match(p.name) or _SPIKE.match(p.name) for p in folder.iterdir() if p.is_file())


def detect_layout(folder: Path) -> str:
    """Name the layout of ``folder`` or raise :class:`DataError` saying why none fits."""
    if not folder.is_dir():
        raise DataError(folder, None, "no such folder")
    try:
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    except OSError as exc:
        raise DataError(folder, None, f"cannot list folder ({exc.strerror or exc})") from None
    if not entries:
        raise DataError(folder, None, "empty folder")
    names = {p.name for p in entries}
    if "all_stims" in names and any(a in names for a in AA1_AREAS):
        return "crcns-aa1"
    if "all_stims" in names and "all_cells" in names:
        return "crcns-aa2"
    if is_cell_folder(folder):
        return "cell"
    if any(is_cell_folder(d) for d in _sorted_dirs(folder)):
        return "population"
    raise DataError(folder, None, "not a recording folder: expected stimK.wav + spikeK files, a folder of "
                                  "such cell folders, or a CRCNS AA1/AA2 download (all_stims/ + cell folders)")


# --- cell and population folders --------------------------------------------------------------------
def scan_cell_folder(folder: Path) -> Dict[str, tuple]:
    """``{stimulus name: (wav path, spike path)}`` of a cell folder, in natural order.

    Raises :class:`DataError` for a spike file without its wav or a wav without its spike file, and for
    a folder holding neither.
    """
    wavs: Dict[int, Path] = {}
    spikes: Dict[int, Path] = {}
    for p in folder.iterdir():
        if not p.is_file():
            continue
        m = _WAV.match(p.name)
        if m:
            wavs[int(m.group(1))] = p
            continue
        m = _SPIKE.match(p.name)
        if m:
            spikes[int(m.group(1))] = p
    if not wavs and not spikes:
        raise DataError(folder, None, "empty folder: no stimK.wav / spikeK files")
    for k, path in sorted(spikes.items()):
        if k not in wavs:
            raise DataError(path, None, f"spike file without its stimulus: stim{k}.wav is missing")
    for k, path in sorted(wavs.items()):
        if k not in spikes:
            raise DataError(path, None, f"stimulus without its spike file: spike{k} is missing")
    return {wavs[k].stem: (wavs[k], spikes[k]) for k in sorted(wavs)}


def discover_cell(folder: Path) -> Recording:
    pairs = scan_cell_folder(folder)
    stimuli = [StimulusFile(name, [wav]) for name, (wav, _) in pairs.items()]
    neuron = NeuronFiles(folder.name, {name: spike for name, (_, spike) in pairs.items()}, {"cell": folder.name})
    return Recording(stimuli, [neuron], str(folder), folder.name, "cell")


def discover_population(folder: Path) -> Recording:
    cells = [d for d in _sorted_dirs(folder) if is_cell_folder(d)]
    if not cells:
        raise DataError(folder, None, "empty folder: no cell folders (stimK.wav + spikeK) inside")
    skipped = [d.name for d in _sorted_dirs(folder) if d not in cells]
    stimuli: Dict[str, StimulusFile] = {}
    neurons = []
    for cell in cells:
        pairs = scan_cell_folder(cell)
        for name, (wav, _) in pairs.items():
            stimuli.setdefault(name, StimulusFile(name, [])).wav_paths.append(wav)
        neurons.append(NeuronFiles(cell.name, {n: s for n, (_, s) in pairs.items()}, {"cell": cell.name}))
    ordered = [stimuli[k] for k in sorted(stimuli, key=natural_key)]
    rec = Recording(ordered, neurons, str(folder), folder.name, "population")
    if skipped:
        rec.warnings.append(f"skipped {len(skipped)} sub-folders without stimK.wav/spikeK files: "
                            f"{', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}")
    return rec


# --- CRCNS ------------------------------------------------------------------------------------------
def read_stim_pointer(path: Path) -> str:
    """The wav file name on the first line of a CRCNS ``stimK`` text file."""
    try:
        text = path.read_bytes().decode("utf-8", errors="strict")
    except OSError as exc:
        raise DataError(path, None, f"cannot read stimulus file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise DataError(path, 1, "stimulus file is not text: expected the name of a wav on its first line") from None
    lines = text.splitlines()
    first = lines[0].strip() if lines else ""
    if not first:
        raise DataError(path, 1, "stimulus file is empty: expected the name of a wav on its first line")
    return first


def _scan_crcns_cell(cell: Path, wav_for, stim_types: Optional[Sequence[str]], rec: Recording,
                     stimuli: Dict[str, StimulusFile], counts: Dict[str, int]) -> NeuronFiles:
    """Collect one CRCNS cell's (stimulus -> spike file) pairs across its stimulus-type folders."""
    spike_files: Dict[str, Path] = {}
    types = []
    for type_dir in _sorted_dirs(cell):
        stim_type = type_dir.name
        if stim_types is not None and stim_type not in stim_types:
            continue
        types.append(stim_type)
        texts = {int(m.group(1)): p for p in type_dir.iterdir() if p.is_file() and (m := _STIM_TEXT.match(p.name))}
        spikes = {int(m.group(1)): p for p in type_dir.iterdir() if p.is_file() and (m := _SPIKE.match(p.name))}
        counts["orphan_spikes"] += len(set(spikes) - set(texts))
        for k in sorted(texts):
            wav_name = read_stim_pointer(texts[k])
            wav = wav_for(stim_type, wav_name)
            if not wav.is_file():
                raise DataError(texts[k], 1, f"names {wav_name!r}, which is not in {wav.parent}")
            if k not in spikes:
                counts["missing_spikes"] += 1
                continue
            name = f"{stim_type}/{Path(wav_name).stem}" if rec.layout == "crcns-aa1" else Path(wav_name).stem
            stimuli.setdefault(name, StimulusFile(name, [wav], {"type": stim_type, "wav": wav_name}))
            if name in spike_files:
                counts["duplicates"] += 1
                continue
            spike_files[name] = spikes[k]
    return NeuronFiles(cell.name, spike_files, {"cell": cell.name, "animal": cell.name.split("_", 1)[0],
                                                "stim_types": types})


def _finish_crcns(rec: Recording, stimuli: Dict[str, StimulusFile], counts: Dict[str, int]) -> Recording:
    rec.neurons = [n for n in rec.neurons if n.spike_files]
    if not rec.neurons:
        raise DataError(rec.source, None, "no cell with spike files found (empty download?)")
    rec.stimuli = [stimuli[k] for k in sorted(stimuli, key=natural_key)]
    if counts["missing_spikes"]:
        rec.warnings.append(f"{counts['missing_spikes']} stimK files without their spikeK file: those "
                            "(cell, stimulus) pairs are masked")
    if counts["orphan_spikes"]:
        rec.warnings.append(f"{counts['orphan_spikes']} spikeK files without their stimK file were ignored")
    if counts["duplicates"]:
        rec.warnings.append(f"{counts['duplicates']} repeated (cell, stimulus) pairs: the first one was kept")
    return rec


def _new_counts() -> Dict[str, int]:
    return {"missing_spikes": 0, "orphan_spikes": 0, "duplicates": 0}


def discover_aa1(folder: Path, cells: Optional[Sequence[str]] = None,
                 stim_types: Optional[Sequence[str]] = None) -> Recording:
    rec = Recording([], [], str(folder), folder.name, "crcns-aa1", pre_onset="drop")
    stimuli: Dict[str, StimulusFile] = {}
    counts = _new_counts()
    all_stims = folder / "all_stims"
    for area_dir in AA1_AREAS:
        if not (folder / area_dir).is_dir():
            continue
        area = area_dir[: -len("_cells")]
        for cell in _sorted_dirs(folder / area_dir):
            if cells is not None and cell.name not in cells:
                continue
            neuron = _scan_crcns_cell(cell, lambda t, w: all_stims / t / w, stim_types, rec, stimuli, counts)
            neuron.metadata["area"] = area
            rec.neurons.append(neuron)
    return _finish_crcns(rec, stimuli, counts)


def read_table(path: Path) -> Dict[str, Dict[str, str]]:
    """A small CSV table keyed by its first column; a header row is used for column names when present.

    Without a header the columns are named ``col1, col2, ...``. Returns ``{}`` when the file is absent.
    """
    if not path.is_file():
        return {}
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise DataError(path, None, f"cannot read table ({exc.strerror or exc})") from None
    rows = [r for r in csv.reader(text.splitlines()) if any(c.strip() for c in r)]
    if not rows:
        return {}
    first = [c.strip() for c in rows[0]]
    looks_like_header = all(not re.search(r"\d", c) for c in first) or first[0].lower() in (
        "cell", "cell_id", "cellname", "cell_name", "stim", "stimulus", "wav", "file", "filename", "name")
    header = first if looks_like_header else [f"col{i + 1}" for i in range(len(first))]
    table = {}
    for row in rows[1:] if looks_like_header else rows:
        cells = [c.strip() for c in row]
        names = header + [f"col{i + 1}" for i in range(len(header), len(cells))]
        table[cells[0]] = {names[i]: cells[i] for i in range(1, len(cells))}
    return table


def discover_aa2(folder: Path, cells: Optional[Sequence[str]] = None,
                 stim_types: Optional[Sequence[str]] = None) -> Recording:
    rec = Recording([], [], str(folder), folder.name, "crcns-aa2", pre_onset="drop")
    stimuli: Dict[str, StimulusFile] = {}
    counts = _new_counts()
    regions = read_table(folder / "cell_regions.csv")
    classes = read_table(folder / "cell_stim_classes.csv")
    stim_data = read_table(folder / "stim_data.csv")
    for cell in _sorted_dirs(folder / "all_cells"):
        if cells is not None and cell.name not in cells:
            continue
        neuron = _scan_crcns_cell(cell, lambda t, w: folder / "all_stims" / w, stim_types, rec, stimuli, counts)
        if cell.name in regions:
            row = regions[cell.name]
            neuron.metadata["region"] = list(row.values())[-1] if row else ""
            neuron.metadata.update({f"regions.{k}": v for k, v in row.items()})
        if cell.name in classes:
            neuron.metadata.update({f"stim_classes.{k}": v for k, v in classes[cell.name].items()})
        rec.neurons.append(neuron)
    for stim in stimuli.values():
        row = stim_data.get(str(stim.metadata.get("wav", "")))
        if row:
            stim.metadata.update({f"stim_data.{k}": v for k, v in row.items()})
    return _finish_crcns(rec, stimuli, counts)
