"""The built-in demo: a synthetic population of LN neurons with known STRFs hearing synthetic songs.

Deterministic for a given seed, offline, and quick (well under two seconds). The songs (16 kHz audio,
about 1-2 s) are sequences of syllables: harmonic stacks, frequency sweeps and band-limited noise bursts.
They go through the ordinary front-end (:func:`compute_spectrogram`) and per-band z-scoring, so the
spectrograms are real; each neuron's response is

    rate_n(t) = scale_n * softplus(gain * (drive_n(t) - threshold_n))    [spikes per bin]
    drive_n(t) = sum_{f, k} STRF_n[f, k] * spec_z[f, t - (T - 1) + k] / sd_n

with ``spec_z`` the z-scored spectrogram (zero before the onset), ``sd_n`` the standard deviation of the
raw drive over all stimuli, and Poisson spike counts drawn independently per trial. Neurons differ in
best frequency, bandwidth, latency, inhibition and firing rate, so their noise ceilings differ too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from strfviewer.data.dataset import NeuralDataset, Stimulus
from strfviewer.data.normalize import zscore_dataset
from strfviewer.data.spectrogram import SpectrogramConfig, compute_spectrogram
from strfviewer.data.splits import default_split

DEMO_SAMPLE_RATE = 16000


@dataclass
class DemoData:
    """The demo dataset and the ground truth that generated it.

    ``true_strfs (N, F, T)``: each neuron's STRF on the z-scored spectrogram, lags oldest first
    (``dataset.lags_ms(T)``), positive = excitatory; ``true_rates``: stimulus name -> expected spike count
    per bin ``(N, T_s)``; ``thresholds``, ``scales`` ``(N,)``: the output nonlinearity's parameters.
    """

    dataset: NeuralDataset
    true_strfs: np.ndarray
    true_rates: Dict[str, np.ndarray]
    thresholds: np.ndarray
    scales: np.ndarray
    gain: float
    sample_rate: int = DEMO_SAMPLE_RATE
    waveforms: Dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def T(self) -> int:
        return int(self.true_strfs.shape[-1])


# --- sounds ----------------------------------------------------------------------------------------
def _envelope(n: int, rng: np.random.Generator) -> np.ndarray:
    attack = max(2, int(n * rng.uniform(0.05, 0.3)))
    release = max(2, int(n * rng.uniform(0.1, 0.4)))
    env = np.ones(n)
    env[:attack] = np.sin(np.linspace(0, np.pi / 2, attack)) ** 2
    env[n - release:] = np.cos(np.linspace(0, np.pi / 2, release)) ** 2
    return env


def _harmonic_stack(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / sr
    f0 = rng.uniform(350.0, 1100.0)
    vibrato = 1.0 + rng.uniform(0.0, 0.08) * np.sin(2 * np.pi * rng.uniform(3, 15) * t)
    phase = 2 * np.pi * np.cumsum(f0 * vibrato) / sr
    n_harm = int(min(12, (sr / 2 * 0.95) // (f0 * 1.1)))
    tilt = rng.uniform(-1.0, 0.3)
    formant = rng.uniform(1000, 6000)
    out = np.zeros(n)
    for h in range(1, n_harm + 1):
        weight = h ** tilt * np.exp(-0.5 * (np.log2(h * f0 / formant) / 0.8) ** 2) + 0.05
        out += weight * np.sin(h * phase + rng.uniform(0, 2 * np.pi))
    return out


def _sweep(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    lo, hi = 600.0, 7000.0
    f_start, f_end = np.exp(rng.uniform(np.log(lo), np.log(hi), size=2))
    freq = f_start * (f_end / f_start) ** np.linspace(0, 1, n)
    return np.sin(2 * np.pi * np.cumsum(freq) / sr)


def _noise_burst(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    centre = np.exp(rng.uniform(np.log(700), np.log(6500)))
    width_oct = rng.uniform(0.3, 2.0)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    spectrum *= np.exp(-0.5 * (np.log2(np.maximum(f, 1.0) / centre) / (width_oct / 2)) ** 2)
    out = np.fft.irfft(spectrum, n)
    return out / (np.std(out) + 1e-12)


_SYLLABLES = (("harmonic", _harmonic_stack), ("sweep", _sweep), ("noise", _noise_burst))


def synth_song(rng: np.random.Generator, sr: int = DEMO_SAMPLE_RATE) -> tuple:
    """One synthetic song ``(waveform (T_audio,) float32, syllable kinds)``, about 1-2 s long."""
    duration = rng.uniform(1.0, 2.0)
    n_total = int(duration * sr)
    song = np.zeros(n_total)
    kinds: List[str] = []
    pos = int(rng.uniform(0.02, 0.08) * sr)
    while True:
        n = int(rng.uniform(0.05, 0.25) * sr)
        if pos + n > n_total - int(0.02 * sr):
            break
        kind, make = _SYLLABLES[int(rng.integers(len(_SYLLABLES)))]
        syllable = make(n, sr, rng)
        syllable = syllable / (np.sqrt(np.mean(syllable ** 2)) + 1e-12) * 10 ** rng.uniform(-1.6, -0.8)
        song[pos:pos + n] += syllable * _envelope(n, rng)
        kinds.append(kind)
        pos += n + int(rng.uniform(0.01, 0.08) * sr)
    song += 1e-4 * rng.standard_normal(n_total)  # faint background
    return np.clip(song, -1.0, 1.0).astype(np.float32), kinds


# --- neurons ---------------------------------------------------------------------------------------
def make_strfs(rng: np.random.Generator, n_neurons: int, F: int, T: int) -> np.ndarray:
    """Unit-norm STRFs ``(N, F, T)``: an excitatory spectro-temporal blob with inhibition beside or after it."""
    f = np.arange(F)[:, None]
    lag = (np.arange(T) - (T - 1))[None, :]  # frames before "now", oldest first: -(T-1) .. 0
    strfs = np.zeros((n_neurons, F, T))
    for n in range(n_neurons):
        bf = rng.uniform(0.15, 0.85) * (F - 1)
        sf = rng.uniform(1.2, 3.5) * F / 34.0
        latency = rng.uniform(2.0, 5.0)
        width_t = rng.uniform(0.8, 2.0)
        excite = np.exp(-0.5 * ((f - bf) / sf) ** 2) * np.exp(-0.5 * ((-lag - latency) / width_t) ** 2)
        if rng.random() < 0.5:  # side-band inhibition at the same latency
            side = bf + rng.choice([-1, 1]) * rng.uniform(2.0, 3.0) * sf
            inhibit = np.exp(-0.5 * ((f - side) / sf) ** 2) * np.exp(-0.5 * ((-lag - latency) / width_t) ** 2)
        else:  # delayed inhibition in the same band (onset / offset shaping)
            inhibit = np.exp(-0.5 * ((f - bf) / sf) ** 2) * np.exp(
                -0.5 * ((-lag - latency - 2.5 * width_t) / (1.5 * width_t)) ** 2)
        strf = excite - rng.uniform(0.3, 0.8) * inhibit
        strfs[n] = strf / np.linalg.norm(strf)
    return strfs


def causal_drive(spec: np.ndarray, strfs: np.ndarray) -> np.ndarray:
    """``(N, T_s)`` linear drive of STRFs ``(N, F, T)`` over a spectrogram ``(F, T_s)`` (zero before onset)."""
    N, F, T = strfs.shape
    padded = np.concatenate([np.zeros((F, T - 1)), spec], axis=1)
    windows = np.lib.stride_tricks.sliding_window_view(padded, T, axis=1)  # (F, T_s, T)
    return np.einsum("fsk,nfk->ns", windows, strfs)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


#: log floor of the demo's front-end (-60 dB re full scale). The synthetic songs have digitally silent gaps; at
#: the real-data default (-100 dB, a 16-bit recording's floor) those gaps dominate the z-scored input and the
#: ridge STRFs recover the true ones less well (lowest correlation 0.35 instead of 0.67).
DEMO_LOG_OFFSET = 1e-3


def make_demo(seed: int = 0, n_neurons: int = 12, n_stimuli: int = 20, n_trials: int = 10, T: int = 15,
              frontend: Optional[SpectrogramConfig] = None) -> DemoData:
    """Build the demo population (see the module docstring); same seed -> same data."""
    if n_neurons < 1 or n_stimuli < 1 or n_trials < 1 or T < 1:
        raise ValueError("n_neurons, n_stimuli, n_trials and T must be positive")
    cfg = frontend or SpectrogramConfig(log_offset=DEMO_LOG_OFFSET)
    rng = np.random.default_rng(seed)
    sr = DEMO_SAMPLE_RATE
    names = [f"song{k + 1:02d}" for k in range(n_stimuli)]
    stimuli = []
    freqs_hz = None
    for name in names:
        wave, kinds = synth_song(rng, sr)
        spec, freqs_hz = compute_spectrogram(wave, sr, cfg)
        placeholder = np.zeros((n_neurons, n_trials, spec.shape[1]), dtype=np.float32)
        stimuli.append(Stimulus(name, spec[None], placeholder, wave, sr,
                                {"type": "synthetic song", "syllables": kinds}))
    frontend_dict = dict(cfg.to_dict(), sample_rate=sr)
    dataset = NeuralDataset(stimuli, [f"n{k + 1:02d}" for k in range(n_neurons)], np.asarray(freqs_hz),
                            float(cfg.dt_ms), split=default_split(names), frontend=frontend_dict,
                            source="demo", name="demo population")
    dataset = zscore_dataset(dataset)

    F = dataset.n_freqs
    strfs = make_strfs(rng, n_neurons, F, T)
    drives = {s.name: causal_drive(s.spec[0].astype(np.float64), strfs) for s in dataset.stimuli}
    sd = np.concatenate(list(drives.values()), axis=1).std(axis=1) + 1e-12
    gain = 2.0
    thresholds = rng.uniform(0.0, 1.0, n_neurons)
    mean_rate_hz = np.exp(rng.uniform(np.log(8.0), np.log(80.0), n_neurons))  # spikes/s: ceilings differ
    unit = {name: _softplus(gain * (d / sd[:, None] - thresholds[:, None])) for name, d in drives.items()}
    mean_unit = np.concatenate(list(unit.values()), axis=1).mean(axis=1)
    scales = mean_rate_hz * cfg.dt_ms / 1000.0 / mean_unit  # spikes per bin per unit of softplus
    true_rates = {}
    for s in dataset.stimuli:
        rate = (scales[:, None] * unit[s.name]).astype(np.float64)
        true_rates[s.name] = rate.astype(np.float32)
        s.responses = rng.poisson(np.broadcast_to(rate[:, None, :], s.responses.shape)).astype(np.float32)
    for n in range(n_neurons):
        peak_f, peak_t = np.unravel_index(np.argmax(strfs[n]), strfs[n].shape)
        dataset.neuron_metadata.append({
            "best_frequency_hz": float(dataset.freqs_hz[peak_f]),
            "latency_ms": float((T - 1 - peak_t) * cfg.dt_ms),
            "mean_rate_hz": float(mean_rate_hz[n]),
        })
    dataset.validate()
    return DemoData(dataset, strfs.astype(np.float32), true_rates, thresholds, scales, gain, sr,
                    {s.name: s.waveform for s in dataset.stimuli})
