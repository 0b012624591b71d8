"""QA on the real STRFlab cell: the reference figures of the science notes (split 1-14 / 15-17 / 18-20, F = 34,
dt = 5 ms, z-scored stimuli, 10 trials) and a fitted folder that reproduces its own metrics.

Thresholds come from the notes, not from strfviewer's output: a Linear T=15 model reaches a test cc_norm
"around 0.5-0.6" (deepSTRF's SGD: 0.545), the split-half ceiling is about 0.94, the signal-power and split-half
cc_norm agree to about 0.003.
"""

import json

import numpy as np
import pytest

from strfviewer.cli import main
from strfviewer.data import load
from strfviewer.fit.run import FitRequest, predict, run_fit, score
from strfviewer.models.factory import ModelSpec

RIDGE = FitRequest(spec=ModelSpec("Linear", T=15), method="ridge", num_threads=1)


@pytest.fixture(scope="module")
def cell_dataset():
    from conftest import STRFLAB_CELL  # tests/conftest.py: the shared recording

    if not (STRFLAB_CELL / "stim1.wav").is_file():
        pytest.skip(f"shared recording not found at {STRFLAB_CELL} (set STRFVIEWER_SHARED_DATA)")
    return load(STRFLAB_CELL)


@pytest.fixture(scope="module")
def ridge_outcome(cell_dataset):
    return run_fit(cell_dataset, RIDGE)


def test_split_is_the_reference_one(cell_dataset):
    parts = {p: sorted(int(s.name[4:]) for s in cell_dataset.stimuli_in(p)) for p in ("train", "val", "test")}
    assert parts == {"train": list(range(1, 15)), "val": [15, 16, 17], "test": [18, 19, 20]}


def test_linear_reaches_the_reference_test_cc_norm(ridge_outcome):
    test = ridge_outcome.metrics["test"]
    assert 0.5 <= float(np.nanmean(test.cc_norm)) <= 0.7


def test_noise_ceiling_and_the_two_methods_agree(cell_dataset, ridge_outcome):
    sp = ridge_outcome.metrics["test"]
    split_half = score(cell_dataset, ridge_outcome.predictions, method="split_half")["test"]
    assert float(split_half.cc_max[0]) == pytest.approx(0.94, abs=0.02)
    assert float(sp.cc_norm[0]) == pytest.approx(float(split_half.cc_norm[0]), abs=0.01)


def test_fitted_folder_reproduces_its_metrics(strflab_cell, tmp_path, monkeypatch):
    monkeypatch.setenv("STRFVIEWER_HISTORY", str(tmp_path / "runs.sqlite"))
    out = tmp_path / "lin"
    assert main(["fit", str(strflab_cell), "--method", "ridge", "--out", str(out), "--quiet", "--threads", "1"]) == 0
    written = json.loads((out / "metrics.json").read_text())
    from strfviewer.io.checkpoints import load_checkpoint

    model, meta = load_checkpoint(out)
    dataset = load(strflab_cell, frontend=meta["frontend"], split=meta["dataset"]["split"])
    again = score(dataset, predict(model, dataset, "cpu"))
    for part in ("train", "val", "test"):
        assert np.allclose(again[part].cc_norm, written[part]["cc_norm"], atol=1e-5)
        assert written[part]["mean_cc_norm"] == pytest.approx(float(np.nanmean(written[part]["cc_norm"])))


def test_ln_does_not_score_below_linear(cell_dataset, ridge_outcome):
    # an LN model contains the Linear one: scoring below it means the fit is at fault (science notes)
    ln = run_fit(cell_dataset, FitRequest(spec=ModelSpec("LinearNonlinear", T=15), epochs=10, patience=5,
                                          num_threads=1))
    assert float(np.nanmean(ln.metrics["test"].cc_norm)) >= float(np.nanmean(ridge_outcome.metrics["test"].cc_norm))
