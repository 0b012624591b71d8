"""CRCNS AC1 (Asari) read from small .mat files in the download's layout (tests/ac1_files.py): spliced sequences
with their 5 ms ramps, A1 whole-cell membrane potentials (mV), MGB cell-attached spikes detected in the trace
(spikes per bin), the site option, and one-line errors naming the file."""

import numpy as np
import pytest

pytest.importorskip("scipy", reason="scipy (the 'benchmarks' extra) reads .mat files")

from ac1_files import ASARI_CELLS, ASARI_RESP_SF, ASARI_SPIKES, ASARI_STIM_SF, SEGMENT_FILES, SEGMENT_MS, \
    SEQUENCES, asari_files, asari_recording, asari_response, segment_waveform, write_asari  # noqa: E402
from strfviewer.data import DataError, load  # noqa: E402
from strfviewer.data.ac1_cleanup import bin_mean  # noqa: E402
from strfviewer.data.ac1_spikes import spike_samples, spike_train  # noqa: E402

A1_CELLS = ["20050101-ha1-001", "20050102-ha1-002"]
MGB_CELL = "20050201-ha2-001"
NAMES = list(SEQUENCES)


@pytest.fixture(scope="module")
def download(tmp_path_factory):
    return write_asari(tmp_path_factory.mktemp("asari"))


@pytest.fixture(scope="module")
def a1(download):
    return load(f"{download}?experimenter=asari", use_cache=False, normalize=None)


@pytest.fixture(scope="module")
def mgb(download):
    return load(f"{download}?experimenter=asari&site=MGB", use_cache=False, normalize=None)


def test_a1_cells_sequences_and_repeats(a1):
    assert a1.neuron_names == A1_CELLS and [s.name for s in a1.stimuli] == NAMES
    assert (a1.response_kind, a1.response_unit, a1.name) == ("continuous", "mV", "CRCNS AC1 (Asari, A1)")
    for s in a1.stimuli:
        assert s.responses.shape == (2, 2, int(SEGMENT_MS * 3 / 5.0))
        assert s.sample_rate == ASARI_STIM_SF and s.waveform.size == int(ASARI_STIM_SF * SEGMENT_MS * 3 / 1000)
    assert np.isfinite(a1.stimulus(NAMES[0]).responses).all()  # the second cell lists its segments in
    assert np.isnan(a1.stimulus(NAMES[1]).responses[1]).all()  # another order; it never heard the second
    meta = a1.neuron_metadata[0]
    assert (meta["site"], meta["recording_type"], meta["experimenter"]) == ("A1", "whole-cell", "asari")
    assert a1.stimulus(NAMES[1]).metadata["segment_files"] == list(SEQUENCES[NAMES[1]])
    assert a1.stimulus(NAMES[1]).metadata["description"] == "Sequence 2: 3 1 1"
    assert any("3 triggers that are not a natural-sound sequence" in w for w in a1.warnings)


def test_a1_responses_follow_the_sequence_without_the_resting_potential(a1):
    for name in NAMES:
        t = np.arange(int(ASARI_RESP_SF * SEGMENT_MS * 3 / 1000)) / ASARI_RESP_SF
        truth = bin_mean(asari_response(name, t), ASARI_RESP_SF, 5.0)
        stim = a1.stimulus(name)
        for n in range(a1.n_neurons):
            if np.isfinite(stim.responses[n]).any():
                psth = np.nanmean(stim.responses[n], axis=0)
                assert abs(float(psth.mean())) < 1.5 and np.corrcoef(psth, truth)[0, 1] > 0.85


def test_sequences_are_segments_spliced_with_a_5ms_ramp_at_every_boundary(a1):
    wave = a1.stimulus(NAMES[1]).waveform.astype(np.float64)
    seg = int(ASARI_STIM_SF * SEGMENT_MS / 1000)
    n = int(ASARI_STIM_SF * 5.0 / 1000)  # 40 samples
    for i, rel in enumerate(SEQUENCES[NAMES[1]]):
        piece, raw = wave[i * seg: (i + 1) * seg], segment_waveform(rel)
        np.testing.assert_allclose(piece[n:-n], raw[n:-n], atol=1e-6)  # untouched between the ramps
        assert piece[0] == 0.0 and piece[-1] == 0.0 and raw[0] != 0 and raw[-1] != 0  # silent at each boundary
        np.testing.assert_allclose(piece[n // 2], raw[n // 2] * 0.5, atol=1e-6)  # sin^2(pi/4) half-way up
        np.testing.assert_allclose(piece[-1 - n // 2], raw[-1 - n // 2] * 0.5, atol=1e-6)  # and down
        np.testing.assert_allclose(piece[1], raw[1] * np.sin(0.5 * np.pi / n) ** 2, atol=1e-7)


def test_mgb_is_spikes_per_bin_from_the_planted_spikes(mgb):
    assert mgb.neuron_names == [MGB_CELL] and [s.name for s in mgb.stimuli] == NAMES
    assert (mgb.response_kind, mgb.response_unit, mgb.response_label) == ("counts", "spikes", "spikes / bin")
    assert mgb.neuron_metadata[0]["site"] == "MGB" and mgb.neuron_metadata[0]["recording_type"] == "cell-attached"
    assert mgb.frontend["spike_detection"] == {"threshold_sigma": 2.5, "highpass_ms": 10.0, "smooth_ms": 21.0}
    for name in NAMES:
        responses = mgb.stimulus(name).responses[0]  # (R, T)
        assert responses.shape[0] == 2 and (responses >= 0).all()
        planted = np.asarray(ASARI_SPIKES[name])
        for repeat in responses:
            assert repeat.sum() == pytest.approx(len(planted), abs=0.05)  # every spike, once, no noise crossings
            peaks = [k for k in range(1, repeat.size - 1) if repeat[k] >= max(repeat[k - 1], repeat[k + 1])
                     and repeat[k] > 0.1]
            for spike_ms in planted:
                assert min(abs(k * 5.0 + 2.5 - spike_ms) for k in peaks) <= 10.0 or \
                    any(abs(spike_ms - other) < 25 for other in planted if other != spike_ms)


def test_spike_detection_counts_one_spike_per_crossing():
    sf = 10000.0
    rng = np.random.default_rng(3)
    x = -30.0 + 0.05 * rng.standard_normal(10000)
    starts = [1000, 2500, 2600, 7000]
    for s in starts:
        x[s: s + 10] += 2.0  # 1 ms spikes of 2 mV
    assert list(spike_samples(x, sf)) == starts
    train = spike_train(x, sf)
    assert train.sum() == pytest.approx(4.0) and (train >= 0).all()
    assert abs(int(np.argmax(train[:2000])) - 1000) <= 6  # centred on the spike (21 ms Hann window)
    assert spike_samples(-30.0 + 0.0 * x, sf).size == 0 and spike_train(np.zeros(0), sf).size == 0


def test_site_and_cells_options(download):
    assert load(download, use_cache=False, normalize=None).neuron_names == A1_CELLS  # asari: the only subset
    one = load(f"{download}?experimenter=asari&site=a1", use_cache=False, cells=[A1_CELLS[1]], normalize=None)
    assert one.neuron_names == [A1_CELLS[1]] and [s.name for s in one.stimuli] == NAMES[:1]
    with pytest.raises(DataError, match="no session folder named nope"):
        load(f"{download}?experimenter=asari", cells=["nope"])
    with pytest.raises(DataError, match="no CRCNS AC1 Wehr folder"):
        load(f"{download}?experimenter=wehr")


def test_a_site_without_cells_of_its_recording_type(tmp_path):
    only_a1 = {k: v for k, v in ASARI_CELLS.items() if k in A1_CELLS}
    base = write_asari(tmp_path, cells=only_a1)
    with pytest.raises(DataError) as exc:
        load(f"{base}?site=MGB")
    assert "no MGB cell recorded cell-attached" in _one_line(exc) and "try site=A1" in _one_line(exc)
    odd = {A1_CELLS[0]: ASARI_CELLS[A1_CELLS[0]], "20050103-ha1-003": (1, "auditory cortex", "cell attached",
                                                                      SEGMENT_FILES, NAMES[:1])}
    ds = load(write_asari(tmp_path / "odd", cells=odd), use_cache=False, normalize=None)
    assert ds.neuron_names == [A1_CELLS[0]]
    assert any("1 A1 cells not recorded whole-cell were left out: 20050103-ha1-003 (cell-attached)" in w
               for w in ds.warnings)


def _one_line(exc) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def _rewrite_triggers(path, change):
    from scipy.io import loadmat, savemat

    mat = loadmat(path, squeeze_me=True, struct_as_record=False)
    trace = np.asarray(mat["response"].trace) * float(mat["response"].scale)
    listed = [s.file for s in np.atleast_1d(mat["param"].stimulus)]
    triggers = [{"type": t.type, "time": float(t.time),
                 "param": {"description": t.param.description, "duration": float(t.param.duration)}}
                for t in np.atleast_1d(mat["triggers"])]
    listed, triggers = change(listed, triggers)
    savemat(path, asari_recording(trace, listed, mat["param"].recording.site, mat["param"].recording.type, triggers))


def test_a_sequence_naming_a_segment_out_of_the_list(tmp_path):
    base = write_asari(tmp_path)
    path = asari_files(base, A1_CELLS[0])[0]

    def change(listed, triggers):
        triggers[0]["param"]["description"] = "Sequence 1: 1 2 7"
        return listed, triggers

    _rewrite_triggers(path, change)
    with pytest.raises(DataError) as exc:
        load(base)
    assert str(path) in _one_line(exc) and "names segment 7" in _one_line(exc) and "lists 3 files" in _one_line(exc)


def test_a_missing_segment_file(tmp_path):
    base = write_asari(tmp_path)
    path = asari_files(base, A1_CELLS[0])[0]
    _rewrite_triggers(path, lambda listed, triggers: (["class6/1.mat", "class6/2.mat", "class9/9.mat"], triggers))
    with pytest.raises(DataError) as exc:
        load(base)
    assert str(path) in _one_line(exc) and "'class9/9.mat'" in _one_line(exc) and "does not exist" in _one_line(exc)


def test_no_stimuli_folder(tmp_path):
    import shutil

    base = write_asari(tmp_path)
    shutil.rmtree(base / "crcns-ac1")
    with pytest.raises(DataError) as exc:
        load(base)
    assert "no crcns-ac1/asari/Stimuli folder" in _one_line(exc)


def test_cli_fit_reads_the_mgb_cells(download, tmp_path, capsys):
    import json

    from strfviewer.cli import main

    out = tmp_path / "fit"
    assert main(["fit", str(download), "--experimenter", "asari", "--site", "MGB", "--method", "ridge", "-T", "4",
                 "--out", str(out), "--no-history"]) == 0
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["dataset"]["response_kind"] == "counts"
    assert meta["dataset"]["source"].endswith("?experimenter=asari&site=MGB")
