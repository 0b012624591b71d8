"""The CRCNS AC1 (Wehr) traces strfviewer cleans and bins are deepSTRF 0.1.0's, on the same small download.

deepSTRF is not a dependency: this runs only when ``DEEPSTRF_PYTHON`` names an interpreter with deepSTRF (e.g.
``/work/deepstrf-venv/bin/python``). That interpreter reads the files written by tests/ac1_files.py with
deepSTRF's own Wehr iterator, repeat clean-up (default gating) and 5 ms binning, and saves each (cell, sound)'s
kept repeats; here the dataset's repeats of the same cell and sound must be the same numbers.
"""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("scipy", reason="scipy (the 'benchmarks' extra) reads .mat files")

from ac1_files import write_wehr  # noqa: E402
from strfviewer.data import load  # noqa: E402

DEEPSTRF_PYTHON = os.environ.get("DEEPSTRF_PYTHON")

pytestmark = pytest.mark.skipif(not DEEPSTRF_PYTHON or not Path(DEEPSTRF_PYTHON).exists(),
                                reason="set DEEPSTRF_PYTHON to an interpreter with deepSTRF 0.1.0 to run")

SCRIPT = r'''
import json, sys, warnings
sys.path.insert(0, sys.argv[3])
import torchaudio_fallback; torchaudio_fallback.install()   # a CPU side venv cannot load torchaudio's extension
warnings.filterwarnings("ignore")
import numpy as np
from deepSTRF.datasets.audio._crcns_ac1_native import iterate_wehr_cells, prepare_repeats, bin_response, RepeatGating
arrays, index = {}, []
for cell in iterate_wehr_cells(sys.argv[1]):
    for stim in cell.stims:
        kept, _ = prepare_repeats(stim.raw_repeats, stim.sf_resp, gating=RepeatGating())
        key = f"a{len(index)}"
        if kept:
            binned = [bin_response(r, stim.sf_resp, 5.0) for r in kept]
            T = min(b.size for b in binned)
            arrays[key] = np.stack([b[:T] for b in binned])
            index.append([cell.meta["session"], stim.meta["description"], key])
np.savez(sys.argv[2], index=json.dumps(index), **arrays)
'''


def test_cleaned_binned_repeats_match_deepstrf(tmp_path):
    base = write_wehr(tmp_path / "dl")
    out = tmp_path / "deepstrf.npz"
    fixtures = Path(__file__).resolve().parent / "fixtures"
    proc = subprocess.run([DEEPSTRF_PYTHON, "-c", SCRIPT, str(base / "crcns-ac1" / "wehr"), str(out), str(fixtures)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reference = np.load(out)
    ds = load(base, use_cache=False, normalize=None)
    by_description = {s.metadata["description"]: s for s in ds.stimuli}
    compared = 0
    for session, description, key in json.loads(str(reference["index"])):
        theirs = reference[key]  # (R, T)
        ours = by_description[description].responses[ds.neuron_names.index(session)]
        ours = ours[np.isfinite(ours).any(axis=1)]
        assert ours.shape[0] == theirs.shape[0], (session, description)
        T = min(ours.shape[1], theirs.shape[1])
        np.testing.assert_allclose(ours[:, :T], theirs[:, :T], atol=1e-4)
        compared += 1
    assert compared == 8
