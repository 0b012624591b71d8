"""The CRCNS AC1 traces strfviewer cleans and bins (Wehr; Asari A1 and its spliced sequences) are deepSTRF 0.1.0's,
on the same small downloads; the Asari MGB spikes per bin follow deepSTRF's smoothed spike trace.

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


ASARI_SCRIPT = r'''
import json, sys, warnings
sys.path.insert(0, sys.argv[3])
import torchaudio_fallback; torchaudio_fallback.install()
warnings.filterwarnings("ignore")
import numpy as np
from deepSTRF.datasets.audio._crcns_ac1_native import iterate_asari_cells, prepare_repeats, bin_response, \
    detect_spikes_psth
arrays, index = {}, []
for cell in iterate_asari_cells(json.loads(sys.argv[1])):
    for stim in cell.stims:
        kept, _ = prepare_repeats(stim.raw_repeats, stim.sf_resp)
        if "attached" in cell.meta["recording_type"]:
            kept = [detect_spikes_psth(r, stim.sf_resp) for r in kept]
        key = f"a{len(index)}"
        binned = [bin_response(r, stim.sf_resp, 5.0) for r in kept]
        T = min(b.size for b in binned)
        arrays[key] = np.stack([b[:T] for b in binned])
        arrays[key + "w"] = stim.waveform
        index.append([cell.meta["session"], cell.meta["site"], "+".join(stim.meta["segment_files"]), key])
np.savez(sys.argv[2], index=json.dumps(index), **arrays)
'''


def test_asari_sequences_and_responses_match_deepstrf(tmp_path):
    """The spliced sequences and the A1 repeats are deepSTRF's numbers; the MGB spikes per bin follow deepSTRF's
    smoothed spike trace (which is in arbitrary units: one window per supra-threshold sample)."""
    from ac1_files import write_asari

    base = write_asari(tmp_path / "dl")
    roots = [str(base / f"crcns-ac1-asari-results-{k}" / f"asari-results-{k}") for k in (1, 2)]
    out = tmp_path / "deepstrf.npz"
    fixtures = Path(__file__).resolve().parent / "fixtures"
    proc = subprocess.run([DEEPSTRF_PYTHON, "-c", ASARI_SCRIPT, json.dumps(roots), str(out), str(fixtures)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reference = np.load(out)
    datasets = {site: load(f"{base}?site={site}", use_cache=False, normalize=None) for site in ("A1", "MGB")}
    compared = 0
    for session, site, files, key in json.loads(str(reference["index"])):
        ds = datasets[site]
        stim = ds.stimulus(files.replace(".mat", ""))
        np.testing.assert_allclose(stim.waveform, reference[key + "w"], atol=1e-6)
        theirs, ours = reference[key], stim.responses[ds.neuron_names.index(session)]
        ours = ours[np.isfinite(ours).any(axis=1)]
        T = min(ours.shape[1], theirs.shape[1])
        assert ours.shape[0] == theirs.shape[0]
        if site == "A1":
            np.testing.assert_allclose(ours[:, :T], theirs[:, :T], atol=1e-4)
        else:
            for a, b in zip(ours[:, :T], theirs[:, :T]):
                assert np.corrcoef(a, b)[0, 1] > 0.95
        compared += 1
    assert compared == 5
