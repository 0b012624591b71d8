"""deepSTRF benchmark downloads (NS1, NAT4) read from small files written in their layouts by the tests.

The layouts were checked against deepSTRF 0.1.0's own loaders (its NS1Dataset reads the NS1 files
written here; its NAT4 parsers read the NAT4 archives)."""

import numpy as np
import pytest

pytest.importorskip("scipy.io", reason="scipy (the 'benchmarks' extra) is not installed")
pytest.importorskip("h5py", reason="h5py (the 'benchmarks' extra) is not installed")

from lab_formats import write_nat4, write_ns1  # noqa: E402

from strfviewer.data import DataError, load  # noqa: E402


def test_ns1_spectrograms_neurons_and_repeats(tmp_path):
    folder = write_ns1(tmp_path / "NS1", n_neurons=3, n_repeats=4, T=60, F=6)
    data = load(folder, normalize=None)
    assert data.name == "NS1" and data.dt_ms == 5.0 and data.n_freqs == 6
    assert data.neuron_names == ["unit0", "unit1", "unit2"]
    assert data.neuron_metadata[1]["depth"] == 100 and data.neuron_metadata[1]["singleT"] == "Yes"
    assert [s.name for s in data.stimuli][:2] == ["nat01", "nat02"] and len(data.stimuli) == 20
    assert data.stimulus("nat04").metadata["rahman2020"] == "test"
    from scipy.io import loadmat

    X = loadmat(folder / "test_data_5ms.mat")["X_nfht"]
    np.testing.assert_allclose(data.stimuli[2].spec[0], X[2, :, 0], rtol=1e-6)
    stim = data.stimuli[0]
    assert stim.responses.shape == (3, 4, 60)
    rep = loadmat(folder / "spikesandwav/SH.En.C/unit1.mat", squeeze_me=True, struct_as_record=False)
    t = np.atleast_1d(rep["data"].set[0].repeats[2].t)
    expected = np.bincount(np.floor(t / 5.0).astype(int), minlength=60)[:60]
    np.testing.assert_array_equal(stim.responses[1, 2], expected)


def test_ns1_fits_a_model(tmp_path):
    from strfviewer.fit.ridge import fit_ridge_details

    data = load(write_ns1(tmp_path / "NS1", n_neurons=2, T=80, F=6))
    result = fit_ridge_details(data, T=3)
    assert result.model is not None


def test_ns1_neuron_without_its_spike_file_is_left_out(tmp_path):
    folder = write_ns1(tmp_path / "NS1", n_neurons=3)
    (folder / "spikesandwav/SH.En.C/unit1.mat").unlink()
    data = load(folder)
    assert data.neuron_names == ["unit0", "unit2"] and "unit1" in data.warnings[0]


def test_ns1_bad_spectrogram_file(tmp_path):
    folder = write_ns1(tmp_path / "NS1", n_neurons=1)
    (folder / "test_data_5ms.mat").write_bytes(b"garbage")
    with pytest.raises(DataError) as err:
        load(folder)
    assert "test_data_5ms.mat" in str(err.value) and "\n" not in str(err.value)


def test_nat4_population_with_single_site_trials(tmp_path):
    folder = write_nat4(tmp_path / "NAT4", n_cells=3, n_est=12, n_val=2, n_reps=5, T=15, F=4)
    data = load(folder, normalize=None)
    assert data.name == "NAT4 A1" and data.dt_ms == 10.0 and data.n_freqs == 4
    assert data.neuron_names[0] == "ARM001a-01-1" and len(data.stimuli) == 14
    val = data.stimulus("STIM_00cat0_rec.wav")
    assert val.responses.shape == (3, 5, 15)  # the per-site repeats
    np.testing.assert_array_equal(np.nansum(val.responses[:2], axis=-1), 5.0)  # 5 spikes per trial written
    assert np.isnan(val.responses[2]).all()  # the last cell has no per-site spikes: masked
    est = data.stimulus("STIM_cat0_seg.wav")
    assert est.responses.shape == (3, 1, 15)
    assert data.split["STIM_00cat1_rec.wav"] == "test" and data.split["STIM_cat11_seg.wav"] == "val"
    assert data.split["STIM_cat0_seg.wav"] == "train"


def test_nat4_without_single_sites_keeps_the_averaged_responses(tmp_path):
    folder = write_nat4(tmp_path / "NAT4", single_sites=False)
    data = load(folder / "A1_NAT4_ozgf.fs100.ch18.tgz", normalize=None)
    assert data.stimulus("STIM_00cat0_rec.wav").responses.shape[1] == 1
    assert any("single_sites" in w for w in data.warnings)


def test_nat4_archive_that_is_not_a_recording(tmp_path):
    bad = tmp_path / "A1_NAT4_ozgf.fs100.ch18.tgz"
    bad.write_bytes(b"not a tar")
    with pytest.raises(DataError) as err:
        load(bad)
    assert str(bad) in str(err.value) and "not a readable .tgz" in str(err.value)


def test_nat4_member_over_the_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    import tarfile

    from strfviewer.data import limits

    archive = write_nat4(tmp_path / "NAT4", single_sites=False) / "A1_NAT4_ozgf.fs100.ch18.tgz"
    with tarfile.open(archive) as tf:
        declared = tf.getmember("A1_NAT4_ozgf/pop.resp.csv").size      # the size its header declares
        largest = max(m.size for m in tf.getmembers())
    extracted = []
    extractfile = tarfile.TarFile.extractfile
    monkeypatch.setattr(tarfile.TarFile, "extractfile",
                        lambda self, member: extracted.append(member.name) or extractfile(self, member))
    monkeypatch.setattr(limits, "MAX_ARCHIVE_MEMBER_BYTES", declared - 1)
    with pytest.raises(DataError) as err:
        load(archive, normalize=None)
    message = str(err.value)
    assert message.startswith(f"{archive} (member A1_NAT4_ozgf/pop.resp.csv): ") and len(message.splitlines()) == 1
    assert limits.size_text(declared) in message and "*.resp.csv" in message
    assert "A1_NAT4_ozgf/pop.resp.csv" not in extracted, "refused before reading it"
    monkeypatch.setattr(limits, "MAX_ARCHIVE_MEMBER_BYTES", largest)      # every member at most the limit: read
    assert load(archive, normalize=None).n_neurons == 3

def test_nat4_folder_file_over_the_limit_is_refused(tmp_path, monkeypatch):
    import tarfile

    from strfviewer.data import limits

    archive = write_nat4(tmp_path / "NAT4", single_sites=False) / "A1_NAT4_ozgf.fs100.ch18.tgz"
    folder = tmp_path / "A1_NAT4_ozgf.fs100.ch18"
    with tarfile.open(archive) as tf:
        tf.extractall(folder, filter="data")
    assert load(folder, normalize=None).n_neurons == 3         # extracted, it reads
    stim = next(folder.rglob("*.stim.csv"))
    monkeypatch.setattr(limits, "MAX_ARCHIVE_MEMBER_BYTES", stim.stat().st_size - 1)
    with pytest.raises(DataError) as err:
        load(folder, normalize=None)
    assert str(err.value).startswith(f"{stim}: ") and "*.stim.csv" in str(err.value)
