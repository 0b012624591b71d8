"""`strfviewer fit --frontend` and `strfviewer gradmap --waveform`: checkpoints that keep their front-end, the
NPZ and WAV outputs, and one-line errors naming the bad value."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import soundfile as sf

from strfviewer.analysis.gradmaps import waveform_gradmap
from strfviewer.analysis.waveform_rf import LISTEN_PEAK, stimulus_waveform_gradmaps
from strfviewer.cli import main
from strfviewer.data.demo import make_demo
from strfviewer.data.waveforms import framed_audio
from strfviewer.io.checkpoints import load_checkpoint


@pytest.fixture(scope="module")
def wave_ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("wave") / "fit"
    assert main(["fit", "demo", "--frontend", "gabor", "--frontend-arg", "learnable=false", "--method", "ridge",
                 "--out", str(out), "--quiet", "--no-history", "--threads", "1"]) == 0
    return out


def test_the_checkpoint_keeps_its_front_end(wave_ckpt):
    config = json.loads((wave_ckpt / "config.json").read_text())
    assert config["wav2spec"]["name"] == "GaborFilterbank"
    assert config["wav2spec"]["kwargs"]["sample_rate"] == 16000 and config["wav2spec"]["kwargs"]["dt_ms"] == 5.0
    meta = json.loads((wave_ckpt / "metadata.json").read_text())
    assert meta["frontend"]["mode"] == "waveform" and meta["frontend"]["hop"] == 80
    assert meta["spec"]["frontend"] == "GaborFilterbank" and len(meta["freqs_hz"]) == 34
    model, _ = load_checkpoint(wave_ckpt)
    assert model.is_wav_native and not any(p.requires_grad for p in model.wav2spec.parameters())
    np.testing.assert_allclose(meta["freqs_hz"], model.wav2spec.center_frequencies().numpy(), rtol=1e-6)


def test_waveform_gradmap_npz_and_wavs(wave_ckpt, tmp_path, capsys):
    out, wavs = tmp_path / "wg.npz", tmp_path / "wavs"
    assert main(["gradmap", str(wave_ckpt), "--waveform", "--data", "demo", "--stimulus", "song02",
                 "--neurons", "0,3", "--out", str(out), "--wav-dir", str(wavs)]) == 0
    assert "2 waveform gradmap(s) around 'song02'" in capsys.readouterr().err
    model, _ = load_checkpoint(wave_ckpt)
    stim = make_demo().dataset.stimulus("song02")
    wave = framed_audio(stim, 16000, 80)
    with np.load(out, allow_pickle=False) as z:
        maps = z["waveform_gradmaps"]
        assert maps.shape == (2, wave.size) and maps.dtype == np.float32 and int(z["sample_rate"]) == 16000
        assert list(z["neurons"]) == [0, 3] and str(z["stimulus"]) == "song02" and str(z["reduce"]) == "last"
        assert z["waveform_gradmap_spectrograms"].shape == (2, 34, stim.n_frames)
        assert z["population_waveform_gradmap"].shape == (wave.size,)
        # default time: each neuron's peak predicted response; the map there is deepSTRF's 'last' map
        at = z["at_ms"]
        frames = (at / 5.0).astype(int)
        np.testing.assert_array_equal(frames, np.argmax(z["predicted_responses"], axis=1))
        for i, n in enumerate([0, 3]):
            ref = waveform_gradmap(model, wave[: (frames[i] + 1) * 80], neuron=n, reduce="last").numpy()
            np.testing.assert_allclose(maps[i, : ref.size], ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max())
            assert not np.any(maps[i, (frames[i] + 1) * 80:])          # nothing after the bin reaches it
        names = list(z["neuron_names"])
    files = sorted(p.name for p in wavs.iterdir())
    assert files == [f"000_{names[0]}.wav", f"003_{names[1]}.wav", "population.wav"]
    x, rate = sf.read(wavs / files[0], dtype="float32")
    assert rate == 16000 and 0 < x.size <= wave.size
    assert np.max(np.abs(x)) == pytest.approx(LISTEN_PEAK, abs=1e-3)     # -3 dBFS
    assert abs(x[0]) < 1e-2 * LISTEN_PEAK and abs(x[-1]) < 1e-2 * LISTEN_PEAK   # faded in and out


def test_at_ms_and_reduce(wave_ckpt, tmp_path):
    out = tmp_path / "at.npz"
    assert main(["gradmap", str(wave_ckpt), "--waveform", "--data", "demo", "--stimulus", "song01", "--at-ms",
                 "502", "--reduce", "sum", "--neurons", "1", "--out", str(out), "--quiet"]) == 0
    model, _ = load_checkpoint(wave_ckpt)
    wave = framed_audio(make_demo().dataset.stimulus("song01"), 16000, 80)
    ref = stimulus_waveform_gradmaps(model, wave, [1], at_ms=502, reduce="sum", spectrograms=False)
    with np.load(out) as z:
        assert list(z["at_ms"]) == [500.0]
        np.testing.assert_allclose(z["waveform_gradmaps"], ref.maps, rtol=1e-5, atol=1e-9)
        assert not np.any(z["waveform_gradmaps"][0, 101 * 80:]) and np.any(z["waveform_gradmaps"][0, :100 * 80])


@pytest.mark.parametrize("argv,message", [
    (["--waveform", "--data", "demo", "--stimulus", "nope"], "--stimulus 'nope': no stimulus of that name in demo"),
    (["--waveform", "--data", "demo", "--stimulus", "song01", "--at-ms", "99999"], "--at-ms 99999: outside"),
    (["--waveform", "--data", "demo", "--stimulus", "song01", "--neurons", "40"], "--neurons '40'"),
    (["--waveform", "--data", "demo"], "--waveform needs --stimulus"),
    (["--stimulus", "song01"], "--stimulus applies to waveform gradmaps: add --waveform"),
    (["--reduce", "sum"], "--reduce applies to waveform gradmaps: add --waveform"),
    (["--units", "3"], "--units applies to waveform gradmaps: add --waveform"),
    (["--waveform", "--data", "demo", "--stimulus", "song01", "--clusters", "good"], "not to the demo"),
    (["--waveform", "--data", "demo", "--stimulus", "song01", "--readout", "peak"],
     "--readout applies to spectrogram gradmaps, not to --waveform"),
    (["--waveform", "--data", "demo", "--stimulus", "song01", "-T", "5"], "-T applies to spectrogram gradmaps"),
    (["--waveform", "--data", "demo", "--stimulus", "song01", "--per-channel"], "--per-channel/--raw applies"),
    (["--waveform", "--data", "demo", "--stimulus", "song01", "--wav-dir", __file__], "is a file, not a folder"),
])
def test_gradmap_errors_are_one_line(wave_ckpt, tmp_path, capsys, argv, message):
    assert main(["gradmap", str(wave_ckpt), "--out", str(tmp_path / "x.npz"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_waveform_gradmap_of_a_spectrogram_model_is_refused(tmp_path, capsys):
    ckpt = tmp_path / "spec"
    assert main(["fit", "demo", "--method", "ridge", "--out", str(ckpt), "--quiet", "--no-history"]) == 0
    assert main(["gradmap", str(ckpt), "--waveform", "--data", "demo", "--stimulus", "song01",
                 "--out", str(tmp_path / "x.npz")]) == 2
    assert "takes spectrograms; --waveform needs a model fitted on raw audio" in capsys.readouterr().err


@pytest.fixture
def spectrogram_npz(tmp_path):
    import dataclasses

    from strfviewer.data.npz import save_npz

    ds = make_demo(n_stimuli=4).dataset
    ds = dataclasses.replace(ds, stimuli=[dataclasses.replace(s, waveform=None) for s in ds.stimuli])
    return save_npz(ds, tmp_path / "specs.npz")


@pytest.mark.parametrize("extra,message", [
    (["--frontend-arg", "n_bands=20", "--bands", "34"], "has 20 bands (n_bands=20) but the model has F=34"),
    (["--frontend-arg", "sample_rate=8000", "--frontend-arg", "f_max_hz=6000"],
     "sample rate 8000 Hz is below twice f_max_hz=6000 Hz"),
    (["--frontend-arg", "dt_ms=10"], "dt_ms=10 ms differs from the data's frame step 5 ms"),
])
def test_fit_front_end_errors_are_one_line(tmp_path, capsys, extra, message):
    assert main(["fit", "demo", "--frontend", "gabor", *extra, "--out", str(tmp_path / "o"), "--no-history"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and "Traceback" not in "\n".join(err)


def test_fit_frontend_on_an_npz_of_spectrograms(spectrogram_npz, tmp_path, capsys):
    assert main(["fit", str(spectrogram_npz), "--frontend", "gabor", "--out", str(tmp_path / "o"),
                 "--no-history", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--frontend gabor needs the stimuli's audio, but this is an NPZ of spectrograms" in err
    assert str(spectrogram_npz) in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("argv,message", [
    (["--frontend", "nope"], "unknown front-end 'nope'"),
    (["--frontend-lr", "0.1"], "--frontend-arg and --frontend-lr need --frontend NAME"),
    (["--frontend", "gabor", "--frontend-lr", "-1"], "frontend_lr must be > 0"),
])
def test_fit_front_end_option_errors(tmp_path, capsys, argv, message):
    assert main(["fit", "demo", *argv, "--out", str(tmp_path / "o"), "--no-history"]) == 2
    assert message in capsys.readouterr().err


def test_export_reopens_a_waveform_checkpoint_and_scores_it_on_audio(tmp_path, monkeypatch):
    ckpt = tmp_path / "g20"
    assert main(["fit", "demo", "--frontend", "gabor", "--frontend-arg", "learnable=false", "--frontend-arg",
                 "n_bands=20", "--method", "ridge", "--out", str(ckpt), "--quiet", "--no-history"]) == 0
    out = tmp_path / "e.npz"
    figure_panels, figure = [], []
    if importlib.util.find_spec("PySide6") is not None:  # the figure's panels, without drawing it
        from strfviewer.gui.exporting import figures

        monkeypatch.setattr(figures, "save_figure", lambda panels, path, **kw: figure_panels.append(panels) or path)
        figure = ["--figure", str(tmp_path / "f.png")]
    assert main(["export", str(ckpt), "demo", "--npz", str(out), *figure, "--quiet"]) == 0
    meta = json.loads((ckpt / "metadata.json").read_text())
    for panels in figure_panels:    # the gradmap panel on the model's 20 bands, the spectrogram on the data's
        assert panels.gradmap.shape[1] == 20 and panels.spec.shape[0] == 34
        np.testing.assert_allclose(panels.gradmap_freqs_hz, meta["freqs_hz"])
    with np.load(out) as z:
        assert z["gradmaps"].shape == (12, 1, 20, 15)              # the model's 20 bands, not the data's 34
        np.testing.assert_allclose(z["freqs_hz"], meta["freqs_hz"])
        for pred, frames in zip(z["predictions"], z["stimulus_frames"]):      # (N, T_max), NaN-padded
            assert np.all(np.isfinite(pred[:, :frames])) and np.std(pred[:, :frames]) > 0
