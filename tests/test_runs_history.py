import json
import math
import os
import sqlite3
import subprocess
import sys

import pytest

from strfviewer.runs.history import SCHEMA_VERSION, HistoryError, RunHistory
from strfviewer.runs.summary import summarize

CFG = {"spec": {"family": "Linear", "kernel": "full", "T": 15}, "request": {"method": "ridge", "seed": 0}}


def _metrics(values):
    return {"test": {"cc": values, "cc_max": [1.0] * len(values), "cc_norm": values}}


def test_run_lifecycle_and_reopen(tmp_path):
    path = tmp_path / "h.sqlite"
    with RunHistory(path) as h:
        rid = h.start_run(CFG, dataset_path="demo", dataset_hash="abc", trial_key="k1", source="cli")
        assert h.get(rid).status == "running"
        assert h.find_done("k1") is None
        h.finish_run(rid, metrics=_metrics([0.5, float("nan"), 0.7]), neuron_names=["a", "b", "c"],
                     n_params=42, epochs=3, seconds=1.5, device="cpu", checkpoint="/x")
    with RunHistory(path) as h:
        r = h.get(rid)
        assert r.status == "done" and r.family == "Linear" and r.kernel == "full" and r.seed == 0
        assert r.metrics["test"]["cc_norm"][1] is None  # NaN stored as null
        assert math.isclose(r.mean_test_cc_norm, 0.6)
        assert r.neuron_names == ["a", "b", "c"] and r.n_params == 42
        assert h.find_done("k1").id == rid
        assert h.schema_version() == SCHEMA_VERSION


def test_filters_ordering_and_csv(tmp_path):
    with RunHistory(tmp_path / "h.sqlite") as h:
        ids = []
        for fam, v in (("Linear", 0.3), ("StateNet", 0.8), ("Linear", 0.5)):
            cfg = {"spec": {"family": fam}, "request": {"seed": len(ids)}}
            rid = h.start_run(cfg, dataset_hash="d1")
            h.finish_run(rid, metrics=_metrics([v]))
            ids.append(rid)
        failed = h.start_run({"spec": {"family": "DNet"}, "request": {}}, dataset_hash="d2")
        h.fail_run(failed, "ValueError: boom")
        assert [r.id for r in h.runs(family="Linear")] == [ids[0], ids[2]]
        assert [r.id for r in h.runs(status="failed")] == [failed]
        assert [r.id for r in h.runs(dataset_hash="d1", order_by="mean_test_cc_norm", descending=True)] == \
            [ids[1], ids[2], ids[0]]
        assert [r.id for r in h.runs(text="state")] == [ids[1]]
        with pytest.raises(ValueError):
            h.runs(order_by="id; DROP TABLE runs")
        out = h.export_csv(tmp_path / "runs.csv")
        lines = out.read_text().strip().splitlines()
        assert len(lines) == 5 and lines[0].startswith("id,status,family")
        assert "boom" in lines[-1]


def test_delete_and_undo_restores_the_same_row(tmp_path):
    with RunHistory(tmp_path / "h.sqlite") as h:
        rid = h.start_run(CFG)
        h.finish_run(rid, metrics=_metrics([0.4]))
        before = h.get(rid)
        row = h.delete_run(rid)
        with pytest.raises(KeyError):
            h.get(rid)
        h.restore_run(row)
        assert h.get(rid) == before


def test_crashed_process_leaves_a_failed_run_not_a_half_row(tmp_path):
    path = tmp_path / "h.sqlite"
    code = ("import os, sys; from strfviewer.runs.history import RunHistory;"
            f"h = RunHistory({str(path)!r}); h.start_run({CFG!r}); os._exit(1)")
    subprocess.run([sys.executable, "-c", code], check=False)
    with RunHistory(path) as h:
        (r,) = h.runs()
        assert r.status == "failed" and "ended before it finished" in r.error
        assert r.metrics == {} and r.finished is not None


def test_failed_write_rolls_back(tmp_path):
    with RunHistory(tmp_path / "h.sqlite") as h:
        rid = h.start_run(CFG)
        with pytest.raises(ValueError):
            h.finish_run(rid, metrics=_metrics([0.1]), status="exploded")
        assert h.get(rid).status == "running"
        with pytest.raises(KeyError):
            h.finish_run(rid + 100, metrics={})


def test_migrates_a_version_1_database(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, trial_key TEXT, status TEXT NOT NULL, "
                "family TEXT, kernel TEXT, prefilter TEXT, method TEXT, seed INTEGER, config_json TEXT NOT NULL, "
                "dataset_path TEXT, dataset_hash TEXT, neuron_names_json TEXT, metrics_json TEXT, "
                "mean_test_cc_norm REAL, n_params INTEGER, epochs INTEGER, seconds REAL, device TEXT, "
                "checkpoint TEXT, error TEXT, host TEXT, pid INTEGER, version TEXT, created REAL, finished REAL)")
    con.execute("INSERT INTO runs (status, family, config_json) VALUES ('done', 'Linear', ?)", (json.dumps(CFG),))
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    with RunHistory(path) as h:
        assert h.schema_version() == SCHEMA_VERSION
        (r,) = h.runs()
        assert r.family == "Linear" and r.source is None
        h.start_run(CFG, source="app")
        assert h.runs(source_prefix="app")[0].source == "app"


def test_newer_or_corrupt_database_is_refused_with_the_file_name(tmp_path):
    newer = tmp_path / "newer.sqlite"
    con = sqlite3.connect(newer)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    con.commit()
    con.close()
    with pytest.raises(HistoryError, match="newer.sqlite.*newer"):
        RunHistory(newer)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(HistoryError, match="junk.sqlite"):
        RunHistory(junk)


def test_summary_groups_seeds_and_cells(tmp_path):
    with RunHistory(tmp_path / "h.sqlite") as h:
        for seed, data, v in ((0, "d1", 0.4), (1, "d1", 0.6), (0, "d2", 0.5)):
            rid = h.start_run({"spec": {"family": "Linear"}, "request": {"seed": seed, "epochs": 5}},
                              dataset_hash=data)
            h.finish_run(rid, metrics=_metrics([v]))
        rid = h.start_run({"spec": {"family": "StateNet"}, "request": {"seed": 0, "epochs": 5}}, dataset_hash="d1")
        h.finish_run(rid, metrics=_metrics([0.9]))
        rid = h.start_run({"spec": {"family": "DNet"}, "request": {"seed": 0}}, dataset_hash="d1")
        h.fail_run(rid, "x")
        s = summarize(h.runs())
    assert [x.label for x in s] == ["StateNet", "Linear"]
    lin = s[1]
    assert lin.n_runs == 3 and lin.n_datasets == 2 and lin.n_seeds == 2
    assert math.isclose(lin.mean, 0.5) and math.isclose(lin.std, 0.1)
    assert math.isnan(s[0].std)


def test_concurrent_first_opens_create_the_schema_once(tmp_path):
    import threading

    path = tmp_path / "race.sqlite"
    errors = []
    barrier = threading.Barrier(6)

    def open_it():
        try:
            barrier.wait()
            RunHistory(path).close()
        except Exception as exc:  # pragma: no cover - what the test looks for
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with RunHistory(path) as h:
        assert h.schema_version() == SCHEMA_VERSION


def test_cli_fit_is_recorded_in_the_history(tmp_path, monkeypatch):
    import strfviewer.fit.run as fit_run
    from strfviewer.cli import main

    hist = tmp_path / "h.sqlite"
    out = tmp_path / "fit"
    assert main(["fit", "demo", "--model", "Linear", "--method", "ridge", "--out", str(out), "--quiet",
                 "--history", str(hist)]) == 0
    assert main(["fit", "demo", "--model", "Linear", "--kernel", "no-such-kernel", "--out", str(tmp_path / "bad"),
                 "--quiet", "--history", str(hist)]) == 2
    assert main(["fit", "demo", "--model", "Linear", "--method", "ridge", "--out", str(tmp_path / "skip"),
                 "--quiet", "--history", str(hist), "--no-history"]) == 0
    with RunHistory(hist) as h:
        runs = h.runs()
    assert [r.status for r in runs] == ["done"]  # a refused request starts no run; --no-history records none
    ok = runs[0]
    assert ok.source == "cli" and ok.family == "Linear" and ok.method == "ridge"
    assert ok.checkpoint == str(out.resolve()) and ok.mean_test_cc_norm is not None
    saved = json.loads((out / "metrics.json").read_text())
    assert math.isclose(saved["test"]["mean_cc_norm"], ok.mean_test_cc_norm)

    def broken_fit(*args, **kwargs):
        raise RuntimeError("out of memory in the middle of the fit")

    monkeypatch.setattr(fit_run, "run_fit", broken_fit)
    assert main(["fit", "demo", "--model", "Linear", "--out", str(tmp_path / "oom"), "--quiet",
                 "--history", str(hist)]) != 0
    with RunHistory(hist) as h:
        failed = h.runs(status="failed")
    assert len(failed) == 1 and "out of memory" in failed[0].error



def test_default_location_env_xdg_and_the_platforms_data_folder(monkeypatch, tmp_path):
    from pathlib import Path

    import platformdirs

    from strfviewer.runs.history import default_history_path

    monkeypatch.setenv("STRFVIEWER_HISTORY", str(tmp_path / "mine.sqlite"))
    assert default_history_path() == tmp_path / "mine.sqlite"
    monkeypatch.delenv("STRFVIEWER_HISTORY")
    if sys.platform.startswith("linux"):  # XDG behaviour kept on Linux
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
        assert default_history_path() == tmp_path / "xdg" / "strfviewer" / "runs.sqlite"
        monkeypatch.delenv("XDG_DATA_HOME")
        assert default_history_path() == Path.home() / ".local" / "share" / "strfviewer" / "runs.sqlite"
    # elsewhere (macOS, Windows) the native folder platformdirs names
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda name, appauthor=None: str(tmp_path / "native" / name))
    assert default_history_path() == tmp_path / "native" / "strfviewer" / "runs.sqlite"


def test_summary_groups_a_sweep_trial_with_the_same_cli_fit(tmp_path):
    """A sweep trial records only the fit settings its file sets, `strfviewer fit` every FitRequest field: the
    same settings are one configuration, and only settings that really differ are named."""
    import dataclasses

    from strfviewer.fit.run import FitRequest
    from strfviewer.runs.summary import distinguishing_settings

    full = {f.name: f.default for f in dataclasses.fields(FitRequest)
            if f.default is not dataclasses.MISSING and f.name != "spec"}
    spec = {"family": "LinearNonlinear", "T": 15}
    with RunHistory(tmp_path / "h.sqlite") as h:
        for seed, request, v in ((0, {"epochs": 20, "seed": 0}, 0.6),
                                 (1, {**full, "epochs": 20, "seed": 1, "progress_interval_s": 2.0}, 0.7),
                                 (0, {**full, "epochs": 30, "seed": 0}, 0.8)):
            rid = h.start_run({"spec": spec, "request": request}, dataset_hash="d1")
            h.finish_run(rid, metrics=_metrics([v]))
        s = summarize(h.runs())
    assert [x.n_runs for x in s] == [1, 2]
    assert distinguishing_settings(s) == ["epochs=30", "epochs=20"]


def test_summary_separates_spectrogram_settings_but_not_the_cells_statistics(tmp_path):
    """Runs whose spectrograms were made differently (64 vs 34 bands) are two configurations, named by the
    setting that differs; the z-score statistics of each cell's data do not split a configuration (QA: --summary
    grouped different spectrogram settings together)."""
    from strfviewer.runs.summary import distinguishing_settings

    def frontend(bands, mean):
        return {"n_bands": bands, "dt_ms": 5.0, "scale": "mel",
                "normalization": {"kind": "zscore", "mean": [mean] * bands, "std": [1.0] * bands}}

    spec = {"family": "Linear", "T": 15}
    with RunHistory(tmp_path / "h.sqlite") as h:
        for data, bands, mean, v in (("d1", 34, -6.0, 0.5), ("d2", 34, -4.0, 0.6), ("d1", 64, -6.0, 0.8)):
            rid = h.start_run({"spec": spec, "request": {"seed": 0}, "frontend": frontend(bands, mean)},
                              dataset_hash=data)
            h.finish_run(rid, metrics=_metrics([v]))
        s = summarize(h.runs())
    assert [x.n_runs for x in s] == [1, 2] and s[1].n_datasets == 2
    assert distinguishing_settings(s) == ["spectrogram.n_bands=64", "spectrogram.n_bands=34"]
