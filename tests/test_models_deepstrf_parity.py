"""Same weights -> same outputs as deepSTRF 0.1.0, for every model class the two share.

deepSTRF is not a dependency (CI never installs it). This test runs only when an interpreter with
deepSTRF is named by the environment variable ``DEEPSTRF_PYTHON`` (e.g. ``/work/deepstrf-venv/bin/python``):
that interpreter builds each reference model, and writes its state_dict, captured kwargs, a fixed
input and its eval-mode output to a safetensors file; here our class is built from the same kwargs, loads
the state_dict with ``strict=True`` and must reproduce the output (max abs difference < 1e-5; 1e-4 for S4).
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

import strfviewer.models as sm

DEEPSTRF_PYTHON = os.environ.get("DEEPSTRF_PYTHON")

pytestmark = pytest.mark.skipif(not DEEPSTRF_PYTHON or not Path(DEEPSTRF_PYTHON).exists(),
                                reason="set DEEPSTRF_PYTHON to an interpreter with deepSTRF 0.1.0 to run")

# (case name, deepSTRF class, kwargs, prefilter kind or None, kernel spec or None)
CASES = [
    ("linear", "Linear", {"temporal_window_size": 7, "out_neurons": 3}, None, None),
    ("ln_adaptrans_gauss", "LinearNonlinear", {"temporal_window_size": 7, "out_neurons": 3}, "adaptrans",
     ("gaussian", {"num_gaussians": 2})),
    ("ln_icadapt_sep", "LinearNonlinear", {"temporal_window_size": 7, "out_neurons": 3}, "icadaptation",
     ("separable", {})),
    ("nrf", "NetworkReceptiveField", {"temporal_window_size": 6, "n_hidden": 4, "out_neurons": 3}, None, None),
    ("dnet", "DNet", {"temporal_window_size": 6, "n_hidden": 4, "init_tau": 3.0, "out_neurons": 3}, None, None),
    ("cnn", "ConvNet2D", {"kernel_size": [3, 4], "c_hidden": 3, "n_hidden": 5, "out_neurons": 3}, None, None),
    ("tsfm", "Transformer", {"embedding_dim": 8, "n_heads": 2, "context_window": 6, "out_neurons": 3}, None, None),
    *[(f"statenet_{r.lower()}", "StateNet", {"rnn_type": r, "out_neurons": 3}, None, None)
      for r in ("GRU", "LSTM", "RNN", "LMU", "Mamba", "S4")],
    ("statenet_fc_adaptrans", "StateNet", {"connectivity": "FC", "out_neurons": 3}, "adaptrans", None),
]

SCRIPT = r'''
import json, sys, warnings
sys.path.insert(0, sys.argv[3])
import torchaudio_fallback; torchaudio_fallback.install()   # a CPU side venv cannot load torchaudio's extension
import torch
warnings.filterwarnings("ignore")
from safetensors.torch import save_file
from deepSTRF.models.audio import audio_zoo as z
from deepSTRF.models import layers as L, prefiltering as P
cases = json.loads(sys.argv[1]); out = sys.argv[2]
tensors, meta = {}, {}
for name, cls, kw, pre, kern in cases:
    torch.manual_seed(0)
    kw = dict(kw)
    if "kernel_size" in kw and isinstance(kw["kernel_size"], list):
        kw["kernel_size"] = tuple(kw["kernel_size"])
    if pre:
        kw["prefiltering"] = P.make_prefiltering(pre, 34, dt=5.0, max_freq=16000.0)
    if kern:
        c_in = 2 if pre == "adaptrans" else 1
        c_out = kw.get("n_hidden", kw.get("out_neurons", 1)) if cls in ("NetworkReceptiveField", "DNet") else kw["out_neurons"]
        T = kw["temporal_window_size"]
        kw["kernel"] = (L.ParametricSTRF(34, T, c_in, c_out, **kern[1]) if kern[0] == "gaussian"
                        else L.SeparableSTRF(34, T, c_in, c_out))
    m = getattr(z, cls)(**kw)
    for mod in m.modules():          # non-trivial BatchNorm statistics
        if isinstance(mod, torch.nn.BatchNorm1d):
            mod.running_mean.uniform_(-1, 1); mod.running_var.uniform_(0.5, 2)
    m.eval()
    x = torch.rand(2, 1, 34, 40)
    with torch.no_grad():
        y = m(x)
    for k, v in m.state_dict().items():
        tensors[f"{name}/sd/{k}"] = v.contiguous()
    tensors[f"{name}/x"], tensors[f"{name}/y"] = x.contiguous(), y.contiguous()
    meta[name] = m._init_kwargs
save_file(tensors, out, metadata={"init_kwargs": json.dumps(meta)})
'''


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    from safetensors import safe_open

    out = tmp_path_factory.mktemp("deepstrf") / "reference.safetensors"
    fixtures = Path(__file__).resolve().parent / "fixtures"
    proc = subprocess.run([DEEPSTRF_PYTHON, "-c", SCRIPT, json.dumps(CASES), str(out), str(fixtures)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with safe_open(str(out), "pt") as f:
        meta = json.loads(f.metadata()["init_kwargs"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return meta, tensors


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_same_weights_same_outputs(case, reference):
    name, cls, kw, pre, kern = case
    meta, tensors = reference
    init = dict(meta[name])
    for key in ("prefiltering", "kernel", "output_activation", "wav2spec"):
        init.pop(key, None)                   # deepSTRF drops module-valued kwargs (or stores null)
    if pre:
        init["prefiltering"] = sm.make_prefiltering(pre, 34, dt=5.0, max_freq=16000.0)
    if kern:
        c_in = 2 if pre == "adaptrans" else 1
        c_out = init.get("n_hidden", init["out_neurons"]) if cls in ("NetworkReceptiveField", "DNet") \
            else init["out_neurons"]
        init["kernel"] = sm.kernels.make_kernel(kern[0], 34, init["temporal_window_size"], c_in, c_out, **kern[1])
    model = getattr(sm, cls)(**init).eval()
    prefix = f"{name}/sd/"
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        y = model(tensors[f"{name}/x"])
    # S4: FFT and Cauchy sums there, pole-free expressions and a direct convolution here (a few 1e-6 apart)
    tolerance = 1e-4 if kw.get("rnn_type") == "S4" else 1e-5
    assert (y - tensors[f"{name}/y"]).abs().max().item() < tolerance
