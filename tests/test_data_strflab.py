"""Loading the real STRFlab recording (skipped when the shared data is absent)."""

import numpy as np
import pytest

from strfviewer.data import load


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STRFVIEWER_CACHE_DIR", str(tmp_path / "cache"))


def _count_spikes_in_files(folder):
    return sum(len((folder / f"spike{k}").read_text().split()) for k in range(1, 21))


def test_strflab_cell_loads_with_default_frontend(strflab_cell):
    ds = load(strflab_cell)
    assert len(ds.stimuli) == 20 and ds.n_neurons == 1
    assert ds.n_freqs == 34 and ds.dt_ms == 5.0
    assert ds.freqs_hz[0] == pytest.approx(500.0) and ds.freqs_hz[-1] == pytest.approx(16000.0)
    assert all(s.responses.shape[:2] == (1, 10) for s in ds.stimuli)
    assert all(s.sample_rate == 32000 for s in ds.stimuli)
    kept = int(sum(np.nansum(s.responses) for s in ds.stimuli))
    assert _count_spikes_in_files(strflab_cell) == 3680
    # spikes after the end of the song are dropped and counted
    dropped = [w for w in ds.warnings if "after the stimulus end" in w]
    assert len(dropped) == 1
    n_dropped = int(dropped[0].split()[1])
    assert kept + n_dropped == 3680 and 0 < n_dropped < 100
    # split 1-14 / 15-17 / 18-20 by natural order
    assert [n for n, p in ds.split.items() if p == "test"] == ["stim18", "stim19", "stim20"]
    assert [n for n, p in ds.split.items() if p == "val"] == ["stim15", "stim16", "stim17"]
    # one frame per 5 ms of audio
    for s in ds.stimuli:
        assert s.n_frames == int(np.ceil(len(s.waveform) / 32000 * 1000 / 5 - 1e-9))


def test_strflab_cache_gives_the_same_spectrograms(strflab_cell, tmp_path):
    first = load(strflab_cell, normalize=None)
    cached = list((tmp_path / "cache").rglob("*.npz"))
    assert len(cached) == 20
    second = load(strflab_cell, normalize=None)
    assert all(np.array_equal(a.spec, b.spec) for a, b in zip(first.stimuli, second.stimuli))
    fresh = load(strflab_cell, normalize=None, use_cache=False)
    assert all(np.allclose(a.spec, b.spec) for a, b in zip(first.stimuli, fresh.stimuli))


def test_strflab_smoothing_keeps_counts(strflab_cell):
    raw = load(strflab_cell)
    smooth = load(strflab_cell, smoothing_ms=21.0)
    for a, b in zip(raw.stimuli, smooth.stimuli):
        assert np.allclose(np.nansum(a.responses, axis=-1), np.nansum(b.responses, axis=-1), atol=1e-3)
    assert smooth.frontend["smoothing_ms"] == 21.0
