"""stimulus_waveform_gradmaps' short path (front-end graph kept, the rest of the model differentiated over the frames
up to the latest read-out frame only, parameters frozen for the pass) gives the full one-pass gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from strfviewer.analysis.gradmaps import waveform_gradmap
from strfviewer.analysis.waveform_rf import stimulus_waveform_gradmaps
from strfviewer.models.factory import ModelSpec, build_model


@pytest.mark.parametrize("family,frontend", [("StateNet", "LEAF"), ("Linear", "CausalMel")])
@pytest.mark.parametrize("reduce", ["last", "peak", "sum"])
def test_the_short_path_matches_the_full_gradient(family, frontend, reduce):
    torch.manual_seed(0)
    model = build_model(ModelSpec(family, T=15, frontend=frontend, frontend_kwargs={"audio_fs": 16000}), None, 4)
    wave = torch.randn(8000, generator=torch.Generator().manual_seed(1)).numpy() * 0.1      # 0.5 s, 100 frames
    flags = [p.requires_grad for p in model.parameters()]
    out = stimulus_waveform_gradmaps(model, wave, [1, 3], at_ms=None, reduce=reduce, spectrograms=False)
    assert [p.requires_grad for p in model.parameters()] == flags                         # restored
    ref = waveform_gradmap(model, torch.as_tensor(wave), neuron=[1, 3], reduce=reduce,
                           at=[int(k) for k in out.at_frames]).numpy()
    scale = np.abs(ref).max()
    assert scale > 0
    np.testing.assert_allclose(out.maps, ref, rtol=0, atol=1e-4 * scale)
    single = stimulus_waveform_gradmaps(model, wave, [3], at_ms=137.0, reduce=reduce, spectrograms=False)
    ref3 = waveform_gradmap(model, torch.as_tensor(wave), neuron=3, reduce=reduce, at=27).numpy()
    np.testing.assert_allclose(single.maps[0], ref3, rtol=0, atol=1e-4 * np.abs(ref3).max())
    assert not np.any(single.maps[0, 28 * 80:])
