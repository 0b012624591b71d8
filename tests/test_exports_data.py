"""Data exports: metrics CSV, results NPZ, runs summary CSV, WAV; atomic on failure."""

import csv
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile

from strfviewer.io import exports


def metrics(n, seed=0):
    rng = np.random.default_rng(seed)
    cc = rng.uniform(0, 0.8, n)
    cc_max = rng.uniform(0.8, 1.0, n)
    m = SimpleNamespace(cc=cc, cc_max=cc_max, cc_norm=cc / cc_max)
    m.cc_norm[1] = np.nan  # undefined for one neuron
    return m


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_metrics_csv_has_one_row_per_neuron(tmp_path):
    names = [f"cell{i}" for i in range(5)]
    m_val, m_test = metrics(5, 1), metrics(5, 2)
    path = exports.write_metrics_csv(tmp_path / "m.csv", names, {"test": m_test, "val": m_val},
                                     extra={"n_spikes": [10, 20, 30, 40, 50]})
    rows = read_csv(path)
    assert [r["name"] for r in rows] == names
    assert list(rows[0]) == ["neuron", "name", "val_cc", "val_cc_max", "val_cc_norm", "test_cc",
                             "test_cc_max", "test_cc_norm", "n_spikes"]
    np.testing.assert_allclose([float(r["test_cc"]) for r in rows], m_test.cc)
    assert rows[1]["test_cc_norm"] == ""  # NaN -> empty cell
    assert [int(r["n_spikes"]) for r in rows] == [10, 20, 30, 40, 50]


def test_metrics_csv_rejects_a_wrong_length(tmp_path):
    with pytest.raises(ValueError, match="3 values for 5 neurons"):
        exports.write_metrics_csv(tmp_path / "m.csv", list("abcde"), {"test": metrics(3)})
    assert not (tmp_path / "m.csv").exists()


def test_results_npz_has_the_documented_arrays(tmp_path):
    N, C, F, T = 3, 2, 6, 4
    grad = np.random.default_rng(0).normal(size=(N, C, F, T)).astype(np.float32)
    preds = {"s1": np.ones((N, 10)), "s2": np.full((N, 7), 2.0)}
    recorded = {"s1": np.zeros((N, 10))}
    path = exports.write_results_npz(tmp_path / "r.npz", ["a", "b", "c"], np.linspace(500, 8000, F), 5.0,
                                     gradmaps=grad, predictions=preds, recorded=recorded)
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) == {"neuron_names", "freqs_hz", "dt_ms", "lags_ms", "gradmaps", "stimulus_names",
                                "stimulus_frames", "predictions", "recorded_psth"}
        assert list(z["neuron_names"]) == ["a", "b", "c"]
        np.testing.assert_array_equal(z["gradmaps"], grad)
        np.testing.assert_array_equal(z["lags_ms"], [-15.0, -10.0, -5.0, 0.0])
        assert float(z["dt_ms"]) == 5.0
        assert list(z["stimulus_names"]) == ["s1", "s2"]
        assert list(z["stimulus_frames"]) == [10, 7]
        assert z["predictions"].shape == (2, N, 10)
        np.testing.assert_array_equal(z["predictions"][1, :, :7], 2.0)
        assert np.all(np.isnan(z["predictions"][1, :, 7:]))
        assert np.all(np.isnan(z["recorded_psth"][1]))  # s2 had no recording given
        np.testing.assert_array_equal(z["recorded_psth"][0], 0.0)


def test_results_npz_checks_shapes(tmp_path):
    with pytest.raises(ValueError, match="gradmaps"):
        exports.results_arrays(["a"], [1000.0, 2000.0], 5.0, gradmaps=np.zeros((2, 1, 2, 3)))
    with pytest.raises(ValueError, match="lags_ms"):
        exports.results_arrays(["a"], [1000.0, 2000.0], 5.0, gradmaps=np.zeros((1, 1, 2, 3)), lags_ms=[0, 1])


def test_runs_summary_csv_one_row_per_run(tmp_path):
    import torch

    model = torch.nn.Linear(4, 2)
    m = metrics(2)
    runs = [
        SimpleNamespace(id=1, name="ridge", spec=SimpleNamespace(family="Linear", kernel="full", prefilter=None),
                        request=SimpleNamespace(method="ridge"), model=model, status="done", message="",
                        outcome=SimpleNamespace(metrics={"val": m, "test": m}, seconds=1.5, device="cpu",
                                                message="ok"),
                        checkpoint_path=None),
        SimpleNamespace(id=2, name="running", spec=None, request=None, model=None, outcome=None, status="running",
                        message="epoch 3", checkpoint_path="/tmp/x"),
    ]
    rows = read_csv(exports.write_runs_summary_csv(tmp_path / "runs.csv", runs))
    assert len(rows) == 2 and list(rows[0]) == list(exports.RUN_COLUMNS)
    assert rows[0]["family"] == "Linear" and rows[0]["n_params"] == "10" and rows[0]["method"] == "ridge"
    assert float(rows[0]["test_cc_norm_median"]) == pytest.approx(np.nanmedian(m.cc_norm))
    assert rows[1]["status"] == "running" and rows[1]["test_cc_norm_median"] == ""
    assert rows[1]["checkpoint"] == "/tmp/x"


def test_wav_round_trip(tmp_path):
    rate = 16000
    x = (0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    path = exports.write_wav(tmp_path / "tone.wav", x, rate)
    data, sr = soundfile.read(path, dtype="float32")
    assert sr == rate and data.shape == x.shape
    np.testing.assert_allclose(data, x, atol=1 / 32767 + 1e-6)
    with pytest.raises(exports.ExportError, match="NaN"):
        exports.write_wav(tmp_path / "bad.wav", np.array([0.0, np.nan]), rate)


def test_an_interrupted_export_leaves_the_old_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "results.npz"
    exports.write_results_npz(target, ["a"], [1000.0], 5.0, gradmaps=np.ones((1, 1, 1, 2)))
    old = target.read_bytes()

    def crash(fh, **arrays):
        fh.write(b"PK\x03\x04 half a zip")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez_compressed", crash)
    with pytest.raises(OSError, match="No space"):
        exports.write_results_npz(target, ["a"], [1000.0], 5.0, gradmaps=np.zeros((1, 1, 1, 2)))
    assert target.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["results.npz"]  # no temporary left behind

    wav = tmp_path / "s.wav"
    exports.write_wav(wav, np.zeros(100), 8000)
    old_wav = wav.read_bytes()

    def wav_crash(path, *args, **kwargs):
        open(path, "wb").write(b"RIFF")
        raise KeyboardInterrupt

    monkeypatch.setattr(soundfile, "write", wav_crash)
    with pytest.raises(KeyboardInterrupt):
        exports.write_wav(wav, np.ones(100) * 0.1, 8000)
    assert wav.read_bytes() == old_wav
