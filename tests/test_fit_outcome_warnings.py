"""A fit that ends below its own starting score is not a plain "done": it warns (engine, CLI, run history)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strfviewer.cli import main
from strfviewer.data import load
from strfviewer.fit.fitter import EpochRecord, FitHistory
from strfviewer.fit.metrics import NeuronMetrics
from strfviewer.fit.outcome_checks import fit_warnings
from strfviewer.fit.run import FitRequest, run_fit
from strfviewer.models.factory import ModelSpec
from strfviewer.runs.history import RunHistory


def _history(start, curve, best_epoch):
    history = FitHistory(initial=EpochRecord(epoch=0, train_loss=math.nan, val_cc_norm=start))
    history.epochs = [EpochRecord(epoch=i + 1, train_loss=1.0, val_cc_norm=v) for i, v in enumerate(curve)]
    history.best_epoch = best_epoch
    return history


def _val(value):
    return {"val": NeuronMetrics(cc=np.array([value]), cc_max=np.ones(1), cc_norm=np.array([value]))}


def test_the_reasons():
    # the returned weights score below the start
    assert "ended below its starting score" in fit_warnings(_history(0.5, [0.6], 1), _val(0.4))[0]
    # a cold start no epoch beat: the model did not learn
    assert "did not learn" in fit_warnings(_history(0.3, [0.1, 0.05], 0), _val(0.3))[0]
    # ... but a ridge warm start no epoch beat is the intended result
    assert fit_warnings(_history(0.6, [0.5, 0.55], 0), _val(0.6), warm_started=True) == []
    # an ordinary fit, and no starting score at all
    assert fit_warnings(_history(0.1, [0.3, 0.5], 2), _val(0.5)) == []
    assert fit_warnings(_history(math.nan, [0.3], 1), _val(0.3)) == []


@pytest.fixture(scope="module")
def demo():
    return load("demo")


def test_a_cold_fit_that_only_got_worse_warns(demo):
    # lr 0.3 throws a cold NRF off its random start (measured: 0.238 at the start, about 0 after each epoch)
    request = FitRequest(spec=ModelSpec("NetworkReceptiveField", T=9), epochs=2, lr=0.3, warm_start=False,
                         num_threads=1, device="cpu")
    outcome = run_fit(demo, request)
    assert len(outcome.warnings) == 1 and "did not learn" in outcome.warnings[0]
    assert "warning: no epoch beat" in outcome.message
    fine = run_fit(demo, FitRequest(spec=ModelSpec("NetworkReceptiveField", T=9), epochs=2, num_threads=1,
                                    device="cpu"))
    assert fine.warnings == []


def test_the_cli_warns_and_the_history_says_warning(tmp_path, capsys):
    db = tmp_path / "runs.sqlite"
    rc = main(["fit", "demo", "--model", "NetworkReceptiveField", "-T", "9", "--no-warm-start", "--lr", "0.3",
               "--epochs", "2", "--threads", "1", "--quiet", "--out", str(tmp_path / "out"), "--history", str(db)])
    assert rc == 0
    lines = [l for l in capsys.readouterr().err.splitlines() if l.startswith("warning:")]
    assert len(lines) == 1 and "did not learn" in lines[0]
    history = RunHistory(db)
    (run,) = history.runs()
    assert run.status == "warning" and "did not learn" in run.error
    history.close()
