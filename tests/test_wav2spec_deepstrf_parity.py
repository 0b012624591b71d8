"""Same arguments and weights -> same spectrograms as deepSTRF 0.1.0's five waveform front-ends.

Runs only where ``DEEPSTRF_PYTHON`` names an interpreter with deepSTRF 0.1.0 (and, for ``Gammatonegram``, the
``gammatone`` package), e.g. ``DEEPSTRF_PYTHON=/work/deepstrf-venv/bin/python``: that interpreter builds each
front-end, writes its freshly built tensors, then moves every parameter and filter buffer away from its initial
value, and writes the new tensors with its output for 1 s of white noise. Here the class of the same name must
(1) build the same initial tensors from the same arguments and (2) with the moved tensors loaded
(``strict=True``) reproduce the output to < 1e-4.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

from strfviewer.io import weights_file
from strfviewer.models import registry

DEEPSTRF_PYTHON = os.environ.get("DEEPSTRF_PYTHON")
HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.skipif(not DEEPSTRF_PYTHON or not Path(DEEPSTRF_PYTHON).exists(),
                                reason="set DEEPSTRF_PYTHON to an interpreter with deepSTRF 0.1.0 to run")

FS = 16000
CASES = [
    ("mel", "CausalMelSpectrogram", {}),
    ("mel_power_cubic_slaney", "CausalMelSpectrogram", {"n_mels": 20, "win_ms": 25.0, "f_min": 100.0,
                                                          "magnitude": "power", "compression": "cubic",
                                                          "mel_scale": "slaney"}),
    ("mel_log_offset", "CausalMelSpectrogram", {"n_mels": 16, "hop_ms": 10.0, "log_offset": 0.01}),
    ("mel_log1p", "CausalMelSpectrogram", {"n_mels": 16, "compression": "log1p", "f_max": 6000.0}),
    ("gammatone", "CausalGammatone", {}),
    ("gammatone_pcen", "CausalGammatone", {"n_filters": 16, "compression": "pcen", "rectify": "full",
                                           "env_window_ms": 15.0, "f_min": 200.0, "f_max": 7000.0}),
    ("gammatone_cuberoot", "CausalGammatone", {"n_filters": 12, "compression": "cuberoot", "order": 3,
                                               "kernel_ms": 30.0, "hop_ms": 2.5}),
    ("gammatonegram", "Gammatonegram", {}),
    ("gammatonegram_log", "Gammatonegram", {"n_filters": 16, "compression": "log", "window_ms": 5.0,
                                            "f_min": 300.0, "f_max": 6000.0}),
    ("leaf", "CausalLEAF", {}),
    ("leaf_frozen_pool", "CausalLEAF", {"n_filters": 16, "kernel_ms": 8.0, "pool_ms": 12.0, "learn_pooling": False,
                                        "f_min": 100.0, "f_max": 7000.0}),
    ("sincnet", "SincNet", {}),
    ("sincnet_envelope", "SincNet", {"n_filters": 16, "kernel_size": 64, "envelope": True, "env_window_ms": 10.0,
                                     "activation": "symlog", "init": "linear", "f_max": 7500.0}),
    ("sincnet_short_kernel", "SincNet", {"n_filters": 8, "kernel_size": 50, "activation": "none"}),
]

SCRIPT = r'''
import json, sys, warnings
sys.path.insert(0, sys.argv[3])
import torchaudio_fallback; torchaudio_fallback.install()
warnings.filterwarnings("ignore")
import torch
from safetensors.torch import save_file
from deepSTRF.models import wav2spec as W
cases, out, fs = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[4])
PERTURBED_BUFFERS = {"_mel_fb", "_kernels", "gain", "b1", "b2", "b3", "b4"}
tensors = {}
gen = torch.Generator().manual_seed(0)
x = torch.randn(2, 1, fs, generator=gen) * 0.1
tensors["x"] = x
for name, cls, kw in cases:
    torch.manual_seed(0)
    m = getattr(W, cls)(audio_fs=fs, **kw).eval()
    for k, v in m.state_dict().items():
        tensors[f"{name}/init/{k}"] = v.clone().contiguous()
    with torch.no_grad():
        for k, p in m.named_parameters():
            p.mul_(1.0 + 0.1 * torch.randn(p.shape, generator=gen)).add_(0.05 * torch.randn(p.shape, generator=gen))
        for k, b in m.named_buffers():
            if k in PERTURBED_BUFFERS:
                b.mul_(1.0 + 0.05 * torch.randn(b.shape, generator=gen))
        for k, v in m.state_dict().items():
            tensors[f"{name}/moved/{k}"] = v.clone().contiguous()
        tensors[f"{name}/y"] = m(x).contiguous()
save_file(tensors, out)
'''


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("wav2spec") / "ref.safetensors"
    subprocess.run([DEEPSTRF_PYTHON, "-c", SCRIPT, json.dumps(CASES), str(out), str(HERE / "fixtures"), str(FS)],
                   check=True, timeout=600)
    return weights_file.load_tensors(out)


def _group(tensors, prefix):
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


@pytest.mark.parametrize("name,cls,kwargs", CASES, ids=[c[0] for c in CASES])
def test_same_initial_tensors(reference, name, cls, kwargs):
    ours = registry.get("frontend", cls)(audio_fs=FS, **kwargs)
    theirs = _group(reference, f"{name}/init/")
    assert set(ours.state_dict()) == set(theirs)
    for key, value in ours.state_dict().items():
        assert value.shape == theirs[key].shape, key
        torch.testing.assert_close(value, theirs[key], rtol=2e-5, atol=1e-6, msg=f"{name}: {key}")


@pytest.mark.parametrize("name,cls,kwargs", CASES, ids=[c[0] for c in CASES])
def test_same_output_with_moved_weights(reference, name, cls, kwargs):
    ours = registry.get("frontend", cls)(audio_fs=FS, **kwargs).eval()
    ours.load_state_dict(_group(reference, f"{name}/moved/"), strict=True)
    with torch.no_grad():
        y = ours(reference["x"])
    expected = reference[f"{name}/y"]
    assert y.shape == expected.shape
    diff = float((y - expected).abs().max())
    assert diff < 1e-4, f"{name}: max abs difference to deepSTRF {diff:.3g}"
