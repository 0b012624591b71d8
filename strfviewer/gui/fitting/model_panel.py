"""The model dock: the current run's architecture, and one-click refits with another kernel, prefilter or front-end.

The four slots of every model (``wav2spec -> prefiltering -> core -> readout``) are listed with their class and
parameter count (``factory.describe``). Beside them, one button per registered kernel, per prefilter (plus
"none") and per waveform front-end (plus "spectrogram": the dataset's spectrograms as input): a click queues a
new fit of the same spec and training settings with only that part swapped (``factory.swap``), which appears as
a new run. Comparing the full, separable and Gaussian-mixture kernels, or CausalMel and LEAF, is one click each.
A swapped-in front-end keeps the previous front-end's options that it declares too: its extent (band count, band
limits, sample rate, under the new one's names: ``n_mels`` becomes ``n_filters``) as the previous one had it, the
other options where they were chosen; the rest at the new front-end's defaults. Choices the engine
refuses (``factory.check_spec``, a front-end on data without audio) are disabled with the reason as tooltip.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QGridLayout, QGroupBox, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from strfviewer.gui.fitting import frontend_slot
from strfviewer.gui.fitting.fit_dialog import prefilter_kwargs_for
from strfviewer.gui.window.qt_session import QtSession, qt_session_of
from strfviewer.session import Run, Session

SLOT_COLUMNS = ("Slot", "Class", "Parameters", "Summary")
NO_PREFILTER = "none"


def _factory():
    from strfviewer.models import factory

    return factory


def _names(kind: str) -> List[str]:
    from strfviewer.models import registry

    return list(registry.names(kind))


def swapped_spec(spec, kernel: Optional[str] = None, prefilter: Optional[str] = None, dataset=None,
                 frontend: Optional[str] = None):
    """``spec`` with another kernel, prefilter or front-end (``prefilter='none'`` removes it,
    ``frontend='spectrogram'`` fits on the spectrograms), other settings kept. A new prefilter gets the frame step
    and band range of ``dataset`` when the spec had none; a new front-end keeps the previous one's options that
    it declares too (:func:`frontend_slot.carried_kwargs`: band count, band limits, sample rate...)."""
    if frontend == frontend_slot.SPECTROGRAM:
        frontend = "none"
    new = _factory().swap(spec, kernel=kernel, prefilter=prefilter, frontend=frontend)
    if new.prefilter and not new.prefilter_kwargs:
        new = dataclasses.replace(new, prefilter_kwargs=prefilter_kwargs_for(dataset))
    if frontend_slot.has_frontend(new) and frontend_slot.has_frontend(spec) and new.frontend != spec.frontend:
        new = dataclasses.replace(new, frontend_kwargs=frontend_slot.carried_kwargs(
            spec.frontend, dict(spec.frontend_kwargs or {}), new.frontend, dataset))
    return new


def refit_request(run: Run, spec, dataset=None):
    """A ``FitRequest`` equal to ``run``'s (or the defaults when it has none) with ``spec``; ridge, which only
    fits a plain full-kernel Linear model on spectrograms or a fixed front-end, becomes SGD when the new spec
    needs it."""
    from strfviewer.fit.run import FitRequest

    base = run.request
    if base is None:
        saved = (run.metadata or {}).get("fit")
        fields = {f.name for f in dataclasses.fields(FitRequest)}
        kwargs = {k: v for k, v in (saved or {}).items() if k in fields and k not in ("spec", "split")}
        base = FitRequest(spec=spec, **kwargs)
    request = dataclasses.replace(base, spec=spec)
    if getattr(request, "method", "sgd") == "ridge" and frontend_slot.ridge_problems(spec, dataset):
        request = dataclasses.replace(request, method="sgd")
    return request


class ModelPanel(QWidget):
    """Shows ``session.current_run``'s model; ``refit_requested(request, run)`` asks for a swapped refit.

    ``session``: the window's :class:`QtSession` (or a plain :class:`Session`, wrapped in one); the panel follows
    the shown run, its results and the list of runs through the Qt session's signals, like the views.
    """

    refit_requested = Signal(object, object)

    def __init__(self, session: Session | QtSession, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("model_panel")
        self.qt_session = qt_session_of(session, self)
        self.session = session = self.qt_session.session
        self.run: Optional[Run] = None

        self.title = QLabel("No model")
        self.title.setObjectName("model_title")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.slots_table = QTableWidget(0, len(SLOT_COLUMNS))
        self.slots_table.setObjectName("model_slots")
        self.slots_table.setHorizontalHeaderLabels(list(SLOT_COLUMNS))
        self.slots_table.verticalHeader().setVisible(False)
        self.slots_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.slots_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.slots_table.horizontalHeader().setStretchLastSection(True)
        self.total_label = QLabel("")
        self.total_label.setObjectName("model_total_params")

        self.kernel_buttons = {}
        self.prefilter_buttons = {}
        kernels = QGroupBox("Refit with kernel")
        kernel_row = QHBoxLayout(kernels)
        for name in _names("kernel"):
            button = self._button(name, lambda checked=False, n=name: self.refit(kernel=n))
            self.kernel_buttons[name] = button
            kernel_row.addWidget(button)
        prefilters = QGroupBox("Refit with prefilter")
        prefilter_row = QHBoxLayout(prefilters)
        for name in [NO_PREFILTER] + _names("prefilter"):
            button = self._button(name, lambda checked=False, n=name: self.refit(prefilter=n))
            self.prefilter_buttons[name] = button
            prefilter_row.addWidget(button)
        self.frontend_buttons = {}
        frontends = QGroupBox("Refit with front-end")
        frontend_grid = QGridLayout(frontends)  # seven choices: two rows keep the dock narrow
        choices = [frontend_slot.SPECTROGRAM] + frontend_slot.frontend_names()
        for i, name in enumerate(choices):
            button = self._button(name, lambda checked=False, n=name: self.refit(frontend=n))
            self.frontend_buttons[name] = button
            frontend_grid.addWidget(button, i // 4, i % 4)

        self.slots_table.setMinimumHeight(60)
        left = QVBoxLayout()
        left.addWidget(self.slots_table, 1)
        left.addWidget(self.total_label)
        right = QVBoxLayout()
        right.addWidget(kernels)
        right.addWidget(prefilters)
        right.addWidget(frontends)
        right.addStretch(1)
        body = QHBoxLayout()  # architecture and swap buttons side by side keep the dock short
        body.addLayout(left, 3)
        body.addLayout(right, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addLayout(body, 1)

        self.qt_session.follow(self, ("run", "results", "runs"), self._on_session_change)
        self.show_run(session.current_run)

    def _button(self, name: str, slot) -> QPushButton:
        button = QPushButton(name)
        button.setObjectName(f"refit_{name}")
        button.setCheckable(True)
        button.clicked.connect(slot)
        return button

    # -- showing -----------------------------------------------------------------------------------------------
    def _on_session_change(self, dependency: str, payload) -> None:
        current = self.session.current_run
        if current is not self.run or (dependency == "results" and payload is self.run):
            self.show_run(current)

    def show_run(self, run: Optional[Run]) -> None:
        """Describe ``run``'s model (slots, parameter counts) and enable the swaps that make sense for it."""
        self.run = run
        model = run.model if run is not None else None
        self.slots_table.setRowCount(0)
        if model is None:
            self.title.setText("No model: fit one (Fit > New fit...) or open a saved run.")
            self.total_label.setText("")
            self._update_buttons(None)
            return
        factory = _factory()
        spec = run.spec
        if spec is None:
            try:
                spec = factory.spec_of(model)
            except Exception:  # noqa: BLE001 - a model from elsewhere may have no known spec
                spec = None
        self.spec = spec
        infos = list(factory.describe(model))
        self.slots_table.setRowCount(len(infos))
        for row, info in enumerate(infos):
            values = (info.slot, info.class_name, f"{int(info.n_params):,}", info.summary or "")
            for col, value in enumerate(values):
                item = QTableWidgetItem(str(value))
                if col == 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.slots_table.setItem(row, col, item)
        total = sum(int(i.n_params) for i in infos)
        self.total_label.setText(f"Total: {total:,} parameters")
        described = f"{self.session.run_label(run)}" + (f" — {_spec_text(spec)}" if spec is not None else "")
        self.title.setText(described)
        self._update_buttons(spec)

    def _update_buttons(self, spec) -> None:
        factory = _factory()
        running = self.run is not None and self.run.status == "running"
        for kind, buttons in (("kernel", self.kernel_buttons), ("prefilter", self.prefilter_buttons),
                              ("frontend", self.frontend_buttons)):
            for name, button in buttons.items():
                if spec is None:
                    button.setChecked(False)
                    button.setEnabled(False)
                    button.setToolTip("Needs a model whose spec is known.")
                    continue
                current = {"kernel": _factory().kernel_shown(spec), "prefilter": spec.prefilter or NO_PREFILTER,
                           "frontend": frontend_slot.frontend_label(spec)}[kind]
                button.setChecked(name == current)
                if name == current:
                    button.setEnabled(False)
                    button.setToolTip(f"The current model already uses {name}.")
                    continue
                try:
                    new = swapped_spec(spec, **{kind: name}, dataset=self.session.dataset)
                    reasons = list(factory.check_spec(new)) or frontend_slot.frontend_problems(
                        new, self.session.dataset)
                except (ValueError, TypeError, KeyError) as exc:
                    reasons = [str(exc)]
                button.setEnabled(not reasons and not running)
                what = "front-end" if kind == "frontend" else kind
                button.setToolTip("Cannot: " + "; ".join(reasons) if reasons else
                                  f"Refit {spec.family} with the {name} {what}{_described(kind, name)}, every "
                                  f"other setting unchanged (a new run).")

    # -- refitting ---------------------------------------------------------------------------------------------
    def refit(self, kernel: Optional[str] = None, prefilter: Optional[str] = None,
              frontend: Optional[str] = None) -> None:
        """Ask for a new fit of the current run with ``kernel``, ``prefilter`` or ``frontend`` swapped."""
        run = self.run
        spec = getattr(self, "spec", None)
        if run is None or spec is None:
            return
        new_spec = swapped_spec(spec, kernel=kernel, prefilter=prefilter, dataset=self.session.dataset,
                                frontend=frontend)
        self._update_buttons(spec)  # undo the check mark of the clicked button
        self.refit_requested.emit(refit_request(run, new_spec, self.session.dataset), run)


def _described(kind: str, name: str) -> str:
    """`` (its registry description)`` or nothing."""
    from strfviewer.models import registry

    if (kind == "prefilter" and name == NO_PREFILTER) or (kind == "frontend" and name == frontend_slot.SPECTROGRAM):
        return ""
    description = registry.entry(kind, name).description
    return f" ({description})" if description else ""


def _spec_text(spec) -> str:
    parts = [spec.family + (f" ({spec.rnn_type})" if getattr(spec, "rnn_type", None) else "")]
    parts.append(f"kernel {_factory().kernel_shown(spec)}")
    parts.append(f"prefilter {spec.prefilter or 'none'}")
    if frontend_slot.has_frontend(spec):
        parts.append(f"front-end {spec.frontend}")
    if getattr(spec, "T", None):
        parts.append(f"T = {spec.T} frames")
    return ", ".join(parts)
