"""Qt-free application state: the open dataset, the fitted runs and the current selection.

The app's views never talk to each other; they read a :class:`Session` and redraw when it notifies them.
Listeners are plain callables ``cb(event: str, payload)`` registered with :meth:`Session.subscribe`; events:

=============== ==================================================
``dataset``     a dataset was opened (payload: the ``NeuralDataset``)
``runs``        a run was added, changed or removed (payload: the list of runs)
``current_run`` the run shown by every view changed (payload: ``Run`` or ``None``)
``compare_run`` the run overlaid for comparison changed (payload: ``Run`` or ``None``)
``neuron``      the selected neuron changed (payload: its index, ``int``)
``stimulus``    the selected stimulus changed (payload: its name, ``str``)
``results``     predictions / metrics / gradmaps of a run became available (payload: the ``Run``)
=============== ==================================================

Nothing here imports Qt; the GUI wraps a session in :class:`strfviewer.gui.window.qt_session.QtSession`. Call the
mutating methods from one thread (the GUI thread in the app).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

log = logging.getLogger(__name__)

EVENTS = ("dataset", "runs", "current_run", "compare_run", "neuron", "stimulus", "results")
RUN_STATUSES = ("running", "done", "cancelled", "failed", "warning")  # warning: done, but see the message

Listener = Callable[[str, Any], None]


@dataclass
class Run:
    """One fitted (or opened, or still running) model and what was computed from it.

    ``spec`` is a :class:`strfviewer.models.factory.ModelSpec` (or ``None`` when unknown), ``request`` the
    :class:`strfviewer.fit.run.FitRequest` it was fitted with, ``outcome`` the
    :class:`strfviewer.fit.run.FitOutcome` once done. Opened checkpoints have no outcome; their
    ``predictions`` ``{stimulus name: (N, T)}`` and ``metrics`` ``{split: NeuronMetrics}`` are filled by
    the app after opening. ``cache`` holds derived arrays (gradmaps keyed by their parameters).
    """

    id: int = 0
    name: str = ""
    spec: Any = None
    request: Any = None
    model: Any = None
    outcome: Any = None
    checkpoint_path: Optional[str] = None
    status: str = "done"
    message: str = ""
    metadata: Dict[str, Any] = field(default_factory=dict)
    predictions: Optional[Dict[str, np.ndarray]] = None
    metrics: Optional[Dict[str, Any]] = None
    cache: Dict[Any, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in RUN_STATUSES:
            raise ValueError(f"run status {self.status!r} is not one of {RUN_STATUSES}")

    # --- results, whichever way they were obtained ----------------------------------------------
    def get_predictions(self) -> Optional[Dict[str, np.ndarray]]:
        """``{stimulus name: (N, T) float array}`` or ``None`` when not computed yet."""
        if self.predictions is not None:
            return self.predictions
        preds = getattr(self.outcome, "predictions", None)
        return preds if preds else None

    def get_metrics(self) -> Optional[Dict[str, Any]]:
        """``{'train'|'val'|'test': NeuronMetrics}`` or ``None``."""
        if self.metrics is not None:
            return self.metrics
        metrics = getattr(self.outcome, "metrics", None)
        return metrics if metrics else None

    def neuron_values(self, attr: str = "cc_norm", split: str = "test") -> Optional[np.ndarray]:
        """Per-neuron metric ``(N,)`` (``attr`` of the split's ``NeuronMetrics``) or ``None``."""
        metrics = self.get_metrics()
        if not metrics or split not in metrics or metrics[split] is None:
            return None
        values = getattr(metrics[split], attr, None)
        return None if values is None else np.asarray(values, dtype=float)

    def best_epochs(self) -> Optional[List[Optional[int]]]:
        """Per neuron, the epoch whose weights it kept when the fit kept each neuron's own best epoch (models
        without shared parameters; ``None`` entries: no finite validation score), else ``None``. From the fit's
        history, or from an opened checkpoint's saved metrics."""
        epochs = getattr(getattr(self.outcome, "history", None), "best_epoch_per_neuron", None)
        if epochs is None:
            epochs = ((self.metadata or {}).get("metrics") or {}).get("best_epoch_per_neuron")
        return list(epochs) if isinstance(epochs, (list, tuple)) else None

    @property
    def n_params(self) -> Optional[int]:
        """Number of trainable parameters of the model, ``None`` without a model."""
        if self.model is None or not hasattr(self.model, "parameters"):
            return None
        from strfviewer.models.factory import n_trainable_params

        return n_trainable_params(self.model)

    def config(self) -> Dict[str, Any]:
        """``{"spec": ModelSpec dict, "request": FitRequest dict}`` (empty parts when unknown)."""
        spec = self.spec if self.spec is not None else getattr(self.request, "spec", None)
        return {"spec": spec.to_dict() if hasattr(spec, "to_dict") else {},
                "request": self.request.to_dict() if hasattr(self.request, "to_dict") else {}}

    @property
    def family(self) -> str:
        """Model family name (``spec.family`` or the model's class name)."""
        if self.spec is not None and getattr(self.spec, "family", None):
            return str(self.spec.family)
        return type(self.model).__name__ if self.model is not None else ""


class Session:
    """The state shared by every view: dataset, runs, current/compare run, selected neuron and stimulus."""

    def __init__(self, dataset=None) -> None:
        self.dataset = None
        self.runs: List[Run] = []
        self.current_run: Optional[Run] = None
        self.compare_run: Optional[Run] = None
        self.neuron: int = 0
        self.stimulus: Optional[str] = None
        self._listeners: List[Listener] = []
        self._ids = itertools.count(1)
        if dataset is not None:
            self.set_dataset(dataset)

    # --- listeners --------------------------------------------------------------------------------
    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(event, payload)`` on every change; returns a function that unsubscribes."""
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    def _emit(self, event: str, payload: Any) -> None:
        for cb in list(self._listeners):
            try:
                cb(event, payload)
            except Exception:  # a broken view must not break the others
                log.exception("session listener %r failed on %r", cb, event)

    # --- dataset ------------------------------------------------------------------------------------
    def set_dataset(self, dataset, keep_runs: bool = False) -> None:
        """Open ``dataset``; runs are dropped unless ``keep_runs`` (they were fitted on other data).

        The selection moves to neuron 0 (or stays when still valid) and the first test stimulus (or the
        first stimulus when there is no test split).
        """
        self.dataset = dataset
        if not keep_runs and self.runs:
            self.runs = []
            self.current_run = None
            self.compare_run = None
            self._emit("runs", list(self.runs))
            self._emit("current_run", None)
            self._emit("compare_run", None)
        if not 0 <= self.neuron < dataset.n_neurons:
            self.neuron = 0
        names = [s.name for s in dataset.stimuli]
        if self.stimulus not in names:
            tests = [s.name for s in dataset.stimuli if dataset.split.get(s.name) == "test"]
            self.stimulus = (tests or names)[0]
        self._emit("dataset", dataset)

    def stimulus_obj(self):
        """The selected :class:`Stimulus` or ``None``."""
        if self.dataset is None or self.stimulus is None:
            return None
        try:
            return self.dataset.stimulus(self.stimulus)
        except KeyError:
            return None

    # --- runs ---------------------------------------------------------------------------------------
    def new_run_id(self) -> int:
        return next(self._ids)

    def add_run(self, run: Run, make_current: Optional[bool] = None) -> Run:
        """Append ``run`` (given a fresh id when it has none); it becomes current when there is none yet
        (or when ``make_current`` is true)."""
        if not run.id or any(r.id == run.id for r in self.runs):
            run.id = self.new_run_id()
        if not run.name:
            run.name = f"run {run.id}"
        self.runs.append(run)
        self._emit("runs", list(self.runs))
        if make_current or (make_current is None and self.current_run is None):
            self.set_current_run(run)
        return run

    def rename_run(self, run, name: str) -> Run:
        """Give ``run`` the name ``name`` (stripped; ``ValueError`` when empty) and notify (``runs``)."""
        name = str(name).strip()
        if not name:
            raise ValueError("a run's name cannot be empty")
        return self.update_run(run, name=name)

    def run_labels(self) -> Dict[int, str]:
        """``{run id: label}``: the run's name, followed for runs that share a name by the settings that differ
        between them (``"StateNet(GRU) (hyper.hidden_size=7)"``), or by ``#id`` when none does."""
        from strfviewer.runs.summary import differing_settings

        groups: Dict[str, List[Run]] = {}
        for r in self.runs:
            groups.setdefault(r.name, []).append(r)
        labels = {}
        for name, runs in groups.items():
            if len(runs) == 1:
                labels[runs[0].id] = name
                continue
            settings = [text.replace("hyper.", "")  # a family's own hyperparameters read as they are named
                        for text in differing_settings([r.config() for r in runs], exclude=())]
            seen: Dict[str, int] = {}
            for text in settings:
                seen[text] = seen.get(text, 0) + 1
            for r, text in zip(runs, settings):
                unique = text and seen[text] == 1
                labels[r.id] = f"{name} ({text})" if unique else f"{name} (#{r.id}{', ' + text if text else ''})"
        return labels

    def run_label(self, run) -> str:
        """The label of ``run`` (see :meth:`run_labels`); its name when it is not in the session."""
        r = self._resolve(run)
        if r is None:
            return ""
        return self.run_labels().get(r.id, r.name) if r in self.runs else r.name

    def run_by_id(self, run_id: int) -> Run:
        for r in self.runs:
            if r.id == run_id:
                return r
        raise KeyError(f"no run with id {run_id}")

    def _resolve(self, run) -> Optional[Run]:
        if run is None or isinstance(run, Run):
            return run
        return self.run_by_id(int(run))

    def update_run(self, run, **changes) -> Run:
        """Change fields of a run (e.g. ``status``, ``outcome``, ``predictions``) and notify.

        Emits ``runs``, and ``results`` when results-bearing fields changed.
        """
        r = self._resolve(run)
        for key, value in changes.items():
            if not hasattr(r, key):
                raise AttributeError(f"Run has no field {key!r}")
            setattr(r, key, value)
        if "status" in changes and r.status not in RUN_STATUSES:
            raise ValueError(f"run status {r.status!r} is not one of {RUN_STATUSES}")
        self._emit("runs", list(self.runs))
        if {"outcome", "predictions", "metrics", "model", "cache"} & set(changes):
            self._emit("results", r)
        return r

    def notify_results(self, run) -> None:
        """Tell the views that ``run``'s derived results (e.g. its ``cache``) changed."""
        self._emit("results", self._resolve(run))

    def remove_run(self, run) -> Tuple[int, Run, bool, bool]:
        """Remove a run; returns ``(index, run, was_current, was_compare)`` for :meth:`restore_run`."""
        r = self._resolve(run)
        index = self.runs.index(r)
        was_current, was_compare = self.current_run is r, self.compare_run is r
        del self.runs[index]
        self._emit("runs", list(self.runs))
        if was_compare:
            self.set_compare_run(None)
        if was_current:
            self.set_current_run(self.runs[-1] if self.runs else None)
        return index, r, was_current, was_compare

    def restore_run(self, undo: Tuple[int, Run, bool, bool]) -> Run:
        """Undo :meth:`remove_run`."""
        index, r, was_current, was_compare = undo
        self.runs.insert(min(index, len(self.runs)), r)
        self._emit("runs", list(self.runs))
        if was_current:
            self.set_current_run(r)
        if was_compare:
            self.set_compare_run(r)
        return r

    def set_current_run(self, run) -> None:
        r = self._resolve(run)
        if r is not None and r not in self.runs:
            raise KeyError(f"run {r.name!r} is not in this session")
        if r is self.current_run:
            return
        self.current_run = r
        if r is not None and r is self.compare_run:
            self.compare_run = None
            self._emit("compare_run", None)
        self._emit("current_run", r)

    def set_compare_run(self, run) -> None:
        r = self._resolve(run)
        if r is not None and r not in self.runs:
            raise KeyError(f"run {r.name!r} is not in this session")
        if r is self.compare_run:
            return
        self.compare_run = r
        self._emit("compare_run", r)

    def shown_runs(self) -> List[Run]:
        """The runs the views overlay: current first, then compare (when set)."""
        return [r for r in (self.current_run, self.compare_run) if r is not None]

    # --- selection ----------------------------------------------------------------------------------
    def select_neuron(self, index: int) -> None:
        index = int(index)
        if self.dataset is None:
            raise RuntimeError("no dataset is open")
        if not 0 <= index < self.dataset.n_neurons:
            raise IndexError(f"neuron {index} out of range 0..{self.dataset.n_neurons - 1}")
        if index == self.neuron:
            return
        self.neuron = index
        self._emit("neuron", index)

    def select_stimulus(self, name: str) -> None:
        if self.dataset is None:
            raise RuntimeError("no dataset is open")
        self.dataset.stimulus(name)  # KeyError naming it when absent
        if name == self.stimulus:
            return
        self.stimulus = name
        self._emit("stimulus", name)

    # --- summaries ----------------------------------------------------------------------------------
    def dataset_summary(self) -> str:
        """One line such as ``demo: 12 neurons, 20 stimuli (14/3/3), 34 bands, 5 ms``."""
        ds = self.dataset
        if ds is None:
            return "no dataset"
        counts = [sum(1 for s in ds.stimuli if ds.split.get(s.name) == k) for k in ("train", "val", "test")]
        label = ds.name or ds.source or "dataset"
        neurons = "1 neuron" if ds.n_neurons == 1 else f"{ds.n_neurons} neurons"
        stimuli = "1 stimulus" if len(ds.stimuli) == 1 else f"{len(ds.stimuli)} stimuli"
        unit = f", responses in {ds.response_unit}" if getattr(ds, "is_continuous", False) else ""
        return (f"{label}: {neurons}, {stimuli} "
                f"({counts[0]}/{counts[1]}/{counts[2]}), {ds.n_freqs} bands, {ds.dt_ms:g} ms{unit}")
