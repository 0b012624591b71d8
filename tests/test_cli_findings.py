"""`strfviewer tuning`, `compare` and `dstrf` on ridge fits of the demo data."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from strfviewer.analysis.tuning import METRICS
from strfviewer.cli import main


@pytest.fixture(scope="module")
def demo():
    from strfviewer.data import load

    return load("demo")


def _fit(demo, folder, T):
    from strfviewer.fit.run import FitRequest, run_fit
    from strfviewer.io.fit_output import write_output
    from strfviewer.models.factory import ModelSpec

    request = FitRequest(spec=ModelSpec(family="Linear", T=T), method="ridge", device="cpu")
    outcome = run_fit(demo, request)
    write_output(folder, outcome, demo, request)
    return folder, outcome


@pytest.fixture(scope="module")
def fits(tmp_path_factory, demo):
    root = tmp_path_factory.mktemp("findings")
    return _fit(demo, root / "short", 4), _fit(demo, root / "long", 12)


def rows_of(path):
    return list(csv.DictReader(open(path)))


def test_tuning_csv_matches_the_engine(fits, demo, tmp_path):
    from strfviewer.analysis.gradmaps import strf_gradmap
    from strfviewer.analysis.tuning import tuning_batch

    (folder, outcome), _ = fits
    out = tmp_path / "t.csv"
    assert main(["tuning", str(folder), "--out", str(out), "--quiet"]) == 0
    rows = rows_of(out)
    assert [r["neuron"] for r in rows] == list(demo.neuron_names)
    assert list(rows[0]) == ["neuron", "channel", *METRICS]
    expected = tuning_batch(-strf_gradmap(outcome.model).numpy(), demo.freqs_hz, demo.dt_ms)
    for name in METRICS:
        got = np.array([float(r[name]) if r[name] else np.nan for r in rows])
        np.testing.assert_allclose(got, expected[name][:, 0], rtol=1e-4, atol=1e-6)


def test_tuning_with_data_and_jackknife(fits, demo, tmp_path, capsys):
    (folder, outcome), _ = fits
    out = tmp_path / "t.csv"
    assert main(["tuning", str(folder), "--data", "demo", "--jackknife", "--bootstrap", "30", "--out", str(out)]) == 0
    assert "closed-form ridge jackknife" in capsys.readouterr().err
    rows = rows_of(out)
    cc = np.array([float(r["cc_norm"]) for r in rows])
    np.testing.assert_allclose(cc, outcome.metrics["test"].cc_norm, rtol=1e-4)
    for name in METRICS:
        assert f"{name}_ci_low" in rows[0] and f"{name}_ci_high" in rows[0]
    significant = np.array([int(r["n_significant_pixels"]) for r in rows])
    assert significant.max() > 0 and significant.max() < demo.n_freqs * 4
    low = np.array([float(r["best_frequency_hz_ci_low"]) if r["best_frequency_hz_ci_low"] else np.nan for r in rows])
    high = np.array([float(r["best_frequency_hz_ci_high"]) if r["best_frequency_hz_ci_high"] else np.nan
                     for r in rows])
    ok = np.isfinite(low) & np.isfinite(high)
    assert ok.any() and np.all(low[ok] <= high[ok])


def test_compare_table_summary_and_figure(fits, demo, tmp_path, capsys):
    (short, short_fit), (long, long_fit) = fits
    out, pdf = tmp_path / "c.csv", tmp_path / "c.pdf"
    assert main(["compare", str(short), str(long), "--data", "demo", "--out", str(out), "--figure", str(pdf),
                 "--splits", "5"]) == 0
    printed = capsys.readouterr().out
    assert "Wilcoxon signed-rank p" in printed and "bootstrap CI" in printed
    rows = rows_of(out)
    a = np.array([float(r["cc_norm_a"]) for r in rows])
    b = np.array([float(r["cc_norm_b"]) for r in rows])
    np.testing.assert_allclose(a, short_fit.metrics["test"].cc_norm, rtol=1e-4)
    np.testing.assert_allclose(b, long_fit.metrics["test"].cc_norm, rtol=1e-4)
    np.testing.assert_allclose([float(r["difference"]) for r in rows], b - a, rtol=1e-6, atol=1e-9)
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000


def test_dstrf_npz(fits, demo, tmp_path):
    from strfviewer.analysis.gradmaps import strf_gradmap

    (folder, outcome), _ = fits
    out = tmp_path / "d.npz"
    name = demo.stimuli[2].name
    assert main(["dstrf", str(folder), "--data", "demo", "--stimulus", name, "--neuron", "1",
                 "--neuron", demo.neuron_names[3], "--out", str(out), "--quiet"]) == 0
    with np.load(out, allow_pickle=False) as z:
        L = demo.stimuli[2].n_frames
        assert z["dstrf"].shape == (2, L, 1, demo.n_freqs, 4)
        assert list(z["neuron_names"]) == [demo.neuron_names[1], demo.neuron_names[3]]
        gradmap = strf_gradmap(outcome.model).numpy()
        np.testing.assert_allclose(z["dstrf"][0, 10], -gradmap[1], atol=1e-5)   # a linear model: its kernel
        assert z["pca_components"].shape[:2] == (2, 5) and str(z["stimulus"]) == name
        assert z["lags_ms"][-1] == 0.0 and z["times_ms"].shape == (L,)


@pytest.mark.parametrize("argv,message", [
    (["tuning", "nowhere", "--out", "x.txt"], "--out x.txt: expected a .csv file"),
    (["tuning", "nowhere", "--out", "x.csv", "--jackknife"], "--jackknife needs --data"),
    (["tuning", "nowhere", "--out", "x.csv", "--data", "no/such/data"], "no/such/data: no such data"),
    (["compare", "a", "b", "--data", "demo", "--out", "x.csv", "--figure", "f.jpg"], "--figure f.jpg"),
    (["compare", "nowhere_a", "b", "--data", "demo", "--out", "x.csv"], "CKPT_A nowhere_a"),
    (["dstrf", "nowhere", "--data", "demo", "--stimulus", "s", "--out", "d.csv"], "expected a .npz file"),
    (["dstrf", "nowhere", "--data", "demo", "--stimulus", "s", "--out", "d.npz", "--components", "0"],
     "--components 0"),
])
def test_options_are_checked_before_loading(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_unknown_stimulus_is_one_line(fits, tmp_path, capsys):
    (folder, _), _ = fits
    assert main(["dstrf", str(folder), "--data", "demo", "--stimulus", "nope", "--out", str(tmp_path / "d.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--stimulus 'nope'" in err and len(err.splitlines()) == 1
