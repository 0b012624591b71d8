"""Fit > New fit...: a dialog that builds a :class:`strfviewer.fit.run.FitRequest` from the engine's registry.

Everything the user can pick comes from the engine: model families, kernels, prefilters, activations and
waveform front-ends (the model's input: the dataset's spectrogram or its audio through a registered front-end,
see :mod:`strfviewer.gui.fitting.frontend_slot`) from
:mod:`strfviewer.models.registry` (their tooltips from the registry's descriptions), each family's main
hyperparameters from ``factory.family_options`` and each kernel's, prefilter's and activation's options from the
``OPTIONS`` the class declares (:mod:`strfviewer.models.options`: defaults, ranges, labels, tooltips), the
devices from ``strfviewer.fit.run.available_devices`` and the training defaults from the ``FitRequest`` dataclass
itself. A new kernel or family registered in the engine appears here, with an editor per option, with no change
to this file.

Invalid choices are refused before anything starts: every edit rebuilds the spec, asks
``factory.check_spec`` (and a few fitting-level checks made here, e.g. ridge only fits a plain Linear model) and
shows the reasons under the form with OK disabled. The last accepted choices are stored in ``QSettings``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Dict, List, Optional

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout,
                               QGroupBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget)

from strfviewer.fit.learning_rates import default_learning_rates
from strfviewer.fit.step_budget import STEPS_PER_EPOCH, default_step_budget
from strfviewer.gui.fitting import frontend_slot

SETTINGS_KEY = "fitting/last_choices"
NONE_LABEL = "none"
DEFAULT_LABEL = "family default"
#: FitRequest fields edited by the "Training" group, in display order
_TRAINING_FIELDS = ("epochs", "patience", "lr", "frontend_lr", "weight_decay", "batch_size", "seed")
_TRAINING_LABELS = {
    "epochs": ("Max epochs", "Upper bound on passes over the training stimuli."),
    "patience": ("Patience (epochs)", "Stop after this many epochs without a better validation score."),
    "lr": ("Learning rate", f"AdamW step size. 'auto': the family's default ({default_learning_rates()})."),
    "frontend_lr": ("Front-end learning rate", "AdamW step size of a learnable waveform front-end's parameters "
                                               "(LEAF, SincNet, a learnable Gabor filterbank), often set lower "
                                               "than the model's so the filters move slowly. 'same as lr': the "
                                               "learning rate above. Only for a learnable front-end fitted by "
                                               "SGD."),
    "weight_decay": ("Weight decay", "L2 penalty on the weights (AdamW-style decay)."),
    "batch_size": ("Batch size (stimuli)", "Stimuli (or chunks of a recurrent model's training stimuli) per "
                                            f"optimisation step. 'auto' aims at {default_step_budget()}: one "
                                            f"stimulus per step on datasets of up to {STEPS_PER_EPOCH} training "
                                            "stimuli. Lower it if the GPU runs out of memory."),
    "seed": ("Seed", "Random seed for weight initialisation and batch order (same seed, same fit)."),
}
#: training fields whose ``None`` (automatic) shows as this text at the spin box's minimum, 0
_AUTO_FIELDS = {"batch_size": "auto", "lr": "auto", "frontend_lr": "same as lr"}
#: what an option declared with ``auto=True`` holds when left to the fit (``strfviewer.models.options.AUTO``)
AUTO_TEXT = "auto"
#: training fields edited as floats (their default may be None: automatic)
_FLOAT_FIELDS = ("lr", "frontend_lr", "weight_decay")
#: training fields that only SGD uses (disabled for ridge)
_SGD_FIELDS = ("epochs", "patience", "lr", "frontend_lr", "weight_decay", "batch_size")
#: split choices: label -> train/val/test fractions (None = the dataset's own split)
SPLIT_CHOICES = {
    "dataset": None,
    "70/15/15": (0.7, 0.15, 0.15),
    "80/10/10": (0.8, 0.1, 0.1),
    "60/20/20": (0.6, 0.2, 0.2),
}
DEVICE_LABELS = {"auto": "Auto", "cuda": "CUDA", "mps": "MPS", "cpu": "CPU"}


# ---- engine look-ups (lazy so importing the GUI package stays cheap) --------------------------------------------
def _factory():
    from strfviewer.models import factory

    return factory


def _registry_names(kind: str) -> List[str]:
    from strfviewer.models import registry

    return list(registry.names(kind))


def _fit_request_cls():
    from strfviewer.fit.run import FitRequest

    return FitRequest


def _available_devices() -> Dict[str, Optional[str]]:
    from strfviewer.fit.run import available_devices

    return dict(available_devices())


def dataclass_defaults(cls) -> Dict[str, Any]:
    """Field name -> default value of a dataclass (fields without a default are left out)."""
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            out[f.name] = f.default_factory()  # type: ignore[misc]
    return out


def component_options(kind: str, name: Optional[str]) -> List[Any]:
    """The options the dialog edits for the registered ``kind`` (kernel, prefilter, activation) ``name``: those
    its class declares, less the prefilter options that describe the data (filled from the dataset,
    :func:`prefilter_kwargs_for`) and those whose default is "automatic" (``None``, left to the engine)."""
    if not name:
        return []
    from strfviewer.models import options
    from strfviewer.models.prefilters import DATA_BOUND_OPTIONS

    data_bound = DATA_BOUND_OPTIONS if kind == "prefilter" else ()
    return [o for o in options.options_of(kind, name) if o.default is not None and o.name not in data_bound]


def _choices_tooltip(kind: str, intro: str) -> str:
    from strfviewer.models import options

    return options.choices_tooltip(kind, intro)


# ---- one widget per Option ---------------------------------------------------------------------------------------
class OptionEditor(QWidget):
    """An editor for one factory ``Option`` (int, float, choice or bool) with its tooltip; ``changed`` on edit."""

    changed = Signal()

    def __init__(self, option, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.option = option
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        kind = option.kind
        if kind == "bool":
            self.editor = QCheckBox()
            self.editor.toggled.connect(self.changed)
        elif kind == "choice":
            self.editor = QComboBox()
            for c in option.choices or []:
                self.editor.addItem(str(c), c)
            self.editor.currentIndexChanged.connect(self.changed)
        elif kind == "int":
            self.editor = QSpinBox()
            self.editor.setRange(int(option.minimum) if option.minimum is not None else 0,
                                 int(option.maximum) if option.maximum is not None else 1_000_000)
            if getattr(option, "auto", False):  # one step below the minimum reads "auto" (the fit chooses)
                self.editor.setMinimum(self.editor.minimum() - 1)
                self.editor.setSpecialValueText(AUTO_TEXT)
            self.editor.valueChanged.connect(self.changed)
        elif kind == "float":
            self.editor = _float_box(option.minimum, option.maximum, option.default)
            self.editor.valueChanged.connect(self.changed)
        else:
            raise ValueError(f"option {option.name!r}: unknown kind {kind!r}")
        self.editor.setObjectName(f"option_{option.name}")
        layout.addWidget(self.editor)
        tip = option.tooltip or ""
        if option.default is not None:
            tip = f"{tip}\nDefault: {option.default}".strip()
        self.setToolTip(tip)
        self.editor.setToolTip(tip)
        self.set_value(option.default)

    def value(self) -> Any:
        if isinstance(self.editor, QCheckBox):
            return self.editor.isChecked()
        if isinstance(self.editor, QComboBox):
            return self.editor.currentData()
        if self._shows_auto() and self.editor.value() == self.editor.minimum():
            return AUTO_TEXT
        return self.editor.value()

    def _shows_auto(self) -> bool:
        return isinstance(self.editor, QSpinBox) and getattr(self.option, "auto", False)

    def set_value(self, value: Any) -> None:
        if value is None:
            return
        if isinstance(self.editor, QCheckBox):
            self.editor.setChecked(bool(value))
        elif isinstance(self.editor, QComboBox):
            i = self.editor.findData(value)
            if i < 0:
                i = self.editor.findText(str(value))
            if i >= 0:
                self.editor.setCurrentIndex(i)
        elif self._shows_auto() and value == AUTO_TEXT:
            self.editor.setValue(self.editor.minimum())
        elif isinstance(self.editor, QSpinBox):
            self.editor.setValue(int(value))
        else:
            self.editor.setValue(float(value))


class FloatBox(QDoubleSpinBox):
    """A spin box for floats spanning many decades (learning rates, decays), shown as ``1e-03``/``0.75``;
    the arrows multiply or divide by 10 steps of the leading decimal."""

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt API
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt API
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        from PySide6.QtGui import QValidator

        stripped = text.strip()
        try:
            value = float(stripped)
        except ValueError:
            ok = stripped == "" or all(c in "0123456789.eE+-" for c in stripped)
            return (QValidator.State.Intermediate if ok else QValidator.State.Invalid), text, pos
        if self.minimum() <= value <= self.maximum():
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Intermediate, text, pos


def _float_box(minimum, maximum, default) -> QDoubleSpinBox:
    box = FloatBox()
    box.setDecimals(12)
    box.setRange(float(minimum) if minimum is not None else 0.0,
                 float(maximum) if maximum is not None else 1e6)
    box.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
    if default:
        box.setSingleStep(10 ** math.floor(math.log10(abs(float(default)))))
    return box


def _combo(items: List[tuple], name: str, tooltip: str) -> QComboBox:
    box = QComboBox()
    box.setObjectName(name)
    for label, data in items:
        box.addItem(label, data)
    box.setToolTip(tooltip)
    return box


def _select_data(box: QComboBox, data: Any) -> bool:
    for i in range(box.count()):
        if box.itemData(i) == data:
            box.setCurrentIndex(i)
            return True
    return False


# ---- the dialog ----------------------------------------------------------------------------------------------------
class FitDialog(QDialog):
    """Choose a model and training settings; :meth:`fit_request` returns the ``FitRequest`` when valid.

    ``dataset`` (optional) gives the number of frequency bands/neurons shown and the stimulus names used for a
    re-split. ``settings`` (a ``QSettings``) remembers the last accepted choices.
    """

    def __init__(self, parent: Optional[QWidget] = None, dataset=None, settings: Optional[QSettings] = None,
                 initial_request=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New fit")
        self.setObjectName("fit_dialog")
        self.dataset = dataset
        self.settings = settings
        self._factory = _factory()
        self._request_defaults = dataclass_defaults(_fit_request_cls())
        self._hyper_editors: Dict[str, OptionEditor] = {}
        self._kernel_editors: Dict[str, OptionEditor] = {}
        self._prefilter_editors: Dict[str, OptionEditor] = {}
        self._activation_editors: Dict[str, OptionEditor] = {}
        self._frontend_editors: Dict[str, OptionEditor] = {}
        self._restoring = False
        self.reasons: List[str] = []

        outer = QVBoxLayout(self)
        outer.addWidget(self._build_model_group())
        outer.addWidget(self._build_training_group())
        self.reasons_label = QLabel()
        self.reasons_label.setObjectName("fit_dialog_reasons")
        self.reasons_label.setWordWrap(True)
        self.reasons_label.setStyleSheet("color: #b00020;")
        outer.addWidget(self.reasons_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start fit")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        outer.addWidget(self.buttons)

        self._on_family_changed()
        if initial_request is not None:
            self.set_request(initial_request)
        else:
            self.restore_settings()
        self.validate()

    # -- building ------------------------------------------------------------------------------------------------
    def _build_model_group(self) -> QGroupBox:
        group = QGroupBox("Model")
        self.model_form = form = QFormLayout(group)
        self.family_box = _combo([(n, n) for n in self._factory.family_names()], "family",
                                 "Model family (deepSTRF class names).")
        self.family_box.currentIndexChanged.connect(self._on_family_changed)
        form.addRow("Family", self.family_box)

        self.frontend_box = _combo([(frontend_slot.SPECTROGRAM, None)]
                                   + [(n, n) for n in frontend_slot.frontend_names()], "frontend",
                                   _choices_tooltip("frontend", "Model input: 'spectrogram' fits on the dataset's "
                                                                "spectrograms; a waveform front-end fits on the "
                                                                "stimuli's audio (it becomes the model's wav2spec "
                                                                "slot):"))
        self.frontend_box.currentIndexChanged.connect(self._on_frontend_changed)
        form.addRow("Front-end", self.frontend_box)

        self.kernel_box = _combo([(DEFAULT_LABEL, None)] + [(n, n) for n in _registry_names("kernel")],
                                 "kernel", _choices_tooltip("kernel", "STRF kernel parameterisation:"))
        self.kernel_box.currentIndexChanged.connect(self._on_kernel_changed)
        form.addRow("Kernel", self.kernel_box)

        self.prefilter_box = _combo([(NONE_LABEL, None)] + [(n, n) for n in _registry_names("prefilter")],
                                    "prefilter", _choices_tooltip("prefilter", "Adaptation stage applied to the "
                                                                               "spectrogram before the core:"))
        self.prefilter_box.currentIndexChanged.connect(self._on_prefilter_changed)
        form.addRow("Prefilter", self.prefilter_box)

        self.activation_box = _combo([(DEFAULT_LABEL, None)] + [(n, n) for n in _registry_names("activation")],
                                     "activation", _choices_tooltip("activation", "Output nonlinearity applied by "
                                                                                  "the readout:"))
        self.activation_box.currentIndexChanged.connect(self._on_activation_changed)
        form.addRow("Output activation", self.activation_box)
        return group

    def _build_training_group(self) -> QGroupBox:
        group = QGroupBox("Training")
        form = QFormLayout(group)
        self.method_box = _combo([("SGD (AdamW, early stopping)", "sgd"), ("Ridge regression (closed form)",
                                                                          "ridge")],
                                 "method", "Ridge fits a plain Linear model in seconds; SGD fits any family.")
        self.method_box.currentIndexChanged.connect(self._on_method_changed)
        form.addRow("Method", self.method_box)

        self.training_editors: Dict[str, OptionEditor] = {}
        Option = self._factory.Option
        for name in _TRAINING_FIELDS:
            if name not in self._request_defaults:
                continue
            default = self._request_defaults[name]
            kind = "float" if isinstance(default, float) or name in _FLOAT_FIELDS else "int"
            label, tip = _TRAINING_LABELS[name]
            minimum = 0 if name in _AUTO_FIELDS or name not in ("epochs", "batch_size") else 1
            maximum = 10.0 if name in ("lr", "frontend_lr") else 1_000_000
            editor = OptionEditor(Option(name, kind, default, None, tip, minimum, maximum))
            if name in _AUTO_FIELDS:
                editor.editor.setSpecialValueText(_AUTO_FIELDS[name])  # shown at the minimum, 0 = None
                if kind == "float":  # from 'auto' the arrows step by 1e-4 (an adaptive step would be 1e-12)
                    editor.editor.setStepType(QDoubleSpinBox.StepType.DefaultStepType)
                    editor.editor.setSingleStep(1e-4)
            editor.changed.connect(self.validate)
            self.training_editors[name] = editor
            form.addRow(label, editor)

        self.device_box = QComboBox()
        self.device_box.setObjectName("device")
        self._fill_devices()
        self.device_box.currentIndexChanged.connect(self.validate)
        form.addRow("Device", self.device_box)

        self.split_box = _combo([(self._split_label(k), k) for k in SPLIT_CHOICES], "split",
                                "Which stimuli train, validate (early stopping) and test the model. 'dataset' "
                                "keeps the split stored with the data; the others re-split by stimulus name.")
        self.split_box.currentIndexChanged.connect(self.validate)
        form.addRow("Split", self.split_box)
        return group

    def _split_label(self, key: str) -> str:
        if key != "dataset":
            return f"{key} (train/val/test, by stimulus name)"
        if self.dataset is None:
            return "dataset's own split"
        counts = {s: len(self.dataset.stimuli_in(s)) for s in ("train", "val", "test")}
        return "dataset's own split ({train} train / {val} val / {test} test)".format(**counts)

    def _fill_devices(self) -> None:
        devices = _available_devices()
        order = ["auto"] + [d for d in ("cuda", "mps", "cpu") if d in devices] + \
                [d for d in devices if d not in ("auto", "cuda", "mps", "cpu")]
        model = self.device_box.model()
        for name in order:
            reason = None if name == "auto" else devices.get(name)
            label = DEVICE_LABELS.get(name, name)
            if reason:
                label = f"{label} (unavailable: {reason})"
            self.device_box.addItem(label, name)
            item = model.item(self.device_box.count() - 1) if isinstance(model, QStandardItemModel) else None
            if item is not None:
                item.setToolTip(reason or ("Pick CUDA if present, then MPS, else CPU." if name == "auto"
                                           else f"Run on {label}."))
                if reason:
                    item.setEnabled(False)
        self.device_reasons = {k: v for k, v in devices.items() if k != "auto"}

    # -- reactions -----------------------------------------------------------------------------------------------
    def _on_family_changed(self) -> None:
        family = self.family_box.currentData()
        options = self._factory.family_options(family) if family else []
        self._replace_rows(self._hyper_editors, options, after=self.family_box)
        self._update_T_tooltip()
        self._on_method_changed()

    def _on_kernel_changed(self) -> None:
        self._replace_rows(self._kernel_editors, component_options("kernel", self.kernel_box.currentData()),
                           after=self.kernel_box)
        self.validate()

    def _on_prefilter_changed(self) -> None:
        self._replace_rows(self._prefilter_editors,
                           component_options("prefilter", self.prefilter_box.currentData()), after=self.prefilter_box)
        self.validate()

    def _on_frontend_changed(self) -> None:
        self._frontend_options = frontend_slot.frontend_options(self.frontend_box.currentData(), self.dataset)
        self._replace_rows(self._frontend_editors, self._frontend_options, after=self.frontend_box)
        self.validate()

    def _on_activation_changed(self) -> None:
        self._replace_rows(self._activation_editors,
                           component_options("activation", self.activation_box.currentData()),
                           after=self.activation_box)
        self.validate()

    def _replace_rows(self, editors: Dict[str, "OptionEditor"], options, after: QWidget) -> None:
        """Swap the option rows held in ``editors`` for new ones, placed right below ``after``'s row."""
        for editor in editors.values():
            self.model_form.removeRow(editor)
        editors.clear()
        row = self.model_form.getWidgetPosition(after)[0] + 1
        for option in options:
            editor = OptionEditor(option)
            editor.changed.connect(self.validate)
            editors[option.name] = editor
            self.model_form.insertRow(row, option.display_label, editor)
            row += 1
        QTimer.singleShot(0, self, self.fit_height)  # once the removed rows are gone from the layout

    def fit_height(self) -> None:
        """Shrink to the rows shown: switching to a family with fewer options (StateNet -> Linear) left a gap."""
        layout = self.layout()
        if layout is None:
            return
        layout.activate()
        height = self.sizeHint().height()
        if self.height() > height:
            self.resize(self.width(), height)

    def _on_method_changed(self) -> None:
        sgd = self.method_box.currentData() != "ridge"
        for name in _SGD_FIELDS:
            if name in self.training_editors:
                self.training_editors[name].setEnabled(sgd)
        self.validate()

    def _update_frontend_lr(self, spec) -> None:
        """Enable the front-end learning rate only for a learnable front-end fitted by SGD (``spec``: the
        current, valid spec, or ``None``); the tooltip says why when it is off."""
        editor = self.training_editors.get("frontend_lr")
        if editor is None:
            return
        try:
            learnable = spec is not None and frontend_slot.frontend_is_learnable(spec, self.dataset)
        except (ValueError, KeyError):
            learnable = False
        sgd = self.method_box.currentData() != "ridge"
        self._frontend_lr_on = learnable and sgd
        editor.setEnabled(self._frontend_lr_on)
        tip = _TRAINING_LABELS["frontend_lr"][1]
        if not learnable:
            tip += "\nOff: the model has no learnable front-end."
        elif not sgd:
            tip += "\nOff: ridge regression has no learning rate."
        editor.setToolTip(tip)
        editor.editor.setToolTip(tip)

    def _update_T_tooltip(self) -> None:
        editor = self._hyper_editors.get("T")
        dt = getattr(self.dataset, "dt_ms", None)
        if editor is None or not dt:
            return
        frames = editor.value()
        editor.editor.setToolTip(f"{editor.option.tooltip}\nNow {frames} frames x {dt:g} ms = {frames * dt:g} ms "
                                 f"of history.")

    # -- results -------------------------------------------------------------------------------------------------
    def model_spec(self):
        """The ``ModelSpec`` described by the current choices."""
        prefilter = self.prefilter_box.currentData()
        prefilter_kwargs = prefilter_kwargs_for(self.dataset) if prefilter else {}
        prefilter_kwargs.update(_values(self._prefilter_editors))
        frontend = self.frontend_box.currentData()
        spec = self._factory.ModelSpec(
            family=self.family_box.currentData(), kernel=self.kernel_box.currentData(),
            kernel_kwargs=_values(self._kernel_editors), prefilter=prefilter, prefilter_kwargs=prefilter_kwargs,
            activation=self.activation_box.currentData(), activation_kwargs=_values(self._activation_editors),
            frontend=frontend, frontend_kwargs=frontend_slot.chosen_kwargs(
                _values(self._frontend_editors), getattr(self, "_frontend_options", [])) if frontend else {})
        return self._factory.apply_options(spec, {k: e.value() for k, e in self._hyper_editors.items()})

    def _split_value(self):
        """``None`` (the dataset's own split) or train/val/test fractions (the engine splits by name)."""
        return SPLIT_CHOICES.get(self.split_box.currentData())

    def fit_request(self):
        """The ``FitRequest`` for the current choices (call only when :attr:`reasons` is empty)."""
        FitRequest = _fit_request_cls()
        kwargs = dict(spec=self.model_spec(), method=self.method_box.currentData(),
                      device=self.device_box.currentData(), split=self._split_value())
        kwargs.update(self._training_values())
        if not getattr(self, "_frontend_lr_on", False):  # no learnable front-end (or ridge): nothing to set
            kwargs["frontend_lr"] = None
        return FitRequest(**kwargs)

    def _training_values(self) -> Dict[str, Any]:
        """The training editors' values; an automatic field at its minimum (``auto``) is ``None``."""
        return {name: (None if name in _AUTO_FIELDS and editor.value() == 0 else editor.value())
                for name, editor in self.training_editors.items()}

    def validate(self) -> List[str]:
        """Recompute :attr:`reasons` (why the choices cannot be fitted); OK is enabled only when there are none."""
        if self._restoring or not hasattr(self, "buttons"):
            return self.reasons
        reasons: List[str] = []
        try:
            spec = self.model_spec()
            reasons.extend(self._factory.check_spec(spec))
        except (TypeError, ValueError) as exc:
            spec = None
            reasons.append(str(exc))
        if spec is not None and not reasons:
            reasons.extend(frontend_slot.frontend_problems(spec, self.dataset))
        if spec is not None and not reasons:
            reasons.extend(self._build_problems(spec))
        self._update_frontend_lr(spec if not reasons else None)
        if self.method_box.currentData() == "ridge" and spec is not None and not reasons:
            reasons.extend(frontend_slot.ridge_problems(spec, self.dataset))
        device = self.device_box.currentData()
        if device and self.device_reasons.get(device):
            reasons.append(f"Device {DEVICE_LABELS.get(device, device)} is unavailable: "
                           f"{self.device_reasons[device]}.")
        if self.split_box.currentData() != "dataset" and self.dataset is not None and len(self.dataset.stimuli) < 3:
            reasons.append("Re-splitting needs at least 3 stimuli.")
        self.reasons = reasons
        self.reasons_label.setText("\n".join(f"Cannot fit: {r}" for r in reasons))
        self.reasons_label.setVisible(bool(reasons))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not reasons)
        return reasons

    def _build_problems(self, spec) -> List[str]:
        """Why the family itself refuses these values (e.g. a token size the attention heads cannot split),
        found by building the model once for the open dataset's bands and neurons (milliseconds; cached)."""
        n_freqs = getattr(self.dataset, "n_freqs", 34)
        n_neurons = getattr(self.dataset, "n_neurons", 1)
        key = (json.dumps(spec.to_dict(), sort_keys=True, default=str), n_freqs, n_neurons)
        if getattr(self, "_build_cache", (None,))[0] != key:
            try:
                if frontend_slot.has_frontend(spec):  # bands come from the front-end, its rate from the data
                    spec, n_freqs = frontend_slot.resolved_spec(spec, self.dataset), None
                self._factory.build_model(spec, n_freqs, n_neurons)
                problems: List[str] = []
            except (ValueError, TypeError, RuntimeError) as exc:
                problems = [str(exc)]
            self._build_cache = (key, problems)
        return list(self._build_cache[1])

    def accept(self) -> None:
        if self.validate():
            return
        self.save_settings()
        super().accept()

    # -- remembering choices -------------------------------------------------------------------------------------
    def choices(self) -> Dict[str, Any]:
        """The current choices as a JSON-able dict (what is stored in ``QSettings``)."""
        return {
            "family": self.family_box.currentData(),
            "options": {k: e.value() for k, e in self._hyper_editors.items()},
            "kernel": self.kernel_box.currentData(),
            "kernel_kwargs": _values(self._kernel_editors),
            "prefilter": self.prefilter_box.currentData(), "prefilter_kwargs": _values(self._prefilter_editors),
            "activation": self.activation_box.currentData(),
            "activation_kwargs": _values(self._activation_editors),
            "frontend": self.frontend_box.currentData(), "frontend_kwargs": _values(self._frontend_editors),
            "method": self.method_box.currentData(), "device": self.device_box.currentData(),
            "split": self.split_box.currentData(),
            "training": self._training_values(),
        }

    def set_choices(self, choices: Dict[str, Any]) -> None:
        """Apply a dict from :meth:`choices`; unknown names (e.g. a kernel no longer registered) are skipped."""
        self._restoring = True
        try:
            if choices.get("family"):
                _select_data(self.family_box, choices["family"])
            for k, v in (choices.get("options") or {}).items():
                if k in self._hyper_editors:
                    self._hyper_editors[k].set_value(v)
            for box, editors, name in ((self.kernel_box, self._kernel_editors, "kernel"),
                                       (self.prefilter_box, self._prefilter_editors, "prefilter"),
                                       (self.activation_box, self._activation_editors, "activation"),
                                       (self.frontend_box, self._frontend_editors, "frontend")):
                _select_data(box, choices.get(name))
                for k, v in (choices.get(f"{name}_kwargs") or {}).items():
                    if k in editors:
                        editors[k].set_value(v)
            if choices.get("method"):
                _select_data(self.method_box, choices["method"])
            device = choices.get("device")
            if device and not self.device_reasons.get(device):
                _select_data(self.device_box, device)
            if choices.get("split"):
                _select_data(self.split_box, choices["split"])
            for k, v in (choices.get("training") or {}).items():
                if k in self.training_editors:
                    self.training_editors[k].set_value(0 if v is None and k in _AUTO_FIELDS else v)
        finally:
            self._restoring = False
        self._on_method_changed()

    def set_request(self, request) -> None:
        """Show an existing ``FitRequest`` (e.g. to edit a previous run's settings)."""
        spec = request.spec
        options = dict(spec.hyper or {})
        options.update(T=spec.T, rnn_type=spec.rnn_type)
        if options.get("context_window", 0) is None:
            options["context_window"] = 0
        self.set_choices({
            "family": spec.family, "options": {k: v for k, v in options.items() if v is not None},
            "kernel": spec.kernel, "kernel_kwargs": dict(spec.kernel_kwargs or {}), "prefilter": spec.prefilter,
            "prefilter_kwargs": dict(spec.prefilter_kwargs or {}), "activation": spec.activation,
            "activation_kwargs": dict(getattr(spec, "activation_kwargs", None) or {}),
            "frontend": getattr(spec, "frontend", None), "frontend_kwargs": dict(getattr(spec, "frontend_kwargs", None) or {}),
            "method": request.method, "device": request.device,
            "split": "dataset", "training": {k: getattr(request, k) for k in _TRAINING_FIELDS
                                             if hasattr(request, k)},
        })

    def save_settings(self) -> None:
        if self.settings is not None:
            self.settings.setValue(SETTINGS_KEY, json.dumps(self.choices()))

    def restore_settings(self) -> None:
        if self.settings is None:
            return
        raw = self.settings.value(SETTINGS_KEY)
        if not raw:
            return
        try:
            choices = json.loads(raw)
        except (TypeError, ValueError):
            return  # a damaged entry: fall back to the defaults
        if isinstance(choices, dict):
            self.set_choices(choices)


def prefilter_kwargs_for(dataset) -> Dict[str, Any]:
    """Prefilter arguments that must match the data: frame step (ms), band range (Hz) and frequency scale,
    read from the dataset's front-end parameters (empty without a dataset: the engine's defaults apply)."""
    if dataset is None:
        return {}
    frontend = dict(getattr(dataset, "frontend", None) or {})
    out: Dict[str, Any] = {"dt": float(dataset.dt_ms)}
    for key, name in (("f_min_hz", "min_freq"), ("f_max_hz", "max_freq")):
        if isinstance(frontend.get(key), (int, float)):
            out[name] = float(frontend[key])
    if isinstance(frontend.get("scale"), str):
        out["scale"] = frontend["scale"]
    return out


def _values(editors: Dict[str, OptionEditor]) -> Dict[str, Any]:
    """``{option name: value}`` of a group of option editors."""
    return {k: e.value() for k, e in editors.items()}
