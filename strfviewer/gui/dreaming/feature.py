"""Dreaming feature pack: Tools > Dream on selected neuron(s).

``install(window)`` adds the action (Ctrl+Shift+D) and a "Dream" dock (:class:`DreamPanel`), and keeps the
feature as ``window.dreaming``. A dream (:func:`strfviewer.analysis.dreams.dream`) runs in a worker; the
panel shows the dream as it forms (a snapshot every 10 steps) and the response reached per step, redrawn at
most 10 times a second. Cancel stops it within one step and keeps what it reached. The result can be saved
as NPZ (same layout as ``strfviewer dream --out``) or as an image, and made audible: the dream is mapped back
to the front-end's domain (undoing the dataset's normalisation) and synthesised by
:mod:`strfviewer.analysis.sonify`; the sound joins the listening feature's sounds (play, WAV).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog

from strfviewer.gui.dreaming.dream_panel import DreamPanel, parse_neurons

REDRAW_MS = 100
SNAPSHOT_EVERY = 10
LAST_FOLDER_KEY = "dreaming/last_folder"


class DreamFeature(QObject):
    """Runs dreams for the current run's model and shows them in the Dream dock.

    ``result`` is the last finished :class:`DreamResult` (``None`` before); ``responses`` ``(steps, K)`` the
    responses received so far from the running dream; ``snapshot`` its latest stimulus ``(K, 1, F, T)``.
    """

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.panel = DreamPanel()
        self.dock = window.add_dock("Dream", self.panel, Qt.RightDockWidgetArea, "dream_dock")
        self.dock.hide()
        self.worker = None
        self.sound_worker = None
        self.result = None
        self.responses: List[np.ndarray] = []
        self.snapshot: Optional[np.ndarray] = None
        self._dirty = False
        self._neurons: List[int] = []

        self.action = QAction("&Dream on selected neuron(s)...", window)
        self.action.setObjectName("action_dream")
        self.action.setShortcut(QKeySequence("Ctrl+Shift+D"))
        self.action.setToolTip("synthesise the spectrogram that drives the selected neuron(s) most")
        self.action.triggered.connect(lambda _checked=False: self.show_and_start())
        window.menu("Tools").addAction(self.action)
        window.actions["dream"] = self.action

        p = self.panel
        p.start_button.clicked.connect(self.start)
        p.cancel_button.clicked.connect(self.cancel)
        p.export_npz_button.clicked.connect(lambda: self._ask_path("npz"))
        p.export_png_button.clicked.connect(lambda: self._ask_path("png"))
        p.listen_button.clicked.connect(self.listen)
        p.show_box.currentIndexChanged.connect(self._redraw_stimulus)
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self._redraw)
        self._origin: Optional[tuple] = None  # (dataset, run) of the dream running or shown
        window.qt_session.follow(self, ("dataset", "neuron", "run", "results", "runs"), self._on_session_change)
        self._on_selection()

    # --- state ---------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.worker is not None

    def _model(self):
        run = self.session.current_run
        return getattr(run, "model", None)

    def _on_session_change(self, dependency: str, _payload=None) -> None:
        """Another dataset, or the dream's run removed: the dream goes (a running one is cancelled and
        dropped); any change: Start follows the current model (which may arrive as a ``results`` change)."""
        if dependency in ("dataset", "runs"):
            self.drop_if_stale()
        self._on_selection()

    def drop_if_stale(self) -> None:
        """Forget the dream when it was made from another dataset or from a run no longer in the session."""
        if self._origin is None:
            return
        dataset, run = self._origin
        s = self.session
        if dataset is s.dataset and (run is None or run in s.runs):
            return
        self._origin = None
        if self.worker is not None:
            self.worker.cancel()  # its result is dropped in _finished
        self.timer.stop()
        self.result, self.snapshot, self.responses, self._dirty = None, None, [], False
        self.panel.reset([], s.dataset.freqs_hz if s.dataset is not None else [], getattr(s.dataset, "dt_ms", 1.0))
        for b in (self.panel.export_npz_button, self.panel.export_png_button, self.panel.listen_button):
            b.setEnabled(False)
        self.panel.state.setText("")

    def _on_selection(self, *_args) -> None:
        ok = self._model() is not None and self.session.dataset is not None
        self.action.setEnabled(ok)
        self.panel.start_button.setEnabled(ok and not self.running)
        self.panel.start_button.setToolTip("" if ok else "no model: fit or open one first")
        if not self.running and self.session.dataset is not None:
            self.panel.neurons_edit.setText(str(self.session.neuron))

    # --- running -------------------------------------------------------------------------------------
    def show_and_start(self):
        self.dock.show()
        self.dock.raise_()
        self.panel.neurons_edit.setText(str(self.session.neuron))
        return self.start()

    def settings(self) -> dict:
        """The dream's keyword arguments from the panel (``ValueError`` for bad neuron indices)."""
        from strfviewer.analysis.dreams import stimulus_range

        p, ds = self.panel, self.session.dataset
        neurons = parse_neurons(p.neurons_edit.text(), ds.n_neurons)
        init = p.init_box.currentText()
        if init == "selected stimulus":
            stim = self.session.stimulus_obj()
            if stim is None:
                raise ValueError("no stimulus selected to start from")
            init = np.asarray(stim.spec, dtype=np.float32)  # (1, F, T)
        return dict(neurons=neurons, steps=p.steps_spin.value(), lr=p.lr_spin.value(), init=init,
                    readout=p.readout_box.currentText(), population=p.population_box.isChecked(),
                    clamp=stimulus_range(ds) if p.clamp_box.isChecked() else None,
                    l2=p.l2_spin.value(), smooth=p.smooth_spin.value())

    def start(self):
        """Start a dream with the panel's settings; returns the worker (None when impossible)."""
        model, ds = self._model(), self.session.dataset
        if model is None or ds is None or self.running:
            return None
        try:
            kwargs = self.settings()
        except ValueError as exc:
            self.panel.state.setText(str(exc))
            self.window.status(str(exc), 8000)
            return None
        self._neurons = kwargs["neurons"]
        self._origin = (ds, self.session.current_run)
        labels = (["population"] if kwargs["population"]
                  else [str(ds.neuron_names[i]) for i in self._neurons])
        self.panel.reset(labels, ds.freqs_hz, ds.dt_ms)
        self.responses, self.snapshot, self.result = [], None, None
        for b in (self.panel.export_npz_button, self.panel.export_png_button, self.panel.listen_button):
            b.setEnabled(False)

        def job(progress, cancel):
            from strfviewer.analysis.dreams import dream

            def report(event) -> None:
                progress.partial(event)

            return dream(model, progress=report, snapshot_every=SNAPSHOT_EVERY, cancel=cancel, **kwargs)

        self.worker = self.window.start_worker(job, on_finished=self._finished, on_failed=self._failed,
                                               on_partial=self._partial, name="dream",
                                               busy=f"dreaming for {', '.join(labels)}…")
        self.panel.set_running(True)
        self.panel.state.setText("dreaming…")
        self.timer.start()
        return self.worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.panel.state.setText("cancelling…")

    def _partial(self, event) -> None:
        self.responses.append(np.asarray(event.response, dtype=np.float64))
        if event.stimulus is not None:
            self.snapshot = event.stimulus
        self.panel.progress.setValue(int(1000 * event.step / max(1, event.steps)))
        self._dirty = True

    def _redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        if self.responses:
            self.panel.show_responses(np.stack(self.responses))
        self._redraw_stimulus()

    def _redraw_stimulus(self, *_args) -> None:
        stim = self.result.stimulus.numpy() if self.result is not None else self.snapshot
        if stim is not None:
            self.panel.show_stimulus(stim)

    def _finished(self, result) -> None:
        self.worker = None
        self.timer.stop()
        if self._origin is None:  # made from another dataset or a removed run: dropped
            self.panel.set_running(False)
            self._on_selection()
            return
        self.result = result
        self.panel.set_running(False)
        self.panel.show_responses(result.responses[1:] if result.responses.shape[0] > 1 else result.responses)
        self._redraw_stimulus()
        self.panel.progress.setValue(int(1000 * result.steps_done / max(1, result.settings.get("steps", 1) or 1)))
        final = ", ".join(f"{v:.3g}" for v in np.asarray(result.final_response).ravel())
        what = "cancelled" if result.cancelled else "done"
        notes = "".join(f"; note: {n}" for n in (getattr(result, "notes", None) or []))
        self.panel.state.setText(f"{what} after {result.steps_done} steps; response {final}{notes}")
        self.panel.state.setToolTip(self.panel.state.text())
        for b in (self.panel.export_npz_button, self.panel.export_png_button, self.panel.listen_button):
            b.setEnabled(True)
        self._on_selection()
        self.window.status(f"dream {what}: response {final}{notes}", 8000)

    def _failed(self, message: str) -> None:
        self.worker = None
        self.timer.stop()
        self.panel.set_running(False)
        self.panel.state.setText(f"failed: {message}")
        self._on_selection()
        self.window.show_error("Dream failed", message)

    # --- exports -------------------------------------------------------------------------------------
    def save_npz(self, path) -> Path:
        from strfviewer.io.exports import dream_arrays, write_npz

        if self.result is None:
            raise ValueError("no dream to save yet")
        ds = self.session.dataset
        return write_npz(path, dream_arrays(self.result, ds.neuron_names, ds.freqs_hz, ds.dt_ms))

    def save_image(self, path, dpi: float = 200.0) -> Path:
        from strfviewer.gui.exporting.figures import save_widgets

        if self.result is None:
            raise ValueError("no dream to save yet")
        return save_widgets(self.panel.plot_widgets(), path, dpi=dpi, title="strfviewer dream")

    def _ask_path(self, kind: str) -> None:
        settings = self.window.settings()
        folder = Path(str(settings.value(LAST_FOLDER_KEY, str(Path.home()))))
        filters = "NumPy archive (*.npz)" if kind == "npz" else "PNG image (*.png);;SVG (*.svg);;PDF (*.pdf)"
        path, _ = QFileDialog.getSaveFileName(self.window, "Save the dream", str(folder / f"dream.{kind}"), filters)
        if not path:
            return
        settings.setValue(LAST_FOLDER_KEY, str(Path(path).parent))
        try:
            self.save_npz(path) if kind == "npz" else self.save_image(path)
        except (ValueError, OSError) as exc:
            self.window.show_error("Could not save the dream", str(exc))
            return
        self.window.status(f"saved {path}", 8000)

    def listen(self):
        """Synthesise the shown dream as sound in a worker, then hand it to the listening feature (and play
        it when playback is possible); returns the worker."""
        if self.result is None or self.sound_worker is not None:
            return None
        ds = self.session.dataset
        k = max(0, self.panel.show_box.currentIndex())
        spec = self.result.stimulus.numpy()[min(k, self.result.stimulus.shape[0] - 1), 0]
        label = f"dream of {self.panel.show_box.currentText() or 'neuron'}"
        frontend, freqs, dt = dict(ds.frontend or {}), ds.freqs_hz, ds.dt_ms

        def job(progress, cancel):
            from strfviewer.analysis import sonify

            cfg, rate = sonify.dataset_frontend(frontend, freqs, dt)
            target = sonify.to_frontend_domain(spec, frontend)
            return sonify.sonify_spectrogram(target, cfg, rate, cancel=cancel, repeats=3, gap_ms=150, lead_ms=50)

        origin = self._origin or (None, None)

        def finished(res) -> None:
            self.sound_worker = None
            if self._origin is None or self._origin[0] is not origin[0]:  # the dream is gone meanwhile
                return
            self.sound = (label, res.waveform, res.sample_rate)
            listening = getattr(self.window, "listening", None)
            if listening is not None:
                listening.set_sound("dream", label, res.waveform, res.sample_rate, dataset=origin[0], run=origin[1])
                if listening.player.available:
                    listening.play("dream")
            self.window.status(f"{label}: synthesised ({res.relative_error:.0%} spectrogram error)", 8000)

        def failed(message: str) -> None:
            self.sound_worker = None
            self.window.show_error("Could not make the dream audible", message)

        self.sound_worker = self.window.start_worker(job, on_finished=finished, on_failed=failed,
                                                     name="dream sound", busy=f"synthesising the {label}…")
        return self.sound_worker


def install(window) -> DreamFeature:
    feature = DreamFeature(window)
    window.dreaming = feature
    return feature
