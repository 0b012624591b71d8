"""The on-disk spectrogram cache: location, keys, corrupt entries; GPU front-end when there is one."""

from pathlib import Path

import numpy as np
import pytest

from strfviewer.data import cache
from strfviewer.data.audio import Audio
from strfviewer.data.build import spectrogram_of
from strfviewer.data.spectrogram import SpectrogramConfig, compute_spectrogram


def test_location_env_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("STRFVIEWER_CACHE_DIR", str(tmp_path / "mine"))
    assert cache.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("STRFVIEWER_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "strfviewer"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.cache_dir() == Path.home() / ".cache" / "strfviewer"


def test_location_is_the_platforms_user_cache_folder(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.delenv("STRFVIEWER_CACHE_DIR", raising=False)
    seen = []
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda *a, **k: seen.append((a, k)) or str(tmp_path / "C"))
    assert cache.cache_dir() == tmp_path / "C" and seen == [(("strfviewer",), {"appauthor": False})]


def test_key_depends_on_content_settings_and_rate():
    cfg = SpectrogramConfig().to_dict()
    base = cache.spectrogram_key("abc", cfg, 16000)
    assert base == cache.spectrogram_key("abc", dict(cfg), 16000)
    assert base != cache.spectrogram_key("abd", cfg, 16000)
    assert base != cache.spectrogram_key("abc", SpectrogramConfig(n_bands=20).to_dict(), 16000)
    assert base != cache.spectrogram_key("abc", cfg, 32000)


def test_hits_and_corrupt_entries_are_recomputed(monkeypatch, tmp_path):
    monkeypatch.setenv("STRFVIEWER_CACHE_DIR", str(tmp_path))
    wave = (0.1 * np.random.default_rng(0).standard_normal(1600)).astype(np.float32)
    audio = Audio(wave, 16000, "x.wav", content_hash="deadbeef")
    cfg = SpectrogramConfig()
    first, freqs = spectrogram_of(audio, cfg)
    entries = list(tmp_path.rglob("*.npz"))
    assert len(entries) == 1
    # a hit returns what is stored (prove it by planting a different array under the same key)
    key = cache.spectrogram_key("deadbeef", cfg.to_dict(), 16000)
    cache.store_spectrogram(key, np.zeros_like(first), freqs)
    assert np.all(spectrogram_of(audio, cfg)[0] == 0)
    entries[0].write_bytes(b"garbage")  # a corrupt entry is ignored and rewritten
    again, _ = spectrogram_of(audio, cfg)
    assert np.allclose(again, first)
    assert cache.load_spectrogram(key) is not None
    # no content hash (in-memory audio): nothing cached
    spectrogram_of(Audio(wave, 16000), cfg)
    assert len(list(tmp_path.rglob("*.npz"))) == 1


def test_unwritable_cache_is_skipped(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("STRFVIEWER_CACHE_DIR", str(blocker))
    wave = np.zeros(800, dtype=np.float32)
    spec, _ = spectrogram_of(Audio(wave, 16000, "x.wav", content_hash="cafe"), SpectrogramConfig())
    assert spec.shape == (34, 10)


def test_gpu_matches_cpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    wave = (0.1 * np.random.default_rng(0).standard_normal(32000)).astype(np.float32)
    cpu, f1 = compute_spectrogram(wave, 32000)
    gpu, f2 = compute_spectrogram(wave, 32000, device="cuda")
    assert np.allclose(f1, f2) and np.allclose(cpu, gpu, atol=1e-3)
