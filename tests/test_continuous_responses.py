"""Datasets of continuous responses (``response_kind="continuous"``, e.g. membrane potential in mV): the kind
travels with the dataset (copies, NPZ, fit outputs), the fit uses MSE without output calibration, and checks and
labels speak of the unit, not of spikes."""

import json

import numpy as np
import pytest

from strfviewer.data.dataset import NeuralDataset, Stimulus
from strfviewer.data.errors import DataError
from strfviewer.fit.run import FitRequest, effective_loss, run_fit
from strfviewer.models.factory import ModelSpec, build_model

F, T, R = 8, 80, 4


def continuous_dataset(n_neurons: int = 2, seed: int = 0, constant: bool = False) -> NeuralDataset:
    """Signed traces (mV, mean about 0): each neuron a filtered copy of band 2 of the spectrogram plus noise."""
    rng = np.random.default_rng(seed)
    stimuli = []
    for k in range(6):
        spec = rng.standard_normal((1, F, T)).astype(np.float32)
        drive = np.convolve(spec[0, 2], [0.0, 1.0, 0.6, 0.2], mode="full")[:T]
        resp = 3.0 * drive[None, None] * (np.arange(n_neurons)[:, None, None] + 1) \
            + rng.standard_normal((n_neurons, R, T))
        if constant:
            resp[0] = 0.0
        stimuli.append(Stimulus(f"s{k}", spec, resp.astype(np.float32)))
    split = {f"s{k}": p for k, p in enumerate(["train", "train", "train", "train", "val", "test"])}
    return NeuralDataset(stimuli, [f"cell{i}" for i in range(n_neurons)], np.geomspace(500, 8000, F), 5.0,
                         split=split, name="vm", response_kind="continuous", response_unit="mV")


def test_kind_defaults_to_counts_and_is_validated():
    counts = NeuralDataset([Stimulus("a", np.zeros((1, 2, 3), np.float32), np.zeros((1, 1, 3), np.float32))],
                           ["n"], np.array([1.0, 2.0]), 5.0)
    assert (counts.response_kind, counts.response_unit, counts.response_label) == ("counts", "spikes",
                                                                                    "spikes / bin")
    assert not counts.is_continuous
    ds = continuous_dataset()
    assert ds.is_continuous and ds.response_label == "mV"
    with pytest.raises(ValueError, match="response_kind"):
        NeuralDataset(counts.stimuli, ["n"], np.array([1.0, 2.0]), 5.0, response_kind="voltage")


def test_copies_and_subsets_keep_the_kind():
    ds = continuous_dataset(3)
    for copy in (ds.subset_neurons([1]), ds.with_split({s.name: "train" for s in ds.stimuli})):
        assert (copy.response_kind, copy.response_unit) == ("continuous", "mV")


def test_npz_round_trip_keeps_the_kind(tmp_path):
    from strfviewer.data.npz import load_npz, save_npz

    back = load_npz(save_npz(continuous_dataset(), tmp_path / "vm.npz"))
    assert (back.response_kind, back.response_unit) == ("continuous", "mV")
    np.testing.assert_allclose(back.stimuli[0].responses, continuous_dataset().stimuli[0].responses)


def test_npz_without_the_key_is_counts_and_a_bad_kind_is_refused(tmp_path):
    from strfviewer.data.npz import load_npz

    arrays = dict(spec=np.zeros((1, 2, 3), np.float32), responses=np.zeros((1, 1, 1, 3), np.float32),
                  dt_ms=np.array(5.0))
    np.savez(tmp_path / "old.npz", **arrays)
    assert load_npz(tmp_path / "old.npz").response_kind == "counts"
    np.savez(tmp_path / "bad.npz", response_kind=np.array("voltage"), **arrays)
    with pytest.raises(DataError, match="bad.npz.*'response_kind' is 'voltage'"):
        load_npz(tmp_path / "bad.npz")


def test_auto_loss_is_mse_for_continuous_responses_and_poisson_is_refused():
    ds = continuous_dataset()
    gru = build_model(ModelSpec("StateNet", rnn_type="GRU"), F, 2)
    assert effective_loss(gru, FitRequest()) == "poisson"  # counts (no dataset): Poisson for recurrent models
    assert effective_loss(gru, FitRequest(), ds) == "mse"
    with pytest.raises(ValueError, match="Poisson loss needs spike counts.*continuous \\(mV\\)"):
        effective_loss(gru, FitRequest(loss="poisson"), ds)
    with pytest.raises(ValueError, match="Poisson loss needs spike counts"):
        run_fit(ds, FitRequest(spec=ModelSpec("Linear", T=4), loss="poisson", epochs=1, device="cpu"))


def test_a_recurrent_fit_on_continuous_responses_uses_mse_and_no_calibration():
    ds = continuous_dataset()
    out = run_fit(ds, FitRequest(spec=ModelSpec("StateNet", rnn_type="GRU"), epochs=1, device="cpu"))
    assert out.details["loss"] == "mse" and "calibrated" not in out.details
    # the same model on counts is calibrated and fitted with Poisson: the test above can fail
    counts = continuous_dataset()
    for s in counts.stimuli:
        s.responses = np.abs(np.round(s.responses)).astype(np.float32)
    counts.response_kind, counts.response_unit = "counts", "spikes"
    out = run_fit(counts, FitRequest(spec=ModelSpec("StateNet", rnn_type="GRU"), epochs=1, device="cpu"))
    assert out.details["loss"] == "poisson" and out.details.get("calibrated")


def test_ridge_on_signed_traces_gives_finite_cc():
    out = run_fit(continuous_dataset(), FitRequest(spec=ModelSpec("Linear", T=5), method="ridge", device="cpu"))
    assert np.isfinite(out.metrics["test"].cc).all() and out.metrics["test"].cc.min() > 0.5


def test_usability_speaks_of_the_unit_not_of_spikes():
    from strfviewer.data.usability import fit_data_problems

    unusable, fatal = fit_data_problems(continuous_dataset(constant=True))
    assert fatal is None
    assert unusable == {"cell0": "a constant response (0 mV) in the training stimuli"}
    assert fit_data_problems(continuous_dataset())[0] == {}  # signed traces around 0 are fine
    counts = continuous_dataset(constant=True)
    counts.response_kind = "counts"
    counts.response_unit = "spikes"
    assert fit_data_problems(counts)[0] == {"cell0": "no spike in the training stimuli"}


def test_exports_and_fit_outputs_name_the_unit(tmp_path):
    from strfviewer.io import exports
    from strfviewer.io.fit_output import write_output

    ds = continuous_dataset()
    column = exports.response_column(ds)
    assert column.column == "mean_mV" and "mV" in column.tip
    expected = [float(np.nanmean(np.stack([s.responses[n] for s in ds.stimuli]))) for n in range(2)]
    np.testing.assert_allclose(column.values, expected, rtol=1e-5)
    request = FitRequest(spec=ModelSpec("Linear", T=5), method="ridge", device="cpu")
    out = run_fit(ds, request)
    folder = write_output(tmp_path / "fit", out, ds, request, data_hash="x")
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["dataset"]["response_kind"] == "continuous" and meta["dataset"]["response_unit"] == "mV"
    csv = exports.write_metrics_csv(tmp_path / "m.csv", ds.neuron_names, out.metrics, extra=exports.response_extra(ds))
    assert "mean_mV" in csv.read_text().splitlines()[0]


def test_session_summary_says_the_unit():
    from strfviewer.session import Session

    assert Session(continuous_dataset()).dataset_summary().endswith("5 ms, responses in mV")
