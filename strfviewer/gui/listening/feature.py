"""Listening feature pack: play the selected stimulus with a moving play-head, and hear the model.

``install(window)`` adds a "Listening" dock and keeps the feature as ``window.listening``:

* Play / Stop the selected stimulus (space bar toggles); a play-head moves across the spectrogram and PSTH
  views in sync (polled from the player every 30 ms in the GUI thread).
* Model sound, computed in a worker and shown as waveform + spectrogram:
  - wav-native models (a learnable front-end): the **waveform gradmap** of the selected neuron
    (reduce last / peak / sum) around the selected stimulus or silence;
  - spectrogram models: the **sonified gradmap** (excitatory or inhibitory part) synthesised through the
    app's front-end (:mod:`strfviewer.analysis.sonify`).
  Both are faded in/out and normalised to a safe level before they are played or saved.
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
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget)

from strfviewer.gui.listening.audio import AudioPlayer, AudioUnavailable
from strfviewer.gui.window.preferences import PreferencesDialog, device_index, stored_device_name
from strfviewer.gui.views.axes import BandAxis, set_placeholder

POLL_MS = 30
SAFE_PEAK = 0.5  # about -6 dBFS
WAVEFORM_REDUCES = ("last", "peak", "sum")
AROUND = ("selected stimulus", "silence")
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
        self.reduce_box.setToolTip("last: response at the last frame (a receptive field); peak: at its maximum;\n"
                                   "sum: over the whole stimulus (a saliency map, not a receptive field)")
        self.around_box = QComboBox()
        self.around_box.addItems(AROUND)
        self.around_box.setToolTip("linearise the model around the selected stimulus or around near-silence")
        self.part_box = QComboBox()
        self.part_box.addItems(list(PARTS))
        self.part_box.setToolTip("which part of the gradmap becomes sound energy")
        self.compute_button = QPushButton("Compute")
        self.play_model_button = QPushButton("▶ Play")
        self.save_model_button = QPushButton("Save WAV…")
        middle = QHBoxLayout()
        for w in (self.kind_label, self.reduce_box, self.around_box, self.part_box, self.compute_button,
                  self.play_model_button, self.save_model_button):
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
        self.spec_plot.addItem(self.spec_image)
        plots = QHBoxLayout()
        for plot in (self.wave_plot, self.spec_plot):
            plot.getAxis("bottom").enableAutoSIPrefix(False)  # ms stay ms (no "(x0.001)")
            plot.setMinimumHeight(60)
            plots.addWidget(plot)
        self.show_empty()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addLayout(middle)
        layout.addLayout(plots, 1)

    def plot_widgets(self):
        return [self.wave_plot, self.spec_plot]

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
        self.resynth_worker = None
        self._resynthesised: Dict[tuple, Tuple[np.ndarray, int]] = {}  # (dataset id, stimulus) -> sound
        self.model_spec: Optional[np.ndarray] = None  # (F, T) spectrogram of the model sound, as shown

        self.panel = ListeningPanel()
        self.dock = window.add_dock("Listening", self.panel, Qt.BottomDockWidgetArea, "listening_dock")
        p = self.panel
        p.play_button.clicked.connect(self.toggle_stimulus)
        p.stop_button.clicked.connect(self.stop)
        p.save_stimulus_button.clicked.connect(lambda: self.ask_save("stimulus"))
        p.compute_button.clicked.connect(self.compute_model_sound)
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
            self.player.play(samples, rate)
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

    def _on_finished(self) -> None:
        self.timer.stop()
        self._set_playheads(None)
        self.playing = None
        self.update_controls()

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
        p.reduce_box.setVisible(wav)
        p.around_box.setVisible(wav)
        p.part_box.setVisible(not wav)
        busy = self.worker is not None
        p.compute_button.setEnabled(model is not None and self.session.dataset is not None and not busy)
        p.compute_button.setToolTip("compute the selected neuron's sound in the background"
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

    def _on_session_change(self, dependency: str, _payload=None) -> None:
        """Another stimulus or dataset: the stimulus playing is no longer the one shown; another dataset or
        removed runs: their sounds go; any change: the controls follow the current dataset and model (whose
        weights may arrive after it became current, as a ``results`` change)."""
        if dependency in ("dataset", "stimulus") and self.player.is_playing and self.playing == "stimulus":
            self.stop()
        if dependency in ("dataset", "runs"):
            self.drop_stale_sounds()
        self.update_controls()

    # --- model sounds --------------------------------------------------------------------------------
    def compute_model_sound(self):
        """Start the worker computing the selected neuron's sound; returns it (None when impossible)."""
        s = self.session
        run, ds = s.current_run, s.dataset
        model = getattr(run, "model", None)
        if model is None or ds is None or self.worker is not None:
            return None
        neuron, name = s.neuron, ds.neuron_names[s.neuron]
        p = self.panel
        if is_wav_native(model):
            reduce, around = p.reduce_box.currentText(), p.around_box.currentText()
            stim = s.stimulus_obj()
            wave = stim.waveform if (around == "selected stimulus" and stim is not None) else None
            stim_rate = int(stim.sample_rate or 0) if stim is not None else 0
            rate = int(getattr(model.wav2spec, "sample_rate", 0) or stim_rate or 16000)
            label = f"waveform gradmap of {name} ({reduce}, around {around if wave is not None else 'silence'})"
            fn = waveform_gradmap_job(model, neuron, reduce, wave, stim_rate or rate, rate)
        else:
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

        self.worker = self.window.start_worker(fn, on_finished=finished, on_failed=failed, on_progress=progress,
                                               name="model sound", busy=f"computing the {label}…")
        self.update_controls()
        return self.worker

    def show_model_sound(self, samples: np.ndarray, rate: int, spec: Optional[np.ndarray],
                         freqs_hz: Optional[np.ndarray] = None) -> None:
        """Draw the model sound: waveform, and its spectrogram ``(F, T)`` on bands ``freqs_hz`` (Hz)."""
        t_ms = np.arange(len(samples)) * 1000.0 / rate
        step = max(1, len(samples) // 20000)  # enough points to see the shape
        set_placeholder(self.panel.wave_plot, None)
        set_placeholder(self.panel.spec_plot, None if spec is not None else "no spectrogram for this sound")
        self.panel.wave_curve.setData(t_ms[::step], samples[::step])
        self.model_spec = spec
        if freqs_hz is not None:
            self.panel.band_axis.set_freqs(freqs_hz)
        if spec is not None:
            dt = t_ms[-1] / max(1, spec.shape[1]) if len(t_ms) else 1.0
            self.panel.spec_image.setImage(spec, autoLevels=True)
            self.panel.spec_image.setRect(0.0, -0.5, spec.shape[1] * dt, float(spec.shape[0]))

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
def waveform_gradmap_job(model, neuron: int, reduce: str, wave: Optional[np.ndarray], wave_rate: int,
                         rate: int) -> Callable:
    """The gradmap is taken at the model's own sample rate ``rate``; ``wave`` (at ``wave_rate``) is
    resampled to it first."""
    def job(progress, cancel):
        from strfviewer.analysis.gradmaps import waveform_gradmap
        from strfviewer.analysis.sonify import fade_and_normalise
        from strfviewer.data.audio import resample

        nonlocal wave
        if wave is not None and wave_rate != rate:
            wave = resample(wave, wave_rate, rate)

        g = waveform_gradmap(model, wave, neuron=neuron, reduce=reduce).detach().cpu().numpy()
        samples = fade_and_normalise(g, rate, peak=SAFE_PEAK)
        spec, freqs = None, None
        try:
            import torch

            with torch.no_grad():
                spec = model.wav2spec(torch.as_tensor(samples).reshape(1, 1, -1))[0, 0].cpu().numpy()
            centres = getattr(model.wav2spec, "center_frequencies", None)
            freqs = centres().detach().cpu().numpy() if callable(centres) else None
        except Exception:  # a front-end that cannot run alone: show the waveform only
            spec = None
        return samples, rate, spec, freqs
    return job


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
