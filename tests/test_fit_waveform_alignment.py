"""Fitting on raw audio whatever the audio's rate: a frame-aligned front-end rate chosen from the data, frame k
lined up with response bin k, the per-band normalisation a fit stores in its front-end, and the ridge warm start
of a spec whose front-end arguments were not filled in."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from strfviewer.data.audio import resample
from strfviewer.data.demo import make_demo
from strfviewer.data.waveforms import framed_audio
from strfviewer.fit.run import FitRequest, predict, run_fit
from strfviewer.io.checkpoints import load_checkpoint
from strfviewer.models.factory import ModelSpec
from strfviewer.models.frontend_args import frontend_kwargs
from strfviewer.models.frontends import GaborFilterbank
from strfviewer.models.wav2spec import CausalMelSpectrogram
from strfviewer.models.wav2spec._common import frame_aligned_rate


@pytest.fixture(scope="module")
def demo():
    return make_demo(n_stimuli=6)


def _at_rate(dataset, rate):
    """The dataset with every stimulus' audio resampled to ``rate`` Hz (same durations, same responses)."""
    stimuli = [dataclasses.replace(s, waveform=resample(s.waveform, s.sample_rate, rate), sample_rate=rate)
               for s in dataset.stimuli]
    return dataclasses.replace(dataset, stimuli=stimuli)


@pytest.mark.parametrize("rate,dt_ms,expected", [
    (16000, 5.0, 16000), (22050, 5.0, 22200), (44100, 5.0, 44200), (32000, 1.0, 32000), (22050, 3.3, 30000),
    (11025, 2.5, 11200), (8000, 0.1, 10000),
])
def test_the_front_end_rate_is_the_next_frame_aligned_one(rate, dt_ms, expected):
    got = frame_aligned_rate(rate, dt_ms)
    assert got == expected
    hop = got * dt_ms / 1000.0
    assert abs(hop - round(hop)) < 1e-9                                  # a whole number of samples per frame
    step = frame_aligned_rate(1, dt_ms)                                  # the smallest aligned rate
    assert got - step < rate                                             # nothing aligned between rate and got


def test_data_at_22050_hz_fits_through_a_front_end_at_22200_hz(demo):
    data = _at_rate(demo.dataset, 22050)
    kwargs = frontend_kwargs("CausalMel", {}, 22050, 5.0)
    assert kwargs["audio_fs"] == 22200
    out = run_fit(data, FitRequest(spec=ModelSpec("Linear", T=15, frontend="CausalMel"), method="ridge",
                                   num_threads=1))
    fe = out.model.wav2spec
    assert (fe.sample_rate, fe.hop) == (22200, 111)
    assert "audio resampled from 22050 Hz to 22200 Hz for front-end CausalMel: a 5 ms frame is 110.25 " \
           "samples at 22050 Hz, 111 at 22200 Hz" in out.message
    for s in data.stimuli:                                               # one prediction per response bin
        assert out.predictions[s.name].shape == (12, s.n_frames)
    assert out.metrics["test"].mean_cc_norm > 0.5


def test_frame_k_is_response_bin_k_after_resampling():
    """A click at 502.3 ms in 22050 Hz audio first shows in frame floor(502.3 / 5) = 100 of the front-end's
    output, as in the response bin [500, 505) ms; the audio is padded to the responses' ceil(duration / dt)
    frames, so a stimulus 1003.1 ms long gives 201 frames, not the 200 whole frames the audio holds."""
    rate = 22050
    audio = np.zeros(int(round(1.0031 * rate)), np.float32)
    audio[int(round(0.5023 * rate))] = 1.0
    stim = make_demo(n_stimuli=1).dataset.stimuli[0]
    stim = dataclasses.replace(stim, waveform=audio, sample_rate=rate,
                               responses=np.zeros((1, 1, 201), np.float32))
    fe = CausalMelSpectrogram(audio_fs=frame_aligned_rate(rate, 5.0), n_mels=8, f_max=8000.0)
    wave = framed_audio(stim, fe.sample_rate, fe.hop)
    assert wave.shape == (201 * 111,)
    with torch.no_grad():
        spec = fe(torch.as_tensor(wave).view(1, 1, -1))[0, 0].numpy()  # (F, T) log amplitude
    assert spec.shape[-1] == 201
    energy = np.exp(spec).sum(axis=0)
    assert int(np.argmax(energy > 0.1 * energy.max())) == 100


def test_a_forced_misaligned_rate_is_refused_by_every_front_end():
    with pytest.raises(ValueError, match=r"hop_ms=5 is 110.25 samples at audio_fs=22050; .* e\.g\. audio_fs=22200"):
        CausalMelSpectrogram(audio_fs=22050)
    with pytest.raises(ValueError, match=r"dt_ms=5 is 110.25 samples at sample_rate=22050"):
        GaborFilterbank(sample_rate=22050, f_max_hz=8000.0)


def test_a_default_band_limit_above_nyquist_is_lowered():
    kwargs = frontend_kwargs("GaborFilterbank", {}, 11025, 5.0)
    assert kwargs["sample_rate"] == 11200 and kwargs["f_max_hz"] == 5600.0
    GaborFilterbank(**kwargs)                                           # builds: 8000 Hz would not


def test_the_fit_stores_band_statistics_in_the_front_end(demo, tmp_path):
    out = run_fit(demo.dataset, FitRequest(spec=ModelSpec("Linear", T=15, frontend="CausalMel"), method="ridge",
                                           num_threads=1))
    fe = out.model.wav2spec
    assert fe.normalize and out.details["frontend"]["kwargs"]["normalize"] is True
    train = [s for s in demo.dataset.stimuli if out.split[s.name] == "train"]
    with torch.no_grad():
        specs = [fe(torch.as_tensor(framed_audio(s, fe.sample_rate, fe.hop)).view(1, 1, -1))[0, 0] for s in train]
    frames = torch.cat(specs, dim=-1).double()                           # (F, sum T): z-scored bands
    np.testing.assert_allclose(frames.mean(dim=-1).numpy(), 0.0, atol=1e-4)
    np.testing.assert_allclose(frames.std(dim=-1, unbiased=False).numpy(), 1.0, atol=1e-4)
    out.model.save_pretrained(tmp_path / "ckpt")
    again, _ = load_checkpoint(tmp_path / "ckpt")
    torch.testing.assert_close(again.wav2spec.band_mean, fe.band_mean)
    before, after = predict(out.model, demo.dataset), predict(again, demo.dataset)
    for name in before:
        np.testing.assert_allclose(after[name], before[name], rtol=1e-5, atol=1e-6)


def test_normalize_false_keeps_deepstrf_tensors(demo):
    plain = CausalMelSpectrogram(audio_fs=16000)
    assert sorted(plain.state_dict()) == ["_mel_fb", "_window"]
    out = run_fit(demo.dataset, FitRequest(spec=ModelSpec("Linear", T=15, frontend="CausalMel",
                                                          frontend_kwargs={"normalize": False}),
                                           method="ridge", num_threads=1))
    assert not any(k.startswith("wav2spec.band_") for k in out.model.state_dict())


def test_sgd_warm_starts_from_ridge_on_an_unresolved_front_end_spec(demo):
    """The app and the API pass the spec as the user gave it (no sample rate): the ridge twin of the warm start
    is a spectrogram model fitted on the front-end's output."""
    out = run_fit(demo.dataset, FitRequest(spec=ModelSpec("Linear", T=15, frontend="CausalMel"), epochs=1,
                                           num_threads=1))
    assert out.details["warm_start"] == "ridge" and out.metrics["test"].mean_cc_norm > 0.5
