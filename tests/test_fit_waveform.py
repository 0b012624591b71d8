"""Fitting on raw audio (fit.waveform_mode, data.waveforms): batches, the fixed/learnable front-end paths, the
demo's STRFs recovered through a waveform front-end, and bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from strfviewer.data.demo import make_demo
from strfviewer.data.waveforms import WaveStimulus, framed_audio, require_audio, resampled, waveform_stimuli
from strfviewer.fit.batching import StimulusBatches, pad_batch
from strfviewer.fit.chunks import chunk_stimuli
from strfviewer.fit.run import FitRequest, predict, run_fit
from strfviewer.fit.waveform_mode import param_groups, resolve_spec
from strfviewer.models.factory import ModelSpec, build_model


@pytest.fixture(scope="module")
def demo():
    return make_demo()


def _spec(learnable=True, **kw):
    return ModelSpec("Linear", T=15, frontend="GaborFilterbank", frontend_kwargs={"learnable": learnable, **kw})


def test_audio_is_resampled_once_and_framed_like_the_responses(demo):
    s = demo.dataset.stimuli[0]
    a = resampled(s.waveform, 16000, 22050)
    assert resampled(s.waveform, 16000, 22050) is a                       # cached, not redone
    wave = framed_audio(s, 22050, 110)
    assert wave.shape == (s.n_frames * 110,) and wave.dtype == np.float32
    n = min(len(a), wave.size)
    np.testing.assert_array_equal(wave[:n], a[:n])                          # zero padding after the audio
    assert not np.any(wave[len(a):])


def test_waveform_batches_pad_with_zeros_and_mask_the_padding(demo):
    waves = waveform_stimuli(demo.dataset.stimuli[:3], 16000, 80)
    batch = pad_batch(waves)
    T = max(w.n_frames for w in waves)
    assert batch.spec.shape == (3, 1, T * 80) and batch.mask.shape == (3, T) and batch.n_frames == T
    for b, w in enumerate(waves):
        L = w.n_frames
        assert bool(batch.mask[b, :L].all()) and not bool(batch.mask[b, L:].any())
        np.testing.assert_array_equal(batch.spec[b, 0, : L * 80].numpy(), w.wave[0])
        assert not bool(batch.spec[b, 0, L * 80:].any())
    chunks = chunk_stimuli(waves[:1], frames=50, warmup=10)
    assert chunks[1].spec.shape == (1, 60 * 80) and chunks[1].responses.shape[-1] == 60
    np.testing.assert_array_equal(chunks[1].spec, waves[0].wave[:, 40 * 80:100 * 80])


def test_a_padded_batch_predicts_what_each_stimulus_alone_does(demo):
    torch.manual_seed(0)
    model = build_model(resolve_spec(_spec(), demo.dataset), None, demo.dataset.n_neurons).eval()
    stimuli = demo.dataset.stimuli[:4]
    together = predict(model, demo.dataset, batch_size=4, stimuli=stimuli)
    alone = predict(model, demo.dataset, batch_size=1, stimuli=stimuli)
    for s in stimuli:
        np.testing.assert_allclose(together[s.name], alone[s.name], rtol=1e-4, atol=1e-5)


def test_a_fixed_front_end_runs_once_per_stimulus_not_per_step(demo, monkeypatch):
    calls = []
    from strfviewer.models.frontends import GaborFilterbank

    original = GaborFilterbank.forward
    monkeypatch.setattr(GaborFilterbank, "forward", lambda self, x: calls.append(x.shape[0]) or original(self, x))
    counts = {}
    for epochs in (1, 4):
        calls.clear()
        run_fit(demo.dataset, FitRequest(spec=_spec(learnable=False), epochs=epochs, patience=None,
                                         warm_start=False, num_threads=1))
        counts[epochs] = len(calls)
    assert counts[1] == counts[4]
    n = len(demo.dataset.stimuli)
    assert counts[1] <= n + -(-n // 8)               # once per stimulus, plus the final predictions' batches


def test_a_learnable_front_end_trains_in_its_own_group(demo):
    model = build_model(resolve_spec(_spec(), demo.dataset), None, 12)
    groups = param_groups(model, lr=1e-2, weight_decay=1e-3, frontend_lr=1e-4)
    front = {id(p) for p in model.wav2spec.parameters()}
    assert {id(p) for p in groups[1]["params"]} == front and groups[1]["lr"] == 1e-4
    assert groups[1]["weight_decay"] == 0.0 and not front & {id(p) for p in groups[0]["params"]}
    out = run_fit(demo.dataset, FitRequest(spec=_spec(), epochs=2, patience=None, warm_start=False,
                                           frontend_lr=1e-2, num_threads=1))
    assert out.history.best_epoch == 2
    start = build_model(resolve_spec(_spec(), demo.dataset), None, 12).wav2spec.log_cf
    assert not torch.allclose(out.model.wav2spec.log_cf, start)           # trained on audio batches
    assert out.details["frontend"]["mode"] == "waveform" and out.details["frontend"]["hop"] == 80


def test_bad_front_end_settings_are_named(demo):
    with pytest.raises(ValueError, match=r"has 20 bands \(n_bands=20\) but the model has F=34"):
        resolve_spec(_spec(n_bands=20), demo.dataset, n_bands=34)
    with pytest.raises(ValueError, match=r"sample rate 8000 Hz is below twice f_max_hz=6000 Hz"):
        resolve_spec(_spec(sample_rate=8000, f_max_hz=6000.0), demo.dataset)
    with pytest.raises(ValueError, match=r"dt_ms=10 ms differs from the data's frame step 5 ms"):
        resolve_spec(_spec(dt_ms=10), demo.dataset)
    with pytest.raises(ValueError, match=r"unknown argument\(s\) nbands"):
        resolve_spec(dataclasses.replace(_spec(), frontend_kwargs={"nbands": 3}), demo.dataset)
    short = dataclasses.replace(demo.dataset.stimuli[0], waveform=np.zeros(50, np.float32), name="click")
    with pytest.raises(ValueError, match=r"stimulus 'click' is 50 samples long at 16000 Hz, shorter than one "
                                         r"frame \(80 samples\)"):
        framed_audio(short, 16000, 80)
    silent = dataclasses.replace(demo.dataset, stimuli=[dataclasses.replace(s, waveform=None)
                                                        for s in demo.dataset.stimuli], source="cells.npz")
    with pytest.raises(ValueError, match=r"cells.npz: --frontend X needs the stimuli's audio, but this is an NPZ"):
        require_audio(silent, "--frontend X")
    with pytest.raises(ValueError, match="needs the stimuli's audio"):
        run_fit(silent, FitRequest(spec=_spec(), epochs=1))


def test_wave_stimuli_read_as_the_model_input():
    w = WaveStimulus("a", np.zeros((1, 160), np.float32), np.zeros((2, 1, 2), np.float32), 16000, 80)
    assert w.spec is w.wave and w.n_frames == 2
    assert len(list(StimulusBatches([w], batch_size=1))) == 1
