"""Every registered waveform front-end through the CLI as a user runs it: ``fit demo --frontend NAME`` (ridge for a
fixed front-end, SGD for a learnable one), ``gradmap --waveform`` with WAVs, ``export``; the demo's STRFs
recovered through deepSTRF front-ends; and the issue's bad inputs as one-line errors naming the value.

The CLI runs on a small demo (5 stimuli, 4 neurons: ``make_demo`` patched) so that each front-end takes a few
seconds."""

from __future__ import annotations

import dataclasses
import functools
import json

import numpy as np
import pytest
import soundfile as sf

import strfviewer.data.demo as demo_module
from strfviewer.cli import main
from strfviewer.data.demo import make_demo
from strfviewer.data.waveforms import framed_audio
from strfviewer.fit.run import FitRequest, run_fit
from strfviewer.models import registry
from strfviewer.models.factory import ModelSpec

#: (CLI name, registered name, band-count argument, sample-rate argument, f_max argument, fixed?)
FRONT_ENDS = [
    ("CausalMel", "CausalMel", "n_mels", "audio_fs", "f_max", True),
    ("Gammatone", "Gammatone", "n_filters", "audio_fs", "f_max", True),
    ("Gammatonegram", "Gammatonegram", "n_filters", "audio_fs", "f_max", True),
    ("LEAF", "LEAF", "n_filters", "audio_fs", "f_max", False),
    ("SincNet", "SincNet", "n_filters", "audio_fs", "f_max", False),
    ("gabor", "GaborFilterbank", "n_bands", "sample_rate", "f_max_hz", False),
]
IDS = [f[0] for f in FRONT_ENDS]


def test_the_table_covers_every_registered_front_end():
    assert sorted(f[1] for f in FRONT_ENDS) == sorted(registry.names("frontend"))


@pytest.fixture
def small_demo(monkeypatch):
    """``demo`` on the command line is a 5-stimulus, 4-neuron demo for the duration of the test."""
    monkeypatch.setattr(demo_module, "make_demo", functools.partial(make_demo, n_stimuli=5, n_neurons=4))


@pytest.mark.parametrize("cli,name,bands,rate,fmax,fixed", FRONT_ENDS, ids=IDS)
def test_fit_gradmap_export_through_the_cli(small_demo, tmp_path, capsys, cli, name, bands, rate, fmax, fixed):
    ckpt = tmp_path / "fit"
    method = ["--method", "ridge"] if fixed else ["--epochs", "1", "--frontend-lr", "0.01"]
    assert main(["fit", "demo", "--frontend", cli, *method, "--bands", "16", "--out", str(ckpt), "--quiet",
                 "--no-history", "--threads", "1"]) == 0
    config = json.loads((ckpt / "config.json").read_text())
    kwargs = config["wav2spec"]["kwargs"]
    assert config["wav2spec"]["name"] == name and kwargs[bands] == 16 and kwargs[rate] == 16000
    assert kwargs["normalize"] is True
    meta = json.loads((ckpt / "metadata.json").read_text())
    assert meta["frontend"]["hop"] == 80 and len(meta["freqs_hz"]) == 16

    npz, wavs = tmp_path / "wg.npz", tmp_path / "wavs"
    assert main(["gradmap", str(ckpt), "--waveform", "--data", "demo", "--stimulus", "song02", "--out", str(npz),
                 "--wav-dir", str(wavs), "--quiet"]) == 0
    stim = make_demo(n_stimuli=5, n_neurons=4).dataset.stimulus("song02")
    with np.load(npz) as z:
        maps = z["waveform_gradmaps"]
        assert maps.shape == (4, stim.n_frames * 80) and np.all(np.isfinite(maps))
        assert z["waveform_gradmap_spectrograms"].shape == (4, 16, stim.n_frames)
        for m, at in zip(maps, z["at_ms"]):           # causal: nothing after the bin (FFT rounding aside)
            end = (int(at // 5) + 1) * 80
            assert np.abs(m[end:]).max(initial=0.0) <= 1e-6 * np.abs(m[:end]).max() and np.any(m[:end])
    assert len(list(wavs.glob("*.wav"))) == 5                             # 4 neurons + the population
    x, sr = sf.read(next(wavs.glob("000_*.wav")), dtype="float32")
    assert sr == 16000 and np.all(np.isfinite(x)) and np.max(np.abs(x)) > 0.5

    out = tmp_path / "export.npz"
    assert main(["export", str(ckpt), "demo", "--npz", str(out), "--quiet"]) == 0
    with np.load(out) as z:
        assert z["gradmaps"].shape[:3] == (4, 1, 16)
        for pred, frames in zip(z["predictions"], z["stimulus_frames"]):
            assert np.all(np.isfinite(pred[:, :frames])) and np.std(pred[:, :frames]) > 0


@pytest.mark.parametrize("name,kwargs,epochs", [
    ("CausalMel", {}, 0), ("SincNet", {}, 2), ("GaborFilterbank", {"learnable": True}, 3)])
def test_the_demo_best_frequencies_are_recovered_through_a_front_end(name, kwargs, epochs):
    """Linear on the demo's audio through a front-end (deepSTRF's CausalMel fixed, ridge; SincNet and the Gabor
    filterbank learnable: ridge warm start on the front-end's spectrograms, then SGD on audio batches): the band
    of each neuron's STRF peak, at the front-end's centre frequencies, lies within half an octave of its true
    best frequency for most neurons (an unfitted model gets about a third)."""
    demo = make_demo()
    spec = ModelSpec("Linear", T=15, frontend=name, frontend_kwargs=kwargs)
    request = FitRequest(spec=spec, method="ridge", num_threads=1) if epochs == 0 else \
        FitRequest(spec=spec, epochs=epochs, patience=None, num_threads=1)
    out = run_fit(demo.dataset, request)
    strfs = out.model.readout.strf.STRF_weight().detach().numpy()[:, 0]      # (N, F, T)
    centres = out.model.wav2spec.center_frequencies().detach().numpy()
    fitted_bf = centres[np.argmax(strfs.max(axis=2), axis=1)]
    true_bf = np.array([m["best_frequency_hz"] for m in demo.dataset.neuron_metadata])
    octaves = np.abs(np.log2(fitted_bf / true_bf))
    assert np.mean(octaves <= 0.5) >= 0.75, np.round(octaves, 2)
    assert out.metrics["test"].mean_cc_norm > 0.6


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("cli,name,bands,rate,fmax,fixed", FRONT_ENDS, ids=IDS)
def test_bad_front_end_inputs_are_one_line_errors(small_demo, tmp_path, capsys, cli, name, bands, rate, fmax,
                                                  fixed):
    label = registry.entry("frontend", name).name
    fit = ["fit", "demo", "--frontend", cli, "--out", str(tmp_path / "o"), "--no-history", "--quiet"]
    assert main([*fit, "--bands", "34", "--frontend-arg", f"{bands}=20"]) == 2
    assert f"front-end {label} has 20 bands ({bands}=20) but the model has F=34 bands" in _one_line(capsys)
    assert main([*fit, "--frontend-arg", f"{rate}=8000", "--frontend-arg", f"{fmax}=6000"]) == 2
    assert f"sample rate 8000 Hz is below twice {fmax}=6000 Hz" in _one_line(capsys)
    assert main([*fit, "--frontend-arg", f"{rate}=16010"]) == 2              # 5 ms = 80.05 samples
    assert "=5 is 80.05 samples at" in _one_line(capsys)


@pytest.mark.parametrize("cli", IDS)
def test_frontend_on_an_npz_of_spectrograms_is_refused(tmp_path, capsys, cli):
    from strfviewer.data.npz import save_npz

    ds = make_demo(n_stimuli=3, n_neurons=2).dataset
    path = save_npz(dataclasses.replace(ds, stimuli=[dataclasses.replace(s, waveform=None) for s in ds.stimuli]),
                    tmp_path / "specs.npz")
    assert main(["fit", str(path), "--frontend", cli, "--out", str(tmp_path / "o"), "--no-history"]) == 2
    err = _one_line(capsys)
    assert f"--frontend {cli} needs the stimuli's audio, but this is an NPZ of spectrograms" in err
    assert str(path) in err


@pytest.mark.parametrize("cli,name,bands,rate,fmax,fixed", FRONT_ENDS, ids=IDS)
def test_a_stimulus_shorter_than_one_frame_is_refused(tmp_path, capsys, cli, name, bands, rate, fmax, fixed):
    """An NPZ whose stimulus 'click' holds 50 samples (3.1 ms at 16 kHz) against 5 ms frames."""
    from strfviewer.data.npz import save_npz

    ds = make_demo(n_stimuli=3, n_neurons=2).dataset
    click = dataclasses.replace(ds.stimuli[0], name="click", waveform=np.full(50, 0.1, np.float32),
                                spec=ds.stimuli[0].spec[..., :1], responses=ds.stimuli[0].responses[..., :1])
    path = save_npz(dataclasses.replace(ds, stimuli=[*ds.stimuli, click], split={**ds.split, "click": "train"}),
                    tmp_path / "short.npz")
    assert main(["fit", str(path), "--frontend", cli, "--out", str(tmp_path / "o"), "--no-history",
                 "--quiet"]) == 2
    assert "stimulus 'click' is 50 samples long at 16000 Hz, shorter than one frame (80 samples)" in \
        _one_line(capsys)
    with pytest.raises(ValueError, match="shorter than one frame"):
        framed_audio(click, 16000, 80)
