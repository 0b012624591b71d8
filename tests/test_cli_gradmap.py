"""`strfviewer gradmap` and `strfviewer dream` on saved checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from strfviewer.analysis.gradmaps import strf_gradmap
from strfviewer.cli import main
from strfviewer.io.checkpoints import load_checkpoint, save_checkpoint
from strfviewer.models import LinearNonlinear, StateNet, make_prefiltering

F, N = 10, 4
FREQS = np.geomspace(500, 8000, F)
NAMES = [f"cell{i}" for i in range(N)]


def _save(model, folder, **metadata):
    meta = {"freqs_hz": FREQS.tolist(), "dt_ms": 5.0, "neuron_names": NAMES}
    meta.update(metadata)
    return save_checkpoint(model, folder, metadata=meta)


@pytest.fixture
def ln_checkpoint(tmp_path):
    torch.manual_seed(0)
    return _save(LinearNonlinear(F, 6, out_neurons=N), tmp_path / "ln")


def test_gradmap_writes_the_maps_and_their_axes(ln_checkpoint, tmp_path, capsys):
    out = tmp_path / "maps.npz"
    assert main(["gradmap", str(ln_checkpoint), "--out", str(out)]) == 0
    with np.load(out, allow_pickle=False) as z:
        model, _ = load_checkpoint(ln_checkpoint)
        np.testing.assert_array_equal(z["gradmaps"], strf_gradmap(model).numpy())
        assert z["gradmaps"].shape == (N, 1, F, 6)
        np.testing.assert_allclose(z["freqs_hz"], FREQS)
        np.testing.assert_allclose(z["lags_ms"], [-25, -20, -15, -10, -5, 0])
        assert list(z["neuron_names"]) == NAMES and list(z["channels"]) == ["spectrogram"]
        assert str(z["readout"]) == "last" and float(z["dt_ms"]) == 5.0
    assert "4 gradmap(s)" in capsys.readouterr().err


def test_gradmap_options_readout_frames_and_per_channel(tmp_path):
    torch.manual_seed(1)
    pre = make_prefiltering("AdapTrans", F, kernel_size=3)
    ckpt = _save(LinearNonlinear(F, 5, out_neurons=N, prefiltering=pre), tmp_path / "adaptrans")
    out = tmp_path / "pc.npz"
    assert main(["gradmap", str(ckpt), "--out", str(out), "--per-channel", "-T", "9", "--readout", "mean",
                 "--quiet"]) == 0
    model, _ = load_checkpoint(ckpt)
    with np.load(out) as z:
        assert z["gradmaps"].shape == (N, 2, F, 9) and list(z["channels"]) == ["ON", "OFF"]
        np.testing.assert_array_equal(z["gradmaps"],
                                      strf_gradmap(model, T=9, readout="mean", per_channel=True).numpy())
        assert str(z["readout"]) == "mean"


def test_gradmap_default_window_of_a_recurrent_model_uses_the_frame_step(tmp_path):
    torch.manual_seed(2)
    ckpt = _save(StateNet(F, kernel_size=4, stride=3, hidden_channels=2, out_neurons=N), tmp_path / "sn",
                 dt_ms=10.0)
    out = tmp_path / "sn.npz"
    assert main(["gradmap", str(ckpt), "--out", str(out), "--quiet"]) == 0
    with np.load(out) as z:
        assert z["gradmaps"].shape[-1] == 10                       # 100 ms at 10 ms per frame
        assert z["lags_ms"][0] == -90.0


def test_gradmap_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    assert main(["gradmap", str(tmp_path / "missing"), "--out", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("strfviewer gradmap: error:") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.npz").exists()


def test_gradmap_without_axes_metadata_warns_and_falls_back(tmp_path, capsys):
    torch.manual_seed(3)
    ckpt = save_checkpoint(LinearNonlinear(F, 3, out_neurons=N), tmp_path / "bare")
    out = tmp_path / "bare.npz"
    assert main(["gradmap", str(ckpt), "--out", str(out)]) == 0
    assert "no band frequencies" in capsys.readouterr().err
    with np.load(out) as z:
        assert np.isnan(z["freqs_hz"]).all() and list(z["neuron_names"])[0] == "neuron 0"


def test_dream_writes_stimuli_and_response_curves(ln_checkpoint, tmp_path):
    out = tmp_path / "dream.npz"
    assert main(["dream", str(ln_checkpoint), "--neurons", "0,3", "--steps", "30", "--out", str(out),
                 "--clamp", "-1", "1", "--l2", "0.1", "--quiet"]) == 0
    with np.load(out, allow_pickle=False) as z:
        assert z["stimulus"].shape == (2, 1, F, 6) and z["responses"].shape == (31, 2)
        assert list(z["neurons"]) == [0, 3] and list(z["neuron_names"]) == ["cell0", "cell3"]
        assert z["stimulus"].min() >= -1 and z["stimulus"].max() <= 1
        assert (z["responses"][-1] > z["responses"][0]).all()
        settings = json.loads(str(z["settings"]))
        assert settings["steps"] == 30 and settings["l2"] == 0.1 and settings["clamp"] == [-1.0, 1.0]
        assert not bool(z["population"]) and not bool(z["cancelled"])


def test_dream_population_and_init_from_file(ln_checkpoint, tmp_path):
    init = tmp_path / "init.npy"
    np.save(init, np.full((F, 8), 0.2, dtype=np.float32))
    out = tmp_path / "pop.npz"
    assert main(["dream", str(ln_checkpoint), "--population", "--steps", "5", "--init", str(init),
                 "--out", str(out), "--quiet"]) == 0
    with np.load(out) as z:
        assert z["stimulus"].shape == (1, 1, F, 8) and bool(z["population"]) and len(z["neurons"]) == N
    assert main(["dream", str(ln_checkpoint), "--init", str(init), "-T", "5", "--out", str(out), "--quiet"]) == 2


@pytest.mark.parametrize("argv, message", [
    (["--neurons", "0,9"], "--neurons"),
    (["--clamp", "3", "1"], "--clamp"),
    (["--init", "pink"], "--init"),
    (["--steps", "-1"], "--steps"),
])
def test_dream_bad_arguments(ln_checkpoint, tmp_path, capsys, argv, message):
    out = tmp_path / "bad.npz"
    assert main(["dream", str(ln_checkpoint), "--out", str(out), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_dream_clamp_data_is_in_the_model_input_domain(tmp_path, capsys):
    """--clamp-data loads DATA with the checkpoint's front-end: z-scored with the fit's statistics (here mean 5,
    std 3 per band) and its split, not with DATA's own train statistics."""
    from strfviewer.data import NeuralDataset, Stimulus, save_npz

    rng = np.random.default_rng(0)
    names = [f"s{i}" for i in range(4)]
    stimuli = [Stimulus(n, (5.0 + 3.0 * rng.standard_normal((1, F, 40)) * (i + 1)).astype(np.float32),
                        rng.poisson(1.0, (N, 2, 40)).astype(np.float32)) for i, n in enumerate(names)]
    data = save_npz(NeuralDataset(stimuli, NAMES, FREQS, 5.0), tmp_path / "raw.npz")
    split = {"s0": "val", "s1": "test", "s2": "train", "s3": "train"}
    frontend = {"normalization": {"kind": "zscore", "mean": [5.0] * F, "std": [3.0] * F}}
    torch.manual_seed(0)
    ckpt = _save(LinearNonlinear(F, 6, out_neurons=N), tmp_path / "ln", frontend=frontend,
                 dataset={"split": split})
    out = tmp_path / "d.npz"
    assert main(["dream", str(ckpt), "--steps", "2", "--clamp-data", str(data), "--out", str(out), "--quiet"]) == 0
    train = np.concatenate([(s.spec - 5.0) / 3.0 for s in stimuli[2:]], axis=-1)
    with np.load(out) as z:
        np.testing.assert_allclose(json.loads(str(z["settings"]))["clamp"], [train.min(), train.max()], rtol=1e-5)


@pytest.mark.parametrize("prefilter, channels", [("AdapTrans", ["ON", "OFF"]), ("ICAdaptation", ["prefiltered"])])
def test_gradmap_of_a_prefiltered_model_defaults_to_per_channel_maps(tmp_path, capsys, prefilter, channels):
    """The raw map of a rectifying prefilter is zero at silence: the default writes the per-channel maps, on
    the readout's STRF window (model.T, not the prefilter's reach), and says so; --raw keeps the raw map."""
    torch.manual_seed(3)
    model = LinearNonlinear(F, 5, out_neurons=N, prefiltering=make_prefiltering(prefilter, F, kernel_size=12))
    ckpt = _save(model, tmp_path / "pre")
    out = tmp_path / "g.npz"
    assert main(["gradmap", str(ckpt), "--out", str(out)]) == 0
    assert "per-channel" in capsys.readouterr().err
    model, _ = load_checkpoint(ckpt)
    with np.load(out) as z:
        assert list(z["channels"]) == channels and z["gradmaps"].shape == (N, len(channels), F, 5)
        assert np.abs(z["gradmaps"]).max() > 0
        np.testing.assert_array_equal(z["gradmaps"], strf_gradmap(model, T=5, per_channel=True).numpy())
        np.testing.assert_allclose(z["lags_ms"], [-20, -15, -10, -5, 0])
    assert main(["gradmap", str(ckpt), "--out", str(out), "--raw"]) == 0
    assert "zero" in capsys.readouterr().err
    with np.load(out) as z:
        assert list(z["channels"]) == ["spectrogram"] and z["gradmaps"].shape[:2] == (N, 1)
        assert z["gradmaps"].shape[-1] > 5 and not np.any(z["gradmaps"])
    with pytest.raises(SystemExit):
        main(["gradmap", str(ckpt), "--out", str(out), "--raw", "--per-channel"])
