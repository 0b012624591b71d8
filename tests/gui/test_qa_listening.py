"""QA: the sonified gradmap of a prefiltered model whose raw-spectrogram gradmap is zero everywhere (AdapTrans at
silence sits on its ReLU kink) is made from its per-channel maps instead of playing silence; a map that is zero
in every channel too is a readable error, not a silent sound."""

import threading

import numpy as np
import pytest

from strfviewer.gui.listening.feature import sonified_gradmap_job

from .conftest import make_dataset, make_run


def _run_job(job):
    return job(lambda event: None, threading.Event())


def test_zero_raw_gradmap_falls_back_to_the_channels():
    ds = make_dataset()
    run = make_run(ds, prefilter="AdapTrans")
    N, F, T = ds.n_neurons, ds.n_freqs, 5
    raw = np.zeros((N, 1, F, T), np.float32)
    channels = np.zeros((N, 2, F, T), np.float32)
    channels[0, 0, F // 2, -2] = -1.0  # deepSTRF's sign: an excitatory spot on the ON channel of neuron 0
    job = sonified_gradmap_job(run.model, 0, "last", "positive", raw, ds.frontend, ds.freqs_hz, ds.dt_ms,
                               cached_channels=channels)
    samples, rate, target, freqs = _run_job(job)
    assert rate > 0 and np.max(np.abs(samples)) > 0.1  # a sound, not silence

    job = sonified_gradmap_job(run.model, 1, "last", "positive", raw, ds.frontend, ds.freqs_hz, ds.dt_ms,
                               cached_channels=channels)  # neuron 1: zero in every channel
    with pytest.raises(ValueError, match="nothing to play"):
        _run_job(job)
