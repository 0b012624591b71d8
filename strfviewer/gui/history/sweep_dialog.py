"""Fit > New sweep...: build a sweep (model configurations x seeds x datasets) and how to run it.

The dialog edits the same thing a sweep TOML file describes (``docs/sweeps.md``) and can save it as, or load it
from, such a file. Model configurations are *blocks*: a family with fixed values and lists (grid axes), e.g. one
block "Linear, T 15, kernel [full, separable]" is two configurations. The grid builder makes one or two blocks per
checked family from the checked kernels (families with a STRF convolution) and prefilters; loaded files keep their
blocks as written. Every trial is checked with ``factory.check_spec`` before OK is enabled, and the number of
trials is shown. The executor is local worker processes (``N``) or a Ray cluster address (``auto``,
``ray://host:10001``, ``local``).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QPushButton, QRadioButton, QSpinBox, QVBoxLayout, QWidget)

from strfviewer.gui.fitting.fit_dialog import prefilter_kwargs_for
from strfviewer.runs.sweep_spec import SweepError, SweepSpec

SETTINGS_KEY = "history/last_sweep"
NONE_PREFILTER = "none"
DEFAULT_T = 15
METHODS = (("sgd", "Gradient descent (AdamW)"), ("ridge", "Ridge (Linear, full kernel, no prefilter)"))
DEVICES = (("auto", "Auto"), ("cpu", "CPU"), ("cuda", "CUDA"))


# ---- seeds ----------------------------------------------------------------------------------------------------
def parse_seeds(text: str) -> List[int]:
    """``"0-4"`` -> ``[0, 1, 2, 3, 4]``; ``"0,1,2"``, ``"0-2, 7"`` and spaces work too. ``ValueError`` naming
    the bad part otherwise. Duplicates are dropped, order kept."""
    seeds: List[int] = []
    parts = [p.strip() for p in re.split(r"[,\s]+", text.strip()) if p.strip()]
    if not parts:
        raise ValueError("seeds: give at least one seed, e.g. 0-4 or 0,1,2")
    for part in parts:
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part) or re.fullmatch(r"(\d+)", part)
        if m is None:
            raise ValueError(f"seeds: {part!r} is not a seed (0, 1, ...) or a range such as 0-4")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.lastindex == 2 else lo
        if hi < lo:
            raise ValueError(f"seeds: range {part!r} goes down; write {hi}-{lo}")
        if hi - lo > 10000:
            raise ValueError(f"seeds: range {part!r} is too long")
        seeds.extend(s for s in range(lo, hi + 1) if s not in seeds)
    return seeds


def format_seeds(seeds: Sequence[int]) -> str:
    """Inverse of :func:`parse_seeds`: ``[0, 1, 2, 5]`` -> ``"0-2, 5"``."""
    out, run = [], []
    for s in list(seeds) + [None]:
        if run and (s is None or s != run[-1] + 1):
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
            run = []
        if s is not None:
            run.append(int(s))
    return ", ".join(out)


# ---- TOML (the subset sweep files use) ---------------------------------------------------------------------------
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_str(key)


def _toml_str(s: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes; TOML also wants DEL escaped
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value: Any) -> str:
    """One TOML value: string, integer, float (``nan``/``inf`` too), boolean, array or inline table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = [f"{_toml_key(str(k))} = {toml_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise TypeError(f"cannot write {type(value).__name__} value {value!r} to TOML")


def sweep_to_toml(spec: SweepSpec) -> str:
    """The sweep as a TOML file that :meth:`SweepSpec.from_toml` reads back to the same trials."""
    lines = [f"name = {toml_value(spec.name)}", f"data = {toml_value(list(spec.data))}",
             f"seeds = {toml_value([int(s) for s in spec.seeds])}", ""]
    fit = {k: v for k, v in spec.fit.items() if v is not None}
    if fit:
        lines.append("[fit]")
        lines += [f"{_toml_key(k)} = {toml_value(v)}" for k, v in fit.items()]
        lines.append("")
    for block in spec.models:
        lines.append("[[model]]")
        lines += [f"{_toml_key(k)} = {toml_value(v)}" for k, v in block.items() if v is not None]
        lines.append("")
    return "\n".join(lines)


def save_sweep_toml(spec: SweepSpec, path) -> Path:
    """Write :func:`sweep_to_toml` to ``path`` atomically."""
    from strfviewer.io.atomic import atomic_write_text

    return Path(atomic_write_text(path, sweep_to_toml(spec)))


# ---- model blocks ------------------------------------------------------------------------------------------------
def grid_blocks(families: Sequence[str], kernels: Sequence[str], prefilters: Sequence[str], T: int,
                prefilter_kwargs: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    """Sweep model blocks for every family x the kernels (families with a STRF) x the prefilters.

    ``prefilters`` may include ``"none"``. A prefilter needs the data's arguments (``prefilter_kwargs``: frame
    step, band range, scale), which a model without prefilter must not get, so each family gives up to two blocks:
    one without prefilter and one with the list of prefilters.
    """
    from strfviewer.models.factory import FAMILIES

    blocks = []
    real_prefilters = [p for p in prefilters if p and p != NONE_PREFILTER]
    for family in families:
        base: Dict[str, Any] = {"family": family}
        fam = FAMILIES.get(family)
        if fam is None or fam.uses_T:
            base["T"] = int(T)
        if fam is not None and fam.has_kernel and kernels:
            base["kernel"] = list(kernels) if len(kernels) > 1 else kernels[0]
        if NONE_PREFILTER in prefilters or not prefilters:
            blocks.append(dict(base))
        if real_prefilters:
            block = dict(base, prefilter=real_prefilters if len(real_prefilters) > 1 else real_prefilters[0])
            if prefilter_kwargs:
                block["prefilter_kwargs"] = dict(prefilter_kwargs)
            blocks.append(block)
    return blocks


#: FitRequest fields a model block made in the fit dialog keeps (the others are the sweep's shared settings)
BLOCK_REQUEST_FIELDS = ("method", "lr", "weight_decay", "batch_size")


def _fixed(value: Any) -> Any:
    """A value a sweep block keeps as one value: lists (grid axes otherwise) and ``{"value": ...}`` tables are
    wrapped as ``{"value": ...}``."""
    if isinstance(value, list) or (isinstance(value, dict) and set(value) == {"value"}):
        return {"value": value}
    return value


def block_from_request(request) -> Dict[str, Any]:
    """A one-configuration sweep block from a ``FitRequest`` (e.g. built in the fit dialog): every model spec
    field that is set, the model's other hyperparameters, and the request's method, lr, weight decay and batch
    size."""
    spec = request.spec.to_dict()
    block: Dict[str, Any] = {"family": spec["family"]}
    for key in ("T", "kernel", "kernel_kwargs", "prefilter", "prefilter_kwargs", "activation", "activation_kwargs",
                "rnn_type"):
        value = spec.get(key)
        if value not in (None, {}, ""):
            block[key] = _fixed(value)
    for key, value in (spec.get("hyper") or {}).items():
        block[key] = _fixed(value)
    for key in BLOCK_REQUEST_FIELDS:
        value = getattr(request, key, None)
        if value is not None:
            block[key] = value
    return block


def describe_block(block: Dict[str, Any]) -> str:
    """``Linear  T=15  kernel=[full, separable]  prefilter=AdapTrans``."""
    parts = [str(block.get("family", "?"))]
    for key, value in block.items():
        if key in ("family", "prefilter_kwargs"):
            continue
        if isinstance(value, list):
            value = "[" + ", ".join(map(str, value)) + "]"
        parts.append(f"{key}={value}")
    return "  ".join(parts)


def trial_problems(spec: SweepSpec) -> List[str]:
    """Why trials of ``spec`` cannot be fitted (``check_spec`` of every configuration, ridge limits); one line
    per distinct problem."""
    from strfviewer.models.factory import ModelSpec, check_spec

    problems: List[str] = []
    seen = set()
    for trial in spec.trials():
        key = json.dumps([trial.spec, trial.request.get("method")], sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        label = trial.label().split(" seed=")[0]
        try:
            model_spec = ModelSpec.from_dict(trial.spec)
            reasons = check_spec(model_spec)
        except (TypeError, ValueError) as exc:
            model_spec, reasons = None, [str(exc)]
        if trial.request.get("method") == "ridge" and model_spec is not None:
            if model_spec.family != "Linear" or model_spec.kernel not in (None, "full") or model_spec.prefilter:
                reasons.append("ridge fits only a Linear model with a full kernel and no prefilter")
        problems += [f"{label}: {r}" for r in reasons if f"{label}: {r}" not in problems]
    return problems


def _checkable_list(names: Sequence[str], checked: Sequence[str], name: str) -> QListWidget:
    box = QListWidget()
    box.setObjectName(name)
    for n in names:
        item = QListWidgetItem(n)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if n in checked else Qt.CheckState.Unchecked)
        box.addItem(item)
    box.setMaximumHeight(22 * min(len(names), 7) + 6)
    box.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    box.setMinimumWidth(box.sizeHintForColumn(0) + 12)
    return box


def checked_names(box: QListWidget) -> List[str]:
    return [box.item(i).text() for i in range(box.count()) if box.item(i).checkState() == Qt.CheckState.Checked]


def set_checked(box: QListWidget, names: Sequence[str]) -> None:
    for i in range(box.count()):
        item = box.item(i)
        item.setCheckState(Qt.CheckState.Checked if item.text() in names else Qt.CheckState.Unchecked)


def loadable_source(dataset) -> Optional[str]:
    """The open dataset's source when a worker process can load it again (``demo``, an existing path)."""
    source = str(getattr(dataset, "source", "") or "")
    if source == "demo" or source.startswith("demo:"):
        return source
    from strfviewer.data.sources import DataSource, parse_source, source_exists

    if source and source_exists(source):
        parsed = parse_source(source)
        return str(DataSource(str(Path(parsed.path).expanduser().resolve()), parsed.options))
    return None


class SweepDialog(QDialog):
    """Fit > New sweep...: :meth:`sweep_spec` and :meth:`executor_choice` once accepted."""

    def __init__(self, parent: Optional[QWidget] = None, dataset=None, settings: Optional[QSettings] = None) -> None:
        super().__init__(parent)
        self.setObjectName("sweep_dialog")
        self.setWindowTitle("New sweep")
        self.dataset = dataset
        self.settings = settings
        self.blocks: List[Dict[str, Any]] = []
        self.extra_fit: Dict[str, Any] = {}  # [fit] keys of a loaded file that the form does not show
        self.problems: List[str] = []
        from strfviewer.models import registry

        self.name_edit = QLineEdit(time.strftime("sweep-%Y%m%d-%H%M"))
        self.name_edit.setObjectName("sweep_name")

        # models
        self.family_list = _checkable_list(registry.names("model"), ["Linear"], "sweep_families")
        self.kernel_list = _checkable_list(registry.names("kernel"), ["full"], "sweep_kernels")
        self.prefilter_list = _checkable_list([NONE_PREFILTER] + list(registry.names("prefilter")),
                                              [NONE_PREFILTER], "sweep_prefilters")
        self.T_box = QSpinBox()
        self.T_box.setRange(1, 1000)
        self.T_box.setValue(DEFAULT_T)
        self.T_box.setToolTip("Temporal window of the STRF, frames")
        self.add_button = QPushButton("Add to sweep")
        self.add_button.setObjectName("sweep_add_models")
        self.add_button.setToolTip("Add the checked families x kernels x prefilters to the model list below")
        self.add_button.clicked.connect(self.add_grid)
        self.from_fit_button = QPushButton("Add from fit dialog...")
        self.from_fit_button.setObjectName("sweep_add_from_fit_dialog")
        self.from_fit_button.setToolTip("Choose one model with every option of Fit > New fit... (hyperparameters, "
                                        "learning rate...) and add it to the model list")
        self.from_fit_button.clicked.connect(self.open_fit_dialog)
        self.fit_dialog = None
        self.block_list = QListWidget()
        self.block_list.setObjectName("sweep_blocks")
        remove_block = QPushButton("Remove")
        remove_block.clicked.connect(self.remove_selected_block)
        clear_blocks = QPushButton("Clear")
        clear_blocks.clicked.connect(lambda: self.set_blocks([]))
        model_box = QGroupBox("Model configurations")
        grid = QGridLayout(model_box)
        for col, (label, widget) in enumerate((("Families", self.family_list), ("Kernels", self.kernel_list),
                                               ("Prefilters", self.prefilter_list))):
            grid.addWidget(QLabel(label), 0, col)
            grid.addWidget(widget, 1, col, Qt.AlignmentFlag.AlignTop)
        t_row = QHBoxLayout()
        t_row.addWidget(QLabel("T (frames)"))
        t_row.addWidget(self.T_box)
        t_row.addStretch(1)
        t_row.addWidget(self.add_button)
        t_row.addWidget(self.from_fit_button)
        grid.addLayout(t_row, 2, 0, 1, 3)
        grid.addWidget(self.block_list, 3, 0, 1, 3)
        block_buttons = QHBoxLayout()
        block_buttons.addStretch(1)
        block_buttons.addWidget(remove_block)
        block_buttons.addWidget(clear_blocks)
        grid.addLayout(block_buttons, 4, 0, 1, 3)

        # seeds and data
        self.seeds_edit = QLineEdit("0-2")
        self.seeds_edit.setObjectName("sweep_seeds")
        self.seeds_edit.setToolTip("Seeds: a list (0,1,2) or ranges (0-4); each configuration is fitted with each")
        self.data_list = QListWidget()
        self.data_list.setObjectName("sweep_data")
        self.data_list.setMaximumHeight(90)
        source = loadable_source(dataset)
        if source:
            self.data_list.addItem(source)
        add_folder = QPushButton("Add folder...")
        add_folder.clicked.connect(self.ask_add_folder)
        add_file = QPushButton("Add file...")
        add_file.clicked.connect(self.ask_add_file)
        remove_data = QPushButton("Remove")
        remove_data.clicked.connect(self.remove_selected_data)
        data_buttons = QHBoxLayout()
        for b in (add_folder, add_file, remove_data):
            data_buttons.addWidget(b)
        data_buttons.addStretch(1)
        data_box = QGroupBox("Seeds and datasets")
        data_layout = QFormLayout(data_box)
        data_layout.addRow("Seeds", self.seeds_edit)
        data_layout.addRow("Datasets", self.data_list)
        data_layout.addRow("", data_buttons)

        # shared fit settings
        self.epochs_box = QSpinBox()
        self.epochs_box.setRange(1, 100000)
        self.epochs_box.setValue(30)
        self.patience_box = QSpinBox()
        self.patience_box.setRange(0, 100000)
        self.patience_box.setValue(5)
        self.patience_box.setToolTip("Stop a fit after this many epochs without a better validation cc_norm "
                                     "(0: never)")
        self.method_box = QComboBox()
        for key, label in METHODS:
            self.method_box.addItem(label, key)
        self.device_box = QComboBox()
        for key, label in DEVICES:
            self.device_box.addItem(label, key)
        fit_box = QGroupBox("Fit settings (every trial)")
        fit_layout = QFormLayout(fit_box)
        fit_layout.addRow("Max epochs", self.epochs_box)
        fit_layout.addRow("Patience", self.patience_box)
        fit_layout.addRow("Method", self.method_box)
        fit_layout.addRow("Device", self.device_box)

        # executor
        self.local_radio = QRadioButton("Local worker processes")
        self.local_radio.setChecked(True)
        self.ray_radio = QRadioButton("Ray cluster at")
        group = QButtonGroup(self)
        group.addButton(self.local_radio)
        group.addButton(self.ray_radio)
        self.workers_box = QSpinBox()
        self.workers_box.setObjectName("sweep_workers")
        self.workers_box.setRange(1, 1024)
        self.workers_box.setValue(max(1, os.cpu_count() or 1))
        self.workers_box.setToolTip("Trials run at once; torch threads are split between them")
        self.address_edit = QLineEdit("auto")
        self.address_edit.setObjectName("sweep_address")
        self.address_edit.setToolTip("auto (a running cluster), ray://host:10001 (Ray client) or local (start a "
                                     "Ray instance here)")
        exec_box = QGroupBox("Run on")
        exec_layout = QGridLayout(exec_box)
        exec_layout.addWidget(self.local_radio, 0, 0)
        exec_layout.addWidget(self.workers_box, 0, 1)
        exec_layout.addWidget(self.ray_radio, 1, 0)
        exec_layout.addWidget(self.address_edit, 1, 1)

        self.trials_label = QLabel()
        self.trials_label.setObjectName("sweep_trials")
        self.problems_label = QLabel()
        self.problems_label.setObjectName("sweep_problems")
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet("color: #b00020")

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Run sweep")
        self.load_button = self.buttons.addButton("Load TOML...", QDialogButtonBox.ButtonRole.ActionRole)
        self.save_button = self.buttons.addButton("Save as TOML...", QDialogButtonBox.ButtonRole.ActionRole)
        self.load_button.clicked.connect(self.ask_load_toml)
        self.save_button.clicked.connect(self.ask_save_toml)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        top = QFormLayout()
        top.addRow("Name", self.name_edit)
        columns = QHBoxLayout()
        right = QVBoxLayout()
        for w in (data_box, fit_box, exec_box):
            right.addWidget(w)
        right.addStretch(1)
        columns.addWidget(model_box, 3)
        columns.addLayout(right, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(columns, 1)
        layout.addWidget(self.trials_label)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.buttons)

        for signal in (self.name_edit.textChanged, self.seeds_edit.textChanged):
            signal.connect(self.update_summary)
        for box in (self.epochs_box, self.patience_box, self.workers_box):
            box.valueChanged.connect(self.update_summary)
        for box in (self.method_box, self.device_box):
            box.currentIndexChanged.connect(self.update_summary)
        self.local_radio.toggled.connect(self.update_summary)
        self.address_edit.textChanged.connect(self.update_summary)
        self.restore_settings()
        if not self.blocks:
            self.set_blocks(grid_blocks(["Linear"], ["full"], [NONE_PREFILTER], DEFAULT_T))
        self.update_summary()

    # -- models ------------------------------------------------------------------------------------------------
    def set_blocks(self, blocks: List[Dict[str, Any]]) -> None:
        self.blocks = [dict(b) for b in blocks]
        self.block_list.clear()
        for b in self.blocks:
            self.block_list.addItem(describe_block(b))
        self.update_summary()

    def add_grid(self) -> List[Dict[str, Any]]:
        """Add the checked families x kernels x prefilters as blocks; returns the new blocks."""
        new = grid_blocks(checked_names(self.family_list), checked_names(self.kernel_list),
                          checked_names(self.prefilter_list), self.T_box.value(), prefilter_kwargs_for(self.dataset))
        self.set_blocks(self.blocks + [b for b in new if b not in self.blocks])
        return new

    def add_request(self, request) -> Dict[str, Any]:
        """Add the model (and its lr, weight decay, batch size, method) of a ``FitRequest`` as one block."""
        block = block_from_request(request)
        if block not in self.blocks:
            self.set_blocks(self.blocks + [block])
        return block

    def open_fit_dialog(self):
        """Show the fit dialog (G1's :class:`FitDialog`); its model is added when accepted."""
        from strfviewer.gui.fitting.fit_dialog import FitDialog

        self.fit_dialog = dialog = FitDialog(self, dataset=self.dataset, settings=self.settings)
        dialog.setWindowTitle("Model for the sweep")
        dialog.finished.connect(self._on_fit_dialog_finished)
        dialog.open()
        return dialog

    def _on_fit_dialog_finished(self, result: int) -> None:
        dialog, self.fit_dialog = self.fit_dialog, None
        if dialog is not None and result == QDialog.DialogCode.Accepted:
            self.add_request(dialog.fit_request())
        if dialog is not None:
            dialog.deleteLater()

    def remove_selected_block(self) -> None:
        row = self.block_list.currentRow()
        if 0 <= row < len(self.blocks):
            self.set_blocks(self.blocks[:row] + self.blocks[row + 1:])

    # -- data --------------------------------------------------------------------------------------------------
    def data_sources(self) -> List[str]:
        return [self.data_list.item(i).text() for i in range(self.data_list.count())]

    def add_data(self, source: str) -> None:
        if not source.startswith("demo"):
            from strfviewer.data.sources import DataSource, parse_source

            parsed = parse_source(source)
            source = str(DataSource(str(Path(parsed.path).expanduser().resolve()), parsed.options))
        if source not in self.data_sources():
            self.data_list.addItem(source)
        self.update_summary()

    def ask_add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a dataset or cell folder")
        if folder:
            self.add_data(folder)

    def ask_add_file(self) -> None:
        from strfviewer.gui.window.file_actions import DATA_FILE_FILTER

        path, _ = QFileDialog.getOpenFileName(self, "Add a dataset file", "", DATA_FILE_FILTER)
        if path:
            self.add_data(path)

    def remove_selected_data(self) -> None:
        row = self.data_list.currentRow()
        if row >= 0:
            self.data_list.takeItem(row)
            self.update_summary()

    # -- the sweep ---------------------------------------------------------------------------------------------
    def fit_settings(self) -> Dict[str, Any]:
        fit = dict(self.extra_fit)
        fit.update(epochs=self.epochs_box.value(), patience=self.patience_box.value(),
                   method=self.method_box.currentData(), device=self.device_box.currentData())
        return fit

    def sweep_spec(self) -> SweepSpec:
        """The sweep the form describes; ``SweepError`` / ``ValueError`` saying what is missing or wrong."""
        name = self.name_edit.text().strip() or "sweep"
        seeds = parse_seeds(self.seeds_edit.text())
        if not self.data_sources():
            raise SweepError("add at least one dataset")
        if not self.blocks:
            raise SweepError("add at least one model configuration")
        return SweepSpec.from_dict({"name": name, "data": self.data_sources(), "seeds": seeds,
                                    "model": [dict(b) for b in self.blocks], "fit": self.fit_settings()},
                                   source="the sweep dialog")

    def executor_choice(self) -> Tuple[Optional[str], Optional[int]]:
        """``(None, workers)`` for local processes, ``(address, num_cpus or None)`` for Ray."""
        if self.local_radio.isChecked():
            return None, self.workers_box.value()
        address = self.address_edit.text().strip() or "auto"
        return address, (self.workers_box.value() if address == "local" else None)

    def update_summary(self, *args) -> int:
        """Recount the trials and recheck them; enables "Run sweep" when there is something valid to run."""
        if not hasattr(self, "buttons"):
            return 0
        problems: List[str] = []
        n = 0
        try:
            spec = self.sweep_spec()
            n = len(spec.trials())
            configs = len(spec.configurations())
            self.trials_label.setText(f"{n} trial(s): {configs} configuration(s) x {len(spec.data)} dataset(s) x "
                                      f"{len(spec.seeds)} seed(s)")
            problems = trial_problems(spec)
        except ValueError as exc:
            self.trials_label.setText("no trials")
            problems = [str(exc)]
        if self.ray_radio.isChecked() and not self.address_edit.text().strip():
            problems.append("give a Ray address (auto, local or ray://host:10001)")
        self.problems = problems
        self.problems_label.setText("\n".join(problems[:8]) + (f"\n... and {len(problems) - 8} more"
                                                               if len(problems) > 8 else ""))
        self.problems_label.setVisible(bool(problems))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problems and n > 0)
        return n

    def accept(self) -> None:
        if self.update_summary() == 0 or self.problems:
            return
        self.save_settings()
        super().accept()

    # -- TOML ----------------------------------------------------------------------------------------------------
    def ask_save_toml(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the sweep as TOML",
                                              f"{self.name_edit.text().strip() or 'sweep'}.toml", "TOML (*.toml)")
        if path:
            try:
                self.save_toml(path)
            except (ValueError, OSError) as exc:
                self.problems_label.setText(f"Could not save {path}: {exc}")
                self.problems_label.setVisible(True)

    def save_toml(self, path) -> Path:
        return save_sweep_toml(self.sweep_spec(), path)

    def ask_load_toml(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a sweep file", "", "TOML (*.toml);;All files (*)")
        if path:
            try:
                self.load_toml(path)
            except (ValueError, OSError) as exc:
                self.problems_label.setText(str(exc))
                self.problems_label.setVisible(True)

    def load_toml(self, path) -> SweepSpec:
        """Fill the form from a sweep file (``SweepError`` naming the file when it is invalid)."""
        return self.set_spec(SweepSpec.from_toml(path))

    def set_spec(self, spec: SweepSpec) -> SweepSpec:
        self.name_edit.setText(spec.name)
        self.seeds_edit.setText(format_seeds(spec.seeds))
        self.data_list.clear()
        for source in spec.data:
            self.data_list.addItem(source)
        fit = dict(spec.fit)
        if "epochs" in fit:
            self.epochs_box.setValue(int(fit.pop("epochs")))
        if "patience" in fit:
            self.patience_box.setValue(int(fit.pop("patience") or 0))
        for box, key in ((self.method_box, "method"), (self.device_box, "device")):
            if key in fit:
                index = box.findData(fit[key])
                if index >= 0:
                    box.setCurrentIndex(index)
                    fit.pop(key)
        self.extra_fit = fit
        self.set_blocks(spec.models)
        return spec

    # -- remembering the last sweep ----------------------------------------------------------------------------
    def save_settings(self) -> None:
        if self.settings is None:
            return
        address, workers = self.executor_choice()
        self.settings.setValue(SETTINGS_KEY, json.dumps({
            "blocks": self.blocks, "seeds": self.seeds_edit.text(), "fit": self.fit_settings(),
            "ray": address is not None, "address": self.address_edit.text(), "workers": self.workers_box.value()}))

    def restore_settings(self) -> None:
        if self.settings is None:
            return
        try:
            saved = json.loads(self.settings.value(SETTINGS_KEY) or "{}")
        except (TypeError, ValueError):
            return  # a damaged entry: keep the defaults
        if not isinstance(saved, dict):
            return
        if isinstance(saved.get("blocks"), list):
            blocks = [dict(b) for b in saved["blocks"] if isinstance(b, dict) and "family" in b]
            current = prefilter_kwargs_for(self.dataset)
            for b in blocks:  # prefilter arguments follow the data: take the open dataset's
                if "prefilter_kwargs" in b and current:
                    b["prefilter_kwargs"] = dict(current)
            self.set_blocks(blocks)
        if isinstance(saved.get("seeds"), str):
            self.seeds_edit.setText(saved["seeds"])
        fit = saved.get("fit") if isinstance(saved.get("fit"), dict) else {}
        if isinstance(fit.get("epochs"), int):
            self.epochs_box.setValue(fit["epochs"])
        if isinstance(fit.get("patience"), int):
            self.patience_box.setValue(fit["patience"])
        for box, key in ((self.method_box, "method"), (self.device_box, "device")):
            index = box.findData(fit.get(key))
            if index >= 0:
                box.setCurrentIndex(index)
        if isinstance(saved.get("workers"), int):
            self.workers_box.setValue(saved["workers"])
        if isinstance(saved.get("address"), str):
            self.address_edit.setText(saved["address"])
        self.ray_radio.setChecked(bool(saved.get("ray")))
        self.local_radio.setChecked(not saved.get("ray"))
