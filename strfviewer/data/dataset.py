"""The in-memory dataset every part of strfviewer consumes: binned spectrograms and trial responses.

Shapes (per stimulus ``s``):

* ``spec``       ``(1, F, T_s)``  float32 spectrogram (log-compressed, F bands, dt_ms per frame)
* ``responses``  ``(N, R, T_s)``  float32 spike counts per bin and trial (or rates); ``NaN`` where a neuron
  was not recorded for that stimulus, where a trial does not exist (ragged trial counts) or where a bin is
  masked. Metrics ignore NaN entries. A dataset whose ``response_kind`` is ``"continuous"`` holds a signed
  signal instead (e.g. the membrane potential, mean mV per bin; ``response_unit`` names the unit).
* ``waveform``   ``(T_audio,)``   float32 mono audio at ``sample_rate`` Hz, optional (kept for playback and
  waveform-domain models)
* ``spike_times`` optional, where the source has them (spike-time files; not the demo, not counts-only NPZ):
  one entry per neuron, ``None`` where that neuron has no times for this stimulus, else one float64 array
  of spike times in ms from stimulus onset per trial (sorted; ``len`` = that neuron's recorded trials, at most
  ``R``). They are the spikes the counts count (``0 <= t < T_s * dt_ms``): binning them gives ``responses``
  before any smoothing.

Stimuli have different lengths ``T_s``; batching pads and masks (see :mod:`strfviewer.data.batching`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

SPLITS = ("train", "val", "test")
#: what ``responses`` hold: spike counts per bin (or rates, non-negative) or a continuous signed signal
RESPONSE_KINDS = ("counts", "continuous")
#: the unit a dataset of each kind states when its reader names none
DEFAULT_RESPONSE_UNITS = {"counts": "spikes", "continuous": "a.u."}

#: spike times of one stimulus: per neuron, ``None`` or one array of times (ms) per trial
SpikeTimes = List[Optional[List[np.ndarray]]]


@dataclass
class Stimulus:
    """One stimulus: its spectrogram, the responses of every neuron and (optionally) the audio and the spike
    times the responses were binned from."""

    name: str
    spec: np.ndarray  # (1, F, T) float32
    responses: np.ndarray  # (N, R, T) float32, NaN = missing
    waveform: Optional[np.ndarray] = None  # (T_audio,) float32
    sample_rate: Optional[int] = None  # Hz, for waveform
    metadata: Dict[str, object] = field(default_factory=dict)
    spike_times: Optional[SpikeTimes] = None  # per neuron: None or per trial (n_spikes,) float64 ms

    @property
    def n_frames(self) -> int:
        return int(self.spec.shape[-1])

    def spike_times_of(self, neuron: int) -> Optional[List[np.ndarray]]:
        """Spike times (ms) of each trial of ``neuron``, or ``None`` when the source has none for it."""
        if self.spike_times is None:
            return None
        return self.spike_times[neuron]

    def psth(self) -> np.ndarray:
        """Trial-mean response ``(N, T)`` ignoring NaN trials; NaN where no trial exists."""
        with np.errstate(invalid="ignore"):
            valid = ~np.isnan(self.responses)
            count = valid.sum(axis=1)
            total = np.where(valid, self.responses, 0.0).sum(axis=1)
            out = total / np.maximum(count, 1)
            out[count == 0] = np.nan
        return out.astype(np.float32)


@dataclass
class NeuralDataset:
    """A population's responses to a set of stimuli, binned at ``dt_ms``.

    ``freqs_hz`` ``(F,)`` are the band centre frequencies in Hz; ``split`` maps stimulus name -> one of
    ``SPLITS``; ``frontend`` holds the parameters of the spectrogram front-end that produced ``spec``
    (they are stored with checkpoints so a model knows its input); ``neuron_metadata`` has one dict per
    neuron (e.g. brain region from CRCNS AA2 tables).

    ``response_kind`` (:data:`RESPONSE_KINDS`): ``"counts"`` (the default: spike counts per bin, or rates) or
    ``"continuous"`` (a signed signal such as the membrane potential, mean per bin); ``response_unit`` its unit
    (``"spikes"``, ``"mV"``; :data:`DEFAULT_RESPONSE_UNITS` when empty). A continuous dataset is fitted with
    MSE and no output calibration (:func:`strfviewer.fit.run.effective_loss`) and labelled in its unit.
    """

    stimuli: List[Stimulus]
    neuron_names: List[str]
    freqs_hz: np.ndarray
    dt_ms: float
    split: Dict[str, str] = field(default_factory=dict)
    frontend: Dict[str, object] = field(default_factory=dict)
    neuron_metadata: List[Dict[str, object]] = field(default_factory=list)
    source: str = ""  # path (or "demo") it was loaded from
    name: str = ""
    warnings: List[str] = field(default_factory=list)  # things a loader fixed and the user should know
    response_kind: str = "counts"
    response_unit: str = ""

    def __post_init__(self) -> None:
        if self.response_kind not in RESPONSE_KINDS:
            raise ValueError(f"response_kind must be one of {RESPONSE_KINDS}, not {self.response_kind!r}")
        self.response_unit = str(self.response_unit or DEFAULT_RESPONSE_UNITS[self.response_kind])
        self.validate()

    # --- shape facts -------------------------------------------------------------------------------
    @property
    def n_neurons(self) -> int:
        return len(self.neuron_names)

    @property
    def n_freqs(self) -> int:
        return int(len(self.freqs_hz))

    @property
    def has_spike_times(self) -> bool:
        """True when some stimulus keeps spike times beside its counts."""
        return any(s.spike_times is not None for s in self.stimuli)

    @property
    def is_continuous(self) -> bool:
        """True when the responses are a continuous signed signal (e.g. mV), not spike counts."""
        return self.response_kind == "continuous"

    @property
    def response_label(self) -> str:
        """Axis label of one response bin: ``"spikes / bin"`` for counts, the unit (``"mV"``, a mean per bin)
        for a continuous signal."""
        return self.response_unit if self.is_continuous else f"{self.response_unit} / bin"

    def duration_ms(self, stimulus: Stimulus) -> float:
        return stimulus.n_frames * float(self.dt_ms)

    def validate(self) -> None:
        """Check shapes agree across stimuli; raise ``ValueError`` naming the offending stimulus."""
        if not self.stimuli:
            raise ValueError(f"dataset {self.name or self.source!r} has no stimuli")
        F, N = self.n_freqs, self.n_neurons
        for s in self.stimuli:
            if s.spec.ndim != 3 or s.spec.shape[0] != 1 or s.spec.shape[1] != F:
                raise ValueError(f"stimulus {s.name!r}: spec shape {s.spec.shape}, expected (1, {F}, T)")
            if s.responses.ndim != 3 or s.responses.shape[0] != N or s.responses.shape[2] != s.spec.shape[2]:
                raise ValueError(f"stimulus {s.name!r}: responses shape {s.responses.shape}, expected "
                                 f"({N}, R, {s.spec.shape[2]})")
            if s.spike_times is not None:
                if len(s.spike_times) != N:
                    raise ValueError(f"stimulus {s.name!r}: spike times of {len(s.spike_times)} neurons, "
                                     f"expected {N}")
                R = s.responses.shape[1]
                if any(t is not None and len(t) > R for t in s.spike_times):
                    raise ValueError(f"stimulus {s.name!r}: spike times of more trials than the {R} of its "
                                     "responses")
        for k, v in self.split.items():
            if v not in SPLITS:
                raise ValueError(f"stimulus {k!r}: split {v!r} is not one of {SPLITS}")

    # --- selection ---------------------------------------------------------------------------------
    def stimuli_in(self, split: str) -> List[Stimulus]:
        """Stimuli assigned to ``split`` ("train", "val" or "test"), in dataset order."""
        if split not in SPLITS:
            raise ValueError(f"split {split!r} is not one of {SPLITS}")
        return [s for s in self.stimuli if self.split.get(s.name) == split]

    def stimulus(self, name: str) -> Stimulus:
        for s in self.stimuli:
            if s.name == name:
                return s
        raise KeyError(f"no stimulus named {name!r}")

    def lags_ms(self, T: int) -> np.ndarray:
        """Lag axis ``(T,)`` in ms for a kernel of ``T`` frames, oldest first (``-(T-1)*dt .. 0``)."""
        from strfviewer.data.lags import lags_axis_ms

        return lags_axis_ms(T, self.dt_ms)

    def with_split(self, split: Dict[str, str]) -> "NeuralDataset":
        """A shallow copy with another split assignment."""
        import dataclasses

        return dataclasses.replace(self, split=dict(split))

    def subset_neurons(self, indices: Sequence[int]) -> "NeuralDataset":
        """A copy keeping only neurons ``indices`` (arrays are sliced, not copied deeply)."""
        import dataclasses

        idx = list(indices)
        stims = [dataclasses.replace(s, responses=s.responses[idx],
                                     spike_times=None if s.spike_times is None else [s.spike_times[i] for i in idx])
                 for s in self.stimuli]
        meta = [self.neuron_metadata[i] for i in idx] if self.neuron_metadata else []
        return dataclasses.replace(self, stimuli=stims, neuron_names=[self.neuron_names[i] for i in idx],
                                   neuron_metadata=meta)
