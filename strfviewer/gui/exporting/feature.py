"""Exporting feature pack: File > Export... and "Export view..." on a right-click of every plot.

``install(window)`` enables the main window's File > Export... action (Ctrl+E), replaces pyqtgraph's own
"Export..." entry of each view's right-click menu (its SVG exporter crashes in pyqtgraph 0.14) by ours, and
keeps the feature as ``window.exporting``.

What can be exported (see ``docs/exports.md``): each plot view as PNG (chosen DPI) / SVG / PDF as shown;
the one-neuron figure (spectrogram, PSTH recorded vs predicted, gradmap); per-neuron metrics (CSV);
predictions and gradmaps (NPZ); all runs' summary (CSV); the sounds of the listening feature (WAV).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from strfviewer.gui.exporting import figures
from strfviewer.io import exports



def exportable_views(window) -> Dict[str, str]:
    """name -> label of the window's views that File > Export offers (``exportable`` in the view registry)."""
    specs = getattr(window, "view_specs", {})
    return {name: spec.export_label for name, spec in specs.items() if spec.exportable and name in window.views}


def table_views(window) -> Dict[str, str]:
    """name -> label of the exportable views that also export their data as a CSV: those with a
    ``csv_table() -> (header, rows)`` method (``ValueError`` when they show nothing to export)."""
    return {name: f"{label} data (CSV)" for name, label in exportable_views(window).items()
            if callable(getattr(window.views[name], "csv_table", None))}


class ExportFeature(QObject):
    """The export actions of a main window; every ``export_*`` method writes one file atomically.

    Figures are drawn in the GUI thread; data that still has to be computed (gradmaps not cached yet) is
    computed in a worker and the file written when it is ready (the method returns that worker).
    """

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.dialog = None
        self.last_path: Optional[Path] = None  # last file written (tests, status)
        window.qt_session.follow(self, ("dataset", "neuron", "stimulus", "run", "results", "runs"),
                                 self._on_session_change)

    def _on_session_change(self, _dependency: str, _payload=None) -> None:
        """An open export dialog lists what is exportable now (another dataset's sounds, metrics ... go)."""
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.refresh()

    # --- what is available ---------------------------------------------------------------------------
    def targets(self) -> Dict[str, str]:
        """key -> label of everything exportable now."""
        out = {f"view:{name}": label for name, label in exportable_views(self.window).items()}
        out.update({f"table:{name}": label for name, label in table_views(self.window).items()})
        s = self.session
        if s.dataset is not None and s.stimulus_obj() is not None:
            out["figure"] = "Figure: spectrogram + PSTH + gradmap of the selected neuron"
        run = s.current_run
        if s.dataset is not None and run is not None and run.get_metrics():
            out["metrics"] = "Per-neuron metrics of the current run (CSV)"
        if s.dataset is not None and run is not None and (run.get_predictions() or run.model is not None):
            out["results"] = "Predictions and gradmaps of the current run (NPZ)"
        if s.runs:
            out["runs"] = "Summary of all runs (CSV)"
        for key, label in self.sound_labels().items():
            out[f"sound:{key}"] = f"Sound: {label} (WAV)"
        return out

    @staticmethod
    def kind(target: str) -> str:
        """'image' (views, figure: png/svg/pdf), 'csv', 'npz' or 'wav'."""
        if target.startswith("view:") or target == "figure":
            return "image"
        if target.startswith("sound:"):
            return "wav"
        if target.startswith("table:"):
            return "csv"
        return {"metrics": "csv", "runs": "csv", "results": "npz"}[target]

    def sound_labels(self) -> Dict[str, str]:
        listening = getattr(self.window, "listening", None)
        return listening.sound_labels() if listening is not None else {}

    def default_name(self, target: str, fmt: str = "png") -> str:
        s = self.session
        neuron = s.dataset.neuron_names[s.neuron] if s.dataset is not None and s.dataset.n_neurons else "neuron"
        run = s.run_label(s.current_run) if s.current_run is not None else "run"
        stem = {"figure": f"figure_{neuron}_{s.stimulus or ''}", "metrics": f"metrics_{run}",
                "results": f"results_{run}", "runs": "runs_summary"}.get(target)
        if stem is None:
            stem = target.split(":", 1)[1] + (f"_{neuron}" if target.startswith(("view:", "table:")) else "")
        stem = "".join(c if c.isalnum() or c in "._-" else "_" for c in stem).strip("_")
        ext = {"image": fmt, "csv": "csv", "npz": "npz", "wav": "wav"}[self.kind(target)]
        return f"{stem}.{ext}"

    # --- exports -------------------------------------------------------------------------------------
    def export(self, target: str, path, dpi: float = 300.0, width_in: float = 9.0, height_in: float = 5.5,
               on_done: Optional[Callable[[Path], None]] = None):
        """Export ``target`` (a key of :meth:`targets`) to ``path``; returns the path or a worker."""
        if target.startswith("view:"):
            return self._done(self.export_view(target.split(":", 1)[1], path, dpi), on_done)
        if target.startswith("table:"):
            return self._done(self.export_table(target.split(":", 1)[1], path), on_done)
        if target == "figure":
            return self.export_figure(path, dpi, width_in, height_in, on_done=on_done)
        if target == "metrics":
            return self._done(self.export_metrics(path), on_done)
        if target == "runs":
            return self._done(self.export_runs(path), on_done)
        if target == "results":
            return self.export_results(path, on_done=on_done)
        if target.startswith("sound:"):
            return self._done(self.export_sound(target.split(":", 1)[1], path), on_done)
        raise ValueError(f"unknown export {target!r}")

    def _done(self, path: Path, on_done=None) -> Path:
        self.last_path = Path(path)
        self.window.status(f"exported {path}", 8000)
        if on_done is not None:
            on_done(Path(path))
        return Path(path)

    def export_view(self, name: str, path, dpi: float = 150.0) -> Path:
        """A view as shown (its plot widgets stacked), with axes and labels."""
        view = self.window.views[name]
        self._bring_forward(name)
        label = exportable_views(self.window).get(name, name)
        return figures.save_widgets(figures.view_widgets(view), path, dpi=dpi, title=label)

    def _bring_forward(self, name: str) -> None:
        """Show the dock of view ``name`` in front of its tab group (closed or behind another tab, the view was
        never laid out nor drawn: its export was a stub of a few pixels) and let it lay out and draw."""
        dock = self.window.docks.get(name)
        if dock is None or (dock.isVisible() and not dock.visibleRegion().isEmpty()):
            return
        dock.show()
        dock.raise_()
        QApplication.processEvents()
        self.window.redraw_now()
        QApplication.processEvents()

    def export_table(self, name: str, path) -> Path:
        """A view's data as it shows them (its ``csv_table()``), as a CSV."""
        header, rows = self.window.views[name].csv_table()
        return exports.write_table_csv(path, header, rows)

    def _current_gradmap(self) -> Optional[np.ndarray]:
        """The gradmap view's arrays for every neuron ``(N, C, F, T)`` as shown (sign applied), if ready."""
        view = self.window.views.get("gradmap")
        run = self.session.current_run
        if view is None or run is None or run.model is None:
            return None
        from strfviewer.gui.views.strf_data import gradmap_key

        try:
            if view.mode == "gradmap":
                g = run.cache.get(gradmap_key(view.readout, view._per_channel(run.model)))
                if g is None:
                    return None
                return g if view.sign_box.isChecked() else -g
            return run.cache.get("kernel")
        except AttributeError:  # a gradmap view without these controls: compute the default instead
            return None

    def _gradmap_title(self) -> str:
        view = self.window.views.get("gradmap")
        if view is None:
            return "gradmap"
        if view.mode != "gradmap":
            return view.mode
        sign = ", deepSTRF sign" if view.sign_box.isChecked() else ""
        return f"gradmap ({view.readout}{sign})"

    def figure_panels(self, gradmaps: Optional[np.ndarray] = None) -> figures.FigurePanels:
        s = self.session
        if s.dataset is None or s.stimulus_obj() is None:
            raise ValueError("open a dataset and select a stimulus first")
        labels = s.run_labels()
        preds = {labels.get(run.id, run.name): run.get_predictions() for run in s.shown_runs()
                 if run.get_predictions()}
        if gradmaps is None:
            gradmaps = self._current_gradmap()
        from strfviewer.gui.views.strf_data import band_freqs

        # the gradmap's bands: a waveform model's own front-end bands, as the gradmap view labels them
        bands = band_freqs(getattr(s.current_run, "model", None), s.dataset)
        return figures.panels_for(s.dataset, s.neuron, s.stimulus, preds, gradmaps, self._gradmap_title(), bands)

    def export_figure(self, path, dpi: float = 300.0, width_in: float = 9.0, height_in: float = 5.5,
                      on_done=None):
        """The selected neuron's publication figure; computes the gradmap first when it is not ready."""
        run = self.session.current_run
        if self._current_gradmap() is None and run is not None and run.model is not None:
            from strfviewer.gui.views.strf_data import compute_gradmaps

            model, dataset = run.model, self.session.dataset

            def finished(g) -> None:
                if self.session.dataset is not dataset or self.session.current_run is not run:
                    self.window.status("figure export dropped: the dataset or the model changed meanwhile", 8000)
                    return
                self._done(figures.save_figure(self.figure_panels(-g), path, dpi=dpi, width_in=width_in,
                                               height_in=height_in), on_done)

            return self.window.start_worker(lambda p, c: compute_gradmaps(model), on_finished=finished,
                                            name="figure export", busy="computing the gradmap for the figure…")
        return self._done(figures.save_figure(self.figure_panels(), path, dpi=dpi, width_in=width_in,
                                              height_in=height_in), on_done)

    def export_metrics(self, path) -> Path:
        s = self.session
        run = s.current_run
        if s.dataset is None or run is None or not run.get_metrics():
            raise ValueError("the current run has no metrics yet")
        return exports.write_metrics_csv(path, s.dataset.neuron_names, run.get_metrics(),
                                         extra=exports.response_extra(s.dataset))

    def export_runs(self, path) -> Path:
        return exports.write_runs_summary_csv(path, self.session.runs)

    def export_results(self, path, on_done=None):
        """Predictions (and recorded PSTHs) of every stimulus and the gradmaps of every neuron (NPZ).

        ``gradmaps`` use deepSTRF's sign (``dL/dx``, ``L = -r``), like ``strfviewer gradmap``, whatever the view
        shows; the gradmap view's readout and channel choice are used; Linear / LN models add ``kernel_strf``.
        """
        from strfviewer.gui.views.strf_data import band_freqs, compute_gradmaps, gradmap_key, kernel_strf, n_channels

        s = self.session
        run, ds = s.current_run, s.dataset
        if ds is None or run is None:
            raise ValueError("no current run to export")
        preds = run.get_predictions()
        recorded = {st.name: st.psth() for st in ds.stimuli}
        view = self.window.views.get("gradmap")
        readout = getattr(view, "readout", "last") or "last"
        per_channel = bool(run.model is not None and n_channels(run.model) > 1
                           and getattr(view, "channels_box", None) is not None
                           and view.channels_box.currentIndex() == 0)
        model = run.model
        kernel = kernel_strf(model) if model is not None else None

        def write(g) -> Path:
            extra = {"readout": np.asarray(readout)} if g is not None else {}
            if kernel is not None:
                extra["kernel_strf"] = kernel
            # freqs_hz labels the gradmaps: a waveform model's own front-end bands, else the dataset's
            return exports.write_results_npz(path, ds.neuron_names, band_freqs(model, ds), ds.dt_ms, gradmaps=g,
                                             predictions=preds, recorded=recorded if preds else None,
                                             extra=extra or None)

        if model is None:
            return self._done(write(None), on_done)
        cached = run.cache.get(gradmap_key(readout, per_channel))
        if cached is not None:
            return self._done(write(cached), on_done)
        return self.window.start_worker(lambda p, c: compute_gradmaps(model, readout, per_channel),
                                        on_finished=lambda g: self._done(write(g), on_done),
                                        name="results export", busy="computing gradmaps for the export…")

    def export_sound(self, key: str, path) -> Path:
        listening = getattr(self.window, "listening", None)
        if listening is None:
            raise ValueError("no sound available")
        samples, rate = listening.sound(key)
        return exports.write_wav(path, samples, rate)

    # --- UI ------------------------------------------------------------------------------------------
    def open_dialog(self, target: Optional[str] = None):
        from strfviewer.gui.exporting.export_dialog import ExportDialog

        if self.dialog is None:
            self.dialog = ExportDialog(self, self.window)
        self.dialog.refresh(target)
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    def hook_table_menus(self) -> None:
        """Right-click menus on the neuron table and stimulus list with their exports."""
        from PySide6.QtCore import Qt
        from PySide6.QtGui import QAction

        entries = {"neurons": (("Export metrics (CSV)…", "metrics"), ("Export all runs' summary (CSV)…", "runs"),
                               ("Export predictions and gradmaps (NPZ)…", "results")),
                   "stimuli": (("Export figure of this neuron and stimulus…", "figure"),)}
        for name, items in entries.items():
            view = self.window.views.get(name)
            if view is None:
                continue
            view.setContextMenuPolicy(Qt.ActionsContextMenu)
            for text, target in items:
                action = QAction(text, view)
                action.setObjectName(f"action_export_{target}_{name}")
                action.triggered.connect(lambda _checked=False, t=target: self.open_dialog(t))
                view.addAction(action)

    def hook_context_menus(self) -> None:
        """Turn pyqtgraph's right-click "Export..." of every plot in the window into ours: for the exportable
        views it opens the export dialog on that view, for other plots (training curves, dock panels) a save
        dialog for that plot. Idempotent; called again once every feature pack is installed."""
        views = {}
        for name in exportable_views(self.window):
            for gv in self.window.views[name].findChildren(pg.GraphicsView):
                views[id(gv)] = name
        for gv in self.window.findChildren(pg.GraphicsView):
            menu = getattr(gv.scene(), "contextMenu", None)
            if not menu or menu[0].property("strfviewer_export"):
                continue
            action = menu[0]
            try:
                action.triggered.disconnect()
            except (RuntimeError, TypeError):  # nothing connected
                pass
            action.setProperty("strfviewer_export", True)
            name = views.get(id(gv))
            if name is not None:
                action.setText("Export view…")
                action.triggered.connect(lambda _checked=False, n=name: self.open_dialog(f"view:{n}"))
            else:
                action.setText("Export plot…")
                action.triggered.connect(lambda _checked=False, w=gv: self.ask_export_widget(w))

    def ask_export_widget(self, widget) -> Optional[Path]:
        """Save one plot as PNG / SVG / PDF through a file dialog (DPI from the export dialog's setting)."""
        from PySide6.QtWidgets import QFileDialog

        from strfviewer.gui.exporting.export_dialog import DPI_KEY, LAST_FOLDER_KEY

        settings = self.window.settings()
        folder = Path(str(settings.value(LAST_FOLDER_KEY, str(Path.home()))))
        path, _ = QFileDialog.getSaveFileName(self.window, "Export plot", str(folder / "plot.png"),
                                              "PNG image (*.png);;SVG (*.svg);;PDF (*.pdf)")
        if not path:
            return None
        settings.setValue(LAST_FOLDER_KEY, str(Path(path).parent))
        try:
            return self._done(figures.save_widgets([widget], path, dpi=float(settings.value(DPI_KEY, 300))))
        except (ValueError, OSError) as exc:
            self.window.show_error("Export failed", str(exc))
            return None


def install(window) -> ExportFeature:
    feature = ExportFeature(window)
    window.exporting = feature
    action = window.actions.get("export")
    if action is None:
        action = window.menu("File").addAction("&Export...")
        window.actions["export"] = action
    action.setEnabled(True)
    action.setToolTip("Export a view or the neuron figure (PNG/SVG/PDF), metrics, predictions, gradmaps or sounds")
    action.triggered.connect(lambda _checked=False: feature.open_dialog())
    feature.hook_context_menus()
    feature.hook_table_menus()
    QTimer.singleShot(0, window, feature.hook_context_menus)  # plots of feature packs installed after this one
    return feature
