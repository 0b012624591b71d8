"""`strfviewer export CHECKPOINT DATA --figure/--csv/--npz` on the demo data."""

from __future__ import annotations

import csv
import struct
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch

from strfviewer.cli import main
from strfviewer.data import load
from strfviewer.io.checkpoints import save_checkpoint
from strfviewer.models import LinearNonlinear


@pytest.fixture(scope="module")
def demo():
    return load("demo")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, demo):
    torch.manual_seed(0)
    model = LinearNonlinear(demo.n_freqs, 5, out_neurons=demo.n_neurons)
    meta = {"freqs_hz": demo.freqs_hz.tolist(), "dt_ms": demo.dt_ms, "neuron_names": list(demo.neuron_names)}
    return save_checkpoint(model, tmp_path_factory.mktemp("ckpt") / "ln", metadata=meta)


def test_csv_and_npz(checkpoint, demo, tmp_path):
    from strfviewer.analysis.gradmaps import strf_gradmap
    from strfviewer.fit.run import predict
    from strfviewer.io.checkpoints import load_checkpoint

    out_csv, out_npz = tmp_path / "m.csv", tmp_path / "r.npz"
    assert main(["export", str(checkpoint), "demo", "--csv", str(out_csv), "--npz", str(out_npz), "--quiet"]) == 0
    rows = list(csv.DictReader(open(out_csv)))
    assert [r["name"] for r in rows] == list(demo.neuron_names)
    assert {"test_cc_norm", "val_cc", "n_spikes"} <= set(rows[0])
    model, _ = load_checkpoint(checkpoint)
    expected = predict(model.eval(), demo, "cpu")
    with np.load(out_npz, allow_pickle=False) as z:
        names = list(z["stimulus_names"])
        k = names.index(demo.stimuli[3].name)
        T = int(z["stimulus_frames"][k])
        np.testing.assert_allclose(z["predictions"][k, :, :T], expected[demo.stimuli[3].name], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(z["recorded_psth"][k, :, :T], demo.stimuli[3].psth(), rtol=1e-6)
        np.testing.assert_allclose(z["gradmaps"], strf_gradmap(model).numpy(), rtol=1e-5, atol=1e-7)
        assert list(z["neuron_names"]) == list(demo.neuron_names)
        assert z["lags_ms"][-1] == 0.0 and float(z["dt_ms"]) == demo.dt_ms
        np.testing.assert_allclose(z["freqs_hz"], demo.freqs_hz)


def test_figures_png_svg_pdf(checkpoint, demo, tmp_path, capsys):
    png, svg, pdf = tmp_path / "f.png", tmp_path / "f.svg", tmp_path / "f.pdf"
    name = demo.neuron_names[4]
    assert main(["export", str(checkpoint), "demo", "--figure", str(png), "--dpi", "50", "--size", "8,5",
                 "--neuron", name]) == 0
    assert f"wrote {png}" in capsys.readouterr().err
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (400, 250)
    assert main(["export", str(checkpoint), "demo", "--figure", str(svg), "--neuron", "4", "--quiet"]) == 0
    root = ET.parse(svg).getroot()
    text = " ".join(t for el in root.iter() if el.tag.endswith("text") for t in el.itertext())
    for label in (name, "time (ms)", "lag (ms)", "spikes / bin"):
        assert label in text
    assert main(["export", str(checkpoint), "demo", "--figure", str(pdf), "--quiet"]) == 0
    assert pdf.read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize("extra, message", [
    ([], "nothing to export"),
    (["--figure", "x.bmp"], "--figure x.bmp: expected a .png or .svg or .pdf file"),
    (["--csv", "m.txt"], "--csv m.txt: expected a .csv file"),
    (["--npz", "nowhere/r.npz"], "folder nowhere does not exist"),
    (["--csv", "m.csv", "--size", "9"], "--size"),
    (["--figure", "f.png", "--neuron", "nobody"], "no neuron of that name"),
    (["--figure", "f.png", "--stimulus", "nothing"], "no stimulus of that name"),
])
def test_bad_arguments_are_one_line_errors(checkpoint, tmp_path, capsys, monkeypatch, extra, message):
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(checkpoint), "demo", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_model_that_does_not_fit_the_data(demo, tmp_path, capsys):
    other = save_checkpoint(LinearNonlinear(demo.n_freqs, 5, out_neurons=3), tmp_path / "small")
    assert main(["export", str(other), "demo", "--csv", str(tmp_path / "m.csv")]) == 2
    err = capsys.readouterr().err
    assert "3 neurons" in err and str(other) in err
    assert not (tmp_path / "m.csv").exists()


@pytest.fixture(scope="module")
def raw_npz(tmp_path_factory):
    """A tiny NPZ whose spectrograms are not z-scored yet (loading z-scores them with train statistics)."""
    import dataclasses

    from strfviewer.data import make_demo, save_npz

    data = make_demo(seed=1, n_neurons=3, n_stimuli=8, n_trials=4).dataset
    stimuli = [dataclasses.replace(s, spec=(3.0 * s.spec + 5.0).astype(np.float32)) for s in data.stimuli]
    frontend = {k: v for k, v in data.frontend.items() if k != "normalization"}
    raw = dataclasses.replace(data, stimuli=stimuli, frontend=frontend)
    return save_npz(raw, tmp_path_factory.mktemp("npz") / "raw.npz")


def test_csv_of_a_fitted_folder_on_its_own_data_equals_its_metrics_json(raw_npz, tmp_path):
    """export loads the data with the checkpoint's front-end and split (here a non-default --split)."""
    import json

    out = tmp_path / "fit"
    assert main(["fit", str(raw_npz), "--method", "ridge", "-T", "4", "--split", "0.5,0.25,0.25",
                 "--out", str(out), "--quiet"]) == 0
    assert main(["export", str(out), str(raw_npz), "--csv", str(tmp_path / "m.csv"), "--quiet"]) == 0
    saved = json.loads((out / "metrics.json").read_text())
    rows = list(csv.DictReader(open(tmp_path / "m.csv")))
    for part in ("train", "val", "test"):
        for key in ("cc", "cc_norm"):
            expected = np.array([np.nan if v is None else v for v in saved[part][key]], dtype=float)
            got = np.array([float(r[f"{part}_{key}"]) if r[f"{part}_{key}"] else np.nan for r in rows])
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6, err_msg=f"{part} {key}")


def test_npz_data_are_z_scored_with_the_checkpoint_statistics(raw_npz):
    """A checkpoint's front-end statistics apply to NPZ data too (not the NPZ's own train statistics)."""
    F = load(raw_npz).n_freqs
    frontend = {"normalization": {"kind": "zscore", "mean": [5.0] * F, "std": [3.0] * F}}
    plain = load(raw_npz, normalize=None)
    scaled = load(raw_npz, frontend=frontend, split=(0.5, 0.25, 0.25))
    for a, b in zip(plain.stimuli, scaled.stimuli):
        np.testing.assert_allclose(b.spec, (a.spec - 5.0) / 3.0, rtol=1e-5, atol=1e-5)


def test_a_prefiltered_model_exports_its_per_channel_gradmaps(demo, tmp_path, capsys):
    """The raw map of an AdapTrans model is zero at silence: export writes (and draws) the ON/OFF maps."""
    from strfviewer.models import make_prefiltering

    torch.manual_seed(0)
    pre = make_prefiltering("AdapTrans", demo.n_freqs, kernel_size=3)
    ckpt = save_checkpoint(LinearNonlinear(demo.n_freqs, 5, out_neurons=demo.n_neurons, prefiltering=pre),
                           tmp_path / "adaptrans")
    out = tmp_path / "r.npz"
    assert main(["export", str(ckpt), "demo", "--npz", str(out), "--figure", str(tmp_path / "f.svg")]) == 0
    assert "per-channel" in capsys.readouterr().err
    with np.load(out) as z:
        assert z["gradmaps"].shape == (demo.n_neurons, 2, demo.n_freqs, 5) and np.abs(z["gradmaps"]).max() > 0
        assert list(z["channels"]) == ["ON", "OFF"] and len(z["lags_ms"]) == 5
    texts = " ".join(t for el in ET.parse(tmp_path / "f.svg").getroot().iter() if el.tag.endswith("text")
                     for t in el.itertext())
    assert "ON" in texts and "OFF" in texts
    assert main(["export", str(ckpt), "demo", "--npz", str(out), "--raw", "--quiet"]) == 0
    with np.load(out) as z:
        assert list(z["channels"]) == ["spectrogram"] and not np.any(z["gradmaps"])
