"""CRCNS AC1 (Wehr) read from small .mat files in the download's layout (tests/ac1_files.py): membrane potentials
as a continuous dataset, deepSTRF's clean-up (baseline removal, repeat rejection) with its options, and one-line
errors for broken downloads."""

import numpy as np
import pytest

pytest.importorskip("scipy", reason="scipy (the 'benchmarks' extra) reads .mat files")

from ac1_files import CELLS, DURATION_MS, RESP_SF, REST_MV, SOUNDS, sound_response, trial_files, \
    trial_struct, write_wehr  # noqa: E402
from strfviewer.data import DataError, load  # noqa: E402
from strfviewer.data.ac1_cleanup import ResponseCleanup, bin_mean, clean_repeats, remove_baseline  # noqa: E402

NAMES = ["fragments/1", "fragments/2", "category1/1", "category1/2"]


@pytest.fixture(scope="module")
def download(tmp_path_factory):
    return write_wehr(tmp_path_factory.mktemp("ac1"))


@pytest.fixture(scope="module")
def dataset(download):
    return load(download, use_cache=False, normalize=None)


def test_cells_sounds_and_repeats(dataset):
    assert dataset.neuron_names == list(CELLS)
    assert [s.name for s in dataset.stimuli] == NAMES
    assert (dataset.response_kind, dataset.response_unit, dataset.dt_ms) == ("continuous", "mV", 5.0)
    T = int(DURATION_MS / 5.0)
    for s in dataset.stimuli:
        assert s.responses.shape == (3, 3, T)  # at most 3 repeats kept (fragments/1: 4 recorded, 1 saturated)
        assert s.waveform is not None and s.sample_rate == 16000 and s.metadata["description"] in SOUNDS.values()
    heard = {(n, s.name): int(np.isfinite(s.responses[i]).any(axis=1).sum())
             for s in dataset.stimuli for i, n in enumerate(dataset.neuron_names)}
    assert heard[("20020101-mw-1", "fragments/1")] == 3  # of 4: the saturated repeat is left out
    assert heard[("20020102-mw-2", "fragments/2")] == 3 and heard[("20020103-mw-3", "category1/2")] == 2
    assert heard[("20020102-mw-2", "category1/1")] == 0 and heard[("20020103-mw-3", "fragments/1")] == 0
    assert dataset.neuron_metadata[0]["session"] == "20020101-mw-1" and dataset.neuron_metadata[0]["site"] == "A1"
    assert any("1 saturated" in w for w in dataset.warnings)
    assert any("3 trial files without a natural-sound trigger" in w for w in dataset.warnings)


def test_cleaned_responses_follow_the_sound_without_the_resting_potential(dataset):
    t = np.arange(int(RESP_SF * DURATION_MS / 1000.0)) / RESP_SF
    for k, name in enumerate(NAMES):
        truth = bin_mean(sound_response(tuple(name.split("/")[:1]) + (int(name[-1]),), t), RESP_SF, 5.0)
        stim = dataset.stimulus(name)
        for n in range(dataset.n_neurons):
            psth = np.nanmean(stim.responses[n], axis=0) if np.isfinite(stim.responses[n]).any() else None
            if psth is not None:
                assert abs(float(np.mean(psth))) < 1.5  # -60 mV rest and its drift are gone
                assert np.corrcoef(psth, truth)[0, 1] > 0.85


def test_cleanup_off_keeps_raw_traces_and_every_repeat(download):
    raw = load(f"{download}?cleanup=off", use_cache=False, normalize=None)
    first = raw.stimulus("fragments/1").responses[0]
    assert np.isfinite(first).any(axis=1).all()  # the saturated repeat too
    assert np.nanmedian(first) == pytest.approx(REST_MV + 3.0, abs=3.0)  # rest + drift since the recording began
    assert raw.frontend["response_cleanup"]["enabled"] is False and raw.source.endswith("?cleanup=off")
    loose = load(f"{download}?max_abs_mv=1000", use_cache=False, normalize=None)
    assert np.isfinite(loose.stimulus("fragments/1").responses[0]).any(axis=1).all()


def test_baseline_removal_takes_off_an_offset_and_a_drift():
    t = np.arange(4000) / RESP_SF
    fast = 2.0 * np.sin(2 * np.pi * 50 * t)
    cleaned = remove_baseline(-60.0 + 8.0 * t + fast, RESP_SF, 100.0, 10.0)
    assert np.abs(cleaned - fast)[200:-200].max() < 0.3 and np.abs(cleaned - fast).max() < 1.0


def test_repeat_rejection_names_each_reason():
    rng = np.random.default_rng(1)
    t = np.arange(2000) / RESP_SF
    signal = 5 * np.sin(2 * np.pi * 60 * t)
    good = [signal + 0.5 * rng.standard_normal(t.size) for _ in range(3)]
    saturated = signal.copy()
    saturated[500:700] += 300.0
    step = signal.copy()
    step[1000:] += 60.0  # a sustained jump: a quarter of the samples 30 mV away after the baseline follows
    step[1000:1100] += 0.0
    unrelated = 5 * np.sin(2 * np.pi * 60 * t + np.pi)  # anti-correlated with the others
    kept, verdicts = clean_repeats(good + [saturated, unrelated, np.zeros(0)], RESP_SF, ResponseCleanup())
    assert verdicts == ["kept"] * 3 + ["saturated", "disagrees", "too short"] and len(kept) == 3
    _, verdicts = clean_repeats(good + [step], RESP_SF, ResponseCleanup(baseline_median_ms=1000.0,
                                                                         baseline_gauss_ms=200.0))
    assert verdicts[-1] == "baseline step"
    _, verdicts = clean_repeats(good[:2] + [unrelated], RESP_SF, ResponseCleanup(min_repeat_r=0))
    assert verdicts == ["kept"] * 3
    kept, verdicts = clean_repeats([saturated], RESP_SF, ResponseCleanup(enabled=False))
    assert verdicts == ["kept"] and np.array_equal(kept[0], saturated)


def test_bin_mean_averages_whole_bins():
    np.testing.assert_allclose(bin_mean(np.arange(10.0), 1000.0, 4.0), [1.5, 5.5])
    assert bin_mean(np.ones(3), 1000.0, 4.0).size == 0


def test_a_ridge_fit_runs_with_mse_and_finite_cc(dataset):
    from strfviewer.fit.run import FitRequest, run_fit
    from strfviewer.models.factory import ModelSpec

    split = {"train": NAMES[:2], "val": [NAMES[2]], "test": [NAMES[3]]}
    out = run_fit(dataset, FitRequest(spec=ModelSpec("Linear", T=6), method="ridge", split=split, device="cpu"))
    cc = out.metrics["train"].cc[:2]  # the cells that heard the training sounds
    assert np.isfinite(cc).all() and cc.min() > 0.3
    assert np.isfinite(out.metrics["test"].cc[0])
    assert "20020103-mw-3 (no response recorded in the training stimuli)" in out.details["data_warnings"][0]


def test_cells_option_and_reader_options(download):
    one = load(download, use_cache=False, cells=["20020103-mw-3"], normalize=None)
    assert one.neuron_names == ["20020103-mw-3"] and [s.name for s in one.stimuli] == NAMES[2:]
    for query, message in (("experimenter=asari", "no CRCNS AC1 Asari folder"),
                           ("site=MGB", "the Wehr subset is all A1"),
                           ("site=V1", "site='V1': expected A1 or MGB"),
                           ("cleanup=maybe", "cleanup='maybe': expected on or off"),
                           ("baseline_median_ms=-1", "baseline_median_ms='-1'"),
                           ("units=3", "option.*units.*do not apply to a CRCNS AC1 folder")):
        with pytest.raises(DataError, match=message):
            load(f"{download}?{query}")


def _one_line(exc) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_no_results_folder(tmp_path):
    (tmp_path / "crcns-ac1" / "wehr" / "Stimuli").mkdir(parents=True)
    with pytest.raises(DataError) as exc:
        load(tmp_path)
    assert "wehr" in _one_line(exc) and "no Results folder" in _one_line(exc)


def test_an_unextracted_download(tmp_path):
    (tmp_path / "crcns-ac1.zip").write_bytes(b"PK")
    with pytest.raises(DataError) as exc:
        load(tmp_path)
    assert "crcns-ac1.zip is not extracted: unzip" in _one_line(exc)


def test_a_trial_without_response(tmp_path):
    from scipy.io import savemat

    base = write_wehr(tmp_path, cells={"20020101-mw-1": {("fragments", 1): 1}}, extra_trial=False)
    path = trial_files(base, "20020101-mw-1")[0]
    variables = trial_struct(np.zeros(100), ("fragments", 1), 1)
    del variables["response"]
    savemat(path, variables)
    with pytest.raises(DataError) as exc:
        load(base)
    assert str(path) in _one_line(exc) and "response" in _one_line(exc)


def test_a_description_naming_no_sound(tmp_path):
    from scipy.io import savemat

    base = write_wehr(tmp_path, cells={"20020101-mw-1": {("fragments", 1): 1}}, extra_trial=False)
    path = trial_files(base, "20020101-mw-1")[0]
    variables = trial_struct(np.zeros(100), ("fragments", 1), 1)
    variables["triggers"]["param"]["description"] = "a whale song"
    savemat(path, variables)
    with pytest.raises(DataError) as exc:
        load(base)
    assert str(path) in _one_line(exc) and "'a whale song'" in _one_line(exc) and "Stimuli" in _one_line(exc)


def test_cli_fit_reads_the_folder_with_its_options(download, tmp_path, capsys):
    import json

    from strfviewer.cli import main

    out = tmp_path / "fit"
    assert main(["fit", str(download), "--method", "ridge", "-T", "4", "--min-repeat-r", "0", "--out", str(out),
                 "--no-history"]) == 0
    err = capsys.readouterr().err
    assert "responses in mV" in err
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["dataset"]["response_kind"] == "continuous" and meta["dataset"]["source"].endswith("?min_repeat_r=0")
    assert meta["frontend"]["response_cleanup"]["min_repeat_r"] == 0


def test_a_sweep_data_table_carries_the_reader_options(download):
    from strfviewer.runs.sweep_spec import _data_source

    source = _data_source({"path": str(download), "cleanup": "off", "min_repeat_r": 0}, "sweep.toml")
    assert source.endswith("?cleanup=off&min_repeat_r=0")
    assert load(source, use_cache=False).frontend["response_cleanup"]["enabled"] is False
