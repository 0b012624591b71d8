"""QA: ``load(path, frontend=checkpoint_frontend)`` gives the model's input domain.

A checkpoint's ``frontend`` metadata holds the spectrogram settings and the z-score statistics of the data
the model was fitted on. Loading data with that dict must scale it with those statistics (not with the new
data's own training statistics), so a model is evaluated on inputs scaled as in its fit.
"""

import numpy as np
import pytest

from strfviewer.data import load


def test_stored_normalization_is_applied(strflab_cell):
    raw = load(strflab_cell, normalize=None)
    F = raw.n_freqs
    stored = {"kind": "zscore", "mean": list(np.linspace(-9.0, -6.0, F)), "std": list(np.linspace(0.5, 2.0, F)),
              "from": "train"}
    frontend = dict(raw.frontend, normalization=stored)
    scaled = load(strflab_cell, frontend=frontend)
    assert scaled.frontend["normalization"]["mean"] == pytest.approx(stored["mean"])
    mean = np.asarray(stored["mean"])[None, :, None]
    std = np.asarray(stored["std"])[None, :, None]
    for a, b in zip(raw.stimuli, scaled.stimuli):
        assert np.allclose(b.spec, (a.spec - mean) / std, atol=1e-4)


def test_without_stored_statistics_the_train_stimuli_give_them(strflab_cell):
    raw = load(strflab_cell, normalize=None)
    settings = {k: v for k, v in raw.frontend.items() if k != "normalization"}
    ds = load(strflab_cell, frontend=settings)
    train = np.concatenate([s.spec[0] for s in ds.stimuli_in("train")], axis=1)
    assert np.allclose(train.mean(axis=1), 0.0, atol=1e-4) and np.allclose(train.std(axis=1), 1.0, atol=1e-3)


def test_stored_normalization_applies_to_raw_npz_too(strflab_cell, tmp_path):
    from strfviewer.data import save_npz

    raw = load(strflab_cell, normalize=None)
    save_npz(raw, tmp_path / "raw.npz")
    F = raw.n_freqs
    stored = {"kind": "zscore", "mean": [-7.0] * F, "std": [2.0] * F, "from": "train"}
    scaled = load(tmp_path / "raw.npz", frontend=dict(raw.frontend, normalization=stored))
    assert np.allclose(scaled.stimuli[0].spec, (raw.stimuli[0].spec + 7.0) / 2.0, atol=1e-4)
