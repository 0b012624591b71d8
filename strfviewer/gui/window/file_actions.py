"""The main window's File actions: open data / models / the demo, the first-start ridge fit, save a model.

A mixin of :class:`strfviewer.gui.main_window.MainWindow` (it uses ``session``, ``start_worker``,
``show_error``, ``status``, ``settings`` of the window); the work itself runs in workers through
:mod:`strfviewer.gui.window.model_io`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from PySide6.QtWidgets import QFileDialog

from strfviewer.data.sources import source_exists
from strfviewer.gui.window import model_io
from strfviewer.gui.window.workers import Worker
from strfviewer.session import Run


#: File > Open data file...: the single-file formats strfviewer reads (folders go through Open data folder...)
DATA_FILE_FILTER = "Data files (*.nwb *.npz *.tgz);;NWB recordings (*.nwb);;NumPy archive (*.npz);;All files (*)"
#: how long a "done" message stays in the status bar (ms)
STATUS_DONE_MS = 8000


class WindowIOMixin:
    """Opening and saving, on the main window."""

    def open_path(self, path: str) -> None:
        """Open what ``path`` is: 'demo', a checkpoint folder / Hub id, or a data folder / NPZ file."""
        kind = model_io.classify_path(path)
        if kind == "demo":
            self.open_demo(fit=True)
        elif kind == "model":
            self.open_model(path)
        else:
            self.open_data(path)

    def open_demo(self, fit: bool = True) -> None:
        """Open the demo data; with ``fit``, then the automatic quick ridge fit (recorded in the run history
        once per dataset, not on every launch)."""
        self.open_data("demo", then=(lambda: self.quick_fit(automatic=True)) if fit else None)

    def open_data(self, path: str, then: Optional[Callable[[], None]] = None) -> Worker:
        """Load a dataset in a worker; on success it replaces the open one, on failure an error dialog shows
        and the previous dataset stays."""
        path = str(path)

        def finished(dataset) -> None:
            self.session.set_dataset(dataset)
            self.set_last("dataset", path)
            self.add_recent(path)
            notes = list(getattr(dataset, "warnings", None) or [])  # e.g. spikes dropped after a stimulus end
            self.status(f"opened {self.session.dataset_summary()}" + "".join(f"; note: {w}" for w in notes),
                        20000 if notes else 5000)
            self.datasetOpened.emit(dataset)
            if then is not None:
                then()

        def failed(message: str) -> None:
            self.show_error("Could not open data", message)

        return self.start_worker(lambda progress, cancel: model_io.load_dataset(path), on_finished=finished,
                                 on_failed=failed, name="open data", busy=f"opening {path}…")

    def open_model(self, path_or_id: str, sample_rate: Optional[int] = None) -> Worker:
        """Load a checkpoint in a worker and add it as a run (made current); predictions and metrics on the
        open dataset are computed next. With no dataset open, the dataset the model was fitted on is opened
        first when the checkpoint names one that is still there (its ``dataset.source``). A deepSTRF waveform
        checkpoint records no audio sample rate: ``sample_rate`` (Hz) gives it, else the user is asked for it
        (:meth:`ask_sample_rate`) and the checkpoint is opened again."""
        from strfviewer.gui.fitting.runs_table import needs_sample_rate

        path_or_id = str(path_or_id)
        dataset = self.session.dataset

        def finished(run: Run) -> None:
            source = str((run.metadata.get("dataset") or {}).get("source") or "")
            if self.session.dataset is None and source and source_exists(source):
                self.open_data(source, then=lambda: self._attach_run(run, path_or_id, fresh=True))
            else:
                self._attach_run(run, path_or_id, fresh=self.session.dataset is not dataset)

        def failed(message: str) -> None:
            if sample_rate is None and needs_sample_rate(message):
                self.ask_sample_rate(path_or_id)
                return
            self.show_error("Could not open model", message)

        return self.start_worker(lambda progress, cancel: model_io.open_checkpoint(path_or_id, dataset, sample_rate),
                                 on_finished=finished, on_failed=failed, name="open model",
                                 busy=f"opening model {path_or_id}…")

    def _attach_run(self, run: Run, path_or_id: str, fresh: bool = False) -> None:
        """Add an opened run unless it does not fit the open dataset; ``fresh``: its predictions were made
        for another dataset (or none) and are recomputed."""
        problem = model_io.mismatch(run.model, self.session.dataset)
        if problem:
            self.show_error("Model does not fit this dataset", f"{path_or_id}: {problem}")
            return
        if fresh:
            run.predictions = None
        self.session.add_run(run, make_current=True)
        self.set_last("model", path_or_id)
        self.add_recent(path_or_id)
        self.status(f"opened model {path_or_id}", STATUS_DONE_MS)  # replaces the busy 'opening model …'
        if run.get_predictions() is None or run.get_metrics() is None:
            self.compute_results(run)

    def compute_results(self, run: Run) -> Optional[Worker]:
        """Predictions and per-split metrics of ``run`` on the open dataset, in a worker."""
        ds = self.session.dataset
        if ds is None or run.model is None:
            return None
        model = run.model

        def finished(results) -> None:
            predictions, metrics = results
            if run in self.session.runs:
                self.session.update_run(run, predictions=predictions, metrics=metrics)
                self.status(f"{run.name}: predictions and metrics on {ds.name} ready", STATUS_DONE_MS)

        return self.start_worker(lambda progress, cancel: model_io.predictions_and_metrics(model, ds),
                                 on_finished=finished, name="predict", busy=f"predicting with {run.name}…")

    def quick_fit(self, automatic: bool = False) -> Optional[Worker]:
        """Ridge fit of a Linear model (T = 15 frames) on the open dataset: the first-start model.

        ``automatic``: made by the app itself at start-up (not asked for); the run history keeps one such fit
        per dataset (``Run.metadata['automatic']``)."""
        ds = self.session.dataset
        if ds is None:
            self.show_error("No data", "Open a dataset before fitting a model.")
            return None
        request = model_io.ridge_request()
        run = self.session.add_run(Run(name="Linear ridge", spec=request.spec, request=request, status="running",
                                       metadata={"automatic": True} if automatic else {}),
                                   make_current=True)

        def progress(event) -> None:
            frac = model_io.progress_fraction(event)
            self.set_progress(frac, getattr(event, "message", "") or "fitting…")

        def finished(outcome) -> None:
            status = "cancelled" if getattr(outcome, "cancelled", False) else "done"
            self.session.update_run(run, model=outcome.model, outcome=outcome, status=status,
                                    message=getattr(outcome, "message", ""))
            self.status(f"{run.name}: fitted in {getattr(outcome, 'seconds', 0):.1f} s", 8000)

        def failed(message: str) -> None:
            self.session.update_run(run, status="failed", message=message)
            self.show_error("Fit failed", message)

        return self.start_worker(lambda p, c: model_io.fit(ds, request, p, c), on_finished=finished,
                                 on_failed=failed, on_progress=progress, name="ridge fit",
                                 busy="fitting a Linear model (ridge)…")

    def save_model(self, folder: str, run: Optional[Run] = None) -> Optional[Worker]:
        run = run or self.session.current_run
        if run is None or run.model is None:
            self.show_error("Nothing to save", "There is no fitted model to save.")
            return None
        ds = self.session.dataset

        def finished(path) -> None:
            run.checkpoint_path = str(path)
            self.set_last("model", str(path))
            self.add_recent(str(path))
            self.status(f"saved {run.name} to {path}", 8000)

        def failed(message: str) -> None:
            self.show_error("Could not save model", message)

        return self.start_worker(lambda p, c: model_io.save_run(run, ds, folder), on_finished=finished,
                                 on_failed=failed, name="save model", busy=f"saving to {folder}…")

    # --- dialogs ------------------------------------------------------------------------------------
    def _start_dir(self) -> str:
        return str(self._settings.value("paths/last_folder", str(Path.home())))

    def open_data_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open data folder", self._start_dir())
        if path:
            self._settings.setValue("paths/last_folder", str(Path(path).parent))
            self.open_data(path)

    def open_data_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open data file", self._start_dir(), DATA_FILE_FILTER)
        if path:
            self._settings.setValue("paths/last_folder", str(Path(path).parent))
            self.open_data(path)

    def ask_sample_rate(self, path_or_id: str):
        """Ask (non-modal) for the audio sample rate of a deepSTRF waveform checkpoint, then open it with that
        rate; kept as ``self.sample_rate_prompt``."""
        from strfviewer.gui.window.open_model_dialog import sample_rate_prompt

        prompt = self.sample_rate_prompt = sample_rate_prompt(self, path_or_id)
        prompt.intValueSelected.connect(lambda rate: self.open_model(path_or_id, sample_rate=int(rate)))
        prompt.open()
        return prompt

    def open_model_dialog(self) -> None:
        from strfviewer.gui.window.open_model_dialog import OpenModelDialog

        dialog = OpenModelDialog(self, self._start_dir())
        if dialog.exec():
            self.open_model_from_dialog(dialog)

    def open_model_from_dialog(self, dialog) -> Optional[Worker]:
        """Open what an accepted :class:`OpenModelDialog` names, with its sample rate; a bad rate is a one-line
        error dialog."""
        from strfviewer.gui.fitting.runs_table import parse_sample_rate

        target = dialog.target()
        if not target:
            return None
        try:
            rate = parse_sample_rate(dialog.sample_rate_text())
        except ValueError as exc:
            self.show_error("Could not open model", str(exc))
            return None
        if Path(target).exists():
            self._settings.setValue("paths/last_folder", str(Path(target).parent))
        return self.open_model(target, sample_rate=rate)

    def save_model_dialog(self) -> None:
        run = self.session.current_run
        if run is None or run.model is None:
            self.show_error("Nothing to save", "There is no fitted model to save.")
            return
        folder = QFileDialog.getExistingDirectory(self, "Save model into a new or empty folder", self._start_dir())
        if folder:
            self.save_model(str(Path(folder) / model_io.checkpoint_folder_name(run)))
