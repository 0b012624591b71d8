"""Listening feature pack: play the selected stimulus with a moving play-head, and hear the model.

``install(window)`` adds a "Listening" dock and keeps the feature as ``window.listening``:

* Play / Stop the selected stimulus (space bar toggles); a play-head moves across the spectrogram and PSTH
  views in sync (polled from the player every 30 ms in the GUI thread).
* Model sound, computed in a worker and shown as waveform + spectrogram:
  - wav-native models (a waveform front-end): the **waveform gradmap** of the selected neuron around the
    selected stimulus, at the time clicked on the PSTH (default: the neuron's peak predicted response), readout
    last / peak / sum (:mod:`strfviewer.gui.listening.waveform_sound`); the map alone or mixed under the
    stimulus, looped on demand; recomputed automatically (debounced, a running computation cancelled) when the
    neuron, stimulus, time or readout changes; 5 ms fades and a -3 dBFS peak, as ``strfviewer gradmap
    --waveform`` writes its WAVs;
  - spectrogram models: the **sonified gradmap** (excitatory or inhibitory part) synthesised through the
    app's front-end (:mod:`strfviewer.analysis.sonify`), faded and normalised to -6 dBFS, on "Compute".
  While a model sound plays, a play-head moves over its plots (and, for a waveform gradmap, over the
  spectrogram and PSTH views at the stretch of the stimulus it covers).
* Save any sound as WAV (works without any audio device).
* File > Preferences...: the output device (QSettings).

With no PortAudio, no output device or a device error, the play controls are disabled, their tooltip and
the status bar say why, and everything else (including saving WAV) still works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout,
                               QWidget)

from strfviewer.gui.listening.audio import AudioPlayer, AudioUnavailable
from strfviewer.gui.window.preferences import PreferencesDialog, device_index, stored_device_name
from strfviewer.gui.views.axes import BandAxis, sequential_cmap, set_placeholder
from strfviewer.gui.views.time_plot import PLAYHEAD_PEN

POLL_MS = 30
SAFE_PEAK = 0.5  # about -6 dBFS
WAVEFORM_REDUCES = ("last", "peak", "sum")
#: what a waveform gradmap plays: label -> WaveformSound.sounds key
MIXES = {"map alone": "map", "map under stimulus": "mix"}
#: a burst of selection changes recomputes a waveform gradmap once, this long after the last one (ms)
RECOMPUTE_DELAY_MS = 200
TIME_MARK_PEN = pg.mkPen((200, 0, 160), width=1.5, style=Qt.DashLine)
PARTS = {"excitatory": "positive", "inhibitory": "negative", "both": "abs"}
LAST_WAV_FOLDER_KEY = "listening/last_folder"


def is_wav_native(model) -> bool:
    """True when the model takes waveforms (its ``wav2spec`` slot is a real front-end)."""
    flag = getattr(model, "is_wav_native", None)
    if isinstance(flag, bool):
        return flag
    front = getattr(model, "wav2spec", None)
    return front is not None and type(front).__name__ != "Identity"


class ListeningPanel(QWidget):
    """Controls and the model sound's waveform / spectrogram plots."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.play_button = QPushButton("▶ Play stimulus")
        self.play_button.setObjectName("playStimulus")
        self.stop_button = QPushButton("■ Stop")
        self.save_stimulus_button = QPushButton("Save stimulus WAV…")
        self.state = QLabel("")
        self.state.setObjectName("listeningState")
        top = QHBoxLayout()
        for w in (self.play_button, self.stop_button, self.save_stimulus_button):
            top.addWidget(w)
        top.addWidget(self.state, 1)

        self.kind_label = QLabel("model sound:")
        self.reduce_box = QComboBox()
        self.reduce_box.addItems(WAVEFORM_REDUCES)
        self.reduce_box.setObjectName("waveformReduce")
        self.reduce_box.setToolTip("which response is differentiated, at the chosen time:\nlast: the response at "
                                   "that time (a receptive field); peak: its maximum up to then;\nsum: all of it "
                                   "up to then (a saliency map, not a receptive field)")
        self.mix_box = QComboBox()
        self.mix_box.setObjectName("waveformMix")
        for label, key in MIXES.items():
            self.mix_box.addItem(label, key)
        self.mix_box.setToolTip("play the map alone, or mixed under the stimulus' stretch it covers (the map "
                                "6 dB below the stimulus)")
        self.time_label = QLabel("")
        self.time_label.setObjectName("waveformTime")
        self.time_label.setToolTip("the time whose response is differentiated: click the PSTH to choose it")
        self.peak_button = QPushButton("At peak")
        self.peak_button.setObjectName("waveformAtPeak")
        self.peak_button.setToolTip("take the map at the neuron's peak predicted response (the default)")
        self.loop_box = QCheckBox("loop")
        self.loop_box.setObjectName("loopModelSound")
        self.loop_box.setToolTip("play the model sound again and again until stopped")
        self.part_box = QComboBox()
        self.part_box.addItems(list(PARTS))
        self.part_box.setToolTip("which part of the gradmap becomes sound energy")
        self.compute_button = QPushButton("Compute")
        self.play_model_button = QPushButton("▶ Play")
        self.save_model_button = QPushButton("Save WAV…")
        middle = QHBoxLayout()
        for w in (self.kind_label, self.reduce_box, self.mix_box, self.time_label, self.peak_button, self.part_box,
                  self.compute_button, self.play_model_button, self.loop_box, self.save_model_button):
            middle.addWidget(w)
        middle.addStretch(1)

        self.wave_plot = pg.PlotWidget()
        self.wave_plot.setObjectName("modelSoundWaveform")
        self.wave_plot.setLabel("bottom", "time (ms)")
        self.wave_plot.setLabel("left", "amplitude")
        self.wave_plot.getAxis("left").enableAutoSIPrefix(False)
        self.wave_curve = self.wave_plot.plot(pen=pg.mkPen((40, 120, 220), width=1))
        self.band_axis = BandAxis("left")
        self.spec_plot = pg.PlotWidget(axisItems={"left": self.band_axis})
        self.spec_plot.setObjectName("modelSoundSpectrogram")
        self.spec_plot.setLabel("bottom", "time (ms)")
        self.spec_image = pg.ImageItem(axisOrder="row-major")
        self.spec_image.setColorMap(sequential_cmap())  # the spectrogram view's colours
        self.spec_plot.addItem(self.spec_image)
        plots = QHBoxLayout()
        self.playheads = []
        for plot in (self.wave_plot, self.spec_plot):
            plot.getAxis("bottom").enableAutoSIPrefix(False)  # ms stay ms (no "(x0.001)")
            plot.setMinimumHeight(60)
            plots.addWidget(plot)
            head = pg.InfiniteLine(angle=90, movable=False, pen=PLAYHEAD_PEN)
            head.setZValue(10)
            head.hide()
            plot.addItem(head)
            self.playheads.append(head)
        self.spec_plot.setXLink(self.wave_plot)
        self.show_empty()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addLayout(middle)
        layout.addLayout(plots, 1)

    def plot_widgets(self):
        return [self.wave_plot, self.spec_plot]

    def set_playhead(self, t_ms: Optional[float]) -> None:
        """The model sound's play-head at ``t_ms`` on its plots' time axis; ``None`` hides it."""
        for head in self.playheads:
            if t_ms is None:
                head.hide()
            else:
                head.setValue(float(t_ms))
                head.show()

    def show_empty(self) -> None:
        """No model sound: the plots say how to get one instead of showing empty axes."""
        self.wave_curve.setData([], [])
        self.spec_image.clear()
        set_placeholder(self.wave_plot, "no model sound yet: Compute")
        set_placeholder(self.spec_plot, "its spectrogram shows here")


class ListeningFeature(QObject):
    """Audio playback, model sounds and their WAV export for one main window.

    ``sounds`` maps a key ('model', 'dream', ...) to ``(label, samples (T_audio,), sample_rate)``; the
    selected stimulus is the sound ``'stimulus'`` whenever it has audio.
    """

    def __init__(self, window, player: Optional[AudioPlayer] = None) -> None:
        super().__init__(window)
        self.window = window
        self.session = window.session
        settings = window.settings()
        self.player = player if player is not None else AudioPlayer()
        self.player.device = device_index(self.player, stored_device_name(settings))
        self.player.on_position = self._on_position
        self.player.on_finished = self._on_finished
        self.sounds: Dict[str, Tuple[str, np.ndarray, int]] = {}
        self.playing: Optional[str] = None  # key of the sound playing
        self.worker = None
        self.waveform_worker = False  # whether self.worker computes a waveform gradmap
        self.resynth_worker = None
        self._resynthesised: Dict[tuple, Tuple[np.ndarray, int]] = {}  # (dataset id, stimulus) -> sound
        self.model_spec: Optional[np.ndarray] = None  # (F, T) spectrogram of the model sound, as shown
        self.waveform = None  # the WaveformSound shown (waveform models)
        self.at_ms: Optional[float] = None  # time chosen on the PSTH (None: the neuron's peak)
        self._model_offset_ms = 0.0  # where the model sound starts on its plots' (and the stimulus') time axis
        self._restart = False  # a selection changed while a waveform gradmap was computing
        self._waveform_key = None  # (model, stimulus, neuron, readout, time) of the waveform gradmap last started
        self.recompute_timer = QTimer(self)
        self.recompute_timer.setSingleShot(True)
        self.recompute_timer.setInterval(RECOMPUTE_DELAY_MS)
        self.recompute_timer.timeout.connect(self._recompute_now)

        self.panel = ListeningPanel()
        self.dock = window.add_dock("Listening", self.panel, Qt.BottomDockWidgetArea, "listening_dock")
        p = self.panel
        p.play_button.clicked.connect(self.toggle_stimulus)
        p.stop_button.clicked.connect(self.stop)
        p.save_stimulus_button.clicked.connect(lambda: self.ask_save("stimulus"))
        p.compute_button.clicked.connect(lambda: self.compute_model_sound())
        p.reduce_box.currentIndexChanged.connect(lambda _i: self.schedule_waveform_gradmap())
        p.mix_box.currentIndexChanged.connect(lambda _i: self._show_waveform_sound())
        p.peak_button.clicked.connect(lambda: self.set_time(None))
        p.loop_box.toggled.connect(self._on_loop_toggled)
        p.play_model_button.clicked.connect(lambda: self.toggle("model"))
        p.save_model_button.clicked.connect(lambda: self.ask_save("model"))

        self.play_action = QAction("&Play / stop stimulus", window)
        self.play_action.setObjectName("action_play_stimulus")
        self.play_action.setShortcut(QKeySequence(Qt.Key_Space))
        self.play_action.setShortcutContext(Qt.WindowShortcut)
        self.play_action.triggered.connect(lambda _checked=False: self.toggle_stimulus())
        window.menu("Tools").addAction(self.play_action)
        window.actions["play_stimulus"] = self.play_action
        prefs = QAction("&Preferences...", window)
        prefs.setObjectName("action_preferences")
        prefs.setMenuRole(QAction.PreferencesRole)
        prefs.setShortcut(QKeySequence(QKeySequence.Preferences))
        prefs.triggered.connect(lambda _checked=False: self.open_preferences())
        file_menu = window.menu("File")
        quit_action = window.actions.get("quit")
        if quit_action is not None:
            file_menu.insertAction(quit_action, prefs)
        else:
            file_menu.addAction(prefs)
        window.actions["preferences"] = prefs
        self.preferences: Optional[PreferencesDialog] = None

        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._poll)
        self._origins: Dict[str, tuple] = {}  # sound key -> (dataset, run) it was made from
        window.qt_session.follow(self, ("dataset", "stimulus", "neuron", "run", "results", "runs"),
                                 self._on_session_change)
        self.time_mark = pg.InfiniteLine(angle=90, movable=False, pen=TIME_MARK_PEN)
        self.time_mark.setZValue(9)
        self.time_mark.hide()
        psth = window.views.get("psth")
        if psth is not None and hasattr(psth, "plot"):
            psth.plot.addItem(self.time_mark)
            psth.plot.scene().sigMouseClicked.connect(self._on_psth_clicked)
        self.update_controls()
        reason = self.player.unavailable_reason
        if reason:
            window.status(reason, 15000)

    # --- sounds --------------------------------------------------------------------------------------
    def stimulus_sound(self) -> Optional[Tuple[str, np.ndarray, int]]:
        """``(label, samples, rate)`` of the selected stimulus: its audio, or its resynthesis from the
        spectrogram once made (datasets without audio); None otherwise."""
        stim = self.session.stimulus_obj()
        if stim is None:
            return None
        if stim.waveform is not None and stim.sample_rate:
            return f"stimulus {stim.name}", np.asarray(stim.waveform, dtype=np.float32), int(stim.sample_rate)
        made = self._resynthesised.get(self._stimulus_key(stim))
        if made is not None:
            return (f"stimulus {stim.name} (resynthesised from its spectrogram)",) + made
        return None

    def _stimulus_key(self, stim) -> tuple:
        return (id(self.session.dataset), stim.name)

    def resynthesise_stimulus(self, then_play: bool = True):
        """Make the selected stimulus audible from its spectrogram (no audio in the dataset) in a worker;
        plays it when done (``then_play``). Returns the worker (None when impossible or already running)."""
        s = self.session
        stim, ds = s.stimulus_obj(), s.dataset
        if stim is None or ds is None or self.resynth_worker is not None:
            return None
        key, frontend, freqs, dt = self._stimulus_key(stim), dict(ds.frontend or {}), ds.freqs_hz, ds.dt_ms
        spec = np.asarray(stim.spec[0], dtype=np.float32)

        def job(progress, cancel):
            from strfviewer.analysis import sonify

            cfg, rate = sonify.dataset_frontend(frontend, freqs, dt)
            target = sonify.to_frontend_domain(spec, frontend)
            res = sonify.sonify_spectrogram(target, cfg, rate, steps=100, cancel=cancel, peak=SAFE_PEAK)
            return res.waveform, res.sample_rate

        def finished(result) -> None:
            self.resynth_worker = None
            self._resynthesised[key] = result
            self.update_controls()
            current = s.stimulus_obj()
            if then_play and current is not None and self._stimulus_key(current) == key:
                self.play("stimulus")

        def failed(message: str) -> None:
            self.resynth_worker = None
            self.update_controls()
            self.window.show_error("Could not resynthesise the stimulus", message)

        self.resynth_worker = self.window.start_worker(job, on_finished=finished, on_failed=failed,
                                                       name="stimulus sound",
                                                       busy=f"resynthesising {stim.name} from its spectrogram…")
        self.update_controls()
        return self.resynth_worker

    def sound_labels(self) -> Dict[str, str]:
        out = {}
        stim = self.stimulus_sound()
        if stim is not None:
            out["stimulus"] = stim[0]
        out.update({key: label for key, (label, _, _) in self.sounds.items()})
        return out

    def sound(self, key: str) -> Tuple[np.ndarray, int]:
        """``(samples, sample_rate)`` of sound ``key``; ``KeyError`` when there is none."""
        if key == "stimulus":
            stim = self.stimulus_sound()
            if stim is None:
                raise KeyError("the selected stimulus has no audio")
            return stim[1], stim[2]
        label, samples, rate = self.sounds[key]
        return samples, rate

    def set_sound(self, key: str, label: str, samples: np.ndarray, rate: int, dataset=None, run=None) -> None:
        """Register a sound (other features do this, e.g. a sonified dream) made from ``dataset`` and ``run``
        (default: the session's current ones); it is dropped when another dataset is opened or its run is
        removed, so nothing of other data stays playable or saveable."""
        self.sounds[key] = (label, np.asarray(samples, dtype=np.float32), int(rate))
        self._origins[key] = (dataset if dataset is not None else self.session.dataset,
                              run if run is not None else self.session.current_run)
        self.update_controls()

    def drop_stale_sounds(self) -> None:
        """Forget the sounds made from another dataset or from a run no longer in the session (and the model
        sound's plots with them)."""
        s = self.session
        stale = [key for key, (dataset, run) in self._origins.items()
                 if dataset is not s.dataset or (run is not None and run not in s.runs)]
        for key in stale:
            if self.playing == key and self.player.is_playing:
                self.stop()
            self.sounds.pop(key, None)
            self._origins.pop(key, None)
            if key == "model":
                self.clear_model_sound()

    # --- playback ------------------------------------------------------------------------------------
    def toggle_stimulus(self) -> None:
        stim = self.session.stimulus_obj()
        if stim is not None and self.stimulus_sound() is None and self.player.available:
            self.resynthesise_stimulus(then_play=True)  # no audio in the dataset: make it from the spectrogram
            return
        self.toggle("stimulus")

    def toggle(self, key: str) -> bool:
        """Play sound ``key``, or stop it when it is the one playing; returns True when it started."""
        if self.player.is_playing and self.playing == key:
            self.stop()
            return False
        return self.play(key)

    def play(self, key: str) -> bool:
        try:
            samples, rate = self.sound(key)
        except KeyError as exc:
            self.window.status(str(exc).strip("'\""), 5000)
            return False
        try:
            self.player.play(samples, rate, loop=key == "model" and self.panel.loop_box.isChecked())
        except AudioUnavailable as exc:
            self.window.status(str(exc), 10000)
            self.update_controls()
            return False
        self.playing = key
        self.timer.start()
        self.update_controls()
        return True

    def stop(self) -> None:
        self.player.stop()

    def _poll(self) -> None:
        if not self.player.poll():
            self.timer.stop()

    def _on_position(self, t_ms: float) -> None:
        if self.playing == "stimulus":
            self._set_playheads(t_ms)
        elif self.playing == "model":
            t = self._model_offset_ms + t_ms
            self.panel.set_playhead(t)
            if self.waveform is not None:  # a stretch of the selected stimulus: its views follow too
                self._set_playheads(t)

    def _on_finished(self) -> None:
        self.timer.stop()
        self._set_playheads(None)
        self.panel.set_playhead(None)
        self.playing = None
        self.update_controls()

    def _on_loop_toggled(self, on: bool) -> None:
        if self.playing == "model":
            self.player.loop = on

    def _set_playheads(self, t_ms: Optional[float]) -> None:
        for view in list(self.window.views.values()):  # every view with a time axis (spectrogram, PSTH ...)
            if hasattr(view, "set_playhead"):
                view.set_playhead(t_ms)

    # --- controls ------------------------------------------------------------------------------------
    def update_controls(self) -> None:
        p = self.panel
        reason = self.player.unavailable_reason
        stim = self.stimulus_sound()
        has_stimulus = self.session.stimulus_obj() is not None
        stim_reason = reason or (None if has_stimulus else "no stimulus selected")
        playing_stim = self.player.is_playing and self.playing == "stimulus"
        p.play_button.setText("■ Stop stimulus" if playing_stim else "▶ Play stimulus")
        busy = self.resynth_worker is not None
        p.play_button.setEnabled(stim_reason is None and not busy)
        tip = "play the selected stimulus (space bar)"
        if stim is None and has_stimulus:
            tip = ("this stimulus has no audio in the dataset: Play resynthesises it from its spectrogram "
                   "(space bar)")
        p.play_button.setToolTip(stim_reason or tip)
        self.play_action.setEnabled(stim_reason is None)
        self.play_action.setToolTip(stim_reason or tip)
        p.stop_button.setEnabled(reason is None and self.player.is_playing)
        p.stop_button.setToolTip(reason or "stop playback")
        p.save_stimulus_button.setEnabled(stim is not None)
        has_model_sound = "model" in self.sounds
        p.play_model_button.setEnabled(reason is None and has_model_sound)
        p.play_model_button.setToolTip(reason or ("play the model sound" if has_model_sound
                                                  else "compute the model sound first"))
        p.save_model_button.setEnabled(has_model_sound)
        run = self.session.current_run
        model = getattr(run, "model", None)
        wav = is_wav_native(model)
        p.kind_label.setText("waveform gradmap:" if wav else "sonified gradmap:")
        for w in (p.reduce_box, p.mix_box, p.time_label, p.peak_button):
            w.setVisible(wav)
        p.part_box.setVisible(not wav)
        p.peak_button.setEnabled(self.at_ms is not None)
        if not wav:
            self.time_mark.hide()
        busy = self.worker is not None
        p.compute_button.setEnabled(model is not None and self.session.dataset is not None and not busy)
        p.compute_button.setToolTip(("computed again whenever the neuron, stimulus, time or readout changes; "
                                     "click to compute now" if wav else
                                     "compute the selected neuron's sound in the background")
                                    if model is not None else "no model: fit or open one first")
        if reason:
            p.state.setText("playback off")
            p.state.setToolTip(reason)
        elif self.player.last_error and not self.player.is_playing:
            # a device error on the last attempt: say so, keep the controls (another device may work)
            p.state.setText("device error")
            p.state.setToolTip(self.player.last_error)
            p.play_button.setToolTip(f"{p.play_button.toolTip()}\nlast attempt failed: {self.player.last_error}")
        else:
            p.state.setText("playing" if self.player.is_playing else "")
            p.state.setToolTip("")

    def _on_session_change(self, dependency: str, payload=None) -> None:
        """Another stimulus or dataset: the sound playing no longer belongs to what is shown and a time chosen
        on the previous stimulus' PSTH no longer applies; another dataset or removed runs: their sounds go;
        any change: the controls follow the current dataset and model (whose weights may arrive after it
        became current, as a ``results`` change) and a waveform model's gradmap is recomputed."""
        if dependency in ("dataset", "stimulus"):
            if self.player.is_playing and (self.playing == "stimulus" or (self.playing == "model"
                                                                          and self.waveform is not None)):
                self.stop()
            self.at_ms = None
        if dependency in ("dataset", "runs"):
            self.drop_stale_sounds()
        if dependency == "results" and payload is not self.session.current_run:
            self.update_controls()
            return
        self.update_controls()
        self.schedule_waveform_gradmap()

    # --- waveform gradmaps (waveform-native models) ----------------------------------------------------
    def _wav_model(self):
        model = getattr(self.session.current_run, "model", None)
        return model if is_wav_native(model) else None

    def schedule_waveform_gradmap(self) -> None:
        """Recompute the waveform gradmap soon (once per burst of changes) when the model takes waveforms."""
        if self._wav_model() is not None and self.session.dataset is not None:
            self.recompute_timer.start()
        else:
            self.recompute_timer.stop()

    def _recompute_now(self) -> None:
        self.compute_model_sound(automatic=True)

    def set_time(self, t_ms: Optional[float]) -> None:
        """Take the waveform gradmap at ``t_ms`` (ms in the selected stimulus), or at the neuron's peak
        predicted response (``None``); recomputed after the debounce delay."""
        stim = self.session.stimulus_obj()
        if t_ms is not None and stim is not None:
            duration = stim.n_frames * float(self.session.dataset.dt_ms)
            t_ms = float(min(max(float(t_ms), 0.0), np.nextafter(duration, 0.0)))
        self.at_ms = t_ms
        if t_ms is not None:
            self.time_mark.setValue(t_ms)
            self.time_mark.show()
        self.panel.time_label.setText("at peak…" if t_ms is None else f"at {t_ms:.0f} ms…")
        self.update_controls()
        self.schedule_waveform_gradmap()

    def _on_psth_clicked(self, event) -> None:
        """A left click on the PSTH of a waveform model chooses the time of the waveform gradmap."""
        psth = self.window.views.get("psth")
        if self._wav_model() is None or psth is None or event.button() != Qt.MouseButton.LeftButton:
            return
        box = psth.plot.getViewBox()
        if not box.sceneBoundingRect().contains(event.scenePos()):
            return
        self.set_time(box.mapSceneToView(event.scenePos()).x())

    # --- model sounds --------------------------------------------------------------------------------
    def compute_model_sound(self, automatic: bool = False):
        """Start the worker computing the selected neuron's sound; returns it (None when impossible or when a
        running waveform gradmap was cancelled to be computed again). ``automatic``: a selection change asked
        for it (errors go to the status bar instead of a dialog)."""
        s = self.session
        run, ds = s.current_run, s.dataset
        model = getattr(run, "model", None)
        if model is None or ds is None:
            return None
        if self.worker is not None:
            if is_wav_native(model) and self.waveform_worker:
                self.worker.cancel()  # superseded: computed again for the new selection when it stops
                self._restart = True
            return None
        if is_wav_native(model):
            return self._compute_waveform_gradmap(model, automatic)
        neuron, name = s.neuron, ds.neuron_names[s.neuron]
        p = self.panel
        part = PARTS[p.part_box.currentText()]
        gview = self.window.views.get("gradmap")
        readout = getattr(gview, "readout", "last") or "last"
        cached = run.cache.get(("gradmap", readout, False))
        label = f"sonified gradmap of {name} ({readout}, {p.part_box.currentText()} part)"
        fn = sonified_gradmap_job(model, neuron, readout, part, cached, ds.frontend, ds.freqs_hz, ds.dt_ms,
                                  cached_channels=run.cache.get(("gradmap", readout, True)))

        def finished(result) -> None:
            self.worker = None
            if ds is not s.dataset or run not in s.runs:  # made from data or a model that is gone
                self.update_controls()
                return
            samples, rate, spec, freqs = result
            self.waveform, self._model_offset_ms = None, 0.0
            self.set_sound("model", label, samples, rate, dataset=ds, run=run)
            self.show_model_sound(samples, rate, spec, freqs)
            self.window.status(f"ready: {label}", 8000)

        def failed(message: str) -> None:
            self.worker = None
            self.update_controls()
            self.window.show_error("Model sound failed", message)

        def progress(event) -> None:
            if isinstance(event, tuple) and len(event) == 2:
                self.panel.state.setText(f"synthesising {event[0]}/{event[1]}")

        self.waveform_worker = False
        self.worker = self.window.start_worker(fn, on_finished=finished, on_failed=failed, on_progress=progress,
                                               name="model sound", busy=f"computing the {label}…")
        self.update_controls()
        return self.worker

    def _compute_waveform_gradmap(self, model, automatic: bool):
        """The worker computing the selected neuron's waveform gradmap around the selected stimulus."""
        from strfviewer.gui.listening.waveform_sound import Cancelled, waveform_sound

        s = self.session
        stim, neuron = s.stimulus_obj(), s.neuron
        if stim is None or stim.waveform is None or not stim.sample_rate:
            self.panel.state.setText("no audio")
            self.panel.state.setToolTip("the selected stimulus has no audio: a waveform model cannot hear it")
            return None
        reduce, at_ms = self.panel.reduce_box.currentText(), self.at_ms
        key = (id(model), stim.name, neuron, reduce, at_ms)
        if automatic and key == self._waveform_key:
            return None  # already shown (e.g. the run's other results arrived): nothing changed for this sound
        self._waveform_key = key

        def job(progress, cancel):
            return waveform_sound(model, stim, neuron, reduce, at_ms, cancel)

        def done_or_restart() -> bool:
            self.worker = None
            if self._restart:  # this result is superseded: compute the current selection's
                self._restart, self._waveform_key = False, None
                self.compute_model_sound(automatic=True)
                return True
            return False

        def finished(result) -> None:
            if done_or_restart():
                return
            self.waveform = result
            self._show_waveform_sound(replay=True)

        def failed(message: str) -> None:
            self._waveform_key = None  # not shown: a later request computes it again
            cancelled = isinstance(getattr(worker, "error", None), Cancelled)
            if done_or_restart() or cancelled:
                self.update_controls()
                return
            self.update_controls()
            if automatic:
                self.panel.state.setText("no waveform gradmap")
                self.panel.state.setToolTip(message)
                self.window.status(f"waveform gradmap: {message}", 10000)
            else:
                self.window.show_error("Waveform gradmap failed", message)

        self.waveform_worker = True
        worker = self.worker = self.window.start_worker(
            job, on_finished=finished, on_failed=failed, name="waveform gradmap",
            busy=f"waveform gradmap of {s.dataset.neuron_names[neuron]} around {stim.name}…")
        self.update_controls()
        return worker

    def _show_waveform_sound(self, replay: bool = False) -> None:
        """Make the shown waveform gradmap (map alone or mixed, per the panel) the model sound and draw it;
        ``replay``: a model sound playing starts again with the new one."""
        w = self.waveform
        if w is None:
            return
        kind = self.panel.mix_box.currentData()
        name = self.session.dataset.neuron_names[w.neuron] if self.session.dataset is not None else str(w.neuron)
        when = f"{w.at_ms:.0f} ms" + (" (peak)" if w.peak else "")
        label = (f"waveform gradmap of {name} around {w.stimulus} at {when}, {w.reduce}"
                 + (", under the stimulus" if kind == "mix" else ""))
        playing = self.player.is_playing and self.playing == "model"
        self._model_offset_ms = w.start_ms
        self.set_sound("model", label, w.sounds[kind], w.sample_rate)
        self.show_model_sound(w.sounds[kind], w.sample_rate, w.spectrograms[kind], w.freqs_hz,
                              start_ms=w.start_ms)
        self.panel.time_label.setText(f"at {when}")
        self.time_mark.setValue(w.at_ms)
        self.time_mark.show()
        self.update_controls()
        self.window.status(f"ready: {label}", 8000)
        if playing and replay:
            self.play("model")

    def show_model_sound(self, samples: np.ndarray, rate: int, spec: Optional[np.ndarray],
                         freqs_hz: Optional[np.ndarray] = None, start_ms: float = 0.0) -> None:
        """Draw the model sound: waveform, and its spectrogram ``(F, T)`` on bands ``freqs_hz`` (Hz); its time
        axis starts at ``start_ms`` (a waveform gradmap: where its stretch starts in the stimulus)."""
        t_ms = start_ms + np.arange(len(samples)) * 1000.0 / rate
        step = max(1, len(samples) // 20000)  # enough points to see the shape
        set_placeholder(self.panel.wave_plot, None)
        set_placeholder(self.panel.spec_plot, None if spec is not None else "no spectrogram for this sound")
        self.panel.wave_curve.setData(t_ms[::step], samples[::step])
        self.model_spec = spec
        if freqs_hz is not None:
            self.panel.band_axis.set_freqs(freqs_hz)
        if spec is not None:
            duration = len(samples) * 1000.0 / rate
            self.panel.spec_image.setImage(spec, autoLevels=True)
            self.panel.spec_image.setRect(start_ms, -0.5, duration, float(spec.shape[0]))
        self.panel.wave_plot.setXRange(start_ms, start_ms + len(samples) * 1000.0 / rate, padding=0.02)

    def clear_model_sound(self) -> None:
        """Empty the model sound's waveform and spectrogram plots."""
        self.panel.show_empty()
        self.model_spec = None

    # --- saving --------------------------------------------------------------------------------------
    def save(self, key: str, path) -> Path:
        """Write sound ``key`` as WAV (no audio device needed)."""
        from strfviewer.io.exports import write_wav

        samples, rate = self.sound(key)
        return write_wav(path, samples, rate)

    def ask_save(self, key: str) -> None:
        settings = self.window.settings()
        folder = str(settings.value(LAST_WAV_FOLDER_KEY, str(Path.home())))
        label = self.sound_labels().get(key, key)
        default = "".join(c if c.isalnum() or c in "._-" else "_" for c in label)[:80] + ".wav"
        path, _ = QFileDialog.getSaveFileName(self.window, "Save sound as WAV", str(Path(folder) / default),
                                              "WAV sound (*.wav)")
        if not path:
            return
        settings.setValue(LAST_WAV_FOLDER_KEY, str(Path(path).parent))
        try:
            self.save(key, path)
        except (ValueError, OSError, KeyError) as exc:
            self.window.show_error("Could not save the sound", str(exc))
            return
        self.window.status(f"saved {path}", 8000)

    def open_preferences(self) -> PreferencesDialog:
        if self.preferences is None:
            self.preferences = PreferencesDialog(self.window.settings(), self.player, self.window)
            self.preferences.finished.connect(lambda _result: self.update_controls())
        self.preferences.fill()
        self.preferences.open()
        return self.preferences


# ----------------------------------------------------------------------------------------------------
# worker jobs (run off the GUI thread; return (samples, sample_rate, spectrogram (F, T) or None))
# ----------------------------------------------------------------------------------------------------
def sonified_gradmap_job(model, neuron: int, readout: str, part: str, cached: Optional[np.ndarray],
                         frontend: dict, freqs_hz, dt_ms: float,
                         cached_channels: Optional[np.ndarray] = None) -> Callable:
    """The raw-spectrogram gradmap of ``neuron``; for a prefiltered model whose raw map is zero everywhere
    (AdapTrans / ICAdaptation at silence sit on a ReLU kink) its per-channel maps, channels summed (the raw map
    played silence)."""
    def job(progress, cancel):
        from strfviewer.analysis import sonify
        from strfviewer.gui.views.strf_data import compute_gradmaps, n_channels

        g = cached if cached is not None else compute_gradmaps(model, readout=readout, per_channel=False)
        strf = -np.asarray(g[neuron], dtype=np.float64)  # excitation positive
        if not np.any(strf) and n_channels(model) > 1:
            g = cached_channels if cached_channels is not None else compute_gradmaps(model, readout=readout,
                                                                                     per_channel=True)
            strf = -np.asarray(g[neuron], dtype=np.float64)  # (C, F, T): sonify sums the channels
        if not np.any(strf):
            raise ValueError("this neuron's gradmap is zero everywhere: there is nothing to play")
        cfg, rate = sonify.dataset_frontend(frontend, freqs_hz, dt_ms)
        result = sonify.sonify_strf(strf, cfg, rate, part=part, peak=SAFE_PEAK, cancel=cancel,
                                    progress=lambda step, n, loss: progress((step, n)) if step % 10 == 0 else None)
        return result.waveform, result.sample_rate, result.target, np.asarray(freqs_hz, dtype=float)
    return job


def install(window, player: Optional[AudioPlayer] = None) -> ListeningFeature:
    feature = ListeningFeature(window, player)
    window.listening = feature
    return feature
