"""Regression guard: on the demo every family, fitted with run_fit's defaults for a couple of epochs, reaches a
test cc_norm floor.

The floors are about 80% of what these fits reached when the defaults were set (measured 2026-12-06, seed 0, one
thread; docs/models.md, "Training defaults"), so platform noise passes and a regression of the defaults does not:
the former batch size of 4, for one, gave NRF 0.567 and ConvNet2D 0.174 after two epochs, below their floors,
and ConvNet2D with the MSE loss (0.357) would fall below its floor too (its floor was raised from 0.45 when its
learning rate became 2e-3).
Two epochs (one for the slower LMU and Mamba cores) keep the whole file around 30 s on a busy 2-core machine.
"""

from __future__ import annotations

import pytest

from strfviewer.data import load
from strfviewer.fit.run import FitRequest, run_fit
from strfviewer.models.factory import ModelSpec

#: (family, spec options, epochs, floor; the measured test cc_norm in the comment)
CASES = [
    ("Linear", {}, 2, 0.80),  # 0.903
    ("Linear", {"kernel": "separable"}, 2, 0.80),  # 0.905
    ("Linear", {"kernel": "gaussian"}, 2, 0.65),  # 0.770
    ("LinearNonlinear", {}, 2, 0.85),  # 0.947
    ("NetworkReceptiveField", {}, 2, 0.70),  # 0.867 (readout offset fitted to the responses; 0.835 before)
    ("DNet", {}, 2, 0.68),  # 0.811 (lr 2e-3, readout fitted to the responses; 0.776 before)
    ("ConvNet2D", {}, 2, 0.53),  # 0.663 (lr 2e-3, Poisson + calibration; 0.580 at lr 1e-3, 0.357 with MSE)
    ("Transformer", {}, 2, 0.40),  # 0.527 (lr 2e-3; 0.412 at 1e-3)
    ("StateNet", {"rnn_type": "GRU"}, 2, 0.50),  # 0.640
    ("StateNet", {"rnn_type": "LSTM"}, 2, 0.60),  # 0.746
    ("StateNet", {"rnn_type": "S4"}, 2, 0.48),  # 0.643 (deepSTRF's DPLR S4; 100-frame chunks, 0.601 with 50)
    ("StateNet", {"rnn_type": "S4D"}, 2, 0.45),  # 0.573 (strfviewer's diagonal S4)
    ("StateNet", {"rnn_type": "LMU"}, 1, 0.40),  # 0.537
    ("StateNet", {"rnn_type": "Mamba"}, 1, 0.42),  # 0.567
]


@pytest.fixture(scope="module")
def demo():
    return load("demo")


@pytest.mark.parametrize("family,options,epochs,floor", CASES,
                         ids=[f"{f}-{'-'.join(str(v) for v in o.values()) or 'default'}" for f, o, _, _ in CASES])
def test_each_family_at_defaults_reaches_its_floor(demo, family, options, epochs, floor):
    outcome = run_fit(demo, FitRequest(spec=ModelSpec(family, **options), epochs=epochs, num_threads=1,
                                       device="cpu"))
    score = outcome.metrics["test"].mean_cc_norm
    assert score >= floor, f"{family} {options}: test cc_norm {score:.3f} < floor {floor} ({outcome.message})"
    assert outcome.warnings == []


def test_mamba_trains_on_whole_stimuli_at_its_own_learning_rate():
    """StateNet cores' defaults (docs/models.md, "Training defaults"): Mamba and LMU on whole stimuli, Mamba at lr
    2e-3; S4 (100-frame chunks), GRU and LMU at lr 3e-3, LSTM at 5e-3 with half the steps per epoch; RNN keeps
    50-frame chunks at 2e-3; S4D 1e-3; an explicit request wins."""
    from strfviewer.fit.run import AUTO_CHUNK, CORE_CHUNK, chunking, learning_rate_for
    from strfviewer.models.factory import build_model

    for core, frames, lr in (("Mamba", None, 2e-3), ("S4", CORE_CHUNK["S4"][0], 3e-3), ("LSTM", AUTO_CHUNK[0], 5e-3),
                             ("GRU", AUTO_CHUNK[0], 3e-3), ("RNN", AUTO_CHUNK[0], 2e-3), ("S4D", AUTO_CHUNK[0], 1e-3),
                             ("LMU", None, 3e-3)):
        spec = ModelSpec("StateNet", rnn_type=core)
        model = build_model(spec, 8, 2)
        request = FitRequest(spec=spec)
        assert chunking(model, request)["chunk_frames"] == frames, core
        assert learning_rate_for(request) == lr, core
    spec = ModelSpec("StateNet", rnn_type="Mamba")
    request = FitRequest(spec=spec, chunk_frames=40, lr=5e-4)
    assert chunking(build_model(spec, 8, 2), request)["chunk_frames"] == 40 and learning_rate_for(request) == 5e-4


def test_lstm_batches_aim_at_half_the_steps_per_epoch():
    """StateNet LSTM's automatic batch gives about 16 steps per epoch (the other cores 32); an explicit batch wins."""
    from strfviewer.fit.run import batch_size_for, chunking, training_items
    from strfviewer.models.factory import build_model

    train = load("demo").stimuli_in("train")
    sizes = {}
    for core in ("LSTM", "GRU"):
        spec = ModelSpec("StateNet", rnn_type=core)
        model = build_model(spec, train[0].spec.shape[-2], 2)
        items = training_items(train, chunking(model, FitRequest(spec=spec)))
        sizes[core] = batch_size_for(model, train, FitRequest(spec=spec))
        assert sizes[core] == -(-items // (16 if core == "LSTM" else 32))
    assert sizes["LSTM"] > sizes["GRU"]
    spec = ModelSpec("StateNet", rnn_type="LSTM")
    assert batch_size_for(build_model(spec, train[0].spec.shape[-2], 2), train, FitRequest(spec=spec, batch_size=2)) == 2
